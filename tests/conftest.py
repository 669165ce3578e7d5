"""Fixtures: one app per backend, two tenants provisioned once per session, rollback per test.

Every test that takes `app` (directly or through `client`, `alpha`, ...) runs on SQLite and on
PostgreSQL. PostgreSQL is used when reachable; when the environment variable CI is set it is
required, and an unreachable server fails the run instead of skipping (design.md §6).
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

import repairqc.models  # noqa: F401  (every mapper, also for tests that build models without an app)
from repairqc import create_app
from repairqc.accounts.models import Role, StaffUser
from repairqc.accounts.services import create_staff_user
from repairqc.db import TenantRef, db, tenant_context, unit_of_work
from repairqc.repairs.models import Customer, Device, RepairOrder, RepairOrderStatus
from repairqc.repairs.services import next_order_number
from repairqc.stores.models import Chain, Region, Store
from repairqc.tenants import ddl, migrations, services
from tests import clock


def pytest_configure(config: pytest.Config) -> None:
    # Before any test module is imported: the modules take TODAY at import (tests/clock.py).
    clock.start()


PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "correct-horse-battery"


def postgres_available() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except sa.exc.OperationalError:
        return False


def require_service(name: str, available: bool) -> None:
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{name} is required under CI but is not reachable")
    pytest.skip(f"{name} is not reachable (required only when CI is set)")


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database for the block; dropped afterwards."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        ddl.recreate_database(conn, name)
    try:
        yield sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            ddl.drop_database(conn, name)
        admin.dispose()


def make_app(database_url: str, tenant_dir: Path, **overrides) -> Flask:
    config = {
        "REPAIRQC_ENV": "testing",
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "TENANT_DATA_DIR": str(tenant_dir),
        "BASE_DOMAIN": "localhost",
        "SESSION_COOKIE_SECURE": False,
        "WTF_CSRF_ENABLED": False,  # tests/test_security.py turns it back on
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "ACCOUNT_LOGIN_RATE_LIMIT": "1000 per minute",
        "MAIL_BACKEND": "console",
        # The product's default is the logging provider; tests start with no SMS at all, so a
        # phone-only customer is one the store must call, and opt in to texts where they test them.
        "SMS_BACKEND": "none",
        # Thousands of sign-ins: a cheap hash here; scrypt's cost matters in production only.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "PREFERRED_URL_SCHEME": "http",
    }
    config.update(overrides)
    return create_app(config)


@contextlib.contextmanager
def backend_app(backend: str, tmp: Path, **overrides) -> Iterator[Flask]:
    """An app with a migrated, empty control plane on `backend`."""
    if backend == "postgresql":
        require_service("PostgreSQL", postgres_available())
        with postgres_database("repairqc_test") as url:
            app = make_app(url, tmp / "tenants", **overrides)
            with app.app_context():
                migrations.upgrade_control(db.state.raw_control)
            yield app
            with app.app_context():
                db.state.dispose()
    else:
        app = make_app(f"sqlite:///{tmp / 'control.db'}", tmp / "tenants", **overrides)
        with app.app_context():
            migrations.upgrade_control(db.state.raw_control)
        yield app
        with app.app_context():
            db.state.dispose()


# --- the two session tenants -------------------------------------------------------------------


@dataclass
class SeededTenant:
    """A tenant seeded with sentinel text: SENTINEL-<T> everywhere, SENTINEL-<T>-S<n> per store."""

    ref: TenantRef
    letter: str
    host: str
    users: dict[str, str] = field(default_factory=dict)  # key -> e-mail
    ids: dict[str, list[int]] = field(default_factory=dict)  # table -> ids
    store_ids: dict[str, int] = field(default_factory=dict)  # "S1" -> id

    @property
    def sentinel(self) -> str:
        return f"SENTINEL-{self.letter}"

    def store_sentinel(self, store: str) -> str:
        return f"SENTINEL-{self.letter}-{store}"


def seed_tenant(letter: str, extra_rows: int) -> dict:
    """Two stores, one user per role, customers/devices/orders in both stores.

    `extra_rows` adds rows so that this tenant has ids the other tenant lacks.
    """
    s = f"SENTINEL-{letter}"
    chain = Chain(code=f"C{letter}", name=f"Chain {s}")
    region = Region(code=f"R{letter}", name=f"Region {s}", chain=chain)
    stores = {
        name: Store(code=f"{s}-{name}", name=f"Store {s}-{name}", chain=chain, region=region)
        for name in ("S1", "S2")
    }
    db.session.add_all([chain, region, *stores.values()])
    db.session.flush()
    domain = f"sentinel-{letter.lower()}.example.com"
    users: dict[str, str] = {}
    people = [
        ("owner", Role.OWNER, None),
        ("qa", Role.QA_MANAGER, None),
        ("trainer", Role.TRAINER, None),
        ("auditor", Role.AUDITOR, None),
        ("inspector", Role.INSPECTOR, "S1"),
        ("manager", Role.STORE_MANAGER, "S1"),
        ("frontdesk", Role.FRONT_DESK, "S1"),
        ("tech", Role.TECHNICIAN, "S1"),
        ("manager2", Role.STORE_MANAGER, "S2"),
        ("tech2", Role.TECHNICIAN, "S2"),
    ]
    for key, role, store in people:
        label = f"{s}-{store}" if store else s
        email = f"{key}@{domain}"
        create_staff_user(
            email, f"{key.capitalize()} {label}", PASSWORD, roles=[(role, stores[store] if store else None)]
        )
        users[key] = email
    for store_name, store in stores.items():
        for n in range(1 + extra_rows):
            label = f"{s}-{store_name}"
            customer = Customer(store=store, full_name=f"Customer {n} {label}", phone=f"+86 100 {n:04d}")
            device = Device(
                store=store,
                customer=customer,
                category="smartphone",
                brand="Brand",
                model=f"Model {label}",
                serial_number=f"SN-{label}-{n}",
            )
            order = RepairOrder(
                store=store,
                number=next_order_number(store),
                customer=customer,
                device=device,
                fault_symptoms=f"Fault {n} {label}",
            )
            db.session.add_all([customer, device, order])
    from repairqc.standards.models import ServiceTargetOverride

    for name, store in stores.items():
        reason = f"Rule {s}-{name}"
        db.session.add(ServiceTargetOverride(store=store, target="diagnosis_hours", value=12, reason=reason))
    if extra_rows:
        db.session.add(
            ServiceTargetOverride(chain=chain, target="follow_up_days", value=5, reason=f"Rule {s}")
        )
    # One QC check per store, begun by the store's manager on the store's first order.
    db.session.flush()
    from repairqc.repairs.services import begin_qc_check

    for name, store in stores.items():
        order = (
            db.session.execute(
                sa.select(RepairOrder).where(RepairOrder.store_id == store.id).order_by(RepairOrder.id.desc())
            )
            .scalars()
            .first()
        )
        order.status = RepairOrderStatus.QC
        manager_email = users["manager" if name == "S1" else "manager2"]
        manager = db.session.execute(
            sa.select(StaffUser).where(StaffUser.email == manager_email)
        ).scalar_one()
        begin_qc_check(order, manager, today=date.today())
    from repairqc.files.services import store_bytes

    for n in range(1 + extra_rows):  # PNG magic numbers, so the upload rules accept the bytes
        store_bytes(b"\x89PNG\r\n\x1a\n" + f"{s}-{n}".encode(), f"File {n} {s}.png")
    from tests.seed_training import seed_certificates

    seed_certificates(s, stores, users)  # HB §5.1.3(1): technicians take orders of certified categories
    seed_workflow(s, stores, users)  # after the files above, so theirs are the lowest file ids
    seed_supervision(s, stores, users)
    from tests import seed_assessments, seed_equipment, seed_training

    for domain in (seed_equipment, seed_training, seed_assessments):  # issue #7's domains
        db.session.flush()
        domain.seed(s, stores, users)
    seed_messages(s, stores)
    from tests import seed_complaints, seed_feedback, seed_improvements, seed_incidents

    for domain in (seed_feedback, seed_complaints, seed_improvements, seed_incidents):  # issue #8's
        db.session.flush()
        domain.seed(s, stores, users)
    from tests import seed_dataquality, seed_imports, seed_privacy  # issue #9's

    db.session.flush()
    store_ids = {k: v.id for k, v in stores.items()}
    seed_dataquality.seed(s, store_ids, extra_rows)
    seed_imports.seed(s, store_ids, users, extra_rows)
    seed_privacy.seed(s, users, extra_rows)
    db.session.flush()
    return {"users": users, "store_ids": store_ids}


def seed_messages(s: str, stores: dict) -> None:
    """One message sent to a customer of each store (the customer profile's contact history)."""
    from repairqc.notifications.models import CustomerMessage, MessageChannel, MessageStatus

    db.session.flush()
    for name, store in stores.items():
        customer = (
            db.session.execute(sa.select(Customer).where(Customer.store_id == store.id).order_by(Customer.id))
            .scalars()
            .first()
        )
        db.session.add(
            CustomerMessage(
                store_id=store.id, customer_id=customer.id, event_key=f"seed:{s}-{name}", purpose="status",
                channel=MessageChannel.SMS, recipient=customer.phone, language="en",
                body=f"Message {s}-{name}", status=MessageStatus.SENT, sent_at=datetime.now(UTC),
            )
        )  # fmt: skip


#: A 1x1 PNG, as the signature pad and a phone camera would send one.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
SIGNATURE = "data:image/png;base64," + base64.b64encode(PNG).decode()


def staff(tenant: SeededTenant, key: str) -> StaffUser:
    """A seeded member of staff by key (owner, frontdesk, tech, manager2, ...)."""
    return db.session.execute(sa.select(StaffUser).where(StaffUser.email == tenant.users[key])).scalar_one()


def store(tenant: SeededTenant, name: str = "S1") -> Store:
    return db.session.get(Store, tenant.store_ids[name])


def sample_intake(**overrides):
    """What a front desk enters for a new customer's phone (repairs.services.Intake)."""
    from repairqc.repairs.services import Intake, NewCustomer

    values = dict(
        category="smartphone",
        brand="Apple",
        model="iPhone 14",
        fault_symptoms="Cracked screen",
        signer_name="Li Wei",
        signature_data_url=SIGNATURE,
        new_customer=NewCustomer("Li Wei", phone="+86 138 0013 8000", email="li@example.com"),
        imei="490154203237518",
        passcode="258046",
    )
    values.update(overrides)
    return Intake(**values)


def seed_workflow(s: str, stores: dict, users: dict) -> None:
    """One order per store taken through every step, so each workflow record has rows in both
    stores (status events, quotes, lines, work logs, photos, signatures, payments, stock)."""
    from repairqc.repairs import services as repairs
    from repairqc.repairs.models import DecisionMethod, Part, PaymentMethod, PhotoStage, QuoteLineKind

    def person(key: str) -> StaffUser:
        return db.session.execute(sa.select(StaffUser).where(StaffUser.email == users[key])).scalar_one()

    part = Part(sku=f"SCR-{s}", name=f"Screen {s}", category="smartphone", unit_price_cents=50000)
    db.session.add(part)
    db.session.flush()
    today = date.today()
    for name, store in stores.items():
        label = f"{s}-{name}"
        desk, tech, checker = (
            (person("frontdesk"), person("tech"), person("manager"))
            if name == "S1"
            else (person("manager2"), person("tech2"), person("manager2"))
        )
        manager = person("manager" if name == "S1" else "manager2")
        repairs.receive_stock(store, manager, part_id=part.id, quantity=5, note=f"Delivery {label}")
        order = repairs.receive_order(
            store,
            desk,
            repairs.Intake(
                category="smartphone",
                brand="Brand",
                model=f"Flow {label}",
                fault_symptoms=f"Flow fault {label}",
                signer_name=f"Signer {label}",
                signature_data_url=SIGNATURE,
                new_customer=repairs.NewCustomer(f"Flow customer {label}", phone=f"+86 139 {len(label):04d}"),
                photos=[(PNG + label.encode(), f"intake-{label}.png")],
            ),
        )
        repairs.start_diagnosis(order, tech)
        repairs.record_diagnosis(
            order,
            tech,
            cause=f"Cause {label}",
            plan=f"Plan {label}",
            repair_type="parts-replacement",
            minutes=15,
            today=today,
        )
        repairs.save_quote(
            order,
            tech,
            [
                repairs.LineInput(
                    QuoteLineKind.PART, f"Screen {label}", 1, Decimal("500"), Decimal("0"), part.id
                )
            ],
        )
        repairs.send_quote(order, tech, today=today)
        repairs.decide_quote(
            order,
            desk,
            revision=1,
            approve=True,
            method=DecisionMethod.IN_STORE,
            signer_name=f"Signer {label}",
            today=today,
        )
        repairs.start_repair(order, tech)
        repairs.consume_part(order, tech, part_id=part.id, quantity=1)
        repairs.log_work(order, tech, step=f"Step {label}", minutes=30, equipment=f"Tool {label}")
        repairs.send_to_qc(order, tech)
        check = repairs.begin_qc_check(order, checker, today=today)
        answers = {
            r.item_code: repairs.ResultInput(
                passed=True, measured_value=r.min_value or 0.0, note=f"Note {label}"
            )
            for r in check.results
        }
        repairs.record_qc_results(check, checker, answers)
        for result in check.results:
            if result.kind == "photo":
                repairs.add_photo(
                    order,
                    PhotoStage.QC,
                    PNG + b"qc" + label.encode(),
                    f"qc-{label}.png",
                    checker,
                    qc_result=result,
                )
        repairs.finish_qc_check(check, checker)
        repairs.record_payment(order, desk, amount=Decimal("500"), method=PaymentMethod.CASH, reference=label)
        repairs.deliver(
            order,
            desk,
            signer_name=f"Signer {label}",
            signature_data_url=SIGNATURE,
            confirmed_fixed=True,
            today=today,
        )


def seed_supervision(s: str, stores: dict, users: dict) -> None:
    """One inspection per store taken from its plan to a verified corrective action, so each
    supervision record has rows in both stores (items, photos, findings, actions, events)."""
    from repairqc.inspections import services as supervision
    from repairqc.inspections.models import InspectionKind, InspectionPlan, Recurrence, RewardKind
    from repairqc.reports.models import ReportRun

    def person(key: str) -> StaffUser:
        return db.session.execute(sa.select(StaffUser).where(StaffUser.email == users[key])).scalar_one()

    today = date.today()
    for name, store in stores.items():
        label = f"{s}-{name}"
        # S1 has its own inspector; S2 is inspected by QA and reviewed by the owner.
        inspector, reviewer = (
            (person("inspector"), person("qa")) if name == "S1" else (person("qa"), person("owner"))
        )
        plan = InspectionPlan(
            name=f"Plan {label}",
            kind=InspectionKind.PERIODIC,
            recurrence=Recurrence.MONTHLY,
            starts_on=today,
            inspector_id=inspector.id,
            notes=f"Plan notes {label}",
        )
        (inspection,) = supervision.save_plan(plan, [store], today=today)
        supervision.start_inspection(inspection, inspector)
        answers = {
            result.code: supervision.Answer("3" if result.kind == "score" else "pass", f"Note {label}")
            for result in inspection.results
        }
        critical = next(result for result in inspection.results if result.critical)
        answers[critical.code] = supervision.Answer("fail", f"Failed {label}")
        (finding,) = supervision.answer_items(
            inspection,
            answers,
            inspector,
            photos={critical.code: [(PNG + b"ins" + label.encode(), f"ins-{label}.png")]},
        )
        finding.root_cause = f"Root cause {label}"
        supervision.submit_inspection(inspection, inspector, f"Summary {label}")
        action = supervision.add_action(
            finding, reviewer, description=f"Measure {label}", owner=None, due_on=None, today=today
        )
        supervision.review_inspection(inspection, reviewer, f"Reviewed {label}")
        owner = action.owner
        supervision.start_action(action, owner)
        supervision.complete_action(
            action, owner, f"Evidence {label}", photos=[(PNG + b"fix" + label.encode(), f"fix-{label}.png")]
        )
        supervision.verify_action(action, reviewer, f"Verified {label}", today=today)
        supervision.record_reward_penalty(
            reviewer,
            kind=RewardKind.REWARD,
            store=store,
            staff=owner,
            inspection=inspection,
            reason=f"Reward {label}",
            decided_on=today,
        )
    db.session.add(
        ReportRun(period_start=today, period_end=today, scope={"kind": "all", "ids": []}, message=f"Run {s}")
    )
    db.session.flush()


def provision_seeded(letter: str, extra_rows: int) -> SeededTenant:
    slug = f"t{letter.lower()}{uuid.uuid4().hex[:6]}"
    result: dict = {}

    def seed() -> None:
        result.update(seed_tenant(letter, extra_rows))

    with unit_of_work():
        tenant = services.create_tenant(slug, f"Tenant {letter}", seed=seed)
    seeded = SeededTenant(
        tenant.ref, letter, services.tenant_host(slug), result["users"], store_ids=result["store_ids"]
    )
    with tenant_context(seeded.ref):
        from repairqc.admin.views import tenant_models

        for model in tenant_models():
            pk = sa.inspect(model).primary_key[0]
            seeded.ids[model.__tablename__] = list(db.session.execute(sa.select(pk).order_by(pk)).scalars())
        db.session.remove()
    return seeded


@dataclass
class Backend:
    name: str
    app: Flask
    alpha: SeededTenant
    beta: SeededTenant


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request, tmp_path_factory) -> Iterator[Backend]:
    tmp = tmp_path_factory.mktemp(request.param)
    with backend_app(request.param, tmp) as app:
        with app.app_context():
            alpha = provision_seeded("A", extra_rows=0)
            beta = provision_seeded("B", extra_rows=2)  # beta has ids alpha lacks
        yield Backend(request.param, app, alpha, beta)


@pytest.fixture
def app(backend: Backend) -> Iterator[Flask]:
    """The session app, with both tenants' changes rolled back after each test."""
    app = backend.app
    with app.app_context():
        state = db.state
        pinned = []
        for tenant in (backend.alpha, backend.beta):
            conn = state.tenant_engine(tenant.ref.schema).connect()
            outer = conn.begin()
            state.pinned[tenant.ref.schema] = conn
            pinned.append((tenant.ref.schema, conn, outer))
    try:
        yield app
    finally:
        for schema, conn, outer in pinned:
            state.pinned.pop(schema, None)
            outer.rollback()
            conn.close()


@pytest.fixture
def alpha(backend: Backend) -> SeededTenant:
    return backend.alpha


@pytest.fixture
def beta(backend: Backend) -> SeededTenant:
    return backend.beta


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def sign_in(client: FlaskClient, tenant: SeededTenant, user: str, password: str = PASSWORD):
    """Sign `user` (a key of tenant.users, or an e-mail) in at the tenant's host."""
    email = tenant.users.get(user, user)
    return client.post(
        "/login", base_url=f"http://{tenant.host}", data={"email": email, "password": password}
    )


@contextlib.contextmanager
def in_tenant(app: Flask, tenant: SeededTenant) -> Iterator[None]:
    """Query a tenant directly from a test (shares the test's pinned connection)."""
    with app.app_context(), tenant_context(tenant.ref):
        yield


@pytest.fixture
def statements() -> Callable[[], contextlib.AbstractContextManager[list[str]]]:
    """`with statements() as seen:` — every SQL statement any engine runs inside the block,
    lower-cased with its whitespace collapsed to single spaces (for substring assertions)."""

    @contextlib.contextmanager
    def record() -> Iterator[list[str]]:
        seen: list[str] = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            seen.append(" ".join(statement.split()).lower())

        sa.event.listen(sa.engine.Engine, "before_cursor_execute", capture)
        try:
            yield seen
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", capture)

    return record


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def mailbox(app, monkeypatch):
    """A real local SMTP server receiving the app's mail (jobs run in-process)."""
    from tests.mailserver import send_mail_to, smtp_server

    with smtp_server() as box:
        send_mail_to(box, app, monkeypatch)
        yield box


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stripe_app(request, tmp_path_factory):
    """(app, fake): an app of its own per test module whose Stripe is the local fake
    (tests/fakestripe.py); billing tests sign tenants up on it through Checkout."""
    from tests.fakestripe import fake_stripe, stripe_settings

    with (
        fake_stripe() as fake,
        backend_app(
            request.param, tmp_path_factory.mktemp(f"stripe-{request.param}"), **stripe_settings(fake)
        ) as app,
    ):
        yield app, fake


# --- scratch tenants, for tests with a real RQ worker --------------------------------------------
# The worker is another process and sees committed rows only, so these tests commit into tenants
# of their own (deleted at the end of the module) instead of the session tenants, which must stay
# as seeded. `east` and `west` are module-scoped: each module that asks gets its own pair.


@contextlib.contextmanager
def scratch_tenant(backend, letter: str, extra_rows: int = 0) -> Iterator[SeededTenant]:
    """A seeded tenant of its own, deleted when the block ends."""
    with backend.app.app_context():
        tenant = provision_seeded(letter, extra_rows=extra_rows)
    try:
        yield tenant
    finally:
        with backend.app.app_context(), unit_of_work():
            services.delete_tenant(tenant.ref.slug)


@pytest.fixture(scope="module")
def east(backend) -> Iterator[SeededTenant]:
    with scratch_tenant(backend, "E") as tenant:
        yield tenant


@pytest.fixture(scope="module")
def west(backend) -> Iterator[SeededTenant]:
    with scratch_tenant(backend, "W", extra_rows=1) as tenant:  # ids east lacks
        yield tenant


@contextlib.contextmanager
def committed(backend, tenant: SeededTenant) -> Iterator[None]:
    """Work in `tenant` in a unit of work of its own, committed when the block ends."""
    with backend.app.app_context(), tenant_context(tenant.ref), unit_of_work():
        yield
