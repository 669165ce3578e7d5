"""The periodic job "assessments-due" (HB §3.3.2-§3.3.3) run by a real RQ worker, mailing a real
local SMTP server: the drafts of the month, quarter and year just ended are made once per
technician and store, each assessor is mailed once, and each tenant's job touches that tenant
only.

The worker is another process and sees committed rows only, so the test commits into two
scratch tenants of its own (deleted at the end of the module). The job is queued for those two
directly rather than fanned out, so the session tenants alpha and beta keep their seeded rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from rq import Queue
from rq.job import Job

from repairqc.assessments.models import Assessment, AssessmentKind, AssessmentStatus
from repairqc.assessments.tasks import create_due_assessments
from repairqc.db import db, tenant_context, unit_of_work
from repairqc.jobs import enqueue
from repairqc.jobs.periodic import periodic_job
from repairqc.tenants import services as tenants
from tests.conftest import SeededTenant, provision_seeded
from tests.test_jobs import run_worker
from tests.test_supervision_jobs import worker_env  # noqa: F401  (the fixture)

#: The first run of a new year: December, the fourth quarter and the year have just ended.
DAY = date(date.today().year + 1, 1, 1)


@pytest.fixture(scope="module")
def east(backend) -> Iterator[SeededTenant]:
    with backend.app.app_context():
        tenant = provision_seeded("E", extra_rows=0)
    yield tenant
    with backend.app.app_context(), unit_of_work():
        tenants.delete_tenant(tenant.ref.slug)


@pytest.fixture(scope="module")
def west(backend) -> Iterator[SeededTenant]:
    with backend.app.app_context():
        tenant = provision_seeded("W", extra_rows=1)  # ids that east lacks
    yield tenant
    with backend.app.app_context(), unit_of_work():
        tenants.delete_tenant(tenant.ref.slug)


@contextlib.contextmanager
def committed(backend, tenant: SeededTenant) -> Iterator[None]:
    with backend.app.app_context(), tenant_context(tenant.ref), unit_of_work():
        yield


def run_due_job(backend, env: dict, tenant_list: list[SeededTenant], day: date) -> None:
    """Queue the tenant job of "assessments-due" for each tenant, as the fan-out would, and let a
    real worker do the work; fails if any job failed."""
    job = periodic_job("assessments-due").tenant_job()
    assert job is create_due_assessments
    with backend.app.app_context():
        for tenant in tenant_list:
            enqueue(job, day.isoformat(), tenant=tenant.ref)
    queues = [f"{env['prefix']}default", f"{env['prefix']}emails"]
    run_worker(backend.app, queues, **env["settings"])
    for queue_name in queues:
        failed = Queue(queue_name, connection=env["conn"]).failed_job_registry
        assert [Job.fetch(i, connection=env["conn"]).latest_result() for i in failed.get_job_ids()] == []


def drafts(backend, tenant: SeededTenant) -> set[tuple[str, int, AssessmentKind, date]]:
    with committed(backend, tenant):
        return {
            (a.staff.email, a.store_id, a.kind, a.period_start)
            for a in db.session.execute(
                sa.select(Assessment).where(
                    Assessment.status == AssessmentStatus.DRAFT, Assessment.assessor_id.is_(None)
                )
            ).scalars()
        }


def test_due_drafts_are_made_and_their_assessors_mailed_once(backend, east, west, worker_env):  # noqa: F811
    box = worker_env["box"]
    year = DAY.year - 1
    periods = {
        AssessmentKind.MONTHLY: date(year, 12, 1),
        AssessmentKind.QUARTERLY: date(year, 10, 1),
        AssessmentKind.ANNUAL: date(year, 1, 1),
    }
    for _ in range(2):  # the second run (a retry, a second scheduler) makes and mails nothing
        run_due_job(backend, worker_env, [east, west], DAY)
        for tenant in (east, west):
            assert drafts(backend, tenant) == {
                (tenant.users[tech], tenant.store_ids[shop], kind, start)
                for tech, shop in (("tech", "S1"), ("tech2", "S2"))
                for kind, start in periods.items()
            }
        # per tenant: each store's manager its monthly draft, HR (the trainer) the other four
        assert sorted(m["To"] for m in box.messages) == sorted(
            t.users[key] for t in (east, west) for key in ("manager", "manager2", "trainer")
        )

    for tenant, other in ((east, west), (west, east)):
        manager_mail = box.to(tenant.users["manager"])[0]
        body = manager_mail.get_content()
        assert manager_mail["Subject"] == "1 assessment to make"
        assert f"{year}-12" in body and tenant.store_sentinel("S1") in body
        assert tenant.store_sentinel("S2") not in body  # the other store's draft is not theirs
        assert f"http://{tenant.host}/admin/staff-assessments/" in body
        assert other.sentinel not in body and other.host not in body
        trainer_mail = box.to(tenant.users["trainer"])[0]
        assert trainer_mail["Subject"] == "4 assessments to make"
        trainer_body = trainer_mail.get_content()
        assert f"{year}-Q4" in trainer_body and str(year) in trainer_body
        assert other.sentinel not in trainer_body
