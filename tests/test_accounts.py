"""Staff sign-in, sign-out, password reset over real SMTP, rate limits, language, operators."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from repairqc.accounts import services as account_services
from repairqc.accounts.models import StaffUser
from repairqc.console.models import Operator
from repairqc.console.services import create_operator
from repairqc.db import db, unit_of_work
from tests.conftest import PASSWORD, in_tenant, sign_in

WRONG_CREDENTIALS = "The e-mail or password is wrong."
RESET_REQUESTED = "If an account uses that e-mail, a link to choose a new password is on its way."
PLATFORM = "http://localhost"


def url(tenant) -> str:
    return f"http://{tenant.host}"


def alert_texts(html: str) -> list[str]:
    """The flashed messages of a page, as plain text."""
    found = re.findall(r'role="alert"[^>]*>(.*?)</div>', html, re.S)
    return [re.sub(r"<[^>]+>", "", m).strip() for m in found]


def field_errors(html: str) -> list[str]:
    return [m.strip() for m in re.findall(r'class="invalid-feedback">(.*?)</div>', html, re.S)]


def error_message(html: str) -> str:
    match = re.search(r'data-testid="error">.*?<p[^>]*>(.*?)</p>', html, re.S)
    assert match, "not an error page"
    return match.group(1).strip()


def staff(email: str) -> StaffUser:
    """A staff user of the tenant bound by `in_tenant`, freshly read."""
    user = db.session.execute(sa.select(StaffUser).where(StaffUser.email == email)).scalar_one()
    db.session.refresh(user)
    return user


def is_signed_in(client, tenant) -> bool:
    response = client.get("/admin/", base_url=url(tenant))
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and "/login" in response.location, response.status_code
    return False


def copy_session_cookie(client, from_host: str, to_host: str) -> None:
    cookie = client.get_cookie("session", domain=from_host)
    assert cookie is not None, f"no session cookie for {from_host}"
    client.set_cookie("session", cookie.value, domain=to_host)


# --- sign-in and sign-out -------------------------------------------------------------------------


def test_sign_in_lands_on_admin(client, alpha):
    response = sign_in(client, alpha, "manager")
    assert response.status_code == 302
    assert response.location.endswith("/admin/")
    home = client.get("/admin/", base_url=url(alpha))
    assert home.status_code == 200
    assert f"Manager {alpha.store_sentinel('S1')}" in home.text


def test_sign_in_records_last_login(client, app, alpha):
    assert sign_in(client, alpha, "tech").status_code == 302
    with in_tenant(app, alpha):
        assert staff(alpha.users["tech"]).last_login_at is not None


def test_wrong_password_and_unknown_email_look_the_same(client, alpha):
    wrong_password = sign_in(client, alpha, "manager", password="not-the-password")
    unknown_email = sign_in(client, alpha, f"nobody-{uuid.uuid4().hex[:6]}@example.com")
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert alert_texts(wrong_password.text) == alert_texts(unknown_email.text) == [WRONG_CREDENTIALS]
    assert not is_signed_in(client, alpha)


def test_inactive_user_cannot_sign_in(client, app, alpha):
    with in_tenant(app, alpha):
        staff(alpha.users["frontdesk"]).is_active = False
        db.session.commit()
    response = sign_in(client, alpha, "frontdesk")
    assert response.status_code == 401
    assert alert_texts(response.text) == [WRONG_CREDENTIALS]
    assert not is_signed_in(client, alpha)


def test_deactivated_user_loses_an_open_session(client, app, alpha):
    assert sign_in(client, alpha, "frontdesk").status_code == 302
    assert is_signed_in(client, alpha)
    with in_tenant(app, alpha):
        staff(alpha.users["frontdesk"]).is_active = False
        db.session.commit()
    assert not is_signed_in(client, alpha)


def test_alpha_session_cookie_is_not_signed_in_on_beta(client, alpha, beta):
    assert sign_in(client, alpha, "owner").status_code == 302
    assert is_signed_in(client, alpha)
    copy_session_cookie(client, alpha.host, beta.host)
    # beta has a staff user with the same id, so only the tenant check stands between them
    assert not is_signed_in(client, beta)
    listing = client.get("/admin/customers/", base_url=url(beta))
    assert listing.status_code == 302
    assert beta.sentinel not in listing.text


def test_alpha_staff_cannot_use_their_credentials_on_beta(client, alpha, beta):
    response = sign_in(client, beta, alpha.users["owner"])
    assert response.status_code == 401
    assert alert_texts(response.text) == [WRONG_CREDENTIALS]
    assert not is_signed_in(client, beta)


def sign_in_remembered(client, tenant, user: str):
    return client.post(
        "/login",
        base_url=url(tenant),
        data={"email": tenant.users[user], "password": PASSWORD, "remember": "y"},
    )


def test_keep_me_signed_in_survives_the_end_of_the_browser_session(client, alpha):
    assert sign_in_remembered(client, alpha, "owner").status_code == 302
    assert client.get_cookie("remember_token", domain=alpha.host) is not None
    client.delete_cookie("session", domain=alpha.host)  # the browser was closed
    assert is_signed_in(client, alpha)


def test_a_remember_cookie_of_alpha_signs_nobody_in_on_beta(app, alpha, beta):
    browser = app.test_client()
    assert sign_in_remembered(browser, alpha, "owner").status_code == 302
    token = browser.get_cookie("remember_token", domain=alpha.host)
    assert token is not None
    other = app.test_client()  # beta's owner has the same id as alpha's
    other.set_cookie("remember_token", token.value, domain=beta.host)
    assert not is_signed_in(other, beta)
    listing = other.get("/admin/customers/", base_url=url(beta))
    assert beta.sentinel not in listing.text


def test_logout(client, alpha):
    assert sign_in(client, alpha, "manager").status_code == 302
    assert client.get("/logout", base_url=url(alpha)).status_code == 405  # sign-out is a POST
    response = client.post("/logout", base_url=url(alpha))
    assert response.status_code == 302
    assert response.location.endswith("/login")
    assert "You are signed out." in alert_texts(client.get("/login", base_url=url(alpha)).text)
    assert not is_signed_in(client, alpha)


# --- password reset over a real SMTP server ---------------------------------------------------


def request_reset(client, tenant, email: str):
    return client.post("/password/forgot", base_url=url(tenant), data={"email": email}, follow_redirects=True)


def reset_path_from(message: EmailMessage, tenant) -> str:
    body = message.get_content()
    match = re.search(r"(https?://\S+/password/reset/\S+)", body)
    assert match, f"no reset link in the mail:\n{body}"
    link = match.group(1)
    assert link.startswith(f"http://{tenant.host}/password/reset/"), link
    return link.removeprefix(f"http://{tenant.host}")


def choose_password(client, tenant, path: str, password: str, confirm: str | None = None):
    return client.post(
        path,
        base_url=url(tenant),
        data={"password": password, "confirm": password if confirm is None else confirm},
    )


def token_for(app, tenant, key: str) -> str:
    with in_tenant(app, tenant):
        return account_services.password_reset_token(staff(tenant.users[key]))


def password_hash_of(app, tenant, key: str) -> str:
    with in_tenant(app, tenant):
        return staff(tenant.users[key]).password_hash


def test_password_reset_end_to_end(client, app, alpha, mailbox):
    email = alpha.users["tech"]
    page = request_reset(client, alpha, email)
    assert page.status_code == 200
    assert RESET_REQUESTED in alert_texts(page.text)

    assert len(mailbox.messages) == 1
    mail = mailbox.messages[0]
    assert mail["To"] == email
    assert mail["Subject"] == "Choose a new RepairQC password"
    path = reset_path_from(mail, alpha)

    form = client.get(path, base_url=url(alpha))
    assert form.status_code == 200
    assert email in form.text

    new_password = "a-brand-new-password-42"
    done = choose_password(client, alpha, path, new_password)
    assert done.status_code == 302
    assert done.location.endswith("/login")

    assert sign_in(client, alpha, "tech", password=PASSWORD).status_code == 401
    assert sign_in(client, alpha, "tech", password=new_password).status_code == 302
    assert is_signed_in(client, alpha)

    # the link works once
    client.post("/logout", base_url=url(alpha))
    again = client.get(path, base_url=url(alpha))
    assert again.status_code == 400
    assert "already been used" in error_message(again.text)
    reuse = choose_password(client, alpha, path, "yet-another-password-1")
    assert reuse.status_code == 400
    assert sign_in(client, alpha, "tech", password=new_password).status_code == 302


def test_reset_for_unknown_email_sends_nothing_and_says_the_same(client, alpha, mailbox):
    unknown = request_reset(client, alpha, f"nobody-{uuid.uuid4().hex[:6]}@example.com")
    assert unknown.status_code == 200
    assert alert_texts(unknown.text) == [RESET_REQUESTED]
    assert mailbox.messages == []

    known = request_reset(client, alpha, alpha.users["frontdesk"])
    assert alert_texts(known.text) == alert_texts(unknown.text)
    assert len(mailbox.messages) == 1  # the server does deliver; the unknown address got nothing


def test_reset_for_an_inactive_user_sends_nothing(client, app, alpha, mailbox):
    with in_tenant(app, alpha):
        staff(alpha.users["trainer"]).is_active = False
        db.session.commit()
    page = request_reset(client, alpha, alpha.users["trainer"])
    assert alert_texts(page.text) == [RESET_REQUESTED]
    assert mailbox.messages == []


def test_reset_for_another_tenants_staff_sends_nothing(client, alpha, beta, mailbox):
    page = request_reset(client, beta, alpha.users["owner"])
    assert alert_texts(page.text) == [RESET_REQUESTED]
    assert mailbox.messages == []


def test_invalid_reset_token_is_a_clear_400(client, alpha):
    response = client.get("/password/reset/not-a-real-token", base_url=url(alpha))
    assert response.status_code == 400
    assert error_message(response.text) == "This password-reset link is not valid. Ask for a new one."


def test_expired_reset_token_is_a_clear_400(client, app, alpha, monkeypatch):
    before = password_hash_of(app, alpha, "manager")
    path = f"/password/reset/{token_for(app, alpha, 'manager')}"
    assert client.get(path, base_url=url(alpha)).status_code == 200  # valid while fresh

    monkeypatch.setitem(app.config, "PASSWORD_RESET_MAX_AGE", -1)
    response = client.get(path, base_url=url(alpha))
    assert response.status_code == 400
    assert error_message(response.text) == "This password-reset link has expired. Ask for a new one."
    assert choose_password(client, alpha, path, "an-expired-attempt-1").status_code == 400
    assert password_hash_of(app, alpha, "manager") == before


def test_reset_token_of_alpha_is_not_valid_on_beta(client, app, alpha, beta):
    path = f"/password/reset/{token_for(app, alpha, 'owner')}"
    response = client.get(path, base_url=url(beta))
    assert response.status_code == 400
    assert choose_password(client, beta, path, "cross-tenant-password").status_code == 400
    assert sign_in(client, beta, "owner").status_code == 302  # beta's owner keeps the password


def test_too_short_new_password_is_refused(client, app, alpha):
    before = password_hash_of(app, alpha, "manager")
    path = f"/password/reset/{token_for(app, alpha, 'manager')}"

    short = choose_password(client, alpha, path, "short")
    assert short.status_code == 400
    assert any("10" in error for error in field_errors(short.text)), field_errors(short.text)
    differ = choose_password(client, alpha, path, "long-enough-password", confirm="something-else-1")
    assert differ.status_code == 400
    assert field_errors(differ.text) == ["The two passwords differ."]

    assert password_hash_of(app, alpha, "manager") == before
    assert sign_in(client, alpha, "manager").status_code == 302
    assert client.get(path, base_url=url(alpha)).status_code == 200  # the link is still unused


def test_reset_password_service_refuses_short_passwords(app, alpha):
    from repairqc.errors import DomainError

    with in_tenant(app, alpha):
        user = staff(alpha.users["manager"])
        before = user.password_hash
        with pytest.raises(DomainError, match="at least 10 characters"):
            account_services.reset_password(user, "short")
        assert user.password_hash == before


# --- rate limiting --------------------------------------------------------------------------------


def unique_address() -> str:
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2] or 1}"


def test_repeated_failed_sign_ins_are_rate_limited(client, app, alpha, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3 per minute")
    address = unique_address()

    def attempt(password: str, remote: str = address):
        return client.post(
            "/login",
            base_url=url(alpha),
            environ_base={"REMOTE_ADDR": remote},
            data={"email": alpha.users["manager"], "password": password},
        )

    assert [attempt("wrong-password").status_code for _ in range(3)] == [401, 401, 401]
    blocked = attempt("wrong-password")
    assert blocked.status_code == 429
    assert error_message(blocked.text) == "Too many attempts. Wait a minute and try again."
    # even the right password waits now
    assert attempt(PASSWORD).status_code == 429
    # another address is not affected
    assert attempt(PASSWORD, remote=unique_address()).status_code == 302


def test_successful_sign_ins_do_not_use_up_the_limit(client, app, alpha, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "2 per minute")
    address = unique_address()
    for _ in range(4):
        response = client.post(
            "/login",
            base_url=url(alpha),
            environ_base={"REMOTE_ADDR": address},
            data={"email": alpha.users["manager"], "password": PASSWORD},
        )
        assert response.status_code == 302


# --- language -------------------------------------------------------------------------------------


ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def html_lang(response) -> str:
    match = re.search(r'<html lang="([^"]+)"', response.text)
    assert match, "no lang attribute on <html>"
    return match.group(1)


def test_browser_language_selects_chinese(client, alpha):
    assert html_lang(client.get("/login", base_url=url(alpha), headers=ZH)) == "zh-Hans"
    assert html_lang(client.get("/login", base_url=url(alpha), headers={"Accept-Language": "en-GB"})) == "en"
    assert html_lang(client.get("/login", base_url=url(alpha))) == "en"


def test_language_choice_overrides_the_browser(client, alpha):
    response = client.post(
        "/language", base_url=url(alpha), headers=ZH, data={"locale": "en", "next": "/login"}
    )
    assert response.status_code == 302
    assert response.location.endswith("/login")
    assert html_lang(client.get("/login", base_url=url(alpha), headers=ZH)) == "en"


def test_language_choice_is_stored_on_the_signed_in_user(app, alpha):
    browser = app.test_client()
    assert sign_in(browser, alpha, "qa").status_code == 302
    browser.post("/language", base_url=url(alpha), data={"locale": "zh-CN"})
    with in_tenant(app, alpha):
        assert staff(alpha.users["qa"]).locale == "zh_Hans_CN"

    # another browser, English by default, follows the account's choice once signed in
    other = app.test_client()
    assert html_lang(other.get("/login", base_url=url(alpha))) == "en"
    assert sign_in(other, alpha, "qa").status_code == 302
    assert html_lang(other.get("/login", base_url=url(alpha))) == "zh-Hans"


def test_unsupported_language_changes_nothing(client, app, alpha):
    assert sign_in(client, alpha, "qa").status_code == 302
    client.post("/language", base_url=url(alpha), data={"locale": "klingon"})
    with in_tenant(app, alpha):
        assert staff(alpha.users["qa"]).locale is None


# --- platform operators ------------------------------------------------------------------------


@contextlib.contextmanager
def temporary_operator(app) -> Iterator[tuple[str, str]]:
    """A committed operator with a unique e-mail, removed afterwards (control plane is not rolled back)."""
    email = f"op-{uuid.uuid4().hex[:8]}@platform.example"
    password = "operator-password-123"
    with app.app_context(), unit_of_work():
        operator_id = create_operator(email, "Test Operator", password).id
    try:
        yield email, password
    finally:
        with app.app_context(), unit_of_work():
            operator = db.control.get(Operator, operator_id)
            if operator is not None:
                db.control.delete(operator)


@pytest.fixture
def operator(app) -> Iterator[tuple[str, str]]:
    with temporary_operator(app) as credentials:
        yield credentials


def operator_sign_in(client, email: str, password: str):
    return client.post("/console/login", base_url=PLATFORM, data={"email": email, "password": password})


def test_operator_signs_in_and_sees_every_tenant(client, alpha, beta, operator):
    email, password = operator
    assert client.get("/console/", base_url=PLATFORM).status_code == 302  # not yet signed in
    response = operator_sign_in(client, email, password)
    assert response.status_code == 302
    assert response.location.endswith("/console/")
    page = client.get("/console/", base_url=PLATFORM)
    assert page.status_code == 200
    assert alpha.ref.slug in page.text and beta.ref.slug in page.text
    assert email in page.text
    # operators see tenants, never tenant data
    assert alpha.sentinel not in page.text and beta.sentinel not in page.text


def test_operator_wrong_password_is_refused(client, operator):
    email, _ = operator
    response = operator_sign_in(client, email, "not-the-operator-password")
    assert response.status_code == 401
    assert client.get("/console/", base_url=PLATFORM).status_code == 302


def test_operator_cookie_gives_nothing_on_a_tenant_host(client, alpha, operator):
    assert operator_sign_in(client, *operator).status_code == 302
    copy_session_cookie(client, "localhost", alpha.host)
    for path in ("/admin/", "/admin/customers/", "/admin/staff_users/"):
        response = client.get(path, base_url=url(alpha))
        assert response.status_code in (302, 403), path
        if response.status_code == 302:
            assert "/login" in response.location
        assert alpha.sentinel not in response.text
    # the console is not served on a tenant host
    assert client.get("/console/", base_url=url(alpha)).status_code == 404


def test_staff_cannot_open_the_console(client, alpha):
    assert sign_in(client, alpha, "owner").status_code == 302
    assert client.get("/console/", base_url=url(alpha)).status_code == 404
    assert client.get("/console/login", base_url=url(alpha)).status_code == 404

    copy_session_cookie(client, alpha.host, "localhost")
    response = client.get("/console/", base_url=PLATFORM)
    assert response.status_code == 302
    assert "/console/login" in response.location


def test_staff_credentials_do_not_open_the_console(client, alpha):
    response = operator_sign_in(client, alpha.users["owner"], PASSWORD)
    assert response.status_code == 401
    assert client.get("/console/", base_url=PLATFORM).status_code == 302


def test_staff_sign_in_is_not_served_on_the_platform_host(client, alpha):
    response = client.post(
        "/login", base_url=PLATFORM, data={"email": alpha.users["owner"], "password": PASSWORD}
    )
    assert response.status_code == 404
