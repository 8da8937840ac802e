"""Shared test settings: a hypothesis profile that keeps the suite fast and deterministic, and one BLAS thread."""

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
