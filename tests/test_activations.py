"""Activations: each one against a PyTorch twin and exact references, then in every place that reads the registry.

Tests are parametrised over ``Activation.registry``, so an activation added there is checked here without a
new line: it fails until it has a PyTorch twin (``torch_twin``). Expected numbers come from PyTorch, from
``math.erf``/``math.erfc``, from formulas evaluated here with hundreds of digits (mpmath), or from hand
formulas; never from chainrule's own output.
"""

import contextlib
import math
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule._special import erf as _erf
from chainrule._special import erfc as _erfc
from chainrule.cli import main
from chainrule.layers.activations import Activation

CLASSES = sorted(set(Activation.registry.values()), key=lambda cls: cls.name)  # an alias names its class again
NAMES = [cls.name for cls in CLASSES]
ALL_NAMES = sorted(Activation.registry)  # aliases included: every name a user may type
EPS = np.finfo(np.float64).eps

# ±0, subnormal and tiny values and the neighbourhood of the kink at 0; near the minima of GELU (−0.7518)
# and SiLU (−1.2785), where f' changes sign; around Softplus's threshold (20); far tails; |z| up to 1e4
SPECIAL = [
    0.0, -0.0, 5e-324, -5e-324, 1e-300, -1e-300, 1e-12, -1e-12, 1e-8, -1e-8, 1e-3, -1e-3,
    -0.7518, -0.75179, -1.2785, -1.27846, 19.999, 20.0, 20.001, 20.5, 21.0,
    3.0, -3.0, 5.0, -5.0, 8.0, -8.0, 10.0, -10.0, 20.0, -20.0, 30.0, -30.0, 40.0, -40.0,
    709.0, -709.0, 745.0, -745.0, 1e3, -1e3, 1e4, -1e4,
]  # fmt: skip


def inputs(width: int = 4) -> np.ndarray:
    """The values above, a grid over [−6, 6] and random ones, as rows of ``width``."""
    rng = np.random.default_rng(0)
    z = np.concatenate([SPECIAL, np.linspace(-6, 6, 121), rng.normal(scale=3, size=64)])
    z = np.concatenate([z, rng.normal(size=-len(z) % width)])
    return z.reshape(-1, width)


@contextlib.contextmanager
def strict():
    """Any warning, overflow, division by zero or invalid operation is an error (underflow to 0 is right)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            yield


def torch_twin(torch, layer: Activation):
    """The PyTorch module computing what ``layer`` computes."""
    nn = torch.nn
    twins = {
        "elu": lambda: nn.ELU(layer.alpha),
        "gelu": nn.GELU,
        "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
        "identity": nn.Identity,
        "leaky_relu": lambda: nn.LeakyReLU(layer.alpha),
        "relu": nn.ReLU,
        "sigmoid": nn.Sigmoid,
        "silu": nn.SiLU,
        "softmax": lambda: nn.Softmax(dim=1),
        "softplus": nn.Softplus,
        "tanh": nn.Tanh,
    }
    if layer.name not in twins:
        pytest.fail(f"{type(layer).__name__} ({layer.name!r}) has no PyTorch twin: add one to torch_twin")
    return twins[layer.name]()


def assert_close(mine, theirs, atol, what):
    """|mine − theirs| ≤ 1e-10·|theirs| + atol, elementwise, reporting mine vs theirs where it fails."""
    mine, theirs = np.asarray(mine), np.asarray(theirs)
    assert mine.shape == theirs.shape, f"{what}: shape {mine.shape} vs {theirs.shape}"
    bad = ~(np.abs(mine - theirs) <= 1e-10 * np.abs(theirs) + atol)
    if bad.any():
        i = np.argwhere(bad)[:5]
        rows = "; ".join(
            f"at {tuple(int(v) for v in j)}: mine {mine[tuple(j)]!r} vs theirs {theirs[tuple(j)]!r}" for j in i
        )
        pytest.fail(f"{what}: {int(bad.sum())} element(s) differ; {rows}")


def layers_under_test():
    """Every registered activation with its default arguments, and those with an argument set otherwise."""
    return [cls() for cls in CLASSES] + [cr.ELU(0.3), cr.LeakyReLU(0.2)]


LAYER_IDS = [repr(layer) for layer in layers_under_test()]


# ------------------------------------------------------------------ forward and backward against PyTorch
@pytest.mark.parametrize("index", range(len(LAYER_IDS)), ids=LAYER_IDS)
def test_forward_and_backward_match_torch(index):
    """f and dA ∘ f' against PyTorch's autograd, in float64, with a random upstream gradient.

    Besides 1e-10 relative, each element is allowed the rounding of PyTorch's own formula: it takes GELU's
    Φ(z) as (1 + erf(z/√2))/2 and the tanh form's as (1 + tanh u)/2, which keep only an absolute error of
    about ε where Φ is tiny (below z ≈ −8 they give 0), so there the allowance is ε-sized: 16ε·|z| for f,
    16ε·(1 + |z|)·|dA| for the gradient. Where that allowance matters, the tail test below checks chainrule
    against exact values instead.
    """
    torch = pytest.importorskip("torch")
    layer = layers_under_test()[index]
    Z = inputs()
    dA = np.random.default_rng(1).normal(size=Z.shape)  # random upstream gradient, not all ones
    with strict():
        A = layer.forward(Z)
        dZ = layer.backward(dA)
    Zt = torch.tensor(Z, dtype=torch.float64, requires_grad=True)
    At = torch_twin(torch, layer)(Zt)
    At.backward(torch.tensor(dA))
    assert A.dtype == dZ.dtype == np.float64
    assert_close(A, At.detach().numpy(), 16 * EPS * np.abs(Z), f"{layer!r} forward")
    assert_close(dZ, Zt.grad.numpy(), 16 * EPS * (1 + np.abs(Z)) * np.abs(dA), f"{layer!r} backward")


def exact_references(name: str, alpha: float = 1.0):
    """f and f' of the smooth units, written from their definitions, for arithmetic with many digits (mpmath)."""
    mp = pytest.importorskip("mpmath").mp
    k = mp.mpf(0.044715)

    def u(z):
        return mp.sqrt(2 / mp.pi) * (z + k * z**3)

    def s(z):
        return 1 / (1 + mp.exp(-z))

    return {
        "gelu": (lambda z: z * mp.ncdf(z), lambda z: mp.ncdf(z) + z * mp.npdf(z)),
        "gelu_tanh": (
            lambda z: z * (1 + mp.tanh(u(z))) / 2,
            lambda z: (1 + mp.tanh(u(z))) / 2 + z / 2 * mp.sech(u(z)) ** 2 * mp.sqrt(2 / mp.pi) * (1 + 3 * k * z**2),
        ),
        "silu": (lambda z: z * s(z), lambda z: s(z) * (1 + z * (1 - s(z)))),
        "softplus": (lambda z: z if z > 20 else mp.log1p(mp.exp(z)), lambda z: 1 if z > 20 else s(z)),
        "elu": (lambda z: z if z > 0 else alpha * mp.expm1(z), lambda z: 1 if z > 0 else alpha * mp.exp(z)),
    }[name]


TAIL = [-1e4, -1e3, -745.0, -700.0, -100.0, -40.0, -30.0, -25.0, -20.0, -15.0, -10.0, -8.0, -5.0, -3.0,
        -1e-8, -1e-300, 1e-300, 1e-8, 3.0, 5.0, 8.0, 15.0, 19.5, 25.0, 40.0, 100.0, 1e3, 1e4]  # fmt: skip


@pytest.mark.parametrize("name", ["elu", "gelu", "gelu_tanh", "silu", "softplus"])
def test_smooth_units_keep_their_relative_accuracy_in_the_tails(name):
    """Where PyTorch's own formulas cancel (GELU far below 0), chainrule's still agree with exact values.

    The bound is 16ε relative; the tanh form gets 1000ε, since its e^(2u) turns the rounding of u into
    |2u|·ε (up to 600ε at z = −20). Where the exact value is subnormal or 0: a few subnormal units times |z|.
    """
    mp = pytest.importorskip("mpmath").mp
    f, fprime = exact_references(name)
    layer = cr.get_activation(name)
    Z = np.array(TAIL).reshape(-1, 1)
    with strict():
        A = layer.forward(Z).ravel()
        dZ = layer.backward(np.ones_like(Z)).ravel()
    rtol = (1000 if name == "gelu_tanh" else 16) * EPS
    with mp.workdps(600):  # enough digits that 1 + tanh u does not cancel even at z = −25
        for z, a, d in zip(TAIL, A, dZ):
            for what, mine, exact in (("f", a, float(f(mp.mpf(z)))), ("f'", d, float(fprime(mp.mpf(z))))):
                subnormal = 4 * 5e-324 * max(1.0, abs(z))  # a factor rounded to a subnormal, times z
                tol = rtol * abs(exact) if abs(exact) >= np.finfo(float).tiny else subnormal
                assert abs(mine - exact) <= tol, f"{name} {what}({z}): mine {mine!r} vs exact {exact!r}"


# ------------------------------------------------------------------ the private erf
ERF_X = np.concatenate(
    [
        np.linspace(-30, 30, 60001),
        np.random.default_rng(2).uniform(-6, 6, 20000),
        np.geomspace(1e-300, 1, 601),
        -np.geomspace(1e-300, 1, 601),
        [0.0, -0.0, 5e-324, -5e-324, 0.5, -0.5, np.nextafter(0.5, 1), 4.0, np.nextafter(4.0, 5), -4.0, 26.5, 27.3],
    ]
)


def test_erf_matches_math_erf_to_1e_15():
    ref = np.array([math.erf(x) for x in ERF_X])
    with strict():
        got = _erf(ERF_X)
    rel = np.abs(got - ref) / np.maximum(np.abs(ref), np.finfo(float).tiny)
    worst = int(np.argmax(rel))
    assert rel[worst] <= 1e-15, f"erf({ERF_X[worst]!r}): mine {got[worst]!r} vs math.erf {ref[worst]!r}"
    assert np.array_equal(np.signbit(got[ERF_X == 0]), np.signbit(ERF_X[ERF_X == 0]))  # erf(−0) = −0


def test_erfc_matches_math_erfc_into_the_tail():
    """Relative 2e-15 down to the smallest normal float (erfc(26.5) ≈ 5e-308); a few subnormal units below."""
    x = np.concatenate([ERF_X, np.linspace(26, 28, 2001), [1e10, -1e10, 1e308, -1e308]])
    ref = np.array([math.erfc(v) for v in x])
    with strict():
        got = _erfc(x)
    normal = ref >= np.finfo(float).tiny
    rel = np.abs(got - ref)[normal] / ref[normal]
    worst = int(np.argmax(rel))
    assert rel[worst] <= 2e-15, f"erfc({x[normal][worst]!r}): mine {got[normal][worst]!r} vs {ref[normal][worst]!r}"
    assert np.abs(got - ref)[~normal].max() <= 4 * 5e-324


def test_erf_keeps_float32():
    x = np.linspace(-5, 5, 101, dtype=np.float32)
    with strict():
        got, gotc = _erf(x), _erfc(x)
    assert got.dtype == gotc.dtype == np.float32
    np.testing.assert_allclose(got, [math.erf(v) for v in x.astype(float)], rtol=0, atol=4e-7)
    np.testing.assert_allclose(gotc, [math.erfc(v) for v in x.astype(float)], rtol=1e-5, atol=0)


# ------------------------------------------------------------------ numerics and hand values
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_finite_and_warning_free_up_to_1e4(name, dtype):
    Z = np.array([[-1e4, -1e3, -100.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 100.0, 1e3, 1e4]], dtype=dtype).T
    dA = np.random.default_rng(3).normal(size=Z.shape).astype(dtype)
    layer = cr.get_activation(name)
    with strict():
        A = layer.forward(np.hstack([Z, -Z]))  # two columns: a row for Softmax, too
        dZ = layer.backward(np.hstack([dA, dA]))
    assert A.dtype == dZ.dtype == dtype
    assert np.isfinite(A).all() and np.isfinite(dZ).all()


def test_elu_alpha_by_hand_and_its_derivative_at_zero_is_alpha():
    layer = cr.ELU(0.5)
    Z = np.array([[-2.0, -1e-9, -0.0, 0.0, 1e-9, 3.0]])
    dA = np.array([[0.7, -1.3, 2.0, 0.9, -0.4, 1.1]])
    with strict():
        A = layer.forward(Z)
        dZ = layer.backward(dA)
    np.testing.assert_allclose(A, [[0.5 * math.expm1(-2), 0.5 * math.expm1(-1e-9), 0, 0, 1e-9, 3]], rtol=1e-15)
    expected = [0.7 * 0.5 * math.exp(-2), -1.3 * 0.5 * math.exp(-1e-9), 2.0 * 0.5, 0.9 * 0.5, -0.4, 1.1]
    np.testing.assert_allclose(dZ, [expected], rtol=1e-15)


def test_gelu_by_hand():
    """GELU(z) = z·Φ(z), Φ(z) = erfc(−z/√2)/2, with math.erfc; and the tanh form from its formula."""
    Z = np.array([[-3.0, -1.0, 0.5, 2.0]])
    with strict():
        gelu = cr.GELU().forward(Z).ravel()
        tanh_form = cr.GELUTanh().forward(Z).ravel()
    for z, g, t in zip(Z.ravel(), gelu, tanh_form):
        assert g == pytest.approx(z * math.erfc(-z / math.sqrt(2)) / 2, rel=1e-15)
        u = math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)
        assert t == pytest.approx(z * (1 + math.tanh(u)) / 2, rel=1e-14)


def test_names_aliases_and_typos():
    assert type(cr.get_activation("swish")) is cr.SiLU
    assert type(cr.get_activation("GELU-tanh")) is cr.GELUTanh
    with pytest.raises(ValueError, match=r"Did you mean 'gelu_tanh'\?.*Valid names:.*softplus"):
        cr.get_activation("gelu_tanhh")


@pytest.mark.parametrize("alpha", [-0.1, float("nan"), float("inf"), "1", True, None])
def test_elu_refuses_a_bad_alpha(alpha):
    with pytest.raises(ValueError, match=r"ELU alpha.*received"):
        cr.ELU(alpha)
    with pytest.raises(ValueError, match="ELU alpha"):
        cr.ELU.from_config({"type": "ELU", "alpha": alpha})


def test_elu_alpha_round_trips_through_its_config():
    layer = cr.ELU.from_config(cr.ELU(0.3).get_config())
    assert isinstance(layer, cr.ELU) and layer.alpha == 0.3 and repr(layer) == "ELU(alpha=0.3)"
    assert cr.ELU.from_config({"type": "ELU"}).alpha == 1.0


# ------------------------------------------------------------------ facts on the classes
@pytest.mark.parametrize("cls", CLASSES, ids=NAMES)
def test_docstring_shows_the_formula_and_its_derivative(cls):
    assert cls.formula and cls.derivative and cls.symbol_latex and cls.derivative_latex
    assert f"f(z) = {cls.formula}" in cls.__doc__
    assert f"f'(z) = {cls.derivative}" in cls.__doc__
    for tex in (cls.symbol_latex, cls.derivative_latex):
        depth = 0
        for ch in tex:
            depth += {"{": 1, "}": -1}.get(ch, 0)
            assert depth >= 0, tex
        assert depth == 0 and tex.count(r"\left") == tex.count(r"\right"), tex


def test_the_relu_like_units_draw_he_uniform():
    assert {cls.name for cls in CLASSES if cls.init == "he_uniform"} >= {"elu", "gelu", "gelu_tanh", "silu", "softplus"}


@pytest.mark.parametrize("name", NAMES)
def test_the_dense_layer_before_draws_from_the_initialiser_the_activation_names(name):
    """He: U(±√(6/fan_in)); Glorot: U(±√(6/(fan_in + fan_out))). 5,000 draws reach within 5% of the bound."""
    model = cr.Sequential(cr.Dense(100, 50), cr.get_activation(name), seed=0)
    bound = {"he_uniform": math.sqrt(6 / 100), "glorot_uniform": math.sqrt(6 / 150)}[type(model.layers[1]).init]
    top = np.abs(model.layers[0].params["W"]).max()
    assert 0.95 * bound < top <= bound


# ------------------------------------------------------------------ in a network
def small_model(name: str, seed: int = 0) -> cr.Sequential:
    return cr.Sequential(cr.Dense(3, 4), cr.get_activation(name), cr.Dense(4, 2), seed=seed)


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_of_a_small_network(name):
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    result = cr.gradcheck(small_model(name), X, Y, "mse")
    assert result.passed, str(result)


@pytest.mark.parametrize("name", NAMES)
def test_fit_reduces_the_loss(name):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(32, 3))
    Y = np.column_stack([np.sin(X[:, 0]) + X[:, 1], X[:, 2] ** 2])
    model = small_model(name)
    before = cr.MSE().forward(model.predict(X), Y)
    history = model.fit(X, Y, loss="mse", optimizer=cr.Adam(lr=0.02), epochs=60)
    assert history["loss"][-1] < 0.8 * history["loss"][0] and cr.MSE().forward(model.predict(X), Y) < before


@pytest.mark.parametrize("index", range(len(LAYER_IDS)), ids=LAYER_IDS)
def test_save_and_load_predict_bit_identically(index, tmp_path):
    layer = layers_under_test()[index]
    model = cr.Sequential(cr.Dense(3, 4), layer, cr.Dense(4, 2), seed=6)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = cr.load(path)
    X = np.random.default_rng(6).normal(size=(7, 3)) * 3
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert type(loaded.layers[1]) is type(layer)
    assert loaded.layers[1].get_config() == layer.get_config()


@pytest.mark.parametrize("index", range(len(LAYER_IDS)), ids=LAYER_IDS)
def test_two_hidden_layer_network_matches_torch_gradients_and_one_sgd_step(index):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    make = layers_under_test
    rng = np.random.default_rng(7 + index)
    model = cr.Sequential(cr.Dense(3, 5), make()[index], cr.Dense(5, 4), make()[index], cr.Dense(4, 2), seed=0)
    weights = [rng.normal(size=w.shape) * 0.8 for w in model.get_weights()]
    model.set_weights(weights)
    X, Y = rng.normal(size=(8, 3)) * 1.5, rng.normal(size=(8, 2))
    twin = nn.Sequential(
        nn.Linear(3, 5), torch_twin(torch, model.layers[1]), nn.Linear(5, 4), torch_twin(torch, model.layers[3]),
        nn.Linear(4, 2),
    ).double()  # fmt: skip
    linears = [twin[0], twin[2], twin[4]]
    with torch.no_grad():
        for i, lin in enumerate(linears):
            lin.weight.copy_(torch.tensor(weights[2 * i].T))  # torch keeps W as (out, in)
            lin.bias.copy_(torch.tensor(weights[2 * i + 1]))

    loss = cr.MSE()
    loss.forward(model.forward(X), Y)
    d = loss.backward()
    for layer in reversed(model.layers):
        d = layer.backward(d)
    grads = [g.copy() for layer in model.layers for g in layer.grads.values()]
    Xt = torch.tensor(X, requires_grad=True)
    nn.functional.mse_loss(twin(Xt), torch.tensor(Y)).backward()
    theirs = [t.numpy() for lin in linears for t in (lin.weight.grad.T, lin.bias.grad)]
    for i, (g, t) in enumerate(zip(grads, theirs)):
        assert_close(g, t, 1e-13 * np.abs(t).max(), f"{model!r}: gradient of parameter {i}")
    assert_close(d, Xt.grad.numpy(), 1e-13 * np.abs(Xt.grad.numpy()).max(), f"{model!r}: input gradient")

    model.fit(X, Y, loss="mse", optimizer=cr.SGD(lr=0.1), epochs=1)
    with torch.no_grad():
        for p in twin.parameters():
            p -= 0.1 * p.grad
    after = [t.detach().numpy() for lin in linears for t in (lin.weight.T, lin.bias)]
    for i, (mine, t) in enumerate(zip(model.get_weights(), after)):
        assert_close(mine, t, 1e-13 * np.abs(t).max(), f"{model!r}: parameter {i} after one SGD step")


# ------------------------------------------------------------------ everything that reads the registry
@pytest.mark.parametrize("name", ALL_NAMES)
def test_command_line_trains_with_it(name, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "xor", "--activation", name, "--epochs", "3", "--out", str(out), "--quiet", "--no-plots"])
    assert code == 0, capsys.readouterr().err
    model = cr.load(out / "model.npz")
    assert type(model.layers[1]) is Activation.registry[name]


@pytest.mark.parametrize("cls", CLASSES, ids=NAMES)
def test_explain_shows_the_derivative_and_draws_both_diagrams(cls, tmp_path):
    pytest.importorskip("matplotlib")
    model = cr.mlp([2, 3, 1], cls.name, seed=0)
    X = np.array([[0.5, -1.0], [1.5, 0.25], [-0.3, 0.8]])
    ex = cr.explain(model, X, [[0.2], [-0.4], [0.9]], "mse", lr=0.1)
    assert f"activation {cls.name}" in ex.to_text()
    if cls.elementwise:
        words = " ".join  # the text wraps long lines: compare word by word
        assert words(f"f'(z(1)) = {cls.derivative}".split()) in words(ex.to_text().split())
        assert cls.derivative_latex in ex.to_markdown()
    assert cls.symbol_latex in ex.to_markdown()
    paths = ex.save_diagrams(tmp_path)
    assert [p.name for p in paths] == ["forward.png", "backward.png"]
    assert all(p.stat().st_size > 0 for p in paths)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_sklearn_classifier_fits_with_it(name):
    pytest.importorskip("sklearn")
    from sklearn.datasets import make_classification
    from sklearn.exceptions import ConvergenceWarning

    from chainrule.sklearn import MLPClassifier

    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(4,), activation=name, max_iter=5, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (40, 2) and np.allclose(proba.sum(axis=1), 1)
    assert set(clf.predict(X)) <= {0, 1}
