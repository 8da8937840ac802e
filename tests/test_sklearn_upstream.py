"""scikit-learn's own MLP tests, run against chainrule's estimators.

The installed scikit-learn's ``sklearn/neural_network/tests/test_mlp.py`` is read, its one import of
``MLPClassifier, MLPRegressor`` is swapped for chainrule's, and its tests are collected here as if they
were this module's. The tests that read scikit-learn's private internals or its random streams are
listed, each with its reason, in ``sklearn_upstream_skips.txt`` and skipped; every other one must pass.
"""

from pathlib import Path

import pytest

sklearn = pytest.importorskip("sklearn")

SOURCE = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
THEIRS = "from sklearn.neural_network import MLPClassifier, MLPRegressor\n"
OURS = "from chainrule.sklearn import MLPClassifier, MLPRegressor\n"
SKIPS = dict(
    line.split(": ", 1)
    for line in (Path(__file__).parent / "sklearn_upstream_skips.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
)


def _load_upstream() -> dict:
    """The upstream tests with the import swapped, compiled under their own file name (tracebacks point there)."""
    if not SOURCE.exists():
        pytest.skip(f"this scikit-learn ({sklearn.__version__}) ships no {SOURCE}", allow_module_level=True)
    text = SOURCE.read_text()
    if text.count(THEIRS) != 1:
        raise AssertionError(f"{SOURCE} no longer imports the estimators as {THEIRS.strip()!r}; update THEIRS.")
    namespace = {"__name__": __name__}
    exec(compile(text.replace(THEIRS, OURS), str(SOURCE), "exec"), namespace)
    return namespace


def _skipped(name: str, test):
    reason = SKIPS.get(name)
    return test if reason is None else pytest.mark.skip(reason=f"scikit-learn's own test: {reason}")(test)


for _name, _test in _load_upstream().items():
    if _name.startswith("test_") and callable(_test):
        globals()[_name] = _skipped(_name, _test)


def test_every_skip_names_an_upstream_test():
    """A skip whose test scikit-learn no longer has is stale: drop it from the list."""
    stale = sorted(set(SKIPS) - {name for name in globals() if name.startswith("test_")})
    assert not stale, f"sklearn_upstream_skips.txt names tests that {SOURCE} does not have: {stale}"
