"""Stable numerics: finite, warning-free and accurate for inputs up to ±1e4, in float32 and float64.

References are computed in Python floats with math.exp/math.log, one scalar at a time, from formulas
rearranged by hand so that they cannot overflow. Underflow to zero or to a subnormal is the right answer
for these inputs (σ(−1e4) is 0 to any precision), so, as in NumPy's default, only overflow, division by
zero and invalid operations are errors here.
"""

import math
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import _math

DTYPES = [np.float32, np.float64]
Z = [-1e4, -1000.0, -100.0, -89.0, -30.0, -5.0, -1e-3, 0.0, 1e-3, 5.0, 30.0, 89.0, 100.0, 1000.0, 1e4]


def ref_sigmoid(z):
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def ref_softplus(z):
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def ref_log_softmax(row):
    m = max(row)
    log_sum = math.log(sum(math.exp(v - m) for v in row))
    return [(v - m) - log_sum for v in row]


def strict():
    ctx = np.errstate(over="raise", divide="raise", invalid="raise", under="ignore")
    return ctx


def check(got, expected, dtype, rtol=None, atol=None):
    got = np.asarray(got)
    assert got.dtype == dtype, f"dtype {got.dtype}, expected {np.dtype(dtype)}"
    assert np.isfinite(got).all(), f"non-finite values: {got}"
    tiny = np.finfo(dtype).tiny
    rtol = rtol if rtol is not None else 8 * np.finfo(dtype).eps
    np.testing.assert_allclose(
        got, np.asarray(expected, dtype=np.float64), rtol=rtol, atol=tiny * 4 if atol is None else atol
    )


@pytest.fixture(autouse=True)
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with strict():
            yield


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_family(dtype):
    z = np.array(Z, dtype=dtype)
    zf = [float(v) for v in z]
    check(_math.sigmoid(z), [ref_sigmoid(v) for v in zf], dtype)
    check(_math.softplus(z), [ref_softplus(v) for v in zf], dtype)
    check(_math.log_sigmoid(z), [-ref_softplus(-v) for v in zf], dtype)
    check(cr.Sigmoid().forward(z.reshape(-1, 1)).ravel(), [ref_sigmoid(v) for v in zf], dtype)
    check(cr.Tanh().forward(z.reshape(-1, 1)).ravel(), [math.tanh(v) for v in zf], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_backward_is_finite_at_extremes(dtype):
    z = np.array(Z, dtype=dtype).reshape(-1, 1)
    for layer in (cr.Sigmoid(), cr.Tanh(), cr.Softmax()):
        layer.forward(np.hstack([z, -z]) if isinstance(layer, cr.Softmax) else z)
        up = np.ones((len(z), 2 if isinstance(layer, cr.Softmax) else 1), dtype=dtype)
        d = layer.backward(up)
        assert d.dtype == dtype and np.isfinite(d).all()


ROWS = [
    [1e4, -1e4, 0.0],
    [-1e4, -1e4, -1e4],
    [1e4, 1e4, 1e4 - 1],
    [0.0, 0.0, 0.0],
    [-3.0, 2.5, 100.0],
    [89.0, -89.0, 30.0],
]


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_and_log_softmax(dtype):
    Zm = np.array(ROWS, dtype=dtype)
    ref = [ref_log_softmax([float(v) for v in row]) for row in Zm]
    check(_math.log_softmax(Zm, axis=1), ref, dtype, rtol=1e-6 if dtype == np.float32 else 1e-13)
    probs = [[math.exp(v) for v in row] for row in ref]
    check(_math.softmax(Zm, axis=1), probs, dtype)
    check(cr.Softmax().forward(Zm), probs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_extremes(dtype):
    z = np.array(Z, dtype=dtype).reshape(-1, 1)
    for target in (0.0, 1.0, 0.3):
        y = np.full_like(z, target)
        loss = cr.BCEWithLogits(reduction="sum")
        value = loss.forward(z, y)
        # softplus(z) − y·z, summed
        expected = sum(ref_softplus(float(v)) - target * float(v) for v in z.ravel())
        assert math.isfinite(value)
        assert value == pytest.approx(expected, rel=1e-6 if dtype == np.float32 else 1e-13)
        check(
            loss.backward().ravel(),
            [ref_sigmoid(float(v)) - target for v in z.ravel()],
            dtype,
            atol=np.finfo(dtype).eps,
        )


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_on_saturated_probabilities_is_finite(dtype):
    p = _math.sigmoid(np.array(Z, dtype=dtype)).reshape(-1, 1)  # contains exact 0 and 1
    eps = float(np.finfo(dtype).eps)
    for target in (0.0, 1.0):
        y = np.full_like(p, target)
        loss = cr.BinaryCrossEntropy(reduction="sum")
        value = loss.forward(p, y)
        clipped = [min(max(float(v), eps), 1 - eps) for v in p.ravel()]
        expected = sum(-math.log(c) if target else -math.log1p(-c) for c in clipped)
        assert value == pytest.approx(expected, rel=1e-5)
        g = loss.backward()
        assert g.dtype == dtype and np.isfinite(g).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_extremes(dtype):
    Zm = np.array(ROWS, dtype=dtype)
    labels = np.array([1, 0, 2, 1, 0, 1])
    loss = cr.SoftmaxCrossEntropy(reduction="sum")
    value = loss.forward(Zm, labels)
    ref = [ref_log_softmax([float(v) for v in row]) for row in Zm]
    expected = -sum(ref[i][c] for i, c in enumerate(labels))
    assert math.isfinite(value)
    assert value == pytest.approx(expected, rel=1e-6 if dtype == np.float32 else 1e-13)
    grad = [[math.exp(v) - (j == c) for j, v in enumerate(ref[i])] for i, c in enumerate(labels)]
    check(loss.backward(), grad, dtype, atol=4 * np.finfo(dtype).eps)
    onehot = np.eye(3, dtype=dtype)[labels]
    assert loss.forward(Zm, onehot) == pytest.approx(expected, rel=1e-6 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_cross_entropy_with_zero_probability_is_finite(dtype):
    P = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=dtype)
    loss = cr.CategoricalCrossEntropy()
    value = loss.forward(P, np.array([1, 0]))
    assert value == pytest.approx(-math.log(float(np.finfo(dtype).eps)), rel=1e-6)
    assert np.isfinite(loss.backward()).all()


@pytest.mark.parametrize("fn", [_math.sigmoid, _math.softplus, _math.log_sigmoid])
def test_primitives_do_not_mutate(fn):
    z = np.array(Z)
    before = z.copy()
    fn(z)
    np.testing.assert_array_equal(z, before)


def test_integer_input_to_sigmoid_becomes_float():
    out = _math.sigmoid(np.array([0, 1, -1]))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [0.5, ref_sigmoid(1.0), ref_sigmoid(-1.0)], rtol=1e-15)
