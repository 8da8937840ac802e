"""chainrule sweep: the grid, its split into tasks, the summary, the command line, and the runs on Dask.

The expected numbers come from elsewhere: separate Sequential fits with the same seeds, and the Wilson
intervals Newcombe (1998) tabulates. The Dask tests share one LocalCluster of two worker processes.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import subprocess
import sys
import time
from contextlib import nullcontext

import numpy as np
import pytest

import chainrule as cr
from chainrule import datasets, sweep
from chainrule.cli import main
from chainrule.core.callbacks import Callback

SMALL = ["--layers", "2,2", "--activation", "tanh", "--seeds", "8", "--epochs", "300", "--quiet"]
GRID = ["--lr", "0.5,1.0", "--init", "default,uniform"]


def _xor_spec(**kw) -> sweep.SweepSpec:
    data = datasets.load("xor")
    settings = dict(sizes=(2, 2, 2, 1), activation="tanh", output="sigmoid", loss="bce", X=data.X_train,
                    y=data.y_train, epochs=120)  # fmt: skip
    return sweep.SweepSpec(**{**settings, **kw})


def _same(a: list[sweep.MemberResult], b: list[sweep.MemberResult], tol: float = 1e-12) -> None:
    assert [r.index for r in a] == [r.index for r in b]
    for ra, rb in zip(a, b):
        assert (ra.converged, ra.epochs_to_converge, ra.diverged_epoch) == (rb.converged, rb.epochs_to_converge,
                                                                           rb.diverged_epoch)  # fmt: skip
        np.testing.assert_allclose(ra.loss_curve, rb.loss_curve, rtol=0, atol=tol)


def _sweep(folder, *extra: str) -> tuple[dict, str]:
    """Run the small xor sweep into ``folder``; its results.json and what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["sweep", "xor", *SMALL, *GRID, "--out", str(folder), *extra]) == 0
    return json.loads((folder / "results.json").read_text()), printed.getvalue()


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep") / "here"
    doc, printed = _sweep(folder)
    return folder, doc, printed


def _table(printed: str) -> list[str]:
    """The printed table: the lines from its header to the wall time."""
    lines = printed.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("lr "))
    end = next(i for i, line in enumerate(lines) if line.startswith("wall time"))
    return lines[start:end]


# ------------------------------------------------------------------ in this process
def test_wilson_matches_newcombe_1998():
    """Newcombe (1998), Table I, method 3 (score interval without continuity correction)."""
    published = {(81, 263): (0.2553, 0.3662), (15, 148): (0.0624, 0.1605), (0, 20): (0.0, 0.1611),
                 (1, 29): (0.0061, 0.1718)}  # fmt: skip
    for (k, n), interval in published.items():
        np.testing.assert_allclose(sweep.wilson(k, n), interval, atol=5e-5)
    assert sweep.wilson(20, 20)[1] == 1.0 and all(math.isnan(v) for v in sweep.wilson(0, 0))


def test_cli_sweep_xor_end_to_end(in_process):
    out, doc, printed = in_process
    assert sorted(p.name for p in out.iterdir()) == ["final_loss.png", "loss_curves.png", "results.csv", "results.json"]
    table = _table(printed)
    assert len(table) == 2 + 4 and "converged" in table[0] and "95% CI" in table[0]
    csv_rows = (out / "results.csv").read_text().splitlines()
    assert csv_rows[0] == ",".join(sweep.COLUMNS) and len(csv_rows) == 5
    members = doc["members"]
    assert sorted(m["index"] for m in members) == list(range(32))
    for p, point in enumerate(doc["points"]):
        mine = [m for m in members if m["point"] == p]
        k = sum(m["converged"] for m in mine)
        assert point["n"] == len(mine) == 8 and point["converged"] == k
        assert f"{k}/8" in table[2 + p] and csv_rows[1 + p].split(",")[3] == str(k)
        epochs = [m["epochs_to_converge"] for m in mine if m["converged"]]
        if epochs:
            assert point["epochs_median"] == np.median(epochs)
        assert point["loss_median"] == pytest.approx(np.median([m["final_loss"] for m in mine]), abs=1e-15)
    assert doc["curve_epochs"] == list(range(3, 301, 3))


class _Checks(Callback):
    """Every 3 epochs: the epoch's loss, and whether every output is within 0.05 of its target."""

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X, self.y, self.curve, self.within = X, y, [], []

    def on_epoch_end(self, model, epoch, logs):
        if (epoch + 1) % 3 == 0:
            self.curve.append(logs["loss"])
            self.within.append(np.abs(model.predict(self.X).ravel() - self.y).max() <= 0.05)


def test_members_match_separate_sequential_fits(in_process):
    """Each member trained again alone, as a Sequential with its seed: losses to 1e-10, same convergence."""
    _, doc, _ = in_process
    data = datasets.load("xor")
    for m in doc["members"]:
        init = None if m["init"] == "default" else m["init"]
        net = cr.mlp([2, 2, 2, 1], "tanh", "sigmoid", init=init, seed=m["seed"])
        checks = _Checks(data.X_train, data.y_train)
        hist = net.fit(data.X_train, data.y_train, loss="bce", optimizer=cr.SGD(lr=m["lr"]), epochs=300,
                       callbacks=[checks])  # fmt: skip
        assert abs(m["final_loss"] - hist["loss"][-1]) <= 1e-10, m
        np.testing.assert_allclose(m["loss_curve"], checks.curve, rtol=0, atol=1e-10)
        stays = 0  # the first check from which the member stays within tolerance to the end
        for i, within in enumerate(checks.within):
            stays = (stays or 3 * (i + 1)) if within else 0
        assert (m["converged"], m["epochs_to_converge"]) == (stays > 0, stays or None), m


@pytest.mark.parametrize("batch_size", [None, 2])
def test_splits_give_identical_results(batch_size):
    _, members = sweep.grid([0.5, 2.0], [None, "uniform"], range(4))
    spec = _xor_spec(batch_size=batch_size, momentum=0.5, epochs=60)
    whole = sweep.run_tasks(spec, sweep.split(members, 1))
    for n_tasks in (3, 16):
        _same(sweep.run_tasks(spec, sweep.split(members, n_tasks)), whole)
    shuffled = sweep.split(members[::-1], 4)  # members in another order within and across tasks
    _same(sweep.run_tasks(spec, shuffled), whole)


def test_in_process_progress_counts_epochs():
    _, members = sweep.grid([0.5], [None], range(3))
    ticks: list[int] = []
    sweep.run_tasks(_xor_spec(epochs=250), sweep.split(members, 2), progress=ticks.append)
    assert sum(ticks) == 2 * 250 and ticks[:3] == [2, 2, 2]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lr", "0,1"], "--lr values must be positive"),
        (["--init", "glorot_unifrom"], "glorot_uniform"),
        (["--seeds", "0"], "--seeds must be positive"),
        (["--workers", "0"], "--workers must be positive"),
        (["--loss", "mse"], "does not fit classification"),
    ],
)
def test_user_mistakes_are_one_line(tmp_path, capsys, args, message):
    assert main(["sweep", "xor", "--seeds", "2", "--epochs", "5", "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_refuses_non_empty_out_without_force(tmp_path, capsys):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "keep.txt").write_text("mine")
    argv = ["sweep", "xor", "--seeds", "2", "--epochs", "5", "--out", str(tmp_path / "o"), "--no-plots", "--quiet"]
    assert main(argv) == 2 and "--force" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["keep.txt", "results.csv", "results.json"]


def test_missing_dask_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now raises ImportError
    for where in (["--workers", "2"], ["--scheduler", "tcp://127.0.0.1:8786"]):
        assert main(["sweep", "xor", "--seeds", "2", "--epochs", "5", "--out", str(tmp_path / "o"), *where]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and 'pip install "chainrule[distributed]"' in err


def test_sweeps_in_process_without_dask(tmp_path):
    code = (
        "import sys; sys.modules['dask'] = sys.modules['distributed'] = None\n"
        "import chainrule, chainrule.sweep\n"
        "from chainrule.cli import main\n"
        f"assert main(['sweep', 'xor', '--seeds', '2', '--epochs', '5', '--quiet', '--no-plots', '--out', "
        f"{str(tmp_path / 'o')!r}]) == 0\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------ on Dask
@pytest.fixture(scope="module")
def client():
    pytest.importorskip("distributed", reason='the Dask tests need dask.distributed: pip install "chainrule[test]"')
    cluster = sweep.local_cluster(2)  # processes=True, n_workers=2, threads_per_worker=1
    from distributed import Client

    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_local_cluster_has_two_one_thread_workers(client):
    assert sorted(client.nthreads().values()) == [1, 1]
    pids = client.run(os.getpid)
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()
    env = client.run(lambda: (os.environ.get("OPENBLAS_NUM_THREADS"), os.environ.get("OMP_NUM_THREADS")))
    assert set(env.values()) == {("1", "1")}


@pytest.mark.parametrize("where", ["--workers", "--scheduler"])
def test_cli_on_dask_matches_in_process(tmp_path, in_process, client, monkeypatch, where):
    if where == "--workers":  # the command's own LocalCluster is the shared one, left open when the command ends
        started = []
        monkeypatch.setattr(sweep._runner, "local_cluster", lambda n: started.append(n) or nullcontext(client.cluster))
        extra = ["--workers", "2"]
    else:
        extra = ["--scheduler", client.scheduler.address, "--tasks", "5"]
    _, here, printed_here = in_process
    there, printed_there = _sweep(tmp_path / "there", *extra, "--no-plots")
    assert "on Dask (2 workers)" in printed_there
    assert f"{5 if where == '--scheduler' else 2} task(s)" in printed_there
    assert where == "--scheduler" or started == [2]
    assert _table(printed_here) == _table(printed_there)
    assert here["points"] == there["points"]
    for a, b in zip(here["members"], there["members"]):
        assert a["index"] == b["index"] and a["converged"] == b["converged"]
        np.testing.assert_allclose(a["loss_curve"], b["loss_curve"], rtol=0, atol=1e-12)


def test_a_worker_that_dies_is_replaced_and_its_task_run_again(tmp_path, client):
    marker = tmp_path / "killed"
    train = sweep.train_task

    def dies_once(spec, task, progress=None):  # pickled by value, so the workers need not import this file
        if task.id == 1 and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)  # the worker process dies mid-sweep, without a word
        return train(spec, task, progress)

    _, members = sweep.grid([0.5, 1.0], [None], range(6))
    spec = _xor_spec()
    tasks = sweep.split(members, 4)
    ticks: list[int] = []
    results = sweep.run_tasks(spec, tasks, client=client, progress=ticks.append, task_fn=dies_once)
    dead = int(marker.read_text())
    assert dead != os.getpid()
    assert [r.index for r in results] == list(range(12)) and ticks == [1] * 4
    _same(results, sweep.run_tasks(spec, sweep.split(members, 1)))
    client.wait_for_workers(2, timeout=30)  # the nanny starts a new worker in place of the dead one
    assert dead not in client.run(os.getpid).values()


def test_unreachable_scheduler_fails_fast_in_one_line(tmp_path, capsys):
    pytest.importorskip("distributed", reason="needs dask.distributed")
    start = time.perf_counter()
    argv = ["sweep", "xor", "--seeds", "2", "--epochs", "5", "--out", str(tmp_path / "o")]
    assert main([*argv, "--scheduler", "tcp://127.0.0.1:1", "--timeout", "1"]) == 2
    assert time.perf_counter() - start < 10
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "tcp://127.0.0.1:1" in err and "1 s" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")  # 20 epochs are enough to compare the two searches
def test_gridsearchcv_of_mlpclassifier_runs_on_dask(client):
    joblib = pytest.importorskip("joblib")
    from distributed import get_task_stream
    from sklearn.datasets import make_classification
    from sklearn.model_selection import GridSearchCV

    from chainrule.sklearn import MLPClassifier

    X, y = make_classification(n_samples=120, n_features=6, random_state=0)
    grid = {"learning_rate_init": [1e-3, 3e-2]}

    def search() -> GridSearchCV:
        return GridSearchCV(MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0), grid, cv=2)

    here = search().fit(X, y)
    with get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        there = search().fit(X, y)
    assert any("fit_and_score" in task["key"] for task in stream.data)  # the fits ran on the workers
    assert there.best_params_ == here.best_params_
    np.testing.assert_array_equal(there.cv_results_["mean_test_score"], here.cv_results_["mean_test_score"])
