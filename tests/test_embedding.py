"""Embedding: lookups, the scatter-add backward, integer inputs, checked against PyTorch's nn.Embedding."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def tokens(n=6, T=4, n_tokens=7, seed=0):
    return np.random.default_rng(seed).integers(0, n_tokens, size=(n, T))


def twin(model):
    """The same network in PyTorch: nn.Embedding, flatten, nn.Linear, with chainrule's weights."""
    table, W, b = model.get_weights()
    emb = torch.nn.Embedding(*table.shape)
    lin = torch.nn.Linear(*W.shape).double()
    with torch.no_grad():
        emb.weight = torch.nn.Parameter(torch.tensor(table))
        lin.weight.copy_(torch.tensor(W.T))
        lin.bias.copy_(torch.tensor(b))
    return emb, lin


def test_forward_and_one_sgd_step_match_torch():
    model = cr.Sequential(cr.Embedding(7, 3), cr.Flatten(), cr.Dense(12, 2), seed=0)
    X, Y = tokens(), np.random.default_rng(1).normal(size=(6, 2))
    emb, lin = twin(model)
    out = lin(emb(torch.tensor(X)).flatten(1))
    np.testing.assert_allclose(model.predict(X), out.detach().numpy(), rtol=1e-12)
    loss = torch.nn.functional.mse_loss(out, torch.tensor(Y))
    loss.backward()
    with torch.no_grad():
        for p in (emb.weight, lin.weight, lin.bias):
            p -= 0.1 * p.grad
    model.fit(X, Y, loss="mse", optimizer=cr.SGD(lr=0.1), epochs=1)
    table, W, b = model.get_weights()
    np.testing.assert_allclose(table, emb.weight.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(W, lin.weight.detach().numpy().T, rtol=1e-12, atol=1e-15)


def test_a_token_seen_twice_collects_both_gradients_and_unseen_rows_get_none():
    layer = cr.Embedding(4, 2, W=np.arange(8.0).reshape(4, 2))
    cr.Sequential(layer)
    Z = layer.forward(np.array([[1, 3, 1]]))
    np.testing.assert_array_equal(Z[0], [[2, 3], [6, 7], [2, 3]])
    dZ = np.array([[[1.0, 2.0], [10.0, 20.0], [100.0, 200.0]]])
    assert layer.backward(dZ) is None  # indices have no gradient
    # by hand: row 1 gets the first and third positions' gradients, row 3 the second, rows 0 and 2 nothing
    np.testing.assert_array_equal(layer.grads["W"], [[0, 0], [101, 202], [0, 0], [10, 20]])
    np.testing.assert_array_equal(layer.rows_used(), [1, 3])


def test_one_index_per_sample_gives_one_vector_per_sample():
    model = cr.Sequential(cr.Embedding(5, 3), cr.Dense(3, 1), seed=0)
    X = np.array([4, 0, 2])
    assert model.predict(X).shape == (3, 1) and model.in_shape == ()
    np.testing.assert_allclose(
        model.predict(X), model.get_weights()[0][X] @ model.get_weights()[1] + model.get_weights()[2]
    )


def test_gradcheck_checks_the_table_and_never_perturbs_the_indices():
    model = cr.Sequential(cr.Embedding(7, 3), cr.Flatten(), cr.Dense(12, 1), seed=2)
    X = tokens()
    result = cr.gradcheck(model, X, np.ones((6, 1)), "mse")
    assert result.passed and "input" not in result.errors and "layers[0].W" in result.errors


@pytest.mark.parametrize("bad, error, message", [
    (np.array([[0.0, 1.0]]), TypeError, r"takes integer indices; X holds float64 values"),
    (np.array([[0, 7]]), ValueError, r"got index 7 at position \(0, 1\); indices run from 0 to 6"),
    (np.array([[-1, 2]]), ValueError, r"got index -1 at position \(0, 0\)"),
])  # fmt: skip
def test_float_and_out_of_range_indices_are_refused_naming_the_layer(bad, error, message):
    model = cr.Sequential(cr.Embedding(7, 3), cr.Flatten(), cr.Dense(6, 1), seed=0)
    before = model.get_weights()
    with pytest.raises(error, match=r"Embedding\(7, 3\) " + message):
        model.fit(bad, np.ones((1, 1)), loss="mse", epochs=1)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_an_ensemble_of_embeddings_equals_its_members_trained_alone():
    X, Y = tokens(), np.random.default_rng(3).normal(size=(6, 1))
    layers = lambda: (cr.Embedding(7, 3), cr.Flatten(), cr.Dense(12, 1))  # noqa: E731
    ens = cr.Ensemble(*layers(), n_models=3, seed=5)
    members = [ens.member(i) for i in range(3)]
    ens.fit(X, Y, loss="mse", optimizer="sgd", epochs=3, batch_size=None)
    for i, m in enumerate(members):
        m.fit(X, Y, loss="mse", optimizer="sgd", epochs=3, batch_size=None)
        for a, b in zip(m.get_weights(), ens.member(i).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_save_and_load_keep_the_table_and_the_integer_input(tmp_path):
    model = cr.Sequential(cr.Embedding(7, 3), cr.Flatten(), cr.Dense(12, 2), seed=0)
    X = tokens()
    model.fit(X, np.ones((6, 2)), loss="mse", epochs=2)
    model.save(tmp_path / "emb.npz")
    again = cr.load(tmp_path / "emb.npz")
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_explain_lists_the_rows_that_received_gradient_with_torchs_numbers():
    model = cr.Sequential(cr.Embedding(5, 2), cr.Flatten(), cr.Dense(4, 1), seed=0)
    X, Y = np.array([[0, 1], [1, 3]]), np.array([[1.0], [-1.0]])
    text = str(cr.explain(model, X, Y, "mse"))
    assert "x (token indices) =" in text and "k (the rows the batch looked up) = [0  1  3]" in text
    emb, lin = twin(model)
    torch.nn.functional.mse_loss(lin(emb(torch.tensor(X)).flatten(1)), torch.tensor(Y)).backward()
    record = []
    objective = model.objective("mse")
    model.gradient(X, objective.loss.prepare_targets(Y, 1, model.dtype), objective, record=record)
    dZ = next(entry[2] for entry in record if entry[0] == "backward" and entry[1] is model.layers[0])
    terms = model.layers[0].backward_terms(dZ)
    rows = next(term.array for term in terms if term.role == "index")
    entries = next(term.array for term in terms if term.role == "weight gradient entry")
    assert rows.tolist() == [0, 1, 3]
    np.testing.assert_allclose(entries, emb.weight.grad.numpy()[[0, 1, 3]], rtol=1e-12)
