"""The equipment screens (HB ch.4, §5.1.3(2)) on both databases, driven as a browser would:
GET a page, post what its form holds plus the user's input. Also the work-log form of the order
page (gating), and isolation of every custom screen between stores and between tenants.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import format_date

from repairqc.db import db, utcnow
from repairqc.equipment import services
from repairqc.equipment.models import (
    CalibrationRecord,
    CalibrationResult,
    EquipmentItem,
    EquipmentStatus,
    MaintenanceRecord,
    ProcurementRequest,
    ProcurementStatus,
    RetirementRequest,
    RetirementStatus,
)
from repairqc.repairs.models import RepairOrderStatus as S
from repairqc.repairs.models import WorkLog
from tests.conftest import in_tenant, sign_in, staff, store
from tests.htmlforms import _FormReader
from tests.test_repair_order_views import make_order

REGISTER = "/admin/equipment/register/"
DUE = "/admin/equipment/due/"
PROCUREMENT = "/admin/equipment/procurement/"
RETIREMENTS = "/admin/equipment/retirements/"
PDF = b"%PDF-1.4\n%view test\n%%EOF\n"


def today() -> date:
    return utcnow().date()


def url(tenant) -> str:
    return f"http://{tenant.host}"


def get(client, tenant, path: str):
    return client.get(path, base_url=url(tenant))


def post(client, tenant, path: str, data: dict, **kwargs):
    return client.post(path, base_url=url(tenant), data=data, **kwargs)


def sign_in_as(client, tenant, key: str) -> None:
    client.post("/logout", base_url=url(tenant))
    assert sign_in(client, tenant, key).status_code == 302


def form_fields(html: str, testid: str) -> dict[str, str]:
    match = re.search(rf'<form[^>]*data-testid="{testid}".*?</form>', html, re.S)
    assert match, f"no form {testid!r} on the page"
    reader = _FormReader()
    reader.feed(match.group(0))
    return dict(reader.forms[0])


def new_item(app, tenant, tag: str, store_name: str = "S1", equipment_type: str = "multimeter", **kw) -> int:
    with in_tenant(app, tenant):
        manager = staff(tenant, "manager" if store_name == "S1" else "manager2")
        thing = services.register_item(
            store(tenant, store_name),
            manager,
            asset_tag=tag,
            equipment_type=equipment_type,
            name=kw.pop("name", f"Tool {tag} {tenant.store_sentinel(store_name)}"),
            today=today(),
            **kw,
        )
        item_id = thing.id
        db.session.commit()
    return item_id


def overdue_item(app, tenant, tag: str, store_name: str = "S1", name: str | None = None) -> tuple[int, date]:
    """A multimeter whose calibration fell due 10 days ago; (id, the date it fell due)."""
    with in_tenant(app, tenant):
        interval = services.policy(today())["multimeter"].calibration_interval_days
        manager = staff(tenant, "manager" if store_name == "S1" else "manager2")
        thing = services.register_item(
            store(tenant, store_name),
            manager,
            asset_tag=tag,
            equipment_type="multimeter",
            name=name or f"Meter {tag}",
            in_service_on=today() - timedelta(days=interval + 100),
            today=today(),
        )
        services.record_calibration(
            thing,
            manager,
            calibrated_on=today() - timedelta(days=interval + 10),
            certificate_number=f"C-{tag}",
            calibrating_body="Lab",
            result=CalibrationResult.PASSED,
            today=today(),
        )
        result = (thing.id, thing.next_calibration_due_on)
        db.session.commit()
    return result


def item_state(app, tenant, item_id: int) -> dict:
    with in_tenant(app, tenant):
        db.session.expire_all()
        thing = db.session.get(EquipmentItem, item_id)
        return {
            "status": thing.status,
            "version": thing.version,
            "calibrations": db.session.scalar(
                sa.select(sa.func.count()).where(CalibrationRecord.item_id == item_id)
            ),
            "maintenance": db.session.scalar(
                sa.select(sa.func.count()).where(MaintenanceRecord.item_id == item_id)
            ),
            "next_calibration": thing.next_calibration_due_on,
        }


# --- the register -----------------------------------------------------------------------------------


def test_the_register_lists_the_users_stores_with_due_badges(app, client, alpha):
    overdue_item(app, alpha, "V-LATE")
    sign_in_as(client, alpha, "manager")
    page = get(client, alpha, REGISTER)
    assert page.status_code == 200
    assert alpha.store_sentinel("S1") in page.text and alpha.store_sentinel("S2") not in page.text
    row = re.search(r'<tr data-testid="item-row" data-tag="V-LATE">.*?</tr>', page.text, re.S).group(0)
    assert 'data-kind="calibration"' in row and "badge-danger" in row
    sign_in_as(client, alpha, "qa")  # HQ sees every store
    page = get(client, alpha, REGISTER)
    assert alpha.store_sentinel("S1") in page.text and alpha.store_sentinel("S2") in page.text
    assert get(client, alpha, f"{REGISTER}?store={alpha.store_ids['S2']}").status_code == 200
    sign_in_as(client, alpha, "manager")
    assert get(client, alpha, f"{REGISTER}?store={alpha.store_ids['S2']}").status_code == 404


def test_registering_over_http_and_refusals_keep_the_input(app, client, alpha):
    sign_in_as(client, alpha, "tech")
    assert get(client, alpha, f"{REGISTER}new").status_code == 403
    sign_in_as(client, alpha, "manager")
    form = get(client, alpha, f"{REGISTER}new")
    assert form.status_code == 200
    data = {
        "store": str(alpha.store_ids["S1"]),
        "asset_tag": "V-NEW",
        "equipment_type": "multimeter",
        "name": "Fluke 117",
        "brand": "Fluke",
        "price": "1600.00",
        "purchased_on": today().isoformat(),
    }
    saved = post(client, alpha, f"{REGISTER}new", data)
    assert saved.status_code == 302
    again = post(client, alpha, f"{REGISTER}new", {**data, "name": "Second meter"})
    assert again.status_code == 400
    assert "V-NEW is already in the register" in again.text and 'value="Second meter"' in again.text
    bad_price = post(client, alpha, f"{REGISTER}new", {**data, "asset_tag": "V-NEW-2", "price": "12,345.678"})
    assert bad_price.status_code == 400 and "at most two decimals" in bad_price.text
    other_store = post(
        client, alpha, f"{REGISTER}new", {**data, "asset_tag": "V-S2", "store": str(alpha.store_ids["S2"])}
    )
    assert other_store.status_code == 400  # not one of the choices offered to this manager
    with in_tenant(app, alpha):
        rows = (
            db.session.execute(sa.select(EquipmentItem).where(EquipmentItem.asset_tag.like("V-%")))
            .scalars()
            .all()
        )
        assert [(i.asset_tag, i.price_cents, i.store_id) for i in rows] == [
            ("V-NEW", 160000, alpha.store_ids["S1"])
        ]


def test_item_page_offers_each_role_its_steps_and_records_daily_care_and_calibration(app, client, alpha):
    item_id = new_item(app, alpha, "V-1")
    path = f"{REGISTER}{item_id}/"
    sign_in_as(client, alpha, "tech")
    page = get(client, alpha, path)
    assert page.status_code == 200
    assert 'data-testid="care-form"' in page.text and 'data-testid="calibration-form"' not in page.text
    care = form_fields(page.text, "care-form")
    care.update({"care-inspected": "y", "care-cleaned": "y"})
    assert post(client, alpha, f"{path}care", care).status_code == 302
    assert item_state(app, alpha, item_id)["maintenance"] == 1

    sign_in_as(client, alpha, "manager")
    page = get(client, alpha, path)
    calibration = form_fields(page.text, "calibration-form")
    future = today() + timedelta(days=3)
    refused = post(
        client,
        alpha,
        f"{path}calibration",
        {
            **calibration,
            "calibration-calibrated_on": future.isoformat(),
            "calibration-certificate_number": "CERT-9",
            "calibration-calibrating_body": "Lab",
        },
    )
    assert refused.status_code == 400
    assert "in the future" in refused.text and 'value="CERT-9"' in refused.text
    assert item_state(app, alpha, item_id)["calibrations"] == 0
    saved = post(
        client,
        alpha,
        f"{path}calibration",
        {
            **calibration,
            "calibration-certificate_number": "CERT-9",
            "calibration-calibrating_body": "Lab",
            "calibration-scan": (io.BytesIO(PDF), "cert.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert saved.status_code == 302
    state = item_state(app, alpha, item_id)
    interval = None
    with in_tenant(app, alpha):
        interval = services.policy(today())["multimeter"].calibration_interval_days
    assert state["calibrations"] == 1 and state["next_calibration"] == today() + timedelta(days=interval)
    page = get(client, alpha, path)
    assert "CERT-9" in page.text and "Calibration certificate CERT-9" in page.text  # the scan is filed

    # a stale page (the item changed since it was shown) is refused with 409, nothing saved
    stale = post(
        client,
        alpha,
        f"{path}calibration",
        {**calibration, "calibration-certificate_number": "CERT-10", "calibration-calibrating_body": "Lab"},
    )
    assert stale.status_code == 409
    assert item_state(app, alpha, item_id)["calibrations"] == 1


def test_failure_repair_and_return_to_service_over_http(app, client, alpha):
    item_id = new_item(app, alpha, "V-2")
    path = f"{REGISTER}{item_id}/"
    sign_in_as(client, alpha, "tech")
    failure = form_fields(get(client, alpha, path).text, "failure-form")
    assert (
        post(client, alpha, f"{path}failure", {**failure, "failure-problem": "Display dead"}).status_code
        == 302
    )
    assert item_state(app, alpha, item_id)["status"] is EquipmentStatus.UNDER_MAINTENANCE
    sign_in_as(client, alpha, "manager")
    repair = form_fields(get(client, alpha, path).text, "repair-form")
    done = post(
        client, alpha, f"{path}repair", {**repair, "repair-outcome": "not_repaired", "repair-cost": "80"}
    )
    assert done.status_code == 302
    assert item_state(app, alpha, item_id)["status"] is EquipmentStatus.OUT_OF_SERVICE
    back = form_fields(get(client, alpha, path).text, "return-form")
    assert post(client, alpha, f"{path}return", {**back, "return-note": "New display"}).status_code == 302
    assert item_state(app, alpha, item_id)["status"] is EquipmentStatus.IN_SERVICE


def test_the_due_list_shows_overdue_items_of_the_users_stores(app, client, alpha):
    overdue_item(app, alpha, "V-D1")
    overdue_item(app, alpha, "V-D2", store_name="S2")
    sign_in_as(client, alpha, "manager")
    page = get(client, alpha, DUE)
    assert page.status_code == 200
    assert re.search(r'data-tag="V-D1" data-kind="calibration" data-overdue="yes"', page.text)
    assert "V-D2" not in page.text
    sign_in_as(client, alpha, "auditor")
    assert "V-D2" in get(client, alpha, DUE).text


# --- procurement ------------------------------------------------------------------------------------


def test_procurement_walkthrough_over_http(app, client, alpha):
    sign_in_as(client, alpha, "manager")
    created = post(
        client,
        alpha,
        f"{PROCUREMENT}new",
        {
            "store": str(alpha.store_ids["S1"]),
            "equipment_type": "power-supply",
            "quantity": "1",
            "needs": "Second bench for laptops",
        },
    )
    assert created.status_code == 302
    path = created.headers["Location"].replace(url(alpha), "")
    page = get(client, alpha, path)
    option = form_fields(page.text, "option-form")
    bad = post(
        client,
        alpha,
        f"{path}option",
        {
            **option,
            "option-brand": "Rigol",
            "option-model": "DP832",
            "option-supplier": "Rigol CN",
            "option-unit_price": "abc",
        },
    )
    assert bad.status_code == 400 and "200.00" in bad.text and 'value="Rigol"' in bad.text
    added = post(
        client,
        alpha,
        f"{path}option",
        {
            **option,
            "option-brand": "Rigol",
            "option-model": "DP832",
            "option-supplier": "Rigol CN",
            "option-unit_price": "3200",
        },
    )
    assert added.status_code == 302
    page = get(client, alpha, path)
    assert 'data-testid="decision-form"' not in page.text  # the manager does not decide
    sign_in_as(client, alpha, "qa")
    page = get(client, alpha, path)
    decision = form_fields(page.text, "decision-form")
    with in_tenant(app, alpha):
        record = (
            db.session.execute(sa.select(ProcurementRequest).order_by(ProcurementRequest.id.desc()))
            .scalars()
            .first()
        )
        option_id = record.options[0].id
    assert (
        post(
            client,
            alpha,
            f"{path}decision",
            {**decision, "decision-decision": "approve", "decision-option": str(option_id)},
        ).status_code
        == 302
    )
    sign_in_as(client, alpha, "manager")
    acceptance = form_fields(get(client, alpha, path).text, "acceptance-form")
    accepted = post(
        client,
        alpha,
        f"{path}acceptance",
        {**acceptance, "acceptance-outcome": "passed", "acceptance-asset_tags": "PSU-77\n"},
    )
    assert accepted.status_code == 302
    page = get(client, alpha, path)
    assert 'data-testid="registered-item"' in page.text and "PSU-77" in page.text
    with in_tenant(app, alpha):
        db.session.expire_all()
        record = db.session.get(ProcurementRequest, record.id)
        assert record.status is ProcurementStatus.ACCEPTED
        made = db.session.execute(
            sa.select(EquipmentItem).where(EquipmentItem.asset_tag == "PSU-77")
        ).scalar_one()
        assert (made.brand, made.price_cents, made.procurement_id) == ("Rigol", 320000, record.id)


# --- retirement -------------------------------------------------------------------------------------


def test_retirement_over_http_with_approval_by_qa_only(app, client, alpha):
    item_id = new_item(app, alpha, "V-R1")
    sign_in_as(client, alpha, "manager")
    page = get(client, alpha, f"{REGISTER}{item_id}/")
    retire = form_fields(page.text, "retire-form")
    started = post(
        client,
        alpha,
        f"{REGISTER}{item_id}/retire",
        {**retire, "retire-reason": "repair_cost", "retire-condition": "Cracked housing"},
    )
    assert started.status_code == 302
    with in_tenant(app, alpha):
        retirement_id = db.session.execute(
            sa.select(RetirementRequest.id).where(RetirementRequest.item_id == item_id)
        ).scalar_one()
    path = f"{RETIREMENTS}{retirement_id}/"
    plan = form_fields(get(client, alpha, path).text, "plan-form")
    assert post(client, alpha, f"{path}plan", {**plan, "plan-method": "recycling"}).status_code == 302
    page = get(client, alpha, path)
    assert 'data-testid="decision-form"' not in page.text
    decision_by_manager = post(
        client,
        alpha,
        f"{path}decision",
        {
            "csrf_token": "",
            "version": "2",
            "decision-decision": "approve",
        },
    )
    assert decision_by_manager.status_code == 409
    sign_in_as(client, alpha, "qa")
    decision = form_fields(get(client, alpha, path).text, "decision-form")
    assert (
        post(client, alpha, f"{path}decision", {**decision, "decision-decision": "approve"}).status_code
        == 302
    )
    sign_in_as(client, alpha, "manager")
    disposal = form_fields(get(client, alpha, path).text, "disposal-form")
    empty = post(client, alpha, f"{path}disposal", {**disposal, "disposal-record": ""})
    assert empty.status_code == 400 and "how it was disposed of" in empty.text
    assert (
        post(
            client, alpha, f"{path}disposal", {**disposal, "disposal-record": "Recycler receipt 7"}
        ).status_code
        == 302
    )
    with in_tenant(app, alpha):
        db.session.expire_all()
        assert db.session.get(RetirementRequest, retirement_id).status is RetirementStatus.DISPOSED
    assert item_state(app, alpha, item_id)["status"] is EquipmentStatus.RETIRED
    assert "V-R1" in get(client, alpha, RETIREMENTS).text


# --- work-log gating on the order page (HB §5.1.3(2)) -----------------------------------------------


def test_the_work_log_form_refuses_an_overdue_item_naming_it_and_its_date(app, client, alpha):
    order_id = make_order(app, alpha, S.IN_REPAIR)
    late_id, due = overdue_item(app, alpha, "V-W1", name="Hot air station")
    good_id = new_item(app, alpha, "V-W2", name="Tweezers set")
    elsewhere_id = new_item(app, alpha, "V-W3", store_name="S2")
    sign_in_as(client, alpha, "tech")
    order_page = f"/admin/repairs/orders/{order_id}/"
    page = get(client, alpha, order_page)
    work = form_fields(page.text, "work-form")
    assert f'value="{late_id}"' in page.text and f'value="{good_id}"' in page.text
    assert f'value="{elsewhere_id}"' not in page.text  # only the order's store's items are offered
    assert "calibration overdue" in page.text
    refused = post(
        client,
        alpha,
        f"{order_page}work",
        {
            **work,
            "work-step": "Reflowed the chip",
            "work-minutes": "20",
            "work-equipment_items": [str(late_id)],
        },
    )
    assert refused.status_code == 400
    with app.test_request_context():
        day = format_date(due)
    assert "V-W1 Hot air station" in refused.text and day in refused.text
    assert "Reflowed the chip" in refused.text  # what the technician typed is kept
    with in_tenant(app, alpha):
        assert db.session.scalar(sa.select(sa.func.count()).where(WorkLog.order_id == order_id)) == 0
    saved = post(
        client,
        alpha,
        f"{order_page}work",
        {
            **work,
            "work-step": "Reflowed the chip",
            "work-minutes": "20",
            "work-equipment_items": [str(good_id)],
        },
    )
    assert saved.status_code == 302
    with in_tenant(app, alpha):
        log = db.session.execute(sa.select(WorkLog).where(WorkLog.order_id == order_id)).scalar_one()
        assert [i.id for i in log.equipment_items] == [good_id]
    assert "V-W2 Tweezers set" in get(client, alpha, order_page).text


# --- isolation of the custom screens ----------------------------------------------------------------


def screen_paths(app, tenant) -> list[str]:
    with in_tenant(app, tenant):
        items = db.session.execute(sa.select(EquipmentItem.id)).scalars().all()
        requests = db.session.execute(sa.select(ProcurementRequest.id)).scalars().all()
        retirements = db.session.execute(sa.select(RetirementRequest.id)).scalars().all()
    return [
        REGISTER,
        DUE,
        PROCUREMENT,
        RETIREMENTS,
        *(f"{REGISTER}{i}/" for i in items),
        *(f"{PROCUREMENT}{i}/" for i in requests),
        *(f"{RETIREMENTS}{i}/" for i in retirements),
    ]


def test_custom_screens_never_show_another_tenants_rows(app, client, alpha, beta):
    for viewer, other in ((alpha, beta), (beta, alpha)):
        sign_in_as(client, viewer, "owner")
        seen_own = False
        for path in screen_paths(app, other) + screen_paths(app, viewer):
            page = get(client, viewer, path)
            assert page.status_code in (200, 404), path
            assert other.sentinel not in page.text, f"{path} at {viewer.letter} shows {other.sentinel}"
            seen_own = seen_own or viewer.sentinel in page.text
        assert seen_own


def test_custom_screens_keep_store_users_to_their_store(app, client, alpha):
    with in_tenant(app, alpha):
        s2_items = (
            db.session.execute(
                sa.select(EquipmentItem.id).where(EquipmentItem.store_id == alpha.store_ids["S2"])
            )
            .scalars()
            .all()
        )
        s2_requests = (
            db.session.execute(
                sa.select(ProcurementRequest.id).where(ProcurementRequest.store_id == alpha.store_ids["S2"])
            )
            .scalars()
            .all()
        )
        s2_retirements = (
            db.session.execute(
                sa.select(RetirementRequest.id).where(RetirementRequest.store_id == alpha.store_ids["S2"])
            )
            .scalars()
            .all()
        )
    for key in ("manager", "tech"):
        sign_in_as(client, alpha, key)
        for path in (REGISTER, DUE, PROCUREMENT, RETIREMENTS):
            page = get(client, alpha, path)
            assert alpha.store_sentinel("S2") not in page.text, (key, path)
        for item_id in s2_items:
            assert get(client, alpha, f"{REGISTER}{item_id}/").status_code == 404
            before = item_state(app, alpha, item_id)
            post(
                client,
                alpha,
                f"{REGISTER}{item_id}/failure",
                {"version": str(before["version"]), "failure-problem": "x"},
            )
            assert item_state(app, alpha, item_id) == before
    sign_in_as(client, alpha, "manager")
    for request_id in s2_requests:
        assert get(client, alpha, f"{PROCUREMENT}{request_id}/").status_code == 404
    for retirement_id in s2_retirements:
        assert get(client, alpha, f"{RETIREMENTS}{retirement_id}/").status_code == 404
        assert post(client, alpha, f"{RETIREMENTS}{retirement_id}/plan", {"version": "1"}).status_code == 404
    sign_in_as(client, alpha, "frontdesk")  # no row in the matrix for the desk: no screen
    assert get(client, alpha, REGISTER).status_code in (302, 403)
