"""``chainrule playground`` as a learner uses it: the server started as a command on 127.0.0.1, driven by a raw
WebSocket client and by headless Chromium (Playwright).

Expected numbers come from outside the page: ``cr.explain`` run on the exported model and the session's
batch, ``cr.load`` and onnxruntime on the exported files, and a fresh ``cr.mlp`` of the same seed after Reset.
Skips, with the reason, where Starlette/uvicorn, websockets, Chromium or Playwright are missing.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_html import selector, text_terms

import chainrule as cr
from chainrule.explain.text import num

pytest.importorskip("starlette", reason="the playground needs starlette (pip install chainrule[playground])")
pytest.importorskip("uvicorn", reason="the playground needs uvicorn (pip install chainrule[playground])")
SRC = str(Path(__file__).resolve().parents[1] / "src")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), OPENBLAS_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "chainrule", "playground", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    line = proc.stdout.readline()
    assert line.startswith(f"chainrule playground: http://127.0.0.1:{port}/"), line
    return proc


@pytest.fixture(scope="module")
def server():
    port = free_port()
    proc = start(port)
    yield f"http://127.0.0.1:{port}"
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=20)


def open_tab(browser, url: str, width: int = 1280, height: int = 900):
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("#surface")
    return page, errors


def wait_epoch(page, epoch: int) -> None:
    page.wait_for_function(f"() => document.getElementById('explain-section').dataset.epoch === '{epoch}'")


# ------------------------------------------------------------------ the command
def test_ctrl_c_stops_the_server_cleanly_and_a_taken_port_is_one_line_exit_2():
    port = free_port()
    proc = start(port)
    taken = subprocess.run([sys.executable, "-m", "chainrule", "playground", "--port", str(port)], text=True,
                           capture_output=True, env=dict(os.environ, PYTHONPATH=SRC), timeout=60)  # fmt: skip
    assert taken.returncode == 2 and taken.stdout == ""
    assert taken.stderr.strip().splitlines() == [
        f"chainrule playground: error: port {port} on 127.0.0.1 is already in use; choose another with --port N."
    ]
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and out.strip().endswith("chainrule playground: stopped")


def test_the_socket_answers_malformed_messages_and_keeps_going(server):
    client = pytest.importorskip("websockets.sync.client", reason="websockets is not installed")
    with client.connect(server.replace("http", "ws") + "/ws", max_size=None, origin=server) as ws:
        bad = ["not json", "[1, 2]", json.dumps({"type": "<script>"}), json.dumps({"type": "play"}),
               json.dumps({"type": "settings", "settings": {"lr": "-3"}}), "x" * 500_000]  # fmt: skip
        for message in bad:
            ws.send(message)
            answer = json.loads(ws.recv(timeout=10))
            assert answer["type"] == "error" and answer["message"], message
        ws.send(b"\x00\x01")
        assert "binary messages" in json.loads(ws.recv(timeout=10))["message"]
        ws.send(json.dumps({"type": "upload", "data": "%%%"}))
        assert "upload refused" in json.loads(ws.recv(timeout=10))["message"]
        ws.send(json.dumps({"type": "settings", "settings": {"layers": "2"}}))
        assert [json.loads(ws.recv(timeout=10))["type"] for _ in range(2)] == ["ready", "frame"]
        ws.send(json.dumps({"type": "step"}))
        assert json.loads(ws.recv(timeout=10))["epoch"] == 1


# ------------------------------------------------------------------ in the browser
def test_xor_with_x1x2_trains_to_95_percent_test_accuracy(browser, server):
    page, errors = open_tab(browser, server + "/")
    page.select_option("#dataset", "xor")
    for box, on in (("#feature-x1x2", True), ("#feature-x1", False), ("#feature-x2", False)):
        page.set_checked(box, on)
        page.wait_for_function(f"() => document.querySelector('{box}').checked === {str(on).lower()}")
    # the settings reach the URL once the server has taken them: wait for that, then check it
    page.wait_for_function("() => /[?&]features=x1x2(&|$)/.test(location.search)", timeout=10_000)
    page.click("#play")
    page.wait_for_function("() => +document.getElementById('scores').dataset.testAccuracy >= 0.95", timeout=60_000)
    page.click("#play")
    page.wait_for_function("() => document.getElementById('play').getAttribute('aria-pressed') === 'false'")
    assert not errors


def test_pause_step_and_reset_to_the_same_weights(browser, server):
    page, errors = open_tab(browser, server + "/?layers=2&seed=9")
    fresh = cr.mlp([2, 2, 1], "tanh", None, seed=9).get_weights()
    page.click("#step")
    wait_epoch(page, 1)
    stepped = page.get_attribute(selector("W(1)[1,1]"), "aria-label")
    assert stepped != f"W(1)[1,1] = {num(fresh[0][0, 0])}" and page.text_content("#epoch") == "epoch 1"
    page.click("#reset")
    wait_epoch(page, 0)
    for name, value in (("W(1)[1,1]", fresh[0][0, 0]), ("W(1)[2,2]", fresh[0][1, 1]), ("W(2)[2,1]", fresh[2][1, 0])):
        assert page.get_attribute(selector(name), "aria-label") == f"{name} = {num(value)}"
    page.click("#step")
    wait_epoch(page, 1)
    assert page.get_attribute(selector("W(1)[1,1]"), "aria-label") == stepped  # the same training again
    assert not errors


def test_explain_numbers_equal_cr_explain_on_the_exported_state(browser, server, tmp_path):
    from chainrule.playground.data import features, generate, split

    page, errors = open_tab(browser, server + "/?layers=2&seed=4&features=x1,x2")
    for epoch in (1, 2, 3):
        page.click("#step")
        wait_epoch(page, epoch)
    with page.expect_download() as done:
        page.click("#export-npz")
    done.value.save_as(tmp_path / "model.npz")
    model = cr.load(tmp_path / "model.npz")
    P, y = generate("xor", 0.0, 4)
    P_train, y_train, _, _ = split(P, y, 0.5, 4)
    X = features(P_train, ["x1", "x2"])[:16]
    ex = cr.explain(model, X, y_train[:16, None].astype(float), "bce_logits", lr=0.03)
    assert f"L = {num(ex.loss.value)}" in page.text_content("#loss-section")
    for param, (chain, update) in text_terms(ex.to_text()).items():
        page.focus(selector(param))
        tip = [line.strip() for line in page.text_content("#cr-tip").splitlines()]
        # Adam trained this tab: its tip shows no plain SGD update; the real one is in the update table
        assert set(chain) <= set(tip) and update not in tip, (param, tip)
    rows = page.locator("#update-table tr th:first-child").all_text_contents()
    assert len(rows) == model.n_params + 1 and "W(2)[1,1]" in rows  # a header, then every parameter
    page.click("#view-backward")
    page.focus('.node[data-layer="1"][data-j="0"]')
    sums = [line for line in ex.to_text().splitlines() if line.startswith("  ∂L/∂a(1)[1] (sample 1)")]
    assert sums and sums[0].split(" = ", 1)[1].split(" = ")[0] in page.text_content("#cr-tip")
    assert not errors


def test_export_then_load_the_model_the_onnx_graph_and_the_replay(browser, server, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    page, errors = open_tab(browser, server + "/?layers=3&seed=2")
    page.click("#step")
    wait_epoch(page, 1)
    paths = {}
    for kind in ("npz", "onnx", "replay"):
        with page.expect_download() as done:
            page.click(f"#export-{kind}")
        paths[kind] = tmp_path / done.value.suggested_filename
        done.value.save_as(paths[kind])
    model = cr.load(paths["npz"])
    X = np.random.default_rng(0).uniform(-5, 5, (20, 2))
    run = ort.InferenceSession(str(paths["onnx"]), providers=["CPUExecutionProvider"])
    got = run.run(None, {run.get_inputs()[0].name: X.astype(np.float64 if model.dtype == np.float64 else np.float32)})
    np.testing.assert_allclose(got[0], model.predict(X), rtol=1e-6, atol=1e-9)
    aria = page.get_attribute(selector("W(1)[1,1]"), "aria-label")
    assert aria == f"W(1)[1,1] = {num(model.get_weights()[0][0, 0])}"
    replay, replay_errors = open_tab(browser, paths["replay"].as_uri())
    assert replay.text_content("#epoch-label") == "epoch 1 of 1" and not replay_errors
    assert not errors


def test_two_tabs_train_side_by_side(browser, server):
    a, errors_a = open_tab(browser, server + "/?seed=1")
    b, errors_b = open_tab(browser, server + "/?seed=2&dataset=circles")
    assert a.text_content("#status") != b.text_content("#status")
    a.click("#play")
    b.click("#play")
    b.wait_for_function("() => parseInt(document.getElementById('epoch').textContent.slice(6)) > 5")
    a.click("#play")
    a.wait_for_function("() => document.getElementById('play').getAttribute('aria-pressed') === 'false'")
    stopped = a.text_content("#epoch")
    now = int(b.text_content("#epoch")[6:])
    b.wait_for_function(f"() => parseInt(document.getElementById('epoch').textContent.slice(6)) > {now + 5}")
    assert a.text_content("#epoch") == stopped and int(stopped[6:]) > 0
    assert "dataset=circles" in b.url and "dataset=xor" in a.url
    assert not errors_a and not errors_b


def test_a_hostile_upload_stays_text_and_a_bad_one_says_why(browser, server):
    page, errors = open_tab(browser, server + "/")
    names = ["<img src=x onerror=window.__pwned=1>", "<script>window.__pwned=2</script>"]
    classes = ["<b onmouseover=window.__pwned=3>yes</b>", "</script><script>window.__pwned=4</script>"]
    rows = [",".join([*names, "label"])] + [f"{q % 7},{q % 5},{classes[q % 2]}" for q in range(30)]
    hostile = {"name": "h.csv", "mimeType": "text/csv", "buffer": "\n".join(rows).encode()}
    page.set_input_files("#upload", files=[hostile])
    page.wait_for_function("() => document.getElementById('upload-note').textContent.includes('30 rows')")
    page.wait_for_function("() => document.getElementById('dataset').value === 'upload'")
    shown = page.inner_text("body")
    for text in [*names, *sorted(classes)]:
        assert text in shown, text
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('#app script, #app img, #app b').length") == 0
    png = {"name": "x.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\n\xff"}
    page.set_input_files("#upload", files=[png])
    page.wait_for_function("() => document.getElementById('message').textContent.includes('not UTF-8')")
    assert not errors


def test_nonsense_in_the_url_and_a_diverging_run_are_explained_on_the_page(browser, server):
    page, errors = open_tab(browser, server + "/?lr=-5")
    assert "lr must be a number in (0, 10]" in page.text_content("#message")
    assert "lr=0.03" in page.url  # the defaults took over
    page.goto(server + "/?layers=8,8&activation=relu&optimizer=sgd&lr=10&features=x1^2,x2^2,x1x2&batch_size=1")
    page.wait_for_selector("#surface")
    page.click("#play")
    page.wait_for_function("() => document.getElementById('message').textContent.includes('Training diverged')")
    page.wait_for_function("() => document.getElementById('play').getAttribute('aria-pressed') === 'false'")
    assert "weights of epoch 0" in page.text_content("#message")
    assert not errors


def test_on_a_phone_play_and_the_boundary_share_the_first_screen(browser, server):
    page, errors = open_tab(browser, server + "/", width=390, height=844)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    for selector_ in ("#play", "#step", "#surface"):
        box = page.locator(selector_).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 844, selector_
    assert not errors
