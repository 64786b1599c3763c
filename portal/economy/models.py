"""SSE organizations, their locations and representatives; fairs and their schedules."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.database import Base, TimestampMixin, UTCDateTime
from portal.economy.vocab import INFORMAL_FORMS, QUALIFIERS
from portal.geo.models import Comuna, Municipality

fair_organizers = Table(
    "economy_fair_organizers",
    Base.metadata,
    Column("fair_id", ForeignKey("economy_fairs.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "organization_id",
        ForeignKey("economy_organizations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)

fair_vendors = Table(
    "economy_fair_vendors",
    Base.metadata,
    Column("fair_id", ForeignKey("economy_fairs.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "organization_id",
        ForeignKey("economy_organizations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)


class Organization(TimestampMixin, Base):
    """An SSE organization in a municipality's registry (HSDS organization, ESSGlobal terms)."""

    __tablename__ = "economy_organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(
        ForeignKey("municipalities.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    # Folded name and products ("cooperativa caleta portales pescado ..."): what search matches.
    search_text: Mapped[str] = mapped_column(Text, default="")
    # A business identifier, public: stored formatted (12.345.678-5); informal groups have none.
    rut: Mapped[str | None] = mapped_column(String(12), index=True)
    legal_form: Mapped[str] = mapped_column(String(32))
    sector: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    members_total: Mapped[int | None] = mapped_column(Integer)
    members_women: Mapped[int | None] = mapped_column(Integer)
    led_by_women: Mapped[bool] = mapped_column(Boolean, default=False)
    indigenous: Mapped[bool] = mapped_column(Boolean, default=False)
    youth: Mapped[bool] = mapped_column(Boolean, default=False)
    organic: Mapped[bool] = mapped_column(Boolean, default=False)
    fair_trade: Mapped[bool] = mapped_column(Boolean, default=False)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    website: Mapped[str | None] = mapped_column(String(300))
    social_url: Mapped[str | None] = mapped_column(String(300))
    opening_hours: Mapped[str] = mapped_column(Text, default="")
    products: Mapped[str] = mapped_column(Text, default="")
    last_verified_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    status_note: Mapped[str] = mapped_column(Text, default="")
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("economy_organizations.id", ondelete="SET NULL")
    )
    representative_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    municipality: Mapped[Municipality] = relationship(lazy="joined")
    representative: Mapped[User | None] = relationship()
    merged_into: Mapped[Organization | None] = relationship(remote_side=[id])
    locations: Mapped[list[OrganizationLocation]] = relationship(
        back_populates="organization",
        cascade="all, delete-orphan",
        order_by="OrganizationLocation.id",
        lazy="selectin",
    )

    @property
    def qualifiers(self) -> list[str]:
        """Return the qualifier keys this organization has."""
        return [key for key in QUALIFIERS if getattr(self, key)]

    @property
    def is_legal_entity(self) -> bool:
        """Tell whether the organization has legal personality (a RUT and a formal legal form)."""
        return self.legal_form not in INFORMAL_FORMS and bool(self.rut)

    @property
    def is_public(self) -> bool:
        """Tell whether residents may see it."""
        return self.status == "verified"

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.name!r}>"


class OrganizationLocation(Base):
    """A place where an organization works or sells (HSDS location)."""

    __tablename__ = "economy_locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("economy_organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(300))
    comuna_cut: Mapped[str] = mapped_column(ForeignKey("comunas.cut"), index=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)

    organization: Mapped[Organization] = relationship(back_populates="locations")
    comuna: Mapped[Comuna] = relationship(lazy="joined")


class Fair(TimestampMixin, Base):
    """A street fair or market of a municipality (schema.org Event with an eventSchedule)."""

    __tablename__ = "economy_fairs"

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(
        ForeignKey("municipalities.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(300))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    stalls: Mapped[int | None] = mapped_column(Integer)
    permit_number: Mapped[str] = mapped_column(String(60), default="")
    product_categories: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    municipality: Mapped[Municipality] = relationship(lazy="joined")
    schedules: Mapped[list[FairSchedule]] = relationship(
        back_populates="fair",
        cascade="all, delete-orphan",
        order_by="FairSchedule.id",
        lazy="selectin",
    )
    one_offs: Mapped[list[FairOneOff]] = relationship(
        back_populates="fair",
        cascade="all, delete-orphan",
        order_by="FairOneOff.day",
        lazy="selectin",
    )
    organizers: Mapped[list[Organization]] = relationship(
        secondary=fair_organizers, order_by="Organization.name"
    )
    vendors: Mapped[list[Organization]] = relationship(
        secondary=fair_vendors, order_by="Organization.name"
    )

    @property
    def categories(self) -> list[str]:
        """Return the product categories as a list."""
        return [
            c.strip() for c in self.product_categories.replace(";", ",").split(",") if c.strip()
        ]

    def __repr__(self) -> str:
        return f"<Fair {self.id} {self.name!r}>"


class FairSchedule(Base):
    """A weekly schedule of a fair (HSDS schedule, RFC 5545 fields), in Santiago local time."""

    __tablename__ = "economy_fair_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    fair_id: Mapped[int] = mapped_column(
        ForeignKey("economy_fairs.id", ondelete="CASCADE"), index=True
    )
    freq: Mapped[str] = mapped_column(String(8), default="WEEKLY")
    byday: Mapped[str] = mapped_column(String(32))  # RFC 5545 codes: "WE,SA,SU"
    opens_at: Mapped[time] = mapped_column(Time)
    closes_at: Mapped[time] = mapped_column(Time)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    fair: Mapped[Fair] = relationship(back_populates="schedules")
    exceptions: Mapped[list[FairScheduleException]] = relationship(
        back_populates="schedule",
        cascade="all, delete-orphan",
        order_by="FairScheduleException.day",
        lazy="selectin",
    )

    @property
    def days(self) -> list[str]:
        """Return the weekday codes."""
        return [d for d in self.byday.split(",") if d]


class FairScheduleException(Base):
    """A date on which a weekly schedule does not hold (holiday, works on the street…)."""

    __tablename__ = "economy_fair_schedule_exceptions"
    __table_args__ = (UniqueConstraint("schedule_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("economy_fair_schedules.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[date] = mapped_column(Date)

    schedule: Mapped[FairSchedule] = relationship(back_populates="exceptions")


class FairOneOff(Base):
    """A single fair day with its own hours (seasonal fairs, special dates)."""

    __tablename__ = "economy_fair_one_offs"
    __table_args__ = (UniqueConstraint("fair_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fair_id: Mapped[int] = mapped_column(
        ForeignKey("economy_fairs.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[date] = mapped_column(Date)
    opens_at: Mapped[time] = mapped_column(Time)
    closes_at: Mapped[time] = mapped_column(Time)

    fair: Mapped[Fair] = relationship(back_populates="one_offs")
