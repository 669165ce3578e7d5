"""The intake screen and its receipt (HB §2.1.2(1), §2.1.3), on both databases."""

from __future__ import annotations

import io
import re
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from repairqc.db import db
from repairqc.repairs.intake_forms import CONDITION_CHECKS
from repairqc.repairs.models import Customer, OrderPhoto, RepairOrder, Signature, SignaturePurpose
from repairqc.stores.models import Store
from tests.conftest import PNG, SIGNATURE, in_tenant, sign_in
from tests.htmlforms import form_data

INTAKE = "/admin/repairs/intake/"
VALID_IMEI = "490154203237518"
PHONE = "+86 138 1234 5678"
EMAIL = "zhang.min@example.com"


def url(tenant) -> str:
    return f"http://{tenant.host}"


def intake_page(client, tenant, query: str = ""):
    return client.get(INTAKE + (f"?q={quote(query)}" if query else ""), base_url=url(tenant))


def filled(html: str, **changes) -> dict:
    """What the desk posts after filling in the page: a new customer, a phone, two photos."""
    data: dict = form_data(html, "fault_symptoms")
    data.update(
        customer_id="new",
        new_name="Zhang Min",
        new_phone=PHONE,
        new_email=EMAIL,
        new_address="1 Nanjing Road",
        brand="Apple",
        model="iPhone 15",
        imei=VALID_IMEI,
        serial_number="SN-INTAKE-1",
        condition_checks=["scratches", "dents"],
        condition_notes="Small dent on the lower corner",
        accessories="Blue case",
        passcode="2580",
        fault_symptoms="The screen flickers",
        customer_requirements="Keep the photos on the phone",
        signer_name="Zhang Min",
        signature=SIGNATURE,
        photos=[(io.BytesIO(PNG + b"front"), "front.png"), (io.BytesIO(PNG + b"back"), "back.png")],
    )
    data.update(changes)
    return data


def post_intake(client, tenant, data: dict, query: str = ""):
    path = INTAKE + (f"?q={quote(query)}" if query else "")
    return client.post(path, base_url=url(tenant), data=data, content_type="multipart/form-data")


def order_count(app, tenant) -> int:
    with in_tenant(app, tenant):
        return db.session.scalar(sa.select(sa.func.count()).select_from(RepairOrder))


def receive(client, tenant, **changes) -> int:
    """Receive a device through the screen as the signed-in user; the new order's id."""
    response = post_intake(client, tenant, filled(intake_page(client, tenant).text, **changes))
    assert response.status_code == 302, response.text
    match = re.search(r"/admin/repairs/intake/receipt/(\d+)$", response.location)
    assert match, response.location
    return int(match.group(1))


def field_errors(html: str, name: str) -> list[str]:
    """The messages shown right after the form field `name` (up to the next form group)."""
    start = html.index(f'name="{name}"')
    end = min(i for i in (html.find('<div class="form-group', start), html.find("</form>", start)) if i > 0)
    return re.findall(r'<div class="invalid-feedback[^"]*">([^<]*)</div>', html[start:end])


# --- receiving a device -------------------------------------------------------------------------


def test_the_desk_receives_a_device_and_gets_a_printable_receipt(app, client, alpha):
    sign_in(client, alpha, "frontdesk")
    page = intake_page(client, alpha)
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="intake-form"' in html and 'enctype="multipart/form-data"' in html
    # The only store where the user serves customers, pre-selected.
    assert f'<option selected value="{alpha.store_ids["S1"]}">SENTINEL-A-S1 · Store SENTINEL-A-S1' in html
    for code in CONDITION_CHECKS:
        assert f'value="{code}"' in html
    assert 'data-testid="promised-dates"' in html
    assert 'type="file"' in html and "multiple" in html
    assert "stored encrypted" in html.lower()

    before = order_count(app, alpha)
    order_id = receive(client, alpha)
    assert order_count(app, alpha) == before + 1

    with in_tenant(app, alpha):
        order = db.session.get(RepairOrder, order_id)
        store = db.session.get(Store, alpha.store_ids["S1"])
        assert order.store_id == store.id
        assert re.fullmatch(rf"{re.escape(store.code)}-\d{{6}}", order.number)
        assert order.customer.full_name == "Zhang Min" and order.customer.phone == PHONE
        assert order.customer.email == EMAIL and order.customer.store_id == store.id
        assert order.device.imei == VALID_IMEI and order.device.serial_number == "SN-INTAKE-1"
        assert order.device.condition_checks == ["scratches", "dents"]
        assert order.device.passcode == "2580" and order.device.accessories == "Blue case"
        assert order.fault_symptoms == "The screen flickers"
        assert order.customer_requirements == "Keep the photos on the phone"
        assert order.promised_at is not None  # smartphones: the turnaround target of the standard
        number, customer_id = order.number, order.customer_id
        promised = order.promised_at
        # Encrypted at rest (HB §6.1.2): the raw column holds no digits of the number.
        raw = db.session.execute(
            sa.text("SELECT phone, email FROM customers WHERE id = :id"), {"id": customer_id}
        ).one()
        assert "12345678" not in raw.phone and "1234 5678" not in raw.phone
        assert "zhang.min" not in raw.email
        photos = (
            db.session.execute(sa.select(OrderPhoto).where(OrderPhoto.order_id == order_id)).scalars().all()
        )
        assert len(photos) == 2 and {p.file.store_id for p in photos} == {store.id}
        signature = db.session.execute(
            sa.select(Signature).where(
                Signature.order_id == order_id, Signature.purpose == SignaturePurpose.INTAKE_TERMS
            )
        ).scalar_one()
        assert signature.file.store_id == store.id and signature.signer_name == "Zhang Min"
        signature_file = signature.file_id

    receipt = client.get(f"/admin/repairs/intake/receipt/{order_id}", base_url=url(alpha))
    assert receipt.status_code == 200
    text = receipt.text
    for expected in (
        number, "Store SENTINEL-A-S1", "Zhang Min", "Apple iPhone 15", VALID_IMEI, "SN-INTAKE-1",
        "Scratches", "Dents", "Small dent on the lower corner", "Blue case", "The screen flickers",
        "window.print()", f"/files/{signature_file}", f"{url(alpha)}/track/",
        f"/admin/repairs/orders/{order_id}/", 'data-testid="receipt-terms"', str(promised.year),
    ):  # fmt: skip
        assert expected in text, expected
    assert "2580" not in text  # the passcode is never printed
    assert "@media print" in text
    assert client.get(f"/files/{signature_file}", base_url=url(alpha)).status_code == 200


def test_an_invalid_imei_is_refused_on_its_field_and_nothing_is_saved(app, client, alpha):
    sign_in(client, alpha, "frontdesk")
    before = order_count(app, alpha)
    response = post_intake(client, alpha, filled(intake_page(client, alpha).text, imei="490154203237519"))
    assert response.status_code == 400
    assert order_count(app, alpha) == before
    errors = field_errors(response.text, "imei")
    assert errors and "is not a valid IMEI" in errors[0]
    # Everything typed is kept, except the files and the signature, and the page says so.
    assert 'value="Zhang Min"' in response.text and "The screen flickers" in response.text
    assert 'value="490154203237519"' in response.text
    assert re.search(r'value="scratches"[^>]*checked|checked[^>]*value="scratches"', response.text)
    assert 'data-testid="redo-files"' in response.text
    with in_tenant(app, alpha):
        assert not db.session.execute(sa.select(Customer).where(Customer.full_name == "Zhang Min")).first()


def test_a_missing_signature_is_refused(app, client, alpha):
    sign_in(client, alpha, "frontdesk")
    before = order_count(app, alpha)
    response = post_intake(client, alpha, filled(intake_page(client, alpha).text, signature=""))
    assert response.status_code == 400
    assert "The customer&#39;s signature is missing." in response.text
    assert order_count(app, alpha) == before


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"brand": ""}, "brand", "Enter the brand."),
        ({"fault_symptoms": "  "}, "fault_symptoms", "Describe the fault as the customer tells it."),
        ({"new_email": "not-an-address"}, "new_email", "Enter a valid e-mail address."),
        (
            {"new_phone": "", "new_email": ""},
            "new_phone",
            "Give the customer&#39;s phone number or e-mail address.",
        ),
        ({"signer_name": ""}, "signer_name", "Enter the name of the person signing."),
        ({"photos": lambda: [(io.BytesIO(b"<html>not a photo"), "x.png")]}, "photos", "is not a"),
        ({"customer_id": "99999999999"}, "customer_id", "Choose a customer or enter a new one."),
    ],
)
def test_bad_input_is_shown_at_its_field(app, client, alpha, changes, field, message):
    sign_in(client, alpha, "frontdesk")
    before = order_count(app, alpha)
    changes = {key: value() if callable(value) else value for key, value in changes.items()}  # fresh files
    response = post_intake(client, alpha, filled(intake_page(client, alpha).text, **changes))
    assert response.status_code == 400
    assert any(message in error for error in field_errors(response.text, field)), field_errors(
        response.text, field
    )
    assert order_count(app, alpha) == before


@pytest.mark.parametrize("store", ["abc", "99999999999", "-1"])
def test_garbage_store_is_a_form_error_not_a_crash(app, client, alpha, store):
    sign_in(client, alpha, "frontdesk")
    before = order_count(app, alpha)
    response = post_intake(client, alpha, filled(intake_page(client, alpha).text, store=store))
    assert response.status_code == 400
    assert order_count(app, alpha) == before


def test_a_store_where_the_user_has_no_desk_role_is_refused(app, client, alpha):
    """manager2 serves S2 only: posting S1 as the store is refused, nothing saved."""
    sign_in(client, alpha, "manager2")
    page = intake_page(client, alpha).text
    assert "SENTINEL-A-S1" not in page
    before = order_count(app, alpha)
    response = post_intake(client, alpha, filled(page, store=str(alpha.store_ids["S1"])))
    assert response.status_code == 400
    assert order_count(app, alpha) == before


# --- finding the customer -----------------------------------------------------------------------


def test_search_by_phone_finds_the_stores_customer_and_picks_it(app, client, alpha):
    sign_in(client, alpha, "frontdesk")
    page = intake_page(client, alpha, "+86 100 0000").text  # the seeded customer of each store
    assert "Customer 0 SENTINEL-A-S1" in page
    assert "SENTINEL-A-S2" not in page  # the same number at the other store stays hidden
    assert "•••0000" in page  # the number is shown masked (HB §6.1.2)
    with in_tenant(app, alpha):
        customer = db.session.execute(
            sa.select(Customer).where(Customer.full_name == "Customer 0 SENTINEL-A-S1")
        ).scalar_one()
        customer_id = customer.id
    assert re.search(rf'value="{customer_id}" checked', page)  # one hit: already picked

    data = filled(page, new_name="", new_phone="", new_email="")
    data["customer_id"] = str(customer_id)
    response = post_intake(client, alpha, data, query="+86 100 0000")
    assert response.status_code == 302, response.text
    order_id = int(response.location.rsplit("/", 1)[1])
    with in_tenant(app, alpha):
        assert db.session.get(RepairOrder, order_id).customer_id == customer_id


def test_search_by_email_and_by_part_of_the_name(app, client, alpha):
    sign_in(client, alpha, "frontdesk")
    receive(client, alpha)
    assert "Zhang Min" in intake_page(client, alpha, EMAIL.upper()).text
    assert "Zhang Min" in intake_page(client, alpha, "ang mi").text
    assert "Zhang Min" not in intake_page(client, alpha, "zhang.min@example").text  # e-mail: exact only
    missing = intake_page(client, alpha, "+86 199 9999 9999").text
    assert 'data-testid="no-match"' in missing
    assert 'value="+86 199 9999 9999"' in missing  # pre-filled as the new customer's phone


def test_another_stores_user_neither_finds_nor_uses_the_customer(app, client, alpha):
    sign_in(client, alpha, "frontdesk")
    receive(client, alpha)
    with in_tenant(app, alpha):
        customer_id = db.session.execute(
            sa.select(Customer.id).where(Customer.full_name == "Zhang Min")
        ).scalar_one()
    client.post("/logout", base_url=url(alpha))

    sign_in(client, alpha, "manager2")
    for query in (PHONE, EMAIL, "Zhang"):
        page = intake_page(client, alpha, query).text
        assert "Zhang Min" not in page, query
    other = intake_page(client, alpha, "+86 100 0000").text
    assert "Customer 0 SENTINEL-A-S2" in other and "SENTINEL-A-S1" not in other

    before = order_count(app, alpha)
    data = filled(
        intake_page(client, alpha).text, new_name="", new_phone="", new_email="", signer_name="Wang Fang"
    )
    data["customer_id"] = str(customer_id)
    response = post_intake(client, alpha, data)
    assert response.status_code == 404
    assert "That customer was not found." in response.text and "Zhang Min" not in response.text
    assert order_count(app, alpha) == before


# --- who may receive ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["tech", "tech2", "qa", "inspector"])
def test_only_desk_roles_open_the_screen_or_see_it_in_the_menu(app, client, alpha, key):
    sign_in(client, alpha, key)
    assert intake_page(client, alpha).status_code == 403
    before = order_count(app, alpha)
    assert post_intake(client, alpha, filled_blank()).status_code == 403
    assert order_count(app, alpha) == before
    assert INTAKE not in client.get("/admin/", base_url=url(alpha)).text


def filled_blank() -> dict:
    return {"brand": "Apple", "model": "X", "fault_symptoms": "Broken", "signer_name": "X",
            "signature": SIGNATURE, "new_name": "Intruder", "new_phone": "123456",
            "category": "smartphone"}  # fmt: skip


@pytest.mark.parametrize("key", ["frontdesk", "manager", "manager2", "owner"])
def test_desk_roles_see_the_screen_in_the_menu(app, client, alpha, key):
    sign_in(client, alpha, key)
    assert INTAKE in client.get("/admin/", base_url=url(alpha)).text
    assert intake_page(client, alpha).status_code == 200


def test_the_owner_chooses_among_all_stores(app, client, alpha):
    sign_in(client, alpha, "owner")
    page = intake_page(client, alpha).text
    assert "Store SENTINEL-A-S1" in page and "Store SENTINEL-A-S2" in page
    order_id = receive(client, alpha, store=str(alpha.store_ids["S2"]))
    with in_tenant(app, alpha):
        assert db.session.get(RepairOrder, order_id).store_id == alpha.store_ids["S2"]


# --- the receipt: isolation, e-mail -------------------------------------------------------------


def test_the_receipt_stays_in_its_store_and_tenant(app, client, alpha, beta):
    sign_in(client, alpha, "frontdesk")
    order_id = receive(client, alpha)
    receipt = f"/admin/repairs/intake/receipt/{order_id}"
    client.post("/logout", base_url=url(alpha))

    sign_in(client, alpha, "manager2")
    assert client.get(receipt, base_url=url(alpha)).status_code == 404
    assert client.post(receipt + "/email", base_url=url(alpha)).status_code == 404
    client.post("/logout", base_url=url(alpha))
    sign_in(client, alpha, "tech")  # same store, but not a desk role
    assert client.get(receipt, base_url=url(alpha)).status_code == 403
    client.post("/logout", base_url=url(alpha))

    # In beta the same id is some beta order or nothing: never alpha's. A beta user of the
    # other store than that order's gets a plain 404.
    with in_tenant(app, beta):
        beta_order = db.session.get(RepairOrder, order_id)
        beta_store = beta_order.store_id if beta_order else None
    outsider = "manager2" if beta_store == beta.store_ids["S1"] else "frontdesk"
    for key in ("owner", outsider):
        sign_in(client, beta, key)
        response = client.get(receipt, base_url=url(beta))
        assert "Zhang Min" not in response.text and "SENTINEL-A" not in response.text
        if key == outsider:
            assert response.status_code == 404
        client.post("/logout", base_url=url(beta))


@pytest.mark.parametrize("order_id", ["99999999999", "0", "abc", "-1"])
def test_unknown_receipts_are_404(app, client, alpha, order_id):
    sign_in(client, alpha, "frontdesk")
    assert client.get(f"/admin/repairs/intake/receipt/{order_id}", base_url=url(alpha)).status_code == 404
    assert (
        client.post(f"/admin/repairs/intake/receipt/{order_id}/email", base_url=url(alpha)).status_code == 404
    )


def test_the_receipt_is_emailed_with_the_tracking_link(app, client, alpha, mailbox):
    sign_in(client, alpha, "frontdesk")
    order_id = receive(client, alpha)
    assert not mailbox.messages  # receiving sends nothing by itself
    with in_tenant(app, alpha):
        number = db.session.get(RepairOrder, order_id).number

    response = client.post(f"/admin/repairs/intake/receipt/{order_id}/email", base_url=url(alpha))
    assert response.status_code == 302
    assert len(mailbox.messages) == 1
    mail = mailbox.messages[0]
    assert mail["To"] == EMAIL and number in mail["Subject"]
    body = mail.get_content()
    assert number in body and f"{url(alpha)}/track/" in body
    page = client.get(response.location, base_url=url(alpha)).text
    assert f"The receipt is on its way to {EMAIL}." in page


def test_no_email_address_no_email(app, client, alpha, mailbox):
    sign_in(client, alpha, "frontdesk")
    order_id = receive(client, alpha, new_email="")
    page = client.get(f"/admin/repairs/intake/receipt/{order_id}", base_url=url(alpha)).text
    assert 'data-testid="email-receipt"' not in page
    response = client.post(f"/admin/repairs/intake/receipt/{order_id}/email", base_url=url(alpha))
    assert response.status_code == 400
    assert "Zhang Min has no e-mail address" in response.text
    assert not mailbox.messages


# --- language -----------------------------------------------------------------------------------


def test_the_screen_follows_the_chosen_language(app, client, alpha):
    sign_in(client, alpha, "frontdesk")
    client.post("/language", base_url=url(alpha), data={"locale": "zh_Hans_CN"})
    try:
        page = intake_page(client, alpha)
        assert page.status_code == 200
        assert 'lang="zh-Hans"' in page.text
        assert '<option selected value="zh_Hans_CN">' in page.text  # new customers default to it too
        order_id = receive(client, alpha)
        receipt = client.get(f"/admin/repairs/intake/receipt/{order_id}", base_url=url(alpha))
        assert receipt.status_code == 200 and 'lang="zh-Hans"' in receipt.text
    finally:
        client.post("/language", base_url=url(alpha), data={"locale": "en"})


# --- CSRF ---------------------------------------------------------------------------------------


def test_both_forms_carry_a_csrf_token_and_refuse_a_post_without_it(app, client, alpha, monkeypatch):
    sign_in(client, alpha, "frontdesk")
    order_id = receive(client, alpha)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    page = intake_page(client, alpha).text
    assert filled(page)["csrf_token"]  # the intake form posts its token
    receipt = client.get(f"/admin/repairs/intake/receipt/{order_id}", base_url=url(alpha)).text
    assert form_data(receipt, "csrf_token")["csrf_token"]  # so does "E-mail the receipt"

    before = order_count(app, alpha)
    without = filled(page)
    del without["csrf_token"]
    assert post_intake(client, alpha, without).status_code == 400
    assert order_count(app, alpha) == before
    email = client.post(f"/admin/repairs/intake/receipt/{order_id}/email", base_url=url(alpha))
    assert email.status_code == 400

    assert post_intake(client, alpha, filled(page)).status_code == 302  # with its token it goes through
    assert order_count(app, alpha) == before + 1
