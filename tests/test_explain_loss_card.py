"""The loss card: ŷ named for what it is, then p = softmax(z) or σ(z), y as labels, p − y and the batch factor.

The probabilities are computed here from the logits by hand (exp and a row sum), the residual from the
one-hot labels, and the factor 1/n from n; the text, the Markdown and the page must show those numbers.
"""

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.explain import from_layers
from chainrule.explain.text import num

X = np.array([[0.3, -1.2], [1.5, 0.4]])
LABELS = [1, 0]


def softmax_run(loss: str) -> tuple[cr.Explanation, np.ndarray, np.ndarray]:
    ex = cr.explain(from_layers([2, 3, 3], "tanh", loss, seed=0), X, LABELS, loss)
    z = ex.forward[-1].z
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return ex, p, p - np.eye(3)[LABELS]


def rows_of(text: str, label: str) -> list[list[str]]:
    """The rows printed under the line starting with ``label`` (the text's layout for a 2×k array)."""
    lines = text.splitlines()
    start = next(q for q, line in enumerate(lines) if line.strip().startswith(label))
    return [line.strip(" []").split() for line in lines[start + 1 : start + 3]]


@pytest.mark.parametrize("loss", ["softmax_cross_entropy", "categorical_cross_entropy"])
def test_the_text_shows_probabilities_then_p_minus_y_then_the_factor(loss):
    ex, p, residual = softmax_run(loss)
    card = ex.to_text().split("LOSS")[1].split("BACKWARD")[0]
    letter = "ŷ" if loss == "categorical_cross_entropy" else "p"
    probs = "ŷ = p = softmax(z), the network's output: probabilities" if letter == "ŷ" else "p = softmax(z)"
    assert rows_of(card, probs) == [[num(v) for v in row] for row in p]
    assert rows_of(card, f"{letter} − y (y one-hot)") == [[num(v) for v in row] for row in residual]
    scaled = f"∂L/∂z = 1/n·({letter} − y), the batch mean's 1/n (n = 2)"
    assert rows_of(card, scaled) == [[num(v) for v in row] for row in residual / 2]
    assert "y, class labels = class 1, class 0" in card
    assert "[1.00000 0.00000]" not in card and "[1.00000  0.00000]" not in card
    if letter == "p":
        assert "ŷ = z, the network's output: logits" in card
    assert card.index(probs) < card.index(f"{letter} − y") < card.index(scaled)


def test_the_markdown_typesets_the_same_card():
    ex, p, residual = softmax_run("softmax_cross_entropy")
    md = ex.to_markdown().split("#### Loss")[1].split("#### Backward")[0]
    (prob_line,) = [x for x in md.splitlines() if x.startswith(r"$$p = \operatorname{softmax}(z)")]
    assert " & ".join(num(v) for v in p[0]) in prob_line
    assert "$y$ = class 1, class 0 (class labels)" in md
    (scaled,) = [x for x in md.splitlines() if x.startswith(r"$$\frac{\partial L}{\partial z} = \frac{1}{n}(p - y)")]
    assert " & ".join(num(v) for v in residual[1] / 2) in scaled


def test_sigmoid_on_logits_shows_sigma_of_z():
    model = from_layers([2, 3, 1], "tanh", "bce_logits", seed=0)
    ex = cr.explain(model, X, [[1.0], [0.0]], "bce_logits")
    z = ex.forward[-1].z[:, 0]
    card = ex.to_text().split("LOSS")[1].split("BACKWARD")[0]
    assert [r[0] for r in rows_of(card, "p = sigmoid(z)")] == [num(v) for v in 1 / (1 + np.exp(-z))]


def test_the_page_data_carries_the_card():
    from chainrule.explain.html.data import explanation_data

    ex, p, _ = softmax_run("softmax_cross_entropy")
    card = explanation_data(ex)["step"]["loss"]["card"]
    labels = [row[0] for row in card]
    assert labels[1].startswith("p = softmax(z)") and card[1][1] == [[num(v) for v in row] for row in p]
    assert card[2] == ["y, class labels", "class 1, class 0", True]
    assert re.match(r"∂L/∂z = 1/n·\(p − y\)", labels[-1])
