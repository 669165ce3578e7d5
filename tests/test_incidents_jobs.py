"""Incident alerts and the periodic "incident-updates" job (HB §9.2) run by a real RQ worker,
mailing a real local SMTP server: the command roles get one alert each, the affected customers
one message per round, at the plan's interval, and a repeated run sends nothing.

The worker is another process and sees committed rows only, so these tests commit into two
scratch tenants of their own (deleted at the end of the module); the periodic job is queued for
each of them directly (the fan-out would also reach the session tenants, which must stay as
seeded).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from rq import Queue
from rq.job import Job

from repairqc.db import db, utcnow
from repairqc.incidents import services
from repairqc.incidents.models import Incident, IncidentAlert, IncidentUpdate, PlanKind, Severity
from repairqc.incidents.tasks import send_incident_updates
from repairqc.jobs import enqueue
from repairqc.jobs.periodic import periodic_job
from repairqc.repairs.models import RepairOrderStatus as S
from tests.conftest import SeededTenant, committed, staff, store
from tests.test_incidents_services import add_order
from tests.test_jobs import run_worker
from tests.test_supervision_jobs import worker_env  # noqa: F401  (the fixture: Redis queues + SMTP)

NOW = utcnow().replace(microsecond=0)


def work(backend, env: dict) -> None:
    """Let a real worker empty the queues; no job may fail."""
    queues = [f"{env['prefix']}default", f"{env['prefix']}emails"]
    run_worker(backend.app, queues, **env["settings"])
    for name in queues:
        failed = Queue(name, connection=env["conn"]).failed_job_registry
        assert [Job.fetch(i, connection=env["conn"]).latest_result() for i in failed.get_job_ids()] == []


def run_updates(backend, env: dict, tenants_: list[SeededTenant], at) -> None:
    """Queue the periodic job for each tenant as the fan-out would, at the time `at`."""
    with backend.app.app_context():
        for tenant in tenants_:
            enqueue(send_incident_updates, at.date().isoformat(), at.isoformat(), tenant=tenant.ref)
    work(backend, env)


def test_the_entry_runs_every_quarter_hour_and_names_the_job():
    entry = periodic_job("incident-updates")
    assert entry.tenant_job() is send_incident_updates and entry.cron == "*/15 * * * *"


def test_alerts_and_rounds_reach_each_person_once_through_a_real_worker(
    backend,
    east,
    west,
    worker_env,  # noqa: F811
):
    box = worker_env["box"]
    for tenant in (east, west):
        with committed(backend, tenant):  # the seeded incidents keep quiet
            db.session.execute(sa.update(Incident).values(next_update_due_at=None))
    with committed(backend, east):
        add_order(east, "S1", "Ana", email="ana@example.com")
        add_order(east, "S1", "Bo", email="bo@example.cn", language="zh_Hans_CN", status=S.READY)
        add_order(east, "S1", "Gone", email="gone@example.com", status=S.DELIVERED)
        add_order(east, "S2", "Elsewhere", email="elsewhere@example.com")
    with committed(backend, west):
        add_order(west, "S1", "West", email="west@example.com")
    with committed(backend, east):
        incident = services.report_incident(
            staff(east, "tech"),
            store(east, "S1"),
            kind=PlanKind.NATURAL_DISASTER,
            severity=Severity.CRITICAL,
            description="Flooded basement",
            occurred_at=NOW - timedelta(minutes=10),
            notify_customers=True,
            now=NOW,
        )
        incident_id = incident.id
    work(backend, worker_env)
    staff_mails = sorted(m["To"] for m in box.messages if "sentinel" in m["To"])
    assert staff_mails == sorted([east.users["manager"], east.users["qa"]])
    assert [m["To"] for m in box.to("ana@example.com")] == ["ana@example.com"]
    assert len(box.to("bo@example.cn")) == 1 and "您好" in box.to("bo@example.cn")[0].get_content()
    for nobody in ("gone@example.com", "elsewhere@example.com", "west@example.com"):
        assert box.to(nobody) == []
    with committed(backend, east):
        assert all(
            a.sent_at
            for a in db.session.scalars(
                sa.select(IncidentAlert).where(IncidentAlert.incident_id == incident_id)
            )
        )

    run_updates(backend, worker_env, [east, west], NOW + timedelta(hours=2))  # not due yet
    assert len(box.messages) == 4
    run_updates(backend, worker_env, [east, west], NOW + timedelta(hours=4, minutes=5))
    run_updates(backend, worker_env, [east, west], NOW + timedelta(hours=4, minutes=5))  # again: nothing
    assert len(box.to("ana@example.com")) == len(box.to("bo@example.cn")) == 2
    assert box.to("west@example.com") == [] and len(box.messages) == 6
    with committed(backend, east):
        rounds = db.session.scalars(
            sa.select(IncidentUpdate.round)
            .where(IncidentUpdate.incident_id == incident_id)
            .order_by(IncidentUpdate.round)
        ).all()
        assert rounds == [1, 2]
        assert db.session.get(Incident, incident_id).next_update_due_at == NOW + timedelta(hours=8)
