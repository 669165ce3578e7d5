"""Which tenant a request is for, from its Host header only (design.md §2).

No client-supplied tenant header is trusted. X-Forwarded-Host is honoured only when
TRUSTED_PROXY_COUNT says a proxy sets it (ProxyFix in create_app).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app, g, render_template, request

from repairqc.db import TenantRef, bind_tenant, db
from repairqc.tenants.models import Domain, Tenant, TenantStatus

CACHE_SECONDS = 5.0
#: Endpoints that answer on every host, tenant or not.
HOST_AGNOSTIC_ENDPOINTS = frozenset({"static", "main.healthz"})


@dataclass(frozen=True)
class ResolvedTenant:
    ref: TenantRef
    name: str
    status: TenantStatus
    status_reason: str | None
    default_locale: str


_cache: dict[str, tuple[float, ResolvedTenant | None]] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def request_host() -> str:
    return request.host.rsplit(":", 1)[0].lower().rstrip(".") if request.host else ""


def is_platform_host(host: str) -> bool:
    base = current_app.config["BASE_DOMAIN"]
    return host in {base, f"www.{base}"}


def lookup(host: str) -> ResolvedTenant | None:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(host)
        if hit and hit[0] > now:
            return hit[1]
    row = db.control.execute(sa.select(Tenant).join(Domain).where(Domain.host == host)).scalar_one_or_none()
    resolved = (
        ResolvedTenant(row.ref, row.name, row.status, row.status_reason, row.default_locale) if row else None
    )
    with _cache_lock:
        _cache[host] = (now + CACHE_SECONDS, resolved)
    return resolved


def resolve_request():
    """before_request: bind the tenant of this host, or answer with a clear page."""
    g.tenant = None
    g.is_platform = False
    if request.endpoint in HOST_AGNOSTIC_ENDPOINTS:
        return None
    host = request_host()
    if is_platform_host(host):
        g.is_platform = True
        return None
    tenant = lookup(host)
    if tenant is None or tenant.status in {TenantStatus.CANCELLED, TenantStatus.FAILED}:
        return render_template("errors/unknown_tenant.html", host=host), 404
    if tenant.status is TenantStatus.SUSPENDED:
        return render_template("errors/suspended.html", tenant=tenant), 403
    if tenant.status is TenantStatus.PROVISIONING:
        return render_template("errors/provisioning.html", tenant=tenant), 503
    g.tenant = tenant
    g.tenant_token = bind_tenant(tenant.ref)
    return None


def release_tenant(exc: BaseException | None = None) -> None:
    """teardown_request: unbind, so the next request on this thread starts clean."""
    token = g.pop("tenant_token", None)
    if token is not None:
        bind_tenant(None, token)
