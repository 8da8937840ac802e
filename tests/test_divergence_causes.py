"""A loss that is not finite is divergence whatever made it: sample weights whose sum overflows, a penalty too
large to add up, or the data; DivergenceError names the cause, and an Ensemble freezes the member."""

import numpy as np
import pytest

import chainrule as cr


def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    return X, (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize(
    ("options", "cause"),
    [
        ({"sample_weight": np.full(40, 1e308)}, "the sample weights sum to inf"),  # 40·1e308 > 1.8e308
        ({"l2": 1e308}, r"the L2 penalty l2=1e\+308"),
    ],
)
def test_a_loss_that_overflows_raises_naming_its_cause(options, cause):
    X, y = data()
    model = cr.mlp([3, 4, 2], "tanh", seed=0)
    before = model.flat_params.copy()
    loss = model.objective("softmax_cross_entropy", l2=options.pop("l2", 0.0))
    with pytest.raises(cr.DivergenceError, match=cause) as info:
        model.fit(X, y, loss=loss, epochs=3, **options)
    assert info.value.epoch == 1
    assert np.isfinite(model.flat_params).all()
    if "sample_weight" in options:  # weights normalised by an infinite sum give no step at all
        np.testing.assert_array_equal(model.flat_params, before)


def test_targets_that_overflow_the_loss_name_the_data():
    X, _ = data()
    model = cr.mlp([3, 4, 1], "tanh", seed=0)
    with pytest.raises(cr.DivergenceError, match="the data or the weights"):
        model.fit(X, np.full(40, 1e200), loss="mse", epochs=1)  # (1e200)² is beyond the float range


def test_an_ensemble_freezes_the_member_whose_epoch_loss_overflows():
    """Member 0's bias 1.2e154 gives one-sample batch losses of 1.44e308 (finite), whose sum over the epoch is not."""
    X, _ = data()
    ens = cr.Ensemble(cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 1), n_models=3, seed=0, input_shape=(3,))
    ens.layers[-1].params["b"][0] = 1.2e154
    history = ens.fit(X, np.zeros(40), loss="mse", epochs=2, batch_size=1, max_weight=None,
                      optimizer=cr.Adam(lr=1e-3))  # fmt: skip
    assert history.diverged == [(0, 0)]
    losses = np.array(history.history["loss"])
    assert np.isnan(losses[:, 0]).all() and np.isfinite(losses[:, 1:]).all()
