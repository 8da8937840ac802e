"""gradcheck: a readable result, the model left bit for bit, float32 through float64, and a check that can fail."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.gradcheck import relative_error


def data(seed=0, n=5, d=3, k=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, k, size=n)


class _HalfDense(cr.Dense):
    """A broken Dense: its backward reports half of dW."""

    def backward(self, dZ, need_input_grad=True):
        dX = super().backward(dZ, need_input_grad)
        self.grads["W"] *= 0.5
        return dX


def test_relative_error_by_hand():
    assert relative_error(np.array([3.0, 4.0]), np.array([3.0, 4.0])) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([1.0, 0.0]), np.array([-1.0, 0.0])) == 1.0  # ‖2‖ / (1 + 1)
    assert relative_error(np.array([2.0]), np.array([1.0])) == pytest.approx(1 / 3, rel=1e-15)


def test_the_result_is_readable():
    X, y = data()
    model = cr.mlp([3, 4, 3], "tanh", None, seed=0)
    result = cr.gradcheck(model, X, y, "softmax_cross_entropy")
    assert result.passed and bool(result) and result.max_error <= result.tol == 1e-6
    assert list(result.errors) == ["layers[0].W", "layers[0].b", "layers[2].W", "layers[2].b", "input"]
    assert result.checked == {"layers[0].W": 12, "layers[0].b": 4, "layers[2].W": 12, "layers[2].b": 3, "input": 15}
    text = str(result)
    lines = text.splitlines()
    assert "rel. error" in lines[0] and "entries" in lines[0]
    for name in result.errors:
        assert any(line.startswith(name) and line.endswith("ok") for line in lines), text
    assert lines[-1] == "tolerance 1e-06, eps 1e-06: PASSED"


def test_max_entries_and_check_input():
    X, y = data(1)
    model = cr.mlp([3, 4, 3], "tanh", None, seed=1)
    result = cr.gradcheck(model, X, y, "softmax_cross_entropy", max_entries=5, check_input=False)
    assert "input" not in result.errors
    assert result.checked == {"layers[0].W": 5, "layers[0].b": 4, "layers[2].W": 5, "layers[2].b": 3}
    assert result.passed, str(result)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_model_is_restored_bit_for_bit(dtype):
    X, y = data(2)
    model = cr.mlp([3, 5, 3], "tanh", "softmax", seed=2, dtype=dtype)
    model.fit(X, y, loss="categorical_cross_entropy", optimizer=cr.Adam(lr=0.1), epochs=2)
    params, grads = model.flat_params.tobytes(), model.flat_grads.tobytes()
    X_before = X.copy()
    cr.gradcheck(model, X, y, "categorical_cross_entropy")
    assert model.flat_params.tobytes() == params
    assert model.dtype == dtype and model.flat_params.dtype == dtype
    np.testing.assert_array_equal(X, X_before)
    if dtype == "float32":  # checked on a float64 copy: the model's own gradients are untouched too
        assert model.flat_grads.tobytes() == grads


def test_float32_models_are_checked_through_a_float64_copy():
    X, y = data(3)
    model32 = cr.mlp([3, 4, 3], "sigmoid", None, seed=3, dtype="float32")
    result = cr.gradcheck(model32, X, y, "softmax_cross_entropy", tol=1e-7)
    assert result.passed, str(result)  # float32 finite differences could not reach 1e-7
    # the float64 copy has exactly the float32 weights: the errors are those of a float64 twin
    model64 = model32.copy(dtype="float64")
    twin = cr.gradcheck(model64, X, y, "softmax_cross_entropy", tol=1e-7)
    for name, err in result.errors.items():
        assert err == pytest.approx(twin.errors[name], rel=1e-6, abs=1e-12)


def test_gradcheck_leaves_the_model_untouched_and_checks_float32_models():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 3, size=5)
    for dtype in ("float64", "float32"):
        model = cr.Sequential(cr.Dense(3, 5), cr.Tanh(), cr.Dense(5, 3), seed=0, dtype=dtype)
        before = model.get_weights()
        result = cr.gradcheck(model, X, y, "softmax_cross_entropy")
        assert result.passed, str(result)
        assert set(result.errors) == {"layers[0].W", "layers[0].b", "layers[2].W", "layers[2].b", "input"}
        for a, b in zip(before, model.get_weights()):
            np.testing.assert_array_equal(a, b)
    assert "PASSED" in str(result)


def test_a_broken_layer_is_caught():
    X, y = data(4)
    model = cr.Sequential(_HalfDense(3, 4), cr.Tanh(), cr.Dense(4, 3), seed=4)
    result = cr.gradcheck(model, X, y, "softmax_cross_entropy")
    assert not result.passed and not bool(result)
    # backprop reports g/2 where the truth is g: ‖g/2 − g‖ / (‖g/2‖ + ‖g‖) = 1/3
    assert result.errors["layers[0].W"] == pytest.approx(1 / 3, rel=1e-4)
    for name in ("layers[0].b", "layers[2].W", "layers[2].b", "input"):
        assert result.errors[name] <= 1e-6, str(result)
    text = str(result)
    assert any(line.startswith("layers[0].W") and line.endswith("FAIL") for line in text.splitlines())
    assert text.endswith("FAILED")


def test_a_bad_batch_is_refused():
    model = cr.mlp([3, 4, 3], "tanh", None, seed=0)
    X, y = data(5)
    with pytest.raises(ValueError, match="5 samples.*4"):
        cr.gradcheck(model, X, y[:4], "softmax_cross_entropy")
    with pytest.raises(ValueError, match="features"):
        cr.gradcheck(model, X[:, :2], y, "softmax_cross_entropy")


def sig(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def test_gradcheck_takes_the_fused_path_fit_takes():
    # Sigmoid + bce is one fused step: gradcheck's backprop gradient is the one fit steps with
    X, y = np.array([[0.5], [-1.0]]), np.array([1.0, 0.0])
    model = cr.Sequential(cr.Dense(1, 1, W=[[2.0]], b=[0.3]), cr.Sigmoid())
    result = cr.gradcheck(model, X, y, "bce")
    assert result.passed, str(result)
    dz = [(sig(2.0 * x + 0.3) - t) / 2 for x, t in zip(X.ravel(), y)]
    np.testing.assert_allclose(model.layers[0].grads["W"], [[sum(x * d for x, d in zip(X.ravel(), dz))]], rtol=1e-12)
    model.fit(X, y, loss="bce", optimizer=cr.SGD(lr=1.0), epochs=1)
    assert model.get_weights()[0][0, 0] == pytest.approx(2.0 - sum(x * d for x, d in zip(X.ravel(), dz)), rel=1e-14)


def test_gradcheck_and_fit_both_skip_the_backward_of_a_fused_output():
    # A Sigmoid whose own chain step is wrong: under bce it is fused, so neither gradcheck nor fit calls it;
    # under mse it is a step of its own, and gradcheck catches it.
    def broken_sigmoid():
        act = cr.Sigmoid()
        act.chain = lambda dA, Z, A: 7.0 * dA
        return act

    X, y = np.array([[0.5], [-1.0]]), np.array([1.0, 0.0])
    fused = cr.Sequential(cr.Dense(1, 1, W=[[2.0]], b=[0.3]), broken_sigmoid())
    assert cr.gradcheck(fused, X, y, "bce").passed
    assert not cr.gradcheck(cr.Sequential(cr.Dense(1, 1, W=[[2.0]], b=[0.3]), broken_sigmoid()), X, y, "mse").passed
    dz = [(sig(2.0 * x + 0.3) - t) / 2 for x, t in zip(X.ravel(), y)]
    fused.fit(X, y, loss="bce", optimizer=cr.SGD(lr=1.0), epochs=1)
    assert fused.get_weights()[1][0] == pytest.approx(0.3 - sum(dz), rel=1e-14)


def test_the_saturated_sigmoid_bce_neuron_passes_gradcheck():
    # z = 39·1 + 1 = 40, y = 0: the true loss is softplus(40) ≈ 40 and its slope in z is σ(40) ≈ 1
    model = cr.Sequential(cr.Dense(1, 1, W=[[39.0]], b=[1.0]), cr.Sigmoid())
    result = cr.gradcheck(model, [[1.0]], [0.0], "bce")
    assert result.passed, str(result)


XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


def _converged_xor():
    """A 2-2-1 tanh/sigmoid net trained to loss ~1e-3: some gradients are near 1e-6, within rounding's reach."""
    model = cr.mlp([2, 2, 1], "tanh", "sigmoid", seed=0)
    model.fit(XOR_X, XOR_Y, loss="bce", optimizer=cr.SGD(lr=0.5), epochs=5100)
    return model


def test_a_correct_gradient_near_a_minimum_passes_and_the_report_says_which_step():
    """A linear unit predicting targets near 1e6: each prediction carries rounding of about 1e6·u = 1e-10,
    which the difference quotient at eps = 1e-6 magnifies past the tolerance; at 100·eps it does not."""
    X = np.random.default_rng(0).standard_normal((8, 1))
    y = 1e6 + 2 * X[:, 0]
    model = cr.mlp([1, 1], "tanh", None, seed=0)
    model.predict(X)  # built from the first batch
    model.layers[0].params["W"][...], model.layers[0].params["b"][...] = 2.1, 1e6
    obj = model.objective("mse")
    model.gradient(X, y[:, None], obj)
    r = X[:, 0] * 2.1 + 1e6 - y  # the backward pass is right: ∂L/∂W = 2·mean(r·x), ∂L/∂b = 2·mean(r)
    np.testing.assert_allclose(model.layers[0].grads["W"][0, 0], 2 * np.mean(r * X[:, 0]), rtol=1e-9)
    np.testing.assert_allclose(model.layers[0].grads["b"][0], 2 * np.mean(r), rtol=1e-6)
    # at eps = 1e-6 alone, rounding puts layers[0].b's relative error above the tolerance ...
    flat, value = model.layers[0].params["b"], lambda: model.evaluate(X, y[:, None], "mse")["loss"]
    keep = flat[0]
    flat[0] = keep + 1e-6
    up = value()
    flat[0] = keep - 1e-6
    down = value()
    flat[0] = keep
    assert relative_error(model.layers[0].grads["b"], np.array([(up - down) / 2e-6])) > 1e-6
    # ... so gradcheck measures it again at 100·eps, passes, and says so
    result = cr.gradcheck(model, X, y, "mse")
    assert result.passed, str(result)
    assert result.steps["layers[0].b"] == pytest.approx(1e-4) and result.errors["layers[0].b"] <= 1e-6
    assert any(line.startswith("layers[0].b") and line.endswith("ok (ε = 1e-04)") for line in str(result).splitlines())
    text = cr.explain(model, X, y, loss="mse").to_text()
    assert text.rstrip().endswith("passed.")


def test_a_converged_classifier_passes_at_eps_itself():
    """bce on logits is computed exactly at confident right answers (max(z, 0) − y·z + log1p(e^−|z|)), so a
    2-2-1 XOR net trained to loss ~1e-3 needs no larger step; PyTorch's autograd agrees with its gradient."""
    torch = pytest.importorskip("torch")
    model = _converged_xor()
    obj = model.objective("bce")
    model.gradient(XOR_X, obj.loss.prepare_targets(XOR_Y, 1, model.dtype), obj)
    (W1, b1), (W2, b2) = ([torch.tensor(p, requires_grad=True) for p in (lay.params["W"], lay.params["b"])]
                          for lay in (model.layers[0], model.layers[2]))  # fmt: skip
    z = torch.tanh(torch.tensor(XOR_X) @ W1 + b1) @ W2 + b2
    target = torch.tensor(XOR_Y, dtype=torch.float64)[:, None]
    torch.nn.functional.binary_cross_entropy_with_logits(z, target).backward()
    np.testing.assert_allclose(model.layers[0].grads["b"], b1.grad.numpy(), rtol=1e-10, atol=0)
    result = cr.gradcheck(model, XOR_X, XOR_Y, "bce")
    assert result.passed and not result.steps, str(result)


def test_a_wrong_gradient_fails_at_the_larger_step_too():
    model = cr.Sequential(_HalfDense(2, 2), cr.Tanh(), cr.Dense(2, 1), cr.Sigmoid(), seed=0)
    result = cr.gradcheck(model, XOR_X, XOR_Y, "bce")
    assert not result.passed and "layers[0].W" not in result.steps  # no step rescues it
    assert result.errors["layers[0].W"] == pytest.approx(1 / 3, rel=1e-4)  # ‖g/2 − g‖ / (‖g/2‖ + ‖g‖)


def test_a_bias_right_before_batchnorm_has_a_zero_gradient_and_passes():
    """The batch mean removes any bias added just before BatchNorm: ∂L/∂b = 0 exactly, so both sides of the
    comparison are rounding alone; it is judged against a share of the whole gradient, and passes."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 3)), rng.integers(0, 2, 16)
    model = cr.Sequential(cr.Dense(3, 4), cr.BatchNorm(4), cr.Tanh(), cr.Dense(4, 1), seed=0)
    result = cr.gradcheck(model, X, y, "bce_logits")
    assert result.passed, str(result)
    assert np.abs(model.layers[0].grads["b"]).max() < 1e-15  # the exact zero, up to rounding
    # a wrong gradient for the other parameters still fails: halve W's backward
    original = model.layers[0].backward

    def halved(dZ, need_input_grad=True):
        out = original(dZ, need_input_grad)
        model.layers[0].grads["W"] *= 0.5
        return out

    model.layers[0].backward = halved
    assert not cr.gradcheck(model, X, y, "bce_logits").passed
