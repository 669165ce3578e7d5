"""Jobs of the cross-store report: a PDF made in the background, and the monthly report to QA.

Progress is committed in its own short transactions as the job goes, so the run page (which
polls `ReportRun.progress`) sees it move; the PDF and the final status are committed last.
"""

from __future__ import annotations

import logging
from datetime import date

import sqlalchemy as sa
from flask_babel import force_locale, format_date
from flask_babel import gettext as _

from repairqc.db import db, utcnow
from repairqc.i18n import normalise_locale
from repairqc.jobs import job
from repairqc.reports.models import ReportRun, ReportRunStatus
from repairqc.reports.services import (
    HQ_VIEWER,
    Period,
    Scope,
    build_report,
    monthly_trend,
    preset_period,
    supervision_policy,
)

logger = logging.getLogger(__name__)


def _step(run: ReportRun, progress: int, status: ReportRunStatus | None = None) -> None:
    run.progress = progress
    if status is not None:
        run.status = status
    db.session.commit()  # a short transaction of its own: the run page polls this


def make_pdf(run: ReportRun) -> bytes:
    """Build the run's report and its PDF, moving `progress` at each stage. HQ's view: the PDF
    names every store, and only HQ may request or receive one (ReportRun in the matrix)."""
    from repairqc.reports.exports import to_pdf

    run.started_at = utcnow()
    _step(run, 5, ReportRunStatus.RUNNING)
    period, scope = Period(run.period_start, run.period_end), Scope.from_json(run.scope)
    with force_locale(run_locale(run)):
        report = build_report(period, scope, HQ_VIEWER)
        _step(run, 40)
        trend = monthly_trend(period.end, report.store_ids)
        _step(run, 70)
        pdf = to_pdf(report, trend, run.language)
    run.pdf = pdf
    run.progress = 100
    run.status = ReportRunStatus.DONE
    run.finished_at = utcnow()
    return pdf


def run_locale(run: ReportRun) -> str:
    return normalise_locale(run.language or "") or "en"


def _failed(run_id: int) -> None:
    """Mark the run failed with a fixed message in its language. The error itself (SQL, driver
    internals) goes to the log (`logger.exception` by the caller), never to the run page."""
    db.session.rollback()
    run = db.session.get(ReportRun, run_id)
    if run is not None:
        run.status = ReportRunStatus.FAILED
        with force_locale(run_locale(run)):
            run.message = _(
                "The report could not be made. Try again later; if it fails again, tell your administrator."
            )
        run.finished_at = utcnow()
        db.session.commit()


@job(queue="reports", timeout=900)
def generate_report_pdf(run_id: int) -> int | None:
    """The PDF of one requested run; returns its size in bytes."""
    run = db.session.get(ReportRun, run_id)
    if run is None or run.status is ReportRunStatus.DONE:
        return None
    try:
        return len(make_pdf(run))
    except Exception:
        logger.exception("report run %s failed", run_id)
        _failed(run_id)
        raise


@job(queue="reports", timeout=900)
def send_monthly_report(today_iso: str) -> str | None:
    """The monthly report (HB §5.2.2 periodic analysis): last month, all stores, as a PDF
    e-mailed to the tenant's QA, when the standard in force says so.

    Called by the periodic job inside its tenant. Idempotent: the run for a month is claimed
    once through the unique `monthly_key` (committed before any work), so a second call, or a
    second worker, finds it and sends nothing. A run that failed is tried again.
    Returns the month's key when it sent the report.
    """
    from repairqc.inspections.services import qa_recipients
    from repairqc.mail import send_mail

    today = date.fromisoformat(today_iso)
    if not supervision_policy(today).monthly_report:
        return None
    period = preset_period("last_month", today)
    key = period.start.strftime("%Y-%m")
    run = db.session.execute(sa.select(ReportRun).where(ReportRun.monthly_key == key)).scalar_one_or_none()
    if run is not None and run.status is not ReportRunStatus.FAILED:
        return None
    if run is None:
        run = ReportRun(
            period_start=period.start, period_end=period.end, scope=Scope("all").as_json(), monthly_key=key
        )
        try:
            with db.session.begin_nested():
                db.session.add(run)
        except sa.exc.IntegrityError:
            return None  # another worker claimed this month a moment ago
    else:
        # Retrying a failed month: claimed by a conditional UPDATE, so of two workers retrying
        # at once only one goes on.
        claimed = db.session.execute(
            sa.update(ReportRun)
            .where(ReportRun.id == run.id, ReportRun.status == ReportRunStatus.FAILED)
            .values(status=ReportRunStatus.QUEUED, message=None, progress=0)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            return None
        db.session.refresh(run)
    recipients = [user for user in qa_recipients() if user.email]
    # The stored PDF is in the first recipient's language; each e-mail's text is in its reader's.
    first_locale = recipients[0].locale if recipients else None
    run.language = normalise_locale(first_locale or "") or "en"
    db.session.commit()  # the claim
    run_id = run.id
    try:
        pdf = make_pdf(run)
        filename = f"cross-store-report-{key}.pdf"
        # Addresses already mailed by an earlier, failed attempt are not mailed twice.
        sent = [address for address in (run.emailed_to or "").split(", ") if address]
        for user in recipients:
            if user.email in sent:
                continue
            with force_locale(normalise_locale(user.locale or "") or run.language):
                month = format_date(period.start, "MMMM yyyy")
                subject = _("Cross-store report for %(month)s", month=month)
                body = _(
                    "Attached is the cross-store report for %(month)s (all stores), made on %(today)s.\n"
                    "It is also kept under Ch.8 Supervision and inspection → Report runs.",
                    month=month,
                    today=format_date(today),
                )
            send_mail(user.email, subject, body, attachments=[(filename, "application/pdf", pdf)])
            sent.append(user.email)
            run.emailed_to = ", ".join(sent)
            db.session.commit()  # each address as soon as it is mailed
        if not sent:
            with force_locale(run_locale(run)):
                run.message = _("No QA manager or owner with an e-mail address: the report was not sent.")
        db.session.commit()
    except Exception:
        logger.exception("monthly report %s failed", key)
        _failed(run_id)
        raise
    return key
