"""explain through convolutions: each kernel weight's gradient as a sum over the positions the kernel visited,
each input's as a sum over the windows that read it, in text, Markdown, the page's data and in Chromium.

The expected numbers are worked by hand below, from weights chosen so that every product is exact.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.explain.html.data import explanation_data


# ---------------------------------------------------------------- case 1: length 5, kernel 3, stride 1
# x = [1, 2, −1, 0.5, 3], w = [1, 0, −1], b = 0.5
#   Z[t] = 0.5 + x[t] − x[t + 2] = [2.5, 2.0, −3.5];  ReLU: a = [2.5, 2.0, 0]
#   Dense W = [1, −1, −2]ᵀ: ŷ = 2.5 − 2.0 = 0.5; y = 1.5; MSE L = (ŷ − y)² = 1, ∂L/∂ŷ = 2(ŷ − y) = −2
#   ∂L/∂a = −2·[1, −1, −2] = [−2, 2, 4];  δ = ∂L/∂Z = [−2, 2, 0] (t = 2 is cut by the ReLU)
#   ∂L/∂w[k] = Σₜ δ[t]·x[t + k]:  k=0: −2·1 + 2·2 + 0·(−1) = 2;  k=1: −2·2 + 2·(−1) + 0·0.5 = −6;
#                                k=2: −2·(−1) + 2·0.5 + 0·3 = 3
#   ∂L/∂x[i] = Σ w[k]·δ[i − k]:  i=0: 1·(−2) = −2;  i=1: 1·2 + 0·(−2) = 2;  i=2: 1·0 + 0·2 + (−1)·(−2) = 2;
#                                i=3: 0·0 + (−1)·2 = −2;  i=4: (−1)·0 = 0
def case_one():
    model = cr.Sequential(
        cr.Conv1D(1, 1, 3, W=[[[1.0, 0.0, -1.0]]], b=[0.5]),
        cr.ReLU(),
        cr.Flatten(),
        cr.Dense(3, 1, W=[[1.0], [-1.0], [-2.0]], b=[0.0]),
        input_shape=(1, 5),
    )
    return cr.explain(model, np.array([[[1.0, 2.0, -1.0, 0.5, 3.0]]]), np.array([[1.5]]), "mse")


# ---------------------------------------------------------------- case 2: stride 2, padding 1, a max-pool
# x = [1, −2, 3, 0.5, 2], w = [1, 2, −1], b = 0; window t reads x[2t − 1], x[2t], x[2t + 1] (x[−1] = x[5] = 0)
#   Z = [0 + 2·1 − (−2), −2 + 2·3 − 0.5, 0.5 + 2·2 − 0] = [4, 3.5, 4.5]
#   MaxPool1D(2, stride 1): windows [4, 3.5] -> 4 (input 0 wins), [3.5, 4.5] -> 4.5 (input 2 wins)
#   Dense W = [1, −1]ᵀ: ŷ = −0.5; y = 0.5; L = 1, ∂L/∂ŷ = −2; ∂L/∂pool = [−2, 2]; δ = [−2, 0, 2]
#   ∂L/∂w[k] = Σₜ δ[t]·x[2t + k − 1]:  k=0: −2·0 + 0·(−2) + 2·0.5 = 1;  k=1: −2·1 + 0·3 + 2·2 = 2;
#                                     k=2: −2·(−2) + 0·0.5 + 2·0 = 4
#   ∂L/∂x[i] over 2t + k − 1 = i:  i=0: w1·δ0 = −4;  i=1: w0·δ1 + w2·δ0 = 0 + 2 = 2;  i=2: w1·δ1 = 0;
#                                  i=3: w0·δ2 + w2·δ1 = 2 + 0 = 2;  i=4: w1·δ2 = 4
def case_two():
    model = cr.Sequential(
        cr.Conv1D(1, 1, 3, stride=2, padding=1, W=[[[1.0, 2.0, -1.0]]], b=[0.0]),
        cr.MaxPool1D(2, stride=1),
        cr.Flatten(),
        cr.Dense(2, 1, W=[[1.0], [-1.0]], b=[0.0]),
        input_shape=(1, 5),
    )
    return cr.explain(model, np.array([[[1.0, -2.0, 3.0, 0.5, 2.0]]]), np.array([[0.5]]), "mse")


def test_case_one_text_writes_each_sum_by_hand():
    text = case_one().to_text()
    assert "  L = 1.00000" in text
    assert "∂L/∂w[0, 0, 1] = Σₙ Σₜ δ[n, 0, t]·x[n, 0, t + 1]" in text
    assert "= δ[0, 0, 0]·x[0, 0, 1] + δ[0, 0, 1]·x[0, 0, 2] + δ[0, 0, 2]·x[0, 0, 3]" in text
    assert "= -2.00000·2.00000 + 2.00000·(-1.00000) + 0.00000·0.50000\n      = -6.00000" in text
    assert "= -2.00000·1.00000 + 2.00000·2.00000 + 0.00000·(-1.00000)\n      = 2.00000" in text
    assert "= -2.00000·(-1.00000) + 2.00000·0.50000 + 0.00000·3.00000\n      = 3.00000" in text
    # ∂L/∂x[0, 0, 2]: the three windows that read input 2, tap 2 of window 0 to tap 0 of window 2
    assert "= w[0, 0, 0]·δ[0, 0, 2] + w[0, 0, 1]·δ[0, 0, 1] + w[0, 0, 2]·δ[0, 0, 0]" in text
    assert "= 1.00000·0.00000 + 0.00000·2.00000 + (-1.00000)·(-2.00000)\n      = 2.00000" in text
    assert "= 1.00000·(-2.00000)\n      = -2.00000" in text  # input 0: only window 0 read it


def test_case_one_markdown_and_page_data():
    ex = case_one()
    md = ex.to_markdown()
    assert r"\delta_{0,0,0}\,x_{0,0,1} + \delta_{0,0,1}\,x_{0,0,2} + \delta_{0,0,2}\,x_{0,0,3}" in md
    assert r"-2.00000 \cdot 2.00000 + 2.00000 \cdot (-1.00000) + 0.00000 \cdot 0.50000 = -6.00000" in md
    assert (r"w_{0,0,0}\,\delta_{0,0,2} + w_{0,0,1}\,\delta_{0,0,1} + w_{0,0,2}\,\delta_{0,0,0} = 1.00000 \cdot 0.00000"
            r" + 0.00000 \cdot 2.00000 + (-1.00000) \cdot (-2.00000) = 2.00000") in md  # fmt: skip
    conv = explanation_data(ex)["step"]["blocks"][0]["conv"]
    assert conv["x"] == [[["1.00000", "2.00000", "-1.00000", "0.50000", "3.00000"]]]
    assert conv["delta"] == [[["-2.00000", "2.00000", "0.00000"]]]
    assert conv["dW"] == [[["2.00000", "-6.00000", "3.00000"]]]
    assert conv["dX"] == [[["-2.00000", "2.00000", "2.00000", "-2.00000", "0.00000"]]]
    w1 = next(w for w in conv["weights"] if w["at"] == [0, 0, 1])
    assert w1["terms"] == [[0, 0, 1], [0, 1, 2], [0, 2, 3]]  # (n, t, i): i = t + 1
    assert w1["sum"][-1] == "= -6.00000"
    x2 = next(e for e in conv["inputs"] if e["at"] == [0, 0, 2])
    assert sorted(x2["terms"]) == [[0, 0, 2], [0, 1, 1], [0, 2, 0]]  # (o, k, t) with t + k = 2


def test_case_two_stride_padding_and_max_pool_by_hand():
    ex = case_two()
    text = ex.to_text()
    assert "∂L/∂w[0, 0, 0] = Σₙ Σₜ δ[n, 0, t]·x[n, 0, 2t − 1]" in text
    assert "= δ[0, 0, 0]·x[0, 0, -1] + δ[0, 0, 1]·x[0, 0, 1] + δ[0, 0, 2]·x[0, 0, 3]" in text
    assert "= -2.00000·0.00000 + 0.00000·(-2.00000) + 2.00000·0.50000\n      = 1.00000" in text
    assert "= -2.00000·1.00000 + 0.00000·3.00000 + 2.00000·2.00000\n      = 2.00000" in text
    assert "= -2.00000·(-2.00000) + 0.00000·0.50000 + 2.00000·0.00000\n      = 4.00000" in text
    assert "= w[0, 0, 0]·δ[0, 0, 1] + w[0, 0, 2]·δ[0, 0, 0]\n      = 1.00000·0.00000 + (-1.00000)·(-2.00000)" in text
    assert "= w[0, 0, 1]·δ[0, 0, 0]\n      = 2.00000·(-2.00000)\n      = -4.00000" in text
    assert "(x at a position below 0 or from 5 on is the padding, 0)" in text
    blocks = explanation_data(ex)["step"]["blocks"]
    conv = blocks[0]["conv"]
    assert conv["dW"] == [[["1.00000", "2.00000", "4.00000"]]]
    assert conv["dX"] == [[["-4.00000", "2.00000", "0.00000", "2.00000", "4.00000"]]]
    w0 = next(w for w in conv["weights"] if w["at"] == [0, 0, 0])
    assert [t[2] for t in w0["terms"]] == [-1, 1, 3]  # i = 2t − 1: the first meets the padding
    pool = blocks[1]["pool"]
    assert pool["winners"] == [[[0, 2]]] and pool["kernel"] == 2 and pool["stride"] == 1
    assert pool["x"] == [[["4.00000", "3.50000", "4.50000"]]]


def test_a_larger_conv_is_summarised_by_shape_and_norm():
    model = cr.Sequential(cr.Conv1D(2, 5, 7), cr.ReLU(), cr.Flatten(), cr.Dense(10, 1), input_shape=(2, 8), seed=0)
    X = np.random.default_rng(0).normal(size=(2, 2, 8))
    ex = cr.explain(model, X, np.zeros((2, 1)), "mse")
    text = ex.to_text()
    assert "∂L/∂w[" not in text and "∂L/∂x[" not in text  # 70 weights: no sums written out
    torch = pytest.importorskip("torch")  # the norm from PyTorch's gradient of the same network
    conv, dense = model.layers[0].params, model.layers[3].params
    W = torch.tensor(conv["W"], requires_grad=True)
    z = torch.relu(torch.nn.functional.conv1d(torch.tensor(X), W, torch.tensor(conv["b"])))
    y_hat = z.flatten(1) @ torch.tensor(dense["W"]) + torch.tensor(dense["b"])
    (y_hat**2).mean().backward()
    assert f"dW = Σₙ Σₜ δ·x (O, C, K):\n      shape (5, 2, 7), not listed: ‖·‖ = {W.grad.norm().item():.4g}" in text
    assert r"dW = Σₙ Σₜ δ·x (O, C, K): $$\left[\text{shape } 5 \times 2 \times 7" in ex.to_markdown()
    assert explanation_data(ex)["step"]["blocks"][0]["conv"] is None


def test_global_average_pool_and_flatten_by_hand():
    # x = [1, 2, 3, 6]: z = 12/4 = 3; Dense w = 2: ŷ = 6, y = 4, L = (6 − 4)² = 4, ∂L/∂ŷ = 4, ∂L/∂z = 8,
    # ∂L/∂x = 8/4 = 2 at every position
    model = cr.Sequential(cr.GlobalAvgPool1D(), cr.Dense(1, 1, W=[[2.0]], b=[0.0]), input_shape=(1, 4))
    text = cr.explain(model, np.array([[[1.0, 2.0, 3.0, 6.0]]]), np.array([[4.0]]), "mse").to_text()
    assert "z = (1/4)·Σᵢ x (each channel's mean) = [3.00000]" in text
    assert "∂L/∂x = ∂L/∂z / 4 (at every position) = [2.00000  2.00000  2.00000  2.00000]" in text
    flat = cr.Sequential(cr.Flatten(), cr.Dense(4, 1, W=[[1.0], [0.0], [0.0], [-1.0]], b=[0.0]), input_shape=(2, 2))
    text = cr.explain(flat, np.array([[[1.0, 2.0], [3.0, 6.0]]]), np.array([[0.0]]), "mse").to_text()
    # ŷ = 1 − 6 = −5, ∂L/∂ŷ = −10: ∂L/∂(flat x) = [−10, 0, 0, 10], laid back out as (2, 2)
    assert "∂L/∂x = ∂L/∂z (laid back out in x's shape) =\n      [-10.00000    0.00000    0.00000   10.00000]" in text


# ---------------------------------------------------------------- in Chromium


def open_page(browser, path, width: int, height: int):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(path.as_uri())
    page.wait_for_selector(".conv-view")
    return page, errors


def highlighted(view, selector: str, attr: str) -> list[int]:
    return sorted(int(e.get_attribute(attr)) for e in view.locator(selector + ".hit").all())


@pytest.mark.parametrize("width,height", [(1280, 800), (390, 844)])
def test_page_slides_the_kernel_and_highlights_a_weights_terms(browser, tmp_path, width, height):
    page, errors = open_page(browser, case_one().to_html(tmp_path / "one.html"), width, height)
    view = page.locator("#conv-layer-1")
    assert view.locator(".cv.tap").count() == 9  # 3 positions × 3 taps
    assert [e.inner_text() for e in view.locator(".cv.x").all()] == ["1.00000", "2.00000", "-1.00000", "0.50000",
                                                                     "3.00000"]  # fmt: skip
    view.locator('button.kw[data-at="0,0,1"]').click()
    assert highlighted(view, ".cv.x", "data-i") == [1, 2, 3]  # x[t + 1] for t = 0, 1, 2
    assert highlighted(view, ".cv.delta", "data-t") == [0, 1, 2]
    assert highlighted(view, ".cv.tap", "data-k") == [1, 1, 1]
    assert view.locator(".conv-sum").inner_text().strip().endswith("= -6.00000")
    page.keyboard.press("Tab")  # keyboard focus picks the next weight, w[0, 0, 2]
    assert view.locator('button.kw[data-at="0,0,2"]').get_attribute("aria-pressed") == "true"
    assert highlighted(view, ".cv.x", "data-i") == [2, 3, 4]
    assert view.locator(".conv-sum").inner_text().strip().endswith("= 3.00000")
    view.locator('.cv.x[data-i="2"]').click()  # an input: the windows that read it
    assert highlighted(view, ".cv.tap", "data-t") == [0, 1, 2]
    assert view.locator(".conv-sum").inner_text().strip().endswith("= 2.00000")
    page.keyboard.press("Tab")  # the keyboard moves on to input 3, read by windows 1 and 2
    assert page.evaluate("document.activeElement.getAttribute('data-i')") == "3"
    assert highlighted(view, ".cv.tap", "data-t") == [1, 2]
    assert view.locator(".conv-sum").inner_text().strip().endswith("= -2.00000")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways page scroll
    sizes = page.evaluate(
        "[...document.querySelectorAll('.cv, .kw, .conv-sum')].map(e => parseFloat(getComputedStyle(e).fontSize))"
    )
    assert min(sizes) >= 12
    assert errors == []
    page.close()


def test_page_marks_padding_and_max_pool_winners(browser, tmp_path):
    page, errors = open_page(browser, case_two().to_html(tmp_path / "two.html"), 390, 844)
    view = page.locator("#conv-layer-1")
    assert view.locator(".cv.x.pad").count() == 2  # x[−1] and x[5]
    view.locator('button.kw[data-at="0,0,0"]').click()
    assert highlighted(view, ".cv.x", "data-i") == [-1, 1, 3]
    view.locator('.cv.x[data-i="3"]').click()  # read by tap 2 of window 1 and tap 0 of window 2
    hits = sorted((int(e.get_attribute("data-t")), int(e.get_attribute("data-k")))
                  for e in view.locator(".cv.tap.hit").all())  # fmt: skip
    assert hits == [(1, 2), (2, 0)]
    assert view.locator(".conv-sum").inner_text().strip().endswith("= 2.00000")
    pool = page.locator("#pool-layer-2")
    assert sorted(int(e.get_attribute("data-i")) for e in pool.locator(".cv.tap.win").all()) == [0, 2]
    assert pool.locator(".cv.tap").count() == 4  # two windows of two
    assert errors == []
    page.close()


def test_page_shows_average_pool_shares(browser, tmp_path):
    model = cr.Sequential(cr.AvgPool1D(2), cr.Flatten(), cr.Dense(2, 1), input_shape=(1, 4), seed=0)
    ex = cr.explain(model, np.array([[[1.0, 2.0, 3.0, 4.0]]]), np.array([[0.0]]), "mse")
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(ex.to_html(tmp_path / "avg.html").as_uri())
    pool = page.locator("#pool-layer-1")
    assert [e.inner_text() for e in pool.locator(".cv.tap").all()] == ["1/2"] * 4  # two windows of two, no winner
    assert pool.locator(".win").count() == 0
    page.close()
