"""Rotating the field-encryption and search keys (`flask crypto rotate`, HB §7.3.1(2))."""

from __future__ import annotations

import contextlib

import sqlalchemy as sa
from cryptography.fernet import Fernet

from repairqc.crypto import rotate_tenant_data
from repairqc.db import db
from repairqc.repairs.models import Customer
from repairqc.repairs.services import find_customers
from tests.conftest import in_tenant


@contextlib.contextmanager
def keys(app, encryption: str, lookup: str):
    saved = app.config["ENCRYPTION_KEY"], app.config["LOOKUP_KEY"]
    app.config["ENCRYPTION_KEY"], app.config["LOOKUP_KEY"] = encryption, lookup
    try:
        yield
    finally:
        app.config["ENCRYPTION_KEY"], app.config["LOOKUP_KEY"] = saved


def raw_phone(customer_id: int) -> str:
    column = sa.type_coerce(Customer.__table__.c.phone, sa.Text)
    return db.session.execute(sa.select(column).where(Customer.__table__.c.id == customer_id)).scalar_one()


def test_rotation_moves_values_and_search_keys_to_the_new_keys(app, alpha):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with in_tenant(app, alpha):
        with keys(app, old, "old-lookup"):
            customer = Customer(
                store_id=alpha.store_ids["S1"], full_name="Rotated", phone="+86 186 0000 1111"
            )
            db.session.add(customer)
            db.session.flush()
            before = raw_phone(customer.id)
        with keys(app, f"{new},{old}", "new-lookup,old-lookup"):
            # Both keys listed: old values still read and are still found.
            db.session.expire(customer)
            assert customer.phone == "+86 186 0000 1111"
            assert customer in find_customers("+8618600001111", None)
            counts = rotate_tenant_data()
            assert counts["customers"] >= 1 and counts["customers (search keys)"] >= 1
            assert raw_phone(customer.id) != before
        with keys(app, new, "new-lookup"):
            # The old keys are gone: everything still reads and is found.
            db.session.expire(customer)
            assert customer.phone == "+86 186 0000 1111"
            assert customer in find_customers("0086 186-0000-1111", None)
            assert "18600001111" not in raw_phone(customer.id)
        with keys(app, old, "old-lookup"):
            db.session.expire(customer)
            assert customer.phone is None  # unreadable under the old key alone: it was re-encrypted
