"""The complaint screens and the public complaint pages (HB §9.3), driven as a browser would on
both databases: the public form and its abuse (honeypot, too fast, oversized, rate limit,
unknown store, another tenant's host), the confirmation link, the staff list with its deadline,
registering a phone complaint, logging the first contact, a stale page, and isolation of every
screen between tenants and stores.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from repairqc.complaints import public_views, services
from repairqc.complaints.models import Closure, Complaint, ComplaintChannel, ComplaintStatus, ContactMethod
from repairqc.db import db
from repairqc.repairs.models import Customer, RepairOrder
from tests.conftest import in_tenant, sign_in, staff, store
from tests.test_equipment_views import form_fields

LIST = "/admin/customer-complaints/"


def url(tenant) -> str:
    return f"http://{tenant.host}"


@pytest.fixture(autouse=True)
def _generous_rate_limit(app, monkeypatch):
    # The limiter's memory storage lives as long as the test session; only the rate-limit test
    # uses a real budget (with its own client address).
    monkeypatch.setitem(app.config, "COMPLAINT_FORM_RATE_LIMIT", "1000 per hour")
    monkeypatch.setitem(app.config, "COMPLAINT_FORM_STORE_RATE_LIMIT", "1000 per hour")


@pytest.fixture
def later(monkeypatch):
    """Move the public form's clock `seconds` on from now (the form was read, then filled in)."""

    def move(seconds: float) -> None:
        real = public_views.time.time
        monkeypatch.setattr(public_views, "clock", lambda: real() + seconds)

    return move


def store_code(app, tenant, name: str = "S1") -> str:
    with in_tenant(app, tenant):
        return store(tenant, name).code


def public_form(client, tenant, code: str, **environ) -> dict[str, str]:
    page = client.get(f"/complaint/{code}", base_url=url(tenant), environ_overrides=environ)
    assert page.status_code == 200
    return form_fields(page.text, "complaint-form")


def send(client, tenant, code: str, fields: dict, **environ):
    return client.post(f"/complaint/{code}", base_url=url(tenant), data=fields, environ_overrides=environ)


def filled(fields: dict, **values) -> dict:
    data = {
        **fields,
        "name": "Chen Jie",
        "phone": "+86 137 1111 2222",
        "description": "Nobody called me back",
    }
    data.update(values)
    return data


def complaint_by_number(number: str) -> Complaint:
    return db.session.execute(sa.select(Complaint).where(Complaint.number == number)).scalar_one()


# --- the public complaint form ----------------------------------------------------------------------------


def test_the_public_form_registers_the_complaint_and_tells_the_number_and_deadline(app, client, alpha, later):
    code = store_code(app, alpha)
    fields = public_form(client, alpha, code)
    assert fields["website"] == "" and fields["issued"]
    later(10)
    page = send(client, alpha, code, filled(fields, email="chen@example.com"))
    assert page.status_code == 200, page.text
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Robots-Tag"] == "noindex"
    number = re.search(r'data-testid="complaint-number">([^<]+)<', page.text).group(1)
    with in_tenant(app, alpha):
        complaint = complaint_by_number(number)
        assert complaint.channel is ComplaintChannel.WEB_FORM and complaint.store_id == alpha.store_ids["S1"]
        assert complaint.customer.full_name == "Chen Jie" and complaint.order_id is None
        assert complaint.language == "en" and complaint.contact_phone == "+86 137 1111 2222"
        deadline = services.local_moment(complaint.first_contact_due_at, complaint.store)
    with app.test_request_context():
        assert f"We will contact you by {deadline}." in page.text


def test_the_page_language_becomes_the_complaints(app, client, alpha, later):
    code = store_code(app, alpha)
    assert client.get(f"/complaint/{code}?lang=zh-CN", base_url=url(alpha)).status_code == 302
    fields = public_form(client, alpha, code)
    later(10)
    page = send(client, alpha, code, filled(fields))
    number = re.search(r'data-testid="complaint-number">([^<]+)<', page.text).group(1)
    with in_tenant(app, alpha):
        complaint = complaint_by_number(number)
        assert complaint.language == "zh_Hans_CN" and complaint.customer.language == "zh_Hans_CN"


def test_an_order_number_is_linked_only_with_its_customers_phone(app, client, alpha, later):
    code = store_code(app, alpha)
    with in_tenant(app, alpha):
        order = (
            db.session.execute(
                sa.select(RepairOrder)
                .where(RepairOrder.store_id == alpha.store_ids["S1"])
                .order_by(RepairOrder.id)
            )
            .scalars()
            .first()
        )
        number, phone = order.number, order.customer.phone
    first_form, second_form = public_form(client, alpha, code), public_form(client, alpha, code)
    later(10)
    stranger = send(client, alpha, code, filled(first_form, order_number=number))
    owner = send(client, alpha, code, filled(second_form, order_number=number.lower(), phone=phone))
    with in_tenant(app, alpha):
        first = complaint_by_number(re.search(r'complaint-number">([^<]+)<', stranger.text).group(1))
        assert first.order_id is None and "not matched" in first.events[0].note
        second = complaint_by_number(re.search(r'complaint-number">([^<]+)<', owner.text).group(1))
        assert second.order_id == order.id and second.customer_id == order.customer_id


def test_a_honeypot_a_quick_form_and_a_stale_form_are_refused(app, client, alpha, later):
    code = store_code(app, alpha)
    with in_tenant(app, alpha):
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Complaint))
    fields = public_form(client, alpha, code)
    later(10)
    bot = send(client, alpha, code, filled(fields, website="http://spam.example.com"))
    assert bot.status_code == 400 and "could not be accepted" in bot.text
    later(1)
    quick = send(client, alpha, code, filled(fields))
    assert quick.status_code == 400 and "very quick" in quick.text
    later(2 * 86400)
    stale = send(client, alpha, code, filled(fields))
    assert stale.status_code == 400 and "expired" in stale.text
    later(10)
    forged = send(client, alpha, code, filled(fields, issued="forged"))
    assert forged.status_code == 400
    other_store = send(client, alpha, store_code(app, alpha, "S2"), filled(fields))  # a token of S1
    assert other_store.status_code == 400
    with in_tenant(app, alpha):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Complaint)) == before


def test_oversized_and_missing_input_is_a_400_with_the_message(app, client, alpha, later):
    code = store_code(app, alpha)
    fields = public_form(client, alpha, code)
    later(10)
    huge = send(client, alpha, code, filled(fields, description="x" * 4001, name="n" * 500))
    assert huge.status_code == 400 and "Please correct the fields" in huge.text
    no_contact = send(client, alpha, code, filled(fields, phone="", email=""))
    assert no_contact.status_code == 400 and "phone number or an e-mail address" in no_contact.text
    bad_category = send(client, alpha, code, filled(fields, category="999999"))
    assert bad_category.status_code == 400


def test_sending_is_rate_limited_per_address(app, client, alpha, later, monkeypatch):
    monkeypatch.setitem(app.config, "COMPLAINT_FORM_RATE_LIMIT", "2 per hour")
    code = store_code(app, alpha)
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    fields = public_form(client, alpha, code)
    later(10)
    codes = [
        send(client, alpha, code, filled(fields, name=""), REMOTE_ADDR=address).status_code for _ in range(3)
    ]
    assert codes == [400, 400, 429]
    assert public_form(client, alpha, code, REMOTE_ADDR=address)  # reading the form is not limited


def test_sending_is_rate_limited_per_store(app, client, alpha, later, monkeypatch):
    monkeypatch.setitem(app.config, "COMPLAINT_FORM_STORE_RATE_LIMIT", "2 per hour")
    code = store_code(app, alpha, "S2")
    fields = public_form(client, alpha, code)
    later(10)
    codes = [
        send(
            client, alpha, code, filled(fields, name=""), REMOTE_ADDR=f"10.9.{n}.{uuid.uuid4().int % 250}"
        ).status_code
        for n in range(3)
    ]
    assert codes[-1] == 429


def test_unknown_stores_and_other_tenants_hosts(app, client, alpha, beta):
    assert client.get("/complaint/NO-SUCH-STORE", base_url=url(alpha)).status_code == 404
    assert client.get("/complaint/" + "X" * 300, base_url=url(alpha)).status_code == 404
    alpha_code = store_code(app, alpha)
    assert client.get(f"/complaint/{alpha_code}", base_url=url(beta)).status_code == 404
    assert client.post(f"/complaint/{alpha_code}", base_url=url(beta), data={"name": "x"}).status_code == 404
    assert client.get(f"/complaint/{alpha_code}", base_url="http://localhost").status_code == 404


def test_another_tenants_order_number_is_not_attached(app, client, alpha, beta, later):
    code = store_code(app, beta)
    with in_tenant(app, alpha):
        order = db.session.execute(sa.select(RepairOrder).order_by(RepairOrder.id)).scalars().first()
        number, phone = order.number, order.customer.phone
    fields = public_form(client, beta, code)
    later(10)
    page = send(client, beta, code, filled(fields, order_number=number, phone=phone))
    assert page.status_code == 200
    with in_tenant(app, beta):
        complaint = complaint_by_number(re.search(r'complaint-number">([^<]+)<', page.text).group(1))
        assert complaint.order_id is None


# --- the confirmation link ----------------------------------------------------------------------------


def resolved_token(app, tenant) -> tuple[int, str]:
    with in_tenant(app, tenant):
        desk = staff(tenant, "frontdesk")
        customer = (
            db.session.execute(
                sa.select(Customer).where(Customer.store_id == tenant.store_ids["S1"]).order_by(Customer.id)
            )
            .scalars()
            .first()
        )
        complaint = services.open_complaint(
            store=store(tenant), channel=ComplaintChannel.PHONE, description="Loud fan", customer=customer
        )
        services.log_contact(complaint, desk, channel=ContactMethod.PHONE, note="Called")
        services.resolve(
            complaint, desk, resolution="Cleaned the fan", outcome=services.ResolutionOutcome.NONE
        )
        token = services.confirmation_token(complaint)
        db.session.commit()
        return complaint.id, token


def test_the_customer_confirms_by_link_once(app, client, alpha, beta):
    complaint_id, token = resolved_token(app, alpha)
    page = client.get(f"/complaint/confirm/{token}", base_url=url(alpha))
    assert page.status_code == 200 and "Cleaned the fan" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert client.get(f"/complaint/confirm/{token}", base_url=url(beta)).status_code == 404
    missing = client.post(f"/complaint/confirm/{token}", base_url=url(alpha), data={})
    assert missing.status_code == 400
    done = client.post(f"/complaint/confirm/{token}", base_url=url(alpha), data={"answer": "yes"})
    assert done.status_code == 200 and "Your complaint is closed" in done.text
    with in_tenant(app, alpha):
        complaint = db.session.get(Complaint, complaint_id)
        assert complaint.status is ComplaintStatus.CLOSED and complaint.closure is Closure.CONFIRMED_BY_LINK
    assert client.get(f"/complaint/confirm/{token}", base_url=url(alpha)).status_code == 410
    again = client.post(
        f"/complaint/confirm/{token}", base_url=url(alpha), data={"answer": "no", "comment": "x"}
    )
    assert again.status_code == 410
    assert client.get(f"/complaint/confirm/{token}x", base_url=url(alpha)).status_code == 404


def test_no_reopens_the_complaint_with_the_comment(app, client, alpha):
    complaint_id, token = resolved_token(app, alpha)
    refused = client.post(f"/complaint/confirm/{token}", base_url=url(alpha), data={"answer": "no"})
    assert refused.status_code == 400 and "still wrong" in refused.text
    page = client.post(
        f"/complaint/confirm/{token}", base_url=url(alpha), data={"answer": "no", "comment": "Still loud"}
    )
    assert page.status_code == 200
    with in_tenant(app, alpha):
        complaint = db.session.get(Complaint, complaint_id)
        assert complaint.status is ComplaintStatus.CONTACTED and complaint.events[-1].note == "Still loud"


# --- the staff screens ----------------------------------------------------------------------------


def test_the_list_shows_the_deadline_and_filters(app, client, alpha):
    with in_tenant(app, alpha):
        complaint = services.open_complaint(
            store=store(alpha),
            channel=ComplaintChannel.EMAIL,
            description="Overdue one",
            customer=db.session.execute(sa.select(Customer)).scalars().first(),
            received_at=datetime.now(UTC) - timedelta(hours=27),
        )
        number = complaint.number
        db.session.commit()
    sign_in(client, alpha, "frontdesk")
    page = client.get(LIST, base_url=url(alpha))
    assert page.status_code == 200
    row = re.search(
        rf'<tr data-testid="complaint-row" data-number="{number}">.*?</tr>', page.text, re.S
    ).group(0)
    assert "overdue by 3 hours" in row and 'data-overdue="1"' in row
    assert alpha.store_sentinel("S1") in page.text and alpha.store_sentinel("S2") not in page.text
    overdue = client.get(f"{LIST}?state=overdue", base_url=url(alpha)).text
    assert number in overdue and "Walk-in" not in overdue
    closed = client.get(f"{LIST}?state=closed", base_url=url(alpha)).text
    assert number not in closed and 'data-testid="complaint-row"' in closed  # the seeded closed one
    assert client.get(f"{LIST}?store=999999", base_url=url(alpha)).status_code == 404
    assert client.get(f"{LIST}?store={alpha.store_ids['S2']}", base_url=url(alpha)).status_code == 404


def test_registering_a_phone_complaint_and_logging_the_first_contact(app, client, alpha):
    with in_tenant(app, alpha):
        customer = (
            db.session.execute(
                sa.select(Customer).where(Customer.store_id == alpha.store_ids["S1"]).order_by(Customer.id)
            )
            .scalars()
            .first()
        )
        phone = customer.phone
    sign_in(client, alpha, "frontdesk")
    search = client.get(f"{LIST}new?q={phone}", base_url=url(alpha))
    assert search.status_code == 200 and customer.full_name in search.text
    fields = form_fields(search.text, "register-form")
    assert fields["customer"] == str(customer.id)  # one hit: picked
    fields.update(channel="phone", description="Charges slowly since the repair")
    made = client.post(f"{LIST}new", base_url=url(alpha), data=fields)
    assert made.status_code == 302, made.text
    page = client.get(made.headers["Location"], base_url=url(alpha))
    assert "Charges slowly since the repair" in page.text and re.search(r"2[34] hours left", page.text)
    complaint_id = int(re.search(r"/customer-complaints/(\d+)/", made.headers["Location"]).group(1))
    contact = form_fields(page.text, "contact-form")
    contact.update({"contact-note": "Called, will bring it in"})
    logged = client.post(f"{LIST}{complaint_id}/contact", base_url=url(alpha), data=contact)
    assert logged.status_code == 302
    with in_tenant(app, alpha):
        complaint = db.session.get(Complaint, complaint_id)
        assert complaint.status is ComplaintStatus.CONTACTED and complaint.first_contact_on_time
        assert complaint.channel is ComplaintChannel.PHONE and complaint.customer_id == customer.id
    # the same page posted again: its version is stale
    stale = client.post(f"{LIST}{complaint_id}/contact", base_url=url(alpha), data=contact)
    assert stale.status_code == 409 and "changed this complaint" in stale.text


def test_registering_refusals_keep_the_input(app, client, alpha):
    sign_in(client, alpha, "frontdesk")
    fields = form_fields(client.get(f"{LIST}new", base_url=url(alpha)).text, "register-form")
    fields.update(description="Rude staff", contact_name="Guo Li", customer="new")
    no_contact = client.post(f"{LIST}new", base_url=url(alpha), data=fields)
    assert no_contact.status_code == 400 and "Guo Li" in no_contact.text
    fields.update(contact_phone="+86 136 2222 3333", order_number="NO-SUCH-ORDER")
    no_order = client.post(f"{LIST}new", base_url=url(alpha), data=fields)
    assert no_order.status_code == 400 and "has no order NO-SUCH-ORDER" in no_order.text
    fields.update(store=str(alpha.store_ids["S2"]), order_number="")
    assert client.post(f"{LIST}new", base_url=url(alpha), data=fields).status_code == 400  # not their store


def test_the_complaint_page_offers_each_role_its_steps(app, client, alpha):
    complaint_id, _token = resolved_token(app, alpha)
    sign_in(client, alpha, "manager")
    page = client.get(f"{LIST}{complaint_id}/", base_url=url(alpha)).text
    assert 'data-testid="close-form"' in page and 'data-testid="reopen-form"' in page
    assert 'data-testid="reassign-form"' in page and 'data-testid="timeline"' in page
    fields = form_fields(page, "close-form")
    fields.update({"close-how": "phone", "close-note": "Customer said it is fine"})
    assert client.post(f"{LIST}{complaint_id}/close", base_url=url(alpha), data=fields).status_code == 302
    client.post("/logout", base_url=url(alpha))
    sign_in(client, alpha, "frontdesk")
    page = client.get(f"{LIST}{complaint_id}/", base_url=url(alpha)).text
    assert 'data-testid="reopen-form"' in page and 'data-testid="close-form"' not in page
    assert 'data-testid="reassign-form"' not in page
    # a step the role may not take, posted anyway, is refused with nothing saved
    refused = client.post(
        f"{LIST}{complaint_id}/resolve",
        base_url=url(alpha),
        data={"version": "99", "resolve-outcome": "none", "resolve-resolution": "x"},
    )
    assert refused.status_code == 409


def test_technicians_have_no_complaint_screen(app, client, alpha):
    sign_in(client, alpha, "tech")
    assert client.get(LIST, base_url=url(alpha)).status_code in (302, 403)
    assert client.get("/admin/complaints/", base_url=url(alpha)).status_code in (302, 403)


def test_complaints_of_other_stores_and_tenants_are_not_found(app, client, alpha, beta):
    with in_tenant(app, alpha):
        s2 = (
            db.session.execute(sa.select(Complaint.id).where(Complaint.store_id == alpha.store_ids["S2"]))
            .scalars()
            .first()
        )
    with in_tenant(app, beta):
        theirs = db.session.execute(sa.select(sa.func.max(Complaint.id))).scalar()
    sign_in(client, alpha, "frontdesk")
    assert client.get(f"{LIST}{s2}/", base_url=url(alpha)).status_code == 404
    data = {"version": "1", "contact-channel": "phone", "contact-note": "x"}
    assert client.post(f"{LIST}{s2}/contact", base_url=url(alpha), data=data).status_code == 404
    client.post("/logout", base_url=url(alpha))
    sign_in(client, alpha, "owner")
    mine = client.get(LIST + "?state=all", base_url=url(alpha)).text
    assert beta.sentinel not in mine
    assert client.get(f"{LIST}{theirs}/", base_url=url(alpha)).status_code in (200, 404)
    page = client.get(f"{LIST}{theirs}/", base_url=url(alpha))
    assert beta.sentinel not in page.text
    with in_tenant(app, beta):
        before = db.session.get(Complaint, theirs).version
    client.post(f"{LIST}{theirs}/contact", base_url=url(alpha), data=data)
    with in_tenant(app, beta):
        assert db.session.get(Complaint, theirs).version == before
