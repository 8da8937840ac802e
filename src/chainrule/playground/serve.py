"""Running the playground: uvicorn on a socket already bound, with a request-header deadline and a clean stop.

* A connection that has not sent a whole request head within ``HEADER_SECONDS`` is closed, so a client that
  trickles its headers (or sends none) cannot hold connections open.
* Ctrl-C and SIGTERM both stop the server gracefully and return, so the command can say it has stopped.
* The interpreter switches between threads every millisecond, so the event loop answers while tabs train.
"""

from __future__ import annotations

import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

HEADER_SECONDS = 10.0
SWITCH_SECONDS = 0.001  # how long a thread may keep the interpreter while another waits (Python's default: 5 ms)


def prefer_the_event_loop() -> None:
    """Let the event loop in sooner: tabs train in threads that run Python almost without pause, and each
    answer the loop gives waits its turn for the interpreter behind them; 1 ms turns instead of 5 ms cut that
    wait fivefold. It applies to this process, the server's."""
    sys.setswitchinterval(SWITCH_SECONDS)


def header_deadline_protocol() -> type:
    """uvicorn's h11 protocol, closing a connection that has no complete request head after HEADER_SECONDS."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadline(H11Protocol):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self.loop.call_later(HEADER_SECONDS, self._head_deadline)

        def _head_deadline(self) -> None:
            if self.transport.is_closing() or self.transport.get_protocol() is not self:
                return  # closed, or upgraded to a WebSocket
            if self.conn.their_state == h11.IDLE:  # still waiting for a request's head (idle keep-alive too)
                self.transport.close()
            else:  # answering a request: look again later
                self.loop.call_later(HEADER_SECONDS, self._head_deadline)

    return HeaderDeadline


def serve(sock: socket.socket, started: Callable[[], None] = lambda: None) -> None:
    """Serve the playground on ``sock`` until Ctrl-C or SIGTERM; ``started()`` runs once either would stop it
    cleanly. Raises ImportError naming what is missing."""
    import uvicorn

    from .server import create_app

    app = create_app()
    prefer_the_event_loop()
    config = uvicorn.Config(app, log_level="warning", lifespan="off", http=header_deadline_protocol())
    server = uvicorn.Server(config)
    # uvicorn stops gracefully on either signal and then raises it again: both become KeyboardInterrupt here
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        started()
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
