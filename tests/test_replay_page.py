"""The replay page as a learner reads it, in headless Chromium: one loss per epoch, the slider's spoken value,
the decision boundary's axis ticks, one colour meaning per panel with its legend, and the skip link.

Expected values come from outside the page: the History that ``fit`` returns, ``cr.explain`` run on the
final model and the first 16 samples, and the data's range padded by 10 % (as the Replay's docstring says).
Skips, with the reason, where Chromium or Playwright is missing.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.explain.text import num


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 3, (40, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    model = cr.mlp([2, 4, 2], "tanh", None, seed=0)
    replay = cr.Replay(X, y, epochs=20)
    history = model.fit(X, y, loss="softmax_cross_entropy", optimizer=cr.Adam(lr=0.05), epochs=20,
                        callbacks=[replay], seed=0, batch_size=8)  # fmt: skip
    path = replay.to_html(tmp_path_factory.mktemp("replay") / "replay.html")
    return model, X, y, history, path


def open_page(browser, path, width=1280, height=800):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_selector("#app h1")
    return page, errors


def test_the_explained_step_says_which_samples_its_loss_covers(browser, run):
    model, X, y, history, path = run
    page, errors = open_page(browser, path)
    explained = cr.explain(model, X[:16], y[:16], "softmax_cross_entropy")
    title = page.text_content("#step-title")
    scope = "this step: the first 16 of 40 samples"
    assert title == f"The training step at epoch 20: {scope}, L = {num(explained.loss.value)}"
    logs = page.text_content("#epoch-logs")
    assert logs.startswith("this epoch, over all 40 samples: ") and f"loss {num(history['loss'][-1])}" in logs
    assert page.get_attribute("#epoch", "aria-valuetext") == "epoch 20 of 20"
    page.focus("#epoch")
    page.keyboard.press("Home")
    assert page.get_attribute("#epoch", "aria-valuetext") == "epoch 0 (before training) of 20"
    assert not errors


def test_the_decision_boundary_has_axis_ticks_over_the_padded_range(browser, run):
    _, X, _, _, path = run
    page, errors = open_page(browser, path)
    lo, hi = X.min(axis=0), X.max(axis=0)
    lo, hi = lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)
    xs = [float(v) for v in page.locator(".tick-x").all_text_contents()]
    ys = [float(v) for v in page.locator(".tick-y").all_text_contents()]
    np.testing.assert_allclose(xs, np.linspace(lo[0], hi[0], 5), rtol=0.05, atol=0.05)
    np.testing.assert_allclose(ys, np.linspace(hi[1], lo[1], 5), rtol=0.05, atol=0.05)
    canvas = page.locator("#surface").bounding_box()
    left = [page.locator(".tick-x").nth(q).bounding_box() for q in (0, 4)]
    assert abs(left[0]["x"] + left[0]["width"] / 2 - canvas["x"]) < 2
    assert abs(left[1]["x"] + left[1]["width"] / 2 - canvas["x"] - canvas["width"]) < 2
    assert not errors


def test_each_panel_gives_its_colours_one_meaning_with_a_legend(browser, run):
    page, errors = open_page(browser, run[4])
    colour = "el => getComputedStyle(el).backgroundColor"
    signs = {page.eval_on_selector(f"#diagram-legend span:nth-child({q}) .swatch", colour) for q in (1, 2)}
    classes = {c.evaluate(colour) for c in page.locator("#boundary-card .swatch").all()}
    assert len(signs) == 2 and len(classes) == 2 and not signs & classes
    assert "blue: positive" in page.text_content("#diagram-legend")
    assert "class 0" in page.text_content("#boundary-card") and "class 1" in page.text_content("#boundary-card")
    assert not errors


def test_the_skip_link_jumps_past_the_diagram(browser, run):
    page, errors = open_page(browser, run[4])
    page.focus("#view-forward")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.id") == "skip-diagram" and page.is_visible("#skip-diagram")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "after-diagram"
    page.keyboard.press("Tab")
    inside = page.evaluate("document.getElementById('diagram-card').contains(document.activeElement)")
    assert not inside and page.evaluate("document.activeElement.tagName") != "BODY"
    assert re.search(r"\S", page.evaluate("document.activeElement.textContent || document.activeElement.id"))
    assert not errors
