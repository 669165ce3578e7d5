"""Background jobs: RQ when REDIS_URL is set, in-process otherwise (design.md §5).

Every job carries its tenant id in ``job.meta`` and runs inside that tenant, in its own app
context and unit of work, as the actor ``job:<name>``. A job enqueued with no tenant and not
declared ``platform=True`` fails closed: `enqueue` raises `NoTenantBound`, and a job that
reaches the worker without the key goes to RQ's failed registry.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, Retry
from rq.job import Job

from repairqc.audit.services import Actor, acting_as
from repairqc.db import TenantRef, current_tenant, db, tenant_context, unit_of_work

logger = logging.getLogger(__name__)

QUEUES = ("default", "emails", "reports", "billing")


@dataclass(frozen=True)
class JobSpec:
    queue: str
    timeout: int
    retries: int
    platform: bool


class TenantUnavailable(RuntimeError):
    """The job's tenant no longer exists or is not active."""


def job(queue: str = "default", timeout: int = 180, retries: int = 0, platform: bool = False):
    """Declare a job. ``platform=True`` marks the few jobs that run outside any tenant."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func.job_spec = JobSpec(queue, timeout, retries, platform)  # type: ignore[attr-defined]
        return func

    return decorate


def redis_connection() -> Redis:
    app = current_app._get_current_object()
    conn = app.extensions.get("repairqc.redis")
    if conn is None:
        conn = app.extensions["repairqc.redis"] = Redis.from_url(app.config["REDIS_URL"])
    return conn


def queue_name(name: str) -> str:
    """The Redis name of queue `name`: RQ_QUEUE_PREFIX lets deployments (or test runs) share
    one Redis without taking each other's jobs."""
    return f"{current_app.config['RQ_QUEUE_PREFIX']}{name}"


def queue(name: str) -> Queue:
    return Queue(queue_name(name), connection=redis_connection(), job_class=TenantJob)


def enqueue(func: Callable[..., Any], *args: Any, tenant: TenantRef | None = None) -> str | None:
    """Queue `func(*args)` for the current (or given) tenant; args must be plain values (ids)."""
    spec: JobSpec = func.job_spec  # type: ignore[attr-defined]
    tenant_id = None if spec.platform else (tenant or current_tenant()).id
    app = current_app._get_current_object()
    if not app.config["REDIS_URL"]:
        run_job(app, func, tenant_id, args)
        return None
    rq_job = queue(spec.queue).enqueue(
        func,
        *args,
        meta={"tenant_id": tenant_id},
        job_timeout=spec.timeout,
        retry=Retry(max=spec.retries, interval=[10, 60, 300][: spec.retries]) if spec.retries else None,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
    )
    return rq_job.id


def load_tenant_ref(tenant_id: int) -> TenantRef:
    from repairqc.tenants.models import Tenant, TenantStatus

    tenant = db.control.execute(sa.select(Tenant).where(Tenant.id == tenant_id)).scalar_one_or_none()
    if tenant is None or tenant.status is not TenantStatus.ACTIVE:
        raise TenantUnavailable(f"tenant {tenant_id} is missing or not active")
    return tenant.ref


@contextlib.contextmanager
def job_context(app: Flask, tenant_id: int | None, name: str):
    """App context + tenant + actor + unit of work: what every job body runs inside."""
    with app.app_context():
        tenant_cm = (
            tenant_context(load_tenant_ref(tenant_id)) if tenant_id is not None else contextlib.nullcontext()
        )
        with tenant_cm, acting_as(Actor("system", None, f"job:{name}")), unit_of_work():
            yield


def run_job(app: Flask, func: Callable[..., Any], tenant_id: int | None, args: tuple[Any, ...]) -> Any:
    """The embedded default: run now, in-process, after the caller's commit."""
    try:
        with job_context(app, tenant_id, func.__name__):
            return func(*args)
    except Exception:
        # A worker would move the job to its failed registry; in-process we log and carry on,
        # so a failed e-mail never turns the user's committed request into an error page.
        logger.exception("job %s for tenant %s failed", func.__name__, tenant_id)
        return None


_worker_app: Flask | None = None


def set_worker_app(app: Flask) -> None:
    global _worker_app
    _worker_app = app


class TenantJob(Job):
    """Runs the job inside the tenant named in its meta; refuses jobs that name none."""

    def perform(self) -> Any:
        if "tenant_id" not in self.meta:
            raise TenantUnavailable(f"job {self.id} carries no tenant id; refusing to run it")
        app = current_app._get_current_object() if has_app_context() else _worker_app
        if app is None:
            raise RuntimeError("start workers with `flask --app repairqc worker`")
        with job_context(app, self.meta["tenant_id"], self.func_name.rsplit(".", 1)[-1]):
            return super().perform()
