"""Hostile ONNX files are refused before they allocate: each is loaded in a child process whose address space
is capped (``resource.setrlimit``), and the peak of what it allocates is measured there (tracemalloc)."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
resource = pytest.importorskip("resource")

import chainrule.onnx as cx  # noqa: E402, F401  (the child imports it too)

CAP = 64 << 20  # what loading or refusing a small file may add to the process, at most

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import chainrule.onnx as cx
    import numpy, onnx  # everything imported before the baseline
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as fh:
        size = int(fh.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (size + int(sys.argv[2]) * 4, hard))  # a runaway allocation fails
    import tracemalloc
    tracemalloc.start()  # NumPy reports its buffers to tracemalloc: the peak of what loading allocates
    try:
        cx.load(sys.argv[1])
        outcome = "loaded"
    except cx.OnnxFileError as exc:
        outcome = "refused: " + str(exc)
    except MemoryError:
        outcome = "MemoryError"
    peak = tracemalloc.get_traced_memory()[1]
    print(json.dumps({"outcome": outcome, "peak": peak}))
    """
)


def load_capped(path, cap=CAP):
    """(what happened, the bytes of resident memory loading added) in a child process."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(cap)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["outcome"], result["peak"]


def conv_file(path, length=8, **attrs):
    W = onnx.numpy_helper.from_array(np.ones((1, 1, 3), np.float32), "W")
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Conv", ["X", "W"], ["c"], name="conv", **attrs),
         onnx.helper.make_node("Flatten", ["c"], ["Y"], name="flat")], "g",
        [onnx.helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, ["N", 1, length])],
        [onnx.helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, None)], initializer=[W],
    )  # fmt: skip
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.parametrize(
    "attrs, refused",
    [
        ({"pads": [1_000_000, 1_000_000]}, "pads by at most the input's length"),
        ({"dilations": [1_000_000]}, "its kernel fits the padded input"),
        ({"pads": [10**15, 10**15]}, "pads by at most the input's length"),
    ],
    ids=["pads 10^6", "dilation 10^6", "pads 10^15"],
)
def test_padding_and_kernels_beyond_the_input_are_refused_within_the_cap(attrs, refused, tmp_path):
    outcome, peak = load_capped(conv_file(tmp_path / "c.onnx", **attrs))
    assert outcome.startswith("refused") and refused in outcome, outcome
    assert peak <= CAP, f"{peak / 2**20:.0f} MiB"


def test_a_residual_cycle_is_refused_within_the_cap(residual_cycle_onnx):
    outcome, peak = load_capped(residual_cycle_onnx)
    assert outcome.startswith("refused"), outcome
    assert peak <= CAP, f"{peak / 2**20:.0f} MiB"


def test_a_side_file_kernel_loads_within_a_bounded_multiple_of_its_bytes(tmp_path):
    """A 16 MiB float32 weight kept as external data: the reader holds it once (the array views the bytes read).
    Loading still peaks at 9× its bytes: the layer constructor copies a given weight to float64 and draws the
    weights it is about to overwrite, and the model adds its parameter and gradient buffers. The issue's goal
    (2× the data + 64 MiB) needs those to go; this bounds what is there now, so a regression shows."""
    W = np.random.default_rng(0).normal(size=(1024, 4096)).astype(np.float32)
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("MatMul", ["X", "W"], ["Y"])], "g",
        [onnx.helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, ["N", 1024])],
        [onnx.helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, ["N", 4096])],
        initializer=[onnx.numpy_helper.from_array(W, "W")],
    )  # fmt: skip
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    onnx.save(model, str(tmp_path / "w.onnx"), save_as_external_data=True, location="w.data", size_threshold=0)
    outcome, peak = load_capped(tmp_path / "w.onnx", cap=16 * W.nbytes)
    assert outcome == "loaded", outcome
    assert peak <= 10 * W.nbytes, f"{peak / W.nbytes:.1f}× the weight's bytes"
