"""Training tests run with one BLAS thread: on a machine whose cores are busy (CI, or other
test runs), OpenBLAS's own thread pool waits for descheduled threads at every matrix product
(a 0.3 ms step takes 50 ms), which made these tests ten times slower without testing anything
more. threadpoolctl comes with scikit-learn, which the test extra installs."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    try:
        import scipy.linalg.cython_blas  # noqa: F401 (loads the BLAS graphnn calls)
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
