"""The HTML pages: the explain page of one step and the training replay, as files and in a real browser.

Expected numbers come from elsewhere: Mazur's published figures for two-two-two (L = 0.29837,
w5 = W(2)[1,1] = 0.35892 after one step at η = 0.5, ∂L/∂w5 = 0.08217), the text rendering for every
chain-rule product, and the History that ``fit`` returns for the replay's losses.

The browser tests drive headless Chromium through Playwright, launched with the system's executable;
they skip, saying why, when either is missing (CI installs Debian's chromium). Each one aborts and
records every request that is not for a local file, and asserts that none happened.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.explain import EXAMPLES, from_layers
from chainrule.explain.text import num

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])
PAYLOADS = ["<script>window.__pwned=1</script>", '<img src=x onerror="window.__pwned=2">']


# ------------------------------------------------------------------ helpers
def explained(name: str) -> cr.Explanation:
    model, X, y, loss, lr = EXAMPLES[name]()
    return cr.explain(model, X, y, loss, lr=lr)


def text_terms(text: str) -> dict[str, tuple[list[str], str]]:
    """From ``to_text``: each parameter's chain-rule lines (with its per-sample products) and its update line."""
    chains: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if found := re.match(r"^  ∂L/∂([Wb]\(\d+\)\[[\d,]+\]) = (.+)$", line):
            current = chains[found.group(1)] = [line.strip()]
        elif line.startswith("      sample ") and current:
            current.append(line.strip())
        else:
            current = []
    updates = dict(re.findall(r"^  (\w\(\d+\)\[[\d,]+\]): (.+ = .+)$", text, re.M))
    assert chains and chains.keys() == updates.keys()
    return {k: (chains[k], f"{k}: {updates[k]}") for k in chains}


def selector(name: str) -> str:
    """The diagram element of parameter ``name``: W(2)[1,1] is the edge from unit 1 of layer 1 to unit 1 of layer 2."""
    param, layer, idx = re.fullmatch(r"(\w)\((\d+)\)\[([\d,]+)\]", name).groups()
    i = [int(v) - 1 for v in idx.split(",")]
    if param == "W":
        return f'.edge[data-layer="{layer}"][data-i="{i[0]}"][data-j="{i[1]}"]'
    return f'.bias[data-layer="{layer}"][data-j="{i[0]}"]'


def page_data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="cr-data">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


def fit_xor(n_epochs: int = 120, seed: int = 0, **replay_options) -> tuple[cr.Sequential, cr.History, cr.Replay]:
    """XOR on a 2-4-2 tanh network with a Replay built from ``replay_options``."""
    model = cr.mlp([2, 4, 2], "tanh", None, seed=seed)
    replay = cr.Replay(XOR_X, XOR_Y, **replay_options)
    history = model.fit(XOR_X, XOR_Y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.05), epochs=n_epochs,
                        callbacks=[replay], seed=seed)  # fmt: skip
    return model, history, replay


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    model, history, replay = fit_xor(120)
    path = replay.to_html(tmp_path_factory.mktemp("replay") / "replay.html")
    return model, history, replay, path


# ------------------------------------------------------------------ the files
def test_pages_are_self_contained_and_allow_only_their_own_script(tmp_path, xor_run):
    for path in (explained("two-two-two").to_html(tmp_path / "explain.html"), xor_run[3]):
        html = path.read_text(encoding="utf-8")
        assert html.startswith("<!DOCTYPE html>")
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg\")", html), "an address other than the SVG namespace"
        assert not re.search(r"<link|<img|<iframe|\bsrc=|@import|url\(|fetch\(|XMLHttpRequest|WebSocket", html)
        scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
        assert len(scripts) == 1 and html.count("<script") == 2  # the code and the JSON data
        digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
        assert f"default-src 'none'; script-src 'sha256-{digest}'" in html


def test_user_strings_are_escaped_in_the_embedded_json(tmp_path):
    ex = explained("two-two-two")
    html = ex.to_html(tmp_path / "p.html", feature_names=PAYLOADS, class_names=["<b>&amp;", "</script><p>"]).read_text()
    assert "<script>window" not in html and "<img" not in html and "</script><p>" not in html
    assert "\\u003cscript\\u003ewindow.__pwned=1\\u003c/script\\u003e" in html
    data = page_data(html)
    assert data["net"]["inputNames"] == PAYLOADS and data["net"]["outputNames"] == ["<b>&amp;", "</script><p>"]


@pytest.mark.parametrize("precision", [3, 5, 8])
def test_explain_page_numbers_are_the_texts(tmp_path, precision):
    ex = explained("mlp-2-3-2")
    data = page_data(ex.to_html(tmp_path / "p.html", precision=precision).read_text())
    text = ex.to_text(precision)
    assert f"  L = {data['step']['loss']['value']}\n" in text
    blocks = data["step"]["blocks"]
    assert f"a(1) = sigmoid(z(1)) = [{'  '.join(blocks[0]['a'][0])}]" in text
    assert f"b(2)[2]: {blocks[1]['b'][1]} − 0.5·({blocks[1]['db'][1]}) = {blocks[1]['newb'][1]}" in text
    assert data["step"]["gradcheck"]["text"] in text


def test_two_two_two_page_holds_mazurs_numbers(tmp_path):
    data = page_data(explained("two-two-two").to_html(tmp_path / "p.html").read_text())
    step = data["step"]
    assert step["loss"]["value"] == "0.29837"  # E_total = 0.298371109
    assert step["blocks"][1]["newW"][0][0] == "0.35892"  # w5+ = 0.35891648
    assert step["blocks"][1]["dW"][0][0] == "0.08217"  # ∂E/∂w5 = 0.082167041
    assert data["net"]["formulas"] == [{"name": "sigmoid", "f": "σ(z) = 1 / (1 + e⁻ᶻ)", "df": "σ(z)·(1 − σ(z))"}]


def test_a_network_too_big_to_draw_gets_a_layer_table(tmp_path):
    model = from_layers([30, 50, 10], "relu", "softmax_cross_entropy", seed=0)
    ex = cr.explain(model, np.ones((4, 30)), [0, 1, 2, 3], "softmax_cross_entropy", lr=0.1)
    path = ex.to_html(tmp_path / "big.html")
    data = page_data(path.read_text())
    assert data["net"]["drawn"] is False and path.stat().st_size < 100_000
    W = model.layers[0].params["W"]
    assert data["step"]["blocks"][0]["table"][0] == ["W", "30×50", f"{np.linalg.norm(W):.4g}", f"{W.min():.4g}",
                                                     f"{W.max():.4g}"]  # fmt: skip
    assert "W" not in data["step"]["blocks"][0]


def test_writing_into_a_missing_folder_fails_before_writing(tmp_path, xor_run):
    target = tmp_path / "missing" / "page.html"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        explained("two-two-two").to_html(target)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        xor_run[2].to_html(target)
    assert not (tmp_path / "missing").exists()
    with pytest.raises(ValueError, match="precision"):
        explained("two-two-two").to_html(tmp_path / "p.html", precision=0)
    assert list(tmp_path.iterdir()) == []


def test_notebook_html_is_the_page_in_a_sandboxed_iframe(xor_run):
    for obj in (explained("two-two-two"), xor_run[2]):
        out = obj._repr_html_()
        assert out.startswith('<div class="chainrule-page"><iframe srcdoc="&lt;!DOCTYPE html&gt;')
        assert 'sandbox="allow-scripts allow-downloads"' in out and "<script" not in out


# ------------------------------------------------------------------ the replay, in Python
def test_the_replay_does_not_change_training():
    model, history, _ = fit_xor(60)
    plain = cr.mlp([2, 4, 2], "tanh", None, seed=0)
    reference = plain.fit(XOR_X, XOR_Y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.05), epochs=60, seed=0)
    assert history.history == reference.history
    np.testing.assert_array_equal(model.flat_params, plain.flat_params)


def test_snapshot_logs_are_the_history_and_the_last_weights_the_models(xor_run):
    model, history, replay, _ = xor_run
    epochs = [s["epoch"] for s in replay.snapshots_]
    assert epochs[0] == 0 and epochs[-1] == 120 and epochs == sorted(set(epochs))
    for snap in replay.snapshots_[1:]:
        assert snap["logs"]["loss"] == num(history["loss"][snap["epoch"] - 1])
    last = np.frombuffer(base64.b64decode(replay.snapshots_[-1]["weights"]), "<f4")
    np.testing.assert_array_equal(last, model.flat_params.astype(np.float32))  # Dense params: W then b, in order


def test_the_same_seed_gives_the_same_page_byte_for_byte(tmp_path):
    a = fit_xor(40, seed=3)[2].to_html(tmp_path / "a.html").read_bytes()
    b = fit_xor(40, seed=3)[2].to_html(tmp_path / "b.html").read_bytes()
    c = fit_xor(40, seed=4)[2].to_html(tmp_path / "c.html").read_bytes()
    assert a == b and a != c
    assert page_data(a.decode())["seed"] == "3"


def test_snapshots_thin_to_keep_the_page_within_its_budget(tmp_path):
    _, _, replay = fit_xor(300, budget_bytes=150_000)
    size = replay.to_html(tmp_path / "r.html").stat().st_size
    epochs = [s["epoch"] for s in replay.snapshots_]
    assert size <= 150_000 and replay.every_ > 1 and (replay.every_ & (replay.every_ - 1)) == 0  # a power of 2
    assert epochs[0] == 0 and epochs[-1] == 300
    assert all(e % replay.every_ == 0 for e in epochs[1:-1])


def test_the_epoch_count_chooses_the_spacing(tmp_path):
    _, _, replay = fit_xor(300, epochs=300)
    size = replay.to_html(tmp_path / "r.html").stat().st_size
    assert size <= 1_000_000 and 1 < replay.every_ < 300
    assert [s["epoch"] for s in replay.snapshots_][1:3] == [replay.every_, 2 * replay.every_]


def test_a_budget_too_small_for_one_snapshot_fails_before_training():
    model = cr.mlp([2, 4, 2], "tanh", None, seed=0)
    before = model.flat_params.copy()
    with pytest.raises(ValueError, match=r"budget_bytes=20,000 is too small .* pass budget_bytes=\d"):
        model.fit(XOR_X, XOR_Y, loss="softmax_cross_entropy", epochs=5, callbacks=[cr.Replay(XOR_X, XOR_Y,
                  budget_bytes=20_000)])  # fmt: skip
    assert model.epochs_trained_ == 0
    np.testing.assert_array_equal(model.flat_params, before)


def test_nan_in_a_snapshot_is_a_clear_error():
    model = cr.mlp([2, 4, 2], "tanh", None, seed=0)
    model.layers[0].params["W"][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"weights before training hold 1 NaN or infinite value\(s\) of 22"):
        model.fit(XOR_X, XOR_Y, loss="softmax_cross_entropy", epochs=2, callbacks=[cr.Replay(XOR_X, XOR_Y)])
    model = cr.mlp([2, 4, 2], "tanh", None, seed=0)
    replay = cr.Replay(XOR_X, XOR_Y)
    model.fit(XOR_X, XOR_Y, loss="softmax_cross_entropy", epochs=1, callbacks=[replay])
    with pytest.raises(ValueError, match="the log 'loss' of epoch 2 is nan"):
        replay.on_epoch_end(model, 1, {"loss": math.nan})
    model.layers[2].params["b"][1] = np.inf
    with pytest.raises(ValueError, match=r"weights after epoch 3 hold 1 NaN or infinite"):
        replay.on_epoch_end(model, 2, {"loss": 0.5})


def test_nothing_recorded_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="recorded nothing"):
        cr.Replay(XOR_X, XOR_Y).to_html(tmp_path / "r.html")


@pytest.mark.parametrize(
    "option, value",
    [("budget_bytes", 0), ("every", 0), ("epochs", -1), ("grid", 1), ("samples", 17), ("precision", 0), ("grid", 2.5)],
)
def test_bad_replay_options_are_refused(option, value):
    with pytest.raises(ValueError, match=option):
        cr.Replay(XOR_X, XOR_Y, **{option: value})


def test_replay_refuses_data_of_another_shape():
    with pytest.raises(ValueError, match="different numbers of samples"):
        cr.Replay(XOR_X, XOR_Y[:3])


# ------------------------------------------------------------------ the command line
def test_cli_explain_writes_the_page(tmp_path, capsys):
    assert main(["explain", "two-two-two", "--html", str(tmp_path / "e.html")]) == 0
    assert "page written to" in capsys.readouterr().out
    assert page_data((tmp_path / "e.html").read_text())["step"]["loss"]["value"] == "0.29837"
    assert main(["explain", "--html", str(tmp_path / "no" / "e.html")]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "no").exists()


@pytest.mark.parametrize("dataset, limit", [("xor", 1_000_000), ("digits", 5_000_000)])
def test_cli_train_html_writes_a_replay_within_its_size(tmp_path, dataset, limit):
    if dataset == "digits":
        pytest.importorskip("sklearn")
    assert main(["train", dataset, "--html", "--out", str(tmp_path / "run"), "--quiet", "--no-plots"]) == 0
    page = tmp_path / "run" / "replay.html"
    data = page_data(page.read_text())
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    print(f"{dataset}: replay.html is {page.stat().st_size:,} bytes, {len(data['snapshots'])} snapshots")
    assert page.stat().st_size <= limit
    assert data["logs"]["loss"] == history["loss"] and data["seed"] == "0"
    assert data["snapshots"][-1]["epoch"] == len(history["loss"])


# ------------------------------------------------------------------ in the browser


def open_page(browser, path: Path, ready: str = "#app h1"):
    """The page at ``path`` in a 1280×800 viewport, with its console errors and the requests that left the file."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    leaked: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r):
        if r.request.url.startswith(("file:", "blob:", "data:")):
            r.continue_()
        else:
            leaked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page.goto(path.as_uri())
    page.wait_for_selector(ready)
    return page, errors, leaked


def not_blank(png: bytes) -> int:
    import io

    from PIL import Image

    colours = Image.open(io.BytesIO(png)).convert("RGB").getcolors(1 << 24)
    return len(colours)


@pytest.mark.parametrize("name", ["two-two-two", "mlp-2-3-2"])
def test_explain_page_in_the_browser(browser, tmp_path, name):
    ex = explained(name)
    page, errors, leaked = open_page(browser, ex.to_html(tmp_path / f"{name}.html"))
    text = ex.to_text()
    assert page.text_content("#loss-value") == re.search(r"^  L = (\S+)$", text, re.M).group(1)
    for param, (chain, update) in text_terms(text).items():
        page.focus(selector(param))  # the keyboard's way: every weight and bias is focusable
        tip = [line.strip() for line in page.text_content("#cr-tip").splitlines()]
        assert page.is_visible("#cr-tip") and set(chain) <= set(tip) and update in tip, (param, tip)
        if param.startswith("W"):
            page.hover(selector(param).replace(".edge", ".label"))  # the mouse's way, over its label
            assert chain[0] in page.text_content("#cr-tip")
    box = page.locator("#network").bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= 1280 and box["y"] + box["height"] <= 800
    assert not_blank(page.screenshot()) > 100
    assert not errors and not leaked


@pytest.mark.parametrize(
    "case",
    ["single-neuron", "bce-neuron", "softmax-batch", "bce-batch", "wide", "summary"],
)
def test_other_networks_draw_without_errors(browser, tmp_path, case):
    """Fused outputs, softmax, several samples, compact drawings and the summary table: no error, same numbers."""
    rng = np.random.default_rng(1)
    if case in EXAMPLES:
        ex = explained(case)
    elif case == "softmax-batch":
        model = from_layers([3, 4, 3], "relu", "categorical_cross_entropy", seed=0)
        ex = cr.explain(model, rng.standard_normal((3, 3)), [0, 2, 1], "categorical_cross_entropy", lr=0.1)
    elif case == "bce-batch":
        model = from_layers([2, 3, 1], "tanh", "bce", seed=0)
        ex = cr.explain(model, rng.standard_normal((2, 2)), [[1.0], [0.0]], "bce", lr=0.1)
    elif case == "wide":
        model = from_layers([6, 12, 3], "tanh", "mse", seed=0)
        ex = cr.explain(model, rng.standard_normal((2, 6)), rng.standard_normal((2, 3)), "mse", lr=0.1)
    else:
        model = from_layers([30, 50, 10], "relu", "softmax_cross_entropy", seed=0)
        ex = cr.explain(model, rng.standard_normal((4, 30)), [0, 1, 2, 3], "softmax_cross_entropy")
    page, errors, leaked = open_page(browser, ex.to_html(tmp_path / "p.html"))
    if case == "summary":
        assert page.is_visible("#layer-table") and not page.query_selector("#network")
    else:
        if ex.chain:
            for param, (chain, _) in list(text_terms(ex.to_text()).items())[:6]:
                page.focus(selector(param))
                tip = [line.strip() for line in page.text_content("#cr-tip").splitlines()]
                assert set(chain) <= set(tip), (param, tip)
        if ex.loss.fused:
            assert ex.loss.fused in page.text_content("#fused-section")
        page.click("#view-backward")
        page.focus('.node[data-layer="1"][data-j="0"]')
        assert "δ" in page.text_content("#cr-tip")
    assert page.text_content("#loss-value") == num(ex.loss.value)
    assert not errors and not leaked


def test_two_two_two_in_the_browser_shows_mazurs_numbers_both_ways(browser, tmp_path):
    page, errors, leaked = open_page(browser, explained("two-two-two").to_html(tmp_path / "p.html"))
    assert page.text_content("#loss-value") == "0.29837"
    assert page.text_content('#updates tr[data-param="W(2)[1,1]"] td:last-child') == "0.35892"
    page.hover(selector("W(2)[1,1]").replace(".edge", ".label"))
    assert "W(2)[1,1]: 0.40000 − 0.5·(0.08217) = 0.35892" in page.text_content("#cr-tip")
    assert page.get_attribute(selector("W(2)[1,1]"), "aria-label") == "W(2)[1,1] = 0.40000"
    page.click("#view-backward")
    assert page.get_attribute("#view-backward", "aria-pressed") == "true"
    assert page.get_attribute(selector("W(2)[1,1]"), "aria-label") == "∂L/∂W(2)[1,1] = 0.08217"
    assert "δ = 0.13850" in page.text_content('.node[data-layer="2"][data-j="0"]')  # δo1 = 0.138498562
    page.keyboard.press("Tab")
    assert not errors and not leaked
    page.screenshot(path=str(tmp_path / "explain.png"), full_page=True)


def test_replay_in_the_browser(browser, xor_run):
    model, history, replay, path = xor_run
    page, errors, leaked = open_page(browser, path)
    count = int(page.get_attribute("#epoch", "max")) + 1
    for q in (1, count // 2, count - 1):
        page.eval_on_selector("#epoch", "(el, q) => { el.value = q; el.dispatchEvent(new Event('input')); }", q)
        epoch = int(re.match(r"epoch (\d+) of 120", page.text_content("#epoch-label")).group(1))
        assert f"loss {num(history['loss'][epoch - 1])}" in page.text_content("#epoch-logs")
        assert page.is_visible("#step") and f"epoch {epoch}:" in page.text_content("#step-title")
    page.focus("#epoch")
    page.keyboard.press("Home")
    assert "(before training)" in page.text_content("#epoch-label")
    page.click("#play")
    page.wait_for_timeout(600)
    assert page.get_attribute("#play", "aria-pressed") == "true" and not page.is_visible("#step")
    page.click("#play")
    assert page.is_visible("#step")
    page.focus("#epoch")
    page.keyboard.press("End")
    assert page.text_content("#epoch-label") == "epoch 120 of 120"
    with page.expect_download() as done:
        page.click("#download-weights")
    weights = json.loads(Path(done.value.path()).read_text())
    assert weights["epoch"] == 120 and weights["seed"] == "0"
    for got, dense in zip(weights["layers"], (model.layers[0], model.layers[2])):
        np.testing.assert_allclose(got["W"], dense.params["W"], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got["b"], dense.params["b"], rtol=1e-6, atol=1e-7)
    with page.expect_download() as done:
        page.click("#download-data")
    assert json.loads(Path(done.value.path()).read_text())["history"]["loss"] == history["loss"]
    box = page.locator("#network").bounding_box()
    assert box["x"] + box["width"] <= 1280 and box["y"] + box["height"] <= 800
    assert not_blank(page.locator("#surface").screenshot()) > 20 and not_blank(page.screenshot()) > 100
    assert not errors and not leaked


def test_hostile_names_show_as_text_and_run_nothing(browser, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2))
    classes = ["<script>window.__pwned=3</script>", "<img src=y onerror=window.__pwned=4>"]
    labels = np.where(X[:, 0] * X[:, 1] > 0, *classes)
    with open(tmp_path / "data.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*PAYLOADS, "label"])
        writer.writerows([f"{a:.4f}", f"{b:.4f}", c] for (a, b), c in zip(X, labels))
    args = ["train", str(tmp_path / "data.csv"), "--target", "label", "--layers", "4", "--epochs", "3", "--html"]
    assert main([*args, "--quiet", "--no-plots", "--out", str(tmp_path / "run")]) == 0
    ex = cr.explain(cr.mlp([2, 2, 2], "tanh", None, seed=0), X[:2], [0, 1], "softmax_cross_entropy")
    explain_page = ex.to_html(tmp_path / "e.html", feature_names=PAYLOADS, class_names=sorted(set(labels)))
    for path in (tmp_path / "run" / "replay.html", explain_page):
        page, errors, leaked = open_page(browser, path)
        shown = page.inner_text("body")
        for node in page.query_selector_all('.node[data-layer="0"], .node[data-layer="2"]'):
            node.focus()  # each input and output unit's tooltip names it in full
            shown += page.text_content("#cr-tip")
        for payload in [*PAYLOADS, *classes]:
            assert payload in shown, payload
        assert page.evaluate("window.__pwned") is None
        assert page.evaluate("document.querySelectorAll('#app script, #app img').length") == 0
        assert not errors and not leaked


def test_a_notebook_shows_both_pages_inline(browser, tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (pip install nbconvert)")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (pip install nbclient)")
    nbconvert = pytest.importorskip("nbconvert", reason="nbconvert is not installed (pip install nbconvert)")
    pytest.importorskip("ipykernel", reason="no Python kernel: ipykernel is not installed (pip install ipykernel)")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        pytest.skip("no 'python3' Jupyter kernel is registered")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import numpy as np\nimport chainrule as cr\n"
            "model, X, y, loss, lr = cr.explain.EXAMPLES['two-two-two']()\ncr.explain(model, X, y, loss, lr=lr)"
        ),
        nbformat.v4.new_code_cell(
            "X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]); y = np.array([0, 1, 1, 0])\n"
            "net = cr.mlp([2, 4, 2], 'tanh', None, seed=0)\nreplay = cr.Replay(X, y, epochs=30)\n"
            "history = net.fit(X, y, loss='softmax_cross_entropy', epochs=30, callbacks=[replay], seed=0)\nreplay"
        ),
    ]
    nbclient.NotebookClient(nb, timeout=180, kernel_name="python3").execute()
    for cell in nb.cells:
        assert "text/html" in cell.outputs[-1]["data"]
    body, _ = nbconvert.HTMLExporter(template_name="basic").from_notebook_node(nb)
    path = tmp_path / "notebook.html"
    path.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{body}</body></html>', "utf-8")
    page, errors, leaked = open_page(browser, path, ready="iframe")
    frames = page.frame_locator("iframe")
    assert frames.nth(0).locator("#loss-value").text_content() == "0.29837"
    assert frames.nth(1).locator("#epoch-label").text_content() == "epoch 30 of 30"
    assert not errors and not leaked


def test_a_hidden_units_tooltip_and_card_write_mazurs_sum(browser, tmp_path):
    """Mazur: ∂E/∂out_h1 = 0.13850·0.40 + (−0.03810)·0.50 = 0.05540 + (−0.01905) = 0.03635 (5 decimals)."""
    page, errors, leaked = open_page(browser, explained("two-two-two").to_html(tmp_path / "p.html"))
    page.click("#view-backward")
    page.focus('.node[data-layer="1"][data-j="0"]')
    tip = page.text_content("#cr-tip")
    assert "= 0.13850·0.40000 + (-0.03810)·0.50000" in tip and "= 0.05540 + (-0.01905)" in tip and "= 0.03635" in tip
    card = page.text_content("#path-sums")
    assert "∂L/∂a(1)[1] = δ(2)[1]·W(2)[1,1] + δ(2)[2]·W(2)[1,2]" in card and "= 0.03635" in card
    assert not errors and not leaked
