"""Encryption of sensitive fields at rest (HB §7.3.1(2)), with Fernet from `cryptography`."""

from __future__ import annotations

import base64
import hashlib

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


def _fernet() -> Fernet:
    key = current_app.config["ENCRYPTION_KEY"]
    if not key:
        # Derived, so the embedded default works with one secret; production should set its own
        # key so that rotating SECRET_KEY (sessions) does not make stored passcodes unreadable.
        digest = hashlib.sha256(("repairqc-field-encryption:" + current_app.config["SECRET_KEY"]).encode())
        key = base64.urlsafe_b64encode(digest.digest())
    return Fernet(key)


class EncryptedString(sa.TypeDecorator):
    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        if value is None or value == "":
            return None
        return _fernet().encrypt(value.encode()).decode()

    def process_result_value(self, value: str | None, dialect) -> str | None:
        if value is None:
            return None
        try:
            return _fernet().decrypt(value.encode()).decode()
        except InvalidToken:
            return None  # written under another key; treated as unknown rather than failing the page
