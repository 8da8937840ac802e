"""What gets into the playground: only its own pages, and only messages of a bounded size and depth.

A page on any other site can make the browser send requests to 127.0.0.1, directly or by pointing its own
name at 127.0.0.1 (DNS rebinding). Both are refused here, before a route runs:

* every HTTP request and WebSocket handshake must name this server in its Host header: 127.0.0.1, localhost
  or [::1], on the port the server listens on;
* a WebSocket handshake must carry an Origin, and it must be this same address (the page the server served);
  an HTTP request that carries an Origin must carry this one too.

Anything else is answered 403 and reaches no session.
"""

from __future__ import annotations

import json
from typing import Any

LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")
MAX_DEPTH = 6  # the deepest message the page sends is {"settings": {"layers": [...]}}: three levels


def own_hosts(port: int) -> set[str]:
    """The Host values that name this server: each local name with the port (and bare, on port 80)."""
    hosts = {f"{name}:{port}" for name in LOCAL_NAMES}
    return hosts | set(LOCAL_NAMES) if port == 80 else hosts


def refusal(scope: dict[str, Any]) -> str | None:
    """Why a request or handshake is refused, or None when it comes from this server's own page."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    server = scope.get("server") or ("", 0)
    host = headers.get("host", "")
    if host.lower() not in own_hosts(int(server[1] or 0)):
        return f"refused: the Host {host[:60]!r} is not this server; open the page at http://127.0.0.1:{server[1]}/."
    origin = headers.get("origin")
    if origin is None and scope["type"] == "websocket":
        return "refused: a WebSocket handshake without an Origin."
    if origin is not None and origin.lower() != "http://" + host.lower():
        return f"refused: the Origin {origin[:60]!r} is not this server's page."
    return None


class OnlyOwnPages:
    """ASGI middleware: requests and handshakes that ``refusal`` names get 403 and never reach ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        why = refusal(scope) if scope["type"] in ("http", "websocket") else None
        if why is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            body = why.encode()
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        else:  # closing before accepting: the server answers the handshake with 403
            await send({"type": "websocket.close", "code": 1008})


class MessageError(ValueError):
    """A message from the page that is not read: too large, not JSON, or nested too deep."""


def read_message(raw: str, max_bytes: int) -> Any:
    """The JSON value of ``raw``, or MessageError saying why it is refused."""
    if len(raw) > max_bytes:
        raise MessageError(f"message of {len(raw):,} bytes refused; the most is {max_bytes:,}.")
    try:
        message = json.loads(raw)
    except RecursionError:
        raise MessageError(f"message refused: nested deeper than {MAX_DEPTH} levels.") from None
    except ValueError:
        raise MessageError("a message that is not JSON was ignored.") from None
    level, todo = 0, [message]
    while todo:
        level += 1
        if level > MAX_DEPTH:
            raise MessageError(f"message refused: nested deeper than {MAX_DEPTH} levels.")
        todo = [v for item in todo if isinstance(item, (dict, list)) for v in (
            item.values() if isinstance(item, dict) else item)]  # fmt: skip
    return message
