"""Periodic jobs (design.md §5): one declared list, one fan-out, one scheduler.

Each entry names a tenant job that takes the day as an ISO date. The platform job
`run_periodic` queues that tenant job once in every active tenant; suspended and cancelled
tenants are skipped. An entry marked `platform` (billing's reconciliation) is queued once, not
per tenant. `flask --app repairqc cron` fires the entries on their cron strings: with
Redis it runs rq's `CronScheduler`, which only enqueues `run_periodic` (workers do the work;
run exactly one `cron` process), and without Redis a small loop runs them in-process, so the
embedded default gets its sweeps too. Every tenant job is idempotent: a duplicate scheduler, a
retry or a manual `flask periodic run` on the same day changes nothing twice.

Every entry runs at least once a day, so a day missed while no scheduler ran is made up by the
next day's run: the sweeps work from "today" (everything due by then), and the monthly report
runs daily too, sending a month's report only on the first run that finds it unsent.

Cron strings are in UTC and the day passed on is the UTC date when the fan-out runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from croniter import croniter
from rq.cron import CronJob, CronScheduler
from werkzeug.utils import import_string

from repairqc.db import TenantRef, db, utcnow
from repairqc.jobs import enqueue, job, queue_name


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    #: Dotted path of the tenant job `func(today_iso)`, imported when it runs, so the list
    #: stays readable even while a domain's jobs are not loaded.
    job_path: str
    #: minute hour day-of-month month day-of-week, in UTC.
    cron: str
    description: str
    #: A platform job (`@job(platform=True)`): queued once, not once per tenant.
    platform: bool = False

    def tenant_job(self) -> Callable[[str], Any]:
        return import_string(self.job_path)


#: Every periodic job of the product. Times are UTC: the sweeps run before the working day in
#: Asia and Europe; the generation runs first so the escalation sees today's inspections.
#: Each runs daily (see the module's docstring: a missed day is made up the next day).
PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        "generate-inspections",
        "repairqc.inspections.tasks.generate_inspections",
        "10 0 * * *",
        "Make the scheduled inspections of every active plan, 14 days ahead (HB §8.2.2)",
    ),
    PeriodicJob(
        "escalate-corrective-actions",
        "repairqc.inspections.tasks.escalate_corrective_actions",
        "0 1 * * *",
        "E-mail overdue corrective actions to their owner and QA (HB §8.3.2)",
    ),
    PeriodicJob(
        "monthly-report",
        "repairqc.reports.tasks.send_monthly_report",
        "0 2 * * *",
        "E-mail last month's cross-store report to QA as PDF, once a month: checked daily, sent by "
        "the first run that finds the month unsent (HB §5.2.2)",
    ),
    PeriodicJob(
        "assessments-due",
        "repairqc.assessments.tasks.create_due_assessments",
        "20 0 * * *",
        "Make the drafts of the monthly, quarterly and annual assessments of the period just ended "
        "and e-mail their assessors, once per period (HB §3.3.2-§3.3.3)",
    ),
    # Training (issue #7, HB ch.3, §5.1.3(1)).
    PeriodicJob(
        "training-schedule",
        "repairqc.training.tasks.training_schedule",
        "20 0 * * *",
        "Expire timed-out exam attempts, enrol serving staff in the year's in-service sessions, make "
        "the evaluations due 0/3/6/12 months after training and remind their assessors (HB §3.1.4, §3.2.2)",
    ),
    PeriodicJob(
        "certificate-expiry",
        "repairqc.training.tasks.certificate_expiry",
        "25 0 * * *",
        "E-mail holders, their store managers and HR about certificates expiring within 30 days, "
        "once per certificate and expiry date (HB §5.1.3(1))",
    ),
    # Equipment (issue #7, HB ch.4, §5.1.3(2)).
    PeriodicJob(
        "equipment-due",
        "repairqc.equipment.tasks.remind_equipment_due",
        "35 0 * * *",
        "E-mail each store's managers the equipment whose daily care, full inspection or calibration "
        "is overdue or due within 7 days, once per item and due date (HB §4.2.2, §5.1.3(2))",
    ),
    PeriodicJob(
        "deliver-pending-messages",
        "repairqc.notifications.tasks.deliver_pending_messages",
        "50 * * * *",
        "Send customer messages still pending an hour after they were written (their sending job "
        "was lost or failed every retry), once each (HB §6.2.2)",
    ),
    PeriodicJob(
        "survey-dispatch",
        "repairqc.feedback.tasks.dispatch_surveys",
        "5 * * * *",
        "Send the satisfaction-survey links that have fallen due (delivery + survey_delay_hours), "
        "once per survey, by e-mail or text message in the customer's language (HB §6.3)",
    ),
    PeriodicJob(
        "complaint-deadlines",
        "repairqc.complaints.tasks.complaint_deadlines",
        "*/15 * * * *",
        "Warn the responsible person before a complaint's first-contact deadline and escalate to the "
        "store's managers and QA when it passes, once each (HB §9.3.3)",
    ),
    PeriodicJob(
        "improvements-due",
        "repairqc.improvements.tasks.remind_improvements_due",
        "40 0 * * *",
        "E-mail responsible people their adopted improvement suggestions past due, and QA the effect "
        "reviews and the process review due, once per suggestion and due date (HB §2.3.1, §2.3.2)",
    ),
    PeriodicJob(
        "incident-updates",
        "repairqc.incidents.tasks.send_incident_updates",
        "*/15 * * * *",
        "Send the affected customers of every open incident the update due at the interval its "
        "emergency plan sets, once per round and customer (HB §9.2)",
    ),
    PeriodicJob(
        "reconcile-billing",
        "repairqc.billing.tasks.reconcile_billing",
        "30 3 * * *",
        "Re-read every subscription from Stripe, retry unprocessed webhook events, free the "
        "addresses of abandoned sign-ups",
        platform=True,
    ),
    PeriodicJob(
        "sweep-exports",
        "repairqc.console.tasks.sweep_exports",
        "45 3 * * *",
        "Remove tenant data exports older than EXPORT_RETENTION_DAYS from the export folder",
        platform=True,
    ),
    PeriodicJob(
        "data-anomalies",
        "repairqc.dataquality.tasks.scan_data_anomalies",
        "15 1 * * *",
        "Flag repair costs, prices and durations far outside their device category's usual range, "
        "and orders stuck in a state far longer than usual, for review; once per finding (HB §7.1.2)",
    ),
    PeriodicJob(
        "import-expiry",
        "repairqc.imports.tasks.expire_import_previews",
        "20 * * * *",
        "Cancel the imports left unconfirmed longer than IMPORT_PREVIEW_HOURS and delete their "
        "files, which hold personal data (HB §7.3.1)",
    ),
    PeriodicJob(
        "backup-tenants",
        "repairqc.backups.tasks.backup_tenants",
        "15 3 * * *",
        "Back up every tenant with a schema (suspended and cancelled ones too) into BACKUP_DIR and "
        "remove backups older than BACKUP_RETENTION_DAYS "
        "(a tenant's newest successful one is kept); a failure mails the operators (HB §7.3.1)",
        platform=True,
    ),
    PeriodicJob(
        "confidentiality-reminders",
        "repairqc.privacy.tasks.confidentiality_reminders",
        "0 8 * * *",
        "Remind each active member of staff without a confidentiality agreement in force, at most once "
        "in 7 days (so weekly), with a list to the owners; add the confidentiality programme and "
        "check plan where missing (HB §7.3.2)",
    ),
)


class UnknownPeriodicJob(KeyError):
    def __str__(self) -> str:
        names = ", ".join(entry.name for entry in PERIODIC_JOBS)
        return f"no periodic job {self.args[0]!r} (known: {names})"


def periodic_job(name: str) -> PeriodicJob:
    for entry in PERIODIC_JOBS:
        if entry.name == name:
            return entry
    raise UnknownPeriodicJob(name)


def utc_today() -> date:
    return utcnow().date()


def parse_moment(iso: str) -> datetime:
    """An ISO moment passed to a job; one without a zone is UTC (columns hold aware UTC times)."""
    moment = datetime.fromisoformat(iso)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def run_moment(today_iso: str, now_iso: str | None = None) -> datetime:
    """The time a sweep works for: `now_iso` when given (tests travel in time), now when the day
    is today, else the end of that day (a run made up for a missed day)."""
    if now_iso:
        return parse_moment(now_iso)
    now = utcnow()
    day = date.fromisoformat(today_iso)
    if day == now.date():
        return now
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC) - timedelta(microseconds=1)


def active_tenants() -> list[TenantRef]:
    from repairqc.tenants.models import Tenant, TenantStatus

    tenants = db.control.execute(
        sa.select(Tenant).where(Tenant.status == TenantStatus.ACTIVE).order_by(Tenant.id)
    ).scalars()
    return [tenant.ref for tenant in tenants]


def fan_out(entry: PeriodicJob, today: date) -> list[TenantRef]:
    """Queue `entry`'s tenant job in every active tenant (run now, one after the other, when
    there is no Redis); returns the tenants reached."""
    func = entry.tenant_job()
    if entry.platform:
        enqueue(func, today.isoformat())
        return []
    tenants = active_tenants()
    for tenant in tenants:
        enqueue(func, today.isoformat(), tenant=tenant)
    return tenants


@job(queue="default", timeout=300, platform=True)
def run_periodic(name: str, today_iso: str | None = None) -> list[str]:
    """The platform job the scheduler enqueues: fan `name` out to every active tenant.

    The scheduler passes no day, so a job that waited in the queue past midnight still runs
    for the day it actually runs on."""
    today = date.fromisoformat(today_iso) if today_iso else utc_today()
    return [tenant.slug for tenant in fan_out(periodic_job(name), today)]


# --- the schedulers --------------------------------------------------------------------------------


def register_periodic_jobs(scheduler: CronScheduler) -> list[CronJob]:
    """Register every entry with rq's CronScheduler as a `run_periodic` job.

    `tenant_id: None` in the meta marks it a platform job for `TenantJob`, which refuses any
    job whose meta lacks the key."""
    spec = run_periodic.job_spec  # type: ignore[attr-defined]
    return [
        scheduler.register(
            run_periodic,
            queue_name(spec.queue),
            args=(entry.name,),
            cron=entry.cron,
            name=queue_name(f"periodic:{entry.name}"),  # one history per deployment sharing a Redis
            meta={"tenant_id": None},
            job_timeout=spec.timeout,
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
        )
        for entry in PERIODIC_JOBS
    ]


class InProcessCron:
    """The embedded default's scheduler: the same cron strings, fired in this process.

    Like rq's scheduler it starts counting from `start`: a time missed while nothing ran is
    not fired late; every entry runs daily and is idempotent, so the next day's run makes the
    missed day up."""

    def __init__(self, entries: Iterable[PeriodicJob] = PERIODIC_JOBS, start: datetime | None = None):
        self.entries = tuple(entries)
        start = start or utcnow()
        self.next_at = {entry.name: self._after(entry, start) for entry in self.entries}

    @staticmethod
    def _after(entry: PeriodicJob, moment: datetime) -> datetime:
        return croniter(entry.cron, moment).get_next(datetime)

    def due(self, now: datetime) -> list[PeriodicJob]:
        """The entries whose time has come, each moved on to its next time after `now`."""
        due = [entry for entry in self.entries if self.next_at[entry.name] <= now]
        for entry in due:
            self.next_at[entry.name] = self._after(entry, now)
        return due

    def seconds_to_next(self, now: datetime) -> float:
        """How long to sleep: until the next time, at most a minute (clock changes, ^C)."""
        if not self.next_at:
            return 60.0
        return max(0.0, min(60.0, (min(self.next_at.values()) - now).total_seconds()))
