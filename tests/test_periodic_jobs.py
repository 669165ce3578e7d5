"""The periodic jobs (design.md §5): the declared list, the fan-out to every active tenant, the
CLI (`flask periodic list|run`, `flask cron`) and the registration with rq's CronScheduler."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from croniter import croniter
from redis import Redis
from rq import Queue
from rq.cron import CronScheduler
from rq.job import Job, JobStatus

from repairqc.db import current_tenant, db, unit_of_work
from repairqc.inspections.models import Inspection, InspectionKind, InspectionPlan, Recurrence
from repairqc.inspections.services import save_plan
from repairqc.jobs import QUEUES, TenantJob, enqueue, job, periodic
from repairqc.jobs.periodic import PERIODIC_JOBS, InProcessCron, PeriodicJob, run_periodic
from repairqc.reports.models import ReportRun, ReportRunStatus
from repairqc.tenants import services as tenants
from repairqc.tenants.models import TenantStatus
from tests.conftest import in_tenant, require_service, staff, store
from tests.test_jobs import REDIS_URL, purge, redis_reachable, run_worker

TODAY = date.today()

#: (tenant slug, day) of every run of `record_day`, the tenant job of the test entries below.
RUNS: list[tuple[str, str]] = []


@job(queue="default", timeout=30)
def record_day(today_iso: str) -> str:
    RUNS.append((current_tenant().slug, today_iso))
    return current_tenant().slug


TEST_ENTRIES = (
    PeriodicJob("record", f"{__name__}.record_day", "0 3 * * *", "Records the tenant and the day"),
    PeriodicJob("record-monthly", f"{__name__}.record_day", "0 4 1 * *", "The same, monthly"),
)


@pytest.fixture
def recorded(monkeypatch):
    """The periodic list replaced by TEST_ENTRIES, jobs in-process, RUNS empty."""
    monkeypatch.setattr(periodic, "PERIODIC_JOBS", TEST_ENTRIES)
    RUNS.clear()
    yield RUNS
    RUNS.clear()


def active_slugs() -> list[str]:
    return [tenant.slug for tenant in periodic.active_tenants()]


# --- the list ----------------------------------------------------------------------------------------


def fire_times(entry: PeriodicJob, start: datetime, end: datetime) -> list[datetime]:
    """When `entry`'s cron string fires from `start` (inclusive) to `end` (exclusive)."""
    times, schedule = [], croniter(entry.cron, start - timedelta(microseconds=1))
    while (moment := schedule.get_next(datetime)) < end:
        times.append(moment)
    return times


YEAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
EVERY_DAY_OF_THE_YEAR = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]


def test_each_entry_has_a_unique_name_a_valid_cron_string_and_a_description():
    names = [entry.name for entry in PERIODIC_JOBS]
    assert len(set(names)) == len(names)  # the CLI and the scheduler's history pick by name
    for entry in PERIODIC_JOBS:
        assert croniter.is_valid(entry.cron), entry.name
        assert entry.description.strip(), entry.name


@pytest.mark.parametrize("entry", PERIODIC_JOBS, ids=lambda e: e.name)
def test_each_entry_names_an_importable_tenant_job_taking_the_day(entry):
    func = entry.tenant_job()
    assert hasattr(func, "job_spec"), f"{entry.job_path} is not declared with @job (enqueue needs it)"
    # A tenant job runs inside each tenant; a platform entry's job runs once, outside any.
    assert func.job_spec.platform is entry.platform
    # a worker imports the job by its module and name: they must lead back to the same function
    assert f"{func.__module__}.{func.__qualname__}" == entry.job_path
    assert func.__code__.co_argcount >= 1 and func.__code__.co_varnames[0] == "today_iso"


def test_a_platform_entry_runs_once_not_per_tenant(app, alpha, beta, monkeypatch):
    """billing's reconciliation is queued once for the platform, with no tenant bound."""
    import repairqc.billing.tasks as billing_tasks
    from repairqc.db import current_tenant_or_none
    from repairqc.jobs.periodic import run_periodic

    runs = []

    def reconcile(today_iso=None):
        runs.append((today_iso, current_tenant_or_none()))
        return {}

    reconcile.job_spec = billing_tasks.reconcile_billing.job_spec
    monkeypatch.setattr(billing_tasks, "reconcile_billing", reconcile)
    with app.app_context():
        reached = run_periodic("reconcile-billing", "2026-11-24")
    assert reached == [] and runs == [("2026-11-24", None)]


@pytest.mark.parametrize("entry", PERIODIC_JOBS, ids=lambda e: e.name)
def test_each_entry_runs_every_day_so_a_missed_day_is_made_up_the_next(entry):
    """The docstrings and the README promise that a day without a scheduler is caught up by
    the next day's run: true only while no entry skips a day (not even the monthly report)."""
    assert sorted({moment.date() for moment in fire_times(entry, *YEAR)}) == EVERY_DAY_OF_THE_YEAR


def test_the_generation_runs_before_the_escalation_on_the_same_day():
    """The escalation sees the inspections generated that day."""
    generate = fire_times(periodic.periodic_job("generate-inspections"), *YEAR)
    escalate = fire_times(periodic.periodic_job("escalate-corrective-actions"), *YEAR)
    assert [m.date() for m in generate] == [m.date() for m in escalate] == EVERY_DAY_OF_THE_YEAR
    assert all(made < escalated for made, escalated in zip(generate, escalate, strict=True))


def test_the_monthly_report_run_daily_sends_last_months_report_once(app, alpha, mailbox, monkeypatch):
    """The monthly report's entry fires every day; the first run of a month sends last month's
    report, later runs send nothing again, and a run after an outage catches the month up."""
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    entry = periodic.periodic_job("monthly-report")
    qa = alpha.users["qa"]
    # cron was down on the 1st and 2nd of May: the run of the 3rd sends April, and the daily
    # runs to the end of May send nothing more; the 1st of June sends May, the 2nd nothing
    runs = fire_times(entry, datetime(2025, 5, 3, tzinfo=UTC), datetime(2025, 6, 3, tzinfo=UTC))
    assert [moment.date() for moment in runs] == [date(2025, 5, 3) + timedelta(days=n) for n in range(31)]
    mailed = []  # (the day of the run, the files attached) of each mail to alpha's QA
    for moment in runs:
        before = len(mailbox.to(qa))
        with app.app_context():
            assert alpha.ref.slug in [tenant.slug for tenant in periodic.fan_out(entry, moment.date())]
        mailed += [
            (moment.date(), [part.get_filename() for part in message.iter_attachments()])
            for message in mailbox.to(qa)[before:]
        ]
    assert mailed == [
        (date(2025, 5, 3), ["cross-store-report-2025-04.pdf"]),
        (date(2025, 6, 1), ["cross-store-report-2025-05.pdf"]),
    ]
    with in_tenant(app, alpha):
        months = db.session.execute(
            sa.select(ReportRun.monthly_key, ReportRun.status, ReportRun.emailed_to)
            .where(ReportRun.monthly_key.is_not(None))
            .order_by(ReportRun.monthly_key)
        ).all()
    assert months == [("2025-04", ReportRunStatus.DONE, qa), ("2025-05", ReportRunStatus.DONE, qa)]


def test_an_unknown_name_is_refused_with_the_known_ones():
    with pytest.raises(KeyError, match="generate-inspections"):
        periodic.periodic_job("nightly-backup")


# --- the fan-out -------------------------------------------------------------------------------------


def test_run_periodic_reaches_every_active_tenant_with_the_day(app, alpha, beta, recorded, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    with app.app_context():  # no tenant bound: the platform job binds each one in turn
        slugs = active_slugs()
        assert enqueue(run_periodic, "record", "2026-03-02") is None  # ran in-process
        assert run_periodic("record", "2026-03-02") == slugs
    assert {alpha.ref.slug, beta.ref.slug} <= set(slugs)
    assert recorded == [(slug, "2026-03-02") for slug in slugs] * 2


def test_run_periodic_without_a_day_uses_todays_utc_date(app, alpha, recorded, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    with app.app_context():
        run_periodic("record")
    assert (alpha.ref.slug, datetime.now(UTC).date().isoformat()) in recorded


def test_the_fan_out_skips_suspended_tenants(app, alpha, beta, recorded, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    with app.app_context(), unit_of_work():
        tenants.set_status(beta.ref.slug, TenantStatus.SUSPENDED, "Unpaid")
    try:
        with app.app_context():
            reached = periodic.fan_out(periodic.periodic_job("record"), date(2026, 3, 2))
            assert [t.slug for t in reached] == active_slugs()
    finally:
        with app.app_context(), unit_of_work():
            tenants.set_status(beta.ref.slug, TenantStatus.ACTIVE)
    slugs = {slug for slug, _day in recorded}
    assert alpha.ref.slug in slugs and beta.ref.slug not in slugs


# --- the command line --------------------------------------------------------------------------------


def test_periodic_list_prints_every_entry(app):
    result = app.test_cli_runner().invoke(args=["periodic", "list"])
    assert result.exit_code == 0, result.output
    for entry in PERIODIC_JOBS:
        assert entry.name in result.output and entry.cron in result.output
        assert entry.job_path in result.output and entry.description in result.output


def test_periodic_run_fans_one_entry_out_for_the_given_day(app, alpha, beta, recorded, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    with app.app_context():
        slugs = active_slugs()
    result = app.test_cli_runner().invoke(args=["periodic", "run", "record", "--today", "2026-04-30"])
    assert result.exit_code == 0, result.output
    assert f"record 2026-04-30: ran in {len(slugs)} tenant(s)" in result.output
    assert recorded == [(slug, "2026-04-30") for slug in slugs]


def test_periodic_run_all_runs_every_entry_in_order(app, recorded, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    result = app.test_cli_runner().invoke(args=["periodic", "run", "--all"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line]
    assert [line.split()[0] for line in lines] == ["record", "record-monthly"]
    assert {day for _slug, day in recorded} == {datetime.now(UTC).date().isoformat()}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["periodic", "run"], 2, "name periodic jobs or give --all"),
        (["periodic", "run", "record", "--all"], 2, "name periodic jobs or give --all"),
        (["periodic", "run", "nightly-backup"], 1, "no periodic job 'nightly-backup'"),
        (["periodic", "run", "record", "--today", "2026-13-01"], 2, "Invalid value for '--today'"),
    ],
    ids=["nothing", "both", "unknown", "bad-day"],
)
def test_periodic_run_refuses_bad_arguments_and_runs_nothing(app, recorded, args, code, message):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == code and message in result.output
    assert recorded == []


def test_a_missing_tenant_job_is_a_clean_cli_error(app, monkeypatch):
    missing = PeriodicJob("missing", "repairqc.nowhere.tasks.send", "0 0 * * *", "Not written")
    monkeypatch.setattr(periodic, "PERIODIC_JOBS", (missing,))
    result = app.test_cli_runner().invoke(args=["periodic", "run", "missing"])
    assert result.exit_code == 1
    assert "missing: cannot import repairqc.nowhere.tasks.send" in result.output


def test_periodic_run_generates_the_inspections_of_the_day(app, alpha, beta, monkeypatch):
    """The real entry, in-process: alpha's plan makes alpha's inspections and nothing in beta."""
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    due = TODAY + timedelta(days=20)  # beyond today's horizon: saving makes nothing yet
    with in_tenant(app, alpha):
        plan = InspectionPlan(
            name="Weekly walk-through", kind=InspectionKind.PERIODIC, recurrence=Recurrence.WEEKLY,
            starts_on=due, inspector_id=staff(alpha, "qa").id,
        )  # fmt: skip
        save_plan(plan, [store(alpha, "S1"), store(alpha, "S2")], today=TODAY)
        db.session.commit()
        plan_id = plan.id
    with in_tenant(app, beta):
        beta_before = db.session.scalar(sa.select(sa.func.count()).select_from(Inspection))

    day = (TODAY + timedelta(days=7)).isoformat()  # horizon: day + 14 = due + 1
    for _ in range(2):  # the second run the same day makes nothing new
        result = app.test_cli_runner().invoke(
            args=["periodic", "run", "generate-inspections", "--today", day]
        )
        assert result.exit_code == 0, result.output
        with in_tenant(app, alpha):
            made = (
                db.session.execute(sa.select(Inspection).where(Inspection.plan_id == plan_id)).scalars().all()
            )
            assert sorted((i.store_id, i.due_on) for i in made) == sorted(
                [(alpha.store_ids["S1"], due), (alpha.store_ids["S2"], due)]
            )
            assert db.session.get(InspectionPlan, plan_id).next_occurrence_on == due + timedelta(days=7)
    with in_tenant(app, beta):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Inspection)) == beta_before


# --- the schedulers ----------------------------------------------------------------------------------


def test_the_in_process_cron_fires_each_entry_at_its_time_once():
    start = datetime(2026, 2, 27, 12, 0, tzinfo=UTC)
    schedule = InProcessCron(TEST_ENTRIES, start=start)
    assert schedule.next_at == {
        "record": datetime(2026, 2, 28, 3, 0, tzinfo=UTC),
        "record-monthly": datetime(2026, 3, 1, 4, 0, tzinfo=UTC),
    }
    assert schedule.due(start) == []
    assert schedule.seconds_to_next(start) == 60  # sleeps at most a minute at a time
    assert schedule.seconds_to_next(datetime(2026, 2, 28, 2, 59, 30, tzinfo=UTC)) == 30
    night = datetime(2026, 2, 28, 3, 0, 5, tzinfo=UTC)
    assert [e.name for e in schedule.due(night)] == ["record"]
    assert schedule.due(night) == []  # fired once; next time tomorrow
    assert schedule.next_at["record"] == datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    both = datetime(2026, 3, 1, 4, 30, tzinfo=UTC)  # a late wake-up fires each entry once
    assert [e.name for e in schedule.due(both)] == ["record", "record-monthly"]
    assert schedule.next_at["record-monthly"] == datetime(2026, 4, 1, 4, 0, tzinfo=UTC)


@pytest.fixture
def redis_prefix(backend, monkeypatch):
    """The session app on the test Redis database, its queues under a prefix of this test."""
    require_service("Redis", redis_reachable())
    app, conn = backend.app, Redis.from_url(REDIS_URL)
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    monkeypatch.setitem(app.config, "RQ_QUEUE_PREFIX", prefix)
    monkeypatch.setitem(app.extensions, "repairqc.redis", conn)
    try:
        yield prefix
    finally:
        purge(conn, [f"{prefix}{name}" for name in QUEUES])
        for key in conn.scan_iter(f"*{prefix}*"):  # the cron jobs' histories
            conn.delete(key)
        conn.zrem("rq:cron_jobs", *[f"{prefix}periodic:{entry.name}" for entry in PERIODIC_JOBS])
        conn.close()


def test_cron_registers_each_entry_as_a_platform_job_that_a_worker_accepts(backend, alpha, redis_prefix):
    app = backend.app
    with app.app_context():
        conn = app.extensions["repairqc.redis"]
        scheduler = CronScheduler(connection=conn, name=f"{redis_prefix}scheduler")
        registered = periodic.register_periodic_jobs(scheduler)
        assert scheduler.get_jobs() == registered
        assert [
            (c.name, c.func_name, c.args, c.cron, c.queue_name, c.job_options["meta"]) for c in registered
        ] == [
            (f"{redis_prefix}periodic:{e.name}", "repairqc.jobs.periodic.run_periodic", (e.name,), e.cron,
             f"{redis_prefix}default", {"tenant_id": None})
            for e in PERIODIC_JOBS
        ]  # fmt: skip
        for cron_job in registered:  # the next time follows the entry's cron string
            assert cron_job.next_enqueue_time == croniter(cron_job.cron, datetime.now(UTC)).get_next(datetime)

        # fire the generation now, as the scheduler's loop would at 00:10 UTC
        generate = registered[0]
        generate.next_enqueue_time = datetime.now(UTC) - timedelta(seconds=1)
        assert scheduler.enqueue_jobs() == [generate]
        queue = Queue(f"{redis_prefix}default", connection=conn, job_class=TenantJob)
        (job_id,) = queue.get_job_ids()
        queued = Job.fetch(job_id, connection=conn)
        assert queued.meta == {"tenant_id": None} and queued.args == ("generate-inspections",)
        slugs = active_slugs()

    # a real worker takes it: TenantJob runs it as a platform job, and the fan-out's tenant jobs
    # land on the same prefixed queue (seeded plans are a month ahead: nothing is generated)
    run_worker(app, [f"{redis_prefix}default"], RQ_QUEUE_PREFIX=redis_prefix)
    queued.refresh()
    assert queued.get_status() == JobStatus.FINISHED, queued.latest_result()
    assert queued.return_value() == slugs
    finished = queue.finished_job_registry.get_job_ids()
    assert len(finished) == 1 + len(slugs) and queue.failed_job_registry.count == 0
    tenant_jobs = [Job.fetch(i, connection=queue.connection) for i in finished if i != queued.id]
    assert {j.meta["tenant_id"] for j in tenant_jobs} >= {alpha.ref.id}
    assert {j.func_name for j in tenant_jobs} == {"repairqc.inspections.tasks.generate_inspections"}
    assert {j.args for j in tenant_jobs} == {(datetime.now(UTC).date().isoformat(),)}
