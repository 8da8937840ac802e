"""The playground as a hostile page or client would try it: raw HTTP requests and raw WebSocket handshakes with
other Hosts and Origins (403, no session), a client that never finishes its headers (closed after the deadline),
SIGTERM (the "stopped" line), a missing ``websockets`` (one clear line), and more tabs than the server trains.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from test_playground_server import SRC, free_port, start

pytest.importorskip("starlette", reason="the playground needs starlette (pip install chainrule[playground])")
pytest.importorskip("uvicorn", reason="the playground needs uvicorn (pip install chainrule[playground])")


@pytest.fixture(scope="module")
def port():
    port = free_port()
    proc = start(port)
    yield port
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=20)


def raw(port: int, request: bytes, timeout: float = 10) -> bytes:
    """Send ``request`` on a fresh connection and read the answer's head (and what came with it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def get(port: int, path: str, host: str, origin: str | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"Origin: {origin}"] if origin else []
    return raw(port, ("\r\n".join(lines) + "\r\n\r\n").encode())


def handshake(port: int, host: str, origin: str | None) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = ["GET /ws HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]  # fmt: skip
    lines += [f"Origin: {origin}"] if origin else []
    return raw(port, ("\r\n".join(lines) + "\r\n\r\n").encode())


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_the_page_answers_its_own_names_and_refuses_every_other_host(port):
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"LOCALHOST:{port}"):
        assert status(get(port, "/", host)) == 200, host
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1", f"127.0.0.1:{port + 1}", f"127.0.0.2:{port}",
                 f"localhost.evil.example:{port}", ""):  # fmt: skip
        answer = get(port, "/", host)
        assert status(answer) == 403 and b"chainrule playground" not in answer, host
    assert status(get(port, "/", f"127.0.0.1:{port}", origin="http://evil.example")) == 403


def test_a_websocket_needs_this_host_and_this_origin(port):
    own = f"127.0.0.1:{port}"
    assert status(handshake(port, own, f"http://{own}")) == 101
    assert status(handshake(port, f"localhost:{port}", f"http://localhost:{port}")) == 101
    for host, origin in ((own, None), (own, "http://evil.example"), (own, f"http://localhost:{port}"),
                         ("evil.example", "http://evil.example"), (f"evil.example:{port}", f"http://evil.example:{port}"),
                         (own, "null"), (own, f"https://{own}")):  # fmt: skip
        assert status(handshake(port, host, origin)) == 403, (host, origin)


def test_a_rebinding_page_gets_no_session_and_no_export(port):
    client = pytest.importorskip("websockets.sync.client", reason="websockets is not installed")
    own = f"127.0.0.1:{port}"
    with client.connect(f"ws://{own}/ws", origin=f"http://{own}") as ws:
        ws.send(json.dumps({"type": "settings", "settings": {"layers": "2"}}))
        tab = json.loads(ws.recv(timeout=10))["id"]
        assert json.loads(ws.recv(timeout=10))["type"] == "frame"
        assert status(get(port, f"/export/{tab}/npz", own)) == 200
        for host in ("evil.example", f"evil.example:{port}"):
            answer = get(port, f"/export/{tab}/npz", host)
            assert status(answer) == 403 and b"PK" not in answer.split(b"\r\n\r\n", 1)[-1]
    with pytest.raises(Exception) as refused:
        client.connect(f"ws://{own}/ws", origin="http://evil.example")
    assert "403" in str(refused.value)


def test_a_client_that_never_finishes_its_headers_is_closed(monkeypatch):
    import uvicorn

    from chainrule.playground import serve
    from chainrule.playground.server import create_app

    monkeypatch.setattr(serve, "HEADER_SECONDS", 0.5)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(), log_level="warning", lifespan="off", http=serve.header_deadline_protocol())
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as slow:
            slow.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Slow: " % port)  # and nothing more
            assert slow.recv(1024) == b""  # closed by the server (the socket would time out first otherwise)
        assert status(get(port, "/", f"127.0.0.1:{port}")) == 200  # a whole request is answered as before
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_sigterm_stops_the_server_with_the_stopped_line():
    proc = start(free_port())
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and out.strip().endswith("chainrule playground: stopped"), out


def test_sigterm_stops_it_while_a_tab_trains():
    client = pytest.importorskip("websockets.sync.client", reason="websockets is not installed")
    port = free_port()
    proc = start(port)
    with client.connect(f"ws://127.0.0.1:{port}/ws", origin=f"http://127.0.0.1:{port}") as ws:
        ws.send(json.dumps({"type": "settings", "settings": {"dataset": "spirals", "layers": "8,8"}}))
        ws.recv(timeout=10)
        ws.send(json.dumps({"type": "play"}))
        while json.loads(ws.recv(timeout=10))["epoch"] < 3:
            pass
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and out.strip().endswith("chainrule playground: stopped"), out


def test_without_websockets_the_command_says_so_in_one_line():
    code = ("import sys; sys.modules['websockets'] = None; from chainrule.cli import main; "
            f"sys.exit(main(['playground', '--port', '{free_port()}']))")  # fmt: skip
    env = dict(os.environ, PYTHONPATH=SRC)
    done = subprocess.run([sys.executable, "-c", code], text=True, capture_output=True, env=env, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "chainrule playground: error: the playground needs Starlette, uvicorn and websockets, and websockets is "
        'not installed: pip install "chainrule[playground]"'
    ]


def test_the_tab_after_the_last_is_told_so_and_keeps_its_socket(port):
    client = pytest.importorskip("websockets.sync.client", reason="websockets is not installed")
    from chainrule.playground.server import MAX_TABS

    own = f"127.0.0.1:{port}"
    with contextlib.ExitStack() as stack:
        tabs = [stack.enter_context(client.connect(f"ws://{own}/ws", origin=f"http://{own}")) for _ in range(MAX_TABS)]
        with client.connect(f"ws://{own}/ws", origin=f"http://{own}") as extra:
            first = json.loads(extra.recv(timeout=10))
            assert first["type"] == "error" and f"already has {MAX_TABS} tabs open" in first["message"]
            extra.send(json.dumps({"type": "settings", "settings": {}}))
            assert "close one" in json.loads(extra.recv(timeout=10))["message"]  # still open, still no session
        tabs[0].close()
        for _ in range(100):  # once the server has seen the tab close, a new one is served
            with client.connect(f"ws://{own}/ws", origin=f"http://{own}") as late:
                late.send(json.dumps({"type": "settings", "settings": {}}))
                if json.loads(late.recv(timeout=10))["type"] == "ready":
                    break
            time.sleep(0.1)
        else:
            pytest.fail("no tab was served after one closed")
