"""Mixins and the column helper every tenant model uses.

Labels and help texts live on the model (``info`` of each column, ``__label__`` of the class), so
the auto-generated admin, forms and exports all read them from one place, in both languages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from repairqc.db import utcnow


def field(label: Any, *args: Any, help: Any = None, secret: bool = False, **kwargs: Any) -> Any:
    """`mapped_column` with a translatable label and help text.

    ``secret=True`` keeps the value out of the audit log, list views and exports.
    """
    info = dict(kwargs.pop("info", {}))
    info.update(label=label, help=help, secret=secret)
    return mapped_column(*args, info=info, **kwargs)


def enum_column(enum_cls: type, **kwargs: Any) -> sa.Enum:
    """Enums stored as their values in a VARCHAR (no per-schema PostgreSQL ENUM types to migrate)."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        length=max(len(m.value) for m in enum_cls) + 8,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        **kwargs,
    )


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, info={"readonly": True})
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, info={"readonly": True})


class Versioned:
    """Optimistic locking: a stale edit raises StaleDataError, shown as 409 Conflict."""

    version: Mapped[int] = mapped_column(default=1, info={"readonly": True})

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}
