"""Sweeps: train every point of a grid lr × init × seed of one architecture, and count how often it converges.

    from chainrule import sweep
    points, members = sweep.grid([0.1, 0.5], [None, "uniform"], range(100))   # None: the layers' default init
    spec = sweep.SweepSpec((2, 2, 2, 1), "tanh", "sigmoid", "bce", X, y, epochs=5000)
    tasks = sweep.split(members, 4)                     # 4 stacked Ensembles of 100 members each
    results = sweep.run_tasks(spec, tasks)              # one MemberResult per member, by index
    rows = sweep.summarize(points, members, results)    # converged k/n, Wilson 95 % interval, quantiles
    print(sweep.table(rows))

Each task is one :class:`~chainrule.Ensemble` of some of the members: member i starts from the weights
of ``Sequential(<the layers>, seed=seed_i)`` and, trained full batch, ends as that network would alone,
so the results do not depend on how the grid is split into tasks, nor where the tasks run. Every
``max(1, epochs // 100)`` epochs each member's convergence is checked (every output within ``tol`` of
its target) and its loss sampled.

On Dask (``pip install "chainrule[distributed]"``), the same tasks run on a cluster's workers:

    with sweep.dask_client(workers=4) as client:                   # a LocalCluster: 4 processes, 1 thread each
        results = sweep.run_tasks(spec, tasks, client=client)
    with sweep.dask_client(scheduler="tcp://host:8786") as client: # a running cluster (10 s to answer)
        ...

Each worker's BLAS pool is held to one thread. A task whose worker dies is run again by Dask, and the
results are kept by task id, so every member is reported once. The command line is ``chainrule sweep``.

scikit-learn's searches run on Dask too, through joblib's dask backend; ``MLPClassifier`` pickles, so
each fit of the search runs on a worker:

    import joblib
    from distributed import Client
    from sklearn.model_selection import GridSearchCV
    from chainrule.sklearn import MLPClassifier

    client = Client("tcp://host:8786")        # or Client(LocalCluster(n_workers=4, threads_per_worker=1))
    search = GridSearchCV(MLPClassifier(max_iter=200), {"learning_rate_init": [1e-3, 1e-2]}, cv=3)
    with joblib.parallel_backend("dask"):
        search.fit(X, y)
"""

from ._grid import Member, MemberResult, SweepSpec, Task, grid, split, train_task
from ._runner import dask_client, default_tasks, local_cluster, run_tasks
from ._summary import COLUMNS, summarize, table, to_csv, to_json, wilson

__all__ = [
    "COLUMNS",
    "Member",
    "MemberResult",
    "SweepSpec",
    "Task",
    "dask_client",
    "default_tasks",
    "grid",
    "local_cluster",
    "run_tasks",
    "split",
    "summarize",
    "table",
    "to_csv",
    "to_json",
    "train_task",
    "wilson",
]
