"""Shared helpers for the allocation engine tests (no app, no database)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = (REPO / ".." / "shared" / "data" / "pabulib").resolve()


def data_file(name: str) -> Path:
    return DATA / name
