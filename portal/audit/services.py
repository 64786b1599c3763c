"""Record and read audit entries."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from portal.audit.models import AuditEntry


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def record(
    session: Session,
    action: str,
    object_type: str,
    object_id: object = None,
    *,
    municipality_id: int | None = None,
    region_cut: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor: Any = None,
) -> AuditEntry:
    """Add one audit entry for a staff write; the caller commits with the write itself."""
    user = actor
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user
    entry = AuditEntry(
        user_id=getattr(user, "id", None),
        actor=getattr(user, "email", None) or "system",
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        municipality_id=municipality_id,
        region_cut=region_cut,
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        ip_address=request.remote_addr if has_request_context() else None,
    )
    session.add(entry)
    return entry


def changes(
    obj: object, fields: list[str], values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply values to obj and return (before, after) of the fields that changed."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for field in fields:
        if field not in values:
            continue
        old, new = getattr(obj, field), values[field]
        if old != new:
            before[field], after[field] = old, new
            setattr(obj, field, new)
    return before, after


def entries_for_municipality(municipality_id: int) -> Select[tuple[AuditEntry]]:
    """Select a municipality's entries, newest first."""
    return (
        select(AuditEntry)
        .where(AuditEntry.municipality_id == municipality_id)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    )


def entries_for_region(region_cut: str) -> Select[tuple[AuditEntry]]:
    """Select a region's entries, newest first."""
    return (
        select(AuditEntry)
        .where(AuditEntry.region_cut == region_cut)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    )


def all_entries() -> Select[tuple[AuditEntry]]:
    """Select every entry, newest first (platform admins)."""
    return select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
