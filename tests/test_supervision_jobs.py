"""The supervision sweeps through the periodic fan-out, run by a real RQ worker, mailing a real
local SMTP server: overdue corrective actions escalated to their owner and QA (HB §8.3.2), once
per repeat period, and plans turned into inspections tenant by tenant (HB §8.2.2).

The worker is another process: it sees committed rows only. These tests commit into two scratch
tenants of their own (deleted at the end of the module) so alpha and beta stay as seeded; the
fan-out still reaches alpha and beta, which must come out unchanged.
"""

from __future__ import annotations

import calendar
import contextlib
import uuid
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from babel.dates import format_date
from flask_babel import force_locale, gettext
from redis import Redis
from rq import Queue
from rq.job import Job

from repairqc.db import db, tenant_context, unit_of_work
from repairqc.inspections import services
from repairqc.inspections.models import (
    ActionStatus,
    CorrectiveAction,
    Inspection,
    InspectionKind,
    InspectionPlan,
    Recurrence,
)
from repairqc.jobs import QUEUES
from repairqc.jobs.periodic import fan_out, periodic_job
from repairqc.tenants import services as tenants
from tests.conftest import SeededTenant, provision_seeded, require_service, staff, store
from tests.mailserver import smtp_server
from tests.test_jobs import REDIS_URL, purge, redis_reachable, run_worker

TODAY = date.today()


@pytest.fixture(scope="module")
def north(backend) -> Iterator[SeededTenant]:
    with backend.app.app_context():
        tenant = provision_seeded("N", extra_rows=0)
    yield tenant
    with backend.app.app_context(), unit_of_work():
        tenants.delete_tenant(tenant.ref.slug)


@pytest.fixture(scope="module")
def south(backend) -> Iterator[SeededTenant]:
    with backend.app.app_context():
        tenant = provision_seeded("S", extra_rows=1)  # ids that north lacks
    yield tenant
    with backend.app.app_context(), unit_of_work():
        tenants.delete_tenant(tenant.ref.slug)


@contextlib.contextmanager
def committed(backend, tenant: SeededTenant) -> Iterator[None]:
    """One unit of work in `tenant` on its own connection: what the worker will see."""
    with backend.app.app_context(), tenant_context(tenant.ref), unit_of_work():
        yield


@pytest.fixture
def worker_env(backend, monkeypatch) -> Iterator[dict]:
    """The session app on the test Redis, its queues under a prefix of this test, and a mailbox;
    returns what `run_worker` needs to work the same queues and mail the same server."""
    require_service("Redis", redis_reachable())
    app, conn = backend.app, Redis.from_url(REDIS_URL)
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    monkeypatch.setitem(app.config, "RQ_QUEUE_PREFIX", prefix)
    monkeypatch.setitem(app.extensions, "repairqc.redis", conn)
    try:
        with smtp_server() as box:
            yield {
                "box": box,
                "conn": conn,
                "prefix": prefix,
                "settings": {
                    "RQ_QUEUE_PREFIX": prefix,
                    "PREFERRED_URL_SCHEME": "http",
                    "MAIL_BACKEND": "smtp",
                    "MAIL_SERVER": "127.0.0.1",
                    "MAIL_PORT": str(box.port),
                },
            }
    finally:
        purge(conn, [f"{prefix}{name}" for name in QUEUES])
        conn.close()


def sweep(backend, env: dict, name: str, day: date) -> list[str]:
    """Fan `name` out for `day` as the scheduler would, and let a real worker do the work.
    Returns the slugs reached; fails if any job failed."""
    with backend.app.app_context():
        reached = [tenant.slug for tenant in fan_out(periodic_job(name), day)]
    queues = [f"{env['prefix']}default", f"{env['prefix']}emails"]
    run_worker(backend.app, queues, **env["settings"])
    for queue_name in queues:
        failed = Queue(queue_name, connection=env["conn"]).failed_job_registry
        errors = [Job.fetch(i, connection=env["conn"]).latest_result() for i in failed.get_job_ids()]
        assert errors == []
    return reached


# --- escalation ------------------------------------------------------------------------------------


def overdue_action(backend, tenant: SeededTenant, store_name: str, days_overdue: int) -> int:
    """The seeded, verified action of `store_name` reopened by QA and now overdue."""
    with committed(backend, tenant):
        action = db.session.execute(
            sa.select(CorrectiveAction).where(CorrectiveAction.store_id == tenant.store_ids[store_name])
        ).scalar_one()
        reviewer = staff(tenant, "qa" if store_name == "S1" else "owner")
        services.reopen_action(action, reviewer, "The problem is back", today=TODAY)
        action.due_on = TODAY - timedelta(days=days_overdue)
        return action.id


def escalation_state(backend, tenant: SeededTenant, action_id: int) -> tuple[date | None, int]:
    with committed(backend, tenant):
        action = db.session.get(CorrectiveAction, action_id)
        return action.escalated_on, action.escalation_count


def test_overdue_actions_are_mailed_to_owner_and_qa_once_per_repeat_period(backend, north, south, worker_env):
    box = worker_env["box"]
    north_action = overdue_action(backend, north, "S1", days_overdue=3)
    south_action = overdue_action(backend, south, "S2", days_overdue=1)
    with committed(backend, north):  # QA reads Chinese; the store manager English
        staff(north, "qa").locale = "zh_Hans_CN"
        staff(north, "manager").locale = "en"
        due_on = db.session.get(CorrectiveAction, north_action).due_on

    reached = sweep(backend, worker_env, "escalate-corrective-actions", TODAY)
    assert {north.ref.slug, south.ref.slug, backend.alpha.ref.slug, backend.beta.ref.slug} <= set(reached)

    # owner and QA of each tenant, one mail each; nobody of alpha or beta
    expected = {north.users["manager"], north.users["qa"], south.users["manager2"], south.users["qa"]}
    assert sorted(m["To"] for m in box.messages) == sorted(expected)
    owner_mail, qa_mail = box.to(north.users["manager"])[0], box.to(north.users["qa"])[0]
    for message, locale in ((owner_mail, "en"), (qa_mail, "zh_Hans_CN")):
        body = message.get_content()
        assert f"#{north_action}" in message["Subject"] and north.store_sentinel("S1") in message["Subject"]
        assert f"/admin/corrective_actions/details/?id={north_action}" in body
        assert f"http://{north.host}" in body
        assert "Failed SENTINEL-N-S1" in body  # the finding: what the inspector noted
        assert "SENTINEL-S" not in body  # nothing of the other tenant
        # in the recipient's language: the text, and the due date as that locale writes it
        with backend.app.test_request_context(), force_locale(locale):
            overdue = services.describe_due(due_on, TODAY)
            role_line = gettext(
                "Please complete it and record the evidence that the problem is fixed:"
                if locale == "en"
                else "You receive this as QA, to follow the rectification up (HB §8.3.2):"
            )
        assert overdue in message["Subject"] and role_line in body
        assert format_date(due_on, "medium", locale=locale) in body
    assert "3 days overdue" in owner_mail["Subject"]
    south_body = box.to(south.users["manager2"])[0].get_content()
    assert f"#{south_action}" in south_body and "SENTINEL-N" not in south_body
    assert escalation_state(backend, north, north_action) == (TODAY, 1)

    # the same day again, and within the repeat period: claimed already, nothing sent
    sweep(backend, worker_env, "escalate-corrective-actions", TODAY)
    sweep(backend, worker_env, "escalate-corrective-actions", TODAY + timedelta(days=6))
    assert len(box.messages) == 4
    assert escalation_state(backend, north, north_action) == (TODAY, 1)

    # escalation_repeat_days (7) later: escalated again, as a numbered reminder
    later = TODAY + timedelta(days=7)
    sweep(backend, worker_env, "escalate-corrective-actions", later)
    assert len(box.messages) == 8
    reminder = box.to(north.users["manager"])[-1]
    assert "10 days overdue" in reminder["Subject"]
    assert "This is reminder number 2." in reminder.get_content()
    assert escalation_state(backend, north, north_action) == (later, 2)

    # once done, the action is no longer overdue: no more mails
    with committed(backend, north):
        action = db.session.get(CorrectiveAction, north_action)
        services.complete_action(action, staff(north, "manager"), "Cleaned again")
        assert action.status is ActionStatus.DONE
    sweep(backend, worker_env, "escalate-corrective-actions", TODAY + timedelta(days=14))
    assert {m["To"] for m in box.messages[8:]} == {south.users["manager2"], south.users["qa"]}


# --- generation --------------------------------------------------------------------------------------


def add_plan(
    backend, tenant: SeededTenant, recurrence: Recurrence, stores: list[str], starts_on: date
) -> int:
    with committed(backend, tenant):
        plan = InspectionPlan(
            name=f"Plan {tenant.letter} {recurrence.value}",
            kind=InspectionKind.PERIODIC,
            recurrence=recurrence,
            starts_on=starts_on,
            inspector_id=staff(tenant, "qa").id,
        )
        services.save_plan(plan, [store(tenant, name) for name in stores], today=TODAY)
        return plan.id


def inspection_rows(backend, tenant: SeededTenant) -> set[tuple[int | None, int, date]]:
    with committed(backend, tenant):
        return set(
            db.session.execute(sa.select(Inspection.plan_id, Inspection.store_id, Inspection.due_on)).all()
        )


def test_the_generation_job_makes_each_tenants_inspections_in_that_tenant_only(
    backend, north, south, worker_env
):
    starts_on = TODAY + timedelta(days=20)  # beyond today's horizon: saving made nothing yet
    north_plan = add_plan(backend, north, Recurrence.WEEKLY, ["S1", "S2"], starts_on)
    south_plan = add_plan(backend, south, Recurrence.MONTHLY, ["S1"], starts_on)
    assert north_plan == south_plan  # the same id in both schemas: only the schema tells them apart
    before = {t.letter: inspection_rows(backend, t) for t in (north, south, backend.alpha, backend.beta)}

    day = TODAY + timedelta(days=7)  # the horizon reaches starts_on
    for _ in range(2):  # the second run is a no-op
        sweep(backend, worker_env, "generate-inspections", day)
        after = {t.letter: inspection_rows(backend, t) for t in (north, south, backend.alpha, backend.beta)}
        assert after["N"] - before["N"] == {
            (north_plan, north.store_ids["S1"], starts_on),
            (north_plan, north.store_ids["S2"], starts_on),
        }
        assert after["S"] - before["S"] == {(south_plan, south.store_ids["S1"], starts_on)}
        assert after["A"] == before["A"] and after["B"] == before["B"]  # nothing due there

    with committed(backend, north):
        assert db.session.get(InspectionPlan, north_plan).next_occurrence_on == starts_on + timedelta(days=7)
    # a month later, on the same day of the month (its last day when the month is shorter)
    year, month = starts_on.year + starts_on.month // 12, starts_on.month % 12 + 1
    a_month_later = date(year, month, min(starts_on.day, calendar.monthrange(year, month)[1]))
    with committed(backend, south):
        assert db.session.get(InspectionPlan, south_plan).next_occurrence_on == a_month_later


# --- attachments (the monthly report goes out as a PDF) ---------------------------------------------


def test_send_mail_attaches_files_and_keeps_the_plain_signature(app, mailbox, caplog, monkeypatch):
    from repairqc.mail import send_mail

    pdf = b"%PDF-1.4\n" + bytes(range(256)) + b"\n%%EOF"
    with app.app_context():
        send_mail("qa@example.com", "Report 2026-10", "Attached.", attachments=[
            ("cross-store-report-2026-10.pdf", "application/pdf", pdf),
            ("rows.csv", "text/csv", b"store,score\nS1,92.5\n"),
        ])  # fmt: skip
        send_mail("qa@example.com", "Plain", "No files.")
    with_files, plain = mailbox.to("qa@example.com")
    assert with_files.get_body(("plain",)).get_content().strip() == "Attached."
    files = {part.get_filename(): part for part in with_files.iter_attachments()}
    assert set(files) == {"cross-store-report-2026-10.pdf", "rows.csv"}
    assert files["cross-store-report-2026-10.pdf"].get_content_type() == "application/pdf"
    assert files["cross-store-report-2026-10.pdf"].get_content() == pdf  # byte for byte
    assert files["rows.csv"].get_content_type() == "text/csv"
    assert "S1,92.5" in files["rows.csv"].get_content()
    assert plain["Subject"] == "Plain" and not plain.is_multipart()

    monkeypatch.setitem(app.config, "MAIL_BACKEND", "console")
    with app.app_context(), caplog.at_level("WARNING", logger="repairqc.mail"):
        send_mail("qa@example.com", "Logged", "Body", attachments=[("r.pdf", "application/pdf", pdf)])
    assert f"[attached: r.pdf (application/pdf, {len(pdf)} bytes)]" in caplog.text
    assert "JVBERi" not in caplog.text  # the file's base64 is not dumped into the log
