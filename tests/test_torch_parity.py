"""Gradients and optimiser trajectories against PyTorch twins with the same float64 weights and data."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")
nn = torch.nn



@pytest.fixture(autouse=True)
def float64_default():
    """PyTorch twins are built in float64, and only inside this file's tests: the default goes back after each."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "identity", "softmax", "elu", "gelu", "gelu_tanh", "silu",
               "softplus"]  # fmt: skip
SEEDS = range(25)


def cr_activation(name, alpha):
    return cr.LeakyReLU(alpha) if name == "leaky_relu" else cr.get_activation(name)


def torch_activation(name, alpha):
    return {
        "sigmoid": nn.Sigmoid(),
        "tanh": nn.Tanh(),
        "relu": nn.ReLU(),
        "leaky_relu": nn.LeakyReLU(alpha),
        "identity": nn.Identity(),
        "softmax": nn.Softmax(dim=1),
        "elu": nn.ELU(),
        "gelu": nn.GELU(),
        "gelu_tanh": nn.GELU(approximate="tanh"),
        "silu": nn.SiLU(),
        "softplus": nn.Softplus(),
    }[name]


def sse_torch(reduction):
    def f(out, y):
        total = 0.5 * ((out - y) ** 2).sum()
        return total if reduction == "sum" else total / out.shape[0]

    return f


def cce_torch(reduction):
    def f(out, y):
        per_sample = -(y * torch.log(out)).sum(dim=1) if y.ndim == 2 else -torch.log(out[torch.arange(len(y)), y])
        return per_sample.sum() if reduction == "sum" else per_sample.mean()

    return f


# loss -> (chainrule class, torch loss factory, forced final activation or None, target kind, min outputs)
LOSSES = {
    "sse": (cr.SSE, sse_torch, None, "real", 1),
    "mse": (cr.MSE, lambda r: nn.MSELoss(reduction=r), None, "real", 1),
    "bce": (cr.BinaryCrossEntropy, lambda r: nn.BCELoss(reduction=r), "sigmoid", "binary", 1),
    "bce_logits": (cr.BCEWithLogits, lambda r: nn.BCEWithLogitsLoss(reduction=r), "logits", "binary", 1),
    "sce_labels": (cr.SoftmaxCrossEntropy, lambda r: nn.CrossEntropyLoss(reduction=r), "logits", "labels", 2),
    "sce_onehot": (cr.SoftmaxCrossEntropy, lambda r: nn.CrossEntropyLoss(reduction=r), "logits", "onehot", 2),
    "sce_soft": (cr.SoftmaxCrossEntropy, lambda r: nn.CrossEntropyLoss(reduction=r), "logits", "soft", 2),
    "sce_unnormalised": (cr.SoftmaxCrossEntropy, lambda r: nn.CrossEntropyLoss(reduction=r), "logits", "positive", 2),
    "cce_labels": (cr.CategoricalCrossEntropy, cce_torch, "softmax", "labels", 2),
    "cce_onehot": (cr.CategoricalCrossEntropy, cce_torch, "softmax", "onehot", 2),
}


def random_case(seed, loss_key):
    """A random architecture, weights, inputs and targets for ``loss_key``."""
    rng = np.random.default_rng(seed)
    _, _, final, target, min_out = LOSSES[loss_key]
    depth = int(rng.integers(1, 4))
    widths = [int(w) for w in rng.integers(1, 7, size=depth + 1)]
    widths[-1] = max(widths[-1], min_out)
    acts = [str(rng.choice(ACTIVATIONS)) for _ in range(depth)]
    if final == "logits":
        acts[-1] = str(rng.choice(["identity", "tanh", "relu", "leaky_relu"]))
    elif final is not None:
        acts[-1] = final
    alpha = float(rng.uniform(0.01, 0.5))
    n = int(rng.integers(1, 9))
    X = rng.normal(size=(n, widths[0])) * 1.5
    k = widths[-1]
    if target == "real":
        Y = rng.normal(size=(n, k))
    elif target == "binary":
        Y = rng.uniform(size=(n, k))  # soft targets exercise the general formula
        Y[: n // 2] = np.round(Y[: n // 2])
    elif target == "labels":
        Y = rng.integers(0, k, size=n)
    elif target == "onehot":
        Y = np.eye(k)[rng.integers(0, k, size=n)]
    elif target == "positive":
        Y = rng.uniform(0, 2, size=(n, k))  # rows that do not sum to 1
    else:
        Y = rng.dirichlet(np.ones(k), size=n)
    layers = []
    for i in range(depth):
        layers += [cr.Dense(widths[i], widths[i + 1]), cr_activation(acts[i], alpha)]
    model = cr.Sequential(*layers, seed=seed)
    weights = [rng.normal(size=w.shape) * 0.8 for w in model.get_weights()]
    model.set_weights(weights)
    twin = []
    for i in range(depth):
        lin = nn.Linear(widths[i], widths[i + 1])
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(weights[2 * i].T))  # torch keeps W as (out, in)
            lin.bias.copy_(torch.tensor(weights[2 * i + 1]))
        twin += [lin, torch_activation(acts[i], alpha)]
    return model, nn.Sequential(*twin), X, Y, (depth, widths, acts)


def torch_targets(Y):
    return torch.tensor(Y) if Y.dtype.kind == "f" else torch.tensor(Y, dtype=torch.long)


def assert_close(mine, theirs, what, rtol=1e-10):
    theirs = np.asarray(theirs)
    scale = max(float(np.max(np.abs(theirs), initial=0.0)), 1e-300)
    np.testing.assert_allclose(
        mine, theirs, rtol=rtol, atol=1e-13 * scale, err_msg=f"{what}: mine {mine!r} vs theirs {theirs!r}"
    )


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("loss_key", list(LOSSES))
def test_gradients_match_torch(loss_key, reduction):
    cls, torch_loss, *_ = LOSSES[loss_key]
    for seed in SEEDS:
        model, twin, X, Y, arch = random_case(seed, loss_key)
        loss = cls(reduction=reduction)
        out = model.forward(X)
        value = loss.forward(out, Y)
        model.backward(loss.backward())
        grads = [g.copy() for layer in model.layers for g in layer.grads.values()]
        # the input gradient: every layer's backward by hand, down to X
        d = loss.backward()
        for layer in reversed(model.layers):
            d = layer.backward(d)

        Xt = torch.tensor(X, requires_grad=True)
        out_t = twin(Xt)
        value_t = torch_loss(reduction)(out_t, torch_targets(Y))
        value_t.backward()
        where = f"seed {seed}, {loss_key}/{reduction}, arch {arch}"
        assert_close(out, out_t.detach().numpy(), f"output ({where})")
        assert_close(value, value_t.item(), f"loss ({where})")
        theirs = [t for lin in twin if isinstance(lin, nn.Linear) for t in (lin.weight.grad.T, lin.bias.grad)]
        for i, (g, t) in enumerate(zip(grads, theirs)):
            assert_close(g, t.numpy(), f"grad of parameter {i} ({where})")
        assert_close(d, Xt.grad.numpy(), f"input grad ({where})")


PER_ELEMENT = {"mse", "bce", "bce_logits"}  # "mean" divides by every element; the others by samples


def per_sample_torch(loss_key, out, y):
    """Each sample's summed loss, from PyTorch's unreduced losses."""
    if loss_key == "sse":
        return 0.5 * ((out - y) ** 2).sum(dim=1)
    if loss_key.startswith("cce"):
        return -(y * torch.log(out)).sum(dim=1) if y.ndim == 2 else -torch.log(out[torch.arange(len(y)), y])
    factory = LOSSES[loss_key][1]
    unreduced = factory("none")(out, y)
    return unreduced.sum(dim=1) if unreduced.ndim == 2 else unreduced


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("loss_key", list(LOSSES))
def test_sample_weight_matches_torch_weighted_reduction(loss_key, reduction):
    cls = LOSSES[loss_key][0]
    for seed in range(8):
        model, twin, X, Y, arch = random_case(seed, loss_key)
        w = np.random.default_rng(seed).uniform(0.0, 2.0, size=len(X))
        w[0] = 0.5  # a positive sum even for one sample
        loss = cls(reduction=reduction)
        out = model.forward(X)
        value = loss.forward(out, Y, sample_weight=w)
        model.backward(loss.backward())
        grads = [g.copy() for layer in model.layers for g in layer.grads.values()]

        out_t = twin(torch.tensor(X))
        wt = torch.tensor(w)
        total = (per_sample_torch(loss_key, out_t, torch_targets(Y)) * wt).sum()
        if reduction == "mean":
            total = total / (wt.sum() * (out_t.shape[1] if loss_key in PER_ELEMENT else 1))
        total.backward()
        where = f"seed {seed}, weighted {loss_key}/{reduction}, arch {arch}"
        assert_close(value, total.item(), f"loss ({where})")
        theirs = [t for lin in twin if isinstance(lin, nn.Linear) for t in (lin.weight.grad.T, lin.bias.grad)]
        for i, (g, t) in enumerate(zip(grads, theirs)):
            assert_close(g, t.numpy(), f"grad of parameter {i} ({where})")


OPTIMIZERS = {
    "sgd": (lambda: cr.SGD(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "momentum": (lambda: cr.SGD(lr=0.05, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "nesterov": (
        lambda: cr.SGD(lr=0.05, momentum=0.8, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
    ),
    "sgd_wd": (
        lambda: cr.SGD(lr=0.1, momentum=0.5, weight_decay=0.01),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5, weight_decay=0.01),
    ),
    "adam": (
        lambda: cr.Adam(lr=0.01, beta_1=0.8, beta_2=0.95, eps=1e-7),
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.95), eps=1e-7),
    ),
    "adam_wd": (
        lambda: cr.Adam(lr=0.01, weight_decay=0.05),
        lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.05),
    ),
    "rmsprop": (
        lambda: cr.RMSProp(lr=0.01, rho=0.9, eps=1e-6),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-6),
    ),
    "rmsprop_wd": (
        lambda: cr.RMSProp(lr=0.005, weight_decay=0.1),
        lambda p: torch.optim.RMSprop(p, lr=0.005, alpha=0.99, eps=1e-8, weight_decay=0.1),
    ),
    "sgd_step_decay": (
        lambda: cr.SGD(lr=cr.StepDecay(0.2, step_size=3, gamma=0.5)),
        lambda p: torch.optim.SGD(p, lr=0.2),
    ),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_trajectory_matches_torch(name):
    make_mine, make_theirs = OPTIMIZERS[name]
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    model = cr.Sequential(cr.Dense(3, 5), cr.Tanh(), cr.Dense(5, 2), seed=1)
    W1, b1, W2, b2 = (rng.normal(size=w.shape) for w in model.get_weights())
    model.set_weights([W1, b1, W2, b2])
    twin = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    with torch.no_grad():
        for lin, W, b in ((twin[0], W1, b1), (twin[2], W2, b2)):
            lin.weight.copy_(torch.tensor(W.T))
            lin.bias.copy_(torch.tensor(b))
    opt_t = make_theirs(twin.parameters())
    sched = torch.optim.lr_scheduler.StepLR(opt_t, step_size=3, gamma=0.5) if "decay" in name else None
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    for _ in range(10):
        opt_t.zero_grad()
        nn.functional.mse_loss(twin(Xt), Yt).backward()
        opt_t.step()
        if sched is not None:
            sched.step()
    model.fit(X, Y, loss="mse", optimizer=make_mine(), epochs=10)
    theirs = [t.detach().numpy() for lin in (twin[0], twin[2]) for t in (lin.weight.T, lin.bias)]
    for i, (mine, t) in enumerate(zip(model.get_weights(), theirs)):
        assert_close(mine, t, f"{name}: parameter {i} after 10 steps")
