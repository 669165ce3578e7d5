"""What every form of the product shares (as `models_base` is for the models)."""

from __future__ import annotations


def strip_whitespace(value: str | None) -> str | None:
    """WTForms filter: a text field's value without surrounding spaces (None stays None)."""
    return value.strip() if isinstance(value, str) else value
