"""Import runs: customers, devices, equipment and staff read from CSV or XLSX (HB §7.1.1-§7.1.2).

A run is one uploaded file on its way from preview to import. The bytes are kept, encrypted,
between the preview and the confirmation (the file holds customers' phone numbers and e-mail
addresses, HB §7.3.1(2)) and dropped once the run is imported, failed or cancelled; the sha256,
the counts and the report stay as the record of what was done. Runs change only through
`imports.services`; the generated admin shows them read-only.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, relationship

from repairqc.accounts.models import StaffUser
from repairqc.crypto import EncryptedString
from repairqc.db import TenantBase
from repairqc.models_base import (
    LabelledEnum,
    StoreOwned,
    Timestamped,
    Versioned,
    enum_column,
    enum_labels,
    field,
)
from repairqc.stores.models import Store

FILENAME_MAX = 255


class ImportKind(LabelledEnum):
    CUSTOMERS = "customers"
    DEVICES = "devices"
    EQUIPMENT = "equipment"
    STAFF = "staff"


enum_labels({
    ImportKind.CUSTOMERS: _l("Customers"),
    ImportKind.DEVICES: _l("Devices"),
    ImportKind.EQUIPMENT: _l("Equipment"),
    ImportKind.STAFF: _l("Staff"),
})  # fmt: skip


class ImportStatus(LabelledEnum):
    PREVIEWED = "previewed"
    IMPORTED = "imported"
    FAILED = "failed"
    CANCELLED = "cancelled"


enum_labels({
    ImportStatus.PREVIEWED: _l("Awaiting confirmation"),
    ImportStatus.IMPORTED: _l("Imported"),
    ImportStatus.FAILED: _l("Not imported"),
    ImportStatus.CANCELLED: _l("Cancelled"),
})  # fmt: skip


class ImportRun(StoreOwned, Timestamped, Versioned, TenantBase):
    """One uploaded file: its preview, and what its import created, updated or left unchanged."""

    __tablename__ = "import_runs"
    __label__ = _l("Import run")
    __label_plural__ = _l("Import runs")
    __chapter__ = "ch7"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    kind: Mapped[ImportKind] = field(_l("What is imported"), enum_column(ImportKind))
    status: Mapped[ImportStatus] = field(
        _l("Status"), enum_column(ImportStatus), default=ImportStatus.PREVIEWED
    )
    #: The store the rows go to; none for staff (each row names its store).
    store_id: Mapped[int | None] = field(_l("Store"), sa.ForeignKey("stores.id"), index=True)
    filename: Mapped[str] = field(_l("File name"), sa.String(FILENAME_MAX))
    sha256: Mapped[str] = field(_l("SHA-256 of the file"), sa.String(64), index=True)
    size: Mapped[int] = field(_l("Size in bytes"))
    #: How the text was decoded ("xlsx" for a workbook).
    encoding: Mapped[str | None] = field(_l("Encoding"), sa.String(20))
    #: The uploaded bytes (base64, encrypted) while the run awaits confirmation; then emptied.
    content: Mapped[str | None] = field(
        _l("File contents"), EncryptedString(), secret=True, deferred=True, info={"readonly": True}
    )
    #: JSON: the problems found, the columns and the first rows shown in the preview; encrypted
    #: because it quotes the file's values.
    report: Mapped[str | None] = field(_l("Report"), EncryptedString(), secret=True, deferred=True)
    row_count: Mapped[int] = field(_l("Rows"), default=0)
    problem_count: Mapped[int] = field(_l("Problems"), default=0)
    #: The preview's plan until the import, then what the import did.
    created_count: Mapped[int] = field(_l("Created"), default=0)
    updated_count: Mapped[int] = field(_l("Updated"), default=0)
    unchanged_count: Mapped[int] = field(_l("Unchanged"), default=0)
    uploaded_by_id: Mapped[int | None] = field(_l("Uploaded by"), sa.ForeignKey("staff_users.id"), index=True)
    finished_at: Mapped[datetime | None] = field(_l("Finished at"))
    finished_by_id: Mapped[int | None] = field(_l("Finished by"), sa.ForeignKey("staff_users.id"))

    store: Mapped[Store | None] = relationship()
    uploaded_by: Mapped[StaffUser | None] = relationship(foreign_keys=[uploaded_by_id])
    finished_by: Mapped[StaffUser | None] = relationship(foreign_keys=[finished_by_id])

    def __str__(self) -> str:
        return f"{self.kind.label}: {self.filename} (#{self.id})"
