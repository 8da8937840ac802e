"""Every size a model file declares is checked before it is allocated, and prediction works in chunks: a small
hostile file is refused (ModelFileError, exit 2) or served within a bounded memory. Each file is made here from
a real model with one size changed, and run in a subprocess under a memory cap (``resource.setrlimit``) that
reports its own peak, compared with the peak of the same command on the untouched file."""

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import chainrule as cr

resource = pytest.importorskip("resource")  # POSIX only
CAP = 3 << 30  # address space: numpy's and BLAS's reservations fit, a gigabyte-sized array does not
MARGIN_MB = 64  # the goal: a file's real data twice, plus 64 MB
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
RUN = """
import resource, sys
from chainrule.cli import main
try:
    code = main(sys.argv[1:])
finally:
    print(f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
sys.exit(code)
"""


def command(*args) -> tuple[int, str, float]:
    """(exit status, the error line, peak resident memory in MB) of ``chainrule args`` under the cap."""

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))

    env = {**os.environ, "PYTHONPATH": SRC, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", RUN, *map(str, args)], capture_output=True, text=True,
                          preexec_fn=cap, env=env, timeout=300)  # fmt: skip
    lines = done.stderr.splitlines()
    peak = float(lines[-1].split()[1]) / 1024
    errors = [line for line in lines if "error" in line or "Error" in line]
    return done.returncode, errors[-1] if errors else "", peak


def edited(folder, model, name, edit):
    """``model`` saved, then its model.json changed by ``edit``; the arrays stay as they were."""
    model.save(folder / "base.npz")
    with zipfile.ZipFile(folder / "base.npz") as zf:
        doc = json.loads(zf.read("model.json"))
        members = {n: zf.read(n) for n in zf.namelist() if n != "model.json"}
    edit(doc["config"])
    with zipfile.ZipFile(folder / name, "w") as zf:
        zf.writestr("model.json", json.dumps(doc))
        for n, data in members.items():
            zf.writestr(n, data)
    return folder / name


def conv(config, **sizes):
    config["layers"][0].update(sizes)


def cnn():
    return cr.Sequential(cr.Conv1D(1, 2, 3, padding=1), cr.GlobalAvgPool1D(), cr.Dense(2, 1), input_shape=(1, 8),
                         seed=0)  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    np.savetxt(folder / "rows.csv", np.random.default_rng(0).standard_normal((30, 8)), delimiter=",")
    np.savetxt(folder / "many.csv", np.random.default_rng(1).standard_normal((500, 8)), delimiter=",")
    cnn().save(folder / "good.npz")
    code, _, base = command("predict", folder / "good.npz", folder / "rows.csv", "--output", os.devnull)
    assert code == 0
    return folder, base


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        ("kernel_1e8", lambda c: conv(c, kernel_size=10**8), "200,000,000 parameters"),
        ("kernel_1e9", lambda c: conv(c, kernel_size=10**9), "2,000,000,000 parameters"),
        ("padding_1e6", lambda c: conv(c, padding=10**6), "one sample takes"),
        ("padding_3e6", lambda c: conv(c, padding=3 * 10**6), "one sample takes"),
        ("stride_1e12", lambda c: conv(c, stride=10**12), "sizes above"),
        ("input_3e8", lambda c: c.update(input_shape=[1, 3 * 10**8]), "its input_shape is [1, 300000000]"),
        ("widths", lambda c: c["layers"][2].update(n_in=10**5, n_out=10**5), "10,000,000,000 parameters"),
    ],
)
def test_a_declared_size_beyond_the_budget_is_refused_before_it_is_allocated(files, name, edit, message):
    folder, base = files
    path = edited(folder, cnn(), f"{name}.npz", edit)
    assert path.stat().st_size < 4000
    code, error, peak = command("evaluate" if name == "widths" else "predict", path, folder / "rows.csv")
    assert code == 2 and "is not a valid chainrule model" in error and message in error, error
    assert peak <= base + MARGIN_MB, (peak, base)
    with pytest.raises(cr.ModelFileError):
        cr.load(path)


@pytest.mark.parametrize(
    ("rows", "edit"),
    [
        ("rows.csv", lambda c: conv(c, padding=3 * 10**5)),  # 30 rows × 3.6 M values: 860 MB at once
        ("rows.csv", lambda c: conv(c, dilation=10**6, padding=10**6)),
        ("many.csv", lambda c: conv(c, padding=3 * 10**4)),  # 500 rows × 360 k values: 1.4 GB at once
    ],
    ids=["padding_3e5", "dilation_1e6", "padding_3e4_500_rows"],
)
def test_a_large_padding_that_loads_is_predicted_in_chunks(files, rows, edit):
    """A chunk of rows takes at most 4 M values (32 MB) at any layer."""
    folder, base = files
    path = edited(folder, cnn(), "large.npz", edit)
    out = folder / "out.csv"
    code, error, peak = command("predict", path, folder / rows, "--output", out)
    assert code == 0, error
    data_mb = (folder / rows).stat().st_size / 2**20
    assert peak <= base + 2 * data_mb + MARGIN_MB, (peak, base)
    model = cr.load(path)
    X = np.loadtxt(folder / rows, delimiter=",")[:3, None, :]
    expected = model.predict(X).ravel()  # three rows at once: the reference the chunks must match
    got = np.loadtxt(out, skiprows=1)[:3]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
