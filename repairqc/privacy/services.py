"""Access and confidentiality (HB §7.3): reviewing the data access log, recording the staff's
confidentiality agreements, finding who has none in force, and claiming the weekly reminders.

The log itself is written by `repairqc.privacy.access.log_data_access`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.db import db, utcnow
from repairqc.errors import DomainError
from repairqc.privacy.models import (
    NOTE_MAX,
    TITLE_MAX,
    VERSION_MAX,
    AccessKind,
    ConfidentialityAgreement,
    ConfidentialityReminder,
    DataAccess,
    subject_label,
)
from repairqc.spreadsheets import CSV_BOM, inert

#: Entries per page of the review screen.
PAGE_SIZE = 50
#: A member of staff without a current agreement is reminded at most this often (HB §7.3.2).
REMINDER_INTERVAL = timedelta(days=7)
#: The CSV export of the log stops here; narrow the filters for more (keeps a request bounded).
EXPORT_MAX_ROWS = 100_000


# --- the data access log ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessFilters:
    """What the owner narrows the log to; every field optional. `end` is inclusive."""

    staff_user_id: int | None = None
    start: date | None = None
    end: date | None = None
    kind: AccessKind | None = None
    subject: str | None = None

    def check(self) -> None:
        if self.start and self.end and self.end < self.start:
            raise DomainError(_("The period ends before it starts."), field="end")

    def condition(self) -> sa.ColumnElement[bool]:
        parts: list[sa.ColumnElement[bool]] = []
        if self.staff_user_id is not None:
            parts.append(DataAccess.staff_user_id == self.staff_user_id)
        if self.start is not None:
            parts.append(DataAccess.at >= datetime.combine(self.start, time.min, UTC))
        if self.end is not None and self.end < date.max:  # the last day of the calendar ends nothing
            parts.append(DataAccess.at < datetime.combine(self.end + timedelta(days=1), time.min, UTC))
        if self.kind is not None:
            parts.append(DataAccess.kind == self.kind)
        if self.subject:
            parts.append(DataAccess.subject == self.subject)
        return sa.and_(sa.true(), *parts)

    def describe(self) -> str:
        """The filters as the log's own entry records them."""
        shown = {
            "person": self.staff_user_id,
            "from": self.start,
            "to": self.end,
            "kind": self.kind.value if self.kind else None,
            "subject": self.subject,
        }
        return " ".join(f"{key}={value}" for key, value in shown.items() if value not in (None, ""))


@dataclass(frozen=True)
class AccessPage:
    entries: list[DataAccess]
    page: int
    has_next: bool


def access_page(filters: AccessFilters, page: int = 1) -> AccessPage:
    """One page of the log, newest first (the index on `at` reads it backwards, no sort)."""
    filters.check()
    page = max(1, min(page, 10**6))
    rows = list(
        db.session.scalars(
            sa.select(DataAccess)
            .where(filters.condition())
            .order_by(DataAccess.at.desc(), DataAccess.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)  # one more tells whether there is a next page, without a count
        )
    )
    return AccessPage(rows[:PAGE_SIZE], page, len(rows) > PAGE_SIZE)


def logged_subjects() -> list[str]:
    return list(db.session.scalars(sa.select(DataAccess.subject).distinct().order_by(DataAccess.subject)))


def people() -> list[StaffUser]:
    """Everyone who may appear in the log (inactive accounts too: their past accesses count)."""
    return list(db.session.scalars(sa.select(StaffUser).order_by(StaffUser.full_name, StaffUser.id)))


def access_csv(filters: AccessFilters) -> Iterator[str]:
    """The filtered log as CSV lines (a header, then newest first), read now and streamed."""
    filters.check()
    headers = [_("When (UTC)"), _("Who"), _("Platform operator"), _("Access"), _("Data"), _("Record ID"),
               _("Detail"), _("IP address")]  # fmt: skip
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: list) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([inert(value) for value in values])  # names and details are typed text
        return buffer.getvalue()

    rows = db.session.execute(
        sa.select(DataAccess)
        .where(filters.condition())
        .order_by(DataAccess.at.desc(), DataAccess.id.desc())
        .limit(EXPORT_MAX_ROWS)
    ).scalars()
    # The rows are read now, inside the request: the streamed response outlives its session.
    lines = [CSV_BOM + line(headers)]
    for entry in rows:
        lines.append(
            line([
                entry.at.strftime("%Y-%m-%d %H:%M:%S"),
                entry.staff_name,
                entry.operator or "",
                entry.kind.label,
                subject_label(entry.subject),
                entry.record_id or "",
                entry.detail or "",
                entry.ip_address or "",
            ])
        )  # fmt: skip
    return iter(lines)


# --- confidentiality agreements ----------------------------------------------------------------------


@dataclass
class AgreementInput:
    staff_user_id: int | None
    signed_on: date | None
    valid_until: date | None = None
    title: str = ""
    agreement_version: str = ""
    note: str = ""
    document: FileStorage | None = field(default=None, repr=False)


def record_agreement(
    data: AgreementInput, recorded_by: StaffUser, *, today: date
) -> ConfidentialityAgreement:
    """Record a signed agreement (HB §7.3.2 (1)); the signed copy, if given, is stored with it."""
    staff_user = db.session.get(StaffUser, data.staff_user_id) if data.staff_user_id else None
    if staff_user is None or staff_user.is_platform_support:
        raise DomainError(_("Choose the member of staff who signed."), field="staff_user_id")
    if data.signed_on is None:
        raise DomainError(_("Enter the date the agreement was signed."), field="signed_on")
    if data.signed_on > today:
        raise DomainError(_("The agreement cannot be signed in the future."), field="signed_on")
    if data.valid_until is not None and data.valid_until < data.signed_on:
        raise DomainError(_("The agreement cannot expire before it was signed."), field="valid_until")
    title = data.title.strip()
    if not title:
        raise DomainError(_("Name the agreement that was signed."), field="title")
    if len(title) > TITLE_MAX:
        raise DomainError(_("The name is at most %(n)d characters long.", n=TITLE_MAX), field="title")
    version = data.agreement_version.strip()
    if len(version) > VERSION_MAX:
        raise DomainError(
            _("The version is at most %(n)d characters long.", n=VERSION_MAX), field="agreement_version"
        )
    note = data.note.strip()
    if len(note) > NOTE_MAX:
        raise DomainError(_("The note is at most %(n)d characters long.", n=NOTE_MAX), field="note")
    document = None
    if data.document is not None and data.document.filename:
        from repairqc.files.services import UploadRefused, store_upload

        try:
            document = store_upload(data.document)
        except UploadRefused as exc:
            raise DomainError(exc.message, field="document") from exc
    agreement = ConfidentialityAgreement(
        staff_user=staff_user,
        signed_on=data.signed_on,
        valid_until=data.valid_until,
        title=title,
        agreement_version=version or None,
        note=note or None,
        document=document,
        recorded_by=recorded_by,
    )
    db.session.add(agreement)
    db.session.flush()
    return agreement


def agreements(limit: int = 200) -> list[ConfidentialityAgreement]:
    return list(
        db.session.scalars(
            sa.select(ConfidentialityAgreement)
            .options(sa.orm.joinedload(ConfidentialityAgreement.staff_user))
            .order_by(ConfidentialityAgreement.signed_on.desc(), ConfidentialityAgreement.id.desc())
            .limit(limit)
        )
    )


def _current_on(day: date) -> sa.ColumnElement[bool]:
    return sa.and_(
        ConfidentialityAgreement.signed_on <= day,
        sa.or_(ConfidentialityAgreement.valid_until.is_(None), ConfidentialityAgreement.valid_until >= day),
    )


@dataclass(frozen=True)
class Missing:
    """A member of staff without a current agreement, with when their last one ended (if any)."""

    user: StaffUser
    last_valid_until: date | None
    last_reminded_at: datetime | None


def _staff_without_agreement(day: date) -> sa.Select:
    has_current = sa.exists().where(ConfidentialityAgreement.staff_user_id == StaffUser.id, _current_on(day))
    return (
        sa.select(StaffUser)
        # Operators' support accounts are bound by the platform's own terms, not the tenant's.
        .where(StaffUser.is_active.is_(True), StaffUser.is_platform_support.is_(False), ~has_current)
        .order_by(StaffUser.full_name, StaffUser.id)
    )


def staff_without_agreement(day: date) -> list[Missing]:
    """Every active member of staff with no agreement in force on `day` (none, or expired)."""
    users = list(db.session.scalars(_staff_without_agreement(day)))
    ids = [u.id for u in users] or [0]
    last_end = dict(
        db.session.execute(
            sa.select(
                ConfidentialityAgreement.staff_user_id, sa.func.max(ConfidentialityAgreement.valid_until)
            )
            .where(ConfidentialityAgreement.staff_user_id.in_(ids))
            .group_by(ConfidentialityAgreement.staff_user_id)
        ).all()
    )
    last_reminder = dict(
        db.session.execute(
            sa.select(ConfidentialityReminder.staff_user_id, sa.func.max(ConfidentialityReminder.sent_at))
            .where(ConfidentialityReminder.staff_user_id.in_(ids))
            .group_by(ConfidentialityReminder.staff_user_id)
        ).all()
    )
    return [Missing(u, last_end.get(u.id), last_reminder.get(u.id)) for u in users]


def claim_reminders(now: datetime | None = None) -> list[int]:
    """The staff to remind now: no current agreement and no reminder within the last 7 days.

    Each is claimed by a reminder row written in the job's unit of work, so a rerun (the same
    day, or a retried job) finds them reminded and sends nothing (HB §7.3.2)."""
    now = now or utcnow()
    recent = sa.exists().where(
        ConfidentialityReminder.staff_user_id == StaffUser.id,
        ConfidentialityReminder.sent_at > now - REMINDER_INTERVAL,
    )
    due = list(
        db.session.scalars(
            _staff_without_agreement(now.date()).where(~recent).with_only_columns(StaffUser.id)
        )
    )
    db.session.add_all(ConfidentialityReminder(staff_user_id=user_id, sent_at=now) for user_id in due)
    db.session.flush()
    return due


def owners() -> list[StaffUser]:
    return list(
        db.session.scalars(
            sa.select(StaffUser)
            .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
            .where(RoleAssignment.role == Role.OWNER, StaffUser.is_active.is_(True))
            .distinct()
            .order_by(StaffUser.id)
        )
    )


def may_read_file(user: StaffUser, file_id: int) -> bool:
    """A stored file that is a signed confidentiality agreement is read only by the signer and
    by those who may see the agreements (owner, HR, auditor); other files are not ours to decide.
    For `files.views.download`, beside training's rule of the same name."""
    from repairqc.accounts.permissions import Action, Grants

    signers = set(
        db.session.scalars(
            sa.select(ConfidentialityAgreement.staff_user_id).where(
                ConfidentialityAgreement.document_id == file_id
            )
        )
    )
    if not signers:
        return True
    return signers == {user.id} or Grants.of(user).can("ConfidentialityAgreement", Action.VIEW)
