"""A cross-store report built by a job: its request, progress and result (HB §5.2.2, §8.3)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, deferred, relationship

from repairqc.accounts.models import StaffUser
from repairqc.db import TenantBase
from repairqc.models_base import LabelledEnum, Timestamped, enum_column, enum_labels, field


class ReportRunStatus(LabelledEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


enum_labels({
    ReportRunStatus.QUEUED: _l("Queued"),
    ReportRunStatus.RUNNING: _l("Running"),
    ReportRunStatus.DONE: _l("Done"),
    ReportRunStatus.FAILED: _l("Failed"),
})  # fmt: skip


class ReportRun(Timestamped, TenantBase):
    """One generation of the cross-store report as a PDF, requested by a person or the monthly job.

    The PDF is kept on the row, not in the file store: it names every store, and the file store
    lets every member of staff read shared files.
    """

    __tablename__ = "report_runs"
    __label__ = _l("Report run")
    __label_plural__ = _l("Report runs")
    __chapter__ = "ch8"

    id: Mapped[int] = field(_l("ID"), primary_key=True)
    period_start: Mapped[date] = field(_l("From"), info={"readonly": True})
    period_end: Mapped[date] = field(_l("To (inclusive)"), info={"readonly": True})
    #: {"kind": "all" | "chain" | "region" | "stores", "ids": [...]} as the report form sent it.
    scope: Mapped[dict[str, Any]] = field(_l("Scope"), sa.JSON, info={"readonly": True})
    language: Mapped[str] = field(_l("Language"), sa.String(16), default="en", info={"readonly": True})
    status: Mapped[ReportRunStatus] = field(
        _l("Status"), enum_column(ReportRunStatus), default=ReportRunStatus.QUEUED, info={"readonly": True}
    )
    progress: Mapped[int] = field(_l("Progress (%)"), default=0, info={"readonly": True})
    message: Mapped[str | None] = field(_l("Message"), sa.Text, info={"readonly": True})
    requested_by_id: Mapped[int | None] = field(
        _l("Requested by"), sa.ForeignKey("staff_users.id"), info={"readonly": True}
    )
    #: "2026-10" for the scheduled report of that month: the monthly job makes each one once.
    monthly_key: Mapped[str | None] = field(
        _l("Monthly report"), sa.String(7), unique=True, info={"readonly": True}
    )
    started_at: Mapped[datetime | None] = field(_l("Started at"), info={"readonly": True})
    finished_at: Mapped[datetime | None] = field(_l("Finished at"), info={"readonly": True})
    emailed_to: Mapped[str | None] = field(_l("E-mailed to"), sa.Text, info={"readonly": True})
    pdf: Mapped[bytes | None] = deferred(
        sa.orm.mapped_column(sa.LargeBinary, info={"label": _l("PDF"), "secret": True, "readonly": True})
    )

    requested_by: Mapped[StaffUser | None] = relationship()

    def __str__(self) -> str:
        return f"{self.period_start.isoformat()} – {self.period_end.isoformat()}"
