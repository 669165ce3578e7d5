"""Customers' contact details and device passcodes at rest (HB §6.1.2, §7.3.1(2)), on both databases.

The rows are read back raw, past the `EncryptedString` type, to prove that no plaintext reaches
the tenant's tables; searches go through the keyed hashes, and both kinds of key can rotate.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken

from repairqc import crypto
from repairqc.audit.models import AuditLog
from repairqc.db import db
from repairqc.repairs import services
from repairqc.repairs.models import Customer, Device, RepairOrder
from repairqc.repairs.workflow import Refused
from tests.conftest import in_tenant, staff
from tests.test_repair_services import delivered, in_repair, new_order

PHONE, PHONE_DIGITS = "+86 138 0013 8000", "8613800138000"
EMAIL, ADDRESS, PASSCODE = "Li.Wei@Example.com", "88 Nanjing Road, Shanghai", "258046"


def customer_details(**overrides) -> services.NewCustomer:
    values = dict(full_name="Li Wei", phone=PHONE, email=EMAIL, address=ADDRESS)
    values.update(overrides)
    return services.NewCustomer(**values)


def raw(table: sa.Table, row_id: int, *names: str) -> tuple:
    """The stored column values, bypassing the TypeDecorator that would decrypt them."""
    columns = [sa.type_coerce(table.c[name], sa.Text).label(name) for name in names]
    return tuple(db.session.execute(sa.select(*columns).where(table.c.id == row_id)).one())


@contextlib.contextmanager
def keys(app, encryption: str | None = None, lookup: str | None = None) -> Iterator[None]:
    saved = app.config["ENCRYPTION_KEY"], app.config["LOOKUP_KEY"]
    if encryption is not None:
        app.config["ENCRYPTION_KEY"] = encryption
    if lookup is not None:
        app.config["LOOKUP_KEY"] = lookup
    try:
        yield
    finally:
        app.config["ENCRYPTION_KEY"], app.config["LOOKUP_KEY"] = saved


def test_contact_details_and_passcode_are_stored_encrypted(app, alpha, backend):
    with in_tenant(app, alpha):
        order = new_order(alpha, new_customer=customer_details(), passcode=PASSCODE)
        customer, device = order.customer, order.device
        phone, email, address, phone_lookup, email_lookup = raw(
            Customer.__table__, customer.id, "phone", "email", "address", "phone_lookup", "email_lookup"
        )
        for token in (phone, email, address):
            assert token.startswith("gAAAAA")  # a Fernet token
            assert PHONE_DIGITS[2:] not in token and "@" not in token and "Nanjing" not in token
        assert [crypto.decrypt(t) for t in (phone, email, address)] == [PHONE, EMAIL, ADDRESS]
        # the search keys are keyed hashes of the normalised values, not the values
        assert re.fullmatch(r"[0-9a-f]{64}", phone_lookup) and re.fullmatch(r"[0-9a-f]{64}", email_lookup)
        assert phone_lookup == crypto.lookup_hash("phone", PHONE_DIGITS)
        assert email_lookup == crypto.lookup_hash("email", "li.wei@example.com")
        (passcode,) = raw(Device.__table__, device.id, "passcode")
        assert passcode.startswith("gAAAAA") and PASSCODE not in passcode
        assert crypto.decrypt(passcode) == PASSCODE
        # through the ORM the values read back as entered
        db.session.expire_all()
        customer = db.session.get(Customer, customer.id)
        assert (customer.phone, customer.email, customer.address) == (PHONE, EMAIL, ADDRESS)

        if backend.name == "postgresql":
            # plain SQL inside the tenant's transaction: the search_path is the tenant's schema
            row = db.session.execute(
                sa.text("SELECT phone, email, address, phone_lookup FROM customers WHERE id = :id"),
                {"id": customer.id},
            ).one()
            assert tuple(row) == (phone, email, address, phone_lookup)
            (text_passcode,) = db.session.execute(
                sa.text("SELECT passcode FROM devices WHERE id = :id"), {"id": device.id}
            ).one()
            assert text_passcode == passcode


def test_the_audit_log_holds_no_plaintext_contact_details(app, alpha):
    with in_tenant(app, alpha):
        order = new_order(alpha, new_customer=customer_details(), passcode=PASSCODE)
        order.customer.phone = "+86 139 1234 5678"
        db.session.flush()
        rows = db.session.execute(
            sa.select(AuditLog.before, AuditLog.after).where(
                AuditLog.table_name.in_(["customers", "devices"]),
                AuditLog.row_id.in_([str(order.customer_id), str(order.device_id)]),
            )
        ).all()
        assert rows
        dumped = repr(rows)
        assert any(after and after.get("phone") == "***" for _, after in rows)  # the change is still logged
        for secret in ("13800138000", "13912345678", "139 1234", "example.com", "Nanjing", PASSCODE):
            assert secret not in dumped.replace(" ", "") and secret not in dumped


@pytest.mark.parametrize(
    "query",
    ["0086 138-0013-8000", "+86 138 0013 8000", "8613800138000", "(+86) 138.0013.8000"],
)
def test_a_customer_is_found_by_phone_in_another_format(app, alpha, query):
    with in_tenant(app, alpha):
        customer = new_order(alpha, new_customer=customer_details(full_name="Phone Person")).customer
        assert customer in services.find_customers(query, {alpha.store_ids["S1"]})
        assert customer not in services.find_customers(query, {alpha.store_ids["S2"]})  # other store
        assert customer not in services.find_customers("0086 138-0013-8001", None)


@pytest.mark.parametrize("query", ["li.wei@example.com", "LI.WEI@EXAMPLE.COM", "  Li.Wei@example.COM "])
def test_a_customer_is_found_by_e_mail_in_another_case(app, alpha, query):
    with in_tenant(app, alpha):
        customer = new_order(alpha, new_customer=customer_details(full_name="Mail Person")).customer
        assert customer in services.find_customers(query, None)
        assert customer not in services.find_customers("li.wei@example.org", None)
        assert services.find_customers("   ", None) == []


def test_values_written_under_the_old_key_still_read_and_rotate_to_the_new_one(app, alpha):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with in_tenant(app, alpha):
        with keys(app, encryption=old):
            order = new_order(alpha, new_customer=customer_details(), passcode=PASSCODE)
            customer_id, device_id = order.customer_id, order.device_id
            (old_phone,) = raw(Customer.__table__, customer_id, "phone")
        Fernet(old.encode()).decrypt(old_phone.encode())  # written under the old key
        with keys(app, encryption=f"{new},{old}"):
            db.session.expire_all()
            customer, device = db.session.get(Customer, customer_id), db.session.get(Device, device_id)
            assert (customer.phone, customer.email, customer.address) == (PHONE, EMAIL, ADDRESS)
            assert device.passcode == PASSCODE
            # a new value is written under the new (first) key
            customer.address = "1 Bund Road"
            db.session.flush()
            (new_address,) = raw(Customer.__table__, customer_id, "address")
            assert Fernet(new.encode()).decrypt(new_address.encode()) == b"1 Bund Road"
            with pytest.raises(InvalidToken):
                Fernet(old.encode()).decrypt(new_address.encode())
            # crypto.rotate re-encrypts an old token under the new key
            rotated = crypto.rotate(old_phone)
            assert rotated != old_phone
            assert Fernet(new.encode()).decrypt(rotated.encode()).decode() == PHONE
            with pytest.raises(InvalidToken):
                Fernet(old.encode()).decrypt(rotated.encode())
            assert crypto.rotate(rotated) != old_phone
            # rotating the tenant rewrites every encrypted column, passcodes included
            counts = crypto.rotate_tenant_data()
            assert counts["customers"] >= 1 and counts["devices"] >= 1
        with keys(app, encryption=new):  # the old key retired: everything still reads
            db.session.expire_all()
            customer, device = db.session.get(Customer, customer_id), db.session.get(Device, device_id)
            assert (customer.phone, customer.email, device.passcode) == (PHONE, EMAIL, PASSCODE)
        with keys(app, encryption=old):  # and the old key alone no longer does
            db.session.expire_all()
            assert db.session.get(Customer, customer_id).phone is None


def test_customers_indexed_under_the_old_lookup_key_are_still_found(app, alpha):
    with in_tenant(app, alpha):
        with keys(app, lookup="old-lookup-key"):
            customer = new_order(alpha, new_customer=customer_details(full_name="Indexed Once")).customer
            assert customer.phone_lookup == crypto.lookup_hash("phone", PHONE_DIGITS)
        with keys(app, lookup="new-lookup-key"):  # the old key forgotten: the hash no longer matches
            assert customer not in services.find_customers("0086 138 0013 8000", None)
            assert customer not in services.find_customers("LI.WEI@example.com", None)
        with keys(app, lookup="new-lookup-key,old-lookup-key"):
            assert customer in services.find_customers("0086 138 0013 8000", None)
            assert customer in services.find_customers("LI.WEI@example.com", None)
            fresh = new_order(alpha, new_customer=customer_details(full_name="Indexed Twice")).customer
            assert fresh.phone_lookup != customer.phone_lookup  # new rows hash under the new key
            assert fresh in services.find_customers("+86 13800138000", None)


def test_the_passcode_is_shown_to_the_assigned_technician_only(app, alpha):
    with in_tenant(app, alpha):
        order = new_order(alpha, passcode=PASSCODE)
        with pytest.raises(Refused, match="Only the assigned technician"):
            services.passcode_for(order, staff(alpha, "tech"))  # nobody is assigned yet
        services.assign_technician(order, staff(alpha, "tech"), staff(alpha, "manager"))
        assert services.passcode_for(order, staff(alpha, "tech")) == PASSCODE
        for key in ("owner", "qa", "manager", "frontdesk", "inspector", "tech2", "manager2", "auditor"):
            with pytest.raises(Refused, match="Only the assigned technician") as refused:
                services.passcode_for(order, staff(alpha, key))
            assert refused.value.status_code == 409


def test_the_passcode_is_erased_when_the_order_is_cancelled(app, alpha):
    with in_tenant(app, alpha):
        order = in_repair(alpha, passcode=PASSCODE)
        assert services.passcode_for(order, staff(alpha, "tech")) == PASSCODE
        services.cancel_order(order, staff(alpha, "frontdesk"), reason="Customer took it back")
        assert raw(Device.__table__, order.device_id, "passcode") == (None,)
        assert services.passcode_for(order, staff(alpha, "tech")) is None


def test_the_passcode_is_erased_at_delivery(app, alpha):
    with in_tenant(app, alpha):
        order = delivered(alpha, passcode=PASSCODE)
        db.session.expire_all()
        order = db.session.get(RepairOrder, order.id)
        assert order.device.passcode is None
        assert raw(Device.__table__, order.device_id, "passcode") == (None,)
