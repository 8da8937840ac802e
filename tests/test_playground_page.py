"""The playground's page in headless Chromium at 1280 × 800: every text in the network panel at least 12 px, no
label cut or written twice, one name for the test loss and a legend no curve crosses; refused values and failed
exports told on the page; weights edited by clicking; the view toggles; regression; images in the nodes; the
page's update rate and epochs per second for 2-8-8-1 on spirals (measured and printed, not asserted).
"""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from test_html import selector
from test_playground_server import open_tab, server, wait_epoch  # noqa: F401  (server: the module's fixture)

from chainrule.explain.text import num

TEXT_SIZES = """() => [...document.querySelectorAll('#pg-diagram-card *')]
  .filter((e) => e.getClientRects().length && [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()))
  .map((e) => [e.textContent.trim().slice(0, 40),
               parseFloat(getComputedStyle(e).fontSize) * (e.ownerSVGElement ? e.getScreenCTM().a : 1)])"""

DISTINCT = """() => { const c = document.getElementById('surface'), seen = new Set(),
  d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let q = 0; q < d.length; q += 4) seen.add(d[q] << 16 | d[q + 1] << 8 | d[q + 2]);
  return seen.size; }"""
PIXELS = "() => { const c = document.getElementById('surface'); return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, q) => q % 16 === 0)); }"  # noqa: E501


def labels_ok(page) -> None:
    sizes = page.evaluate(TEXT_SIZES)
    small = [(text, round(px, 1)) for text, px in sizes if px < 11.99]
    assert sizes and not small, small
    texts = [text for text, _ in sizes]
    assert not [t for t in texts if "…" in t], texts
    words = [t.split() for t in texts]
    assert not [w for w in words if len(w) >= 2 and w[0] == w[1]], texts  # "x₁ x₁"


def test_the_network_panel_is_readable_at_1280_by_800(browser, server):  # noqa: F811
    page, errors = open_tab(browser, server + "/?layers=4,2&seed=1", width=1280, height=800)
    page.wait_for_selector("#pg-diagram svg.diagram")
    labels_ok(page)
    page.click("#step")
    wait_epoch(page, 1)
    labels_ok(page)  # the explain view's diagram too
    assert page.locator("#pg-diagram-card image.node-image").count() == 2 + 4 + 2  # inputs and hidden units
    legend, plot = page.locator("#curve-legend").bounding_box(), page.locator("#curve").bounding_box()
    assert legend["y"] + legend["height"] <= plot["y"]  # above the plot: no curve crosses it
    assert "test loss" in page.text_content("#curve-legend") and "test loss" in page.text_content("#scores")
    assert "validation" not in page.text_content("#curve-card") + page.text_content("#scores")
    assert not errors


def test_a_refused_value_returns_to_the_last_good_one_and_a_failed_export_says_why(browser, server):  # noqa: F811
    page, errors = open_tab(browser, server + "/?lr=0.03")
    page.fill("#lr", "50")
    page.dispatch_event("#lr", "change")
    page.wait_for_function("() => document.getElementById('message').textContent.includes('lr must be a number')")
    page.wait_for_function("() => document.getElementById('lr').value === '0.03'")
    page.click("#export-replay")  # epoch 0: nothing to replay, the server answers 400
    page.wait_for_function("() => document.getElementById('message').textContent.includes('Export failed')")
    assert "nothing to replay yet" in page.text_content("#message")
    assert not errors


def test_clicking_a_weight_edits_it_and_training_goes_on_from_it(browser, server):  # noqa: F811
    page, errors = open_tab(browser, server + "/?layers=2&seed=9&optimizer=sgd")
    page.click("#step")
    wait_epoch(page, 1)
    page.click(selector("W(1)[1,1]"), force=True)
    assert page.text_content("#edit-name") == "W(1)[1,1]"
    page.fill("#edit-value", "0.5")
    page.click("#edit-set")
    page.wait_for_function("""(label) => { const e = document.querySelector('[data-param="W"][data-layer="1"]'
        + '[data-i="0"][data-j="0"].edge'); return e && e.getAttribute('aria-label') === label; }""",
                           arg=f"W(1)[1,1] = {num(0.5)}")  # fmt: skip
    page.click(selector("b(2)[1]"), force=True)
    page.fill("#edit-value", "1e9")
    page.click("#edit-set")
    page.wait_for_function("() => document.getElementById('message').textContent.includes('edit refused')")
    page.click("#step")
    wait_epoch(page, 2)
    assert not errors


def test_the_view_toggles_change_the_plot_and_not_the_training(browser, server):  # noqa: F811
    page, errors = open_tab(browser, server + "/?dataset=circles&layers=3&seed=2")
    for epoch in (1, 2):
        page.click("#step")
        wait_epoch(page, epoch)
    smooth, before = page.evaluate(DISTINCT), page.evaluate(PIXELS)
    page.check("#discretize")
    page.wait_for_function(f"() => ({DISTINCT})() < {smooth}")
    page.check("#show-test")
    page.wait_for_function(f"(old) => ({PIXELS})().some((v, q) => v !== old[q])", arg=before)
    assert page.text_content("#epoch") == "epoch 2"
    assert not errors


def test_regression_draws_the_output_as_a_colour_scale_and_trains_on_mse(browser, server):  # noqa: F811
    page, errors = open_tab(browser, server + "/?dataset=reg-gauss&layers=6,4")
    assert page.text_content("#boundary-card h2") == "Output ŷ over the plane"
    page.click("#play")
    page.wait_for_function("() => parseInt(document.getElementById('epoch').textContent.slice(6)) > 5")
    page.click("#play")
    assert "mean squared error" in page.text_content("#scores") + page.text_content("#curve-legend")
    wait_epoch(page, int(page.text_content("#epoch")[6:]))
    assert "ŷ₁ ŷ" not in page.text_content("#pg-diagram-card")
    assert not errors


def test_the_tab_after_the_last_is_told_on_its_page(browser, server):  # noqa: F811
    client = pytest.importorskip("websockets.sync.client", reason="websockets is not installed")
    from chainrule.playground.server import MAX_TABS

    ws_url, origin = server.replace("http", "ws") + "/ws", server
    with contextlib.ExitStack() as stack:
        for _ in range(MAX_TABS):
            stack.enter_context(client.connect(ws_url, origin=origin)).send(json.dumps({"type": "settings"}))
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(server + "/")
        page.wait_for_function("() => document.getElementById('message').textContent.includes('tabs open')")
        assert page.evaluate("document.getElementById('surface')") is None
        context.close()
    for _ in range(100):  # the later tests need a tab: wait until the server has seen these close
        with client.connect(ws_url, origin=origin) as ws:
            ws.send(json.dumps({"type": "settings"}))
            if json.loads(ws.recv(timeout=10))["type"] == "ready":
                break
        time.sleep(0.1)


def test_updates_per_second_for_2_8_8_1_on_spirals(browser, server, capsys):  # noqa: F811
    page, errors = open_tab(browser, server + "/?dataset=spirals&layers=8,8")
    page.click("#play")
    page.wait_for_function("() => +document.getElementById('epoch').dataset.frames > 3")
    read = "() => [+document.getElementById('epoch').dataset.frames, parseInt(document.getElementById('epoch').textContent.slice(6))]"  # noqa: E501
    (f0, e0), t0 = page.evaluate(read), time.perf_counter()
    time.sleep(4)
    (f1, e1), t1 = page.evaluate(read), time.perf_counter()
    page.click("#play")
    with capsys.disabled():
        print(f"\n2-8-8-1 on spirals: {(f1 - f0) / (t1 - t0):.1f} page updates/s, {(e1 - e0) / (t1 - t0):.0f} epochs/s")
    assert f1 > f0 and e1 > e0 and not errors
