"""The hidden-layer sum: ∂L/∂a of a hidden unit as the sum over the units it feeds, in every rendering.

Expected numbers: Matt Mazur's "A Step by Step Backpropagation Example" (the ``two-two-two`` example),
whose hidden-layer section writes ∂E/∂out_h1 = ∂E_o1/∂out_h1 + ∂E_o2/∂out_h1 with
∂E_o1/∂out_h1 = δ_o1·w5 = 0.138498562 · 0.40 = 0.055399425,
∂E_o2/∂out_h1 = δ_o2·w7 = −0.038098236 · 0.50 = −0.019049119 and the sum 0.036350306.
His figures round δ_o2 before multiplying, so the last digit may differ by one: the tests allow 2e-9.
A 3-4-2 tanh network is checked against PyTorch autograd (∂L/∂h with h retained).
"""

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.explain import EXAMPLES, from_layers

MAZUR_TERMS = [0.055399425, -0.019049119]
MAZUR_TOTAL = 0.036350306


def two_two_two() -> cr.Explanation:
    model, X, y, loss, lr = EXAMPLES["two-two-two"]()
    return cr.explain(model, X, y, loss, lr=lr)


def numbers(line: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", line)]


def test_the_trace_holds_mazurs_hidden_layer_sum():
    ps = two_two_two().paths[0]
    assert (ps.layer, ps.unit) == (1, 0)
    np.testing.assert_allclose(ps.products(0), MAZUR_TERMS, atol=2e-9)
    np.testing.assert_allclose(ps.value, [MAZUR_TOTAL], atol=2e-9)
    assert [w for _, w in ps.terms[0]] == [0.40, 0.50]  # w5 and w7: h1's weights to o1 and o2


def test_the_text_writes_the_sum_with_mazurs_numbers():
    text = two_two_two().to_text(precision=9)
    lines = text.splitlines()
    start = lines.index("  ∂L/∂a(1)[1] = δ(2)[1]·W(2)[1,1] + δ(2)[2]·W(2)[1,2]")
    factors, products, total = lines[start + 1 : start + 4]
    np.testing.assert_allclose(numbers(factors), [0.138498562, 0.4, -0.038098236, 0.5], atol=2e-9)
    np.testing.assert_allclose(numbers(products), MAZUR_TERMS, atol=2e-9)
    np.testing.assert_allclose(numbers(total), [MAZUR_TOTAL], atol=2e-9)
    assert all(len(line) <= 80 for line in lines)


def test_the_markdown_writes_the_sum_with_mazurs_numbers():
    md = two_two_two().to_markdown(precision=9)
    (line,) = [x for x in md.splitlines() if x.startswith(r"$$\frac{\partial L}{\partial a^{(1)}_{1}}")]
    sides = line.strip("$").split(" = ")
    assert sides[1] == r"\delta^{(2)}_{1} W^{(2)}_{1,1} + \delta^{(2)}_{2} W^{(2)}_{1,2}"
    np.testing.assert_allclose(numbers(sides[3]), MAZUR_TERMS, atol=2e-9)
    np.testing.assert_allclose(numbers(sides[4]), [MAZUR_TOTAL], atol=2e-9)


def test_the_backward_diagram_writes_the_sum_under_each_hidden_unit():
    pytest.importorskip("matplotlib")
    from chainrule.explain.diagram import draw

    fig = draw(two_two_two(), backward=True, precision=3)
    texts = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if t.get_gid()}
    assert texts["path_sum_1_1"].splitlines()[1:] == ["= 0.0554 + (-0.019)", "= 0.0364"]
    assert "path_sum_1_2" in texts and "path_sum_2_1" not in texts  # hidden units only


def test_the_page_data_holds_the_texts_sum():
    from chainrule.explain.html.data import explanation_data

    ex = two_two_two()
    block = explanation_data(ex, 9)["step"]["blocks"][0]
    name, sides = block["sums"][0][0]
    assert name == "∂L/∂a(1)[1]"
    np.testing.assert_allclose(numbers(sides[2]), MAZUR_TERMS, atol=2e-9)
    assert f"{name} = {' = '.join(sides)}" in ex.to_text(9).replace("\n      = ", " = ")


def test_every_hidden_units_sum_matches_pytorch_for_a_batch():
    torch = pytest.importorskip("torch")
    model = from_layers([3, 4, 2], "tanh", "mse", seed=2)
    X = np.array([[0.5, -1.0, 2.0], [0.1, 0.2, 0.3]])
    Y = np.array([[1.0, -0.5], [0.0, 0.3]])
    W1, b1, W2, b2 = (torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in model.get_weights())
    h = torch.tanh(torch.tensor(X) @ W1 + b1)
    h.retain_grad()
    ((torch.tanh(h @ W2 + b2) - torch.tensor(Y)) ** 2).mean().backward()
    ex = cr.explain(model, X, Y, "mse")
    assert len(ex.paths) == 4
    for ps in ex.paths:
        for s in range(2):
            np.testing.assert_allclose(sum(ps.products(s)), h.grad[s, ps.unit].item(), rtol=1e-10)
            np.testing.assert_allclose(ps.value[s], h.grad[s, ps.unit].item(), rtol=1e-10)


def test_large_networks_write_no_sums():
    model = from_layers([4, 8, 3], "tanh", "mse", seed=0)  # 67 parameters: the matrix explanation only
    ex = cr.explain(model, np.ones((1, 4)), np.zeros((1, 3)), "mse")
    assert not ex.paths and "unit by unit" not in ex.to_text()
