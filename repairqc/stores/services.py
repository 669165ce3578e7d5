"""Opening stores outside the generated admin (the first-run page of a new provider)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from flask_babel import gettext as _

from repairqc.db import db
from repairqc.errors import DomainError
from repairqc.stores.models import Chain, Store


def open_store(code: str, name: str, timezone: str, address: str | None, chain_name: str) -> Store:
    """A store under the provider's first chain, which is made (named `chain_name`) if there is
    none yet. The plan's store limit applies (`billing.limits`)."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError(_("“%(tz)s” is not a time zone name.", tz=timezone), field="timezone") from None
    if db.session.execute(sa.select(Store.id).where(Store.code == code)).first():
        raise DomainError(_("There is already a store %(code)s.", code=code), field="code")
    chain = db.session.execute(sa.select(Chain).order_by(Chain.id)).scalars().first()
    if chain is None:
        chain = Chain(code="MAIN", name=chain_name)
        db.session.add(chain)
    store = Store(chain=chain, code=code, name=name, address=address or None, timezone=timezone)
    db.session.add(store)
    db.session.flush()
    return store
