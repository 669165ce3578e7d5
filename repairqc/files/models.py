"""Uploaded files, kept in the tenant's schema so isolation, transactions and backups cover them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, relationship

from repairqc.accounts.models import StaffUser
from repairqc.db import TenantBase, utcnow
from repairqc.errors import DomainError
from repairqc.models_base import field

#: Content types shown in the browser; every other allowed type is downloaded.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})


class StoredFile(TenantBase):
    """One file's bytes, stored once however often it is attached (keyed by its SHA-256).

    Every column is derived from the upload, so none is editable in the generated admin.
    """

    __tablename__ = "stored_files"
    __label__ = _l("Stored file")
    __label_plural__ = _l("Stored files")
    __chapter__ = "ch5"

    __table_args__ = (
        # Equal bytes are stored once per owner: once for the provider (SOP attachments) and
        # once per store (photos and signatures of its customers' orders).
        sa.UniqueConstraint("store_id", "sha256"),
        sa.Index("uq_stored_files_shared_sha256", "sha256", unique=True,
                 sqlite_where=sa.text("store_id IS NULL"), postgresql_where=sa.text("store_id IS NULL")),
    )  # fmt: skip

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    #: Hex digest of `data`; SOPs refer to files by it.
    sha256: Mapped[str] = field(_l("SHA-256"), sa.String(64), info={"readonly": True})
    #: The store whose customers' file this is (order photos, signatures): only its staff and
    #: HQ see it (HB §6.1.2). None for the provider's own files, which all staff read.
    store_id: Mapped[int | None] = field(
        _l("Store"), sa.ForeignKey("stores.id"), index=True, info={"readonly": True}
    )
    filename: Mapped[str] = field(_l("File name"), sa.String(255), info={"readonly": True})
    #: Decided from the bytes at upload (files.services), never from the name or the browser.
    content_type: Mapped[str] = field(_l("Content type"), sa.String(100), info={"readonly": True})
    size: Mapped[int] = field(_l("Size (bytes)"), info={"readonly": True})
    #: secret: the bytes stay out of admin lists, details, exports and the audit log;
    #: deferred: listing files never loads them.
    data: Mapped[bytes] = field(
        _l("Contents"), sa.LargeBinary, secret=True, deferred=True, info={"readonly": True}
    )
    uploaded_by_id: Mapped[int | None] = field(
        _l("Uploaded by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    created_at: Mapped[datetime] = field(_l("Uploaded at"), default=utcnow, info={"readonly": True})

    uploaded_by: Mapped[StaffUser | None] = relationship()

    @classmethod
    def store_scope(cls, store_ids: set[int]) -> sa.ColumnElement[bool]:
        return sa.or_(cls.store_id.is_(None), cls.store_id.in_(store_ids))

    @property
    def is_inline(self) -> bool:
        return self.content_type in INLINE_TYPES

    def validate(self) -> None:
        """Admin forms (a backstop: the matrix grants no one "c"): files come from the SOP editor."""
        if self.id is None:
            raise DomainError(_("Files are uploaded as attachments in the SOP editor."))

    def __str__(self) -> str:
        return self.filename
