"""Language choice: the user's explicit choice, then the browser's (English or Simplified Chinese)."""

from __future__ import annotations

from flask import has_request_context, request, session
from flask_login import current_user

#: Flask-Admin ships its Chinese catalog as zh_Hans_CN; ours uses the same name (ecosystem.md §1.9).
LOCALES = {"en": "English", "zh_Hans_CN": "简体中文"}


def normalise_locale(tag: str | None) -> str | None:
    """Map what users and browsers send (zh-CN, zh_Hans, zh, en-GB, ...) to a supported locale."""
    if not tag:
        return None
    tag = tag.strip().replace("-", "_").lower()
    if tag.startswith("zh"):
        return "zh_Hans_CN"  # no Traditional catalog yet; Simplified beats English for zh readers
    if tag.startswith("en"):
        return "en"
    return None


def select_locale() -> str:
    if not has_request_context():  # CLI and jobs: English unless they force a locale
        return "en"
    chosen = normalise_locale(session.get("locale"))
    if chosen:
        return chosen
    user_locale = normalise_locale(getattr(current_user, "locale", None)) if current_user else None
    if user_locale:
        return user_locale
    for tag, _quality in request.accept_languages:
        supported = normalise_locale(tag)
        if supported:
            return supported
    return "en"


def current_language() -> str:
    """The locale this request (or job) renders in, as the catalogs and the standards' bilingual
    texts name it ("en", "zh_Hans_CN")."""
    from flask_babel import get_locale

    return str(get_locale() or "en")


def format_money(cents: int | None) -> str:
    """An amount kept in minor units, in the reader's number format: 123450 → "1,234.50"."""
    from decimal import Decimal

    from flask_babel import format_decimal

    if cents is None:
        return ""
    return format_decimal(Decimal(cents) / 100, format="#,##0.00")
