"""Shared helpers for the allocation engine tests (no app, no database)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = (REPO / ".." / "shared" / "data" / "pabulib").resolve()


def data_file(name: str) -> Path:
    return DATA / name


# The lean approval runs of MES have two numeric kernels: pure Python, and NumPy (used when it
# is installed and the candidates have many supporters). Tests that check those runs take
# both, whatever the size of the instance.
KERNELS = ("python", "numpy")


@contextmanager
def kernel(name: str) -> Iterator[None]:
    """Make every MES built inside use the named kernel."""
    from portal.core import rules

    saved = rules.NUMPY_MIN_VOTERS, rules.NUMPY_MIN_TOTAL
    rules.NUMPY_MIN_VOTERS = rules.NUMPY_MIN_TOTAL = 0 if name == "numpy" else 10**18
    try:
        yield
    finally:
        rules.NUMPY_MIN_VOTERS, rules.NUMPY_MIN_TOTAL = saved
