"""The playground's web server: one page, one WebSocket per tab, and the exports. Needs ``chainrule[playground]``.

    GET  /                    the page (self-contained: its script and style inline, its settings in the URL)
    WS   /ws                  one Session per connection; it ends, and its training stops, when the tab closes
    GET  /export/{id}/{kind}  the tab's model as .npz or ONNX, or the replay page of its run

Messages from the page are JSON objects with a "type": settings, play, pause, step, reset, explain, upload.
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
from typing import Any

from ..explain.html.page import asset as explain_asset
from ..explain.html.page import page
from .data import EXTENT, FEATURE_LABELS, UploadError, read_upload
from .session import GRID, Diverged, Session
from .settings import DATASETS, FEATURES, SettingsError, parse

MAX_MESSAGE_BYTES = 400_000
FRAME_SECONDS = 0.02
SHARED = ("tools.js", "diagram.js", "view.js", "plots.js")


def playground_asset(name: str) -> str:
    from importlib import resources

    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def page_html() -> str:
    """The page: the explain pages' shared drawing code, then the playground's own script and style."""
    shared = "".join(explain_asset(name) for name in SHARED)
    script = '"use strict";\n{\n' + shared + playground_asset("playground.js") + "}\n"
    data = {"kind": "playground", "datasets": list(DATASETS), "features": list(FEATURES),
            "featureLabels": FEATURE_LABELS, "extent": EXTENT, "grid": GRID}  # fmt: skip
    return page("chainrule playground", data, script, connect="'self'", style=playground_asset("playground.css"))


class Tab:
    """One WebSocket connection: its session, whether it is playing, and the task that trains."""

    def __init__(self, socket: Any) -> None:
        self.socket, self.session, self.playing, self.task = socket, None, False, None
        self.upload: tuple | None = None
        self.id = secrets.token_urlsafe(16)
        self.sent = 0  # epochs whose losses the page already has

    async def frame(self, paused: bool = False) -> None:
        """Send the session's frame: only the losses the page does not have yet."""
        frame = self.session.frame(self.sent)
        self.sent = self.session.epoch
        await self.send(frame | {"paused": True} if paused else frame)

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send_text(json.dumps(message, allow_nan=False))

    async def error(self, text: str) -> None:
        await self.send({"type": "error", "message": text})

    async def handle(self, raw: str) -> None:
        if len(raw) > MAX_MESSAGE_BYTES:
            await self.error(f"message of {len(raw):,} bytes refused; the most is {MAX_MESSAGE_BYTES:,}.")
            return
        try:
            message = json.loads(raw)
        except ValueError:
            await self.error("a message that is not JSON was ignored.")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        handlers = {"settings": self.on_settings, "play": self.on_play, "pause": self.on_pause, "step": self.on_step,
                    "reset": self.on_reset, "explain": self.on_explain, "upload": self.on_upload}  # fmt: skip
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
            session = Session(settings, self.upload)
        except (SettingsError, ValueError) as err:
            await self.error(str(err))
            return
        await self.pause()
        self.session = session
        await self.send({"type": "ready", "id": self.id, "settings": settings.to_dict(), "net": session.net(),
                         "points": session.points(), "classNames": session.class_names,
                         "pointNames": session.point_names})  # fmt: skip
        self.sent = 0
        await self.frame()

    async def on_play(self, message: dict[str, Any]) -> None:
        if self.playing:
            return
        if self.session.stopped:
            await self.error(self.session.stopped)
            return
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
            self.session.step()
        except Diverged as err:
            await self.error(str(err))
        await self.frame(paused=True)

    async def on_reset(self, message: dict[str, Any]) -> None:
        await self.pause()
        self.session.reset()
        await self.frame(paused=True)

    async def on_explain(self, message: dict[str, Any]) -> None:
        await self.pause()
        await self.send({"type": "explain", "epoch": self.session.epoch, "data": self.session.explain_data()})

    async def on_upload(self, message: dict[str, Any]) -> None:
        try:
            raw = base64.b64decode(str(message.get("data", "")), validate=True)
            self.upload = read_upload(raw)
        except (binascii.Error, ValueError) as err:
            why = str(err) if isinstance(err, UploadError) else "the upload was not valid base64 data."
            await self.error(f"upload refused: {why}")
            return
        _, y, names, classes = self.upload
        await self.send({"type": "uploaded", "rows": int(len(y)), "names": names, "classes": classes})

    async def train(self) -> None:
        """Train in slices of FRAME_SECONDS, sending a frame after each, until paused, stopped or closed."""
        session = self.session
        while self.playing:
            end = time.perf_counter() + FRAME_SECONDS
            try:
                while self.playing and time.perf_counter() < end:
                    session.step()
            except Diverged as err:
                self.playing = False
                await self.frame(paused=True)
                await self.error(str(err))
                return
            await self.frame()
            await asyncio.sleep(0.001)  # let the tab's messages (pause, say) in

    async def close(self) -> None:
        self.playing = False
        if self.task is not None:
            self.task.cancel()


def create_app() -> Any:
    """The ASGI application (Starlette)."""
    try:
        from starlette.applications import Starlette
        from starlette.responses import HTMLResponse, PlainTextResponse, Response
        from starlette.routing import Route, WebSocketRoute
        from starlette.websockets import WebSocketDisconnect
    except ImportError as err:
        raise ImportError('the playground needs Starlette and uvicorn: pip install "chainrule[playground]"') from err

    tabs: dict[str, Tab] = {}
    html = page_html()

    async def home(request):
        return HTMLResponse(html)

    async def export(request):
        tab = tabs.get(request.path_params["id"])
        if tab is None or tab.session is None:
            return PlainTextResponse("no such session: it has ended (its tab was closed).", status_code=404)
        await tab.pause()
        try:
            content, name = await asyncio.to_thread(tab.session.export, request.path_params["kind"])
        except (ValueError, ImportError) as err:
            return PlainTextResponse(str(err), status_code=400)
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(content, media_type="application/octet-stream", headers=headers)

    async def socket(ws):
        await ws.accept()
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

    routes = [Route("/", home), Route("/export/{id}/{kind}", export), WebSocketRoute("/ws", socket)]
    app = Starlette(routes=routes)
    app.state.tabs = tabs
    return app
