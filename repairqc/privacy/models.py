"""Access and confidentiality records (HB §7.3).

* `DataAccess`: who viewed or exported customer data, when, from where (HB §7.3.1 "access
  control": access is limited by role *and* traceable). Written only by
  `repairqc.privacy.access.log_data_access`; nobody edits or deletes an entry (the matrix grants
  view and export only).
* `ConfidentialityAgreement`: a member of staff's signed confidentiality agreement (HB §7.3.2).
* `ConfidentialityReminder`: one reminder mail to a member of staff without a current agreement;
  the daily job reads them so it reminds nobody twice within a week (idempotent reruns).
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, relationship

from repairqc.accounts.models import StaffUser
from repairqc.db import TenantBase, utcnow
from repairqc.errors import DomainError
from repairqc.files.models import StoredFile
from repairqc.models_base import LabelledEnum, Timestamped, enum_column, enum_labels, field

DETAIL_MAX = 500
TITLE_MAX = 200
VERSION_MAX = 40
NOTE_MAX = 2000


class AccessKind(LabelledEnum):
    VIEW = "view"
    EXPORT = "export"


enum_labels({AccessKind.VIEW: _l("Viewed"), AccessKind.EXPORT: _l("Exported")})

#: Labels of the subjects the product logs; a subject not listed here is shown as it was logged.
SUBJECT_LABELS = {
    "customer": _l("Customer"),
    "customer_profile": _l("Customer profile"),
    "order": _l("Repair order"),
    "customer_list": _l("Customer list"),
    "complaint": _l("Complaint contact"),
    "customer_message": _l("Message to a customer"),
    "follow_up": _l("Follow-up call"),
    "incident_customers": _l("Customers to call about an incident"),
    "file": _l("Stored file of a store (photo, signature, attachment)"),
    "tenant_export": _l("Whole-tenant export by a platform operator"),
    "report": _l("Report"),
    "analytics": _l("Analytics"),
    "backup": _l("Backup"),
    "admin_export": _l("Admin export"),
    "data_access_log": _l("Data access log"),
}


def subject_label(subject: str) -> str:
    return str(SUBJECT_LABELS.get(subject, subject))


class DataAccess(TenantBase):
    """One view or export of customer data (HB §7.3.1)."""

    __tablename__ = "data_access_log"
    __label__ = _l("Data access entry")
    __label_plural__ = _l("Data access log")
    __chapter__ = "ch7"
    # The review screen filters by person and period, newest first.
    __table_args__ = (sa.Index("ix_data_access_log_staff_user_id_at", "staff_user_id", "at"),)

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    at: Mapped[datetime] = field(_l("When"), default=utcnow, index=True)
    #: No foreign key, as in the audit log: the entry must outlive the account, and a separate
    #: transaction writing it must never wait on a lock the request holds on the user's row.
    staff_user_id: Mapped[int | None] = field(_l("Staff user ID"))
    staff_name: Mapped[str] = field(_l("Who"), sa.String(254))
    #: Set when the viewer was a platform operator in a support session: the operator's name
    #: and address (the support account itself is shared by all of their visits).
    operator: Mapped[str | None] = field(_l("Platform operator"), sa.String(254))
    kind: Mapped[AccessKind] = field(_l("Access"), enum_column(AccessKind))
    subject: Mapped[str] = field(_l("Data"), sa.String(64), index=True, info={"display": subject_label})
    record_id: Mapped[str | None] = field(_l("Record ID"), sa.String(64))
    detail: Mapped[str | None] = field(_l("Detail"), sa.String(DETAIL_MAX))
    ip_address: Mapped[str | None] = field(_l("IP address"), sa.String(45))

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.staff_name} {self.kind} {self.subject}"


class ConfidentialityAgreement(Timestamped, TenantBase):
    """A member of staff's signed confidentiality agreement (HB §7.3.2: "staff sign a
    confidentiality agreement"). Current from `signed_on` until `valid_until` (open-ended when
    empty); a member of staff without a current one is reminded weekly."""

    __tablename__ = "confidentiality_agreements"
    __label__ = _l("Confidentiality agreement")
    __label_plural__ = _l("Confidentiality agreements")
    __chapter__ = "ch7"
    __table_args__ = (
        sa.CheckConstraint("valid_until IS NULL OR valid_until >= signed_on", name="valid_after_signed"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    staff_user_id: Mapped[int] = field(_l("Staff member"), sa.ForeignKey("staff_users.id"), index=True)
    signed_on: Mapped[date] = field(_l("Signed on"))
    valid_until: Mapped[date | None] = field(
        _l("Valid until"), help=_l("Leave empty if the agreement does not expire.")
    )
    title: Mapped[str] = field(_l("Agreement"), sa.String(TITLE_MAX))
    agreement_version: Mapped[str | None] = field(_l("Agreement version"), sa.String(VERSION_MAX))
    document_id: Mapped[int | None] = field(
        _l("Signed document"), sa.ForeignKey("stored_files.id"), info={"readonly": True}
    )
    recorded_by_id: Mapped[int | None] = field(
        _l("Recorded by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    note: Mapped[str | None] = field(_l("Note"), sa.Text)

    staff_user: Mapped[StaffUser] = relationship(foreign_keys=[staff_user_id])
    recorded_by: Mapped[StaffUser | None] = relationship(foreign_keys=[recorded_by_id])
    document: Mapped[StoredFile | None] = relationship()

    def is_current(self, on: date) -> bool:
        return self.signed_on <= on and (self.valid_until is None or self.valid_until >= on)

    def validate(self) -> None:
        """The rules of the generated admin form (the screen's service checks the same)."""
        if self.valid_until is not None and self.signed_on is not None and self.valid_until < self.signed_on:
            raise DomainError(_("The agreement cannot expire before it was signed."), field="valid_until")
        if not (self.title or "").strip():
            raise DomainError(_("Name the agreement that was signed."), field="title")

    def __str__(self) -> str:
        return f"{self.title} ({self.signed_on:%Y-%m-%d})"


class ConfidentialityReminder(TenantBase):
    """A reminder sent to a member of staff who had no current agreement (HB §7.3.2)."""

    __tablename__ = "confidentiality_reminders"
    __label__ = _l("Confidentiality reminder")
    __label_plural__ = _l("Confidentiality reminders")
    __chapter__ = "ch7"
    __table_args__ = (
        sa.Index("ix_confidentiality_reminders_staff_user_id_sent_at", "staff_user_id", "sent_at"),
    )

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    staff_user_id: Mapped[int] = field(_l("Staff member"), sa.ForeignKey("staff_users.id"))
    sent_at: Mapped[datetime] = field(_l("Sent at"), default=utcnow)

    staff_user: Mapped[StaffUser] = relationship()

    def __str__(self) -> str:
        return f"{self.staff_user_id} {self.sent_at:%Y-%m-%d}"
