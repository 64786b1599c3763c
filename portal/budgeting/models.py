"""Participatory budgeting rounds, their districts, proposals, census and ballots."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

if TYPE_CHECKING:
    from portal.economy.models import Organization

from portal.accounts.models import User
from portal.ballot_methods import Method
from portal.database import Base, TimestampMixin, UTCDateTime, utcnow
from portal.geo.models import Municipality


class Phase(StrEnum):
    """Where a round stands, in order."""

    DRAFT = "draft"
    PROPOSALS = "proposals"
    REVIEW = "review"
    VOTING = "voting"
    RESULTS = "results"
    IMPLEMENTATION = "implementation"
    CLOSED = "closed"


# The phases that have a start date, in order (draft ends when the round is published).
DATED_PHASES = [
    Phase.PROPOSALS,
    Phase.REVIEW,
    Phase.VOTING,
    Phase.RESULTS,
    Phase.IMPLEMENTATION,
    Phase.CLOSED,
]


class AllocationRule(StrEnum):
    """How winners are computed from the ballots (see portal.core)."""

    GREEDY = "greedy"
    GREEDY_THRESHOLD = "greedy-threshold"
    MES_ADD1 = "mes-add1"


class DistrictMode(StrEnum):
    """Which lists a resident votes in."""

    DISTRICT = "district"
    DISTRICT_AND_COMUNA = "district-and-comuna"


class Eligibility(StrEnum):
    """Who may vote."""

    CENSUS = "census"
    CENSUS_OR_DECLARED = "census-or-declared"


class PaperConflict(StrEnum):
    """What happens when a person who voted online brings a paper ballot to a voting site."""

    KEEP_FIRST = "keep-first"  # the ballot already cast counts; the paper one is refused
    PAPER_REPLACES = "paper-replaces"  # the paper ballot replaces the online one


class ProposalStatus(StrEnum):
    """Where a proposal stands in the technical review."""

    SUBMITTED = "submitted"
    FEASIBLE = "feasible"
    NOT_FEASIBLE = "not_feasible"
    MERGED = "merged"
    WITHDRAWN = "withdrawn"


THEMES = [
    "fairs-markets",
    "local-commerce",
    "sse-organizations",
    "tourism",
    "training",
    "digitalisation",
    "other",
]


class Round(TimestampMixin, Base):
    """One participatory budgeting process of a municipality."""

    __tablename__ = "rounds"
    __table_args__ = (
        CheckConstraint("total_budget >= 0", name="total_budget_positive"),
        CheckConstraint("comuna_wide_budget >= 0", name="comuna_wide_budget_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(
        ForeignKey("municipalities.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    total_budget: Mapped[int] = mapped_column(Integer)
    themes: Mapped[list[str]] = mapped_column(JSON, default=list)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    proposals_start: Mapped[datetime] = mapped_column(UTCDateTime())
    review_start: Mapped[datetime] = mapped_column(UTCDateTime())
    voting_start: Mapped[datetime] = mapped_column(UTCDateTime())
    results_start: Mapped[datetime] = mapped_column(UTCDateTime())
    implementation_start: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_start: Mapped[datetime] = mapped_column(UTCDateTime())

    # Voting rules, frozen once voting opens or a ballot exists.
    method: Mapped[str] = mapped_column(String(20), default=Method.APPROVAL.value)
    min_selections: Mapped[int] = mapped_column(Integer, default=1)
    max_selections: Mapped[int | None] = mapped_column(Integer, default=3)
    points_total: Mapped[int | None] = mapped_column(Integer)
    points_cap: Mapped[int | None] = mapped_column(Integer)
    rank_k: Mapped[int | None] = mapped_column(Integer)
    allocation_rule: Mapped[str] = mapped_column(String(30), default=AllocationRule.GREEDY.value)
    threshold_votes: Mapped[int | None] = mapped_column(Integer)
    district_mode: Mapped[str] = mapped_column(String(30), default=DistrictMode.DISTRICT.value)
    comuna_wide_budget: Mapped[int] = mapped_column(Integer, default=0)
    min_age: Mapped[int] = mapped_column(Integer, default=14)
    age_reference_date: Mapped[date | None] = mapped_column(Date)
    eligibility: Mapped[str] = mapped_column(String(30), default=Eligibility.CENSUS.value)
    paper_conflict: Mapped[str] = mapped_column(
        String(20), default=PaperConflict.KEEP_FIRST.value, server_default="keep-first"
    )

    # Results: computed once voting has closed, shown to the public only once published.
    results_computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    results_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    municipality: Mapped[Municipality] = relationship(lazy="joined")
    districts: Mapped[list[District]] = relationship(
        back_populates="round", order_by="District.name", cascade="all, delete-orphan"
    )

    def phase_start(self, phase: Phase) -> datetime:
        """Return when a dated phase starts."""
        return getattr(self, f"{phase.value}_start")  # type: ignore[no-any-return]


class District(Base):
    """A sector or unidad vecinal of a round, with its own share of the budget."""

    __tablename__ = "districts"
    __table_args__ = (
        UniqueConstraint("round_id", "name"),
        CheckConstraint("budget >= 0", name="budget_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    code: Mapped[str | None] = mapped_column(String(40))
    budget: Mapped[int] = mapped_column(Integer)

    round: Mapped[Round] = relationship(back_populates="districts")


class Proposal(TimestampMixin, Base):
    """A project proposed by a resident or an organization; feasible ones go on the ballot."""

    __tablename__ = "proposals"
    __table_args__ = (
        CheckConstraint("estimated_cost > 0", name="estimated_cost_positive"),
        CheckConstraint("final_cost IS NULL OR final_cost > 0", name="final_cost_positive"),
        Index("ix_proposals_round_status", "round_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    district_id: Mapped[int | None] = mapped_column(
        ForeignKey("districts.id", ondelete="SET NULL"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(160))
    summary: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    theme: Mapped[str] = mapped_column(String(40))
    estimated_cost: Mapped[int] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column()
    longitude: Mapped[float | None] = mapped_column()
    implementing_organization: Mapped[str | None] = mapped_column(String(200))
    # The registry organization that submits the proposal (its representative is the author),
    # and the one that would carry it out; the free-text field above names one outside it.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("economy_organizations.id", ondelete="SET NULL"), index=True
    )
    implementer_id: Mapped[int | None] = mapped_column(
        ForeignKey("economy_organizations.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default=ProposalStatus.SUBMITTED.value)
    review_reason: Mapped[str | None] = mapped_column(Text)
    final_cost: Mapped[int | None] = mapped_column(Integer)
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("proposals.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    round: Mapped[Round] = relationship(lazy="joined")
    district: Mapped[District | None] = relationship(lazy="joined")
    author: Mapped[User | None] = relationship()
    merged_into: Mapped[Proposal | None] = relationship(remote_side=[id])
    organization: Mapped[Organization | None] = relationship(foreign_keys=[organization_id])
    implementer: Mapped[Organization | None] = relationship(foreign_keys=[implementer_id])
    images: Mapped[list[ProposalImage]] = relationship(
        back_populates="proposal", order_by="ProposalImage.position", cascade="all, delete-orphan"
    )

    @property
    def thumbnail(self) -> str | None:
        """The first image's thumbnail, as lists and the ballot show it (None without images)."""
        return self.images[0].thumbnail if self.images else None

    @property
    def on_ballot(self) -> bool:
        """Tell whether the proposal is a project residents can vote for."""
        return self.status == ProposalStatus.FEASIBLE.value and self.final_cost is not None

    @classmethod
    def matching(cls, words: str) -> Any:
        """Select the proposals whose title, summary or description contain some words."""
        like = f"%{words}%"
        return or_(cls.title.ilike(like), cls.summary.ilike(like), cls.description.ilike(like))


class ProposalImage(Base):
    """A re-encoded image of a proposal, with a thumbnail for lists and the ballot."""

    __tablename__ = "proposal_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(80), unique=True)
    thumbnail: Mapped[str] = mapped_column(String(80), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    alt_text: Mapped[str] = mapped_column(String(200), default="")

    proposal: Mapped[Proposal] = relationship(back_populates="images")


class CensusEntry(Base):
    """An eligible resident: only keyed hashes of the RUT and of the ID serial are stored."""

    __tablename__ = "census_entries"
    __table_args__ = (UniqueConstraint("round_id", "rut_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    rut_hash: Mapped[str] = mapped_column(String(64))
    birth_date: Mapped[date | None] = mapped_column(Date)
    serial_hash: Mapped[str | None] = mapped_column(String(64))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id", ondelete="SET NULL"))


def random_id() -> int:
    """Return a random positive 62-bit id: ballot ids must not reveal the order of voting."""
    return secrets.randbits(62) + 1


# BIGINT on PostgreSQL; on SQLite an INTEGER PRIMARY KEY (the rowid itself, so that no hidden
# sequential rowid keeps the order of insertion either).
RandomId = BigInteger().with_variant(Integer(), "sqlite")


class Ballot(Base):
    """What one voter chose, with no voter identifier (see Participation).

    Its id is random and its time is erased on publication, so that neither the order nor the
    time of voting joins a ballot to a participation.
    """

    __tablename__ = "ballots"

    id: Mapped[int] = mapped_column(
        RandomId, primary_key=True, autoincrement=False, default=random_id
    )
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(10), default="online")
    receipt_code: Mapped[str] = mapped_column(String(20), unique=True)
    cast_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow)
    # Kept for the pabulib export's age column; publication blanks it where fewer than
    # SMALL_GROUP ballots of the district share it, so that it cannot single anyone out.
    age_band: Mapped[str | None] = mapped_column(String(8))

    choices: Mapped[list[BallotChoice]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class BallotChoice(Base):
    """One project on a ballot: points for cumulative ballots, rank for ranked ballots."""

    __tablename__ = "ballot_choices"
    # On SQLite a table with a two-column key keeps a hidden rowid in the order of insertion,
    # which would give away the order of voting: store the rows by their key instead.
    __table_args__ = {"sqlite_with_rowid": False}

    ballot_id: Mapped[int] = mapped_column(
        RandomId, ForeignKey("ballots.id", ondelete="CASCADE"), primary_key=True
    )
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True
    )
    points: Mapped[int] = mapped_column(Integer, default=1)
    rank: Mapped[int | None] = mapped_column(Integer)


class Participation(Base):
    """That a voter took part in a round: one per voter per round, enforced by the database.

    `ballot_id` lets a voter replace their ballot while voting is open; it is set to NULL for
    the whole round when results are published (and `voted_at` with it), so no one can join
    voters to choices.
    """

    __tablename__ = "participations"
    __table_args__ = (UniqueConstraint("round_id", "voter_hash"),)

    # Random, like ballot ids: a sequence would keep the order in which people voted.
    id: Mapped[int] = mapped_column(
        RandomId, primary_key=True, autoincrement=False, default=random_id
    )
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    voter_hash: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(10), default="online")
    voted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow)
    ballot_id: Mapped[int | None] = mapped_column(
        RandomId, ForeignKey("ballots.id", ondelete="SET NULL")
    )
    self_declared: Mapped[bool] = mapped_column(Boolean, default=False)
    # Turnout facts on the voter's side: where a paper ballot was cast, and the age band.
    age_band: Mapped[str | None] = mapped_column(String(8))
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("voting_sites.id", ondelete="SET NULL"), index=True
    )
