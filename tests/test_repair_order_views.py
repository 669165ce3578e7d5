"""The order page (HB §2.1.2): each step through HTTP as the right role, refusals, stale pages,
bad input, the passcode, and isolation between stores and tenants. Both databases."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.db import db, utcnow
from repairqc.repairs import services
from repairqc.repairs.models import (
    DecisionMethod,
    OrderHold,
    Part,
    QuoteLineKind,
    QuoteStatus,
    RepairOrder,
    Signature,
    SignaturePurpose,
    StockLevel,
    StockMovement,
    WorkLog,
)
from repairqc.repairs.models import RepairOrderStatus as S
from repairqc.stores.models import Store
from tests.conftest import SIGNATURE, in_tenant, sign_in
from tests.htmlforms import form_data

#: The states `make_order` can leave an order in, in the order the workflow reaches them.
STAGES = [S.RECEIVED, S.DIAGNOSING, S.QUOTED, S.APPROVED, S.IN_REPAIR]


def url(tenant) -> str:
    return f"http://{tenant.host}"


def page_path(order_id: int) -> str:
    return f"/admin/repairs/orders/{order_id}/"


def person(tenant, key: str) -> StaffUser:
    return db.session.execute(sa.select(StaffUser).where(StaffUser.email == tenant.users[key])).scalar_one()


def make_order(
    app, tenant, stage: S = S.RECEIVED, *, store: str = "S1", passcode: str | None = "2580"
) -> int:
    """A new order of `store` walked through the services up to `stage`; its id."""
    with in_tenant(app, tenant):
        desk, tech = (
            (person(tenant, "frontdesk"), person(tenant, "tech"))
            if store == "S1"
            else (person(tenant, "manager2"), person(tenant, "tech2"))
        )
        shop = db.session.get(Store, tenant.store_ids[store])
        order = services.receive_order(
            shop,
            desk,
            services.Intake(
                category="smartphone",
                brand="Apple",
                model="iPhone 14",
                fault_symptoms=f"Cracked screen {tenant.store_sentinel(store)}",
                signer_name="Li Wei",
                signature_data_url=SIGNATURE,
                new_customer=services.NewCustomer(
                    f"Li Wei {tenant.store_sentinel(store)}",
                    phone="+86 138 0013 8000",
                    email="li@example.com",
                ),
                passcode=passcode,
            ),
        )
        reached = STAGES.index(stage)
        today = date.today()
        if reached >= 1:
            services.start_diagnosis(order, tech)
        if reached >= 2:
            services.record_diagnosis(
                order,
                tech,
                cause="Broken glass",
                plan="Replace the screen",
                repair_type="parts-replacement",
                minutes=20,
                today=today,
            )
            line = services.LineInput(QuoteLineKind.PART, "Screen", 1, Decimal("800.00"), Decimal("13"))
            services.save_quote(order, tech, [line])
            services.send_quote(order, tech, today=today)
        if reached >= 3:
            services.decide_quote(
                order,
                desk,
                revision=1,
                approve=True,
                method=DecisionMethod.IN_STORE,
                signer_name="Li Wei",
                today=today,
            )
        if reached >= 4:
            services.start_repair(order, tech)
        db.session.commit()
        return order.id


def read(app, tenant, order_id: int) -> RepairOrder:
    """The order as stored (read in a fresh session of the tenant)."""
    with in_tenant(app, tenant):
        order = db.session.get(RepairOrder, order_id)
        db.session.expunge_all()
        return order


def query(app, tenant, statement) -> list:
    with in_tenant(app, tenant):
        return list(db.session.execute(statement).scalars())


def version_of(html: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', html)
    assert match, "no version on the page"
    return match.group(1)


def open_page(client, tenant, order_id: int):
    page = client.get(page_path(order_id), base_url=url(tenant))
    assert page.status_code == 200, page.text
    return page.text


def post(client, tenant, order_id: int, step: str, data: dict | None = None, **extra):
    return client.post(f"{page_path(order_id)}{step}", base_url=url(tenant), data={**(data or {}), **extra})


def refusal(html: str) -> str:
    match = re.search(r'data-testid="refusal">([^<]*)<', html)
    assert match, "no refusal message on the page"
    return match.group(1)


# --- the page -------------------------------------------------------------------------------------


def test_page_shows_the_order_and_only_the_steps_each_role_can_take(app, client, alpha):
    order_id = make_order(app, alpha)
    sign_in(client, alpha, "frontdesk")
    html = open_page(client, alpha, order_id)
    order = read(app, alpha, order_id)
    assert order.number in html and "Received" in html
    assert f"Li Wei {alpha.store_sentinel('S1')}" in html and "+86 138 0013 8000" in html
    assert "iPhone 14" in html and "Smartphone" in html
    assert 'data-testid="timeline"' in html and "Not assigned" in html
    assert "/track/" in html and 'data-testid="copy-tracking"' in html
    assert "2580" not in html  # the passcode is never on the normal page
    assert 'data-testid="cancel-form"' in html  # the desk may cancel...
    assert 'data-testid="start-diagnosis"' not in html  # ...but not diagnose
    assert 'data-testid="assign"' not in html

    sign_in(client, alpha, "tech")
    html = open_page(client, alpha, order_id)
    assert 'data-testid="start-diagnosis"' in html
    assert 'data-testid="cancel-form"' not in html

    sign_in(client, alpha, "manager")
    html = open_page(client, alpha, order_id)
    assert 'data-testid="start-diagnosis"' in html and 'data-testid="cancel-form"' in html
    assert 'data-testid="assign"' in html


def test_overdue_diagnosis_and_missed_promise_are_flagged(app, client, alpha):
    order_id = make_order(app, alpha)
    sign_in(client, alpha, "frontdesk")
    html = open_page(client, alpha, order_id)
    assert 'data-testid="diagnosis-overdue"' not in html and 'data-testid="promise-missed"' not in html
    with in_tenant(app, alpha):
        order = db.session.get(RepairOrder, order_id)
        order.diagnosis_due_at = utcnow() - timedelta(hours=1)
        order.promised_at = utcnow() - timedelta(minutes=5)
        db.session.commit()
    html = open_page(client, alpha, order_id)
    assert "Diagnosis overdue" in html and "Promised date passed" in html


def test_the_index_leads_to_the_board_and_unknown_addresses_are_404(app, client, alpha):
    sign_in(client, alpha, "manager")
    index = client.get("/admin/repairs/orders/", base_url=url(alpha))
    assert index.status_code == 302 and index.headers["Location"].endswith("/admin/repairs/")
    order_id = make_order(app, alpha)
    for path in (
        "/admin/repairs/orders/99999999999/",
        "/admin/repairs/orders/2147483648/",
        f"{page_path(order_id)}no-such-step",
    ):
        response = (
            client.post(path, base_url=url(alpha))
            if "step" in path
            else client.get(path, base_url=url(alpha))
        )
        assert response.status_code == 404, path


def test_signed_out_visitors_are_sent_to_sign_in(app, client, alpha):
    order_id = make_order(app, alpha)
    response = client.get(page_path(order_id), base_url=url(alpha))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- received: diagnosis starts, technician assigned ----------------------------------------------


def test_technician_starts_the_diagnosis_and_becomes_its_technician(app, client, alpha):
    order_id = make_order(app, alpha)
    sign_in(client, alpha, "tech")
    html = open_page(client, alpha, order_id)
    response = post(client, alpha, order_id, "start-diagnosis", version=version_of(html))
    assert response.status_code == 302
    order = read(app, alpha, order_id)
    assert order.status is S.DIAGNOSING
    html = open_page(client, alpha, order_id)
    assert "Diagnosis started." in html
    assert f"Tech {alpha.store_sentinel('S1')}" in html  # the technician, and in the timeline
    assert 'data-testid="diagnosis-form"' in html


def test_the_front_desk_cannot_start_a_diagnosis(app, client, alpha):
    order_id = make_order(app, alpha)
    sign_in(client, alpha, "frontdesk")
    html = open_page(client, alpha, order_id)
    response = post(client, alpha, order_id, "start-diagnosis", version=version_of(html))
    assert response.status_code == 409
    assert "Your role at this store does not allow" in refusal(response.text)
    assert read(app, alpha, order_id).status is S.RECEIVED


def test_the_manager_assigns_a_technician_of_the_store(app, client, alpha):
    order_id = make_order(app, alpha)
    sign_in(client, alpha, "manager")
    html = open_page(client, alpha, order_id)
    assert f"Tech {alpha.store_sentinel('S1')}" in html
    assert f"Tech2 {alpha.store_sentinel('S2')}" not in html  # only this store's technicians
    data = form_data(html, "assign-technician")
    response = post(client, alpha, order_id, "assign", data)
    assert response.status_code == 302, response.text
    with in_tenant(app, alpha):
        assert db.session.get(RepairOrder, order_id).technician_id == person(alpha, "tech").id

    with in_tenant(app, alpha):
        other = person(alpha, "tech2").id
    sign_in(client, alpha, "frontdesk")  # the desk may not assign
    html = open_page(client, alpha, order_id)
    response = post(
        client, alpha, order_id, "assign", {"assign-technician": other, "version": version_of(html)}
    )
    assert response.status_code == 400  # not one of the choices offered
    assert read(app, alpha, order_id).technician_id != other


def test_no_technician_is_assigned_once_the_repair_is_in_qc(app, client, alpha):
    (order_id,) = query(
        app,
        alpha,
        sa.select(RepairOrder.id).where(
            RepairOrder.store_id == alpha.store_ids["S1"], RepairOrder.status == S.QC
        ),
    )
    sign_in(client, alpha, "manager")
    html = open_page(client, alpha, order_id)
    assert 'data-testid="assign"' not in html
    with in_tenant(app, alpha):
        tech_id = person(alpha, "tech").id
    before = read(app, alpha, order_id).technician_id
    response = post(
        client, alpha, order_id, "assign", {"assign-technician": tech_id, "version": version_of(html)}
    )
    assert response.status_code == 409
    assert "assigned before the quality check" in refusal(response.text)
    assert read(app, alpha, order_id).technician_id == before


def test_a_post_without_the_version_is_refused(app, client, alpha):
    order_id = make_order(app, alpha)
    sign_in(client, alpha, "tech")
    response = post(client, alpha, order_id, "start-diagnosis")
    assert response.status_code == 400
    assert "Reload it and try again." in refusal(response.text)
    assert read(app, alpha, order_id).status is S.RECEIVED


# --- diagnosing: the diagnosis and the quote ------------------------------------------------------


def test_recording_the_diagnosis_and_sending_the_quote(app, client, alpha):
    order_id = make_order(app, alpha, S.DIAGNOSING)
    sign_in(client, alpha, "tech")
    html = open_page(client, alpha, order_id)
    data = form_data(html, "diagnosis-cause")
    data.update(
        {
            "diagnosis-cause": "Cracked digitiser",
            "diagnosis-plan": "Replace the screen",
            "diagnosis-repair_type": "parts-replacement",
            "diagnosis-minutes": "25",
        }
    )
    response = post(client, alpha, order_id, "diagnosis", data)
    assert response.status_code == 302, response.text
    order = read(app, alpha, order_id)
    assert (order.diagnosis, order.repair_type, order.diagnosis_minutes) == (
        "Cracked digitiser",
        "parts-replacement",
        25,
    )

    # "Add a row" shows one more row and saves nothing.
    html = open_page(client, alpha, order_id)
    data = form_data(html, "quote-lines-0-kind")
    with in_tenant(app, alpha):
        part = db.session.execute(sa.select(Part).where(Part.sku == "SCR-SENTINEL-A")).scalar_one()
        part_id, part_name = part.id, part.name
    data.update({"quote-lines-0-part": str(part_id), "quote-lines-0-tax_rate": "13"})
    added = post(client, alpha, order_id, "quote", data, add="1")
    assert added.status_code == 200
    assert added.text.count('data-testid="quote-row"') == 2
    with in_tenant(app, alpha):
        assert db.session.get(RepairOrder, order_id).quotes == []

    data = form_data(added.text, "quote-lines-1-kind")
    data.update(
        {
            "quote-lines-1-kind": "labour",
            "quote-lines-1-description": "Fitting",
            "quote-lines-1-quantity": "1",
            "quote-lines-1-unit_price": "100.50",
        }
    )
    saved = post(client, alpha, order_id, "quote", data, save="1")
    assert saved.status_code == 302, saved.text
    with in_tenant(app, alpha):
        quote = db.session.get(RepairOrder, order_id).quotes[0]
        assert quote.status is QuoteStatus.DRAFT
        # The part's name and list price fill an empty description and price: 500.00 + 13 %, + 100.50.
        assert [(line.description, line.unit_price_cents) for line in quote.lines] == [
            (part_name, 50000),
            ("Fitting", 10050),
        ]
        assert quote.total_cents == 56500 + 10050

    html = open_page(client, alpha, order_id)
    assert 'data-testid="quote-draft"' in html
    data = form_data(html, "quote-lines-0-kind")  # the editor opens on the draft
    assert data["quote-lines-1-description"] == "Fitting"
    sent = post(client, alpha, order_id, "quote", data, send="1")
    assert sent.status_code == 302, sent.text
    order = read(app, alpha, order_id)
    assert order.status is S.QUOTED
    html = open_page(client, alpha, order_id)
    assert "665.50" in html and "valid until" in html  # the total, through |money


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("quote-lines-0-unit_price", "-5", "Prices cannot be negative."),
        ("quote-lines-0-quantity", "0", "Quantities must be at least 1."),
        ("quote-lines-0-unit_price", "abc", "Not a valid decimal value."),
        ("quote-lines-0-unit_price", "NaN", "Enter a number."),
        ("quote-lines-0-unit_price", "1.234", "Use at most two decimals."),
        ("quote-lines-0-tax_rate", "150", "Tax rates are between 0 and 100 %."),
    ],
)
def test_bad_quote_lines_are_refused_with_the_input_kept(app, client, alpha, field, value, message):
    order_id = make_order(app, alpha, S.DIAGNOSING)
    sign_in(client, alpha, "tech")
    data = form_data(open_page(client, alpha, order_id), "quote-lines-0-kind")
    data.update(
        {
            "quote-lines-0-kind": "labour",
            "quote-lines-0-description": "Typed by hand",
            "quote-lines-0-quantity": "2",
            "quote-lines-0-unit_price": "10",
        }
    )
    data[field] = value
    response = post(client, alpha, order_id, "quote", data, save="1")
    assert response.status_code == 400
    assert message in response.text
    assert 'value="Typed by hand"' in response.text  # nothing typed is lost
    with in_tenant(app, alpha):
        assert db.session.get(RepairOrder, order_id).quotes == []


def test_only_bench_roles_record_a_diagnosis(app, client, alpha):
    order_id = make_order(app, alpha, S.DIAGNOSING)
    sign_in(client, alpha, "frontdesk")
    html = open_page(client, alpha, order_id)
    assert 'data-testid="diagnosis-form"' not in html and 'data-testid="quote-editor"' not in html
    data = {
        "version": version_of(html),
        "diagnosis-cause": "Guess",
        "diagnosis-plan": "Plan",
        "diagnosis-repair_type": "parts-replacement",
        "diagnosis-minutes": "5",
    }
    response = post(client, alpha, order_id, "diagnosis", data)
    assert response.status_code == 409
    assert "Only technicians and managers record a diagnosis." in refusal(response.text)
    assert "Guess</textarea>" in response.text
    assert read(app, alpha, order_id).diagnosis is None


# --- quoted: the customer's decision --------------------------------------------------------------


def test_the_desk_records_the_customers_approval_with_a_signature(app, client, alpha):
    order_id = make_order(app, alpha, S.QUOTED)
    sign_in(client, alpha, "frontdesk")
    html = open_page(client, alpha, order_id)
    assert "904.00" in html  # 800.00 + 13 % tax, the sent quote
    data = form_data(html, "decision-signer_name")
    data.update({"decision-decision": "approve", "signature": SIGNATURE})
    response = post(client, alpha, order_id, "decision", data)
    assert response.status_code == 302, response.text
    order = read(app, alpha, order_id)
    assert order.status is S.APPROVED and order.amount_due_cents == 90400
    signatures = query(app, alpha, sa.select(Signature.purpose).where(Signature.order_id == order_id))
    assert SignaturePurpose.QUOTE_APPROVAL in signatures
    assert "Quote approval" in open_page(client, alpha, order_id)


def test_a_declined_quote_keeps_its_reason(app, client, alpha):
    order_id = make_order(app, alpha, S.QUOTED)
    sign_in(client, alpha, "manager")
    data = form_data(open_page(client, alpha, order_id), "decision-signer_name")
    data.update(
        {"decision-decision": "decline", "decision-method": "phone", "decision-reason": "Too expensive"}
    )
    assert post(client, alpha, order_id, "decision", data).status_code == 302
    order = read(app, alpha, order_id)
    assert order.status is S.DECLINED
    assert "Too expensive" in open_page(client, alpha, order_id)


def test_a_technician_cannot_record_the_customers_decision(app, client, alpha):
    order_id = make_order(app, alpha, S.QUOTED)
    sign_in(client, alpha, "tech")
    html = open_page(client, alpha, order_id)
    assert 'data-testid="decision-form"' not in html
    data = {
        "version": version_of(html),
        "decision-revision": "1",
        "decision-decision": "approve",
        "decision-method": "in_store",
        "decision-signer_name": "Someone Else",
        "signature": SIGNATURE,
    }
    response = post(client, alpha, order_id, "decision", data)
    assert response.status_code == 409
    assert "does not allow moving an order to “Approved”" in refusal(response.text)
    assert 'value="Someone Else"' in response.text
    order = read(app, alpha, order_id)
    assert order.status is S.QUOTED
    with in_tenant(app, alpha):
        assert db.session.get(RepairOrder, order_id).quotes[0].status is QuoteStatus.SENT
    assert (
        query(
            app,
            alpha,
            sa.select(Signature.id).where(
                Signature.order_id == order_id, Signature.purpose == SignaturePurpose.QUOTE_APPROVAL
            ),
        )
        == []
    )


# --- approved and in repair -----------------------------------------------------------------------


def test_the_repair_from_start_to_quality_check(app, client, alpha):
    order_id = make_order(app, alpha, S.APPROVED)
    sign_in(client, alpha, "tech")
    html = open_page(client, alpha, order_id)
    assert post(client, alpha, order_id, "start-repair", version=version_of(html)).status_code == 302
    assert read(app, alpha, order_id).status is S.IN_REPAIR

    html = open_page(client, alpha, order_id)
    assert 'data-testid="send-to-qc"' in html
    # QC needs a logged step first: refused, and said why.
    refused = post(client, alpha, order_id, "send-to-qc", version=version_of(html))
    assert refused.status_code == 409
    assert "Log the repair work" in refusal(refused.text)

    data = form_data(html, "work-step")
    data.update({"work-step": "Replaced the screen", "work-minutes": "45", "work-equipment": "Heat plate"})
    assert post(client, alpha, order_id, "work", data).status_code == 302
    bad = post(client, alpha, order_id, "work", {**data, "work-minutes": "0"})
    assert bad.status_code == 400 and "Minutes must be between 1 and 1440." in bad.text
    assert len(query(app, alpha, sa.select(WorkLog.id).where(WorkLog.order_id == order_id))) == 1

    html = open_page(client, alpha, order_id)
    assert "Replaced the screen" in html and "Heat plate" in html
    data = form_data(html, "parts-part")
    data["parts-quantity"] = "1"
    assert post(client, alpha, order_id, "parts", data).status_code == 302
    html = open_page(client, alpha, order_id)
    assert 'data-testid="parts-used"' in html and "Screen SENTINEL-A" in html

    assert post(client, alpha, order_id, "send-to-qc", version=version_of(html)).status_code == 302
    html = open_page(client, alpha, order_id)
    assert read(app, alpha, order_id).status is S.QC
    assert f'href="/admin/repairs/steps/{order_id}/qc"' in html


def test_short_stock_is_said_clearly_or_puts_the_repair_on_hold(app, client, alpha):
    order_id = make_order(app, alpha, S.IN_REPAIR)
    with in_tenant(app, alpha):
        level = db.session.execute(
            sa.select(StockLevel)
            .join(Part)
            .where(Part.sku == "SCR-SENTINEL-A", StockLevel.store_id == alpha.store_ids["S1"])
        ).scalar_one()
        on_hand = level.quantity
    sign_in(client, alpha, "tech")
    data = form_data(open_page(client, alpha, order_id), "parts-part")
    data["parts-quantity"] = str(on_hand + 10)
    response = post(client, alpha, order_id, "parts", data)
    assert response.status_code == 409
    assert f"Only {on_hand} of SCR-SENTINEL-A Screen SENTINEL-A in stock; {on_hand + 10} needed." in refusal(
        response.text
    )
    assert f'value="{on_hand + 10}"' in response.text
    assert query(app, alpha, sa.select(StockMovement.id).where(StockMovement.order_id == order_id)) == []

    response = post(client, alpha, order_id, "parts", {**data, "parts-hold_if_short": "y"})
    assert response.status_code == 302
    assert read(app, alpha, order_id).hold is OrderHold.WAITING_FOR_PARTS
    html = open_page(client, alpha, order_id)
    assert "waiting for parts" in html and 'data-testid="hold"' in html

    # Released through the hold form.
    data = form_data(html, "hold-hold")
    data["hold-hold"] = ""
    assert post(client, alpha, order_id, "hold", data).status_code == 302
    assert read(app, alpha, order_id).hold is None


def test_a_higher_revision_during_the_repair_goes_back_to_the_customer(app, client, alpha):
    order_id = make_order(app, alpha, S.IN_REPAIR)
    sign_in(client, alpha, "tech")
    html = open_page(client, alpha, order_id)
    assert 'data-testid="reapproval-note"' in html and "904.00" in html
    data = form_data(html, "quote-lines-0-kind")  # the editor opens on the approved lines
    assert data["quote-lines-0-description"] == "Screen"
    data["quote-lines-0-unit_price"] = "900.00"
    assert post(client, alpha, order_id, "quote", data, send="1").status_code == 302
    order = read(app, alpha, order_id)
    assert order.status is S.QUOTED
    html = open_page(client, alpha, order_id)
    assert "The price rose" in html


# --- cancel, close, stale pages -------------------------------------------------------------------


def test_the_desk_cancels_with_a_reason(app, client, alpha):
    order_id = make_order(app, alpha)
    sign_in(client, alpha, "frontdesk")
    html = open_page(client, alpha, order_id)
    data = form_data(html, "cancel-reason")
    empty = post(client, alpha, order_id, "cancel", data)
    assert empty.status_code == 400 and "Give a reason." in empty.text
    assert read(app, alpha, order_id).status is S.RECEIVED
    data["cancel-reason"] = "The customer took the device back"
    assert post(client, alpha, order_id, "cancel", data).status_code == 302
    order = read(app, alpha, order_id)
    assert order.status is S.CANCELLED
    html = open_page(client, alpha, order_id)
    assert "The customer took the device back" in html and 'data-testid="cancel-form"' not in html

    other = make_order(app, alpha)
    sign_in(client, alpha, "tech")
    html = open_page(client, alpha, other)
    response = post(client, alpha, other, "cancel", {"version": version_of(html), "cancel-reason": "No"})
    assert response.status_code == 409
    assert read(app, alpha, other).status is S.RECEIVED


def test_a_delivered_order_is_closed_by_the_desk(app, client, alpha):
    (order_id,) = query(
        app,
        alpha,
        sa.select(RepairOrder.id).where(
            RepairOrder.store_id == alpha.store_ids["S1"], RepairOrder.status == S.DELIVERED
        ),
    )
    sign_in(client, alpha, "frontdesk")
    html = open_page(client, alpha, order_id)
    assert f'href="/admin/repairs/steps/{order_id}/warranty"' in html
    assert "Acceptance at pick-up" in html and 'data-testid="photos"' in html
    assert post(client, alpha, order_id, "close", version=version_of(html)).status_code == 302
    assert read(app, alpha, order_id).status is S.CLOSED


def test_a_stale_page_is_refused_naming_the_change_and_keeping_the_input(app, client, alpha):
    order_id = make_order(app, alpha)
    sign_in(client, alpha, "manager")
    html = open_page(client, alpha, order_id)
    data = form_data(html, "cancel-reason")
    data["cancel-reason"] = "Typed before the technician moved it"
    with in_tenant(app, alpha):  # meanwhile the technician starts the diagnosis
        services.start_diagnosis(db.session.get(RepairOrder, order_id), person(alpha, "tech"))
        db.session.commit()
    response = post(client, alpha, order_id, "cancel", data)
    assert response.status_code == 409
    message = refusal(response.text)
    assert f"Tech {alpha.store_sentinel('S1')} changed this order" in message and "Diagnosing" in message
    assert "Typed before the technician moved it</textarea>" in response.text
    assert read(app, alpha, order_id).status is S.DIAGNOSING
    # The re-rendered form carries the version now shown: sent again deliberately, it works.
    assert (
        post(client, alpha, order_id, "cancel", form_data(response.text, "cancel-reason")).status_code == 302
    )


def test_a_stale_diagnosis_keeps_what_was_typed(app, client, alpha):
    order_id = make_order(app, alpha, S.DIAGNOSING)
    sign_in(client, alpha, "tech")
    data = form_data(open_page(client, alpha, order_id), "diagnosis-cause")
    data.update(
        {
            "diagnosis-cause": "Water damage",
            "diagnosis-plan": "Clean the board",
            "diagnosis-repair_type": "parts-replacement",
            "diagnosis-minutes": "30",
        }
    )
    with in_tenant(app, alpha):
        services.cancel_order(db.session.get(RepairOrder, order_id), person(alpha, "manager"), reason="Gone")
        db.session.commit()
    response = post(client, alpha, order_id, "diagnosis", data)
    assert response.status_code == 409
    assert f"Manager {alpha.store_sentinel('S1')} changed this order" in refusal(response.text)
    assert "Water damage</textarea>" in response.text
    assert read(app, alpha, order_id).diagnosis is None


# --- the passcode ---------------------------------------------------------------------------------


def test_the_passcode_is_shown_once_to_the_assigned_technician_only(app, client, alpha):
    order_id = make_order(app, alpha, S.DIAGNOSING, passcode="2580")
    sign_in(client, alpha, "tech")
    html = open_page(client, alpha, order_id)
    assert 'data-testid="show-passcode"' in html and "2580" not in html
    shown = post(client, alpha, order_id, "passcode", version=version_of(html))
    assert shown.status_code == 200
    assert 'data-testid="passcode-value">2580<' in shown.text
    assert shown.headers["Cache-Control"] == "no-store"
    assert "2580" not in open_page(client, alpha, order_id)

    for key in ("manager", "frontdesk", "owner"):
        sign_in(client, alpha, key)
        html = open_page(client, alpha, order_id)
        assert 'data-testid="show-passcode"' not in html
        refused = post(client, alpha, order_id, "passcode", version=version_of(html))
        assert refused.status_code == 409, key
        assert "Only the assigned technician sees the passcode." in refusal(refused.text)
        assert "2580" not in refused.text


# --- history --------------------------------------------------------------------------------------


def test_the_timeline_names_failed_qc_items_and_rework_links(app, client, alpha):
    order_id = make_order(app, alpha, S.IN_REPAIR)
    with in_tenant(app, alpha):
        order = db.session.get(RepairOrder, order_id)
        tech, manager = person(alpha, "tech"), person(alpha, "manager")
        services.log_work(order, tech, step="Screen", minutes=30)
        services.send_to_qc(order, tech)
        check = services.begin_qc_check(order, manager, today=date.today())
        critical = next(r for r in check.results if r.critical and r.kind == "pass_fail")
        answers = {
            r.item_code: services.ResultInput(
                passed=r is not critical, measured_value=r.min_value or 0.0, note="n"
            )
            for r in check.results
        }
        services.record_qc_results(check, manager, answers)
        for result in check.results:
            if result.kind == "photo":
                services.add_photo(
                    order, services.PhotoStage.QC, b"\x89PNG\r\n\x1a\nqc", "qc.png", manager, qc_result=result
                )
        services.finish_qc_check(check, manager)
        failed_text = critical.item_text["en"]
        (delivered,) = db.session.execute(
            sa.select(RepairOrder.id).where(
                RepairOrder.store_id == alpha.store_ids["S1"], RepairOrder.status == S.DELIVERED
            )
        ).scalars()
        rework = services.claim_warranty(
            db.session.get(RepairOrder, delivered),
            person(alpha, "frontdesk"),
            symptoms="Again",
            today=date.today(),
        )
        rework_id, rework_number = rework.id, rework.number
        db.session.commit()
    sign_in(client, alpha, "manager")
    html = open_page(client, alpha, order_id)
    assert 'data-testid="failed-items"' in html and failed_text in html
    assert read(app, alpha, order_id).status is S.IN_REPAIR
    assert rework_number in open_page(client, alpha, delivered)
    assert f'href="{page_path(delivered)}"' in open_page(client, alpha, rework_id)


# --- isolation ------------------------------------------------------------------------------------


def alpha_only_order(app, alpha, beta, stage: S = S.RECEIVED) -> int:
    """An alpha S1 order whose id beta does not have, so a 404 there says something."""
    beta_ids = set(query(app, beta, sa.select(RepairOrder.id)))
    for _attempt in range(30):
        order_id = make_order(app, alpha, stage)
        if order_id not in beta_ids:
            return order_id
    raise AssertionError("could not get an alpha order id beta lacks")


POSTS = [
    "start-diagnosis",
    "assign",
    "diagnosis",
    "quote",
    "decision",
    "start-repair",
    "work",
    "parts",
    "hold",
    "send-to-qc",
    "cancel",
    "close",
    "passcode",
]


def test_another_store_and_another_tenant_get_404_everywhere(app, client, alpha, beta):
    order_id = alpha_only_order(app, alpha, beta, S.DIAGNOSING)
    before = read(app, alpha, order_id)
    anything = {
        "version": str(before.version),
        "cancel-reason": "x",
        "hold-hold": "waiting_for_parts",
        "diagnosis-cause": "x",
        "diagnosis-plan": "x",
        "diagnosis-repair_type": "parts-replacement",
        "diagnosis-minutes": "5",
        "work-step": "x",
        "work-minutes": "5",
    }
    viewers = [(alpha, "manager2"), (alpha, "tech2"), (beta, "owner"), (beta, "manager"), (beta, "tech")]
    for tenant, key in viewers:
        sign_in(client, tenant, key)
        page = client.get(page_path(order_id), base_url=url(tenant))
        assert page.status_code == 404, (tenant.letter, key)
        assert alpha.store_sentinel("S1") not in page.text
        for step in POSTS:
            response = post(client, tenant, order_id, step, anything)
            assert response.status_code == 404, (tenant.letter, key, step)
            assert alpha.store_sentinel("S1") not in response.text
    after = read(app, alpha, order_id)
    assert (after.status, after.version, after.hold, after.diagnosis) == (
        before.status,
        before.version,
        before.hold,
        before.diagnosis,
    )
    # The alpha owner does see it (the probe looks at a real order).
    sign_in(client, alpha, "owner")
    assert alpha.store_sentinel("S1") in open_page(client, alpha, order_id)


@pytest.mark.parametrize("key", ["owner", "qa", "auditor", "inspector", "manager", "frontdesk", "tech"])
def test_every_seeded_order_of_the_store_opens_for_every_role_that_sees_orders(app, client, alpha, key):
    order_ids = query(
        app, alpha, sa.select(RepairOrder.id).where(RepairOrder.store_id == alpha.store_ids["S1"])
    )
    sign_in(client, alpha, key)
    for order_id in order_ids:
        html = open_page(client, alpha, order_id)
        assert alpha.store_sentinel("S2") not in html
    sign_in(client, alpha, "trainer")  # HR does not see repair orders at all
    assert client.get(page_path(order_ids[0]), base_url=url(alpha)).status_code == 403
