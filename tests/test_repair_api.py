"""The repair JSON API: the order summary, simple moves, refusals as JSON, session auth, the CSRF
header, and isolation between stores and tenants. Both databases."""

from __future__ import annotations

import pytest

from repairqc.repairs.models import RepairOrderStatus as S
from tests.conftest import PASSWORD, csrf_token_from, sign_in
from tests.test_repair_order_views import alpha_only_order, make_order, page_path, read, url


def api_path(order_id: int, action: str = "") -> str:
    return f"/api/repairs/orders/{order_id}{action}"


def summary(client, tenant, order_id: int):
    return client.get(api_path(order_id), base_url=url(tenant))


def move(client, tenant, order_id: int, payload, headers=None):
    return client.post(api_path(order_id, "/transition"), base_url=url(tenant), json=payload, headers=headers)


def test_the_summary_lists_status_version_moves_and_events(app, client, alpha):
    order_id = make_order(app, alpha)
    sign_in(client, alpha, "tech")
    response = summary(client, alpha, order_id)
    assert response.status_code == 200
    body = response.get_json()
    order = read(app, alpha, order_id)
    assert (body["number"], body["status"], body["version"], body["hold"]) == (
        order.number,
        "received",
        order.version,
        None,
    )
    assert body["allowed_moves"] == [
        {"to": "diagnosing", "label": "Diagnosing", "needs_reason": False, "api": True}
    ]  # a technician may not cancel
    assert [event["to"] for event in body["events"]] == ["received"]
    assert body["page"] == page_path(order_id)

    sign_in(client, alpha, "frontdesk")
    moves = summary(client, alpha, order_id).get_json()["allowed_moves"]
    assert moves == [{"to": "cancelled", "label": "Cancelled", "needs_reason": True, "api": True}]


def test_simple_moves_go_through_their_services(app, client, alpha):
    order_id = make_order(app, alpha)
    sign_in(client, alpha, "tech")
    version = summary(client, alpha, order_id).get_json()["version"]
    response = move(client, alpha, order_id, {"to": "diagnosing", "version": version})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "diagnosing" and body["version"] > version
    assert body["events"][-1]["by"] == f"Tech {alpha.store_sentinel('S1')}"
    order = read(app, alpha, order_id)
    assert order.status is S.DIAGNOSING and order.technician_id is not None  # start_diagnosis took it

    sign_in(client, alpha, "frontdesk")
    no_reason = move(client, alpha, order_id, {"to": "cancelled", "version": body["version"]})
    assert no_reason.status_code == 400
    assert no_reason.get_json() == {"error": "Give a reason.", "field": "reason"}
    cancelled = move(
        client, alpha, order_id, {"to": "cancelled", "reason": "Changed mind", "version": body["version"]}
    )
    assert cancelled.status_code == 200
    assert cancelled.get_json()["events"][-1]["reason"] == "Changed mind"
    assert read(app, alpha, order_id).status is S.CANCELLED


def test_refusals_answer_json_with_the_reason(app, client, alpha):
    order_id = make_order(app, alpha, S.DIAGNOSING)
    sign_in(client, alpha, "tech")
    version = summary(client, alpha, order_id).get_json()["version"]

    illegal = move(client, alpha, order_id, {"to": "closed", "version": version})
    assert illegal.status_code == 409
    assert illegal.get_json()["error"] == "An order that is “Diagnosing” cannot become “Closed”."

    page_only = move(client, alpha, order_id, {"to": "quoted", "version": version})
    assert page_only.status_code == 409
    assert "use the order page" in page_only.get_json()["error"]
    assert page_path(order_id) in page_only.get_json()["error"]

    wrong_role = move(client, alpha, order_id, {"to": "cancelled", "reason": "No", "version": version})
    assert wrong_role.status_code == 409
    assert "Your role at this store does not allow" in wrong_role.get_json()["error"]

    unknown = move(client, alpha, order_id, {"to": "teleported", "version": version})
    assert unknown.status_code == 400 and unknown.get_json()["field"] == "to"
    for payload in (
        {"to": "cancelled"},
        {"to": "cancelled", "version": "1"},
        {"to": "cancelled", "version": True},
        {"to": "cancelled", "version": 2**40},
        ["cancelled"],
        "nonsense",
    ):
        response = move(client, alpha, order_id, payload)
        assert response.status_code == 400, payload
        assert "error" in response.get_json()
    assert read(app, alpha, order_id).status is S.DIAGNOSING


def test_a_stale_version_is_refused_naming_the_change(app, client, alpha):
    order_id = make_order(app, alpha)
    sign_in(client, alpha, "manager")
    seen = summary(client, alpha, order_id).get_json()["version"]
    sign_in(client, alpha, "tech")
    assert move(client, alpha, order_id, {"to": "diagnosing", "version": seen}).status_code == 200
    sign_in(client, alpha, "manager")
    stale = move(client, alpha, order_id, {"to": "cancelled", "reason": "Late", "version": seen})
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert f"Tech {alpha.store_sentinel('S1')} changed this order" in error and "Diagnosing" in error
    assert read(app, alpha, order_id).status is S.DIAGNOSING


def test_signed_out_callers_get_401_json(app, client, alpha):
    order_id = make_order(app, alpha)
    response = summary(client, alpha, order_id)
    assert response.status_code == 401 and "error" in response.get_json()
    response = move(client, alpha, order_id, {"to": "diagnosing", "version": 1})
    assert response.status_code == 401 and "error" in response.get_json()
    assert read(app, alpha, order_id).status is S.RECEIVED


def test_other_stores_and_tenants_get_404(app, client, alpha, beta):
    order_id = alpha_only_order(app, alpha, beta)
    version = read(app, alpha, order_id).version
    for tenant, key in [
        (alpha, "manager2"),
        (alpha, "tech2"),
        (beta, "owner"),
        (beta, "manager"),
        (beta, "tech"),
    ]:
        sign_in(client, tenant, key)
        response = summary(client, tenant, order_id)
        assert response.status_code == 404, (tenant.letter, key)
        assert alpha.store_sentinel("S1") not in response.text
        for payload in ({"to": "diagnosing", "version": version}, {"to": "bogus"}):
            response = move(client, tenant, order_id, payload)
            assert response.status_code == 404, (tenant.letter, key, payload)
            assert alpha.store_sentinel("S1") not in response.text
    # A session of beta is not a session at alpha's host.
    fresh = app.test_client()
    sign_in(fresh, beta, "owner")
    assert summary(fresh, alpha, order_id).status_code == 401
    assert read(app, alpha, order_id).status is S.RECEIVED


@pytest.fixture
def csrf_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    return app


def test_json_posts_need_the_csrf_token_in_the_x_csrftoken_header(csrf_on, client, alpha):
    order_id = make_order(csrf_on, alpha)
    login_token = csrf_token_from(client.get("/login", base_url=url(alpha)).text)
    signed_in = client.post(
        "/login",
        base_url=url(alpha),
        data={"email": alpha.users["tech"], "password": PASSWORD, "csrf_token": login_token},
    )
    assert signed_in.status_code == 302
    version = summary(client, alpha, order_id).get_json()["version"]  # GETs need no token

    refused = move(client, alpha, order_id, {"to": "diagnosing", "version": version})
    assert refused.status_code == 400
    assert "X-CSRFToken" in refused.get_json()["error"]
    forged = move(
        client, alpha, order_id, {"to": "diagnosing", "version": version}, {"X-CSRFToken": "forged"}
    )
    assert forged.status_code == 400
    assert read(csrf_on, alpha, order_id).status is S.RECEIVED

    token = csrf_token_from(client.get(page_path(order_id), base_url=url(alpha)).text)
    accepted = move(client, alpha, order_id, {"to": "diagnosing", "version": version}, {"X-CSRFToken": token})
    assert accepted.status_code == 200, accepted.get_json()
    assert read(csrf_on, alpha, order_id).status is S.DIAGNOSING


def test_the_order_page_forms_need_the_csrf_token_too(csrf_on, client, alpha):
    order_id = make_order(csrf_on, alpha)
    login_token = csrf_token_from(client.get("/login", base_url=url(alpha)).text)
    client.post(
        "/login",
        base_url=url(alpha),
        data={"email": alpha.users["tech"], "password": PASSWORD, "csrf_token": login_token},
    )
    html = client.get(page_path(order_id), base_url=url(alpha)).text
    version = read(csrf_on, alpha, order_id).version
    path = f"{page_path(order_id)}start-diagnosis"
    assert client.post(path, base_url=url(alpha), data={"version": version}).status_code == 400
    assert read(csrf_on, alpha, order_id).status is S.RECEIVED
    data = {"version": version, "csrf_token": csrf_token_from(html)}
    assert client.post(path, base_url=url(alpha), data=data).status_code == 302
    assert read(csrf_on, alpha, order_id).status is S.DIAGNOSING
