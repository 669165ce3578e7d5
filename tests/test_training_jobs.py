"""Training's periodic jobs run by a real RQ worker, mailing a real local SMTP server:
evaluations made on the policy's offsets with reminders to their assessors (HB §3.2.2), and
certificate expiry reminders (HB §5.1.3(1)), each once.

The worker is another process and sees committed rows only, so the jobs run in a scratch tenant
of this module (deleted at the end), queued for it alone: alpha and beta are not touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from rq import Queue
from rq.job import Job

from repairqc.db import db, tenant_context, unit_of_work
from repairqc.jobs import enqueue
from repairqc.jobs.periodic import periodic_job
from repairqc.tenants import services as tenants
from repairqc.training import services, tasks
from repairqc.training.models import Certificate, Enrolment, Evaluation
from tests.conftest import SeededTenant, provision_seeded, staff
from tests.test_jobs import run_worker
from tests.test_supervision_jobs import committed, worker_env  # noqa: F401  (the fixture)

TODAY = date.today()


@pytest.fixture(scope="module")
def tee(backend) -> Iterator[SeededTenant]:
    with backend.app.app_context():
        tenant = provision_seeded("T", extra_rows=0)
    yield tenant
    with backend.app.app_context(), unit_of_work():
        tenants.delete_tenant(tenant.ref.slug)


def run(backend, env: dict, tenant: SeededTenant, func, day: date) -> None:
    with backend.app.app_context(), tenant_context(tenant.ref):
        enqueue(func, day.isoformat(), tenant=tenant.ref)
    queues = [f"{env['prefix']}default", f"{env['prefix']}emails"]
    run_worker(backend.app, queues, **env["settings"])
    for queue_name in queues:
        failed = Queue(queue_name, connection=env["conn"]).failed_job_registry
        assert [Job.fetch(i, connection=env["conn"]).latest_result() for i in failed.get_job_ids()] == []


def test_the_periodic_list_names_the_training_jobs():
    assert periodic_job("training-schedule").tenant_job() is tasks.training_schedule
    assert periodic_job("certificate-expiry").tenant_job() is tasks.certificate_expiry


def test_evaluations_are_made_when_due_and_their_assessors_reminded_once(backend, tee, worker_env):  # noqa: F811
    box = worker_env["box"]
    with committed(backend, tee):
        db.session.execute(sa.delete(Evaluation))
        tech, tech2 = staff(tee, "tech"), staff(tee, "tech2")
        first = db.session.scalars(sa.select(Enrolment).where(Enrolment.user_id == tech.id)).one()
        first.completed_on = services.add_months(TODAY, -3)
        second = db.session.scalars(sa.select(Enrolment).where(Enrolment.user_id == tech2.id)).one()
        second.completed_on = TODAY + timedelta(days=1)
        first_id = first.id
    run(backend, worker_env, tee, tasks.training_schedule, TODAY)
    with committed(backend, tee):
        made = db.session.scalars(sa.select(Evaluation).order_by(Evaluation.offset_months)).all()
        assert [(e.enrolment_id, e.offset_months) for e in made] == [(first_id, 0), (first_id, 3)]
        assert all(e.reminded_on == TODAY for e in made)
    assert sorted(m["To"] for m in box.messages) == sorted([tee.users["trainer"], tee.users["manager"]])
    message = box.to(tee.users["manager"])[0]
    assert "3 months after training" in message["Subject"] and "Tech SENTINEL-T-S1" in message["Subject"]
    assert f"http://{tee.host}/admin/training/evaluations/" in message.get_content()

    run(backend, worker_env, tee, tasks.training_schedule, TODAY)  # again: nothing new
    assert len(box.messages) == 2
    run(backend, worker_env, tee, tasks.training_schedule, TODAY + timedelta(days=1))
    assert len(box.messages) == 3 and box.messages[-1]["To"] == tee.users["trainer"]
    assert "Tech2 SENTINEL-T-S2" in box.messages[-1]["Subject"]


def test_certificates_about_to_expire_are_reminded_once_per_expiry_date(backend, tee, worker_env):  # noqa: F811
    box = worker_env["box"]
    with committed(backend, tee):
        cert = db.session.scalars(
            sa.select(Certificate).where(Certificate.number == "SENTINEL-T-tech-laptop")
        ).one()
        cert.expires_on = TODAY + timedelta(days=10)
        far = db.session.scalars(
            sa.select(Certificate).where(Certificate.number == "SENTINEL-T-tech2-laptop")
        ).one()
        far.expires_on = TODAY + timedelta(days=services.CERTIFICATE_REMINDER_DAYS + 1)
        cert_id = cert.id
    run(backend, worker_env, tee, tasks.certificate_expiry, TODAY)
    expected = {tee.users["tech"], tee.users["manager"], tee.users["trainer"]}
    assert {m["To"] for m in box.messages} == expected and len(box.messages) == 3
    body = box.to(tee.users["tech"])[0].get_content()
    assert "SENTINEL-T-tech-laptop" in body and "Laptop" in body and "SENTINEL-T-tech2" not in body
    run(backend, worker_env, tee, tasks.certificate_expiry, TODAY)
    assert len(box.messages) == 3
    with committed(backend, tee):  # renewed to a new date that is also close: reminded again
        db.session.get(Certificate, cert_id).expires_on = TODAY + timedelta(days=20)
    run(backend, worker_env, tee, tasks.certificate_expiry, TODAY)
    assert len(box.messages) == 6
