"""The pages' layout, measured in headless Chromium: no two text labels of a diagram overlap at 1280×800, every
edge label sits on a background that no line crosses, and at phone size (390×844) nothing scrolls sideways,
all text is at least 12 CSS px, the diagram scrolls in its own box, and Play, the slider and the decision
boundary share the first screen. Skips, with the reason, where Chromium or Playwright is missing.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.explain import EXAMPLES, from_layers

TEXT_BOXES = """() => [...document.querySelectorAll('#network text')].filter((t) => t.textContent.trim())
  .map((t) => { const r = t.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom, t.textContent]; })"""

LABELS_ON_BACKGROUNDS = """() => [...document.querySelectorAll('#network .label')].map((g) => {
  const t = g.querySelector('text').getBoundingClientRect(), b = g.querySelector('rect').getBoundingClientRect();
  const fill = getComputedStyle(g.querySelector('rect')).fill;
  const inside = t.left >= b.left && t.right <= b.right && t.top >= b.top && t.bottom <= b.bottom;
  return inside && fill === 'rgb(255, 255, 255)';
})"""

SMALL_TEXT = """() => {
  const small = [];
  const walker = document.createTreeWalker(document.getElementById('app'), NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || !el.getClientRects().length) continue;
    if (el.closest('[hidden], option')) continue;
    const scale = el instanceof SVGElement ? el.getScreenCTM().a : 1;
    const px = parseFloat(getComputedStyle(el).fontSize) * scale;
    if (px < 11.99) small.push([walker.currentNode.textContent.slice(0, 30), px]);
  }
  return small;
}"""


def explain_page(name: str, folder) -> object:
    rng = np.random.default_rng(0)
    if name == "2-2-2":
        model, X, y, loss, lr = EXAMPLES["two-two-two"]()
        ex = cr.explain(model, X, y, loss, lr=lr)
    elif name == "3-4-2":
        model = from_layers([3, 4, 2], "tanh", "mse", seed=0)
        ex = cr.explain(model, rng.standard_normal((2, 3)), rng.standard_normal((2, 2)), "mse", lr=0.1)
    else:
        model = from_layers([4, 8, 3], "tanh", "softmax_cross_entropy", seed=0)
        ex = cr.explain(model, rng.standard_normal((3, 4)), [0, 2, 1], "softmax_cross_entropy", lr=0.1)
    return ex.to_html(folder / f"{name}.html")


def replay_page(name: str, folder) -> object:
    rng = np.random.default_rng(0)
    if name == "xor-200":
        X = rng.standard_normal((200, 2))
        y, sizes = (X[:, 0] * X[:, 1] > 0).astype(int), [2, 8, 2]
    else:  # 64 inputs and 10 classes, as the digits: a network too large to draw, with a layer table
        X, y, sizes = rng.standard_normal((200, 64)), rng.integers(0, 10, 200), [64, 16, 10]
    model = cr.mlp(sizes, "tanh", None, seed=0)
    replay = cr.Replay(X, y, epochs=8)
    model.fit(X, y, loss="softmax_cross_entropy", epochs=8, callbacks=[replay], seed=0, batch_size=32)
    return replay.to_html(folder / f"{name}.html")


def overlapping(boxes: list) -> list:
    return [
        (a[4], b[4])
        for q, a in enumerate(boxes)
        for b in boxes[q + 1 :]
        if a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5
    ]


@pytest.mark.parametrize("name", ["2-2-2", "3-4-2", "4-8-3"])
def test_no_two_diagram_labels_overlap_at_1280(browser, tmp_path, name):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(explain_page(name, tmp_path).as_uri())
    page.wait_for_selector("#network")
    for view in ("#view-forward", "#view-backward"):
        page.click(view)
        boxes = page.evaluate(TEXT_BOXES)
        assert len(boxes) >= 3 and not overlapping(boxes), overlapping(boxes)
        assert all(page.evaluate(LABELS_ON_BACKGROUNDS))
        edges = int(page.get_attribute("#network", "data-edges"))
        hidden = int(page.get_attribute("#network", "data-hidden-labels"))
        shown = page.locator("#network .label").count()
        assert shown + hidden == edges
        if hidden:  # the page says where the missing numbers are
            assert "hover over or focus" in page.text_content("#hidden-numbers")
        if name == "2-2-2":
            assert hidden == 0  # Mazur's network shows every weight
    page.close()


@pytest.mark.parametrize("name", ["2-2-2", "3-4-2", "4-8-3", "xor-200", "digits-like"])
def test_phone_size_fits_the_width_with_readable_text(browser, tmp_path, name):
    path = replay_page(name, tmp_path) if name in ("xor-200", "digits-like") else explain_page(name, tmp_path)
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(path.as_uri())
    page.wait_for_selector("#app h1")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    assert page.evaluate(SMALL_TEXT) == []
    if page.query_selector("#network"):  # the diagram scrolls within its own box
        figure = page.locator(".figure").bounding_box()
        assert figure["x"] >= 0 and figure["x"] + figure["width"] <= 390
        assert page.evaluate("getComputedStyle(document.querySelector('.figure')).overflowX") == "auto"
    if name == "xor-200":  # Play, the slider and the whole boundary on the first screen
        for selector in ("#play", "#epoch", "#surface"):
            box = page.locator(selector).bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= 844, selector
    page.close()
