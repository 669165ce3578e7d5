"""Sentinel rows of the complaints domain for the two session tenants (tests/conftest.seed_tenant).

Every text a user reads carries the tenant's sentinel (`s`, e.g. SENTINEL-A) or the store's
(`{s}-S1`), so the isolation probe (tests/test_isolation.py) can tell tenants and stores apart.
The tenant gets a category of its own beside the five built-in ones; each store gets an open
complaint (first contact logged, by phone on behalf of an existing customer) and a closed one
(from the web form, by the store's latest customer with the contact details they typed:
contacted, resolved with an explanation, closed on the customer's word by phone). No customer
profile is added, so the repairs domain's customer lists stay as seeded.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.complaints import services
from repairqc.complaints.models import ComplaintCategory, ComplaintChannel, ContactMethod, ResolutionOutcome
from repairqc.db import db, utcnow
from repairqc.repairs.models import Customer


def seed(s: str, stores: dict, users: dict) -> None:
    def person(key: str) -> StaffUser:
        return db.session.execute(sa.select(StaffUser).where(StaffUser.email == users[key])).scalar_one()

    db.session.add(ComplaintCategory(name=f"Category {s}"))
    db.session.flush()
    now = utcnow()
    for name, store in stores.items():
        label = f"{s}-{name}"
        desk = person("frontdesk" if name == "S1" else "manager2")
        manager = person("manager" if name == "S1" else "manager2")
        customers = (
            db.session.execute(sa.select(Customer).where(Customer.store_id == store.id).order_by(Customer.id))
            .scalars()
            .all()
        )
        customer, latest = customers[0], customers[-1]
        open_one = services.open_complaint(
            store=store,
            channel=ComplaintChannel.PHONE,
            description=f"Complaint {label}: the screen flickers again",
            category_code="repair_result",
            customer=customer,
            received_at=now - timedelta(hours=3),
            actor=desk,
        )
        services.log_contact(
            open_one, desk, channel=ContactMethod.PHONE, note=f"Called back {label}", now=now
        )
        closed = services.open_complaint(
            store=store,
            channel=ComplaintChannel.WEB_FORM,
            description=f"Web complaint {label}: waited too long",
            category_code="service_quality",
            customer=latest,
            contact_name=f"Walk-in {label}",
            contact_email=f"walk-in-{name.lower()}@{s.lower()}.example.com",
            language="en",
            received_at=now - timedelta(days=10),
        )
        services.log_contact(
            closed,
            desk,
            channel=ContactMethod.EMAIL,
            note=f"Apologised {label}",
            at=now - timedelta(days=9, hours=20),
            now=now - timedelta(days=9, hours=20),
        )
        services.resolve(
            closed,
            desk,
            resolution=f"Explained the queue {label}",
            outcome=ResolutionOutcome.NONE,
            now=now - timedelta(days=9),
        )
        services.close(
            closed,
            manager,
            confirmed_by_phone=True,
            note=f"Confirmed by phone {label}",
            now=now - timedelta(days=8),
        )
