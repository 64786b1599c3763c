"""Programmes (instruments of support), funded projects, their co-financing, milestones and photos."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.database import Base, TimestampMixin, UTCDateTime, utcnow
from portal.economy.models import Organization
from portal.geo.models import Comuna, Municipality, Region

AGENCIES = ["gore", "sercotec", "corfo", "sernatur", "subdere", "municipality", "other"]
LEVELS = ["national", "regional", "municipal"]
PROJECT_STATUSES = ["planned", "in_progress", "completed", "cancelled"]


class Programme(TimestampMixin, Base):
    """A programme or instrument that co-finances or supports local projects."""

    __tablename__ = "programmes"
    __table_args__ = (
        CheckConstraint("yearly_amount >= 0", name="yearly_amount_positive"),
        CheckConstraint("min_stalls >= 0", name="min_stalls_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    # None: the whole country (national programmes).
    region_cut: Mapped[str | None] = mapped_column(ForeignKey("regions.cut"), index=True)
    yearly_amount: Mapped[int | None] = mapped_column(BigInteger)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    # Strategic axes of the regional development strategy (ERD), one per line.
    axes: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    eligibility_text: Mapped[str] = mapped_column(Text, default="")
    # Rules that can be checked against a fair; empty or None: not asked.
    min_stalls: Mapped[int | None] = mapped_column(Integer)
    legal_organization_required: Mapped[bool] = mapped_column(Boolean, default=False)
    fair_kinds: Mapped[str] = mapped_column(String(200), default="")
    url: Mapped[str] = mapped_column(String(300), default="")
    contact_name: Mapped[str] = mapped_column(String(160), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    region: Mapped[Region | None] = relationship(lazy="joined")

    @property
    def axis_list(self) -> list[str]:
        """Return the strategic axes, one per line."""
        return [line.strip() for line in self.axes.splitlines() if line.strip()]

    @property
    def fair_kind_list(self) -> list[str]:
        """Return the fair kinds the programme accepts (empty: any)."""
        return [k for k in self.fair_kinds.split(",") if k]

    @property
    def has_fair_rules(self) -> bool:
        """Tell whether the programme asks something of fairs (so fairs are checked against it)."""
        return bool(self.fair_kind_list) or self.min_stalls is not None

    def __repr__(self) -> str:
        return f"<Programme {self.code}>"


class FundedProject(TimestampMixin, Base):
    """A project a municipality funds, from a PB round or otherwise (an OC4IDS project)."""

    __tablename__ = "funded_projects"
    __table_args__ = (
        CheckConstraint("budget >= 0", name="budget_positive"),
        CheckConstraint("spent >= 0", name="spent_positive"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_percent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(
        ForeignKey("municipalities.id", ondelete="CASCADE"), index=True
    )
    round_id: Mapped[int | None] = mapped_column(
        ForeignKey("rounds.id", ondelete="SET NULL"), index=True
    )
    proposal_id: Mapped[int | None] = mapped_column(
        ForeignKey("proposals.id", ondelete="SET NULL"), unique=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    theme: Mapped[str] = mapped_column(String(40))
    year: Mapped[int] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(16), default="planned", index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    # Money in pesos: BIGINT, since regional investments pass the 2,147 million of an INTEGER.
    budget: Mapped[int] = mapped_column(BigInteger)
    spent: Mapped[int] = mapped_column(BigInteger, default=0)
    bip_code: Mapped[str] = mapped_column(String(20), default="")
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    district: Mapped[str] = mapped_column(String(120), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    comuna_cut: Mapped[str] = mapped_column(ForeignKey("comunas.cut"), index=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("economy_organizations.id", ondelete="SET NULL"), index=True
    )

    municipality: Mapped[Municipality] = relationship(lazy="joined")
    comuna: Mapped[Comuna] = relationship(lazy="joined")
    organization: Mapped[Organization | None] = relationship(lazy="joined")
    fundings: Mapped[list[ProjectFunding]] = relationship(
        back_populates="project",
        cascade="all, delete-orphan",
        order_by="ProjectFunding.id",
        lazy="selectin",
    )
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="project",
        cascade="all, delete-orphan",
        order_by="(Milestone.planned_on, Milestone.id)",
        lazy="selectin",
    )
    photos: Mapped[list[ProjectPhoto]] = relationship(
        back_populates="project",
        cascade="all, delete-orphan",
        order_by="ProjectPhoto.id",
        lazy="selectin",
    )

    @property
    def funded_total(self) -> int:
        """Return the sum of the programmes' contributions."""
        return sum(f.amount for f in self.fundings)

    @property
    def over_funded(self) -> bool:
        """Tell whether the contributions exceed the budget."""
        return self.funded_total > self.budget

    @property
    def period(self) -> tuple[date, date]:
        """Return the project's period: its dates, or else its whole year."""
        start = self.start_date or date(self.year, 1, 1)
        end = self.end_date or date(max(self.year, start.year), 12, 31)
        return start, max(start, end)

    def late_milestones(self, today: date) -> list[Milestone]:
        """Return the milestones whose planned date has passed without being done."""
        if self.status in ("completed", "cancelled"):
            return []
        return [m for m in self.milestones if m.done_on is None and m.planned_on < today]

    def __repr__(self) -> str:
        return f"<FundedProject {self.id} {self.title!r}>"


class ProjectFunding(Base):
    """A programme's contribution to a project (co-financing), under an agreement."""

    __tablename__ = "funded_project_fundings"
    __table_args__ = (
        UniqueConstraint("project_id", "programme_id"),
        CheckConstraint("amount >= 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("funded_projects.id", ondelete="CASCADE"), index=True
    )
    programme_id: Mapped[int] = mapped_column(
        ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    amount: Mapped[int] = mapped_column(BigInteger)
    agreement_ref: Mapped[str] = mapped_column(String(100), default="")
    agreement_date: Mapped[date | None] = mapped_column(Date)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)

    project: Mapped[FundedProject] = relationship(back_populates="fundings")
    programme: Mapped[Programme] = relationship(lazy="joined")

    @property
    def period(self) -> tuple[date, date]:
        """Return the agreement's period, or else the project's."""
        start, end = self.project.period
        start = self.start_date or start
        end = self.end_date or end
        return start, max(start, end)


class Milestone(Base):
    """A step of a project with its planned date and, once reached, its done date."""

    __tablename__ = "funded_project_milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("funded_projects.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    planned_on: Mapped[date] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)

    project: Mapped[FundedProject] = relationship(back_populates="milestones")


class ProjectPhoto(Base):
    """A photo of a project's progress, re-encoded on upload."""

    __tablename__ = "funded_project_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("funded_projects.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(80), unique=True)
    thumbnail: Mapped[str] = mapped_column(String(80), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    caption: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    project: Mapped[FundedProject] = relationship(back_populates="photos")


class ProjectFollow(Base):
    """A person following a funded project (listed under 'my projects')."""

    __tablename__ = "funded_project_follows"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(
        ForeignKey("funded_projects.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship()
    project: Mapped[FundedProject] = relationship()
