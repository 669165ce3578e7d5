"""Mixins and the column helper every tenant model uses.

Labels and help texts live on the model (``info`` of each column, ``__label__`` of the class), so
the auto-generated admin, forms and exports all read them from one place, in both languages.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from repairqc.db import utcnow

#: Keyed by (enum class, value): members of two string enums with the same value ("approved",
#: "qc") are equal and hash alike, so keying by the member would mix their labels up.
_ENUM_LABELS: dict[tuple[type, str], Any] = {}


class LabelledEnum(enum.StrEnum):
    """A string enum whose members have a translatable label, shown wherever users see them."""

    @property
    def label(self) -> str:
        return str(_ENUM_LABELS.get((type(self), self.value), self.value))

    @classmethod
    def choices(cls) -> list[tuple[str, Any]]:
        """(value, lazy label) pairs; the label is translated when rendered."""
        return [(member.value, _ENUM_LABELS.get((cls, member.value), member.value)) for member in cls]


def enum_labels(mapping: dict[enum.Enum, Any]) -> None:
    """Register the labels of an enum's members (lazy strings)."""
    classes = {type(member) for member in mapping}
    if len(classes) > 1:
        # A dict literal keeps one of two equal keys ("qc" of two enums): labels would be lost.
        raise ValueError(f"register one enum per call, not {sorted(c.__name__ for c in classes)}")
    _ENUM_LABELS.update({(type(member), member.value): label for member, label in mapping.items()})


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
    created_at: Mapped[datetime] = mapped_column(
        default=utcnow, info={"readonly": True, "label": _l("Created at")}
    )
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, info={"readonly": True, "label": _l("Updated at")}
    )


class Versioned:
    """Optimistic locking: a stale edit raises StaleDataError, shown as 409 Conflict."""

    version: Mapped[int] = mapped_column(default=1, info={"readonly": True, "label": _l("Version")})

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}


def check_version(record: Versioned, expected: int | None) -> None:
    """Refuse a change made on a page that showed an older version of `record` (409, nothing
    saved). `expected` None: the caller has no page version to compare (a job, the CLI)."""
    from flask_babel import gettext

    from repairqc.errors import Conflict

    if expected is not None and expected != record.version:
        raise Conflict(
            gettext(
                "Someone else changed this record at the same time. Nothing was saved; reload and try again."
            )
        )


class StoreOwned:
    """Rows that belong to one store: store users see only their stores' rows."""

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        return cls.store_id.in_(store_ids)
