"""Background jobs: tenant binding, the in-process default, and a real RQ worker on Redis."""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job, JobStatus

from repairqc import jobs
from repairqc.accounts.models import StaffUser
from repairqc.console.models import TenantRollup
from repairqc.console.tasks import compute_tenant_rollup
from repairqc.db import NoTenantBound, db, tenant_context, unit_of_work
from repairqc.jobs import TenantJob, enqueue
from repairqc.repairs.models import Customer, RepairOrder, RepairOrderStatus
from repairqc.stores.models import Store
from tests import clock
from tests.conftest import in_tenant, require_service

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")  # a database for tests


# --- helpers --------------------------------------------------------------------------------------


def tenant_counts() -> dict[str, int]:
    """What compute_tenant_rollup should report for the tenant bound now, counted independently."""

    def n(model, *where) -> int:
        return db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()

    open_states = [s for s in RepairOrderStatus if s not in ("closed", "declined", "cancelled")]
    return {
        "stores": n(Store),
        "staff_users": n(StaffUser),
        "customers": n(Customer),
        "repair_orders": n(RepairOrder),
        "open_repair_orders": n(RepairOrder, RepairOrder.status.in_(open_states)),
    }


def rollup_of(app: Flask, tenant_id: int) -> dict[str, int] | None:
    with app.app_context():
        row = db.control.get(TenantRollup, tenant_id)
        if row is None:
            return None
        return {
            key: getattr(row, key)
            for key in ("stores", "staff_users", "customers", "repair_orders", "open_repair_orders")
        }


def delete_rollups(tenant_ids: list[int]) -> None:
    db.control.execute(sa.delete(TenantRollup).where(TenantRollup.tenant_id.in_(tenant_ids)))


@contextlib.contextmanager
def rollups_restored(app: Flask, tenant_ids: list[int]) -> Iterator[None]:
    """The control plane is not rolled back: put the rollup rows of these tenants back as they were."""
    with app.app_context():
        saved = {}
        for tenant_id in tenant_ids:
            row = db.control.get(TenantRollup, tenant_id)
            saved[tenant_id] = (
                None
                if row is None
                else {c.key: getattr(row, c.key) for c in sa.inspect(TenantRollup).column_attrs}
            )
        db.control.remove()
    try:
        yield
    finally:
        with app.app_context(), unit_of_work():
            delete_rollups(tenant_ids)
            for values in saved.values():
                if values is not None:
                    db.control.add(TenantRollup(**values))


# --- tenant binding and the in-process default -------------------------------------------------


def test_enqueue_without_a_tenant_raises(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    with app.app_context(), pytest.raises(NoTenantBound):
        enqueue(compute_tenant_rollup)


def test_enqueue_without_a_tenant_raises_before_reaching_redis(app, monkeypatch):
    # an unreachable Redis: the tenant check must come first, so the error is still NoTenantBound
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(
        app.extensions, "repairqc.redis", Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    )
    with app.app_context(), pytest.raises(NoTenantBound):
        enqueue(compute_tenant_rollup)


def test_in_process_job_runs_inside_the_current_tenant(app, alpha, beta, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    with rollups_restored(app, [alpha.ref.id, beta.ref.id]):
        with app.app_context(), unit_of_work():
            delete_rollups([alpha.ref.id, beta.ref.id])
        with in_tenant(app, alpha):
            # a change only this test's alpha connection can see: the job must count it
            db.session.add(Customer(store_id=alpha.store_ids["S1"], full_name="Counted by the job"))
            db.session.commit()
            expected = tenant_counts()
            assert enqueue(compute_tenant_rollup) is None  # ran now, no job id
        with in_tenant(app, beta):
            beta_counts = tenant_counts()

        assert rollup_of(app, alpha.ref.id) == expected
        assert expected["customers"] == 5 and expected["stores"] == 2 and expected["staff_users"] == 10
        assert rollup_of(app, beta.ref.id) is None  # beta was not touched
        assert beta_counts != expected


def test_in_process_job_for_an_explicit_tenant(app, alpha, beta, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    with rollups_restored(app, [alpha.ref.id, beta.ref.id]):
        with in_tenant(app, beta):
            expected = tenant_counts()
        with app.app_context():  # no tenant bound; the job names one
            enqueue(compute_tenant_rollup, tenant=beta.ref)
        assert rollup_of(app, beta.ref.id) == expected
        assert expected["customers"] == 8


# --- a real RQ worker ----------------------------------------------------------------------------


def redis_reachable() -> bool:
    try:
        return bool(Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except RedisError:
        return False


@dataclass
class RedisSetup:
    app: Flask
    conn: Redis
    prefix: str  # every queue of this test is named <prefix><queue>

    def queue_name(self, name: str) -> str:
        return f"{self.prefix}{name}"


def purge(conn: Redis, queue_names: list[str]) -> None:
    """Remove this test's queues, jobs and registries, and nothing else of the database."""
    for name in queue_names:
        queue = Queue(name, connection=conn)
        registries = (
            queue.finished_job_registry,
            queue.failed_job_registry,
            queue.started_job_registry,
            queue.deferred_job_registry,
            queue.scheduled_job_registry,
            queue.canceled_job_registry,
        )
        job_ids = set(queue.get_job_ids())
        for registry in registries:
            job_ids.update(registry.get_job_ids())
        for job_id in job_ids:
            conn.delete(f"rq:job:{job_id}", f"rq:results:{job_id}", f"rq:job:{job_id}:dependents")
        queue.delete(delete_jobs=True)
    for name in queue_names:
        for key in conn.scan_iter(f"*{name}*"):
            conn.delete(key)


@pytest.fixture
def redis_setup(backend, monkeypatch) -> Iterator[RedisSetup]:
    """The session app (committed data only, nothing pinned) on a Redis database of its own.

    Queues get a unique prefix instead of a FLUSHDB: another run of these tests on the same Redis
    then neither deletes this run's jobs nor has its worker take them.
    """
    require_service("Redis", redis_reachable())
    app = backend.app
    conn = Redis.from_url(REDIS_URL)
    setup = RedisSetup(app, conn, f"test-{uuid.uuid4().hex[:8]}-")
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    monkeypatch.setitem(app.extensions, "repairqc.redis", conn)
    # `enqueue` takes the queue from the job's declaration; give it this test's name for it
    monkeypatch.setattr(
        jobs, "queue", lambda name: Queue(setup.queue_name(name), connection=conn, job_class=TenantJob)
    )
    try:
        yield setup
    finally:
        purge(conn, [setup.queue_name(name) for name in jobs.QUEUES])
        conn.close()


def run_worker(app: Flask, queues: list[str], **settings: str) -> subprocess.CompletedProcess:
    """`flask --app repairqc worker --burst` in its own process, on the app's databases;
    `settings` override its environment (e.g. the mail server a test listens on)."""
    env = {
        **os.environ,
        "REPAIRQC_ENV": "testing",
        "DATABASE_URL": app.config["DATABASE_URL"],
        "TENANT_DATA_DIR": app.config["TENANT_DATA_DIR"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "REDIS_URL": app.config["REDIS_URL"],
        "BASE_DOMAIN": app.config["BASE_DOMAIN"],
        "MAIL_BACKEND": "console",
        "SMS_BACKEND": app.config["SMS_BACKEND"],
        **settings,
    }
    result = subprocess.run(
        [
            *clock.command("flask"),
            "--app",
            "repairqc",
            "worker",
            "--burst",
            "--queues",
            ",".join(queues),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent.parent,
    )
    assert result.returncode == 0, result.stderr
    return result


def committed_counts(app: Flask, tenant) -> dict[str, int]:
    with app.app_context(), tenant_context(tenant.ref):
        return tenant_counts()


def test_worker_runs_each_job_in_its_own_tenant(redis_setup, alpha, beta):
    app, conn = redis_setup.app, redis_setup.conn
    with rollups_restored(app, [alpha.ref.id, beta.ref.id]):
        with app.app_context():
            ids = {
                "alpha": enqueue(compute_tenant_rollup, tenant=alpha.ref),
                "beta": enqueue(compute_tenant_rollup, tenant=beta.ref),
            }
        with app.app_context(), tenant_context(beta.ref):
            ids["beta-bound"] = enqueue(compute_tenant_rollup)  # the tenant bound now
        assert all(ids.values())
        queued = {name: Job.fetch(job_id, connection=conn) for name, job_id in ids.items()}
        assert queued["alpha"].meta["tenant_id"] == alpha.ref.id
        assert queued["beta-bound"].meta["tenant_id"] == beta.ref.id
        assert {job.get_status() for job in queued.values()} == {JobStatus.QUEUED}

        assert {job.origin for job in queued.values()} == {redis_setup.queue_name("reports")}
        run_worker(app, [redis_setup.queue_name("reports")])

        for job in queued.values():
            job.refresh()
            assert job.get_status() == JobStatus.FINISHED, job.latest_result()
        expected = {"alpha": committed_counts(app, alpha), "beta": committed_counts(app, beta)}
        assert expected["alpha"] != expected["beta"]
        assert expected["beta"]["customers"] > expected["alpha"]["customers"]
        assert queued["alpha"].return_value() == expected["alpha"]
        assert queued["beta"].return_value() == expected["beta"]
        assert queued["beta-bound"].return_value() == expected["beta"]
        assert rollup_of(app, alpha.ref.id) == expected["alpha"]
        assert rollup_of(app, beta.ref.id) == expected["beta"]


def test_worker_refuses_a_job_without_a_tenant(redis_setup, alpha, beta):
    app, conn = redis_setup.app, redis_setup.conn
    queue_name = redis_setup.queue_name("default")
    with rollups_restored(app, [alpha.ref.id, beta.ref.id]):
        with app.app_context(), unit_of_work():
            delete_rollups([alpha.ref.id, beta.ref.id])
        queue = Queue(queue_name, connection=conn, job_class=TenantJob)
        bare = queue.enqueue(compute_tenant_rollup)  # no meta at all
        wrong = queue.enqueue(compute_tenant_rollup, meta={"tenant": alpha.ref.id})  # not the tenant_id key
        assert "tenant_id" not in bare.meta and "tenant_id" not in wrong.meta

        run_worker(app, [queue_name])

        for job in (bare, wrong):
            job.refresh()
            assert job.get_status() == JobStatus.FAILED
            assert job in queue.failed_job_registry
            result = job.latest_result()
            assert result is not None and "carries no tenant id" in (result.exc_string or "")
        assert rollup_of(app, alpha.ref.id) is None and rollup_of(app, beta.ref.id) is None
