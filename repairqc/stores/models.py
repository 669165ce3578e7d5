"""Chains, regions and stores: the organisation every other record hangs from."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, relationship

from repairqc.db import TenantBase
from repairqc.models_base import Timestamped, Versioned, field


class Chain(Timestamped, Versioned, TenantBase):
    """A brand under which stores trade; a provider may run several."""

    __tablename__ = "chains"
    __label__ = _l("Chain")
    __label_plural__ = _l("Chains")
    __chapter__ = "organisation"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    code: Mapped[str] = field(
        _l("Code"), sa.String(20), unique=True, help=_l("Short code, unique in the provider")
    )
    name: Mapped[str] = field(_l("Name"), sa.String(200))
    description: Mapped[str | None] = field(_l("Description"), sa.Text)
    is_active: Mapped[bool] = field(_l("Active"), default=True)

    regions: Mapped[list[Region]] = relationship(back_populates="chain")
    stores: Mapped[list[Store]] = relationship(back_populates="chain")

    def __str__(self) -> str:
        return self.name


class Region(Timestamped, Versioned, TenantBase):
    """A group of stores within a chain, usually one area manager's."""

    __tablename__ = "regions"
    __label__ = _l("Region")
    __label_plural__ = _l("Regions")
    __chapter__ = "organisation"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    chain_id: Mapped[int] = field(_l("Chain"), sa.ForeignKey("chains.id"), index=True)
    code: Mapped[str] = field(_l("Code"), sa.String(20), unique=True)
    name: Mapped[str] = field(_l("Name"), sa.String(200))

    chain: Mapped[Chain] = relationship(back_populates="regions")
    stores: Mapped[list[Store]] = relationship(back_populates="region")

    def __str__(self) -> str:
        return self.name


class Store(Timestamped, Versioned, TenantBase):
    """A repair shop; store-level roles and most records belong to one."""

    __tablename__ = "stores"
    __label__ = _l("Store")
    __label_plural__ = _l("Stores")
    __chapter__ = "organisation"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    chain_id: Mapped[int] = field(_l("Chain"), sa.ForeignKey("chains.id"), index=True)
    region_id: Mapped[int | None] = field(_l("Region"), sa.ForeignKey("regions.id"), index=True)
    code: Mapped[str] = field(_l("Code"), sa.String(20), unique=True, help=_l("Short code printed on orders"))
    name: Mapped[str] = field(_l("Name"), sa.String(200))
    address: Mapped[str | None] = field(_l("Address"), sa.Text)
    phone: Mapped[str | None] = field(_l("Phone"), sa.String(40))
    email: Mapped[str | None] = field(_l("Email"), sa.String(254))
    timezone: Mapped[str] = field(
        _l("Time zone"), sa.String(64), default="UTC", help=_l("IANA name, e.g. Asia/Shanghai")
    )
    opened_on: Mapped[date | None] = field(_l("Opened on"))
    is_active: Mapped[bool] = field(_l("Active"), default=True)
    #: The counter behind the store's order numbers, raised only by `repairs.services.next_order_number`.
    last_order_number: Mapped[int] = field(
        _l("Last order number"), default=0, server_default="0", info={"readonly": True}
    )

    chain: Mapped[Chain] = relationship(back_populates="stores")
    region: Mapped[Region | None] = relationship(back_populates="stores")

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        return cls.id.in_(store_ids)

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
