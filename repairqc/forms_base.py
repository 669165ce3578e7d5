"""What every form of the product shares (as `models_base` is for the models)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from repairqc.stores.models import Store


def strip_whitespace(value: str | None) -> str | None:
    """WTForms filter: a text field's value without surrounding spaces (None stays None)."""
    return value.strip() if isinstance(value, str) else value


def store_choices(stores: Iterable[Store], *, blank: bool = False) -> list[tuple[str, str]]:
    """The choices of a store select, "code · name"; `blank` puts an empty choice first (the
    user must pick one)."""
    choices = [(str(store.id), f"{store.code} · {store.name}") for store in stores]
    return [("", "—"), *choices] if blank else choices
