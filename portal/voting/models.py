"""Voting sites for paper ballots, and the stored results of each list of a round."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.budgeting.models import District, Proposal, Round
from portal.database import Base, UTCDateTime, utcnow


class VotingSite(Base):
    """A place where residents vote on paper and staff type the ballots in."""

    __tablename__ = "voting_sites"
    __table_args__ = (UniqueConstraint("round_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    address: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ListResult(Base):
    """The outcome of one list of a round: a district's projects, or the comuna-wide list."""

    __tablename__ = "list_results"
    __table_args__ = (UniqueConstraint("round_id", "list_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id", ondelete="SET NULL"))
    list_key: Mapped[str] = mapped_column(String(20))  # "comuna" or "d<district id>"
    rule: Mapped[str] = mapped_column(String(40))
    budget: Mapped[int] = mapped_column(Integer)
    voters: Mapped[int] = mapped_column(Integer)
    total_cost: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The engine's result (selection order, ties, per-project explanation), as JSON.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # For rounds decided by the Method of Equal Shares: what greedy would have funded.
    greedy_selected: Mapped[list[int] | None] = mapped_column(JSON)

    round: Mapped[Round] = relationship()
    district: Mapped[District | None] = relationship()
    lines: Mapped[list[ResultLine]] = relationship(
        back_populates="result",
        cascade="all, delete-orphan",
        order_by="ResultLine.position",
        lazy="selectin",
    )


class ResultLine(Base):
    """One project in a list's outcome: its votes, score, cost and whether it won."""

    __tablename__ = "result_lines"

    result_id: Mapped[int] = mapped_column(
        ForeignKey("list_results.id", ondelete="CASCADE"), primary_key=True
    )
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer)  # order on the results page
    votes: Mapped[int] = mapped_column(Integer)  # ballots that chose the project
    score: Mapped[int] = mapped_column(Integer)  # votes, points or Borda score
    cost: Mapped[int] = mapped_column(Integer)
    selected: Mapped[bool] = mapped_column(Boolean, default=False)
    selected_order: Mapped[int | None] = mapped_column(Integer)
    greedy_selected: Mapped[bool | None] = mapped_column(Boolean)

    result: Mapped[ListResult] = relationship(back_populates="lines")
    proposal: Mapped[Proposal] = relationship(lazy="joined")
