"""Shared test settings: a hypothesis profile that keeps the suite fast and deterministic, one BLAS thread, and the
browser the page tests drive (Debian's Chromium; they skip, saying why, where there is none)."""

import os
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "chainrule",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("chainrule")

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


@pytest.fixture
def one_blas_thread():
    """Small matrices train fastest on one BLAS thread, and the suite runs two workers side by side."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no browser: shutil.which('chromium') found nothing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def pytest_generate_tests(metafunc):
    """``global_random_seed`` as scikit-learn's conftest gives it (its own MLP tests run in test_sklearn_upstream):
    42, or the seeds SKLEARN_TESTS_GLOBAL_RANDOM_SEED names ("all", "N" or "N-M", each in 0..99)."""
    if "global_random_seed" not in metafunc.fixturenames:
        return
    wanted = os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED")
    if wanted is None:
        seeds = [42]
    elif wanted == "all":
        seeds = list(range(100))
    else:
        first, _, last = wanted.partition("-")
        seeds = list(range(int(first), int(last or first) + 1))
    if not all(0 <= seed <= 99 for seed in seeds):
        raise ValueError(f"SKLEARN_TESTS_GLOBAL_RANDOM_SEED must be in the range [0, 99] (or 'all'); got {wanted!r}.")
    metafunc.parametrize("global_random_seed", seeds)


@pytest.fixture
def residual_cycle_onnx(tmp_path):
    """An ONNX file whose Add reads a tensor made from its own output (a → Relu → b → Add → a): a cycle."""
    onnx = pytest.importorskip("onnx")
    nodes = [onnx.helper.make_node("Add", ["X", "b"], ["a"], name="a"),
             onnx.helper.make_node("Relu", ["a"], ["b"], name="b"),
             onnx.helper.make_node("MatMul", ["a", "W"], ["Y"], name="mm")]  # fmt: skip
    W = onnx.numpy_helper.from_array(np.ones((2, 2), np.float32), "W")
    graph = onnx.helper.make_graph(
        nodes, "g", [onnx.helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, ["N", 2])],
        [onnx.helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, ["N", 2])], initializer=[W],
    )  # fmt: skip
    path = tmp_path / "r.onnx"
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), path)
    return path

