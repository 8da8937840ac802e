"""MaxPool1D, AvgPool1D and GlobalAvgPool1D against torch.nn.functional, ties included, and their bad input."""

import itertools

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")
F = torch.nn.functional


def built(layer, in_shape, n_models=None):
    layer.build(in_shape, n_models)
    return layer


def torch_pool(fn, X, dZ, *args):
    Xt = torch.tensor(X, requires_grad=True)
    Zt = fn(Xt, *args)
    Zt.backward(torch.tensor(dZ))
    return Zt.detach().numpy(), Xt.grad.numpy()


def assert_close(mine, theirs, rtol=1e-10):
    assert mine.shape == theirs.shape
    assert np.abs(mine - theirs).max() <= rtol * np.abs(theirs).max()


GRID = list(itertools.product([2, 3, 4], [None, 1, 2, 3], [11, 12]))  # kernel, stride, length


@pytest.mark.parametrize("kernel, stride, length", GRID)
@pytest.mark.parametrize("ties", [False, True])
def test_maxpool_matches_pytorch_including_ties(kernel, stride, length, ties):
    rng = np.random.default_rng(kernel * 10 + length)
    X = rng.normal(size=(4, 3, length))
    if ties:  # few distinct values: most windows hold their maximum twice or more
        X = rng.integers(0, 3, size=X.shape).astype(np.float64)
    layer = built(cr.MaxPool1D(kernel, stride), (3, length))
    Z = layer.forward(X)
    dZ = rng.normal(size=Z.shape)
    Zt, dXt = torch_pool(F.max_pool1d, X, dZ, kernel, stride)
    assert_close(Z, Zt)
    assert_close(layer.backward(dZ), dXt)  # the gradient lands on the same element PyTorch chose


def test_maxpool_gives_a_tied_windows_gradient_to_its_first_maximum():
    layer = built(cr.MaxPool1D(3), (1, 6))
    X = np.array([[[1.0, 5.0, 5.0, 2.0, 2.0, 2.0]]])
    np.testing.assert_array_equal(layer.forward(X), [[[5.0, 2.0]]])
    np.testing.assert_array_equal(layer.backward(np.array([[[10.0, 20.0]]])), [[[0, 10, 0, 20, 0, 0]]])


@pytest.mark.parametrize("kernel, stride, length", GRID)
def test_avgpool_matches_pytorch(kernel, stride, length):
    rng = np.random.default_rng(kernel * 10 + length)
    X = rng.normal(size=(4, 3, length))
    layer = built(cr.AvgPool1D(kernel, stride), (3, length))
    Z = layer.forward(X)
    dZ = rng.normal(size=Z.shape)
    Zt, dXt = torch_pool(F.avg_pool1d, X, dZ, kernel, stride)
    assert_close(Z, Zt)
    assert_close(layer.backward(dZ), dXt)


@pytest.mark.parametrize("length", [1, 7, 8])
def test_global_avgpool_matches_pytorch(length):
    rng = np.random.default_rng(length)
    X = rng.normal(size=(4, 3, length))
    layer = built(cr.GlobalAvgPool1D(), (3, length))
    Z = layer.forward(X)
    assert layer.output_shape((3, length)) == (3,)
    dZ = rng.normal(size=Z.shape)
    Zt, dXt = torch_pool(lambda t: F.adaptive_avg_pool1d(t, 1).flatten(1), X, dZ)
    assert_close(Z, Zt)
    assert_close(layer.backward(dZ), dXt)


@pytest.mark.parametrize("layer", [cr.MaxPool1D(2), cr.AvgPool1D(3, 1), cr.GlobalAvgPool1D()], ids=repr)
def test_float32_stays_float32_and_a_model_axis_pools_each_member(layer):
    rng = np.random.default_rng(5)
    built(layer, (2, 9), n_models=3)
    X = rng.normal(size=(3, 4, 2, 9)).astype(np.float32)
    Z = layer.forward(X)
    dX = layer.backward(rng.normal(size=Z.shape).astype(np.float32))
    assert Z.dtype == dX.dtype == np.float32 and dX.shape == X.shape
    single = built(type(layer).from_config(layer.get_config()), (2, 9))
    for m in range(3):
        np.testing.assert_array_equal(Z[m], single.forward(X[m]))


@pytest.mark.parametrize("cls", [cr.MaxPool1D, cr.AvgPool1D])
def test_pool_bad_input(cls):
    with pytest.raises(ValueError, match="kernel_size must be a positive integer; received kernel_size=0"):
        cls(0)
    with pytest.raises(ValueError, match="stride must be a positive integer or None; received stride=-1"):
        cls(2, -1)
    with pytest.raises(ValueError, match=rf"{cls.__name__}\(5\) gets signals of length 4 but its window spans 5"):
        cls(5).output_shape((3, 4))
    layer = built(cls(2), (3, 8))
    with pytest.raises(ValueError, match=r"got input of shape \(5, 8\); it expects \(n_samples, channels, length\)"):
        layer.forward(np.ones((5, 8)))
    assert repr(cls(3, 1)) == f"{cls.__name__}(3, stride=1)" and repr(cls(3)) == f"{cls.__name__}(3)"
    config = cls(3, 2).get_config()
    assert cr.Layer.registry[cls.__name__].from_config(config).get_config() == config


def test_explain_shows_which_element_won_and_the_average_share():
    from chainrule.layers.terms import Role, the

    maxpool = built(cr.MaxPool1D(3), (1, 6))
    maxpool.forward(np.array([[[1.0, 5.0, 5.0, 2.0, 2.0, 2.0]]]))
    forward = maxpool.forward_terms()
    np.testing.assert_array_equal(the(forward, Role.WINNER).array, [[[1, 0]]])  # the first of tied maxima
    backward = maxpool.backward_terms(np.array([[[10.0, 20.0]]]))
    np.testing.assert_array_equal(the(backward, Role.INPUT_GRADIENT).array, [[[0, 10, 0, 20, 0, 0]]])
    avgpool = built(cr.AvgPool1D(2, stride=1), (1, 3))
    avgpool.forward(np.array([[[1.0, 2.0, 4.0]]]))
    np.testing.assert_array_equal(the(avgpool.forward_terms(), Role.OUTPUT).array, [[[1.5, 3.0]]])
    terms = avgpool.backward_terms(np.array([[[2.0, 4.0]]]))
    np.testing.assert_array_equal(the(terms, Role.INTERMEDIATE_GRADIENT).array, [[[1.0, 2.0]]])  # each window's share
    # x[1] sits in both windows: 2/2 + 4/2
    np.testing.assert_array_equal(the(terms, Role.INPUT_GRADIENT).array, [[[1, 3, 2]]])
