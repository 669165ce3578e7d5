"""CSRF, cookie flags, secrets at rest, open redirects, tenant resolution headers and /healthz."""

from __future__ import annotations

import uuid
from urllib.parse import urljoin, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from redis import Redis

from repairqc.accounts.models import StaffUser
from repairqc.config import load_config
from repairqc.crypto import _fernet
from repairqc.db import db
from repairqc.repairs.models import Customer, Device
from tests.conftest import PASSWORD, csrf_token_from, in_tenant, sign_in

CSRF_MESSAGE = "The form expired or was sent from another page. Go back, reload it and try again."


def url(tenant) -> str:
    return f"http://{tenant.host}"


def set_cookies(response) -> dict[str, str]:
    """Set-Cookie headers of a response by cookie name."""
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def staff(email: str) -> StaffUser:
    return db.session.execute(sa.select(StaffUser).where(StaffUser.email == email)).scalar_one()


def new_customer(tenant, store: str = "S1") -> int:
    customer = Customer(store_id=tenant.store_ids[store], full_name=f"Deletable {uuid.uuid4().hex[:6]}")
    db.session.add(customer)
    db.session.commit()
    return customer.id


def customer_exists(app, tenant, customer_id: int) -> bool:
    with in_tenant(app, tenant):
        return db.session.get(Customer, customer_id) is not None


# --- CSRF ------------------------------------------------------------------------------------------


@pytest.fixture
def csrf_on(app, monkeypatch) -> Flask:
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    return app


def sign_in_with_token(client, tenant, user: str):
    token = csrf_token_from(client.get("/login", base_url=url(tenant)).text)
    return client.post(
        "/login",
        base_url=url(tenant),
        data={"email": tenant.users[user], "password": PASSWORD, "csrf_token": token},
    )


def assert_csrf_refused(response) -> None:
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.text


def test_sign_in_without_a_csrf_token_is_refused(csrf_on, client, alpha):
    response = client.post(
        "/login", base_url=url(alpha), data={"email": alpha.users["owner"], "password": PASSWORD}
    )
    assert_csrf_refused(response)
    assert client.get("/admin/", base_url=url(alpha)).status_code == 302  # not signed in

    bad = client.post(
        "/login",
        base_url=url(alpha),
        data={"email": alpha.users["owner"], "password": PASSWORD, "csrf_token": "forged"},
    )
    assert_csrf_refused(bad)

    assert sign_in_with_token(client, alpha, "owner").status_code == 302  # with the token it works


def test_admin_delete_and_action_without_a_csrf_token_are_refused(csrf_on, client, alpha):
    with in_tenant(csrf_on, alpha):
        first, second = new_customer(alpha), new_customer(alpha)
    assert sign_in_with_token(client, alpha, "owner").status_code == 302

    assert_csrf_refused(client.post("/admin/customers/delete/", base_url=url(alpha), data={"id": first}))
    assert_csrf_refused(
        client.post(
            "/admin/customers/action/",
            base_url=url(alpha),
            data={"action": "delete", "rowid": [first, second]},
        )
    )
    assert customer_exists(csrf_on, alpha, first) and customer_exists(csrf_on, alpha, second)

    # the same requests with the page's token go through
    token = csrf_token_from(client.get("/admin/customers/", base_url=url(alpha)).text)
    assert (
        client.post(
            "/admin/customers/delete/", base_url=url(alpha), data={"id": first, "csrf_token": token}
        ).status_code
        == 302
    )
    assert (
        client.post(
            "/admin/customers/action/",
            base_url=url(alpha),
            data={"action": "delete", "rowid": second, "csrf_token": token},
        ).status_code
        == 302
    )
    assert not customer_exists(csrf_on, alpha, first)
    assert not customer_exists(csrf_on, alpha, second)


def test_admin_create_and_sign_out_without_a_csrf_token_are_refused(csrf_on, client, alpha):
    assert sign_in_with_token(client, alpha, "owner").status_code == 302
    name = f"CSRF {uuid.uuid4().hex[:6]}"
    assert_csrf_refused(
        client.post(
            "/admin/customers/new/",
            base_url=url(alpha),
            data={"store": alpha.store_ids["S1"], "full_name": name, "preferred_channel": "phone"},
        )
    )
    with in_tenant(csrf_on, alpha):
        assert db.session.execute(sa.select(Customer).where(Customer.full_name == name)).first() is None
    assert_csrf_refused(client.post("/logout", base_url=url(alpha)))
    assert client.get("/admin/", base_url=url(alpha)).status_code == 200  # still signed in


# --- cookies ---------------------------------------------------------------------------------------


def flags(header: str) -> dict[str, str]:
    """Attributes of one Set-Cookie header, lower-cased names -> values ('' for bare flags)."""
    attributes = {}
    for part in header.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        attributes[name.lower()] = value
    return attributes


def test_session_cookie_is_http_only_and_same_site_lax(client, alpha):
    response = client.post(
        "/login",
        base_url=url(alpha),
        data={"email": alpha.users["owner"], "password": PASSWORD, "remember": "y"},
    )
    assert response.status_code == 302
    cookies = set_cookies(response)
    session = flags(cookies["session"])
    assert "httponly" in session
    assert session.get("samesite") == "Lax"
    assert "secure" not in session  # SESSION_COOKIE_SECURE is off in the test app (plain http)
    remember = flags(cookies["remember_token"])
    assert "httponly" in remember


def test_cookies_are_secure_when_configured(app, alpha, monkeypatch):
    # Flask and Flask-Login read these per response. (A second app from make_app is avoided on purpose:
    # Database.init_app rebinds the process-wide control-plane session to the newest app.)
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    monkeypatch.setitem(app.config, "REMEMBER_COOKIE_SECURE", True)
    client = app.test_client()
    response = client.post(
        "/login",
        base_url=f"https://{alpha.host}",
        data={"email": alpha.users["owner"], "password": PASSWORD, "remember": "y"},
    )
    assert response.status_code == 302
    cookies = set_cookies(response)
    for name in ("session", "remember_token"):
        attributes = flags(cookies[name])
        assert "secure" in attributes, name
        assert "httponly" in attributes, name
    assert flags(cookies["session"]).get("samesite") == "Lax"


def test_cookie_settings_default_to_secure(monkeypatch, tmp_path):
    from repairqc.config import DEFAULTS, load_config

    for key in DEFAULTS:
        monkeypatch.delenv(key, raising=False)
    production = load_config(str(tmp_path), {"SECRET_KEY": "x" * 32, "DATABASE_URL": "sqlite://"})
    assert production["SESSION_COOKIE_SECURE"] is True
    assert production["REMEMBER_COOKIE_SECURE"] is True
    assert production["SESSION_COOKIE_HTTPONLY"] is True and production["REMEMBER_COOKIE_HTTPONLY"] is True
    assert production["SESSION_COOKIE_SAMESITE"] == "Lax"
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "false")  # plain-http development, from the environment
    development = load_config(str(tmp_path), {"SECRET_KEY": "x" * 32, "DATABASE_URL": "sqlite://"})
    assert development["SESSION_COOKIE_SECURE"] is False and development["REMEMBER_COOKIE_SECURE"] is False


# --- secrets at rest ---------------------------------------------------------------------------


def test_passwords_are_stored_as_salted_hashes_scrypt_by_default(app, alpha, monkeypatch):
    # The suite hashes with a cheap method (tests/conftest.make_app); the product's is scrypt.
    assert load_config(app.instance_path, {"SECRET_KEY": "x"})["PASSWORD_HASH_METHOD"] == "scrypt"
    method = app.config["PASSWORD_HASH_METHOD"].split(":")[0]
    with in_tenant(app, alpha):
        table = StaffUser.__table__
        raw = db.session.connection().execute(sa.select(table.c.email, table.c.password_hash)).all()
        assert len(raw) == len(alpha.users)
        for email, stored in raw:
            assert stored.startswith(f"{method}:"), email
            assert PASSWORD not in stored
        for row in db.session.connection().execute(sa.select(table)).mappings():
            assert PASSWORD not in repr(dict(row))
        user = staff(alpha.users["owner"])
        assert user.check_password(PASSWORD) and not user.check_password(PASSWORD.upper())
        # two users with the same password get different hashes (salted)
        assert len({stored for _email, stored in raw}) == len(raw)
        monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", "scrypt")
        user.set_password("another secret 42")
        assert user.password_hash.startswith("scrypt:") and user.check_password("another secret 42")


def test_the_staff_edit_form_does_not_reveal_password_hashes(app, client, alpha):
    assert sign_in(client, alpha, "owner").status_code == 302
    with in_tenant(app, alpha):
        user = staff(alpha.users["manager"])
        user_id, stored = user.id, user.password_hash
    for page in ("edit", "details"):
        response = client.get(f"/admin/staff_users/{page}/?id={user_id}", base_url=url(alpha))
        assert response.status_code == 200
        assert stored not in response.text, page
        assert stored.split("$")[-1] not in response.text, page
    listing = client.get("/admin/staff_users/", base_url=url(alpha)).text
    assert "scrypt:" not in listing


def raw_passcode(device_id: int) -> str | None:
    """The stored passcode column, read with Core through the tenant's connection, not decrypted."""
    column = Device.__table__.c.passcode
    stmt = sa.select(sa.type_coerce(column, sa.Text)).where(Device.__table__.c.id == device_id)
    return db.session.connection().execute(stmt).scalar_one()


def test_device_passcodes_are_encrypted_at_rest(app, alpha):
    plain = f"2580-{uuid.uuid4().hex[:6]}"
    device_id = alpha.ids["devices"][0]
    with in_tenant(app, alpha):
        db.session.get(Device, device_id).passcode = plain
        db.session.commit()
    with in_tenant(app, alpha):
        stored = raw_passcode(device_id)
        assert stored and stored != plain and plain not in stored
        assert _fernet().decrypt(stored.encode()).decode() == plain  # Fernet, under the app's key
        assert db.session.get(Device, device_id).passcode == plain  # the ORM gives the plain value

    with in_tenant(app, alpha):  # the same value twice is stored differently (random IV)
        db.session.get(Device, alpha.ids["devices"][1]).passcode = plain
        db.session.commit()
        assert raw_passcode(alpha.ids["devices"][1]) != stored


def test_passcodes_stay_out_of_admin_lists(app, client, alpha):
    plain = f"9999-{uuid.uuid4().hex[:6]}"
    device_id = alpha.ids["devices"][0]
    with in_tenant(app, alpha):
        db.session.get(Device, device_id).passcode = plain
        db.session.commit()
    assert sign_in(client, alpha, "owner").status_code == 302
    for path in ("/admin/devices/", f"/admin/devices/details/?id={device_id}", "/admin/audit_log/"):
        response = client.get(path, base_url=url(alpha))
        assert response.status_code == 200
        assert plain not in response.text, path


# --- redirects -------------------------------------------------------------------------------------


def browser_target(tenant, location: str):
    """Where a browser goes for this Location header (browsers read "\\" as "/" in http URLs)."""
    return urlsplit(urljoin(f"http://{tenant.host}/login", location.replace("\\", "/")))


def assert_stays_on(tenant, location: str) -> None:
    target = browser_target(tenant, location)
    assert target.scheme == "http" and target.netloc == tenant.host, location


#: Targets that leave the site: ignored, the user lands on the admin home.
EVIL_TARGETS = [
    "https://evil.example/",
    "//evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "https://evil.example/@localhost/",
]
#: Targets that browsers could read as another host unless the app escapes them.
TRICKY_TARGETS = ["/\\evil.example/", "/\\/evil.example/", "/%2F%2Fevil.example/"]


@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_sign_in_refuses_open_redirects(client, alpha, target):
    response = client.post(
        "/login",
        base_url=url(alpha),
        query_string={"next": target},
        data={"email": alpha.users["owner"], "password": PASSWORD},
    )
    assert response.status_code == 302
    assert_stays_on(alpha, response.location)
    assert browser_target(alpha, response.location).path == "/admin/"


@pytest.mark.parametrize("target", TRICKY_TARGETS)
def test_sign_in_redirect_never_leaves_the_tenant(client, alpha, target):
    response = client.post(
        "/login",
        base_url=url(alpha),
        query_string={"next": target},
        data={"email": alpha.users["owner"], "password": PASSWORD},
    )
    assert response.status_code == 302
    assert_stays_on(alpha, response.location)


def test_sign_in_follows_a_local_next(client, alpha):
    response = client.post(
        "/login",
        base_url=url(alpha),
        query_string={"next": "/admin/customers/?page=0"},
        data={"email": alpha.users["owner"], "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.location.endswith("/admin/customers/?page=0")


@pytest.mark.parametrize("target", EVIL_TARGETS + TRICKY_TARGETS)
def test_language_switch_refuses_open_redirects(client, alpha, target):
    response = client.post("/language", base_url=url(alpha), data={"locale": "en", "next": target})
    assert response.status_code == 302
    assert_stays_on(alpha, response.location)


# --- tenant resolution ----------------------------------------------------------------------------


SPOOF_HEADERS = ("X-Tenant", "X-Tenant-Id", "X-Forwarded-Host", "X-Original-Host", "Forwarded")


def spoof(tenant) -> dict[str, str]:
    return {
        "X-Tenant": tenant.ref.slug,
        "X-Tenant-Id": str(tenant.ref.id),
        "X-Forwarded-Host": tenant.host,
        "X-Original-Host": tenant.host,
        "Forwarded": f"host={tenant.host}",
    }


def test_tenant_headers_from_the_client_are_ignored(app, client, alpha, beta):
    assert app.config["TRUSTED_PROXY_COUNT"] == 0
    assert sign_in(client, alpha, "owner").status_code == 302
    page = client.get("/admin/customers/", base_url=url(alpha), headers=spoof(beta))
    assert page.status_code == 200
    assert alpha.sentinel in page.text
    assert beta.sentinel not in page.text

    login = client.get("/login", base_url=url(beta), headers=spoof(alpha))
    assert "Sign in to Tenant B" in login.text and "Tenant A" not in login.text


def test_an_unknown_host_stays_unknown_whatever_the_headers(client, alpha):
    response = client.get(
        "/login", base_url=f"http://nobody-{uuid.uuid4().hex[:6]}.localhost", headers=spoof(alpha)
    )
    assert response.status_code == 404
    assert "Tenant A" not in response.text
    sign = client.post(
        "/login",
        base_url=f"http://nobody-{uuid.uuid4().hex[:6]}.localhost",
        headers=spoof(alpha),
        data={"email": alpha.users["owner"], "password": PASSWORD},
    )
    assert sign.status_code == 404


def test_platform_host_does_not_become_a_tenant_through_headers(client, alpha):
    response = client.post(
        "/login",
        base_url="http://localhost",
        headers=spoof(alpha),
        data={"email": alpha.users["owner"], "password": PASSWORD},
    )
    assert response.status_code == 404
    assert client.get("/admin/customers/", base_url="http://localhost", headers=spoof(alpha)).status_code in (
        302,
        403,
        404,
    )


# --- health --------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "tenant"])
def test_healthz_reports_the_database(client, alpha, host):
    base = url(alpha) if host == "tenant" else "http://localhost"
    response = client.get("/healthz", base_url=base)
    assert response.status_code == 200
    assert response.is_json
    body = response.get_json()
    assert body["database"] == "ok"
    assert body["status"] == "ok"


def test_healthz_answers_on_an_unknown_host(client):
    response = client.get("/healthz", base_url="http://unknown-host.example")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"


def test_healthz_reports_an_unreachable_redis(app, client, monkeypatch):
    unreachable = "redis://127.0.0.1:1/0"
    monkeypatch.setitem(app.config, "REDIS_URL", unreachable)
    monkeypatch.setitem(
        app.extensions, "repairqc.redis", Redis.from_url(unreachable, socket_connect_timeout=1)
    )
    response = client.get("/healthz", base_url="http://localhost")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"] == "ok"
    assert body["redis"].startswith("error")
    assert body["status"] == "error"
