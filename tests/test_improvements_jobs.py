"""The daily "improvements-due" job (HB §2.3.1, §2.3.2) run by a real RQ worker, mailing a real
local SMTP server: responsible people get their adopted suggestions past due, QA the effect
reviews and the process review due, once per suggestion (or review) and due date.

The worker is another process and sees committed rows only, so these tests commit into two
scratch tenants of their own (deleted at the end of the module); the job is queued for each of
them directly (the fan-out would also reach the session tenants, which must stay as seeded).
Time travel: the job is given the day (`today_iso`), never the clock.

What the seed (tests/seed_improvements.py) leaves in each tenant: per store, an adopted
suggestion with the store's manager responsible, due in 30 days; a process review held today,
the next one due in 90 days.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from rq import Queue
from rq.job import Job

from repairqc.db import db
from repairqc.improvements import services
from repairqc.improvements.models import (
    ImprovementArea,
    ImprovementReminder,
    ImprovementSuggestion,
    ReminderKind,
)
from repairqc.improvements.tasks import remind_improvements_due
from repairqc.jobs import enqueue
from repairqc.jobs.periodic import periodic_job
from tests.conftest import SeededTenant, committed, staff, store
from tests.test_jobs import run_worker
from tests.test_supervision_jobs import worker_env  # noqa: F401  (the fixture: Redis queues + SMTP)

TODAY = date.today()


def run_due(backend, env: dict, tenants_: list[SeededTenant], day: date) -> None:
    """Queue the job for each tenant as the fan-out would, and let a real worker do the work."""
    with backend.app.app_context():
        for tenant in tenants_:
            enqueue(remind_improvements_due, day.isoformat(), tenant=tenant.ref)
    queues = [f"{env['prefix']}default", f"{env['prefix']}emails"]
    run_worker(backend.app, queues, **env["settings"])
    for name in queues:
        failed = Queue(name, connection=env["conn"]).failed_job_registry
        assert [Job.fetch(i, connection=env["conn"]).latest_result() for i in failed.get_job_ids()] == []


def late_suggestion(backend, tenant: SeededTenant, store_name: str, title: str) -> int:
    """Adopted 20 days ago, due 2 days ago, the store's manager responsible."""
    with committed(backend, tenant):
        suggestion = services.submit_suggestion(
            staff(tenant, "tech" if store_name == "S1" else "tech2"),
            area=ImprovementArea.REPAIR_PROCESS,
            title=title,
            problem="P",
            proposal="Q",
            store=store(tenant, store_name),
        )
        services.adopt_suggestion(
            suggestion,
            staff(tenant, "qa"),
            responsible=staff(tenant, "manager" if store_name == "S1" else "manager2"),
            due_on=TODAY - timedelta(days=2),
            plan="Plan",
            today=TODAY - timedelta(days=20),
        )
        return suggestion.id


def reminders(backend, tenant: SeededTenant) -> dict[str, str | None]:
    with committed(backend, tenant):
        return dict(
            db.session.execute(sa.select(ImprovementReminder.key, ImprovementReminder.recipients)).all()
        )


def test_the_entry_is_daily_and_names_the_job():
    entry = periodic_job("improvements-due")
    assert entry.tenant_job() is remind_improvements_due and entry.cron.split()[2:] == ["*", "*", "*"]


def test_due_improvements_are_mailed_once_per_suggestion_and_due_date(
    backend,
    east,
    west,
    worker_env,  # noqa: F811
):
    box = worker_env["box"]
    late_s1 = late_suggestion(backend, east, "S1", f"Late {east.store_sentinel('S1')}")
    late_s2 = late_suggestion(backend, east, "S2", f"Late {east.store_sentinel('S2')}")
    with committed(backend, east):
        review = services.submit_suggestion(
            staff(east, "tech"),
            area=ImprovementArea.EQUIPMENT,
            title=f"Review me {east.sentinel}",
            problem="P",
            proposal="Q",
            store=store(east, "S1"),
        )
        services.adopt_suggestion(
            review,
            staff(east, "owner"),
            responsible=staff(east, "manager"),
            due_on=TODAY,
            plan="Plan",
            today=TODAY,
        )
        services.record_implementation(
            review,
            staff(east, "manager"),
            implemented_on=TODAY,
            what_was_done="Done",
            effect_review_due_on=TODAY + timedelta(days=1),
            today=TODAY,
        )
        review_id = review.id
        staff(east, "manager2").locale = "zh_Hans_CN"
    # the decision mails of the set-up were queued: let the worker send them, then start afresh
    run_worker(backend.app, [f"{worker_env['prefix']}emails"], **worker_env["settings"])
    assert box.messages
    box.messages.clear()
    before = reminders(backend, east)
    day = TODAY + timedelta(days=1)

    run_due(backend, worker_env, [east, west], day)
    assert sorted(m["To"] for m in box.messages) == sorted(
        [east.users["manager"], east.users["manager2"], east.users["qa"]]
    )  # west has nothing due yet: no mail there
    to_manager = box.to(east.users["manager"])[0]
    body = to_manager.get_content()
    assert "1 improvement item needs your attention" in to_manager["Subject"]
    assert f"#{late_s1} Late {east.store_sentinel('S1')}" in body and "3 days overdue" in body
    assert f"http://{east.host}/admin/improvements/suggestions/{late_s1}/" in body
    assert east.store_sentinel("S2") not in body and "SENTINEL-W" not in body
    to_qa = box.to(east.users["qa"])[0].get_content()
    assert f"#{review_id} Review me" in to_qa and "Effect review due" in to_qa and "Late" not in to_qa
    to_manager2 = box.to(east.users["manager2"])[0].get_content()  # in the reader's language
    assert f"#{late_s2}" in to_manager2 and "您好" in to_manager2

    claimed = {k: v for k, v in reminders(backend, east).items() if k not in before}
    assert claimed == {
        f"overdue:{late_s1}:{(TODAY - timedelta(days=2)).isoformat()}": east.users["manager"],
        f"overdue:{late_s2}:{(TODAY - timedelta(days=2)).isoformat()}": east.users["manager2"],
        f"effect_review:{review_id}:{day.isoformat()}": east.users["qa"],
    }

    # the same day again, and the next day: everything was reminded already
    run_due(backend, worker_env, [east, west], day)
    run_due(backend, worker_env, [east, west], day + timedelta(days=1))
    assert len(box.messages) == 3

    # 40 days on, the seeded adopted suggestions (due in 30 days) are late, in both tenants;
    # the late ones of east were implemented meanwhile and stay quiet
    with committed(backend, east):
        for suggestion_id in (late_s1, late_s2):
            services.record_implementation(
                db.session.get(ImprovementSuggestion, suggestion_id),
                staff(east, "qa"),
                implemented_on=TODAY,
                what_was_done="Done at last",
                today=TODAY,
            )
    run_due(backend, worker_env, [east, west], TODAY + timedelta(days=40))
    later = box.messages[3:]
    assert sorted(m["To"] for m in later) == sorted(
        [east.users["manager"], east.users["manager2"], west.users["manager"], west.users["manager2"]]
    )
    west_body = box.to(west.users["manager"])[0].get_content()
    assert f"Adopted suggestion {west.store_sentinel('S1')}" in west_body and "SENTINEL-E" not in west_body

    # 100 days on, the process review (next due in 90 days) is due: QA of each tenant, once;
    # the effect reviews set 90 days after the implementations above fall due on that day too
    run_due(backend, worker_env, [east, west], TODAY + timedelta(days=100))
    last = box.messages[7:]
    assert sorted(m["To"] for m in last) == sorted([east.users["qa"], west.users["qa"]])
    east_qa = box.to(east.users["qa"])[-1].get_content()
    assert "Process review due" in east_qa and f"http://{east.host}/admin/improvements/reviews/new" in east_qa
    assert "Effect review due" in east_qa and f"#{late_s1}" in east_qa
    kinds = {k.split(":")[0] for k in reminders(backend, west)}
    assert kinds == {ReminderKind.OVERDUE.value, ReminderKind.PROCESS_REVIEW.value}
    run_due(backend, worker_env, [east, west], TODAY + timedelta(days=101))
    assert len(box.messages) == 9
