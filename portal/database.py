"""Declarative base with a naming convention, shared column types and mixins."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from time import monotonic
from typing import Any

from flask import current_app, has_request_context, request
from sqlalchemy import DateTime, MetaData, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, scoped_session
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


REQUEST_CLOCK = "portal.database_now"  # WSGI environ key: the database's clock, as reckoned
CLOCK_READ_EVERY = 10.0  # seconds between two readings of the database's clock, per process


def request_now() -> datetime:
    """Return the time this request goes by: the database's clock when the request has set it
    (on PostgreSQL the public round lookup does, see `public_round_of` and `shared_now`), else
    this machine's. Every instance then shows whether voting is open by the same clock."""
    if has_request_context():
        found = request.environ.get(REQUEST_CLOCK)
        if found is not None:
            return found  # type: ignore[no-any-return]
    return utcnow()


def database_clock() -> Any:
    """The PostgreSQL clock as a column (read when the statement runs), for queries that
    return it alongside what they select."""
    return func.clock_timestamp(type_=UTCDateTime())


def shared_now(session: Session) -> datetime:
    """Return the database's clock as this process reckons it, without a round trip: on
    PostgreSQL the clock is read at most every ``CLOCK_READ_EVERY`` seconds and carried forward
    by this machine's monotonic clock, which no change of the wall clock moves (an instance whose
    wall clock is wrong still goes by the database's). The reckoning is off by half the time the
    reading took at most (a round trip or two, and the pool's checkout), plus the drift of a few
    seconds: enough for the pages; what decides whether a ballot counts reads the clock itself
    (`database_now`, and the ballot's locking statement).
    On SQLite, this machine's clock."""
    if session.get_bind().dialect.name != "postgresql":
        return utcnow()
    reading = current_app.extensions.get("database_clock")
    now = monotonic()
    if reading is None or now - reading[1] > CLOCK_READ_EVERY:
        clock = session.scalar(select(database_clock()))
        after = monotonic()
        reading = (clock, (now + after) / 2)
        current_app.extensions["database_clock"] = reading
        now = after
    return reading[0] + timedelta(seconds=now - reading[1])  # type: ignore[no-any-return]


def reads_only(session: Session | scoped_session[Session]) -> None:
    """Say that this request only reads (a vote-day page for an anonymous voter): on PostgreSQL
    its statements then run outside a transaction, each on its own, which is what READ
    COMMITTED shows them anyway, sparing the `BEGIN` and the closing `ROLLBACK` round trips of
    every request (psycopg sends neither in autocommit; the pool resets the connection when it
    comes back). Too late, and a no-op, once the session has begun; SQLite has no round trips
    to spare. A write in such a request would commit statement by statement: never call it
    where anything may be written."""
    if isinstance(session, scoped_session):
        session = session()
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def database_now(session: Session) -> datetime:
    """Return the current time by the database's clock on PostgreSQL, which every portal
    instance shares, so that two instances whose clocks differ still close voting at the same
    instant; SQLite lives on the one machine, whose clock this is anyway."""
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(select(database_clock()))  # type: ignore[no-any-return]
    return utcnow()


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as UTC and always give them back aware (SQLite forgets zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; attach a zone first")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base class of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    """Creation and update times."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: object, connection_record: object) -> None:
    """Turn on WAL, foreign keys and a busy timeout for every SQLite connection."""
    import sqlite3

    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    with contextlib.suppress(sqlite3.OperationalError):  # in-memory databases have no WAL
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
