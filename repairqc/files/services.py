"""Storing uploads: what is accepted is decided by the bytes, and equal bytes are stored once.

A file's type comes from its contents (`filetype` reads the magic numbers), never from its name
or the browser's Content-Type, both of which the uploader controls. Only images and PDFs are
accepted: they are what work instructions need, and none of them runs script when opened.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

import filetype
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from repairqc.audit.services import current_actor
from repairqc.db import db
from repairqc.errors import DomainError
from repairqc.files.models import StoredFile
from repairqc.standards.schema import ATTACHMENT_TYPES

#: Allowed content types and the extension a stored file's name is given.
EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "application/pdf": "pdf",
}
assert set(EXTENSIONS) == set(ATTACHMENT_TYPES)  # one allow-list, checked at import


class UploadRefused(DomainError):
    """The upload is empty, too large or of a kind we do not keep; nothing was stored."""


def _display_size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{max(1, size // 1024)} KB"


def clean_filename(name: str, extension: str) -> str:
    """A name safe to show and to put in Content-Disposition, ending in the detected extension.

    Keeps non-Latin letters (Chinese names stay readable); drops any path, control characters,
    quotes and separators, and replaces the extension so a PNG can never be saved as `.html`.
    """
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"[\"'<>:;|?*%]", "", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    stem = name.rsplit(".", 1)[0].strip(" .") if "." in name else name
    return f"{(stem or 'file')[:100]}.{extension}"


def store_bytes(data: bytes, filename: str, *, store_id: int | None = None) -> StoredFile:
    """Check and keep `data`; the same bytes uploaded again return the row already stored.

    `store_id` makes it a store's file (a customer's photo or signature), seen only by that
    store's staff and HQ; without it the file is the provider's (SOP attachments).
    """
    display = filename or _("the file")
    if not data:
        raise UploadRefused(_("“%(name)s” is empty.", name=display), field="attachments")
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    if len(data) > limit:
        raise UploadRefused(
            _("“%(name)s” is larger than the limit of %(limit)s.", name=display, limit=_display_size(limit)),
            field="attachments",
        )
    kind = filetype.guess(data)
    content_type = kind.mime if kind is not None else None
    if content_type not in EXTENSIONS:
        raise UploadRefused(
            _("“%(name)s” is not a PNG, JPEG, WebP or GIF image or a PDF document, so it was refused.",
              name=display),
            field="attachments",
        )  # fmt: skip
    digest = hashlib.sha256(data).hexdigest()
    existing = find_by_sha256([digest], store_id=store_id).get(digest)
    if existing is not None:
        return existing
    actor = current_actor()
    stored = StoredFile(
        sha256=digest,
        store_id=store_id,
        filename=clean_filename(filename, EXTENSIONS[content_type]),
        content_type=content_type,
        size=len(data),
        data=data,
        uploaded_by_id=actor.id if actor.kind == "staff" else None,
    )
    try:
        # A savepoint: if someone stored the same bytes a moment ago, use their row.
        with db.session.begin_nested():
            db.session.add(stored)
    except sa.exc.IntegrityError:
        concurrent = find_by_sha256([digest], store_id=store_id).get(digest)
        if concurrent is None:
            raise
        return concurrent
    return stored


def store_upload(upload: FileStorage) -> StoredFile:
    """Store one uploaded file (see `store_bytes`); reads at most one byte past the limit."""
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    data = upload.stream.read(limit + 1)
    return store_bytes(data, upload.filename or "")


def find_by_sha256(digests: Iterable[str], *, store_id: int | None = None) -> dict[str, StoredFile]:
    """The provider's (or one store's) files among `digests`, without their bytes, by digest."""
    wanted = set(digests)
    if not wanted:
        return {}
    owner = StoredFile.store_id.is_(None) if store_id is None else StoredFile.store_id == store_id
    rows = db.session.execute(sa.select(StoredFile).where(StoredFile.sha256.in_(wanted), owner)).scalars()
    return {row.sha256: row for row in rows}


def get_file(file_id: int) -> StoredFile | None:
    """A file of the current tenant (the session is bound to its schema), with its bytes."""
    return db.session.execute(
        sa.select(StoredFile).where(StoredFile.id == file_id).options(sa.orm.undefer(StoredFile.data))
    ).scalar_one_or_none()
