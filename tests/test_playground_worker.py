"""Each tab trains in its own worker, one task at a time: Play, Pause and Step racing exports never start a second
training task or lose a Play; the event loop answers GET / while tabs train (measured and printed, not
asserted); the bounds (epochs, uploads, message depth) answer with a message and the socket stays open.

The server runs in this process (uvicorn in a thread), so every call of ``Session.step`` can be watched.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import statistics
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the playground needs starlette (pip install chainrule[playground])")
pytest.importorskip("uvicorn", reason="the playground needs uvicorn (pip install chainrule[playground])")
client = pytest.importorskip("websockets.sync.client", reason="websockets is not installed")


class Watch:
    """Wraps Session.step: how many steps ran, and the most that ever ran at the same time."""

    def __init__(self, step):
        self.step, self.lock, self.running, self.most, self.calls = step, threading.Lock(), 0, 0, 0

    def __call__(self, session):
        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        try:
            return self.step(session)
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def served(monkeypatch):
    import uvicorn

    from chainrule.playground import serve
    from chainrule.playground import session as session_module
    from chainrule.playground.server import create_app

    interval = sys.getswitchinterval()
    serve.prefer_the_event_loop()  # as the command's server does
    watch = Watch(session_module.Session.step)
    monkeypatch.setattr(session_module.Session, "step", lambda self: watch(self))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(), log_level="warning", lifespan="off", http=serve.header_deadline_protocol())
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield port, watch
    server.should_exit = True
    thread.join(10)
    sock.close()
    sys.setswitchinterval(interval)


def connect(port: int):
    return client.connect(f"ws://127.0.0.1:{port}/ws", origin=f"http://127.0.0.1:{port}", max_size=None)


def until(ws, kind: str, timeout: float = 20) -> dict:
    """The next message of type ``kind`` (frames and others before it are read and dropped)."""
    end = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(end - time.monotonic(), 0.01)))
        if message["type"] == kind:
            return message


def paused_frame(ws) -> dict:
    while True:
        message = until(ws, "frame")
        if message.get("paused"):
            return message


def fetch(port: int, path: str, timeout: float = 30) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    began = time.perf_counter()
    conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
    answer = conn.getresponse()
    answer.read()
    conn.close()
    return answer.status, time.perf_counter() - began


def test_play_pressed_during_exports_is_kept_and_one_task_trains(served):
    port, watch = served
    with connect(port) as ws:
        ws.send(json.dumps({"type": "settings", "settings": {"dataset": "spirals", "layers": "8,8"}}))
        tab = until(ws, "ready")["id"]
        ws.send(json.dumps({"type": "play"}))
        until(ws, "frame")
        for _ in range(5):
            results: list = []
            export = threading.Thread(target=lambda out=results: out.append(fetch(port, f"/export/{tab}/npz")))
            export.start()
            ws.send(json.dumps({"type": "pause"}))
            ws.send(json.dumps({"type": "play"}))  # pressed while the export runs
            export.join(15)
            assert not export.is_alive() and results[0][0] == 200
        before = until(ws, "frame")["epoch"]
        while until(ws, "frame")["epoch"] < before + 20:  # still playing: the last Play was kept
            pass
        ws.send(json.dumps({"type": "pause"}))
        stopped = paused_frame(ws)["epoch"]
        calls = watch.calls
        time.sleep(0.3)
        assert watch.calls == calls and stopped >= before  # paused means no task trains on
        ws.send(json.dumps({"type": "play"}))
        ws.send(json.dumps({"type": "play"}))
        ws.send(json.dumps({"type": "step"}))
        assert paused_frame(ws)["epoch"] > stopped
    assert watch.most == 1  # never two steps of the tab at once


def test_get_answers_while_three_tabs_train_heavy_models(served, capsys):
    port, watch = served
    rows = "x1,x2,label\n" + "\n".join(f"{q % 97 / 9:.3f},{q % 89 / 8:.3f},{'ab'[q % 2]}" for q in range(5000))
    upload = base64_csv(rows)
    quiet = [fetch(port, "/")[1] for _ in range(20)]
    with contextlib.ExitStack() as stack:
        tabs = [stack.enter_context(connect(port)) for _ in range(3)]
        for ws in tabs:
            ws.send(json.dumps({"type": "upload", "data": upload}))
            until(ws, "uploaded")
            ws.send(json.dumps({"type": "settings", "settings": {"dataset": "upload", "batch_size": 1,
                                                                 "layers": "8,8,8,8,8,8"}}))  # fmt: skip
            until(ws, "ready")
            ws.send(json.dumps({"type": "play"}))
        time.sleep(1.0)
        busy = [fetch(port, "/")[1] for _ in range(40)]
        with connect(port) as fourth:
            fourth.send(json.dumps({"type": "settings", "settings": {}}))
            until(fourth, "ready")
            began = time.perf_counter()
            fourth.send(json.dumps({"type": "step"}))
            assert paused_frame(fourth)["epoch"] == 1
            step = time.perf_counter() - began
    with capsys.disabled():
        print(f"\nGET / median {statistics.median(quiet) * 1e3:.1f} ms idle, {statistics.median(busy) * 1e3:.1f} ms "
              f"(worst {max(busy) * 1e3:.0f} ms) while 3 tabs train 6x8 on 5,000 rows at batch 1; "
              f"a fourth tab's Step {step * 1e3:.0f} ms")  # fmt: skip
    assert watch.most <= 4


def test_bounds_answer_with_a_message_and_the_socket_stays_open(served, monkeypatch):
    from chainrule.playground import session as session_module

    port, _ = served
    monkeypatch.setattr(session_module, "MAX_EPOCHS", 3)
    deep = "[" * 100_000 + "]" * 100_000
    with connect(port) as ws:
        for message, words in ((deep, "nested deeper"), ('{"type": [[[[[[[1]]]]]]]}', "nested deeper")):
            ws.send(message)
            assert words in until(ws, "error")["message"]
        huge = base64_csv("x1,x2,label\n1e308,1,a\n-1.7e308,2,b\n0,3,a\n")
        ws.send(json.dumps({"type": "upload", "data": huge}))
        assert "at most 1e+06" in until(ws, "error")["message"]
        wide = base64_csv("x1,x2,label\n" + "1" * 199_000 + ",1,a\n2,3,b\n")
        ws.send(json.dumps({"type": "upload", "data": wide}))
        assert "characters" in until(ws, "error")["message"]
        ws.send(json.dumps({"type": "settings", "settings": {"layers": "2"}}))
        until(ws, "ready")
        ws.send(json.dumps({"type": "play"}))
        assert paused_frame(ws)["epoch"] == 3
        assert "at most 3 epochs" in until(ws, "error")["message"]
        ws.send(json.dumps({"type": "step"}))
        assert "at most 3 epochs" in until(ws, "error")["message"]
        assert paused_frame(ws)["epoch"] == 3
        ws.send(json.dumps({"type": "reset"}))
        assert paused_frame(ws)["epoch"] == 0
        ws.send(json.dumps({"type": "step"}))
        assert paused_frame(ws)["epoch"] == 1


def base64_csv(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def test_the_loss_stays_finite_json_for_extreme_but_allowed_cells():
    from chainrule.playground.data import read_upload

    P, y, _, _ = read_upload(b"x1,x2,label\n1e6,-1e6,a\n-1e6,1e6,b\n0,0,a\n")
    assert np.isfinite(P).all() and np.abs(P).max() == 5.0  # centred (means 0) and scaled: 1e6 → 5
