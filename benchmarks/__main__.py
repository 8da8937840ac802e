"""``python -m benchmarks [--quick] [--only xor,mnist,…]``: run the workloads and print one table."""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from . import _jax
from ._harness import format_table, header

# (module, dtype) in the order of the workloads; float64 versions of 1 and 2 are workload 6, and
# workload 7 compares the scikit-learn estimators; workload 8 trains ensembles; workload 9 is lbfgs
WORKLOADS = [
    ("xor", "float32"),
    ("mnist", "float32"),
    ("digits", "float64"),
    ("sweep", "float32"),
    ("memory", "float32"),
    ("xor", "float64"),
    ("mnist", "float64"),
    ("sklearn_estimators", "float32"),
    ("ensemble", "float64"),
    ("defaults", "float64"),
    ("sklearn_lbfgs", "float64"),
    ("mnist1d_layers", "float32"),
    ("cnn", "float32"),
    ("cnn", "float64"),
    ("cnn_accuracy", "float32"),
    ("engine", "float64"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repetition: checks the runner works")
    parser.add_argument("--only", default="", help="comma-separated workload modules, e.g. xor,mnist")
    args = parser.parse_args(argv)
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    known = {name for name, _ in WORKLOADS}
    if only - known:
        parser.error(f"unknown workload(s) {sorted(only - known)}; choose from {sorted(known)}")
    print(header())
    print("jax: " + (_jax.threads_note() if _jax.load() is not None else _jax.SKIP_NOTE))
    print("ratio column: chainrule's median time / the contender's (below 1: chainrule is faster)\n", flush=True)
    rows = []
    for name, dtype in WORKLOADS:
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        module = importlib.import_module(f"benchmarks.{name}")
        new = module.run(quick=args.quick, dtype=dtype)
        rows += new
        print(format_table(new), f"\n({name} {dtype}: {time.perf_counter() - t0:.1f} s)\n", flush=True)
    print("all workloads:\n" + format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
