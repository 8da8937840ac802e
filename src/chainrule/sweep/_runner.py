"""Running a sweep's tasks: in this process, or on a Dask cluster (a LocalCluster, or a running scheduler).

Dask is imported only here, and only when a cluster is asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ._grid import MemberResult, SweepSpec, Task, train_task

# Every worker's BLAS and OpenMP pools hold one thread, so N workers use N cores (set before NumPy loads).
ONE_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TaskFn = Callable[..., list[MemberResult]]


def distributed() -> Any:
    """The ``distributed`` module, or an ImportError naming the extra that installs it."""
    try:
        import distributed
    except ImportError:
        raise ImportError(
            "running a sweep on Dask needs dask.distributed, which is not installed: "
            'pip install "chainrule[distributed]"'
        ) from None
    return distributed


def local_cluster(n_workers: int) -> Any:
    """A ``distributed.LocalCluster`` of ``n_workers`` processes on this machine, one thread each."""
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"n_workers must be a positive integer; received n_workers={n_workers!r}.")
    return distributed().LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
        env=ONE_THREAD_ENV,
    )


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None, timeout: float = 10.0) -> Iterator[Any]:
    """A ``distributed.Client``: on a new LocalCluster of ``workers`` processes (closed on exit), or connected
    to the running ``scheduler`` (waiting at most ``timeout`` seconds for it, and as long for a worker).
    None when neither is given."""
    if workers is not None and scheduler is not None:
        raise ValueError("give workers (a new local cluster) or scheduler (a running one), not both.")
    if workers is None and scheduler is None:
        yield None
        return
    dd = distributed()
    if scheduler is None:
        with local_cluster(workers) as cluster, dd.Client(cluster) as client:  # type: ignore[arg-type]
            yield client
        return
    try:
        client = dd.Client(scheduler, timeout=timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        raise ConnectionError(
            f"no Dask scheduler answered at {scheduler} within {timeout:g} s ({type(exc).__name__})."
        ) from None
    with client:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, asyncio.TimeoutError):
            raise ConnectionError(f"the Dask scheduler at {scheduler} has no workers ({timeout:g} s waited).") from None
        yield client


def default_tasks(n_members: int, client: Any = None) -> int:
    """One task in this process; on Dask, one per worker thread.

    An epoch of an Ensemble costs about the same few NumPy calls whatever its number of members, so
    fewer, larger tasks are faster; more tasks (``split``) balance uneven workers and lose less work
    when a worker dies.
    """
    if client is None:
        return 1
    return max(1, min(n_members, sum(client.nthreads().values())))


def run_tasks(
    spec: SweepSpec,
    tasks: Sequence[Task],
    client: Any = None,
    progress: Callable[[int], Any] | None = None,
    task_fn: TaskFn = train_task,
) -> list[MemberResult]:
    """Train every task (``task_fn(spec, task)``) and return one result per member, ordered by member index.

    With ``client`` None the tasks run here, one after another, and ``progress`` gets the epochs of each
    chunk; with a ``distributed.Client`` they run on its workers and ``progress`` gets 1 per finished task.
    Results are kept by task id, so a task that Dask runs again (its worker died) is reported once.
    """
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        raise ValueError(f"task ids must be distinct; received {ids}.")
    if client is None:
        by_task = {t.id: task_fn(spec, t, progress) for t in tasks}
    else:
        by_task = _on_dask(client, spec, tasks, task_fn, progress)
    return _collect(tasks, by_task)


def _one_thread(task_fn: TaskFn, spec: SweepSpec, task: Task) -> list[MemberResult]:
    """``task_fn(spec, task)`` with the BLAS pools at one thread (where threadpoolctl is installed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return task_fn(spec, task)
    with threadpool_limits(limits=1):
        return task_fn(spec, task)


def _on_dask(client, spec, tasks, task_fn, progress) -> dict[int, list[MemberResult]]:
    dd = distributed()
    run = uuid.uuid4().hex[:8]
    futures = {
        client.submit(_one_thread, task_fn, spec, t, key=f"chainrule-sweep-{run}-{t.id}", pure=False): t.id
        for t in tasks
    }
    by_task: dict[int, list[MemberResult]] = {}
    try:
        for future in dd.as_completed(list(futures)):
            tid = futures[future]
            if tid in by_task:
                continue
            try:
                by_task[tid] = future.result()
            except dd.KilledWorker as exc:
                raise RuntimeError(f"sweep task {tid} was lost: every worker that ran it died ({exc}).") from None
            if progress is not None:
                progress(1)
    finally:
        client.cancel(list(futures))
    return by_task


def _collect(tasks: Sequence[Task], by_task: dict[int, list[MemberResult]]) -> list[MemberResult]:
    """The results of every member exactly once, checked against the tasks, ordered by member index."""
    out: dict[int, MemberResult] = {}
    for task in tasks:
        got = by_task.get(task.id)
        want = [m.index for m in task.members]
        seen = None if got is None else [r.index for r in got]
        if seen != want:
            raise RuntimeError(f"sweep task {task.id} returned results for members {seen}, not {want}.")
        for r in got or ():
            if r.index in out:
                raise RuntimeError(f"member {r.index} appears in more than one task.")
            out[r.index] = r
    return [out[i] for i in sorted(out)]
