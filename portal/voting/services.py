"""Eligibility, casting ballots (online and on paper), results and their publication.

Ballot secrecy: a `Participation` says that a voter (a keyed hash of the RUT) took part and,
while voting is open, which ballot is theirs so that they can replace it. A `Ballot` carries no
voter identifier, a random id, and the coarse facts the results need (district, age band,
channel). Publishing the results erases the link and the times, so from then on no one, staff
with database access included, can join a voter to their choices; the receipt code, known only
to the voter, still finds the ballot.
"""

from __future__ import annotations

import random
import secrets
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Select, and_, bindparam, cast, delete, func, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, aliased, lazyload

from portal.audit.services import record
from portal.budgeting.models import (
    Ballot,
    BallotChoice,
    CensusEntry,
    DistrictMode,
    Method,
    PaperConflict,
    Participation,
    Phase,
    Proposal,
    Round,
    random_id,
)
from portal.budgeting.phases import current_phase
from portal.budgeting.services import ballot_projects, take_sqlite_writer_lock
from portal.database import database_clock, database_now, utcnow
from portal.rut import InvalidRut, keyed_hash, normalize_rut
from portal.voting.ballots import Method as BallotMethod
from portal.voting.ballots import Option, Problem, Rules, Section, check_section
from portal.voting.models import ListResult, ResultLine, VotingSite

SANTIAGO = ZoneInfo("America/Santiago")
AGE_BANDS = [(14, 17), (18, 29), (30, 44), (45, 59), (60, None)]
RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L, U: easy to read aloud
COMUNA = "comuna"


class VoteRefused(Exception):
    """A ballot that cannot be cast; `code` names the reason for the message."""

    def __init__(self, code: str, **values: Any) -> None:
        super().__init__(code)
        self.code = code
        self.values = values


# ----------------------------------------------------------------------------- voters


@dataclass(frozen=True)
class Voter:
    """Someone whose eligibility for one round has been checked."""

    round_id: int
    voter_hash: str
    district_id: int | None
    age_band: str | None
    self_declared: bool = False

    def to_session(self) -> dict[str, Any]:
        """Return what the voter session keeps."""
        return {
            "h": self.voter_hash,
            "d": self.district_id,
            "a": self.age_band,
            "x": self.self_declared,
        }

    @classmethod
    def from_session(cls, round_id: int, data: Mapping[str, Any]) -> Voter:
        """Rebuild a voter from the voter session."""
        return cls(round_id, str(data["h"]), data.get("d"), data.get("a"), bool(data.get("x")))


def age_reference(round_: Round) -> date:
    """Return the day at which age counts: the round's setting, else the day voting closes."""
    if round_.age_reference_date is not None:
        return round_.age_reference_date
    # The last moment of voting: a round that closes at 00:00 closes on the day before.
    return (round_.results_start - timedelta(microseconds=1)).astimezone(SANTIAGO).date()


def age_on(birth: date, day: date) -> int:
    """Return a person's age in whole years on a day."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def age_band(age: int | None) -> str | None:
    """Return the age band used in turnout figures and exports, e.g. '18-29' or '60+'."""
    if age is None:
        return None
    for low, high in AGE_BANDS:
        if high is None and age >= low:
            return f"{low}+"
        if high is not None and low <= age <= high:
            return f"{low}-{high}"
    return f"<{AGE_BANDS[0][0]}"


def voter_hash_of(rut: str) -> str | None:
    """Return the keyed hash of a RUT, or None when it is not a valid RUT."""
    try:
        return keyed_hash(normalize_rut(rut), "rut")
    except InvalidRut:
        return None


def _census_age(round_: Round, birth_date: date | None) -> int | None:
    """Return a census voter's age for the round (None without a birth date); too young to
    vote raises VoteRefused('too-young')."""
    age = age_on(birth_date, age_reference(round_)) if birth_date else None
    if age is not None and age < round_.min_age:
        raise VoteRefused("too-young", age=round_.min_age)
    return age


def _census_voter(round_: Round, entry: CensusEntry) -> Voter:
    age = _census_age(round_, entry.birth_date)
    if (
        entry.district_id is None
        and round_.districts
        and round_.district_mode != DistrictMode.DISTRICT_AND_COMUNA.value
    ):
        raise VoteRefused("no-district")
    return Voter(round_.id, entry.rut_hash, entry.district_id, age_band(age))


def _still_eligible(
    round_: Round, voter: Voter, entry: tuple[date | None, int | None] | None
) -> None:
    """Refuse an online ballot when the census changed since the voter's check: their census
    entry ``entry`` (birth date, district; None when there is none) is gone, or now gives
    another district or age band or too young an age (a voter's session lasts hours, and the
    municipality may correct the census during voting), or a resident who declared themselves
    is in it now. The round's districts cannot change once voting is open, so a district the
    check accepted stays acceptable."""
    if voter.self_declared:
        if entry is None:
            return
        raise VoteRefused("census-changed")  # in the census now: checked against it
    if entry is None:
        raise VoteRefused("census-changed")
    birth_date, district_id = entry
    try:
        age = _census_age(round_, birth_date)
    except VoteRefused:
        raise VoteRefused("census-changed") from None
    if district_id != voter.district_id or age_band(age) != voter.age_band:
        raise VoteRefused("census-changed")


@cache
def _census_entry_statement() -> Select[tuple[CensusEntry]]:
    """Built once, on first use (see `public_round_statement`)."""
    return select(CensusEntry).where(
        CensusEntry.round_id == bindparam("round_id"),
        CensusEntry.rut_hash == bindparam("rut_hash"),
    )


def census_entry(session: Session, round_: Round, voter_hash: str) -> CensusEntry | None:
    """Find a voter's census entry in a round."""
    return session.scalar(
        _census_entry_statement(), {"round_id": round_.id, "rut_hash": voter_hash}
    )


def check_census(
    session: Session, round_: Round, rut: str, birth_date: date | None, serial: str | None
) -> Voter | None:
    """Check a RUT and its second fact against the census; None for any wrong answer.

    Raises VoteRefused('too-young') only once both facts were right.
    """
    from portal.budgeting.census import serial_hash

    voter_hash = voter_hash_of(rut)
    if voter_hash is None:
        return None
    entry = census_entry(session, round_, voter_hash)
    if entry is None:
        return None
    matched = False
    if birth_date is not None and entry.birth_date is not None:
        matched = entry.birth_date == birth_date
    if not matched and serial and entry.serial_hash is not None:
        matched = secrets.compare_digest(entry.serial_hash, serial_hash(serial))
    if not matched:
        return None
    return _census_voter(round_, entry)


def check_linked_account(session: Session, round_: Round, user: Any) -> Voter | None:
    """Check the census for a signed-in resident whose account holds their RUT's hash."""
    if not getattr(user, "rut_hash", None):
        return None
    entry = census_entry(session, round_, user.rut_hash)
    if entry is None:
        return None
    return _census_voter(round_, entry)


def link_account(session: Session, user: Any, voter: Voter) -> bool:
    """Keep a voter's RUT hash on their account; False when another account holds it."""
    from portal.accounts.models import User

    other = session.scalar(
        select(User).where(User.rut_hash == voter.voter_hash, User.id != user.id)
    )
    if other is not None:
        return False
    user.rut_hash = voter.voter_hash
    return True


def declare_voter(
    session: Session,
    round_: Round,
    rut: str,
    birth_date: date,
    district_id: int | None,
) -> Voter | None:
    """Let a resident not in the census vote under a sworn declaration, where the round allows.

    None when the RUT is invalid or is in the census (that person checks against the census).
    """
    voter_hash = voter_hash_of(rut)
    if voter_hash is None or census_entry(session, round_, voter_hash) is not None:
        return None
    age = age_on(birth_date, age_reference(round_))
    if age < round_.min_age:
        raise VoteRefused("too-young", age=round_.min_age)
    return Voter(round_.id, voter_hash, district_id, age_band(age), self_declared=True)


# ----------------------------------------------------------------------------- ballot lists


@dataclass(frozen=True)
class BallotProject:
    """A project as the ballot shows and checks it: a copy taken from its proposal, which may be
    kept across requests (`kept_ballot_projects`); a `Proposal` has the same attributes."""

    id: int
    district_id: int | None
    title: str
    summary: str
    final_cost: int
    thumbnail: str | None

    @classmethod
    def of(cls, proposal: Proposal) -> BallotProject:
        """Copy what the ballot needs of a proposal."""
        return cls(
            proposal.id,
            proposal.district_id,
            proposal.title,
            proposal.summary,
            proposal.final_cost or 0,
            proposal.thumbnail,
        )


def kept_ballot_projects(session: Session, round_: Round) -> list[BallotProject]:
    """The projects on a round's ballot, kept by each process like the public pages (see
    `portal.pagecache.remember`): once voting has opened they cannot change (`rules_frozen`),
    and every voter's ballot page and ballot reads them. Only while voting is open."""
    from portal.pagecache import remember

    def make() -> list[BallotProject]:
        return [BallotProject.of(p) for p in ballot_projects(session, round_)]

    return remember(("ballot-projects", round_.id), make)


@dataclass
class BallotList:
    """One list on the ballot: a district's projects or the comuna-wide projects."""

    key: str
    district_id: int | None
    name: str | None
    budget: int
    projects: list[Any] = field(default_factory=list)  # Proposal or BallotProject

    @property
    def prefix(self) -> str:
        """Return the prefix of this list's form fields."""
        return f"{self.key}-"

    @property
    def options(self) -> list[Option]:
        """Return the projects as options for the ballot rules."""
        return [Option(p.id, p.final_cost or 0) for p in self.projects]


def list_key(district_id: int | None) -> str:
    """Name a list: 'comuna' or 'd<district id>'."""
    return COMUNA if district_id is None else f"d{district_id}"


def all_lists(session: Session, round_: Round, *, kept: bool = False) -> list[BallotList]:
    """Return every list of a round, each with its projects, in ballot order (``kept``: the
    projects as `kept_ballot_projects` gives them, for a round open for voting)."""
    projects: list[Any] = (
        kept_ballot_projects(session, round_) if kept else ballot_projects(session, round_)
    )
    if not round_.districts:
        return [BallotList(COMUNA, None, None, round_.total_budget, projects)]
    lists = [
        BallotList(
            list_key(d.id), d.id, d.name, d.budget, [p for p in projects if p.district_id == d.id]
        )
        for d in round_.districts
    ]
    if round_.district_mode == DistrictMode.DISTRICT_AND_COMUNA.value:
        lists.append(
            BallotList(
                COMUNA,
                None,
                None,
                round_.comuna_wide_budget,
                [p for p in projects if p.district_id is None],
            )
        )
    return lists


def voter_lists(
    session: Session, round_: Round, district_id: int | None, *, kept: bool = False
) -> list[BallotList]:
    """Return the lists a voter of a district votes in (`kept`: see `all_lists`)."""
    return [
        blist
        for blist in all_lists(session, round_, kept=kept)
        if blist.district_id is None or blist.district_id == district_id
    ]


def section_rules(round_: Round, blist: BallotList) -> Rules:
    """Return the round's rules as they apply to one list."""
    method = BallotMethod(round_.method)
    available = len(blist.projects)
    return Rules(
        method=method,
        min_selections=min(round_.min_selections, available),
        max_selections=round_.max_selections if method == BallotMethod.APPROVAL else None,
        budget=blist.budget,
        points=round_.points_total,
        cap=round_.points_cap,
        rank_k=round_.rank_k,
    )


def check_ballot(
    round_: Round, lists: list[BallotList], sections: Mapping[str, Section]
) -> dict[str, list[Problem]]:
    """Check every section of a ballot; return the problems of each list that has any."""
    found: dict[str, list[Problem]] = {}
    for blist in lists:
        section = sections.get(blist.key, Section({}))
        problems = check_section(section_rules(round_, blist), blist.options, section)
        if problems:
            found[blist.key] = problems
    if not any(s.choices for s in sections.values()) and not found:
        found[lists[0].key if lists else COMUNA] = [Problem("empty")]
    return found


# ----------------------------------------------------------------------------- casting


def voting_open(round_: Round, now: datetime | None = None) -> bool:
    """Tell whether online voting is open now."""
    return current_phase(round_, now) == Phase.VOTING and round_.results_computed_at is None


def paper_open(round_: Round, now: datetime | None = None) -> bool:
    """Tell whether staff may still enter paper ballots: voting, or counting before results."""
    phase = current_phase(round_, now)
    return round_.results_computed_at is None and phase in (Phase.VOTING, Phase.RESULTS)


def new_receipt() -> str:
    """Return a short receipt code, e.g. 'K7QF-9MZ2-XA4P' (about 59 bits)."""
    raw = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalize_receipt(text: str) -> str:
    """Read a receipt code as typed: case, spaces and dashes do not matter."""
    raw = "".join(ch for ch in (text or "").upper() if ch.isalnum())[:12]
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" if len(raw) == 12 else ""


@dataclass(frozen=True)
class Cast:
    """A ballot that was cast: its receipt, and what it replaced, if anything."""

    receipt: str
    replaced: str | None = None  # "online" or "paper": the channel of the ballot it replaced


def _choice_rows(round_: Round, sections: Mapping[str, Section]) -> list[dict[str, int | None]]:
    rows = []
    ranked = round_.method == Method.RANKED.value
    cumulative = round_.method == Method.CUMULATIVE.value
    for section in sections.values():
        for project_id, value in section.choices.items():
            rows.append(
                {
                    "proposal_id": project_id,
                    "points": value if cumulative else 1,
                    "rank": value if ranked else None,
                }
            )
    return rows


def cast_ballot(
    session: Session,
    round_: Round,
    voter: Voter,
    sections: Mapping[str, Section],
    *,
    channel: str = "online",
    site_id: int | None = None,
    now: datetime | None = None,
    before_commit: Callable[[Session], None] | None = None,
) -> Cast:
    """Store a voter's ballot, replacing their earlier one; commit it.

    `before_commit` adds writes that must commit with the ballot (the audit entry of a paper
    ballot typed in by staff).

    This service owns its transaction, because the one-ballot rule is kept by the database: the
    first statement updates the voter's participation (taking its row lock on PostgreSQL and the
    write lock on SQLite), and a first ballot inserts it, where a concurrent first ballot of the
    same voter loses on the unique constraint and is retried as a replacement.
    """
    round_id = round_.id
    rows = _choice_rows(round_, sections)
    if (
        session.get_bind().dialect.name == "sqlite"
        or session.new
        or session.dirty
        or session.deleted
    ):
        # End the read transaction, so that the next statement is the write: SQLite cannot
        # turn a read transaction into a write once another writer has committed. PostgreSQL
        # goes on in the same transaction (its reads took no row locks; under READ COMMITTED
        # every statement sees what is committed), sparing three round trips, unless the
        # request left changes in the session: those never commit with a ballot.
        session.rollback()
    for attempt in range(5):
        try:
            cast = _cast_once(
                session, round_id, voter, rows, channel=channel, site_id=site_id, now=now
            )
            if before_commit is not None:
                before_commit(session)
            session.commit()
            return cast
        except IntegrityError:
            session.rollback()  # a concurrent first ballot of the same voter won: replace it
        except OperationalError:
            session.rollback()  # SQLite busy beyond its timeout, or a PostgreSQL deadlock
            if attempt == 4:
                raise
    raise VoteRefused("busy")


def lock_round(session: Session, round_id: int, *, for_ballot: bool = False) -> Round:
    """Read a round afresh and lock its row until the transaction ends.

    Counting the votes takes `FOR UPDATE`; a ballot takes `FOR KEY SHARE`, which lets ballots go
    on together but waits for a count in progress, and which the count waits for in turn. So a
    ballot either commits before the count reads the ballots, and is counted, or sees the count
    and is refused. SQLite renders no lock: its single writer serializes them the same way, once
    the transaction has written. A ballot's first statement is a write already; for the others
    (counting, publishing) a write that changes nothing takes the writer lock before the round
    is read, so that two clicks on "publish" cannot both read it unpublished.
    """
    if not for_ballot:
        take_sqlite_writer_lock(session, round_id)
    return session.scalars(_lock_round_statement(for_ballot), {"round_id": round_id}).one()


@cache
def _lock_round_statement(for_ballot: bool) -> Select[tuple[Round]]:
    """Built once, on first use; the round alone (its municipality is not needed under the lock)."""
    return (
        select(Round)
        .where(Round.id == bindparam("round_id"))
        .options(lazyload(Round.municipality))
        .with_for_update(of=Round, read=for_ballot, key_share=for_ballot)
        .execution_options(populate_existing=True)
    )


@dataclass(frozen=True)
class _CastStatements:
    touch_participation: Any
    insert_ballot: Any
    insert_choices: Any
    insert_participation: Any
    point_participation: Any
    first_ballot_pg: Any
    touch_and_lock_pg: Any


@cache
def _cast_statements() -> _CastStatements:
    """Build the statements of a ballot once, on the tables (every ballot runs them)."""
    participations = Participation.__table__
    # The participation's update: its row lock, and what it held (none for a first ballot).
    touch = (
        participations.update()
        .where(
            participations.c.round_id == bindparam("p_round_id"),
            participations.c.voter_hash == bindparam("p_voter_hash"),
        )
        .values(voted_at=bindparam("p_voted_at", type_=participations.c.voted_at.type))
        .returning(participations.c.id, participations.c.ballot_id, participations.c.channel)
    )
    return _CastStatements(
        touch_participation=touch,
        insert_ballot=Ballot.__table__.insert(),
        insert_choices=BallotChoice.__table__.insert(),
        insert_participation=participations.insert(),
        point_participation=participations.update()
        .where(participations.c.id == bindparam("p_id"))
        .values(
            ballot_id=bindparam("p_ballot_id", type_=participations.c.ballot_id.type),
            channel=bindparam("p_channel", type_=participations.c.channel.type),
            site_id=bindparam("p_site_id", type_=participations.c.site_id.type),
        ),
        first_ballot_pg=_first_ballot_statement(),
        # On PostgreSQL the participation is stamped by the database's clock, as the ballot is.
        touch_and_lock_pg=_touch_and_lock_statement(
            touch.values(
                voted_at=func.coalesce(
                    bindparam("p_voted_at", type_=participations.c.voted_at.type),
                    database_clock(),
                )
            )
        ),
    )


def _touch_and_lock_statement(touch: Any) -> Any:
    """On PostgreSQL, the first two steps of a ballot in one round trip: the round's
    `FOR KEY SHARE` read (see `lock_round`) and the participation's update ``touch``, both as
    CTEs. The update waits for the round's lock, since its condition reads the locked round: a
    count holds the round and then rewrites every participation of it, so a ballot that locked
    its participation first and then waited for the round would deadlock with it. A voter with
    no participation yet gets the round with NULLs. The voter's census entry comes in the same
    row (NULLs when there is none), for `_still_eligible`, and so does the database's clock,
    read once the round is locked (see `database_now`)."""
    participations = Participation.__table__
    locked = (
        select(Round)
        .where(Round.id == bindparam("p_round_id"))
        .with_for_update(read=True, key_share=True)
        .cte("locked_round")
    )
    touched = touch.where(participations.c.round_id == select(locked.c.id).scalar_subquery()).cte(
        "touched"
    )
    round_ = aliased(Round, locked)
    census = CensusEntry.__table__
    return (
        select(
            round_,
            touched.c.id,
            touched.c.ballot_id,
            touched.c.channel,
            census.c.id,
            census.c.birth_date,
            census.c.district_id,
            database_clock(),
        )
        .select_from(
            locked.outerjoin(touched, true()).outerjoin(
                census,
                and_(
                    census.c.round_id == locked.c.id,
                    census.c.rut_hash == bindparam("p_voter_hash"),
                ),
            )
        )
        .options(lazyload(round_.municipality))
        .execution_options(populate_existing=True)
    )


def _first_ballot_statement() -> Any:
    """A voter's first ballot on PostgreSQL in one statement (one round trip instead of three):
    the ballot and its choices are inserted by data-modifying CTEs of the participation's
    insert. Foreign keys are checked at the end of the statement, when the ballot exists; a
    concurrent first ballot of the same voter still fails the whole statement on the unique
    constraint. The choices come as three arrays of equal length, so the statement's text does
    not depend on how many projects the ballot has. Its parameters are prefixed `f_`: a
    parameter named like a column left out of `.values()` would not compile."""
    ballots = Ballot.__table__
    choices = BallotChoice.__table__
    participations = Participation.__table__
    ballot_id = bindparam("f_id", type_=ballots.c.id.type)
    channel = bindparam("f_channel", type_=ballots.c.channel.type)
    moment = bindparam("f_moment", type_=ballots.c.cast_at.type)
    district = bindparam("f_district_id", type_=ballots.c.district_id.type)
    age_band = bindparam("f_age_band", type_=ballots.c.age_band.type)
    round_id = bindparam("f_round_id", type_=ballots.c.round_id.type)
    ballot = (
        ballots.insert()
        .values(
            id=ballot_id,
            round_id=round_id,
            district_id=district,
            channel=channel,
            receipt_code=bindparam("f_receipt_code", type_=ballots.c.receipt_code.type),
            cast_at=moment,
            age_band=age_band,
        )
        .cte("new_ballot")
    )
    picked = select(
        ballot_id,
        func.unnest(cast(bindparam("f_proposal_ids"), ARRAY(Integer))),
        func.unnest(cast(bindparam("f_points"), ARRAY(Integer))),
        func.unnest(cast(bindparam("f_ranks"), ARRAY(Integer))),
    )
    chosen = (
        choices.insert()
        .from_select(["ballot_id", "proposal_id", "points", "rank"], picked)
        .cte("new_choices")
    )
    return (
        participations.insert()
        .values(
            id=bindparam("f_participation_id", type_=participations.c.id.type),
            round_id=round_id,
            voter_hash=bindparam("f_voter_hash", type_=participations.c.voter_hash.type),
            channel=channel,
            voted_at=moment,
            ballot_id=ballot_id,
            self_declared=bindparam("f_self_declared", type_=participations.c.self_declared.type),
            age_band=age_band,
            site_id=bindparam("f_site_id", type_=participations.c.site_id.type),
        )
        .add_cte(ballot, chosen)
    )


def _cast_once(
    session: Session,
    round_id: int,
    voter: Voter,
    rows: list[dict[str, int | None]],
    *,
    channel: str,
    site_id: int | None,
    now: datetime | None,
) -> Cast:
    statements = _cast_statements()
    touch = {"p_round_id": round_id, "p_voter_hash": voter.voter_hash}
    postgresql = session.get_bind().dialect.name == "postgresql"
    existing: Any
    entry: tuple | None = None
    if postgresql:
        round_, *held, census_id, birth_date, district_id, clock = session.execute(
            statements.touch_and_lock_pg, {**touch, "p_voted_at": now}
        ).one()
        existing = held if held[0] is not None else None
        if census_id is not None:
            entry = (birth_date, district_id)
        # The ballot and its participation carry the database's clock, which every instance
        # shares (see `database_now`), read under the round's lock: the clock that decides
        # below whether voting is open.
        moment = decided = now or clock
    else:
        moment = now or utcnow()
        existing = session.execute(
            statements.touch_participation, {**touch, "p_voted_at": moment}
        ).first()
        round_ = lock_round(session, round_id, for_ballot=True)
        decided = now or utcnow()  # under the lock, so that a count that began before is seen
    if channel == "online" and not voting_open(round_, decided):
        raise VoteRefused("closed")
    if channel == "paper" and not paper_open(round_, decided):
        raise VoteRefused("closed")
    if round_.results_published_at is not None:
        raise VoteRefused("closed")
    replaced = None
    participation_id = None
    if existing is not None:
        participation_id, old_ballot, old_channel = existing
        if old_channel == "paper":
            raise VoteRefused("voted-on-paper")
        if channel == "paper" and round_.paper_conflict != PaperConflict.PAPER_REPLACES.value:
            raise VoteRefused("voted-online")
    if channel == "online":  # paper ballots read the census in the same request
        if not postgresql:
            found = census_entry(session, round_, voter.voter_hash)
            entry = (found.birth_date, found.district_id) if found is not None else None
        _still_eligible(round_, voter, entry)
    if existing is not None:
        replaced = old_channel
        if old_ballot is not None:
            session.execute(delete(BallotChoice).where(BallotChoice.ballot_id == old_ballot))
            session.execute(delete(Ballot).where(Ballot.id == old_ballot))
    # Core statements built once (no unit of work to flush): the ballot first, so that a first
    # ballot's participation is inserted already pointing at it.
    ballot_id = random_id()
    receipt = new_receipt()
    if participation_id is None and postgresql:
        # Raises IntegrityError when a concurrent first ballot of this voter got here first.
        session.execute(
            statements.first_ballot_pg,
            {
                "f_id": ballot_id,
                "f_round_id": round_id,
                "f_district_id": voter.district_id,
                "f_channel": channel,
                "f_receipt_code": receipt,
                "f_moment": moment,
                "f_age_band": voter.age_band,
                "f_proposal_ids": [row["proposal_id"] for row in rows],
                "f_points": [row["points"] for row in rows],
                "f_ranks": [row["rank"] for row in rows],
                "f_participation_id": random_id(),
                "f_voter_hash": voter.voter_hash,
                "f_self_declared": voter.self_declared,
                "f_site_id": site_id,
            },
        )
        return Cast(receipt, replaced)
    session.execute(
        statements.insert_ballot,
        {
            "id": ballot_id,
            "round_id": round_id,
            "district_id": voter.district_id,
            "channel": channel,
            "receipt_code": receipt,
            "cast_at": moment,
            "age_band": voter.age_band,
        },
    )
    if rows:
        session.execute(
            statements.insert_choices, [{"ballot_id": ballot_id, **row} for row in rows]
        )
    if participation_id is None:
        # Raises IntegrityError when a concurrent first ballot of this voter got here first.
        session.execute(
            statements.insert_participation,
            {
                "id": random_id(),
                "round_id": round_id,
                "voter_hash": voter.voter_hash,
                "channel": channel,
                "voted_at": moment,
                "ballot_id": ballot_id,
                "self_declared": voter.self_declared,
                "age_band": voter.age_band,
                "site_id": site_id,
            },
        )
    else:
        session.execute(
            statements.point_participation,
            {
                "p_id": participation_id,
                "p_ballot_id": ballot_id,
                "p_channel": channel,
                "p_site_id": site_id,
            },
        )
    return Cast(receipt, replaced)


@cache
def _participation_statement() -> Select[tuple[Participation]]:
    """Built once, on first use (see `public_round_statement`)."""
    return select(Participation).where(
        Participation.round_id == bindparam("round_id"),
        Participation.voter_hash == bindparam("voter_hash"),
    )


def participation_of(session: Session, round_: Round, voter_hash: str) -> Participation | None:
    """Return a voter's participation in a round, if they voted."""
    return session.scalar(
        _participation_statement(), {"round_id": round_.id, "voter_hash": voter_hash}
    )


def current_choices(
    session: Session, round_: Round, participation: Participation | None
) -> dict[int, int]:
    """Return a voter's current choices (project id -> points or rank), to edit their ballot."""
    if participation is None or participation.ballot_id is None:
        return {}
    ranked = round_.method == Method.RANKED.value
    return {
        c.proposal_id: (c.rank or 0) if ranked else c.points
        for c in session.scalars(
            select(BallotChoice).where(BallotChoice.ballot_id == participation.ballot_id)
        )
    }


def receipt_counts(session: Session, round_: Round, code: str) -> bool:
    """Tell whether a ballot with this receipt is in the round's count."""
    normalized = normalize_receipt(code)
    if not normalized:
        return False
    return (
        session.scalar(
            select(Ballot.id).where(Ballot.round_id == round_.id, Ballot.receipt_code == normalized)
        )
        is not None
    )


# ----------------------------------------------------------------------------- paper ballots


def add_site(session: Session, round_: Round, name: str, address: str) -> VotingSite:
    """Add a voting site to a round (audited)."""
    exists = session.scalar(
        select(VotingSite).where(VotingSite.round_id == round_.id, VotingSite.name == name)
    )
    if exists is not None:
        raise VoteRefused("site-exists")
    site = VotingSite(round_id=round_.id, name=name, address=address)
    session.add(site)
    session.flush()
    record(
        session,
        "voting_site.create",
        "voting_site",
        site.id,
        after={"round_id": round_.id, "name": name, "address": address},
        **_scope(round_),
    )
    return site


def _scope(round_: Round) -> dict[str, Any]:
    return {
        "municipality_id": round_.municipality_id,
        "region_cut": round_.municipality.comuna.region_cut,
    }


@dataclass(frozen=True)
class PaperVoter:
    """A person at a voting site, checked against the census and the ballots already cast."""

    voter: Voter
    conflict: str | None  # None, "online" (an online ballot exists) or "paper"


def paper_voter(session: Session, round_: Round, rut: str) -> PaperVoter:
    """Check a RUT typed by staff: in the census, and whether they already voted."""
    voter_hash = voter_hash_of(rut)
    if voter_hash is None:
        raise VoteRefused("bad-rut")
    entry = census_entry(session, round_, voter_hash)
    if entry is None:
        raise VoteRefused("not-in-census")
    voter = _census_voter(round_, entry)
    participation = participation_of(session, round_, voter_hash)
    conflict = participation.channel if participation is not None else None
    return PaperVoter(voter, conflict)


def record_paper_entry(session: Session, round_: Round, site_name: str | None, count: int) -> None:
    """Audit paper ballots typed in, without who voted or what they chose."""
    record(
        session,
        "paper_ballot.enter",
        "round",
        round_.id,
        after={"site": site_name, "ballots": count},
        **_scope(round_),
    )


def turnout(session: Session, round_: Round) -> dict[str, Any]:
    """Count who took part: by channel and age band (participations) and district (ballots)."""
    by_channel: dict[str, int] = defaultdict(int)
    by_age: dict[str, int] = defaultdict(int)
    for channel, band, count in session.execute(
        select(Participation.channel, Participation.age_band, func.count())
        .where(Participation.round_id == round_.id)
        .group_by(Participation.channel, Participation.age_band)
    ):
        by_channel[channel] += count
        by_age[band or "?"] += count
    by_district = {
        district_id: count
        for district_id, count in session.execute(
            select(Ballot.district_id, func.count())
            .where(Ballot.round_id == round_.id)
            .group_by(Ballot.district_id)
        )
    }
    census = (
        session.scalar(
            select(func.count()).select_from(CensusEntry).where(CensusEntry.round_id == round_.id)
        )
        or 0
    )
    return {
        "total": sum(by_channel.values()),
        "online": by_channel.get("online", 0),
        "paper": by_channel.get("paper", 0),
        "census": census,
        "by_district": by_district,
        "by_age": dict(sorted(by_age.items(), key=lambda kv: _band_order(kv[0]))),
    }


def _band_order(band: str) -> int:
    for i, (low, _high) in enumerate(AGE_BANDS):
        if band.startswith(str(low)):
            return i
    return len(AGE_BANDS)


# ----------------------------------------------------------------------------- results


def list_ballots(session: Session, round_: Round, blist: BallotList) -> list[dict[int, int]]:
    """Return each ballot's choices in one list (project id -> points or rank), non-empty only.

    Ballots are read in a random order that does not depend on their ids.
    """
    ids = [p.id for p in blist.projects]
    if not ids:
        return []
    statement = (
        select(
            BallotChoice.ballot_id, BallotChoice.proposal_id, BallotChoice.points, BallotChoice.rank
        )
        .join(Ballot, Ballot.id == BallotChoice.ballot_id)
        .where(Ballot.round_id == round_.id, BallotChoice.proposal_id.in_(ids))
    )
    if blist.district_id is not None:
        statement = statement.where(Ballot.district_id == blist.district_id)
    ranked = round_.method == Method.RANKED.value
    ballots: dict[int, dict[int, int]] = defaultdict(dict)
    for ballot_id, proposal_id, points, rank in session.execute(statement):
        ballots[ballot_id][proposal_id] = (rank or 0) if ranked else points
    return [ballots[k] for k in sorted(ballots)]


def results_allowed(round_: Round, now: datetime | None = None) -> bool:
    """Tell whether voting has closed, so that the votes may be counted."""
    phase = current_phase(round_, now)
    return phase not in (Phase.DRAFT, Phase.PROPOSALS, Phase.REVIEW, Phase.VOTING)


def compute_results(session: Session, round_: Round) -> list[ListResult]:
    """Count every list of a closed round with its rule and store the outcome (audited)."""
    from portal.voting.tally import tally_list

    round_ = lock_round(session, round_.id)  # waits for ballots in flight; stops new ones
    if not results_allowed(round_, database_now(session)):
        raise VoteRefused("voting-not-closed")
    if round_.results_published_at is not None:
        raise VoteRefused("already-published")
    # Voting is over and no ballot will change again: nothing needs the voters' links any more.
    seal_ballots(session, round_)
    session.execute(delete(ListResult).where(ListResult.round_id == round_.id))
    session.flush()
    stored = []
    for blist in all_lists(session, round_):
        ballots = list_ballots(session, round_, blist)
        outcome = tally_list(round_, blist, ballots)
        result = ListResult(
            round_id=round_.id,
            district_id=blist.district_id,
            list_key=blist.key,
            rule=outcome.rule,
            budget=blist.budget,
            voters=len(ballots),
            total_cost=outcome.total_cost,
            detail=outcome.detail,
            greedy_selected=outcome.greedy_selected,
        )
        order = {pid: i for i, pid in enumerate(outcome.selected)}
        greedy = set(outcome.greedy_selected or [])
        ranking = sorted(
            blist.projects,
            key=lambda p: (
                p.id not in order,
                order.get(p.id, 0),
                -outcome.scores.get(p.id, 0),
                p.id,
            ),
        )
        for position, project in enumerate(ranking):
            result.lines.append(
                ResultLine(
                    proposal_id=project.id,
                    position=position,
                    votes=outcome.votes.get(project.id, 0),
                    score=outcome.scores.get(project.id, 0),
                    cost=project.final_cost or 0,
                    selected=project.id in order,
                    selected_order=order.get(project.id),
                    greedy_selected=(project.id in greedy)
                    if outcome.greedy_selected is not None
                    else None,
                )
            )
        session.add(result)
        stored.append(result)
    round_.results_computed_at = utcnow()
    session.flush()
    record(
        session,
        "round.compute_results",
        "round",
        round_.id,
        after={
            r.list_key: {"selected": [ln.proposal_id for ln in r.lines if ln.selected]}
            for r in stored
        },
        **_scope(round_),
    )
    return stored


SMALL_GROUP = 5  # an age band shared by fewer ballots of a district is blanked when sealed


def seal_ballots(session: Session, round_: Round) -> None:
    """Cut every link between voters and ballots once voting has closed (safe to repeat).

    The participations lose their ballot and time and are rewritten in a random order (so that
    not even the physical order of the rows keeps the order of voting), the ballots lose their
    time, and an age band shared by fewer than SMALL_GROUP ballots of a district is blanked, so
    that the ballots (and the pabulib export) cannot single out, say, the one 14-year-old voter
    of a sector. Turnout by age comes from the participations, which keep the band.
    """
    ids = list(
        session.scalars(
            select(Participation.id).where(
                Participation.round_id == round_.id,
                (Participation.ballot_id.is_not(None)) | (Participation.voted_at.is_not(None)),
            )
        )
    )
    random.SystemRandom().shuffle(ids)
    if ids:
        session.execute(
            update(Participation).execution_options(synchronize_session=False),
            [{"id": pid, "ballot_id": None, "voted_at": None} for pid in ids],
        )
    session.execute(
        update(Ballot)
        .where(Ballot.round_id == round_.id)
        .values(cast_at=None)
        .execution_options(synchronize_session=False)
    )
    small = session.execute(
        select(Ballot.district_id, Ballot.age_band)
        .where(Ballot.round_id == round_.id, Ballot.age_band.is_not(None))
        .group_by(Ballot.district_id, Ballot.age_band)
        .having(func.count() < SMALL_GROUP)
    ).all()
    for district_id, band in small:
        in_district = (
            Ballot.district_id.is_(None)
            if district_id is None
            else Ballot.district_id == district_id
        )
        session.execute(
            update(Ballot)
            .where(Ballot.round_id == round_.id, in_district, Ballot.age_band == band)
            .values(age_band=None)
            .execution_options(synchronize_session=False)
        )


def publish_results(session: Session, round_: Round, actor: Any = None) -> None:
    """Publish computed results, with every voter-ballot link cut (audited)."""
    round_ = lock_round(session, round_.id)  # two clicks at once publish once
    if round_.results_computed_at is None:
        raise VoteRefused("not-computed")
    if round_.results_published_at is not None:
        raise VoteRefused("already-published")
    round_.results_published_at = utcnow()
    seal_ballots(session, round_)
    record(session, "round.publish_results", "round", round_.id, actor=actor, **_scope(round_))
    _fund_winners(session, round_, actor)


def _fund_winners(session: Session, round_: Round, actor: Any) -> None:
    """Turn the winners into funded projects, where the programmes feature is installed."""
    try:
        from portal.programmes.services import create_from_round_winners
    except ImportError:  # pragma: no cover - until the programmes feature lands
        return
    winners = winning_projects(session, round_)
    create_from_round_winners(session, round_, winners, actor)


def winning_projects(session: Session, round_: Round) -> list[Proposal]:
    """Return the funded projects of a round's results, in order of list and selection."""
    return list(
        session.scalars(
            select(Proposal)
            .join(ResultLine, ResultLine.proposal_id == Proposal.id)
            .join(ListResult, ListResult.id == ResultLine.result_id)
            .where(ListResult.round_id == round_.id, ResultLine.selected.is_(True))
            .order_by(ListResult.id, ResultLine.selected_order)
        )
    )


def results_of(session: Session, round_: Round) -> list[ListResult]:
    """Return a round's stored results, one per list."""
    results = session.scalars(select(ListResult).where(ListResult.round_id == round_.id))
    # The ballot's order: districts by name, then the comuna-wide list (no need to load projects).
    order = {list_key(d.id): i for i, d in enumerate(round_.districts)}
    return sorted(results, key=lambda r: order.get(r.list_key, len(order)))
