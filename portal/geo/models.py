"""Regions, comunas and municipalities."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.database import Base, TimestampMixin


class Region(Base):
    """One of Chile's 16 regions, keyed by its two-digit CUT."""

    __tablename__ = "regions"

    cut: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    short_name: Mapped[str] = mapped_column(String(80))
    iso_code: Mapped[str] = mapped_column(String(8))
    slug: Mapped[str] = mapped_column(String(80), unique=True)

    comunas: Mapped[list[Comuna]] = relationship(back_populates="region", order_by="Comuna.name")

    def __repr__(self) -> str:
        return f"<Region {self.cut} {self.short_name}>"


class Comuna(Base):
    """One of the 346 comunas, keyed by its five-digit CUT."""

    __tablename__ = "comunas"

    cut: Mapped[str] = mapped_column(String(5), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    province_cut: Mapped[str] = mapped_column(String(3))
    region_cut: Mapped[str] = mapped_column(ForeignKey("regions.cut"), index=True)

    region: Mapped[Region] = relationship(back_populates="comunas")

    def __repr__(self) -> str:
        return f"<Comuna {self.cut} {self.name}>"


class Municipality(TimestampMixin, Base):
    """A municipality (the portal's tenant), governing exactly one comuna."""

    __tablename__ = "municipalities"

    id: Mapped[int] = mapped_column(primary_key=True)
    comuna_cut: Mapped[str] = mapped_column(ForeignKey("comunas.cut"), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    comuna: Mapped[Comuna] = relationship(lazy="joined")

    @property
    def region_cut(self) -> str:
        """Return the CUT of the region the municipality belongs to."""
        return self.comuna.region_cut

    def __repr__(self) -> str:
        return f"<Municipality {self.slug}>"
