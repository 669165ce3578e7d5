"""Sign-in hardening: a password reset ends other sessions, rate limits cannot be dodged by
spelling the host differently, and sign-ins are audited as the user who signed in."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from repairqc.accounts import services
from repairqc.accounts.models import StaffUser
from repairqc.audit.models import AuditLog
from repairqc.db import db
from repairqc.extensions import limiter
from tests.conftest import PASSWORD, in_tenant, sign_in


def url(tenant, host: str | None = None) -> str:
    return f"http://{host or tenant.host}"


def test_a_password_reset_ends_existing_sessions_and_remember_cookies(app, alpha):
    old_browser = app.test_client()
    response = old_browser.post(
        "/login",
        base_url=url(alpha),
        data={"email": alpha.users["owner"], "password": PASSWORD, "remember": "y"},
    )
    assert response.status_code == 302
    assert old_browser.get("/admin/customers/", base_url=url(alpha)).status_code == 200
    with in_tenant(app, alpha):
        owner = db.session.execute(
            sa.select(StaffUser).where(StaffUser.email == alpha.users["owner"])
        ).scalar_one()
        services.reset_password(owner, "a-brand-new-password")
        db.session.commit()
    assert old_browser.get("/admin/customers/", base_url=url(alpha)).status_code == 302
    old_browser.delete_cookie("session", domain=alpha.host)  # only the remember-me cookie is left
    assert old_browser.get("/admin/customers/", base_url=url(alpha)).status_code == 302
    assert sign_in(app.test_client(), alpha, "owner", "a-brand-new-password").status_code == 302


@pytest.fixture(autouse=True)
def fresh_limits():
    """Counters are process-wide; start each test from zero."""
    limiter.reset()


def test_login_limit_holds_across_spellings_of_the_host(app, client, alpha, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3 per minute")
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    hosts = [alpha.host, f"{alpha.host}.", f"{alpha.host}:81", alpha.host.upper(), f"{alpha.host}:82"]
    codes = [
        client.post(
            "/login",
            base_url=url(alpha, host),
            environ_base={"REMOTE_ADDR": address},
            data={"email": alpha.users["manager"], "password": "wrong-password"},
        ).status_code
        for host in hosts
    ]
    assert codes[:3] == [401, 401, 401]
    assert codes[3:] == [429, 429]


def test_login_limit_per_account_holds_across_client_addresses(app, client, alpha, monkeypatch):
    monkeypatch.setitem(app.config, "ACCOUNT_LOGIN_RATE_LIMIT", "3 per minute")
    codes = [
        client.post(
            "/login",
            base_url=url(alpha),
            environ_base={"REMOTE_ADDR": f"10.9.{n}.{uuid.uuid4().int % 250}"},
            data={"email": alpha.users["tech"], "password": "wrong-password"},
        ).status_code
        for n in range(5)
    ]
    assert codes == [401, 401, 401, 429, 429]


def test_sign_in_is_audited_as_the_user(app, client, alpha):
    assert sign_in(client, alpha, "auditor").status_code == 302
    with in_tenant(app, alpha):
        entry = (
            db.session.execute(
                sa.select(AuditLog).where(AuditLog.table_name == "staff_users").order_by(AuditLog.id.desc())
            )
            .scalars()
            .first()
        )
        assert entry.actor_name == alpha.users["auditor"] and entry.actor_kind == "staff"
        assert "last_login_at" in entry.after
