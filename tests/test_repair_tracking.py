"""The customer's tracking page (HB §6.2.1 plain words, HB §6.1.2 privacy), on both databases."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.db import db, utcnow
from repairqc.repairs import services
from repairqc.repairs.models import (
    Customer,
    DecisionMethod,
    OrderHold,
    PhotoStage,
    QuoteLineKind,
    QuoteStatus,
    RepairOrder,
    RepairOrderStatus,
    Signature,
    SignaturePurpose,
)
from repairqc.stores.models import Store
from tests.conftest import PNG, SIGNATURE, csrf_token_from, in_tenant, staff
from tests.htmlforms import form_data

IMEI = "490154203237518"
PASSCODE = "Secret-Pass-77"
PHONE = "+86 138 0013 8000"
EMAIL = "wei.zhang@example.com"
SERIAL = "SN-PRIVATE-991"
CAUSE = "INTERNAL-CAUSE broken flex cable"


@pytest.fixture(autouse=True)
def _generous_rate_limit(app, monkeypatch):
    # The limiter's memory storage lives as long as the test session; only the rate-limit test
    # uses the real budget (with its own client address).
    monkeypatch.setitem(app.config, "TRACKING_RATE_LIMIT", "1000 per hour")


def today():
    return utcnow().date()


def url(tenant) -> str:
    return f"http://{tenant.host}"


def quoted_order(tenant, *, language: str = "en") -> RepairOrder:
    """An order of store S1 whose first quote has been sent to the customer today."""
    desk, tech = staff(tenant, "frontdesk"), staff(tenant, "tech")
    store = db.session.get(Store, tenant.store_ids["S1"])
    order = services.receive_order(
        store,
        desk,
        services.Intake(
            category="smartphone",
            brand="Apple",
            model="iPhone 14",
            fault_symptoms="Cracked screen",
            signer_name="Wei Zhang",
            signature_data_url=SIGNATURE,
            new_customer=services.NewCustomer("Wei Zhang", phone=PHONE, email=EMAIL, language=language),
            imei=IMEI,
            serial_number=SERIAL,
            passcode=PASSCODE,
        ),
    )
    services.start_diagnosis(order, tech)
    services.record_diagnosis(order, tech, cause=CAUSE, plan="Replace the screen",
                              repair_type="parts-replacement", minutes=20, today=today())  # fmt: skip
    services.save_quote(
        order,
        tech,
        [
            services.LineInput(QuoteLineKind.PART, "Screen assembly", 1, Decimal("800.00"), Decimal("13")),
            services.LineInput(QuoteLineKind.LABOUR, "Fitting", 1, Decimal("100.00")),
        ],
    )
    services.send_quote(order, tech, today=today())
    return order


def new_tracked_order(app, tenant, **kwargs) -> tuple[int, str]:
    with in_tenant(app, tenant):
        order = quoted_order(tenant, **kwargs)
        db.session.flush()
        order_id, token = order.id, services.tracking_token(order)
        db.session.commit()
    return order_id, token


def approve_form(client, tenant, token: str, **overrides) -> dict[str, str]:
    page = client.get(f"/track/{token}", base_url=url(tenant))
    assert page.status_code == 200
    data = form_data(page.text, "signer_name")
    data.update({"signer_name": "Wei Zhang", "decision": "approve", "signature": SIGNATURE})
    data.update(overrides)
    return data


# --- what the page shows -----------------------------------------------------------------------------


def test_page_tells_the_story_in_plain_words_and_hides_private_details(app, client, alpha):
    order_id, token = new_tracked_order(app, alpha)
    response = client.get(f"/track/{token}", base_url=url(alpha))
    assert response.status_code == 200
    html = response.text
    for sentence in (
        "We have received your device",
        "A technician is finding the cause",
        "Your quote is ready — please approve or decline it",
    ):
        assert sentence in html
    with in_tenant(app, alpha):
        order = db.session.get(RepairOrder, order_id)
        store_name, number = order.store.name, order.number
        staff_names = [u.full_name for u in db.session.execute(sa.select(StaffUser)).scalars()]
    assert store_name in html and number in html
    assert "Apple iPhone 14" in html
    assert "Wei" in html and "Zhang" not in html  # first name only
    # The itemised quote (HB §2.1.2(3)): lines, tax and total in the reader's number format.
    assert "Screen assembly" in html and "Fitting" in html
    assert "1,004.00" in html  # 800 + 13 % + 100
    assert 'data-testid="quote-form"' in html
    # Nothing private, nothing internal (HB §6.1.2).
    for secret in (IMEI, PASSCODE, "138 0013", "13800138000", EMAIL, SERIAL, CAUSE, *staff_names):
        assert secret not in html, secret
    for status in ("diagnosing", "Diagnosing", "in_repair"):
        assert f">{status}<" not in html  # no state names, sentences
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Robots-Tag"] == "noindex"


def test_delivered_order_shows_the_warranty_and_no_internal_records(app, client, alpha):
    """The seeded order went through every step: QC notes, work steps, tools, staff stay inside."""
    with in_tenant(app, alpha):
        order = db.session.execute(
            sa.select(RepairOrder)
            .join(Customer)
            .where(Customer.full_name == f"Flow customer {alpha.store_sentinel('S1')}")
        ).scalar_one()
        token = services.tracking_token(order)
        assert order.warranty_until is not None
        staff_names = [u.full_name for u in db.session.execute(sa.select(StaffUser)).scalars()]
    html = client.get(f"/track/{token}", base_url=url(alpha)).text
    assert "Picked up — warranty until" in html
    assert "We are checking the repair" in html and "Your device is ready to pick up" in html
    assert "Flow" in html  # the customer's first name
    label = alpha.store_sentinel("S1")
    for internal in (f"Cause {label}", f"Plan {label}", f"Step {label}", f"Tool {label}", f"Note {label}",
                     f"Signer {label}", f"customer {label}", *staff_names):  # fmt: skip
        assert internal not in html, internal
    assert 'data-testid="quote-form"' not in html


def test_ready_order_shows_pickup_details_and_the_amount_due(app, client, alpha):
    with in_tenant(app, alpha):
        order = quoted_order(alpha)
        desk, tech, checker = staff(alpha, "frontdesk"), staff(alpha, "tech"), staff(alpha, "manager")
        services.decide_quote(order, desk, revision=1, approve=True, method=DecisionMethod.IN_STORE,
                              signer_name="Wei Zhang", today=today())  # fmt: skip
        services.start_repair(order, tech)
        services.log_work(order, tech, step="WORKSTEP-SECRET", minutes=30)
        services.send_to_qc(order, tech)
        check = services.begin_qc_check(order, checker, today=today())
        answers = {
            r.item_code: services.ResultInput(
                passed=True, measured_value=r.min_value or 0.0, note="QCNOTE-SECRET"
            )
            for r in check.results
        }
        services.record_qc_results(check, checker, answers)
        for result in check.results:
            if result.kind == "photo":
                services.add_photo(order, PhotoStage.QC, PNG + b"t", "qc.png", checker, qc_result=result)
        services.finish_qc_check(check, checker)
        assert order.status is RepairOrderStatus.READY
        order.store.address = "12 Harbour Road"
        order.store.phone = "+86 21 5555 0101"
        db.session.flush()
        token, checker_name = services.tracking_token(order), checker.full_name
        db.session.commit()
    html = client.get(f"/track/{token}", base_url=url(alpha)).text
    assert 'data-testid="tracking-pickup"' in html
    assert "12 Harbour Road" in html and "+86 21 5555 0101" in html
    assert "To pay at pick-up: 1,004.00" in html
    assert "Your device is ready to pick up" in html
    for internal in ("WORKSTEP-SECRET", "QCNOTE-SECRET", "Quality check", checker_name):
        assert internal not in html


def test_hold_and_cancellation_are_said_plainly(app, client, alpha):
    with in_tenant(app, alpha):
        order = quoted_order(alpha)
        desk = staff(alpha, "frontdesk")
        services.set_hold(order, desk, OrderHold.WAITING_FOR_PARTS, note="HOLDNOTE-SECRET supplier late")
        db.session.flush()
        order_id, token = order.id, services.tracking_token(order)
        db.session.commit()
    html = client.get(f"/track/{token}", base_url=url(alpha)).text
    assert "We are waiting for a part" in html and "HOLDNOTE-SECRET" not in html
    with in_tenant(app, alpha):
        order = db.session.get(RepairOrder, order_id)
        services.cancel_order(order, staff(alpha, "frontdesk"), reason="The customer asked us to stop")
        db.session.commit()
    html = client.get(f"/track/{token}", base_url=url(alpha)).text
    assert "The repair was cancelled. Reason: The customer asked us to stop" in html
    assert "We are waiting for a part" not in html and 'data-testid="quote-form"' not in html


# --- answering the quote ---------------------------------------------------------------------------


def test_customer_approves_online_and_a_replay_is_refused(app, client, alpha):
    order_id, token = new_tracked_order(app, alpha)
    data = approve_form(client, alpha, token)
    response = client.post(f"/track/{token}/quote/1", base_url=url(alpha), data=data)
    assert response.status_code == 302
    page = client.get(response.headers["Location"], base_url=url(alpha))
    assert "Thank you. You approved the quote" in page.text
    assert "You approved the quote; the repair will start soon" in page.text
    with in_tenant(app, alpha):
        order = db.session.get(RepairOrder, order_id)
        quote = order.quotes[0]
        assert order.status is RepairOrderStatus.APPROVED
        assert quote.status is QuoteStatus.APPROVED
        assert quote.decision_method is DecisionMethod.ONLINE
        assert quote.decided_by_name == "Wei Zhang" and quote.recorded_by_id is None
        assert order.amount_due_cents == 100400
        assert order.events[-1].actor_id is None
        signatures = db.session.execute(
            sa.select(Signature).where(
                Signature.order_id == order_id, Signature.purpose == SignaturePurpose.QUOTE_APPROVAL
            )
        ).scalars()
        assert [s.signer_name for s in signatures] == ["Wei Zhang"]
    # The same form again (a double click, a replayed request): refused with the first answer's date.
    again = client.post(f"/track/{token}/quote/1", base_url=url(alpha), data=data)
    assert again.status_code == 409
    assert "This quote was already answered on" in again.text
    assert 'data-testid="quote-form"' not in again.text
    assert again.headers["Cache-Control"] == "no-store"
    with in_tenant(app, alpha):
        # received, diagnosing, quoted, approved: the replay added nothing
        assert len(db.session.get(RepairOrder, order_id).events) == 4


def test_customer_declines_with_a_reason(app, client, alpha):
    order_id, token = new_tracked_order(app, alpha)
    data = approve_form(client, alpha, token, decision="decline", reason="Too expensive", signature="")
    response = client.post(f"/track/{token}/quote/1", base_url=url(alpha), data=data, follow_redirects=True)
    assert response.status_code == 200
    assert "You declined the quote" in response.text
    with in_tenant(app, alpha):
        order = db.session.get(RepairOrder, order_id)
        assert order.status is RepairOrderStatus.DECLINED
        assert order.quotes[0].status is QuoteStatus.DECLINED
        assert order.quotes[0].decline_reason == "Too expensive"
        assert order.quotes[0].decision_method is DecisionMethod.ONLINE


def test_missing_name_re_shows_the_form_and_saves_nothing(app, client, alpha):
    order_id, token = new_tracked_order(app, alpha)
    data = approve_form(client, alpha, token, signer_name="  ", reason="kept")
    response = client.post(f"/track/{token}/quote/1", base_url=url(alpha), data=data)
    assert response.status_code == 400
    assert "Enter the name of the person deciding." in response.text
    assert 'data-testid="quote-form"' in response.text
    no_choice = approve_form(client, alpha, token)
    del no_choice["decision"]
    response = client.post(f"/track/{token}/quote/1", base_url=url(alpha), data=no_choice)
    assert response.status_code == 400
    assert "Wei Zhang" in response.text  # what the customer typed is kept
    bad_signature = approve_form(client, alpha, token, signature="data:image/png;base64,not-a-png")
    assert client.post(f"/track/{token}/quote/1", base_url=url(alpha), data=bad_signature).status_code == 400
    with in_tenant(app, alpha):
        order = db.session.get(RepairOrder, order_id)
        assert order.status is RepairOrderStatus.QUOTED
        assert order.quotes[0].status is QuoteStatus.SENT


def test_expired_quote_cannot_be_answered(app, client, alpha):
    order_id, token = new_tracked_order(app, alpha)
    data = approve_form(client, alpha, token)
    with in_tenant(app, alpha):
        db.session.get(RepairOrder, order_id).quotes[0].valid_until = today() - timedelta(days=1)
        db.session.commit()
    page = client.get(f"/track/{token}", base_url=url(alpha))
    assert 'data-testid="quote-expired"' in page.text and 'data-testid="quote-form"' not in page.text
    response = client.post(f"/track/{token}/quote/1", base_url=url(alpha), data=data)
    assert response.status_code == 409
    assert "This quote expired on" in response.text and "Ask the store for a new one." in response.text
    with in_tenant(app, alpha):
        assert db.session.get(RepairOrder, order_id).status is RepairOrderStatus.QUOTED


def test_unknown_revision_is_not_found(app, client, alpha):
    _order_id, token = new_tracked_order(app, alpha)
    data = approve_form(client, alpha, token)
    assert client.post(f"/track/{token}/quote/7", base_url=url(alpha), data=data).status_code == 404
    assert client.post(f"/track/{token}/quote/99999999999", base_url=url(alpha), data=data).status_code == 404


def test_answers_need_the_csrf_token(app, client, alpha, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    order_id, token = new_tracked_order(app, alpha)
    data = approve_form(client, alpha, token)
    assert data["csrf_token"]  # the form carries one (signed with a timestamp: not compared)
    csrf_token_from(client.get(f"/track/{token}", base_url=url(alpha)).text)
    forged = {k: v for k, v in data.items() if k != "csrf_token"}
    assert client.post(f"/track/{token}/quote/1", base_url=url(alpha), data=forged).status_code == 400
    with in_tenant(app, alpha):
        assert db.session.get(RepairOrder, order_id).status is RepairOrderStatus.QUOTED
    assert client.post(f"/track/{token}/quote/1", base_url=url(alpha), data=data).status_code == 302
    with in_tenant(app, alpha):
        assert db.session.get(RepairOrder, order_id).status is RepairOrderStatus.APPROVED


def test_answers_are_rate_limited_per_address(app, client, alpha, monkeypatch):
    monkeypatch.setitem(app.config, "TRACKING_RATE_LIMIT", "2 per hour")
    _order_id, token = new_tracked_order(app, alpha)
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    data = {"decision": "approve", "signer_name": ""}
    codes = [
        client.post(f"/track/{token}/quote/1", base_url=url(alpha), data=data,
                    environ_overrides={"REMOTE_ADDR": address}).status_code
        for _ in range(3)
    ]  # fmt: skip
    assert codes == [400, 400, 429]


# --- links that do not work, and isolation ----------------------------------------------------------------


def test_links_that_do_not_work(app, client, alpha, beta, monkeypatch):
    order_id, token = new_tracked_order(app, alpha)
    # Another tenant's host: the token names alpha, so beta answers "not found".
    response = client.get(f"/track/{token}", base_url=url(beta))
    assert response.status_code == 404
    assert "This tracking link is not valid." in response.text
    assert alpha.sentinel not in response.text and "iPhone" not in response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert client.post(f"/track/{token}/quote/1", base_url=url(beta), data={"decision": "approve",
                       "signer_name": "X"}).status_code == 404  # fmt: skip
    # Tampered: one character changed.
    tampered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert client.get(f"/track/{tampered}", base_url=url(alpha)).status_code == 404
    assert client.get("/track/not-a-token", base_url=url(alpha)).status_code == 404
    assert client.get("/track/" + "x" * 5000, base_url=url(alpha)).status_code == 404
    # The operators' console host has no orders.
    assert client.get(f"/track/{token}", base_url="http://localhost").status_code == 404
    # Expired.
    monkeypatch.setitem(app.config, "TRACKING_LINK_MAX_AGE", -1)
    expired = client.get(f"/track/{token}", base_url=url(alpha))
    assert expired.status_code == 410
    assert "This tracking link has expired. Ask the store to send you a new one." in expired.text
    assert "iPhone" not in expired.text
    monkeypatch.setitem(app.config, "TRACKING_LINK_MAX_AGE", 3600)
    assert client.get(f"/track/{token}", base_url=url(alpha)).status_code == 200
    # Revoked: a new tracking key invalidates every link already sent.
    with in_tenant(app, alpha):
        db.session.get(RepairOrder, order_id).tracking_nonce = uuid.uuid4().hex
        db.session.commit()
    assert client.get(f"/track/{token}", base_url=url(alpha)).status_code == 404
    assert client.post(f"/track/{token}/quote/1", base_url=url(alpha), data={"decision": "approve",
                       "signer_name": "X"}).status_code == 404  # fmt: skip
    with in_tenant(app, alpha):
        assert db.session.get(RepairOrder, order_id).status is RepairOrderStatus.QUOTED


def test_beta_page_never_shows_alpha(app, client, alpha, beta):
    _order_id, token = new_tracked_order(app, beta)
    html = client.get(f"/track/{token}", base_url=url(beta)).text
    assert beta.store_sentinel("S1") in html
    assert alpha.sentinel not in html


# --- language -------------------------------------------------------------------------------------------


def test_page_speaks_the_customers_language_unless_the_visitor_picks_another(app, client, alpha):
    _order_id, token = new_tracked_order(app, alpha, language="zh")
    page = client.get(f"/track/{token}", base_url=url(alpha), headers={"Accept-Language": "en-GB"})
    assert '<html lang="zh' in page.text
    assert 'data-testid="lang-en"' in page.text
    switched = client.get(f"/track/{token}?lang=en", base_url=url(alpha))
    assert switched.status_code == 302 and "lang=" not in switched.headers["Location"]
    page = client.get(switched.headers["Location"], base_url=url(alpha))
    assert '<html lang="en"' in page.text
    assert 'data-testid="lang-zh_Hans_CN"' in page.text


def test_english_customer_gets_english_whatever_the_browser(app, client, alpha):
    _order_id, token = new_tracked_order(app, alpha, language="en")
    page = client.get(f"/track/{token}", base_url=url(alpha), headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en"' in page.text
    assert "We have received your device" in page.text
