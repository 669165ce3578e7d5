"""Encryption of sensitive fields at rest (HB §6.1.2, §7.3.1(2)), and keyed hashes to find them.

Fernet (from `cryptography`) encrypts; `MultiFernet` makes keys rotatable: the first key of
`ENCRYPTION_KEY` encrypts, every listed key decrypts, and `flask crypto rotate` re-encrypts old
values under the first. An encrypted column cannot be searched, so columns customers are looked
up by (phone, e-mail) also keep an HMAC-SHA256 "blind index" of their normalised value under
`LOOKUP_KEY`; a search hashes the query under every listed key, so lookups keep working while a
rotation is under way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


def _keys(setting: str, purpose: str) -> list[bytes]:
    """The comma-separated keys of `setting`, or one derived from SECRET_KEY when it is empty.

    Derived keys keep the embedded default working with one secret; production sets its own so
    that rotating SECRET_KEY (sessions) does not make stored values unreadable.
    """
    raw = current_app.config[setting]
    keys = [key.strip().encode() for key in raw.split(",") if key.strip()] if raw else []
    if not keys:
        digest = hashlib.sha256(f"repairqc-{purpose}:{current_app.config['SECRET_KEY']}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest)]
    return keys


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in _keys("ENCRYPTION_KEY", "field-encryption")])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str | None:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return None  # written under a key no longer configured; unknown rather than a failed page


def rotate(token: str) -> str:
    """The same value encrypted under the first key (unchanged if it already is)."""
    return _fernet().rotate(token.encode()).decode()


class EncryptedString(sa.TypeDecorator):
    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        if value is None or value == "":
            return None
        return encrypt(value)

    def process_result_value(self, value: str | None, dialect) -> str | None:
        return None if value is None else decrypt(value)


# --- blind indexes --------------------------------------------------------------------------------


def normalise_phone(phone: str) -> str:
    """Digits only, with an international 00 prefix read as +: "+86 138-0013 8000" → "8613800138000"."""
    digits = re.sub(r"\D", "", phone)
    return digits[2:] if digits.startswith("00") else digits


def normalise_email(email: str) -> str:
    return email.strip().lower()


def lookup_hashes(kind: str, normalised: str) -> list[str]:
    """The value's keyed hash under every lookup key, the current key's first."""
    return [
        hmac.new(key, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()
        for key in _keys("LOOKUP_KEY", "lookup-hash")
    ]


def lookup_hash(kind: str, normalised: str) -> str | None:
    """The hash stored with a row: under the current key, or None for an empty value."""
    return lookup_hashes(kind, normalised)[0] if normalised else None


# --- rotation ---------------------------------------------------------------------------------------


def encryption_keys() -> list[bytes]:
    """The field-encryption keys, the one new values are written under first."""
    return _keys("ENCRYPTION_KEY", "field-encryption")


def lookup_keys() -> list[bytes]:
    """The search-hash keys, the one new hashes are computed under first."""
    return _keys("LOOKUP_KEY", "lookup-hash")


def rotate_tenant_data(batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt every encrypted column of the current tenant under the first key, and rewrite
    the search hashes under the first lookup key. Returns the rows rewritten per table.

    Run after putting a new key first in ENCRYPTION_KEY / LOOKUP_KEY; once it has run for every
    tenant, the old keys can be removed. Batched, checkpointed and resumable: see
    `repairqc.crypto_rotation` (where `flask crypto rotate` gets its progress and report).
    """
    from repairqc.crypto_rotation import rotate_tenant

    return {result.name: result.rows_rewritten for result in rotate_tenant(batch_size=batch_size)}


def hash_password(password: str) -> str:
    """A password hash by werkzeug, with `PASSWORD_HASH_METHOD` (scrypt by default). The test
    suite sets a cheap method: it signs in thousands of times, and scrypt's cost is the point
    in production, not in tests. Checking reads the method from the hash itself."""
    from werkzeug.security import generate_password_hash

    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])
