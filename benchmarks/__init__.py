"""Benchmarks: chainrule against PyTorch and JAX (CPU), scikit-learn, a plain NumPy loop and the BLAS limit.

Run everything with ``python -m benchmarks`` (``--quick`` for tiny sizes). Each workload module has a
``run(quick, dtype)`` function returning table rows; the harness alternates contenders within one
process, warms each up first, and reports medians. PyTorch, JAX and scikit-learn are optional: a
contender whose library is missing is skipped (JAX's rows stay in the table, with a note).
"""
