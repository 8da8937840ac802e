"""Tiny features are standardised like any other: only a column of equal values is constant. Features ×1e-13,
×1e-30 and ×1e-300 train to the accuracy of the unscaled ones (the unscaled run is the reference)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import datasets as ds
from chainrule.datasets import Preprocessor

pytest.importorskip("sklearn")


def accuracy(data: ds.Dataset) -> float:
    pre = Preprocessor.fit(data)
    model = cr.mlp([4, 16, 3], "tanh", seed=0)
    model.fit(pre.transform(data.X_train), data.y_train, loss="softmax_cross_entropy", optimizer="adam", epochs=60,
              batch_size=16, seed=0)  # fmt: skip
    return float(np.mean(model.predict_classes(pre.transform(data.X_test)) == data.y_test))


def scaled(data: ds.Dataset, factor: float) -> ds.Dataset:
    return ds.Dataset(data.name, data.X_train * factor, data.y_train, data.X_test * factor, data.y_test,
                      classes=data.classes, feature_names=data.feature_names)  # fmt: skip


@pytest.mark.usefixtures("one_blas_thread")
def test_tiny_features_train_to_the_unscaled_accuracy():
    iris = ds.load("iris", seed=0)
    reference = accuracy(iris)
    assert reference > 0.8  # chance is 1/3; the check below means something only if the reference learnt
    for factor in (1e-13, 1e-30, 1e-300):
        tiny = scaled(iris, factor)
        Z, Z_tiny = Preprocessor.fit(iris).transform(iris.X_train), Preprocessor.fit(tiny).transform(tiny.X_train)
        np.testing.assert_allclose(Z_tiny, Z, rtol=1e-9, atol=1e-12)
        assert accuracy(tiny) == reference, factor


def test_only_equal_values_are_constant():
    X = np.array([[0.0, 3.0, 1e-300, 1.0], [0.0, 3.0, 3e-300, 1.0 + 2.2e-16], [0.0, 3.0, 2e-300, 1.0]])
    y = np.array([0, 1, 0])
    pre = Preprocessor.fit(ds.Dataset("t", X, y, X, y, classes=["a", "b"]))
    spread = np.sqrt(2 / 3) * 1e-300  # population std of 1, 3, 2 (×1e-300), by hand
    assert pre.scale[:2] == [1.0, 1.0]  # all zero; all 3
    assert pre.scale[2] == pytest.approx(spread, rel=1e-12)
    assert pre.scale[3] == 1.0  # a spread of one rounding step of 1.0 is no signal
