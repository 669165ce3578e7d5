"""What every page for customers shares (no sign-in: the tracking page, the survey, the public
complaint form): served on a tenant's host only, never cached, indexed or sent on as a referrer
(the token in the URL is a key), and rate-limited per tenant and client address."""

from __future__ import annotations

from flask import Blueprint, abort, g, request

from repairqc.tenants import resolution


def tenant_key() -> str:
    """The tenant, not the raw Host header (one tenant has many spellings of it). Flask-Limiter
    may ask before `resolve_request` has run, hence the lookup."""
    tenant = g.get("tenant") or resolution.lookup(resolution.request_host())
    return str(tenant.ref.id) if tenant else resolution.request_host()


def client_key(purpose: str) -> str:
    """The rate-limit key of one client address at one tenant, for one kind of page."""
    return f"{purpose}|{tenant_key()}|{request.remote_addr}"


def _tenant_host_only() -> None:
    if g.get("tenant") is None:
        abort(404)


def _private(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def public_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint of customer pages: 404 off a tenant's host, private responses."""
    bp = Blueprint(name, import_name)
    bp.before_request(_tenant_host_only)
    bp.after_request(_private)
    return bp
