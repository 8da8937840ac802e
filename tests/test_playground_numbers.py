"""The numbers a paused tab shows are the ones it trains with: the gradient check passes on 21 paused states and
fails on a corrupted gradient; the optimiser's update written out equals PyTorch's Adam, SGD and RMSprop; L1 and
L2 are objective terms (the loss and gradient include them); regression, the 1.75-turn spiral and weights edited
by hand, against hand calculations.
"""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.layers.activations import Tanh
from chainrule.playground.data import BUMPS, generate
from chainrule.playground.session import Session
from chainrule.playground.settings import parse

PAUSES = (0, 1, 10, 100, 500, 1000, 5000)


@pytest.mark.parametrize("dataset", ["spirals", "circles", "xor"])
def test_the_gradient_check_passes_on_paused_states_from_epoch_0_to_5000(dataset):
    session = Session(parse({"dataset": dataset, "noise": "0.1", "seed": "3", "batch_size": "40"}))
    verdicts = {}
    for epoch in PAUSES:
        while session.epoch < epoch:
            session.step()
        check = session.explain_data()["step"]["gradcheck"]
        verdicts[epoch] = (check["passed"], check["text"])
    assert all(passed for passed, _ in verdicts.values()), verdicts


def test_a_corrupted_gradient_fails_the_check(monkeypatch):
    session = Session(parse({"dataset": "spirals", "seed": "3"}))
    for _ in range(20):
        session.step()
    assert session.explain_data()["step"]["gradcheck"]["passed"]
    chain = Tanh.chain
    monkeypatch.setattr(Tanh, "chain", lambda self, dA, Z, A: 1.001 * chain(self, dA, Z, A))
    check = session.explain_data()["step"]["gradcheck"]
    assert not check["passed"] and "FAILED" in check["text"]


@pytest.mark.parametrize(
    "name, settings",
    [
        ("adam", {"optimizer": "adam", "lr": "0.05", "regularization": "l2", "reg_rate": "0.02"}),
        ("sgd", {"optimizer": "sgd", "lr": "0.3", "regularization": "l1", "reg_rate": "0.01"}),
        ("rmsprop", {"optimizer": "rmsprop", "lr": "0.01"}),
    ],
)
def test_the_update_written_out_is_pytorchs(name, settings):
    """After a few epochs (the optimiser's state in play), the update shown for the explain batch is the one
    PyTorch's optimiser takes from the same state, on the loss plus the penalty written by hand."""
    torch = pytest.importorskip("torch")
    session = Session(parse({"layers": "3", "seed": "2", "batch_size": "16", **settings}))
    for _ in range(4):
        session.step()
    data = session.explain_data()["update"]
    s = session.settings
    X, y = session.X_train[:16], session.y_train[:16].astype(float)
    W1, b1, W2, b2 = session.model.get_weights()
    params = [torch.tensor(a, requires_grad=True) for a in (W1, b1, W2, b2)]
    cls = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}[name]
    kwargs = {"alpha": 0.99, "eps": 1e-8} if name == "rmsprop" else {}
    opt = cls(params, lr=s.lr, **kwargs)
    state = session.optimizer.state[0]  # the tab's moments, laid out as its flat buffer: W1, b1, W2, b2
    offsets = np.cumsum([0] + [a.size for a in (W1, b1, W2, b2)])
    for k, p in enumerate(params):
        part = {key: torch.tensor(v[offsets[k] : offsets[k + 1]].reshape(p.shape)) for key, v in state.items()}
        if name == "adam":
            opt.state[p] = {"step": torch.tensor(float(session.optimizer.t)), "exp_avg": part["m"],
                            "exp_avg_sq": part["v"]}  # fmt: skip
        elif name == "rmsprop":
            opt.state[p] = {"step": torch.tensor(float(session.optimizer.t)), "square_avg": part["s"]}
    z = torch.tanh(torch.tensor(X) @ params[0] + params[1]) @ params[2] + params[3]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z[:, 0], torch.tensor(y))
    rate = s.reg_rate * 16  # λ per step on 16 rows: the objective's coefficient λ·n
    for W in (params[0], params[2]):
        if s.regularization == "l2":
            loss = loss + rate / (2 * 16) * (W**2).sum()
        elif s.regularization == "l1":
            loss = loss + rate / 16 * W.abs().sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
    shown = {row["name"]: float(row["new"]) for row in data["rows"]}
    expected = {"W(1)[1,1]": params[0][0, 0], "W(1)[2,3]": params[0][1, 2], "b(1)[2]": params[1][1],
                "W(2)[3,1]": params[2][2, 0], "b(2)[1]": params[3][0]}  # fmt: skip
    for key, value in expected.items():
        assert shown[key] == pytest.approx(value.item(), rel=1e-4, abs=1e-5), key
    assert len(data["rows"]) == session.model.n_params
    if name == "adam":
        row = data["rows"][0]
        m, v, t = float(row["m"]), float(row["v"]), data["t"]
        assert float(row["mhat"]) == pytest.approx(m / (1 - 0.9**t), rel=1e-3)
        assert float(row["vhat"]) == pytest.approx(v / (1 - 0.999**t), rel=1e-3)


def test_l1_and_l2_are_terms_of_the_objective_the_tab_trains_with():
    session = Session(parse({"layers": "2", "regularization": "l2", "reg_rate": "0.1", "batch_size": "10"}))
    objective = session.objective_for(10)
    assert objective.l2 == pytest.approx(1.0) and objective.l1 == 0  # λ·n = 0.1·10
    X, Y = session.X_train[:10], session.targets[:10]
    value, _, _ = session.model.gradient(X, Y, objective)
    W1, _, W2, _ = session.model.get_weights()
    plain, _, _ = session.model.gradient(X, Y, session.objective)
    assert value == pytest.approx(plain + 0.1 / 2 * ((W1**2).sum() + (W2**2).sum()), rel=1e-12)


def test_regression_learns_the_plane_with_mse_and_colours_by_value():
    session = Session(parse({"dataset": "reg-plane", "layers": "", "optimizer": "sgd", "lr": "0.01",
                             "batch_size": "10000", "seed": "1"}))  # fmt: skip
    assert session.loss_name == "mse" and session.objective.loss.name == "mse"
    X, y = session.X_train, session.y_train
    W, b = (a.copy() for a in session.model.get_weights())
    r = X @ W[:, 0] + b[0] - y
    session.step()
    np.testing.assert_allclose(session.model.get_weights()[0][:, 0], W[:, 0] - 0.01 * 2 * X.T @ r / len(X))
    for _ in range(300):
        session.step()
    assert session.history["val_loss"][-1] < 1e-3  # y = (x₁ + x₂)/10 is linear: a linear model fits it
    frame = session.frame()
    assert frame["accuracy"] == {"train": None, "test": None}
    out = session.model.predict(session.grid_points())[:, 0]
    expected = np.round(np.clip((out + 1) / 2, 0, 1) * 255).astype(np.uint8)
    import base64

    assert np.array_equal(np.frombuffer(base64.b64decode(frame["surface"]), np.uint8), expected)


def test_the_regression_sets_are_the_plane_and_the_six_bumps():
    P, y = generate("reg-plane", 0.0, 0)
    np.testing.assert_allclose(y, (P[:, 0] + P[:, 1]) / 10)
    P, y = generate("reg-gauss", 0.0, 0)
    at = np.array([[-4, 2.5], [0, -2.5], [1, 2.5], [2, 0], [4, -3.5]])
    from chainrule.playground.data import bumps

    # at a centre the bump's sign; 1 from (0, 2.5) (sign −1): 1 − 1/2; (2, 0): nearest centres at distance
    # √(4 + 6.25) > 2, so 0; 1 below (4, −2.5) (sign −1): −(1 − 1/2)
    np.testing.assert_allclose(bumps(at), [1, 1, -0.5, 0, -0.5])
    assert len(BUMPS) == 6 and np.abs(y).max() <= 1


def test_the_long_spiral_turns_one_and_three_quarter_times():
    P, y = generate("spirals-1.75", 0.0, 0)  # noise 0 still moves each point by up to 0.1
    arm = P[y == 0]
    r = np.hypot(arm[:, 0], arm[:, 1])
    arm, r = arm[r > 1], r[r > 1]  # near the centre the 0.1 jitter decides the angle
    angles = np.unwrap(np.arctan2(arm[:, 0], arm[:, 1]))
    # the angle grows by 1.75 turns over the radius 0 to 5: 1.75·(r_last − r_first)/5 turns here
    assert abs(angles[-1] - angles[0]) / (2 * np.pi) == pytest.approx(1.75 * (r[-1] - r[0]) / 5, abs=0.05)
    assert np.hypot(*arm[-1]) == pytest.approx(5, abs=0.2) and len(P) == 400 and y.sum() == 200


def test_an_edited_weight_is_the_one_the_next_step_trains_from():
    session = Session(parse({"layers": "", "optimizer": "sgd", "lr": "0.5", "batch_size": "10000", "seed": "3"}))
    session.edit(1, "W", 2, 1, 1.5)
    session.edit(1, "b", 1, 1, -0.25)
    W, b = session.model.get_weights()
    assert W[1, 0] == 1.5 and b[0] == -0.25
    X, y = session.X_train, session.y_train[:, None]
    p = 1 / (1 + np.exp(-(X @ W + b)))
    expected = W - 0.5 * X.T @ (p - y) / len(X)
    session.step()
    np.testing.assert_allclose(session.model.get_weights()[0], expected, rtol=1e-12)
    for bad, words in (((3, "W", 1, 1, 0.0), "layers are 1 to 1"), ((1, "W", 3, 1, 0.0), "has shape (2, 1)"),
                       ((1, "b", 1, 1, float("nan")), "a weight must be a number"), ((1, "b", 1, 1, 1e9), "from -100"),
                       ((1, "x", 1, 1, 0.0), "no parameter 'x'")):  # fmt: skip
        with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
            session.edit(*bad)
