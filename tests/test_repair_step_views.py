"""The step pages of a repair order: quality check (HB §5.1.3(5), §5.2.2), payment and
acceptance at pick-up (HB §2.1.2(5)) and warranty claims (HB §2.1.2(6)), on both databases.

Orders are walked to the step under test with the services (inside `in_tenant`), then the page
is driven as a browser would: GET the page, post what its form holds plus the user's input.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask_babel import format_date

from repairqc.accounts.models import StaffUser
from repairqc.db import db, utcnow
from repairqc.repairs import services
from repairqc.repairs.models import (
    DecisionMethod,
    OrderPhoto,
    Payment,
    QCCheck,
    QCCheckResult,
    QCCheckStatus,
    QuoteLineKind,
    RepairOrder,
    RepairOrderStatus,
    Signature,
    SignaturePurpose,
)
from repairqc.stores.models import Store
from tests.conftest import PASSWORD, PNG, SIGNATURE, csrf_token_from, in_tenant, sign_in
from tests.htmlforms import form_data

S = RepairOrderStatus


def today() -> date:
    return utcnow().date()


def url(tenant) -> str:
    return f"http://{tenant.host}"


def get(client, tenant, path: str):
    return client.get(path, base_url=url(tenant))


def post(client, tenant, path: str, data: dict, **kwargs):
    return client.post(path, base_url=url(tenant), data=data, **kwargs)


def page(order_id: int, step: str) -> str:
    return f"/admin/repairs/steps/{order_id}/{step}"


def person(tenant, key: str) -> StaffUser:
    return db.session.execute(sa.select(StaffUser).where(StaffUser.email == tenant.users[key])).scalar_one()


def full_name(app, tenant, key: str) -> str:
    with in_tenant(app, tenant):
        return person(tenant, key).full_name


# --- getting orders to a step ----------------------------------------------------------------------------


def in_qc(app, tenant) -> int:
    """A smartphone repaired by the S1 technician (whose passcode is 2580), waiting for its check."""
    with in_tenant(app, tenant):
        store = db.session.get(Store, tenant.store_ids["S1"])
        desk, tech = person(tenant, "frontdesk"), person(tenant, "tech")
        order = services.receive_order(
            store,
            desk,
            services.Intake(
                category="smartphone",
                brand="Apple",
                model="iPhone 14",
                fault_symptoms="Cracked screen",
                signer_name="Li Wei",
                signature_data_url=SIGNATURE,
                new_customer=services.NewCustomer("Li Wei", phone="+86 138 0013 8000"),
                passcode="2580",
            ),
        )
        services.start_diagnosis(order, tech)
        services.record_diagnosis(
            order,
            tech,
            cause="Broken glass",
            plan="Replace the screen",
            repair_type="parts-replacement",
            minutes=20,
            today=today(),
        )
        services.save_quote(
            order,
            tech,
            [services.LineInput(QuoteLineKind.PART, "Screen", 1, Decimal("800.00"), Decimal("13"))],
        )
        services.send_quote(order, tech, today=today())
        services.decide_quote(
            order,
            desk,
            revision=1,
            approve=True,
            method=DecisionMethod.IN_STORE,
            signer_name="Li Wei",
            today=today(),
        )
        services.start_repair(order, tech)
        services.log_work(order, tech, step="Replaced the screen", minutes=45)
        services.send_to_qc(order, tech)
        order_id = order.id
        db.session.commit()
    return order_id


def ready(app, tenant) -> int:
    """An order that passed its check: 904.00 due (800.00 + 13 % tax), nothing paid."""
    order_id = in_qc(app, tenant)
    with in_tenant(app, tenant):
        order = db.session.get(RepairOrder, order_id)
        inspector = person(tenant, "inspector")
        check = services.begin_qc_check(order, inspector, today=today())
        answers = {
            r.item_code: services.ResultInput(passed=True, measured_value=r.min_value, note="ok")
            for r in check.results
        }
        services.record_qc_results(check, inspector, answers)
        for result in check.results:
            if result.kind == "photo":
                services.add_photo(order, services.PhotoStage.QC, PNG, "qc.png", inspector, qc_result=result)
        services.finish_qc_check(check, inspector)
        assert order.status is S.READY
        db.session.commit()
    return order_id


def results_of(app, tenant, order_id: int) -> list[dict]:
    with in_tenant(app, tenant):
        check = db.session.execute(
            sa.select(QCCheck).where(QCCheck.repair_order_id == order_id).order_by(QCCheck.id.desc())
        ).scalar()
        return [
            {
                "id": r.id,
                "code": r.item_code,
                "kind": r.kind,
                "min": r.min_value,
                "max": r.max_value,
                "passed": r.passed,
                "value": r.measured_value,
                "note": r.note,
                "critical": r.critical,
            }
            for r in check.results
        ]


def answers(results: list[dict], photo: bool = True, **overrides) -> dict:
    """Every item answered so that it passes; `overrides` maps item codes to a field's value."""
    data: dict = {}
    for r in results:
        if r["kind"] == "pass_fail":
            data[f"result-{r['id']}-passed"] = "pass"
        elif r["kind"] == "measured":
            data[f"result-{r['id']}-value"] = str(r["min"] if r["min"] is not None else r["max"])
        elif r["kind"] == "photo" and photo:
            data[f"result-{r['id']}-photos"] = (io.BytesIO(PNG), "after.png")
        elif r["kind"] == "note":
            data[f"result-{r['id']}-note"] = "Checked"
    by_code = {r["code"]: r for r in results}
    for code, (part, value) in overrides.items():
        data[f"result-{by_code[code.replace('_', '-')]['id']}-{part}"] = value
    return data


def begin(client, tenant, order_id: int):
    html = get(client, tenant, page(order_id, "qc")).text
    return post(client, tenant, page(order_id, "qc") + "/begin", form_data(html, "version"))


def submit_check(client, app, tenant, order_id: int, action: str = "finish", photo: bool = True, **overrides):
    html = get(client, tenant, page(order_id, "qc")).text
    data = form_data(html, "version")
    data.update(answers(results_of(app, tenant, order_id), photo=photo, **overrides))
    data["action"] = action
    return post(client, tenant, page(order_id, "qc"), data, content_type="multipart/form-data")


def version_of(app, tenant, order_id: int) -> str:
    with in_tenant(app, tenant):
        return str(db.session.get(RepairOrder, order_id).version)


def status_of(app, tenant, order_id: int) -> RepairOrderStatus:
    with in_tenant(app, tenant):
        return db.session.get(RepairOrder, order_id).status


def seeded_qc_order(app, tenant, store: str = "S1") -> int:
    """The seeded order in QC whose check the store manager began."""
    with in_tenant(app, tenant):
        return db.session.execute(
            sa.select(QCCheck.repair_order_id).where(
                QCCheck.store_id == tenant.store_ids[store], QCCheck.status == QCCheckStatus.IN_PROGRESS
            )
        ).scalar_one()


def seeded_delivered_order(app, tenant, store: str = "S1") -> int:
    """The seeded order that went through every step (delivered today, 90 days of warranty)."""
    with in_tenant(app, tenant):
        return db.session.execute(
            sa.select(RepairOrder.id).where(
                RepairOrder.store_id == tenant.store_ids[store], RepairOrder.status == S.DELIVERED
            )
        ).scalar_one()


def cancel(app, tenant, order_id: int, by: str = "manager") -> str:
    """Someone else acts on the order meanwhile; returns their name."""
    with in_tenant(app, tenant):
        manager = person(tenant, by)
        services.cancel_order(db.session.get(RepairOrder, order_id), manager, reason="Customer took it back")
        db.session.commit()
        return manager.full_name


# --- the quality check -------------------------------------------------------------------------------------


def test_the_repairing_technician_cannot_begin_the_check(app, client, alpha):
    order_id = in_qc(app, alpha)
    sign_in(client, alpha, "tech")
    shown = get(client, alpha, page(order_id, "qc"))
    assert shown.status_code == 200
    assert "a colleague must check it" in shown.text
    assert 'data-testid="qc-begin"' not in shown.text
    refused = post(
        client, alpha, page(order_id, "qc") + "/begin", {"version": version_of(app, alpha, order_id)}
    )
    assert refused.status_code == 400
    assert "The technician who repaired the device cannot check it" in refused.text
    with in_tenant(app, alpha):
        assert db.session.scalar(sa.select(sa.func.count()).where(QCCheck.repair_order_id == order_id)) == 0


def test_roles_without_qc_rights_cannot_begin(app, client, alpha):
    order_id = in_qc(app, alpha)
    sign_in(client, alpha, "frontdesk")
    assert "does not allow quality checks" in get(client, alpha, page(order_id, "qc")).text
    refused = post(
        client, alpha, page(order_id, "qc") + "/begin", {"version": version_of(app, alpha, order_id)}
    )
    assert refused.status_code == 409
    assert "does not allow quality checks" in refused.text
    with in_tenant(app, alpha):
        assert db.session.scalar(sa.select(sa.func.count()).where(QCCheck.repair_order_id == order_id)) == 0


def test_a_passed_check_makes_the_device_ready(app, client, alpha):
    order_id = in_qc(app, alpha)
    sign_in(client, alpha, "inspector")
    assert 'data-testid="qc-begin"' in get(client, alpha, page(order_id, "qc")).text
    begun = begin(client, alpha, order_id)
    assert begun.status_code == 302 and begun.headers["Location"].endswith(page(order_id, "qc"))

    shown = get(client, alpha, page(order_id, "qc"))
    assert "Checklist of standards version 1" in shown.text
    assert "Touch responds over the whole screen" in shown.text
    assert 'data-testid="critical"' in shown.text
    assert "0.5–3 A" in shown.text and "≥ 80 %" in shown.text  # tolerances with their units
    assert 'type="file"' in shown.text

    finished = submit_check(client, app, alpha, order_id)
    assert finished.status_code == 302
    assert finished.headers["Location"].endswith(f"/admin/repairs/orders/{order_id}/")
    assert status_of(app, alpha, order_id) is S.READY
    after = get(client, alpha, page(order_id, "qc")).text
    assert "passed its quality check and is ready for pick-up" in after  # the flash
    assert 'data-testid="qc-past"' in after and "Passed" in after
    with in_tenant(app, alpha):
        photos = db.session.execute(sa.select(OrderPhoto).where(OrderPhoto.order_id == order_id)).scalars()
        assert [p.stage.value for p in photos if p.qc_result_id is not None] == ["qc"]


def test_a_failed_critical_item_sends_the_repair_back_with_the_item_as_reason(app, client, alpha):
    order_id = in_qc(app, alpha)
    sign_in(client, alpha, "inspector")
    begin(client, alpha, order_id)
    finished = submit_check(client, app, alpha, order_id, touch=("passed", "fail"))
    assert finished.status_code == 302
    assert finished.headers["Location"].endswith(f"/admin/repairs/orders/{order_id}/")
    assert status_of(app, alpha, order_id) is S.IN_REPAIR
    with in_tenant(app, alpha):
        event = db.session.get(RepairOrder, order_id).events[-1]
        assert event.to_status is S.IN_REPAIR
        assert "Touch responds over the whole screen" in event.reason
        assert event.details["failed_items"] == ["touch"]
    after = get(client, alpha, page(order_id, "qc")).text
    assert "goes back to the bench" in after and "Touch responds over the whole screen" in after
    assert "Failed" in after  # the check is listed with its failed item


def test_a_measured_value_outside_its_tolerance_fails(app, client, alpha):
    order_id = in_qc(app, alpha)
    sign_in(client, alpha, "inspector")
    begin(client, alpha, order_id)
    saved = submit_check(client, app, alpha, order_id, action="save", charging=("value", "3.5"))
    assert saved.status_code == 302
    charging = next(r for r in results_of(app, alpha, order_id) if r["code"] == "charging")
    assert charging["value"] == 3.5 and charging["passed"] is False
    assert "Outside tolerance" in get(client, alpha, page(order_id, "qc")).text
    # Charging is not critical: the device is ready, with the failed item noted.
    finished = submit_check(client, app, alpha, order_id, charging=("value", "3.5"))
    assert finished.status_code == 302 and status_of(app, alpha, order_id) is S.READY
    assert "noted: Charging current" in get(client, alpha, page(order_id, "qc")).text


def test_a_photo_item_needs_a_photo_and_nothing_typed_is_lost(app, client, alpha):
    order_id = in_qc(app, alpha)
    sign_in(client, alpha, "inspector")
    begin(client, alpha, order_id)
    refused = submit_check(
        client, app, alpha, order_id, photo=False, fault_gone=("note", "Screen replaced OK")
    )
    assert refused.status_code == 400
    assert "Answer every item first" in refused.text and "Photo of the device after repair" in refused.text
    assert "Screen replaced OK" in refused.text  # what was typed is shown again
    assert status_of(app, alpha, order_id) is S.QC
    saved = {r["code"]: r for r in results_of(app, alpha, order_id)}
    assert saved["fault-gone"]["passed"] is True and saved["fault-gone"]["note"] == "Screen replaced OK"
    # The photo alone completes it.
    html = get(client, alpha, page(order_id, "qc")).text
    data = form_data(html, "version")
    data[f"result-{saved['photo-after']['id']}-photos"] = (io.BytesIO(PNG), "after.png")
    data["action"] = "finish"
    done = post(client, alpha, page(order_id, "qc"), data, content_type="multipart/form-data")
    assert done.status_code == 302 and status_of(app, alpha, order_id) is S.READY


def test_unanswered_items_are_listed(app, client, alpha):
    order_id = in_qc(app, alpha)
    sign_in(client, alpha, "inspector")
    begin(client, alpha, order_id)
    results = results_of(app, alpha, order_id)
    html = get(client, alpha, page(order_id, "qc")).text
    data = form_data(html, "version")
    touch = next(r for r in results if r["code"] == "touch")
    data[f"result-{touch['id']}-passed"] = "pass"
    data[f"result-{touch['id']}-note"] = "Typed remark 42"
    data["action"] = "finish"
    refused = post(client, alpha, page(order_id, "qc"), data, content_type="multipart/form-data")
    assert refused.status_code == 400
    assert "Answer every item first" in refused.text
    assert "The reported fault is gone" in refused.text and "Charging current" in refused.text
    assert "Typed remark 42" in refused.text
    assert status_of(app, alpha, order_id) is S.QC


def test_a_value_that_is_not_a_number_saves_nothing(app, client, alpha):
    order_id = in_qc(app, alpha)
    sign_in(client, alpha, "inspector")
    begin(client, alpha, order_id)
    refused = submit_check(client, app, alpha, order_id, charging=("value", "2,1.5A"))
    assert refused.status_code == 400
    assert "Charging current: “2,1.5A” is not a number." in refused.text
    assert 'value="2,1.5A"' in refused.text
    assert all(r["passed"] is None for r in results_of(app, alpha, order_id))
    for garbage in ("nan", "inf", "1e999"):
        assert submit_check(client, app, alpha, order_id, charging=("value", garbage)).status_code == 400
    assert status_of(app, alpha, order_id) is S.QC


def test_only_the_inspector_who_began_records(app, client, alpha):
    order_id = seeded_qc_order(app, alpha)  # begun by the S1 manager
    manager = full_name(app, alpha, "manager")
    sign_in(client, alpha, "inspector")
    shown = get(client, alpha, page(order_id, "qc"))
    assert shown.status_code == 200
    assert f"Only {manager}, who began this check" in shown.text
    assert 'data-testid="qc-form"' not in shown.text
    data = {"version": version_of(app, alpha, order_id), "action": "finish"}
    data.update(answers(results_of(app, alpha, order_id)))
    refused = post(client, alpha, page(order_id, "qc"), data, content_type="multipart/form-data")
    assert refused.status_code == 409
    assert "Only the person who began this quality check records it." in refused.text
    assert all(r["passed"] is None for r in results_of(app, alpha, order_id))
    assert status_of(app, alpha, order_id) is S.QC
    # The manager who began it does record it.
    client.post("/logout", base_url=url(alpha))
    sign_in(client, alpha, "manager")
    assert 'data-testid="qc-form"' in get(client, alpha, page(order_id, "qc")).text
    assert submit_check(client, app, alpha, order_id, action="save").status_code == 302
    assert all(r["passed"] is not None for r in results_of(app, alpha, order_id) if r["kind"] != "photo")


def test_a_stale_check_page_is_refused_naming_the_change(app, client, alpha):
    order_id = in_qc(app, alpha)
    sign_in(client, alpha, "inspector")
    begin(client, alpha, order_id)
    html = get(client, alpha, page(order_id, "qc")).text
    manager = cancel(app, alpha, order_id)
    data = form_data(html, "version")
    data.update(answers(results_of(app, alpha, order_id), photo=False, touch=("note", "Kept 77")))
    data["action"] = "finish"
    refused = post(client, alpha, page(order_id, "qc"), data, content_type="multipart/form-data")
    assert refused.status_code == 409
    assert f"{manager} changed this order" in refused.text and "Cancelled" in refused.text
    assert all(r["passed"] is None for r in results_of(app, alpha, order_id))


def test_the_check_reads_in_chinese(app, client, alpha):
    order_id = seeded_qc_order(app, alpha)
    sign_in(client, alpha, "manager")
    client.post("/language", base_url=url(alpha), data={"locale": "zh_Hans_CN", "next": "/admin/"})
    assert "全屏触控正常" in get(client, alpha, page(order_id, "qc")).text


# --- payment and acceptance at pick-up ---------------------------------------------------------------------


def pay(client, tenant, order_id: int, amount: str, **extra):
    data = form_data(get(client, tenant, page(order_id, "delivery")).text, "amount")
    data.update(amount=amount, **extra)
    return post(client, tenant, page(order_id, "delivery") + "/payment", data)


def accept(client, tenant, order_id: int, html: str | None = None, **fields):
    html = html or get(client, tenant, page(order_id, "delivery")).text
    data = form_data(html, "signer_name")
    data.update({"confirmed_fixed": "y", "signer_name": "Li Wei", "signature": SIGNATURE})
    data.update(fields)
    return post(client, tenant, page(order_id, "delivery"), {k: v for k, v in data.items() if v is not None})


def payments_of(app, tenant, order_id: int) -> int:
    with in_tenant(app, tenant):
        return db.session.scalar(sa.select(sa.func.count()).where(Payment.order_id == order_id))


def acceptances_of(app, tenant, order_id: int) -> int:
    with in_tenant(app, tenant):
        return db.session.scalar(
            sa.select(sa.func.count()).where(
                Signature.order_id == order_id, Signature.purpose == SignaturePurpose.ACCEPTANCE
            )
        )


def test_payment_and_signature_deliver_and_start_the_warranty(app, client, alpha):
    order_id = ready(app, alpha)
    sign_in(client, alpha, "frontdesk")
    shown = get(client, alpha, page(order_id, "delivery"))
    assert shown.status_code == 200
    assert "904.00" in shown.text and 'data-testid="payment-form"' in shown.text
    assert 'data-testid="acceptance-form"' in shown.text and "signature_pad" in shown.text

    paid = pay(client, alpha, order_id, "904.00", method="card", reference="POS 123")
    assert paid.status_code == 302
    assert 'data-testid="paid-in-full"' in get(client, alpha, page(order_id, "delivery")).text

    delivered = accept(client, alpha, order_id)
    assert delivered.status_code == 302
    assert delivered.headers["Location"].endswith(f"/admin/repairs/orders/{order_id}/")
    until = today() + timedelta(days=90)  # parts replacement on a smartphone, default standard
    with in_tenant(app, alpha):
        order = db.session.get(RepairOrder, order_id)
        assert order.status is S.DELIVERED
        assert order.warranty_days == 90 and order.warranty_until == until
        assert order.customer_confirmed_fixed
        assert order.device.passcode is None  # HB §6.1.2: erased when the device leaves
        payment = db.session.execute(sa.select(Payment).where(Payment.order_id == order_id)).scalar_one()
        assert payment.amount_cents == 90400 and payment.method.value == "card"
    with app.test_request_context():
        long_date = format_date(until, "long")
    after = get(client, alpha, page(order_id, "delivery")).text
    assert f"The warranty runs until {long_date}." in after


def test_a_missing_signature_saves_nothing(app, client, alpha):
    order_id = ready(app, alpha)
    sign_in(client, alpha, "frontdesk")
    pay(client, alpha, order_id, "904")
    refused = accept(client, alpha, order_id, signature="", signer_name="Typed Signer 9")
    assert refused.status_code == 400
    assert "The customer&#39;s signature is missing." in refused.text
    assert 'value="Typed Signer 9"' in refused.text  # the input is kept
    assert status_of(app, alpha, order_id) is S.READY and acceptances_of(app, alpha, order_id) == 0


def test_delivery_without_confirmation_or_name_is_refused(app, client, alpha):
    order_id = ready(app, alpha)
    sign_in(client, alpha, "frontdesk")
    pay(client, alpha, order_id, "904")
    refused = accept(client, alpha, order_id, confirmed_fixed=None)
    assert (
        refused.status_code == 400 and "The customer must confirm that the fault is solved." in refused.text
    )
    nameless = accept(client, alpha, order_id, signer_name="  ")
    assert nameless.status_code == 400 and "Enter the name of the person signing." in nameless.text
    assert status_of(app, alpha, order_id) is S.READY and acceptances_of(app, alpha, order_id) == 0


def test_delivery_before_full_payment_is_refused(app, client, alpha):
    order_id = ready(app, alpha)
    sign_in(client, alpha, "frontdesk")
    pay(client, alpha, order_id, "500,00")
    shown = get(client, alpha, page(order_id, "delivery")).text
    assert "500.00" in shown and "404.00" in shown  # paid so far, still to pay
    refused = accept(client, alpha, order_id)
    assert refused.status_code == 409 and "The amount due has not been paid." in refused.text
    assert status_of(app, alpha, order_id) is S.READY and acceptances_of(app, alpha, order_id) == 0


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("904.01", "That is more than the amount still due."),
        ("0", "Enter an amount above zero."),
        ("-5", "Enter an amount above zero."),
        ("12abc", "Enter an amount such as 120.50"),
        ("1.234", "Enter an amount such as 120.50"),
        ("99999999999999999999", "Enter an amount such as 120.50"),
    ],
)
def test_bad_payments_are_refused(app, client, alpha, amount, message):
    order_id = ready(app, alpha)
    sign_in(client, alpha, "frontdesk")
    refused = pay(client, alpha, order_id, amount)
    assert refused.status_code == 400
    assert message in refused.text and f'value="{amount}"' in refused.text
    assert payments_of(app, alpha, order_id) == 0


def test_an_unknown_payment_method_is_refused(app, client, alpha):
    order_id = ready(app, alpha)
    sign_in(client, alpha, "frontdesk")
    assert pay(client, alpha, order_id, "10", method="bitcoin").status_code == 400
    assert payments_of(app, alpha, order_id) == 0


def test_a_stale_delivery_page_is_refused_naming_the_change(app, client, alpha):
    order_id = ready(app, alpha)
    sign_in(client, alpha, "frontdesk")
    pay(client, alpha, order_id, "904")
    html = get(client, alpha, page(order_id, "delivery")).text
    manager = cancel(app, alpha, order_id)
    refused = accept(client, alpha, order_id, html=html)
    assert refused.status_code == 409
    assert f"{manager} changed this order" in refused.text and "Cancelled" in refused.text
    assert acceptances_of(app, alpha, order_id) == 0


def test_only_the_desk_takes_payments(app, client, alpha):
    order_id = ready(app, alpha)
    sign_in(client, alpha, "tech")
    shown = get(client, alpha, page(order_id, "delivery"))
    assert shown.status_code == 200 and 'data-testid="payment-form"' not in shown.text
    refused = post(
        client,
        alpha,
        page(order_id, "delivery") + "/payment",
        {"version": version_of(app, alpha, order_id), "amount": "10", "method": "cash"},
    )
    assert refused.status_code == 409 and "Only the front desk and managers take payments." in refused.text
    assert payments_of(app, alpha, order_id) == 0


# --- warranty claims ---------------------------------------------------------------------------------------


def test_a_claim_within_the_warranty_opens_a_rework_order_at_no_charge(app, client, alpha):
    order_id = seeded_delivered_order(app, alpha)
    sign_in(client, alpha, "frontdesk")
    shown = get(client, alpha, page(order_id, "warranty"))
    assert shown.status_code == 200
    assert 'data-testid="warranty-days">90<' in shown.text
    data = form_data(shown.text, "symptoms")
    data["symptoms"] = "Touch fails again at the top edge"
    claimed = post(client, alpha, page(order_id, "warranty"), data)
    assert claimed.status_code == 302
    with in_tenant(app, alpha):
        rework = db.session.execute(
            sa.select(RepairOrder).where(RepairOrder.rework_of_id == order_id)
        ).scalar_one()
        assert claimed.headers["Location"].endswith(f"/admin/repairs/orders/{rework.id}/")
        assert rework.status is S.RECEIVED and rework.amount_due_cents == 0
        assert rework.fault_symptoms == "Touch fails again at the top edge"
        assert rework.device_id == db.session.get(RepairOrder, order_id).device_id
        number = rework.number
    again = get(client, alpha, page(order_id, "warranty")).text
    assert "Warranty rework order" in again and number in again  # flash and the list of reworks


def test_a_claim_without_symptoms_is_refused(app, client, alpha):
    order_id = seeded_delivered_order(app, alpha)
    sign_in(client, alpha, "frontdesk")
    data = form_data(get(client, alpha, page(order_id, "warranty")).text, "symptoms")
    refused = post(client, alpha, page(order_id, "warranty"), dict(data, symptoms="   "))
    assert refused.status_code == 400 and "Describe the fault as the customer tells it." in refused.text
    with in_tenant(app, alpha):
        assert db.session.scalar(sa.select(sa.func.count()).where(RepairOrder.rework_of_id == order_id)) == 0


def test_a_claim_after_the_warranty_is_refused_with_its_end_date(app, client, alpha):
    order_id = seeded_delivered_order(app, alpha)
    ended = today() - timedelta(days=1)
    with in_tenant(app, alpha):
        order = db.session.get(RepairOrder, order_id)
        order.warranty_until = ended
        number, version = order.number, order.version + 1
        db.session.commit()
        orders_before = db.session.scalar(sa.select(sa.func.count()).select_from(RepairOrder))
    with app.test_request_context():
        long_date = format_date(ended, "long")
    sign_in(client, alpha, "frontdesk")
    shown = get(client, alpha, page(order_id, "warranty")).text
    assert f"The warranty of {number} ended on {long_date}." in shown
    assert 'data-testid="warranty-form"' not in shown
    refused = post(client, alpha, page(order_id, "warranty"), {"version": str(version), "symptoms": "Broken"})
    assert refused.status_code == 409
    assert f"The warranty of {number} ended on {long_date}." in refused.text
    with in_tenant(app, alpha):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RepairOrder)) == orders_before


def test_orders_not_delivered_have_no_warranty_page_form(app, client, alpha):
    order_id = seeded_qc_order(app, alpha)
    sign_in(client, alpha, "frontdesk")
    shown = get(client, alpha, page(order_id, "warranty"))
    assert shown.status_code == 200 and "Only delivered repairs have a warranty" in shown.text
    refused = post(client, alpha, page(order_id, "warranty"), {"symptoms": "Broken"})
    assert refused.status_code == 409


# --- isolation and addresses -------------------------------------------------------------------------------


def posts(order_id: int) -> list[tuple[str, dict]]:
    fields = {
        "version": "1",
        "action": "finish",
        "amount": "1",
        "method": "cash",
        "confirmed_fixed": "y",
        "signer_name": "X",
        "signature": SIGNATURE,
        "symptoms": "Broken",
    }
    return [
        (page(order_id, step), fields)
        for step in ("qc/begin", "qc", "delivery/payment", "delivery", "warranty")
    ]


def snapshot(app, tenant, order_ids: list[int]) -> list:
    with in_tenant(app, tenant):
        return [
            (o.status, o.version, payments_of(app, tenant, o.id), acceptances_of(app, tenant, o.id))
            for o in (db.session.get(RepairOrder, i) for i in order_ids)
        ] + [
            db.session.scalar(sa.select(sa.func.count()).select_from(RepairOrder)),
            db.session.scalar(sa.select(sa.func.count()).select_from(QCCheck)),
            db.session.scalar(sa.select(sa.func.count()).where(QCCheckResult.passed.is_not(None))),
        ]


def assert_unreachable(client, tenant, order_ids: list[int], forbidden: str) -> None:
    for order_id in order_ids:
        for step in ("qc", "delivery", "warranty"):
            response = get(client, tenant, page(order_id, step))
            assert response.status_code == 404, (order_id, step)
            assert forbidden not in response.text
        for path, data in posts(order_id):
            response = post(client, tenant, path, data)
            assert response.status_code == 404, path
            assert forbidden not in response.text


def test_another_stores_manager_gets_404_and_changes_nothing(app, client, alpha):
    targets = [seeded_qc_order(app, alpha), seeded_delivered_order(app, alpha), ready(app, alpha)]
    before = snapshot(app, alpha, targets)
    sign_in(client, alpha, "manager2")
    assert_unreachable(client, alpha, targets, alpha.store_sentinel("S1"))
    assert snapshot(app, alpha, targets) == before


def test_another_tenants_users_get_404_and_never_see_alpha(app, client, alpha, beta):
    beta_max = max(beta.ids["repair_orders"])
    order_id = 0
    while order_id <= beta_max:  # an alpha order whose id beta does not have
        order_id = in_qc(app, alpha)
    before = snapshot(app, alpha, [order_id])
    for key in ("manager", "inspector", "frontdesk", "owner"):
        sign_in(client, beta, key)
        assert_unreachable(client, beta, [order_id], alpha.sentinel)
        # Ids both tenants have show beta's own order, never alpha's.
        for shared in alpha.ids["repair_orders"]:
            for step in ("qc", "delivery", "warranty"):
                assert alpha.sentinel not in get(client, beta, page(shared, step)).text
        client.post("/logout", base_url=url(beta))
    assert snapshot(app, alpha, [order_id]) == before
    # Alpha's own pages do not open with a beta session either (cookies are per host).
    sign_in(client, beta, "owner")
    assert get(client, alpha, page(order_id, "qc")).status_code == 302


@pytest.mark.parametrize("order_id", ["2147483648", "99999999999999999999", "0"])
def test_ids_out_of_range_are_404(app, client, alpha, order_id):
    sign_in(client, alpha, "owner")
    for step in ("qc", "delivery", "warranty"):
        assert get(client, alpha, f"/admin/repairs/steps/{order_id}/{step}").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(app, client, alpha):
    order_id = seeded_qc_order(app, alpha)
    response = get(client, alpha, page(order_id, "qc"))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_step_forms_carry_their_csrf_token(app, client, alpha, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    order_id = ready(app, alpha)
    token = csrf_token_from(client.get("/login", base_url=url(alpha)).text)
    client.post(
        "/login",
        base_url=url(alpha),
        data={"email": alpha.users["frontdesk"], "password": PASSWORD, "csrf_token": token},
    )
    forged = post(
        client,
        alpha,
        page(order_id, "delivery") + "/payment",
        {"version": version_of(app, alpha, order_id), "amount": "904", "method": "cash"},
    )
    assert forged.status_code == 400 and payments_of(app, alpha, order_id) == 0
    assert pay(client, alpha, order_id, "904").status_code == 302
    assert accept(client, alpha, order_id).status_code == 302
    assert status_of(app, alpha, order_id) is S.DELIVERED
