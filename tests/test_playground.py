"""The playground without a browser: settings and uploads refused with clear messages, the training loop checked
against a hand-written one (logistic regression, full batch: w ← w − α·(Xᵀ(σ(Xw + b) − y)/n + λ·w)),
divergence that stops and keeps the last good weights, and the WebSocket's answers to malformed messages.
"""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.playground.data import MAX_UPLOAD_BYTES, UploadError, features, read_upload
from chainrule.playground.session import Diverged, Session
from chainrule.playground.settings import SettingsError, parse


@pytest.mark.parametrize(
    "given, words",
    [
        ({"lr": "0"}, "lr must be a number in (0, 10]"),
        ({"lr": "-1"}, "lr must be a number in (0, 10]"),
        ({"lr": "nan"}, "lr must be a number"),
        ({"layers": "4,0"}, "neurons per layer must be a number in [1, 8]"),
        ({"train_ratio": "1"}, "train_ratio must be a number in (0, 1)"),
        ({"train_ratio": "0"}, "train_ratio must be a number in (0, 1)"),
        ({"dataset": "<script>"}, "dataset must be one of xor"),
        ({"features": ""}, "features must name at least one"),
        ({"features": "x1,x1"}, "each once"),
        ({"layers": "1,1,1,1,1,1,1"}, "at most 6 hidden layers"),
        ({"batch_size": "2.5"}, "batch_size must be a whole number"),
        ({"nonsense": "1"}, "unknown setting 'nonsense'"),
        ([1, 2], "settings must be an object"),
    ],
)
def test_bad_settings_are_refused_with_the_field_named(given, words):
    with pytest.raises(SettingsError) as err:
        parse(given)
    assert words in str(err.value)


def test_url_settings_round_trip():
    s = parse({"dataset": "moons", "features": "x1,sin x2", "layers": "3,2", "lr": "0.1", "seed": "7"})
    assert parse(s.to_query()) == s
    assert s.layers == [3, 2] and s.features == ["x1", "sin x2"]


def test_one_epoch_is_the_hand_written_gradient_step():
    """No hidden layer, full batch, plain SGD with L2: one epoch is one step of logistic regression."""
    s = parse({"features": "x1,x2", "layers": "", "optimizer": "sgd", "lr": "0.5", "batch_size": "10000",
               "regularization": "l2", "reg_rate": "0.1", "seed": "3"})  # fmt: skip
    session = Session(s)
    W, b = (a.copy() for a in session.model.get_weights())
    X, y = session.X_train, session.y_train[:, None]
    p = 1 / (1 + np.exp(-(X @ W + b)))
    W_new = W - 0.5 * (X.T @ (p - y) / len(X) + 0.1 * W)
    b_new = b - 0.5 * (p - y).mean(axis=0)
    logs = session.step()
    got_W, got_b = session.model.get_weights()
    np.testing.assert_allclose(got_W, W_new, rtol=1e-12)
    np.testing.assert_allclose(got_b, b_new, rtol=1e-12)
    p_after = 1 / (1 + np.exp(-(X @ W_new + b_new)))
    bce = -np.mean(y * np.log(p_after) + (1 - y) * np.log(1 - p_after))
    assert logs["loss"] == pytest.approx(bce, rel=1e-10)


def test_l1_adds_the_sign_of_each_weight():
    s = parse({"features": "x1", "layers": "", "optimizer": "sgd", "lr": "0.2", "batch_size": "10000",
               "regularization": "l1", "reg_rate": "0.3", "seed": "1"})  # fmt: skip
    session = Session(s)
    W, b = (a.copy() for a in session.model.get_weights())
    X, y = session.X_train, session.y_train[:, None]
    p = 1 / (1 + np.exp(-(X @ W + b)))
    session.step()
    np.testing.assert_allclose(session.model.get_weights()[0], W - 0.2 * (X.T @ (p - y) / len(X) + 0.3 * np.sign(W)))


def test_reset_gives_the_same_weights_and_training():
    session = Session(parse({"layers": "3", "seed": "5"}))
    first = session.model.get_weights()
    runs = [session.step()["loss"] for _ in range(3)]
    session.reset()
    assert all(np.array_equal(a, b) for a, b in zip(session.model.get_weights(), first)) and session.epoch == 0
    assert [session.step()["loss"] for _ in range(3)] == runs


def test_a_diverging_run_stops_and_keeps_the_last_good_weights():
    session = Session(parse({"layers": "8,8", "activation": "relu", "optimizer": "sgd", "lr": "10",
                             "features": "x1^2,x2^2,x1x2", "batch_size": "1"}))  # fmt: skip
    good = None
    with pytest.raises(Diverged) as err:
        for _ in range(100):
            good = session.model.flat_params.copy()
            session.step()
    assert "diverged" in str(err.value) and "lower the learning rate" in str(err.value)
    assert np.array_equal(session.model.flat_params, good) and np.isfinite(good).all()
    with pytest.raises(Diverged):
        session.step()  # stays stopped until reset
    session.reset()
    assert session.stopped is None


def test_uploads_are_read_as_data_and_names_as_text():
    hostile = "<img src=x onerror=alert(1)>"
    raw = f"{hostile},x2,label\n1,2,<script>a</script>\n3,4,b\n5,6,b\n".encode()
    P, y, names, classes = read_upload(raw)
    assert names == [hostile, "x2"] and classes == ["<script>a</script>", "b"] and y.tolist() == [0, 1, 1]
    assert P.shape == (3, 2)


@pytest.mark.parametrize(
    "raw, words",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
        (b"a,b,c\n1,2,x\n\x00,3,y\n", "binary data"),
        (b"x" * (MAX_UPLOAD_BYTES + 1), "at most 200,000 bytes"),
        (b"a,b,c\n1,2\n3,4,y\n", "exactly 3 columns"),
        (b"a,b,c\n1,two,x\n3,4,y\n", "row 2: the first two columns must be numbers"),
        (b"a,b,c\n1,2,x\n3,4,y\n5,6,z\n", "exactly two classes"),
        (b"a,b,c\n1,inf,x\n3,4,y\n", "NaN or infinite"),
        (b"a,b,c\n1,1.7e308,x\n3,-1.7e308,y\n", "at most 1e+06 in size"),
        (b"a,b,c\n1,2," + b"x" * 101 + b"\n3,4,y\n", "row 2 has a cell of 101 characters"),
        (b"a,b,c\n1,2," + b"x" * 199_000 + b"\n3,4,y\n", "each cell of at most 100 characters"),
    ],
)
def test_bad_uploads_are_refused_with_a_reason(raw, words):
    with pytest.raises(UploadError) as err:
        read_upload(raw)
    assert words in str(err.value)


def test_features_are_the_named_functions_of_the_point():
    P = np.array([[2.0, -3.0]])
    got = features(P, ["x1", "x2", "x1^2", "x2^2", "x1x2", "sin x1", "sin x2"])
    np.testing.assert_allclose(got, [[2, -3, 4, 9, -6, np.sin(2), np.sin(-3)]])
