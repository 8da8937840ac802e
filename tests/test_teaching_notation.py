"""notation="mazur": the step's numbers under Mazur's names and in his order, checked against his walk-through."""

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.explain.examples import two_two_two

# Mazur's printed values (forward pass, errors, gradients, updated weights)
FORWARD = {"net_h1": 0.3775, "out_h1": 0.593269992, "out_h2": 0.596884378, "net_o1": 1.105905967,
           "out_o1": 0.75136507, "out_o2": 0.772928465}  # fmt: skip
ERRORS = {"E_o1": 0.274811083, "E_o2": 0.023560026, "E_total": 0.298371109}
GRADIENTS = {"w5": 0.082167041, "w6": 0.082667628, "w7": -0.02260254, "w8": -0.022740242,
             "w1": 0.000438568, "w2": 0.000877135, "w3": 0.000497713, "w4": 0.000995425}  # fmt: skip
UPDATED = {"w5": 0.35891648, "w6": 0.408666186, "w7": 0.51130127, "w8": 0.561370121,
           "w1": 0.149780716, "w2": 0.19956143, "w3": 0.24975114, "w4": 0.29950229}  # fmt: skip


@pytest.fixture(scope="module")
def text():
    model, X, y, loss, lr = two_two_two()
    return cr.explain(model, X, y, loss, lr=lr, frozen={"b"}).to_text(precision=9, notation="mazur")


def statement(text, lhs):
    """The lines from ``lhs =`` to the last ``= value`` of that statement, joined."""
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if line.strip().startswith(f"{lhs} ="))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("      "):
            break
        block.append(line.strip())
    return " ".join(block)


def last_value(text, lhs):
    return float(re.findall(r"= (-?[0-9.]+)(?:\s|$)", statement(text, lhs) + " ")[-1])


@pytest.mark.parametrize("name, value", [*FORWARD.items(), *ERRORS.items()])
def test_forward_pass_and_errors_under_mazurs_names(text, name, value):
    assert last_value(text, name) == pytest.approx(value, abs=1e-9)


def test_e_total_is_the_sum_of_e_o1_and_e_o2(text):
    assert "E_total = E_o1 + E_o2 = 0.298371109" in text


@pytest.mark.parametrize("name, value", GRADIENTS.items())
def test_gradients_under_mazurs_names(text, name, value):
    assert last_value(text, f"∂E_total/∂{name}") == pytest.approx(value, abs=1e-9)


def test_w5_is_his_three_factor_chain(text):
    line = statement(text, "∂E_total/∂w5")
    assert "∂E_total/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5" in line
    assert "0.741365070 · 0.186815602 · 0.593269992" in line


def test_hidden_unit_sums_the_two_output_errors(text):
    line = statement(text, "∂E_total/∂out_h1")
    assert "∂E_o1/∂out_h1 + ∂E_o2/∂out_h1" in line
    products = re.search(r"= (-?[0-9.]+) \+ \((-[0-9.]+)\) =", line).groups()
    np.testing.assert_allclose([float(v) for v in products], [0.055399425, -0.019049119], atol=1e-9)  # his
    assert last_value(text, "∂E_total/∂out_h1") == pytest.approx(0.036350306, abs=1e-9)
    assert "0.036350306 · 0.241300709 · 0.050000000" in statement(text, "∂E_total/∂w1")  # ∂out_h1/∂net_h1


def test_his_order_output_layer_first_then_hidden_then_the_updates(text):
    at = [text.index(s) for s in ("net_h1 =", "E_total =", "∂E_total/∂w5", "∂E_total/∂out_h1", "∂E_total/∂w1", "w5⁺")]
    assert at == sorted(at)
    names = re.findall(r"^  (w\d)⁺", text, flags=re.M)
    assert names == ["w5", "w6", "w7", "w8", "w1", "w2", "w3", "w4"]


@pytest.mark.parametrize("name, value", UPDATED.items())
def test_updated_weights_with_the_biases_frozen(text, name, value):
    assert last_value(text, f"{name}⁺") == pytest.approx(value, abs=1e-8)
    assert "b_h1⁺ = b_h1 = 0.350000000   (frozen)" in text


def test_renaming_never_changes_a_number():
    model, X, y, loss, lr = two_two_two()
    ex = cr.explain(model, X, y, loss, lr=lr)
    mine, his = ex.to_text(precision=9), ex.to_text(precision=9, notation="mazur")
    numbers = lambda t: set(re.findall(r"-?\d+\.\d{9}", t))  # noqa: E731
    assert numbers(his) <= numbers(mine) | {f"{v:.9f}" for v in np.ravel(X)} | {"1.000000000"}
    assert all(len(line) <= 80 for line in his.splitlines())


def test_notation_is_checked():
    model, X, y, loss, lr = two_two_two()
    ex = cr.explain(model, X, y, loss, lr=lr)
    with pytest.raises(ValueError, match="notation must be one of 'chainrule', 'mazur'"):
        ex.to_text(notation="bishop")
    single = cr.explain(*cr.explain.EXAMPLES["single-neuron"]()[:4])
    with pytest.raises(ValueError, match="two Dense blocks"):
        single.to_text(notation="mazur")
    assert ex.to_text(notation="chainrule") == ex.to_text()
