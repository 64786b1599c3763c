"""Users, their memberships (roles scoped to a municipality or a region) and invitations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import Base, TimestampMixin, UTCDateTime, utcnow
from portal.geo.models import Municipality, Region


class Role(StrEnum):
    """What a membership lets its holder do."""

    MUNICIPAL_STAFF = "municipal_staff"
    REGIONAL_STAFF = "regional_staff"
    ADMIN = "admin"


ROLE_SCOPE_CHECK = (
    "(role = 'municipal_staff' AND municipality_id IS NOT NULL AND region_cut IS NULL)"
    " OR (role = 'regional_staff' AND region_cut IS NOT NULL AND municipality_id IS NULL)"
    " OR (role = 'admin' AND municipality_id IS NULL AND region_cut IS NULL)"
)


class User(UserMixin, TimestampMixin, Base):
    """A person with an account: resident, organization representative, staff or admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A resident may link their RUT (as the keyed hash only) to skip the census check later.
    rut_hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        lazy="selectin",
        foreign_keys="Membership.user_id",
    )

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        """Tell Flask-Login whether the account may sign in."""
        return self.active

    @property
    def is_admin(self) -> bool:
        """Tell whether the user is a platform admin."""
        return any(m.role == Role.ADMIN for m in self.memberships)

    @property
    def is_staff(self) -> bool:
        """Tell whether the user holds any staff or admin role."""
        return bool(self.memberships)

    def municipality_ids(self) -> set[int]:
        """Return the municipalities this user is staff of."""
        return {
            m.municipality_id
            for m in self.memberships
            if m.role == Role.MUNICIPAL_STAFF and m.municipality_id is not None
        }

    def region_cuts(self) -> set[str]:
        """Return the regions this user is regional staff of."""
        return {
            m.region_cut
            for m in self.memberships
            if m.role == Role.REGIONAL_STAFF and m.region_cut is not None
        }

    def __repr__(self) -> str:
        return f"<User {self.id}>"


class Membership(Base):
    """A role held by a user, scoped to one municipality, one region, or the platform."""

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint(ROLE_SCOPE_CHECK, name="role_scope"),
        UniqueConstraint("user_id", "role", "municipality_id", "region_cut"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    municipality_id: Mapped[int | None] = mapped_column(
        ForeignKey("municipalities.id", ondelete="CASCADE"), index=True
    )
    region_cut: Mapped[str | None] = mapped_column(ForeignKey("regions.cut"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships", foreign_keys=[user_id])
    municipality: Mapped[Municipality | None] = relationship(lazy="joined")
    region: Mapped[Region | None] = relationship(lazy="joined")


class Invitation(Base):
    """A staff invitation sent by link; only a hash of its token is stored."""

    __tablename__ = "invitations"
    __table_args__ = (CheckConstraint(ROLE_SCOPE_CHECK, name="role_scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    role: Mapped[str] = mapped_column(String(32))
    municipality_id: Mapped[int | None] = mapped_column(
        ForeignKey("municipalities.id", ondelete="CASCADE")
    )
    region_cut: Mapped[str | None] = mapped_column(ForeignKey("regions.cut"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    municipality: Mapped[Municipality | None] = relationship(lazy="joined")
    region: Mapped[Region | None] = relationship(lazy="joined")

    @property
    def pending(self) -> bool:
        """Tell whether the invitation can still be accepted."""
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > utcnow()
