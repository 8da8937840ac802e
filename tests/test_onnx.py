"""ONNX export and import (chainrule.onnx): outputs against onnxruntime, onnx's reference evaluator, PyTorch and
hand NumPy; hostile files refused with OnnxFileError, never another exception.

Set CHAINRULE_ONNX_DIFFS=path to append the largest differences measured (engine, dtype, difference: absolute up
to 1, relative above) to that file.
"""

from __future__ import annotations

import builtins
import json
import math
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402
from onnx.reference.op_run import OpRun  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.onnx as cx  # noqa: E402
from chainrule.datasets import Preprocessor  # noqa: E402
from chainrule.layers.activations import Activation  # noqa: E402

TOL = {"float32": 1e-6, "float64": 1e-12}
# onnxruntime's CPU provider has no float64 kernel for these ops' activations (Elu, Softplus, Erf)
ORT_NO_FLOAT64 = {"elu", "softplus", "gelu"}
DIFFS: dict[tuple[str, str], float] = {}
MEMORY_BOUND = 64 << 20


@pytest.fixture(scope="module", autouse=True)
def report_differences():
    yield
    target = os.environ.get("CHAINRULE_ONNX_DIFFS")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            for (engine, dtype), diff in sorted(DIFFS.items()):
                fh.write(f"onnx {engine} {dtype} {diff:.3g}\n")


def record(engine: str, dtype: str, got: np.ndarray, expected: np.ndarray) -> None:
    """Assert ``got`` matches ``expected`` to the dtype's tolerance, keeping the largest difference seen.

    The difference is absolute for outputs up to 1 in size and relative above: a float32 output near 16 is
    only held to 2e-6 (one ulp).
    """
    assert got.dtype == np.dtype(dtype) and got.shape == expected.shape, (got.dtype, got.shape, expected.shape)
    scaled = np.abs(got.astype(np.float64) - expected) / np.maximum(1.0, np.abs(expected))
    diff = float(np.max(scaled, initial=0.0))
    DIFFS[engine, dtype] = max(DIFFS.get((engine, dtype), 0.0), diff)
    assert diff <= TOL[dtype], f"{engine} {dtype}: theirs vs mine differ by {diff:.3g} (tolerance {TOL[dtype]})"


# --------------------------------------------------------------- activations activations.py may not have yet
def _erf(Z: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(Z)


class _StandIn(Activation):
    """A hand-NumPy activation (computed in float64) for a supported name that activations.py lacks; it is put
    into Activation.registry for one test at a time only, so the real class, once there, is what is tested."""

    def f(self, Z):
        return self.formula64(Z.astype(np.float64)).astype(Z.dtype)

    def chain(self, dA, Z, A):
        raise NotImplementedError


class _ELU(_StandIn):
    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def formula64(self, Z):
        return np.where(Z > 0, Z, self.alpha * np.expm1(np.minimum(Z, 0)))

    def get_config(self):
        return {"type": "ELU", "alpha": self.alpha}

    @classmethod
    def _config_args(cls, config):
        return {"alpha": config.get("alpha", 1.0)}


class _Softplus(_StandIn):
    def formula64(self, Z):
        return np.logaddexp(0.0, Z)


class _SiLU(_StandIn):
    def formula64(self, Z):
        return Z / (1 + np.exp(-Z))


class _GELU(_StandIn):
    def formula64(self, Z):
        return 0.5 * Z * (1 + _erf(Z / math.sqrt(2)))


class _GELUTanh(_StandIn):
    def formula64(self, Z):
        return 0.5 * Z * (1 + np.tanh(math.sqrt(2 / math.pi) * (Z + 0.044715 * Z**3)))


class _Swish2(_StandIn):
    """An activation no table entry translates."""

    def formula64(self, Z):
        return Z / (1 + np.exp(-2 * Z))


STANDINS = {"elu": _ELU, "softplus": _Softplus, "silu": _SiLU, "gelu": _GELU, "gelu_tanh": _GELUTanh}
for _name, _cls in {**STANDINS, "swish2": _Swish2}.items():
    _cls.name = _name  # set after the class exists, so it registers nowhere


@pytest.fixture(autouse=True)
def every_supported_activation(monkeypatch):
    for name, cls in STANDINS.items():
        if name not in Activation.registry:
            monkeypatch.setitem(Activation.registry, name, cls)


# ------------------------------------------------------------------------------------------------ helpers
def activation(name: str, rng: np.random.Generator) -> Activation:
    cls = Activation.registry[name]
    if name in ("leaky_relu", "elu"):
        return cls.from_config({"type": cls.__name__, "alpha": float(rng.uniform(0.01, 0.5))})
    return cls()


def random_network(name: str, dtype: str, seed: int) -> cr.Sequential:
    """2 to 4 Dense layers of random widths, each followed by ``name``, random weights and biases."""
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.integers(1, 7, size=int(rng.integers(3, 6)))]
    sizes[-1] = max(sizes[-1], 2)
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [cr.Dense(a, b), activation(name, rng)]
    model = cr.Sequential(*layers, seed=seed, dtype=dtype)
    model.set_weights([w + 0.5 * rng.standard_normal(w.shape) for w in model.get_weights()])
    return model


def random_preprocessor(n: int, rng: np.random.Generator) -> Preprocessor:
    return Preprocessor(mean=rng.normal(3, 2, n).tolist(), scale=rng.uniform(0.5, 4, n).tolist())


def run_ort(path, X: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": X})[0]


class Erf(OpRun):
    """Erf in float64 for the reference evaluator, whose own Erf computes in float32."""

    op_domain = ""

    def _run(self, x):
        return (_erf(x).astype(x.dtype),)


def run_reference(path, X: np.ndarray) -> np.ndarray:
    new_ops = [Erf] if X.dtype == np.float64 else None
    return ReferenceEvaluator(str(path), new_ops=new_ops).run(None, {"X": X})[0]


def ops(path) -> list[str]:
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def metadata(path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


# ------------------------------------------------------------------------------------ export: correctness
@pytest.mark.parametrize("with_preprocess", [False, True], ids=["raw", "standardised"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", cx.SUPPORTED)
def test_export_matches_predict_under_onnxruntime_and_the_reference_evaluator(name, dtype, with_preprocess, tmp_path):
    for seed in range(3):
        model = random_network(name, dtype, seed)
        rng = np.random.default_rng(100 + seed)
        X = rng.standard_normal((17, model.n_in))
        pre = random_preprocessor(model.n_in, rng) if with_preprocess else None
        X = (X * pre.scale + pre.mean if pre else X).astype(dtype)  # raw features, standardised inside the graph
        expected = model.predict(pre.transform(X) if pre else X).astype(np.float64)
        path = tmp_path / f"{seed}.onnx"
        cx.export(model, path, preprocess=pre)
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
        record("reference", dtype, run_reference(path, X), expected)
        try:
            session_output = run_ort(path, X)
        except Exception as exc:  # onnxruntime refuses ops it has no kernel for
            assert dtype == "float64" and name in ORT_NO_FLOAT64 and "NOT_IMPLEMENTED" in str(exc), exc
            continue
        record("onnxruntime", dtype, session_output, expected)


def test_the_comparison_catches_a_small_change(tmp_path):
    """The checks above can fail: a weight moved by 1e-5 after export is seen by both engines."""
    model = random_network("tanh", "float64", 0)
    cx.export(model, tmp_path / "m.onnx")
    X = np.random.default_rng(1).standard_normal((9, model.n_in))
    model.layers[0].params["W"][0, 0] += 1e-5
    for run in (run_ort, run_reference):
        with pytest.raises(AssertionError, match="differ by"):
            record("check", "float64", run(tmp_path / "m.onnx", X), model.predict(X))
    DIFFS.pop(("check", "float64"))


def test_a_hand_worked_network_with_standardisation(tmp_path):
    W = np.array([[1.0, -2.0], [0.5, 3.0]])
    b = np.array([0.25, -1.0])
    model = cr.Sequential(cr.Dense(2, 2, W=W, b=b), cr.Tanh())
    pre = Preprocessor(mean=[1.0, 2.0], scale=[2.0, 4.0])
    X = np.array([[3.0, 6.0], [1.0, 2.0], [-1.0, 0.0]])
    Z = np.array([[1.0, 1.0], [0.0, 0.0], [-1.0, -0.5]]) @ W + b  # (X − mean)/scale, worked by hand
    cx.export(model, tmp_path / "m.onnx", preprocess=pre)
    assert ops(tmp_path / "m.onnx") == ["Sub", "Div", "MatMul", "Add", "Tanh"]
    record("onnxruntime", "float64", run_ort(tmp_path / "m.onnx", X), np.tanh(Z))
    record("reference", "float64", run_reference(tmp_path / "m.onnx", X), np.tanh(Z))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["gelu", "gelu_tanh"])
def test_opset_20_writes_gelu_as_one_gelu_op(name, dtype, tmp_path):
    model = random_network(name, dtype, 4)
    X = np.random.default_rng(2).standard_normal((11, model.n_in)).astype(dtype)
    cx.export(model, tmp_path / "m.onnx", opset=20)
    assert onnx.load(str(tmp_path / "m.onnx")).opset_import[0].version == 20
    # Gelu's definition holds float32 constants (both engines are 6e-9 off in float64): float64 keeps the composite
    assert ("Gelu" in ops(tmp_path / "m.onnx")) == (dtype == "float32")
    record("reference", dtype, run_reference(tmp_path / "m.onnx", X), model.predict(X).astype(np.float64))
    if not (dtype == "float64" and name == "gelu"):  # onnxruntime has no float64 Erf
        record("onnxruntime", dtype, run_ort(tmp_path / "m.onnx", X), model.predict(X).astype(np.float64))
    assert repr(cx.load(tmp_path / "m.onnx")) == repr(model)


@pytest.mark.parametrize(
    "name, dtype, alpha, written",
    [
        ("silu", "float32", None, {"Sigmoid", "Mul"}),
        ("gelu", "float32", None, {"Erf", "Mul", "Add"}),
        ("gelu_tanh", "float64", None, {"Pow", "Tanh", "Mul", "Add"}),
        ("leaky_relu", "float64", 0.25, {"LeakyRelu"}),  # 0.25 is a float32: one op
        ("leaky_relu", "float64", 0.01, {"Relu", "Neg", "Mul", "Sub"}),  # 0.01 is not: alpha as a float64 constant
        ("leaky_relu", "float32", 0.01, {"LeakyRelu"}),
        ("elu", "float64", 1.0, {"Elu"}),
        ("elu", "float64", 0.3, {"Relu", "Neg", "Exp", "Sub", "Mul", "Add"}),
    ],
)
def test_composite_activations_are_written_with_the_documented_ops(name, dtype, alpha, written, tmp_path):
    cls = Activation.registry[name]
    act = cls() if alpha is None else cls.from_config({"type": cls.__name__, "alpha": alpha})
    model = cr.Sequential(cr.Dense(3, 4), act, seed=0, dtype=dtype)
    cx.export(model, tmp_path / "m.onnx")
    assert set(ops(tmp_path / "m.onnx")) == written | {"MatMul", "Add"}
    back = cx.load(tmp_path / "m.onnx")
    assert type(back.layers[1]) is cls and back.layers[1].get_config() == act.get_config()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", cx.SUPPORTED)
def test_round_trip_gives_back_the_same_model(name, dtype, tmp_path):
    model = random_network(name, dtype, 7)
    cx.export(model, tmp_path / "m.onnx")
    back = cx.load(tmp_path / "m.onnx")
    assert back.dtype == model.dtype and [type(la) for la in back.layers] == [type(la) for la in model.layers]
    for a, b in zip(back.layers, model.layers):  # a float32 model's alpha comes back as the float32 it computes with
        same = float if dtype == "float64" else np.float32
        assert {k: same(v) if k == "alpha" else v for k, v in a.get_config().items()} == {
            k: same(v) if k == "alpha" else v for k, v in b.get_config().items()
        }
    for a, b in zip(back.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    X = np.random.default_rng(3).standard_normal((8, model.n_in)).astype(dtype)
    np.testing.assert_allclose(back.predict(X), model.predict(X), rtol=0 if dtype == "float64" else 1e-6, atol=0)


def test_import_folds_the_standardisation_and_target_scaling_into_the_dense_layers(tmp_path):
    rng = np.random.default_rng(5)
    model = random_network("tanh", "float64", 5)
    model = cr.Sequential(*[type(la).from_config(la.get_config()) for la in model.layers[:-1]], dtype="float64")
    model.set_weights([rng.standard_normal(w.shape) for w in model.get_weights()])
    n_out = model.n_out
    pre = Preprocessor(task="regression", mean=rng.normal(5, 1, model.n_in).tolist(),
                       scale=rng.uniform(1, 3, model.n_in).tolist(), y_mean=40.0, y_scale=7.5)  # fmt: skip
    cx.export(model, tmp_path / "m.onnx", preprocess=pre)
    names = ops(tmp_path / "m.onnx")
    assert names[:2] == ["Sub", "Div"] and names[-2:] == ["Mul", "Add"]
    X = rng.normal(5, 2, (10, model.n_in))
    expected = pre.inverse_y(model.predict(pre.transform(X)))
    record("onnxruntime", "float64", run_ort(tmp_path / "m.onnx", X), expected)
    record("reference", "float64", run_reference(tmp_path / "m.onnx", X), expected)
    back = cx.load(tmp_path / "m.onnx")
    assert len(back.layers) == len(model.layers) and back.n_out == n_out
    np.testing.assert_allclose(back.predict(X), expected, rtol=1e-10, atol=1e-10)
    assert json.loads(metadata(tmp_path / "m.onnx")["chainrule"])["target_units"] is True


def test_metadata_carries_the_class_names_and_what_y_is(tmp_path):
    model = cr.mlp([4, 5, 3], "relu", "softmax", seed=0)
    pre = Preprocessor(task="classification", mean=[0.0] * 4, scale=[1.0] * 4, classes=["setosa", "versicolor", "v"])
    cx.export(model, tmp_path / "m.onnx", preprocess=pre)
    meta = metadata(tmp_path / "m.onnx")
    assert json.loads(meta["classes"]) == ["setosa", "versicolor", "v"]
    about = json.loads(meta["chainrule"])
    assert about["output"] == "probabilities" and about["columns"] == ["setosa", "versicolor", "v"]
    assert about["standardised_input"] is False and ops(tmp_path / "m.onnx")[0] == "MatMul"  # identity left out
    cx.export(cr.mlp([2, 1], "relu", "sigmoid", seed=0), tmp_path / "b.onnx", classes=np.array([3, 7]))
    assert json.loads(metadata(tmp_path / "b.onnx")["chainrule"])["columns"] == [7]  # one sigmoid: the second class
    assert json.loads(metadata(tmp_path / "b.onnx")["classes"]) == [3, 7]


@pytest.mark.parametrize("loss, n_out", [("softmax_cross_entropy", 3), ("bce_logits", 1)])
def test_proba_appends_the_fitted_losss_activation(loss, n_out, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3)).astype(np.float32)
    y = rng.integers(0, max(n_out, 2), 40)
    model = cr.mlp([3, 6, n_out], "tanh", None, seed=0, dtype="float32")
    model.fit(X, y, loss=loss, epochs=3, batch_size=20)
    cx.export(model, tmp_path / "p.onnx", proba=True)
    assert ops(tmp_path / "p.onnx")[-1] == ("Softmax" if n_out == 3 else "Sigmoid")
    record("onnxruntime", "float32", run_ort(tmp_path / "p.onnx", X), model.predict_proba(X).astype(np.float64))
    record("reference", "float32", run_reference(tmp_path / "p.onnx", X), model.predict_proba(X).astype(np.float64))
    with pytest.raises(ValueError, match="proba=True needs"):
        cx.export(cr.mlp([3, 1], seed=0), tmp_path / "r.onnx", proba=True)


# ------------------------------------------------------------------------------------- export: refusals
def test_an_activation_without_a_translation_is_refused_naming_it_and_the_supported_ones(tmp_path):
    model = cr.Sequential(cr.Dense(2, 3), _Swish2(), cr.Dense(3, 1), seed=0)
    with pytest.raises(ValueError, match="activation 'swish2'") as info:
        cx.export(model, tmp_path / "m.onnx")
    assert "silu (Mul/Sigmoid)" in str(info.value) and "leaky_relu" in str(info.value)
    assert not list(tmp_path.iterdir())


def test_a_layer_that_is_not_dense_nor_an_activation_is_refused(tmp_path):
    class _Double(cr.Layer):
        def forward(self, X, training=True, keep=True):
            return 2 * X

    with pytest.raises(ValueError, match="layer type _Double"):
        cx.export(cr.Sequential(cr.Dense(2, 2), _Double(), seed=0), tmp_path / "m.onnx")


def test_export_checks_its_arguments_before_writing(tmp_path):
    model = cr.mlp([2, 3, 1], "tanh", seed=0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cx.export(model, tmp_path / "missing" / "m.onnx")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        cx.export(model, tmp_path)
    for opset in (12, 10_000, "17", True, 17.0):
        with pytest.raises(ValueError, match="opset must be a whole number"):
            cx.export(model, tmp_path / "m.onnx", opset=opset)
    with pytest.raises(ValueError, match="2 means and 2 scales; the model takes 3 features"):
        cx.export(cr.mlp([3, 1], seed=0), tmp_path / "m.onnx", preprocess=Preprocessor(mean=[0, 1], scale=[1, 1]))
    with pytest.raises(ValueError, match="scale of 0"):
        cx.export(model, tmp_path / "m.onnx", preprocess=Preprocessor(mean=[0, 1], scale=[1, 0]))
    model.layers[0].params["W"][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite weights"):
        cx.export(model, tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"old")

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        cx.export(cr.mlp([2, 1], seed=0), target)
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_chainrule_onnx_imports_with_numpy_alone_and_names_the_extra_when_onnx_is_missing(tmp_path, monkeypatch):
    code = "import sys, chainrule, chainrule.onnx; assert not {'onnx', 'onnxruntime'} & set(sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    monkeypatch.setitem(sys.modules, "onnx", None)
    for call in (lambda: cx.export(cr.mlp([2, 1], seed=0), tmp_path / "m.onnx"), lambda: cx.load(tmp_path / "x")):
        with pytest.raises(ImportError, match=r'pip install "chainrule\[onnx\]"') as info:
            call()
        assert "\n" not in str(info.value)


def test_public_names():
    assert sorted(cx.__all__) == sorted(
        ["DEFAULT_OPSET", "INSTALL", "MAX_ELEMENTS", "MAX_FILE_BYTES", "MIN_OPSET", "OnnxFileError", "SUPPORTED",
         "class_labels", "describe", "export", "load", "to_model_proto"]
    )  # fmt: skip
    assert issubclass(cx.OnnxFileError, ValueError) and issubclass(cx.OnnxFileError, cr.ModelFileError)


# ------------------------------------------------------------------------------------------------ import
def graph_model(nodes, constants, *, n_in=3, elem=TensorProto.DOUBLE, opset=17, inputs=None, outputs=None):
    """A ModelProto of ``nodes`` with ``constants`` (name -> array) as initializers, input "X" and output "Y"."""
    inputs = inputs or [helper.make_tensor_value_info("X", elem, ["N", n_in])]
    outputs = outputs or [helper.make_tensor_value_info("Y", elem, None)]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in constants.items()]
    m = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, initializer=inits),
                          opset_imports=[helper.make_opsetid("", opset)])  # fmt: skip
    m.ir_version = helper.find_min_ir_version_for(m.opset_import)
    return m


def save(m, path):
    path.write_bytes(m.SerializeToString())
    return path


@pytest.mark.parametrize(
    "transB, alpha, beta, C",
    [(0, 1.0, 1.0, "vector"), (1, 1.0, 1.0, "row"), (1, 0.5, 2.0, "scalar"), (0, 2.0, 1.0, None)],
)
def test_gemm_is_read_with_transB_alpha_and_beta_folded_into_w_and_b(transB, alpha, beta, C, tmp_path):
    rng = np.random.default_rng(0)
    W, c = rng.standard_normal((3, 4)), {"vector": rng.standard_normal(4), "row": rng.standard_normal((1, 4)),
                                         "scalar": np.array(0.75), None: np.zeros(4)}[C]  # fmt: skip
    constants = {"B": W.T.copy() if transB else W, **({"C": c} if C else {})}
    gemm = helper.make_node("Gemm", ["X", "B", *(["C"] if C else [])], ["h"], transB=transB, alpha=alpha, beta=beta)
    m = graph_model([gemm, helper.make_node("Tanh", ["h"], ["Y"])], constants)
    X = rng.standard_normal((5, 3))
    expected = np.tanh(alpha * X @ W + beta * c.reshape(-1))  # hand NumPy
    record("onnxruntime", "float64", run_ort(save(m, tmp_path / "g.onnx"), X), expected)
    model = cx.load(tmp_path / "g.onnx")
    assert repr(model) == "Sequential(Dense(3, 4), Tanh())" and model.dtype == np.float64
    record("chainrule.onnx.load", "float64", model.predict(X), expected)


def test_matmul_without_bias_constant_nodes_and_a_constant_on_the_left_are_read(tmp_path):
    rng = np.random.default_rng(1)
    W1, W2, mean = rng.standard_normal((3, 2)), rng.standard_normal((2, 2)), rng.standard_normal(3)
    nodes = [
        helper.make_node("Constant", [], ["m"], value=numpy_helper.from_array(mean)),
        helper.make_node("Sub", ["m", "X"], ["centred"]),  # mean − x: a constant on the left
        helper.make_node("MatMul", ["centred", "W1"], ["z1"]),  # no bias
        helper.make_node("Relu", ["z1"], ["a1"]),
        helper.make_node("MatMul", ["a1", "W2"], ["z2"]),
        helper.make_node("Constant", [], ["half"], value=numpy_helper.from_array(np.array(0.5))),
        helper.make_node("Mul", ["half", "z2"], ["Y"]),  # an output scaling
    ]
    m = graph_model(nodes, {"W1": W1, "W2": W2})
    X = rng.standard_normal((6, 3))
    expected = 0.5 * (np.maximum((mean - X) @ W1, 0) @ W2)
    model = cx.load(save(m, tmp_path / "g.onnx"))
    assert repr(model) == "Sequential(Dense(3, 2), ReLU(), Dense(2, 2))"
    record("chainrule.onnx.load", "float64", model.predict(X), expected)
    record("onnxruntime", "float64", run_ort(tmp_path / "g.onnx", X), expected)


def torch_export(torch, net, path, n_in: int, opset: int = 17) -> None:
    """PyTorch's own exporter (the TorchScript-based one: the newer one needs onnxscript)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it is deprecated in favour of the one that needs onnxscript
        torch.onnx.export(net, (torch.zeros(2, n_in),), str(path), dynamo=False, opset_version=opset,
                          input_names=["X"], output_names=["Y"], dynamic_axes={"X": {0: "N"}})  # fmt: skip


def test_a_pytorch_network_comes_in_predicts_like_pytorch_and_can_be_explained(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1), torch.nn.Sigmoid())
    torch_export(torch, net, tmp_path / "net.onnx", 3)
    assert ops(tmp_path / "net.onnx") == ["Gemm", "Tanh", "Gemm", "Sigmoid"]  # Gemm with transB=1
    model = cr.onnx.load(tmp_path / "net.onnx")
    assert repr(model) == "Sequential(Dense(3, 8), Tanh(), Dense(8, 1), Sigmoid())" and model.dtype == np.float32
    X = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    y = (X[:, :1] > 0).astype(np.float32)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    out = net(Xt)
    record("pytorch", "float32", model.predict(X), out.detach().numpy().astype(np.float64))
    result = cr.explain(model, X, y, "bce")
    loss = torch.nn.functional.binary_cross_entropy(out, yt)
    loss.backward()
    assert abs(result.loss.value - loss.item()) < 1e-6, (result.loss.value, loss.item())
    first = next(step for step in result.backward if step.dW.shape == (3, 8))
    np.testing.assert_allclose(first.dW, net[0].weight.grad.numpy().T, atol=1e-6)
    assert "Tanh" in result.to_text() or "tanh" in result.to_text()


TORCH_ACTIVATIONS = {
    "relu": lambda nn: nn.ReLU(),
    "sigmoid": lambda nn: nn.Sigmoid(),
    "tanh": lambda nn: nn.Tanh(),
    "leaky_relu": lambda nn: nn.LeakyReLU(0.2),
    "elu": lambda nn: nn.ELU(0.75),
    "softplus": lambda nn: nn.Softplus(),
    "softmax": lambda nn: nn.Softmax(dim=1),
    "silu": lambda nn: nn.SiLU(),
    "gelu": lambda nn: nn.GELU(),
    "gelu_tanh": lambda nn: nn.GELU(approximate="tanh"),
}


@pytest.mark.parametrize("opset", [17, 20])
@pytest.mark.parametrize("name", sorted(TORCH_ACTIVATIONS))
def test_pytorch_activations_are_recognised_as_pytorch_writes_them(name, opset, tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    nn = torch.nn
    net = nn.Sequential(nn.Linear(4, 5), TORCH_ACTIVATIONS[name](nn), nn.Linear(5, 3))
    torch_export(torch, net, tmp_path / "net.onnx", 4, opset)
    model = cx.load(tmp_path / "net.onnx")
    assert type(model.layers[1]) is Activation.registry[name] and len(model.layers) == 3
    X = (2 * np.random.default_rng(3).standard_normal((9, 4))).astype(np.float32)
    with torch.no_grad():
        theirs = net(torch.from_numpy(X)).numpy().astype(np.float64)
    record("pytorch", "float32", model.predict(X), theirs)


def test_an_activation_this_chainrule_lacks_is_named(tmp_path, monkeypatch):
    cx.export(cr.mlp([2, 3, 1], "tanh", seed=0), tmp_path / "m.onnx")
    monkeypatch.delitem(cr.Layer.registry, "Tanh")  # reading is driven by the registered classes alone
    with pytest.raises(cx.OnnxFileError, match=r"'layers.1' \(Tanh\) is not used as in any layer chainrule reads"):
        cx.load(tmp_path / "m.onnx")


# ------------------------------------------------------------------------------------- import: refusals
def _mm(x="X", w="W", out="Y"):
    return helper.make_node("MatMul", [x, w], [out])


W34 = {"W": np.ones((3, 4))}
NEWEST = onnx.defs.onnx_opset_version()


def _edited(edit):
    m = graph_model([_mm()], W34)
    edit(m)
    return m


def _relu(x="h", out="Y", **attrs):
    return helper.make_node("Relu", [x], [out], **attrs)


def _local_function(m):
    body = [helper.make_node("Relu", ["a"], ["b"])]
    m.functions.append(helper.make_function("custom", "f", ["a"], ["b"], body, [helper.make_opsetid("", 17)]))


def _two_outputs():
    outputs = [helper.make_tensor_value_info(n, TensorProto.DOUBLE, None) for n in ("Y", "X")]
    return graph_model([_mm()], W34, outputs=outputs)


def _input_4d():
    return graph_model([_mm()], W34, inputs=[helper.make_tensor_value_info("X", TensorProto.DOUBLE, [1, 2, 3, 4])])


HOSTILE_GRAPHS = {
    "conv2d": (lambda: graph_model([helper.make_node("Conv", ["X", "W"], ["Y"])], W34), "one-dimensional Conv"),
    "another domain": (
        lambda: graph_model([helper.make_node("FusedMatMul", ["X", "W"], ["Y"], domain="com.microsoft")], W34),
        "unsupported op 'com.microsoft.FusedMatMul'",
    ),
    "weights on the left": (
        lambda: graph_model([_mm("W", "X")], {"W": np.ones((3, 3))}),
        "constant matrix on its right",
    ),
    "residual": (
        lambda: graph_model([_mm(out="h"), helper.make_node("Add", ["h", "h"], ["Y"])], W34),
        "one computed input and one constant",
    ),
    "dangling node": (lambda: graph_model([_relu("X", "r"), _mm()], W34), "node 0 .Relu. is not on the chain"),
    "two outputs": (_two_outputs, "has 2 outputs"),
    "integer input": (lambda: graph_model([_mm()], W34, elem=TensorProto.INT64), "not a float32 or float64 tensor"),
    "4-D input": (_input_4d, "4 dimensions"),
    "3-D input into MatMul": (
        lambda: graph_model([_mm()], W34, inputs=[helper.make_tensor_value_info("X", TensorProto.DOUBLE, [1, 2, 3])]),
        r"put a Flatten\(\) before it",
    ),
    "input width": (
        lambda: graph_model([_mm()], W34, n_in=5),
        r"input has 5 features but its first layer, Dense\(3, 4\), takes 3",
    ),
    "no dense layer": (lambda: graph_model([helper.make_node("Tanh", ["X"], ["Y"])], {}), "no MatMul or Gemm"),
    "divide by zero": (
        lambda: graph_model([helper.make_node("Div", ["X", "s"], ["d"]), _mm("d")], {**W34, "s": np.arange(3.0)}),
        "divides by a constant with a zero",
    ),
    "opset too new": (lambda: _edited(lambda m: setattr(m.opset_import[0], "version", NEWEST + 1)), "opset is"),
    "opset too old": (lambda: graph_model([_mm()], W34, opset=8), "opset is 8"),
    "IR too new": (lambda: _edited(lambda m: setattr(m, "ir_version", 999)), "IR version 999"),
    "local function": (lambda: _edited(_local_function), "local functions"),
    "graph attribute": (
        lambda: graph_model([_mm(out="h"), _relu(body=helper.make_graph([], "b", [], []))], W34),
        "attribute 'body' of type 5",
    ),
    "float16 weights": (lambda: graph_model([_mm()], {"W": np.ones((3, 4), np.float16)}), "data type 10"),
    "NaN weight": (lambda: graph_model([_mm()], {"W": np.full((3, 4), np.nan)}), "NaN or infinity"),
    "two writers": (lambda: graph_model([_mm(out="h"), _relu(out="h"), _relu()], W34), "writes the tensor 'h'"),
    "transA": (
        lambda: graph_model([helper.make_node("Gemm", ["X", "W"], ["Y"], transA=1)], {"W": np.ones((3, 3))}),
        "transA must be 0",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_GRAPHS))
def test_graphs_that_are_not_a_chain_of_dense_layers_and_activations_are_refused(case, tmp_path):
    build, message = HOSTILE_GRAPHS[case]
    with pytest.raises(cx.OnnxFileError, match=message):
        cx.load(save(build(), tmp_path / "g.onnx"))


def raw_tensor(dims, data: bytes = b"", **fields):
    t = TensorProto(name="W", data_type=TensorProto.DOUBLE, dims=dims, **fields)
    if data:
        t.raw_data = data
    return t


def with_tensor(tensor):
    m = graph_model([_mm()], {})
    m.graph.initializer.append(tensor)
    return m


def refuse_bounded(tmp_path, m, match: str) -> None:
    """Refused with OnnxFileError, allocating less than MEMORY_BOUND while doing so."""
    path = save(m, tmp_path / "hostile.onnx")
    tracemalloc.start()
    try:
        with pytest.raises(cx.OnnxFileError, match=match):
            cx.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"refusing it allocated {peak:,} bytes"


@pytest.mark.parametrize(
    "tensor, match",
    [
        (raw_tensor([1 << 20, 1 << 20], b"\0" * 8), "declares 1,099,511,627,776 elements"),
        (raw_tensor([1 << 40, 1], b"\0" * 8), "dims"),
        (raw_tensor([4096, 4096], b"\0" * 16), "holds 16 bytes; dims .4096, 4096. need 134,217,728"),
        (raw_tensor([3000, 3000], double_data=[1.0, 2.0, 3.0]), "holds 3 values; dims .3000, 3000. need 9,000,000"),
        (raw_tensor([-1, 4], b"\0" * 32), "dims"),
        (raw_tensor([2, 2, 2, 2, 2, 2], b"\0" * 512), "up to 5"),
        (raw_tensor([3, 4], b"\0" * 96, double_data=[0.0] * 12), "twice"),
    ],
    ids=["2^40 elements", "one huge dim", "bytes missing", "values missing", "negative dim", "6-D", "raw and typed"],
)
def test_tensors_whose_dims_the_bytes_do_not_back_are_refused_before_allocating(tensor, match, tmp_path):
    refuse_bounded(tmp_path, with_tensor(tensor), match)


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "sub/../weights.bin", "./weights.bin"])
def test_external_data_outside_the_folder_is_refused_and_no_other_file_is_opened(location, tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(np.ones((3, 4)).tobytes())
    (tmp_path / "secret.bin").write_bytes(np.ones((3, 4)).tobytes())
    t = TensorProto(name="W", data_type=TensorProto.DOUBLE, dims=[3, 4], data_location=TensorProto.EXTERNAL)
    for key, value in (("location", location), ("offset", "0"), ("length", "96")):
        t.external_data.add(key=key, value=value)
    path = save(with_tensor(t), folder / "m.onnx")
    opened: list[str] = []
    real_open = builtins.open

    def spy(file, *args, **kwargs):
        opened.append(os.fspath(file) if isinstance(file, (str, os.PathLike)) else repr(file))
        return real_open(file, *args, **kwargs)

    class Forbidden(BaseException):
        pass

    def forbidden(*args, **kwargs):
        raise Forbidden("external data was loaded")

    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(onnx.external_data_helper, "load_external_data_for_model", forbidden)
    monkeypatch.setattr(onnx.external_data_helper, "load_external_data_for_tensor", forbidden)
    with pytest.raises(cx.OnnxFileError, match="plain file in the model's own folder"):
        cx.load(path)
    assert opened == [str(path)]


def test_files_over_the_size_limit_are_refused_unread(tmp_path, monkeypatch):
    cx.export(cr.mlp([3, 2], seed=0), tmp_path / "m.onnx")
    monkeypatch.setattr(cx._safe, "MAX_FILE_BYTES", 100)
    with pytest.raises(cx.OnnxFileError, match=r"bytes \(limit 100\)"):
        cx.load(tmp_path / "m.onnx")


def test_files_that_are_not_onnx_at_all(tmp_path):
    for name, data in [("empty", b""), ("text", b"hello, this is not a model\n"), ("zip", b"PK\x03\x04" + bytes(40)),
                       ("junk", bytes(range(256)) * 4)]:  # fmt: skip
        with pytest.raises(cx.OnnxFileError):
            cx.load(save_bytes(tmp_path / f"{name}.onnx", data))
    with pytest.raises(FileNotFoundError):
        cx.load(tmp_path / "missing.onnx")
    with pytest.raises(FileNotFoundError):
        cx.load(tmp_path)  # a folder


def save_bytes(path, data: bytes):
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------------------------------------ fuzzing
@pytest.fixture(scope="module")
def good_files(tmp_path_factory) -> dict[str, bytes]:
    """A chainrule export (standardisation, silu, softmax) and a graph of Gemm and Constant nodes."""
    folder = tmp_path_factory.mktemp("good")
    model = cr.Sequential(cr.Dense(3, 4), cr.Tanh(), cr.Dense(4, 4), cr.LeakyReLU(0.1), cr.Dense(4, 2), cr.Softmax(),
                          seed=0)  # fmt: skip
    cx.export(model, folder / "a.onnx", preprocess=Preprocessor(mean=[1.0, 2.0, 3.0], scale=[2.0, 0.5, 1.0]))
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.array([0.5, -1.0, 2.0]))),
        helper.make_node("Mul", ["X", "c"], ["s"]),
        helper.make_node("Gemm", ["s", "B", "C"], ["h"], transB=1, alpha=0.5),
        helper.make_node("Sigmoid", ["h"], ["Y"]),
    ]
    m = graph_model(nodes, {"B": rng.standard_normal((2, 3)), "C": rng.standard_normal(2)})
    return {"export": (folder / "a.onnx").read_bytes(), "gemm": m.SerializeToString()}


def outcome(path) -> str:
    try:
        model = cx.load(path)
    except cx.OnnxFileError:
        return "refused"
    assert isinstance(model, cr.Sequential)
    return "loaded"


@pytest.mark.parametrize("which", ["export", "gemm"])
def test_truncated_at_many_offsets(which, good_files, tmp_path):
    data = good_files[which]
    assert outcome(save_bytes(tmp_path / "whole.onnx", data)) == "loaded"
    cuts = sorted({*range(0, 200), *range(max(0, len(data) - 200), len(data)), *range(0, len(data), 5)})
    results = [outcome(save_bytes(tmp_path / "cut.onnx", data[:cut])) for cut in cuts]
    assert results.count("refused") > len(cuts) // 2


@pytest.mark.parametrize("which", ["export", "gemm"])
def test_bit_flips_give_a_model_or_onnx_file_error(which, good_files, tmp_path):
    """Protobuf has no checksum: a flip inside a weight loads as another weight. Everything else is refused."""
    data = good_files[which]
    rng = np.random.default_rng(11)
    results = []
    for _ in range(800):
        flipped = bytearray(data)
        pos = int(rng.integers(len(flipped)))
        flipped[pos] ^= 1 << int(rng.integers(8))
        results.append(outcome(save_bytes(tmp_path / "flip.onnx", bytes(flipped))))
    assert results.count("refused") > 100 and results.count("loaded") > 50


# ------------------------------------------------------------------------------- the scikit-learn estimators
def _fitted(estimator, X, y):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_the_classifier_writes_predict_proba_with_its_classes(kind, dtype, tmp_path):
    pytest.importorskip("sklearn")
    from chainrule.sklearn import MLPClassifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4))
    y = {
        "binary": np.where(X[:, 0] + X[:, 1] > 0, "yes", "no"),
        "multiclass": np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0)],
        "multilabel": (X[:, :3] > 0).astype(int),
    }[kind]
    clf = _fitted(MLPClassifier((6,), activation="tanh", max_iter=40, random_state=0, dtype=dtype), X, y)
    clf.to_onnx(tmp_path / "clf.onnx")
    onnx.checker.check_model(onnx.load(str(tmp_path / "clf.onnx")), full_check=True)
    Xd = X.astype(dtype)
    expected = clf.predict_proba(Xd).astype(np.float64)
    assert expected.shape == (80, 2 if kind == "binary" else 3)
    record("onnxruntime", dtype, run_ort(tmp_path / "clf.onnx", Xd), expected)
    record("reference", dtype, run_reference(tmp_path / "clf.onnx", Xd), expected)
    meta = metadata(tmp_path / "clf.onnx")
    assert json.loads(meta["classes"]) == clf.classes_.tolist()
    assert json.loads(meta["chainrule"])["columns"] == clf.classes_.tolist()


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_the_regressor_writes_predict(n_outputs, tmp_path):
    pytest.importorskip("sklearn")
    from sklearn.exceptions import NotFittedError

    from chainrule.sklearn import MLPRegressor

    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 3))
    y = X @ rng.standard_normal((3, n_outputs)) + 0.1
    y = y.ravel() if n_outputs == 1 else y
    reg = _fitted(MLPRegressor(hidden_layer_sizes=(5,), activation="relu", max_iter=30, random_state=0), X, y)
    reg.to_onnx(tmp_path / "reg.onnx")
    expected = reg.predict(X).reshape(50, n_outputs)
    record("onnxruntime", "float64", run_ort(tmp_path / "reg.onnx", X), expected)
    record("reference", "float64", run_reference(tmp_path / "reg.onnx", X), expected)
    assert "classes" not in metadata(tmp_path / "reg.onnx")
    with pytest.raises(NotFittedError):
        MLPRegressor().to_onnx(tmp_path / "unfitted.onnx")
