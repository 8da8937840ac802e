"""``mlp``'s dropout, norm and residual options: the layers they build, their checks, and a gradcheck."""

import numpy as np
import pytest

import chainrule as cr


def test_the_blocks_each_option_builds():
    model = cr.mlp([4, 8, 8, 3], "relu", dropout=0.2, norm="batch", residual=True, seed=0)
    assert [repr(layer) for layer in model.layers] == [
        "Dense(4, 8)", "ReLU()", "BatchNorm(8)", "Dropout(0.2)",
        "Residual(Dense(8, 8), ReLU(), BatchNorm(8), Dropout(0.2))", "Dense(8, 3)",
    ]  # fmt: skip
    plain = cr.mlp([4, 8, 8, 3], "tanh", "softmax", seed=0)
    assert repr(plain) == "Sequential(Dense(4, 8), Tanh(), Dense(8, 8), Tanh(), Dense(8, 3), Softmax())"
    layer = cr.mlp([4, 8, 3], norm="layer", seed=0).layers[2]
    assert repr(layer) == "LayerNorm(8)"


def test_a_dense_layer_inside_a_block_is_drawn_for_the_activation_after_it():
    block = cr.mlp([64, 64, 64, 1], "relu", residual=True, seed=0).layers[1]
    W = block.layers[0].params["W"]
    he, glorot = np.sqrt(6 / 64), np.sqrt(6 / 128)  # He's and Glorot's uniform bounds for 64 → 64
    assert glorot < np.abs(W).max() <= he


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"norm": "group"}, r"mlp norm must be one of None, 'batch', 'layer'; received norm='group'"),
    ({"dropout": 1.0}, r"Dropout rate must be a number in \[0, 1\); received rate=1.0"),
    ({"dropout": -0.5}, r"Dropout rate must be a number in \[0, 1\)"),
    ({"residual": "yes"}, "mlp residual must be True or False"),
])  # fmt: skip
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cr.mlp([2, 4, 1], **kwargs)


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_gradcheck_passes_on_every_option_at_once(norm):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 3, 10)
    model = cr.mlp([3, 6, 6, 3], "tanh", dropout=0.2, norm=norm, residual=True, seed=1)
    result = cr.gradcheck(model, X, y, "softmax_cross_entropy")
    assert result.passed, str(result)
