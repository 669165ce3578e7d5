"""The "complaint-deadlines" clock (HB §9.3.3): a warning to the responsible person before the
first-contact deadline and an escalation to the store's managers and QA when it passes, each
once, whatever the number of runs.

The first tests travel in time (the job takes the moment) with jobs run in-process and a real
local SMTP server; the last one runs the job with a real RQ worker in two scratch tenants of its
own (the worker is another process and sees committed rows only), as tests/test_equipment_jobs.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from rq import Queue
from rq.job import Job

from repairqc.complaints import services
from repairqc.complaints.models import Complaint, ComplaintChannel, ContactMethod, EventKind
from repairqc.complaints.tasks import complaint_deadlines
from repairqc.db import db, unit_of_work
from repairqc.jobs import enqueue
from repairqc.jobs.periodic import periodic_job
from repairqc.repairs.models import Customer
from tests.conftest import SeededTenant, committed, in_tenant, staff, store
from tests.test_jobs import run_worker
from tests.test_supervision_jobs import worker_env  # noqa: F401  (the fixture: Redis queues + SMTP)

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def test_the_entry_runs_every_15_minutes_and_names_the_job():
    entry = periodic_job("complaint-deadlines")
    assert entry.tenant_job() is complaint_deadlines and entry.cron == "*/15 * * * *"


def open_one(tenant, received_at: datetime, name: str = "S1") -> int:
    customer = (
        db.session.execute(
            sa.select(Customer).where(Customer.store_id == tenant.store_ids[name]).order_by(Customer.id)
        )
        .scalars()
        .first()
    )
    complaint = services.open_complaint(
        store=store(tenant, name),
        channel=ComplaintChannel.PHONE,
        description="Still broken",
        customer=customer,
        received_at=received_at,
    )
    return complaint.id


def tick(app, tenant, moment: datetime) -> dict:
    """One run of the job at `moment`, in-process (its mails are their own jobs, run after it)."""
    with in_tenant(app, tenant):
        enqueue(complaint_deadlines, moment.date().isoformat(), moment.isoformat())
    with in_tenant(app, tenant):
        return {
            row.id: (row.warned_at, row.escalated_at)
            for row in db.session.execute(sa.select(Complaint).where(Complaint.received_at >= NOW)).scalars()
        }


@pytest.fixture
def in_process(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")


def test_warning_once_then_escalation_once(app, alpha, mailbox, in_process):
    with in_tenant(app, alpha):
        complaint_id = open_one(alpha, NOW)
        staff(alpha, "manager2").locale = "zh_Hans_CN"
        db.session.commit()
    manager, qa = alpha.users["manager"], alpha.users["qa"]

    tick(app, alpha, NOW + timedelta(hours=19, minutes=59))  # more than 4 hours left: nothing
    assert mailbox.messages == []
    claims = tick(app, alpha, NOW + timedelta(hours=20, minutes=15))
    assert (
        claims[complaint_id][0] == NOW + timedelta(hours=20, minutes=15) and claims[complaint_id][1] is None
    )
    assert [m["To"] for m in mailbox.messages] == [manager]  # the responsible person only
    warning = mailbox.messages[0]
    number = f"C-{alpha.store_sentinel('S1')}-"
    assert number in warning["Subject"] and "first contact due" in warning["Subject"]
    body = warning.get_content()
    assert "You are responsible for complaint" in body and "3 hours left" in body
    assert f"http://{alpha.host}/admin/customer-complaints/{complaint_id}/" in body

    tick(app, alpha, NOW + timedelta(hours=21))  # warned already
    tick(app, alpha, NOW + timedelta(hours=23, minutes=59))
    assert len(mailbox.messages) == 1

    tick(app, alpha, NOW + timedelta(hours=24, minutes=30))  # the deadline has passed
    escalations = mailbox.messages[1:]
    assert sorted(m["To"] for m in escalations) == sorted([manager, qa])  # S1's manager and QA, not S2's
    assert all("Overdue" in m["Subject"] for m in escalations)
    assert "30 minutes" in escalations[0].get_content() and "HB §9.3.3" in escalations[0].get_content()
    for later in (timedelta(hours=24, minutes=45), timedelta(days=3)):  # idempotent re-runs
        tick(app, alpha, NOW + later)
    assert len(mailbox.messages) == 3
    with in_tenant(app, alpha):
        kinds = [e.kind for e in db.session.get(Complaint, complaint_id).events]
        assert kinds == [EventKind.OPENED, EventKind.WARNED, EventKind.ESCALATED]


def test_a_contacted_complaint_is_neither_warned_nor_escalated(app, alpha, mailbox, in_process):
    with in_tenant(app, alpha):
        complaint = db.session.get(Complaint, open_one(alpha, NOW))
        services.log_contact(
            complaint,
            staff(alpha, "frontdesk"),
            channel=ContactMethod.PHONE,
            note="Called",
            now=NOW + timedelta(hours=1),
        )
        db.session.commit()
    for hours in (21, 25, 48):
        tick(app, alpha, NOW + timedelta(hours=hours))
    assert mailbox.messages == []


def test_a_complaint_first_seen_after_its_deadline_is_escalated_without_a_warning(
    app, alpha, mailbox, in_process
):
    """No scheduler ran for a day: the next run escalates; the warning is moot by then."""
    with in_tenant(app, alpha):
        complaint_id = open_one(alpha, NOW, "S2")
        db.session.commit()
    claims = tick(app, alpha, NOW + timedelta(hours=30))
    assert claims[complaint_id][0] is None and claims[complaint_id][1] is not None
    assert sorted(m["To"] for m in mailbox.messages) == sorted([alpha.users["manager2"], alpha.users["qa"]])


def test_contact_between_the_claim_and_the_mail_sends_nothing(app, alpha, mailbox, in_process):
    from repairqc.complaints.tasks import ESCALATION, send_deadline_mail

    with in_tenant(app, alpha):
        complaint = db.session.get(Complaint, open_one(alpha, NOW))
        services.log_contact(
            complaint,
            staff(alpha, "frontdesk"),
            channel=ContactMethod.PHONE,
            note="Called",
            now=NOW + timedelta(hours=25),
        )
        assert send_deadline_mail(complaint.id, staff(alpha, "qa").id, ESCALATION, NOW.isoformat()) is None
    assert mailbox.messages == []


def test_the_claim_is_taken_once_by_two_runs(app, alpha):
    """Two sweeps at one moment (a retry, a second scheduler): the conditional UPDATE lets one win."""
    with in_tenant(app, alpha):
        complaint_id = open_one(alpha, NOW)
        first = services.claim_deadline_work(NOW + timedelta(hours=25))
        second = services.claim_deadline_work(NOW + timedelta(hours=25))
    assert first == ([], [complaint_id]) and second == ([], [])


# --- a real worker ----------------------------------------------------------------------------


def run_clock(backend, env: dict, tenants_: list[SeededTenant]) -> None:
    """Queue the job for each tenant as the fan-out would (now), and let a real worker work it."""
    with backend.app.app_context():
        for tenant in tenants_:
            enqueue(complaint_deadlines, datetime.now(UTC).date().isoformat(), tenant=tenant.ref)
    queues = [f"{env['prefix']}default", f"{env['prefix']}emails"]
    run_worker(backend.app, queues, **env["settings"])
    for name in queues:
        failed = Queue(name, connection=env["conn"]).failed_job_registry
        assert [Job.fetch(i, connection=env["conn"]).latest_result() for i in failed.get_job_ids()] == []


def test_a_real_worker_warns_and_escalates_once(backend, east, west, worker_env):  # noqa: F811
    box = worker_env["box"]
    now = datetime.now(UTC)
    with committed(backend, east):
        soon = open_one(east, now - timedelta(hours=22))  # 2 hours left: a warning
        late = open_one(east, now - timedelta(hours=26), "S2")  # 2 hours late: an escalation
        staff(east, "manager").locale = "zh_Hans_CN"
    run_clock(backend, worker_env, [east, west])
    expected = sorted([east.users["manager"], east.users["manager2"], east.users["qa"]])
    assert sorted(m["To"] for m in box.messages) == expected
    warning = box.to(east.users["manager"])[0]
    assert "C-SENTINEL-E-S1" in warning["Subject"]
    assert "SENTINEL-W" not in "".join(m.get_content() for m in box.messages)
    with committed(backend, east):
        assert db.session.get(Complaint, soon).warned_at is not None
        assert db.session.get(Complaint, late).escalated_at is not None

    run_clock(backend, worker_env, [east, west])  # again: everything was claimed already
    assert len(box.messages) == 3


def test_the_clocks_claim_leaves_an_open_page_current(app, alpha, mailbox, in_process):
    """The warning is the system's, not an edit: the front desk's page (its version) stays valid
    and their first contact is accepted, not refused as stale."""
    with in_tenant(app, alpha):
        complaint_id = open_one(alpha, NOW)
        seen = db.session.get(Complaint, complaint_id).version
        db.session.commit()
    tick(app, alpha, NOW + timedelta(hours=20, minutes=15))
    with in_tenant(app, alpha), unit_of_work():
        complaint = db.session.get(Complaint, complaint_id)
        assert complaint.warned_at is not None and complaint.version == seen
        services.log_contact(
            complaint, staff(alpha, "frontdesk"), channel=ContactMethod.PHONE, note="Called back",
            now=NOW + timedelta(hours=20, minutes=30), expected_version=seen,
        )  # fmt: skip
    assert len(mailbox.messages) == 1  # the warning; no escalation follows a first contact
    tick(app, alpha, NOW + timedelta(hours=25))
    assert len(mailbox.messages) == 1
