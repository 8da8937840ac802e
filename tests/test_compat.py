"""Files written by chainrule 0.1 still load, and a file of a newer format version is refused by name.

tests/data holds two files written by chainrule 0.1.0:

* v0_1_two_two_two_one_step.npz: the 2-2-2 sigmoid network of Matt Mazur's "A Step by Step
  Backpropagation Example" (inputs 0.05/0.10, targets 0.01/0.99) after one full-batch fit step of SGD
  with lr 0.5 under "sse". Expected weights are the post's published values.
* v0_1_xor_checkpoint.npz: a ModelCheckpoint of a 2-4-1 tanh/sigmoid XOR network trained with
  Adam(lr=0.05) under "bce", stopped after epoch 3 of 5, with EarlyStopping(monitor="loss",
  patience=2, restore_best_weights=True).
"""

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

DATA = Path(__file__).parent / "data"
TWO_TWO_TWO = DATA / "v0_1_two_two_two_one_step.npz"
XOR_CHECKPOINT = DATA / "v0_1_xor_checkpoint.npz"

X_MAZUR, Y_MAZUR = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])
W1_0, B1_0 = np.array([[0.15, 0.25], [0.20, 0.30]]), np.array([0.35, 0.35])
W2_0, B2_0 = np.array([[0.40, 0.50], [0.45, 0.55]]), np.array([0.60, 0.60])

# Mazur's weights after one step; wk joins (from -> to): w1 i1->h1, w2 i2->h1, w3 i1->h2, w4 i2->h2,
# w5 h1->o1, w6 h2->o1, w7 h1->o2, w8 h2->o2
PUBLISHED = dict(
    w1=0.149780716,
    w2=0.19956143,
    w3=0.24975114,
    w4=0.29950229,
    w5=0.35891648,
    w6=0.408666186,
    w7=0.511301270,
    w8=0.561370121,
)

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0], dtype=float)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def as_row_major(w):
    """Mazur's numbered weights as chainrule's W of shape (n_in, n_out): W[i, j] joins input i to unit j."""
    W1 = np.array([[w["w1"], w["w3"]], [w["w2"], w["w4"]]])
    W2 = np.array([[w["w5"], w["w7"]], [w["w6"], w["w8"]]])
    return W1, W2


def hand_step(lr=0.5):
    """One SGD step of the 2-2-2 network under ½Σ(o − t)², written out in NumPy."""
    h = sigmoid(X_MAZUR @ W1_0 + B1_0)  # (1, 2)
    o = sigmoid(h @ W2_0 + B2_0)  # (1, 2)
    delta_o = (o - Y_MAZUR) * o * (1 - o)  # ∂L/∂z at the outputs
    delta_h = (delta_o @ W2_0.T) * h * (1 - h)  # ∂L/∂z at the hidden units
    return (
        W1_0 - lr * X_MAZUR.T @ delta_h,
        B1_0 - lr * delta_h[0],
        W2_0 - lr * h.T @ delta_o,
        B2_0 - lr * delta_o[0],
    )


# ------------------------------------------------------------------ the 2-2-2 worked example
def test_the_hand_step_reproduces_the_published_weights():
    W1, _, W2, _ = hand_step()
    P1, P2 = as_row_major(PUBLISHED)
    np.testing.assert_allclose(W1, P1, atol=1e-8)
    np.testing.assert_allclose(W2, P2, atol=1e-8)


def test_the_two_two_two_file_holds_the_published_weights_after_one_step():
    model = cr.load(TWO_TWO_TWO)
    assert repr(model) == "Sequential(Dense(2, 2), Sigmoid(), Dense(2, 2), Sigmoid())"
    W1, b1, W2, b2 = model.get_weights()
    P1, P2 = as_row_major(PUBLISHED)
    np.testing.assert_allclose(W1, P1, atol=1e-8)
    np.testing.assert_allclose(W2, P2, atol=1e-8)
    # the post leaves the biases alone; fit steps them too, as the hand step above does
    for got, want in zip((W1, b1, W2, b2), hand_step()):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_the_two_two_two_file_keeps_its_loss_optimiser_and_epoch_count():
    model = cr.load(TWO_TWO_TWO)
    assert isinstance(model.loss_, cr.SSE) and model.loss_.reduction == "mean"
    assert isinstance(model.optimizer_, cr.SGD)
    assert model.optimizer_.lr == 0.5 and model.optimizer_.t == 1
    assert model.epochs_trained_ == 1
    assert model.dtype == np.float64
    assert cr.io.read(TWO_TWO_TWO).callback_states == []


def test_the_two_two_two_file_predicts_as_a_hand_forward_pass():
    model = cr.load(TWO_TWO_TWO)
    W1, b1, W2, b2 = model.get_weights()
    X = np.array([[0.05, 0.10], [1.0, -1.0], [0.0, 0.0], [3.0, 2.0]])
    expected = sigmoid(sigmoid(X @ W1 + b1) @ W2 + b2)
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-14)
    # and, for the worked input, a hand pass with the hand-stepped weights
    H1, c1, H2, c2 = hand_step()
    np.testing.assert_allclose(model.predict(X_MAZUR), sigmoid(sigmoid(X_MAZUR @ H1 + c1) @ H2 + c2), rtol=1e-12)


# ------------------------------------------------------------------ the XOR checkpoint
def test_the_xor_checkpoint_loads_with_its_optimiser_and_callback_states():
    saved = cr.io.read(XOR_CHECKPOINT)
    model = saved.model
    assert repr(model) == "Sequential(Dense(2, 4), Tanh(), Dense(4, 1), Sigmoid())"
    assert isinstance(model.loss_, cr.BinaryCrossEntropy)
    assert isinstance(model.optimizer_, cr.Adam) and model.optimizer_.lr == 0.05
    assert model.optimizer_.t == 3 and model.epochs_trained_ == 3
    assert all(slot.shape == (model.n_params,) for s in model.optimizer_.state for slot in s.values())
    states = {kind: (monitor, state) for kind, monitor, state in saved.callback_states}
    assert set(states) == {"EarlyStopping", "ModelCheckpoint"}
    monitor, stop = states["EarlyStopping"]
    assert monitor == "loss"
    assert {"best", "best_epoch", "wait", "best_weights"} <= set(stop)
    assert 0 <= stop["best_epoch"] <= 2 and 0 <= stop["wait"] <= 2  # stopped after epoch 3 of 5, patience 2
    assert isinstance(stop["best_weights"], np.ndarray) and stop["best_weights"].shape == (model.n_params,)
    assert np.isfinite(stop["best"]) and np.isfinite(stop["best_weights"]).all()
    assert states["ModelCheckpoint"][0] is None  # a checkpoint every epoch, not on a monitor


class EarlyStopping(cr.EarlyStopping):
    """cr.EarlyStopping under the same type name, keeping what fit(resume_from=…) hands it."""

    restored = None

    def set_state(self, state):
        self.restored = dict(state)
        super().set_state(state)


def test_fit_resumes_from_the_xor_checkpoint_to_the_end(tmp_path):
    before = digest(XOR_CHECKPOINT)
    saved = cr.io.read(XOR_CHECKPOINT)
    [(_, _, saved_stop)] = [s for s in saved.callback_states if s[0] == "EarlyStopping"]
    model = cr.mlp([2, 4, 1], "tanh", "sigmoid", seed=0)
    stop = EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    path = tmp_path / "resumed.npz"
    history = model.fit(XOR_X, XOR_Y, epochs=5, resume_from=XOR_CHECKPOINT, callbacks=[stop, cr.ModelCheckpoint(path)])
    assert history.epoch == [3, 4] and model.epochs_trained_ == 5
    assert isinstance(model.optimizer_, cr.Adam) and model.optimizer_.t == 5  # Adam's count went on from 3
    assert isinstance(model.loss_, cr.BinaryCrossEntropy)
    assert np.isfinite(history["loss"]).all()
    # the EarlyStopping got the saved state and went on from the saved best, not from a fresh start
    assert stop.restored is not None and stop.restored["best"] == saved_stop["best"]
    np.testing.assert_array_equal(stop.restored["best_weights"], saved_stop["best_weights"])
    losses = [saved_stop["best"], *history["loss"]]
    assert stop.best == min(losses)
    if stop.best == saved_stop["best"]:
        assert stop.best_epoch == saved_stop["best_epoch"]
        np.testing.assert_array_equal(model.flat_params, saved_stop["best_weights"])
    else:
        assert stop.best_epoch == 3 + history["loss"].index(stop.best)
    resumed = cr.io.read(path)
    assert resumed.model.epochs_trained_ == 5 and resumed.model.optimizer_.t == 5
    assert {kind for kind, _, _ in resumed.callback_states} == {"EarlyStopping", "ModelCheckpoint"}
    assert digest(XOR_CHECKPOINT) == before  # the fixture is only read


# ------------------------------------------------------------------ newer versions are refused
def rewrite_json(source: Path, target: Path, edit) -> None:
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "model.json":
                doc = json.loads(data)
                edit(doc)
                data = json.dumps(doc).encode()
            zout.writestr(info.filename, data)


@pytest.mark.parametrize("source", [TWO_TWO_TWO, XOR_CHECKPOINT], ids=["two_two_two", "xor_checkpoint"])
def test_a_file_of_a_newer_version_is_refused_naming_the_version(tmp_path, source):
    # 0.1 read version 1 only, so to it "version": 2 was newer; now the first unknown one is VERSION + 1
    newer_version = cr.io.VERSION + 1
    assert newer_version >= 2
    same = tmp_path / "same.npz"
    rewrite_json(source, same, lambda doc: None)
    cr.load(same)  # the rewritten copy itself is readable: only the version is at stake
    newer = tmp_path / "newer.npz"
    rewrite_json(source, newer, lambda doc: doc.update(version=newer_version))
    for read in (cr.load, cr.io.read):
        with pytest.raises(cr.ModelFileError, match=f"version {newer_version}"):
            read(newer)
    if source == XOR_CHECKPOINT:
        model = cr.mlp([2, 4, 1], "tanh", "sigmoid", seed=0)
        before = model.flat_params.copy()
        with pytest.raises(cr.ModelFileError, match=f"version {newer_version}"):
            model.fit(XOR_X, XOR_Y, epochs=5, resume_from=newer)
        np.testing.assert_array_equal(model.flat_params, before)
        assert model.optimizer_ is None and model.epochs_trained_ == 0


@pytest.mark.parametrize(
    "version",
    [
        0,
        -1,
        "1",
        1.0,
        None,
        True,
    ],
)
def test_a_file_with_an_unusable_version_is_refused_naming_it(tmp_path, version):
    bad = tmp_path / "bad.npz"
    rewrite_json(TWO_TWO_TWO, bad, lambda doc: doc.update(version=version))
    with pytest.raises(cr.ModelFileError, match="version"):
        cr.load(bad)
