"""The playground's web server: one page, one WebSocket per tab, and the exports. Needs ``chainrule[playground]``.

    GET  /                    the page (self-contained: its script and style inline, its settings in the URL)
    WS   /ws                  one Session per connection; it ends, and its training stops, when the tab closes
    GET  /export/{id}/{kind}  the tab's model as .npz or ONNX, or the replay page of its run

Messages from the page are JSON objects with a "type": settings, play, pause, step, reset, explain, upload,
edit (one weight or bias: layer, param "W" or "b", i, j, value; 1-based as the diagram names them).
Anything else, or anything malformed, is answered with {"type": "error", "message": …} and the connection
stays open. While playing, the server trains for up to ``FRAME_SECONDS`` at a time and sends a frame after
each slice, so a page sees at least 20 updates a second for a network the size of 2-8-8-1.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..explain.html.page import asset as explain_asset
from ..explain.html.page import page
from .data import EXTENT, FEATURE_LABELS, UploadError, read_upload
from .guard import MessageError, OnlyOwnPages, read_message
from .session import GRID, Session, Stopped
from .settings import DATASETS, FEATURES, SettingsError, parse

MAX_MESSAGE_BYTES = 400_000
MAX_TABS = 32  # open sessions; the next tab is told to close one
FRAME_SECONDS = 0.02
DETAIL_SECONDS = 0.25  # while playing, the diagram's numbers and the neurons' images go out four times a second
SHARED = ("tools.js", "diagram.js", "view.js", "plots.js")


def playground_asset(name: str) -> str:
    from importlib import resources

    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def page_html() -> str:
    """The page: the explain pages' shared drawing code, then the playground's own script and style."""
    shared = "".join(explain_asset(name) for name in SHARED)
    own = "".join(playground_asset(name) for name in ("views.js", "playground.js"))
    script = '"use strict";\n{\n' + shared + own + "}\n"
    data = {"kind": "playground", "datasets": list(DATASETS), "features": list(FEATURES),
            "featureLabels": FEATURE_LABELS, "extent": EXTENT, "grid": GRID}  # fmt: skip
    return page("chainrule playground", data, script, connect="'self'", style=playground_asset("playground.css"))


def encode(message: dict[str, Any]) -> str:
    """The message as JSON; one holding NaN or infinity (which JSON cannot spell) becomes an error message."""
    try:
        return json.dumps(message, allow_nan=False)
    except ValueError:
        return json.dumps({"type": "error", "message": f"a {message.get('type')} message held a NaN or infinite "
                           "value and was not sent; press Reset, or lower the learning rate."})  # fmt: skip


class Tab:
    """One WebSocket connection: its session, whether it is playing, and its worker.

    Everything that touches the session (building it, training, frames, explain, exports) runs in the tab's
    one worker thread, one call at a time, off the event loop: training is cut into slices of
    ``FRAME_SECONDS``, so an export or an explain waits at most one slice and always sees a whole epoch.
    Messages of one socket are handled in order, so Play, Pause and Step never overlap.
    """

    def __init__(self, socket: Any) -> None:
        self.socket, self.session, self.playing, self.task = socket, None, False, None
        self.upload: tuple | None = None
        self.id = secrets.token_urlsafe(16)
        self.sent = 0  # epochs whose losses the page already has
        self.detailed_at = 0.0  # when the last frame with the diagram's numbers and the neurons was made
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chainrule-playground-tab")

    async def run(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` in this tab's worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self.worker, fn, *args)

    def _frame(self, paused: bool = False) -> str:
        """(in the worker) The session's frame as JSON: only the losses the page does not have yet; the
        diagram's numbers and the neurons' images when paused, on a new run, or DETAIL_SECONDS after the last."""
        now = time.perf_counter()
        detail = paused or self.sent == 0 or now - self.detailed_at >= DETAIL_SECONDS
        self.detailed_at = now if detail else self.detailed_at
        frame = self.session.frame(self.sent, detail)
        self.sent = self.session.epoch
        return encode(frame | {"paused": True} if paused else frame)

    async def frame(self, paused: bool = False) -> None:
        await self.socket.send_text(await self.run(self._frame, paused))

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send_text(encode(message))

    async def error(self, text: str) -> None:
        await self.send({"type": "error", "message": text})

    async def handle(self, raw: str) -> None:
        try:
            message = read_message(raw, MAX_MESSAGE_BYTES)
        except MessageError as err:
            await self.error(str(err))
            return
        kind = message.get("type") if isinstance(message, dict) else None
        handlers = {"settings": self.on_settings, "play": self.on_play, "pause": self.on_pause, "step": self.on_step,
                    "reset": self.on_reset, "explain": self.on_explain, "upload": self.on_upload,
                    "edit": self.on_edit}  # fmt: skip
        if kind not in handlers:
            await self.error(f"unknown message type {str(kind)[:40]!r}; known: {', '.join(handlers)}.")
            return
        if kind not in ("settings", "upload") and self.session is None:
            await self.error("send the settings first.")
            return
        await handlers[kind](message)

    async def on_settings(self, message: dict[str, Any]) -> None:
        try:
            settings = parse(message.get("settings", {}))
        except SettingsError as err:
            await self.error(str(err))
            return
        await self.pause()
        try:
            session = await self.run(Session, settings, self.upload)
        except ValueError as err:
            await self.error(str(err))
            return
        self.session = session
        await self.send({"type": "ready", "id": self.id, "settings": settings.to_dict(), "net": session.net(),
                         "points": session.points(), "classNames": session.class_names,
                         "pointNames": session.point_names, "regression": session.regression,
                         "inputs": session.feature_images()})  # fmt: skip
        self.sent = 0
        await self.frame()

    async def on_play(self, message: dict[str, Any]) -> None:
        if self.playing:
            return
        if self.session.stopped:
            await self.error(self.session.stopped)
            return
        await self.pause()  # a task still finishing its last slice ends before the next starts
        self.playing = True
        self.task = asyncio.create_task(self.train())

    async def on_pause(self, message: dict[str, Any]) -> None:
        await self.pause()
        await self.frame(paused=True)

    async def pause(self) -> None:
        self.playing = False
        if self.task is not None:
            await self.task
            self.task = None

    async def on_step(self, message: dict[str, Any]) -> None:
        await self.pause()
        try:
            await self.run(self.session.step)
        except Stopped as err:
            await self.error(str(err))
        await self.frame(paused=True)

    async def on_reset(self, message: dict[str, Any]) -> None:
        await self.pause()
        await self.run(self.session.reset)
        await self.frame(paused=True)

    async def on_edit(self, message: dict[str, Any]) -> None:
        """A weight or bias set by hand; the next step trains from it."""
        await self.pause()
        where = [message.get(key) for key in ("layer", "param", "i", "j", "value")]
        try:
            await self.run(self.session.edit, *where)
        except ValueError as err:
            await self.error(f"edit refused: {err}")
        await self.frame(paused=True)

    async def on_explain(self, message: dict[str, Any]) -> None:
        await self.pause()
        epoch, data = await self.run(lambda s=self.session: (s.epoch, s.explain_data()))
        await self.send({"type": "explain", "epoch": epoch, "data": data})

    async def on_upload(self, message: dict[str, Any]) -> None:
        try:
            raw = base64.b64decode(str(message.get("data", "")), validate=True)
            upload = await self.run(read_upload, raw)
        except (binascii.Error, ValueError) as err:
            why = str(err) if isinstance(err, UploadError) else "the upload was not valid base64 data."
            await self.error(f"upload refused: {why}")
            return
        self.upload = upload
        _, y, names, classes = upload
        await self.send({"type": "uploaded", "rows": int(len(y)), "names": names, "classes": classes})

    def _slice(self) -> tuple[str, str | None]:
        """(in the worker) Train for up to FRAME_SECONDS; the frame after it, and why training stopped (or None)."""
        end = time.perf_counter() + FRAME_SECONDS
        try:
            while self.playing and time.perf_counter() < end:
                self.session.step()
        except Stopped as err:
            return self._frame(paused=True), str(err)
        return self._frame(), None

    async def train(self) -> None:
        """Train slice after slice, sending a frame after each, until paused, stopped or closed."""
        while self.playing:
            frame, stopped = await self.run(self._slice)
            await self.socket.send_text(frame)
            if stopped:
                self.playing = False
                await self.error(stopped)

    async def close(self) -> None:
        self.playing = False
        if self.task is not None:
            self.task.cancel()
        self.worker.shutdown(wait=False, cancel_futures=True)


def check_requirements() -> None:
    """ImportError naming the missing package, unless Starlette, uvicorn and websockets are all installed."""
    import importlib.util

    # uvicorn speaks WebSocket through websockets: without it the page would load and its /ws answer 404
    missing = [name for name in ("starlette", "uvicorn", "websockets") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(f"the playground needs Starlette, uvicorn and websockets, and {', '.join(missing)} "
                          'is not installed: pip install "chainrule[playground]"')  # fmt: skip


def create_app() -> Any:
    """The ASGI application (Starlette), behind the Host and Origin check of ``guard``."""
    check_requirements()
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, PlainTextResponse, Response
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocketDisconnect

    tabs: dict[str, Tab] = {}
    html = page_html()

    async def home(request):
        return HTMLResponse(html)

    async def export(request):
        tab = tabs.get(request.path_params["id"])
        if tab is None or tab.session is None:
            return PlainTextResponse("no such session: it has ended (its tab was closed).", status_code=404)
        try:  # between two training slices: the tab goes on playing
            content, name = await tab.run(lambda: tab.session.export(request.path_params["kind"]))
        except (ValueError, ImportError) as err:
            return PlainTextResponse(str(err), status_code=400)
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(content, media_type="application/octet-stream", headers=headers)

    async def socket(ws):
        await ws.accept()
        if len(tabs) >= MAX_TABS:
            await refuse_tab(ws)
            return
        tab = Tab(ws)
        tabs[tab.id] = tab
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("text") is None:
                    await tab.error("binary messages are not understood; send JSON text.")
                    continue
                await tab.handle(message["text"])
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            await tab.close()
            tabs.pop(tab.id, None)

    async def refuse_tab(ws):
        """A tab over MAX_TABS: told so on its page, its socket kept open, and no session made."""
        text = (f"the playground already has {MAX_TABS} tabs open, the most it trains at once; close one and "
                "reload this page.")  # fmt: skip
        try:
            while True:
                await ws.send_text(json.dumps({"type": "error", "message": text, "full": True}))
                if (await ws.receive())["type"] == "websocket.disconnect":
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass

    routes = [Route("/", home), Route("/export/{id}/{kind}", export), WebSocketRoute("/ws", socket)]
    return OnlyOwnPages(Starlette(routes=routes))
