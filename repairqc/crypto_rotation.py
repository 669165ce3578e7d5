"""Key rotation of encrypted fields and search keys, in batches that can resume (HB §7.3.1(2)).

`flask crypto rotate` calls `rotate_tenant` for each tenant. For every tenant table with an
`EncryptedString` column it walks the rows in primary-key order, `batch_size` at a time, and
re-encrypts each value that is not yet under the first `ENCRYPTION_KEY`; then it re-hashes the
customers' search keys under the first `LOOKUP_KEY` the same way. Each batch is its own unit of
work, together with the checkpoint recording it (`KeyRotationProgress`), so an interruption loses
at most the batch under way, locks stay short, and the next run continues after the checkpoint.

Decisions (why):

* The raw tokens are read and written through Core, never the ORM: no decrypt/encrypt round trip
  through `EncryptedString`, a value unreadable under every key is left exactly as it is (counted
  and reported), and the audit log does not get one row per value. The checkpoint is created and
  finished through the ORM, so the audit log records each pass's start and end once.
* Each row is written with a compare-and-set on the token read (``WHERE id = :id AND col =
  :token``): a user who saves the row between our read and our write keeps their value (written
  under the first key by the app already) instead of getting the old one back.
* ``updated_at`` and other ``onupdate`` columns keep their values: the content did not change.
* A checkpoint belongs to (table, fingerprint of the target key). Starting a pass for one key
  deletes the checkpoints of other keys for that table, so going back to an earlier key (A → B →
  A) walks the table again instead of trusting A's stale "finished".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped

from repairqc.crypto import (
    EncryptedString,
    encryption_keys,
    lookup_hash,
    lookup_keys,
    normalise_email,
    normalise_phone,
)
from repairqc.db import TenantBase, db, unit_of_work, utcnow
from repairqc.models_base import field

DEFAULT_BATCH_SIZE = 500
SEARCH_KEYS_PASS = "customers (search keys)"
#: Ids of unreadable values kept per pass for the report; the count is always complete.
UNREADABLE_IDS_SHOWN = 20


class KeyRotationProgress(TenantBase):
    """Where a key rotation of one table stands: the checkpoint a resumed run continues from."""

    __tablename__ = "key_rotation_progress"
    __label__ = _l("Key rotation checkpoint")
    __label_plural__ = _l("Key rotation checkpoints")
    __chapter__ = "ch7"
    __table_args__ = (sa.UniqueConstraint("table_name", "key_fingerprint"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    table_name: Mapped[str] = field(
        _l("Table"), sa.String(64), help=_l("The table whose values are re-encrypted or re-hashed")
    )
    key_fingerprint: Mapped[str] = field(
        _l("Target key"),
        sa.String(8),
        help=_l("The first 8 hexadecimal digits of a hash of the new key (never the key itself)"),
    )
    last_id: Mapped[int] = field(
        _l("Last row done"), default=0, help=_l("A resumed rotation continues after this row")
    )
    rows_rewritten: Mapped[int] = field(_l("Rows rewritten"), default=0)
    rows_unreadable: Mapped[int] = field(
        _l("Rows with unreadable values"),
        default=0,
        help=_l("Rows holding a value no configured key can read; such values are left as they are"),
    )
    started_at: Mapped[datetime] = field(_l("Started at"), default=utcnow)
    updated_at: Mapped[datetime] = field(_l("Updated at"), default=utcnow)
    finished_at: Mapped[datetime | None] = field(_l("Finished at"))

    def __str__(self) -> str:
        return f"{self.table_name} → {self.key_fingerprint}"


def key_fingerprint(key: bytes) -> str:
    """A short, stable name for a key that reveals nothing usable about it."""
    return hashlib.sha256(b"repairqc-key-fingerprint:" + key).hexdigest()[:8]


# --- what one pass does ------------------------------------------------------------------------


@dataclass
class BatchOutcome:
    rewritten: int = 0
    #: Rows changed by someone else between our read and our write: left to their new value.
    changed_meanwhile: int = 0
    unreadable_ids: list[int] = dc_field(default_factory=list)


@dataclass(frozen=True)
class RotationPass:
    """One walk over one table: which columns to read and how to rewrite a batch of rows."""

    name: str
    table: sa.Table
    fingerprint: str
    columns: tuple[str, ...]
    rewrite: Callable[[RotationPass, Sequence[sa.Row]], BatchOutcome]

    @property
    def pk(self) -> sa.Column:
        return _single_pk(self.table)


@dataclass
class PassResult:
    """What a pass did in this run (and, for rows_rewritten_total, in earlier runs too)."""

    name: str
    fingerprint: str
    total_rows: int = 0
    rows_checked: int = 0
    rows_rewritten: int = 0
    changed_meanwhile: int = 0
    rows_unreadable: int = 0
    unreadable_ids: list[int] = dc_field(default_factory=list)
    resumed_after: int | None = None
    already_finished: datetime | None = None
    rows_rewritten_total: int = 0
    rows_unreadable_total: int = 0


@dataclass(frozen=True)
class Progress:
    """Reported after every committed batch."""

    name: str
    rows_done: int
    total_rows: int
    rows_rewritten: int


class RotationRefused(RuntimeError):
    """The rotation cannot walk a table in batches; raised before any batch of any table."""


def _single_pk(table: sa.Table) -> sa.Column:
    """The integer primary key the batches walk and the checkpoint (`last_id`) records."""
    columns = list(table.primary_key.columns)
    if len(columns) != 1 or not isinstance(columns[0].type, sa.Integer):
        raise RotationRefused(
            f"cannot rotate {table.name} in batches: it needs a single integer primary key"
            " (the checkpoint records the last id done); nothing was rotated"
        )
    return columns[0]


def encrypted_tables() -> list[tuple[sa.Table, tuple[str, ...]]]:
    """Every tenant table with an `EncryptedString` column, by name, with those columns."""
    found = []
    for table in sorted(TenantBase.metadata.tables.values(), key=lambda t: t.name):
        encrypted = tuple(c.name for c in table.columns if isinstance(c.type, EncryptedString))
        if encrypted:
            found.append((table, encrypted))
    return found


def _raw(column: sa.Column) -> sa.ColumnElement[str]:
    # type_coerce keeps EncryptedString from decrypting on read / encrypting on write.
    return sa.type_coerce(column, sa.Text)


def _unchanged_timestamps(table: sa.Table) -> dict[sa.Column, sa.Column]:
    """Setting an `onupdate` column to itself keeps SQLAlchemy from stamping it."""
    return {column: column for column in table.columns if column.onupdate is not None}


def _compare_and_set(
    table: sa.Table, pk: sa.Column, row_id: int, read: dict[str, str | None], new: dict[str, str | None]
) -> bool:
    """Write `new` if the row's columns still hold what was `read`; False if someone was quicker."""
    conditions = [pk == row_id]
    for name, value in read.items():
        column = _raw(table.c[name])
        conditions.append(column.is_(None) if value is None else column == value)
    values = {table.c[name]: sa.type_coerce(value, sa.Text) for name, value in new.items()}
    values.update(_unchanged_timestamps(table))
    result = db.session.execute(table.update().where(*conditions).values(values))
    return result.rowcount == 1


class _Keys:
    """The configured keys, read once per run."""

    def __init__(self) -> None:
        keys = encryption_keys()
        self.primary = Fernet(keys[0])
        self.every = MultiFernet([Fernet(key) for key in keys])
        self.encryption_fingerprint = key_fingerprint(keys[0])
        self.lookup_fingerprint = key_fingerprint(lookup_keys()[0])

    def decrypt(self, token: str) -> str | None:
        try:
            return self.every.decrypt(token.encode()).decode()
        except InvalidToken:
            return None


def _reencrypt(keys: _Keys) -> Callable[[RotationPass, Sequence[sa.Row]], BatchOutcome]:
    def rewrite(spec: RotationPass, rows: Sequence[sa.Row]) -> BatchOutcome:
        outcome = BatchOutcome()
        for row in rows:
            read: dict[str, str | None] = {}
            new: dict[str, str | None] = {}
            unreadable = False
            for name in spec.columns:
                token = getattr(row, name)
                if not token:
                    continue
                try:
                    keys.primary.decrypt(token.encode())
                    continue  # already under the first key: the cheap, common case on a rerun
                except InvalidToken:
                    pass
                try:
                    new[name] = keys.every.rotate(token.encode()).decode()
                    read[name] = token
                except InvalidToken:
                    unreadable = True
            if unreadable:
                outcome.unreadable_ids.append(row.id)
            if new:
                if _compare_and_set(spec.table, spec.pk, row.id, read, new):
                    outcome.rewritten += 1
                else:
                    outcome.changed_meanwhile += 1
        return outcome

    return rewrite


def _rehash(keys: _Keys) -> Callable[[RotationPass, Sequence[sa.Row]], BatchOutcome]:
    normalisers = {"phone": normalise_phone, "email": normalise_email}

    def rewrite(spec: RotationPass, rows: Sequence[sa.Row]) -> BatchOutcome:
        outcome = BatchOutcome()
        for row in rows:
            read: dict[str, str | None] = {}
            new: dict[str, str | None] = {}
            unreadable = False
            for kind, normalise in normalisers.items():
                token = getattr(row, kind)
                plain = keys.decrypt(token) if token else ""
                if plain is None:
                    unreadable = True  # the hash cannot be recomputed; the old one stays
                    continue
                wanted = lookup_hash(kind, normalise(plain))
                if wanted != getattr(row, f"{kind}_lookup"):
                    new[f"{kind}_lookup"] = wanted
                    # Compare the token, not the hash: the hash follows from it.
                    read[kind] = token or None
            if unreadable:
                outcome.unreadable_ids.append(row.id)
            if new:
                if _compare_and_set(spec.table, spec.pk, row.id, read, new):
                    outcome.rewritten += 1
                else:
                    outcome.changed_meanwhile += 1
        return outcome

    return rewrite


def rotation_passes() -> list[RotationPass]:
    """Every encrypted tenant table (by name), then the customers' search keys."""
    from repairqc.repairs.models import Customer

    keys = _Keys()
    passes = []
    for table, encrypted in encrypted_tables():
        _single_pk(table)  # refuse before any batch, not halfway
        passes.append(
            RotationPass(table.name, table, keys.encryption_fingerprint, encrypted, _reencrypt(keys))
        )
    passes.append(
        RotationPass(
            SEARCH_KEYS_PASS,
            Customer.__table__,
            keys.lookup_fingerprint,
            ("phone", "email", "phone_lookup", "email_lookup"),
            _rehash(keys),
        )
    )
    return passes


# --- running a pass ------------------------------------------------------------------------------


def _open_checkpoint(spec: RotationPass, restart: bool) -> KeyRotationProgress:
    """The checkpoint of this pass, created if there is none for this key (ORM: audited)."""
    with unit_of_work():
        existing = db.session.execute(
            sa.select(KeyRotationProgress).where(KeyRotationProgress.table_name == spec.name)
        ).scalars()
        current = None
        for checkpoint in existing:
            if checkpoint.key_fingerprint == spec.fingerprint and not restart:
                current = checkpoint
            else:
                db.session.delete(checkpoint)
        if current is None:
            db.session.flush()  # the delete first: (table, key) is unique
            current = KeyRotationProgress(table_name=spec.name, key_fingerprint=spec.fingerprint)
            db.session.add(current)
    return current


def _rotate_batch(spec: RotationPass, rows: Sequence[sa.Row]) -> BatchOutcome:
    """Rewrite one batch (inside its unit of work). A seam for tests that interrupt a run."""
    return spec.rewrite(spec, rows)


def run_pass(
    spec: RotationPass,
    batch_size: int = DEFAULT_BATCH_SIZE,
    restart: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
) -> PassResult:
    checkpoint = _open_checkpoint(spec, restart)
    checkpoint_id, last_id = checkpoint.id, checkpoint.last_id
    result = PassResult(spec.name, spec.fingerprint)
    if checkpoint.finished_at is not None:
        result.already_finished = checkpoint.finished_at
        result.rows_rewritten_total = checkpoint.rows_rewritten
        result.rows_unreadable_total = checkpoint.rows_unreadable
        return result

    pk = spec.pk
    with unit_of_work():
        result.total_rows = db.session.execute(
            sa.select(sa.func.count()).select_from(spec.table)
        ).scalar_one()
        done = 0
        if last_id:
            result.resumed_after = last_id
            done = db.session.execute(
                sa.select(sa.func.count()).select_from(spec.table).where(pk <= last_id)
            ).scalar_one()
    progress_table = KeyRotationProgress.__table__
    columns = [pk.label("id"), *(_raw(spec.table.c[name]).label(name) for name in spec.columns)]
    while True:
        with unit_of_work():
            rows = db.session.execute(
                sa.select(*columns).where(pk > last_id).order_by(pk).limit(batch_size)
            ).all()
            if not rows:
                break
            outcome = _rotate_batch(spec, rows)
            last_id = rows[-1].id
            # Same transaction as the batch: the checkpoint never runs ahead of the data.
            db.session.execute(
                progress_table.update()
                .where(progress_table.c.id == checkpoint_id)
                .values(
                    last_id=last_id,
                    rows_rewritten=progress_table.c.rows_rewritten + outcome.rewritten,
                    rows_unreadable=progress_table.c.rows_unreadable + len(outcome.unreadable_ids),
                    updated_at=utcnow(),
                )
            )
        done += len(rows)
        result.rows_checked += len(rows)
        result.rows_rewritten += outcome.rewritten
        result.changed_meanwhile += outcome.changed_meanwhile
        result.rows_unreadable += len(outcome.unreadable_ids)
        room = UNREADABLE_IDS_SHOWN - len(result.unreadable_ids)
        result.unreadable_ids.extend(outcome.unreadable_ids[: max(room, 0)])
        if on_progress is not None:
            on_progress(Progress(spec.name, done, max(result.total_rows, done), result.rows_rewritten))
        if len(rows) < batch_size:
            break
    with unit_of_work():
        finished = db.session.get(KeyRotationProgress, checkpoint_id)
        finished.finished_at = utcnow()
        result.rows_rewritten_total = finished.rows_rewritten
        result.rows_unreadable_total = finished.rows_unreadable
    return result


class RotationInterrupted(RuntimeError):
    """A pass stopped part-way; what was committed stays, and a rerun continues from it."""

    def __init__(self, pass_name: str, done: list[PassResult], cause: BaseException) -> None:
        super().__init__(f"rotation of {pass_name} stopped: {cause!r}")
        self.pass_name = pass_name
        self.done = done
        self.cause = cause


def rotate_tenant(
    batch_size: int = DEFAULT_BATCH_SIZE,
    restart: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    on_pass: Callable[[PassResult], None] | None = None,
) -> list[PassResult]:
    """Rotate every pass of the current tenant. `restart` ignores checkpoints (values already
    under the first key are still skipped, so a restart only costs reading)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    results: list[PassResult] = []
    for spec in rotation_passes():
        try:
            result = run_pass(spec, batch_size, restart, on_progress)
        except (Exception, KeyboardInterrupt) as exc:
            raise RotationInterrupted(spec.name, results, exc) from exc
        results.append(result)
        if on_pass is not None:
            on_pass(result)
    return results
