"""Training after the review of issue #7, on both databases: existing technicians keep working
after the upgrade (transitional certificates), certificate scans are read only by those who may
see the holder's training record, nobody certifies themselves (the generated admin included), a
double submit of an exam is a message and not a 500, training steps need the page's version,
a second store's role is not a new hire, and ids out of range are 404.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.accounts.services import create_staff_user
from repairqc.db import db, tenant_context, unit_of_work, utcnow
from repairqc.errors import Conflict
from repairqc.tenants import ddl, migrations
from repairqc.tenants import services as tenants
from repairqc.training import services
from repairqc.training.models import (
    Certificate,
    CertificateKind,
    Enrolment,
    EnrolmentStatus,
    Evaluation,
    EvaluationStatus,
    Exam,
    ExamAttempt,
    ExamKind,
    ExamQuestion,
    PracticalCriterion,
    TrainingSession,
)
from tests.conftest import backend_app, csrf_token_from, in_tenant, sign_in, staff, store
from tests.htmlforms import form_data

TODAY = utcnow().date()
#: The revision before training's (certificates did not exist yet).
BEFORE_TRAINING = "4e0a1f7c2b91"


def host(tenant) -> str:
    return f"http://{tenant.host}"


def user_id(app, tenant, key) -> int:
    with in_tenant(app, tenant):
        return staff(tenant, key).id


# --- finding 3: the upgrade certifies the technicians working today ----------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_app(request, tmp_path):
    with backend_app(request.param, tmp_path) as app, app.app_context():
        yield app


def _downgrade_to(schema: str, target: str) -> None:
    script = migrations.script_directory("tenant")

    def run(conn, version_schema):
        migrations._run(
            conn, "tenant", version_schema, lambda rev, ctx: script._downgrade_revs(target, rev), target
        )

    if db.backend == "postgresql":
        with db.state.raw_control.begin() as conn:
            ddl.set_local_search_path(conn, schema)
            run(conn, schema)
    else:
        engine = tenants.migrator().file_engine(tenants.migrator().tenant_file(schema))
        try:
            with engine.begin() as conn:
                run(conn, None)
        finally:
            engine.dispose()


def test_the_upgrade_gives_working_technicians_transitional_certificates(fresh_app):
    """HB §5.1.3(1) gates assignment by certificate: a tenant upgraded from before training must
    not lock its technicians out of their orders (review finding 3)."""
    from repairqc.repairs.models import Customer, Device, RepairOrder
    from repairqc.repairs.services import next_order_number
    from repairqc.stores.models import Chain, Region, Store

    people = {}

    def seed():
        chain = Chain(code="C", name="Chain")
        shop = Store(code="S1", name="Shop", chain=chain, region=Region(code="R", name="Region", chain=chain))
        db.session.add(shop)
        db.session.flush()
        people["tech"] = create_staff_user("t@u.example.com", "Tech", None, roles=[(Role.TECHNICIAN, shop)])
        people["idle"] = create_staff_user("i@u.example.com", "Idle", None, roles=[(Role.TECHNICIAN, shop)])
        people["manager"] = create_staff_user(
            "m@u.example.com", "Manager", None, roles=[(Role.STORE_MANAGER, shop)]
        )
        for category, technician in (
            ("smartphone", "tech"), ("smartphone", "tech"), ("laptop", "tech"), ("tablet", "manager"),
        ):  # fmt: skip
            customer = Customer(store=shop, full_name="C", phone="+86 100 0001")
            device = Device(store=shop, customer=customer, category=category, brand="B", model="M")
            db.session.add_all([customer, device])
            db.session.flush()
            db.session.add(
                RepairOrder(
                    store=shop,
                    number=next_order_number(shop),
                    customer=customer,
                    device=device,
                    fault_symptoms="Fault",
                    technician_id=people[technician].id,
                )
            )
        people.update({key: (user.id, shop.id) for key, user in people.items()})

    with unit_of_work():
        tenant = tenants.create_tenant(f"u{uuid.uuid4().hex[:6]}", "Upgrade", seed=seed)
    db.state.forget_tenant(tenant.schema)
    _downgrade_to(tenant.schema, BEFORE_TRAINING)
    assert tenants.migrator().revisions([tenant.schema])[tenant.schema] == BEFORE_TRAINING
    tenants.migrator().upgrade(tenant.schema)
    db.state.forget_tenant(tenant.schema)
    (tech_id, shop_id), (idle_id, _), (manager_id, _) = people["tech"], people["idle"], people["manager"]
    with tenant_context(tenant.ref):
        certs = db.session.scalars(sa.select(Certificate).order_by(Certificate.device_category)).all()
        assert [(c.holder_id, c.device_category) for c in certs] == [
            (tech_id, "laptop"),
            (tech_id, "smartphone"),
        ]
        for cert in certs:
            assert cert.kind == CertificateKind.INTERNAL and cert.store_id == shop_id
            assert cert.number == "TRANSITIONAL" and cert.issuer == "RepairQC upgrade (transitional)"
            assert cert.issued_on == TODAY and cert.expires_on == TODAY + timedelta(days=90)
            assert "HR: record the real certificate" in cert.notes
            assert cert.version == 1 and cert.created_at.tzinfo is not None
        tech = db.session.get(StaffUser, tech_id)
        assert services.certified_categories(tech, TODAY) == {"laptop", "smartphone"}
        assert services.certified_categories(db.session.get(StaffUser, idle_id), TODAY) == set()
        assert services.certified_categories(db.session.get(StaffUser, manager_id), TODAY) == set()
        db.session.remove()


# --- finding 4: certificate scans ------------------------------------------------------------------------


def test_a_certificate_scan_is_read_only_by_those_who_see_the_holders_record(app, client, alpha):
    with in_tenant(app, alpha), unit_of_work():
        cert = services.record_certificate(
            staff(alpha, "tech2"),
            kind=CertificateKind.VOCATIONAL,
            device_category="laptop",
            number="SCAN-1",
            issuer="Ministry",
            issued_on=TODAY,
            expires_on=None,
            scan=(b"%PDF-1.4\n%" + uuid.uuid4().hex.encode() + b"\n", "scan.pdf"),
        )
        file_id = cert.file_id
    url = f"/files/{file_id}"
    for key, status in (("tech", 404), ("manager", 404), ("tech2", 200), ("manager2", 200), ("trainer", 200)):
        sign_in(client, alpha, key)
        assert client.get(url, base_url=host(alpha)).status_code == status, key
        client.get("/logout", base_url=host(alpha))
    sign_in(client, alpha, "tech2")
    mine = client.get("/admin/training/me", base_url=host(alpha)).text
    assert f'href="{url}"' in mine and 'data-testid="scan-link"' in mine


# --- finding 5: nobody certifies themselves, even through the generated admin -------------------------


def admin_certificate(client, tenant, holder_id: int, number: str, path="/admin/training_certificates/new/"):
    page = client.get(path, base_url=host(tenant))
    assert page.status_code == 200
    assert 'name="file"' not in page.text  # no arbitrary stored file can be attached
    data = form_data(page.text, "number")
    data.update(
        holder=str(holder_id), kind="internal", device_category="laptop", number=number, issuer="HQ",
        issued_on=TODAY.isoformat(), expires_on="", file="1",
    )  # fmt: skip
    return client.post(path, base_url=host(tenant), data=data, follow_redirects=True)


def test_hr_cannot_certify_themselves_through_the_generated_admin(app, client, alpha):
    trainer, tech2 = user_id(app, alpha, "trainer"), user_id(app, alpha, "tech2")
    sign_in(client, alpha, "trainer")
    refused = admin_certificate(client, alpha, trainer, "SELF-1")
    assert "Nobody records or changes their own certificate" in refused.text
    ok = admin_certificate(client, alpha, tech2, "OTHER-1")
    assert ok.status_code == 200
    with in_tenant(app, alpha):
        numbers = set(
            db.session.scalars(sa.select(Certificate.number).where(Certificate.holder_id == trainer))
        )
        assert "SELF-1" not in numbers
        other = db.session.scalars(sa.select(Certificate).where(Certificate.number == "OTHER-1")).one()
        assert other.holder_id == tech2 and other.file_id is None  # the posted file=1 was ignored
        # A certificate of the trainer's recorded by the owner cannot be edited by the trainer.
        with unit_of_work():
            own = services.record_certificate(
                staff(alpha, "trainer"), kind=CertificateKind.INTERNAL, device_category="tablet",
                number="OWN-1", issuer="HQ", issued_on=TODAY, expires_on=None,
            )  # fmt: skip
            own_id = own.id
    edit = f"/admin/training_certificates/edit/?id={own_id}"
    page = client.get(edit, base_url=host(alpha))
    data = form_data(page.text, "number")
    data.update(number="OWN-2", expires_on=(TODAY + timedelta(days=3650)).isoformat())
    refused = client.post(edit, base_url=host(alpha), data=data, follow_redirects=True)
    assert "Nobody records or changes their own certificate" in refused.text
    with in_tenant(app, alpha):
        assert db.session.get(Certificate, own_id).number == "OWN-1"


# --- finding 9: a double submit of an exam ---------------------------------------------------------------


def test_starting_an_exam_twice_resumes_the_same_attempt(app, client, alpha):
    with in_tenant(app, alpha):
        exam_id = db.session.scalars(sa.select(Exam.id).where(Exam.title == "Theory SENTINEL-A")).one()
    sign_in(client, alpha, "frontdesk")
    page = client.get("/admin/training/me", base_url=host(alpha))
    data = {"csrf_token": csrf_token_from(page.text)}
    first = client.post(f"/admin/training/exams/{exam_id}/start", base_url=host(alpha), data=data)
    second = client.post(f"/admin/training/exams/{exam_id}/start", base_url=host(alpha), data=data)
    assert first.status_code == second.status_code == 302 and first.location == second.location


def test_an_attempt_number_taken_meanwhile_is_a_conflict_not_a_500(app, client, alpha, monkeypatch):
    """The race of a double click: the second request numbers its attempt as the first did."""
    with in_tenant(app, alpha), unit_of_work():
        theory = Exam(title="Race theory", kind=ExamKind.THEORY, topic="race", question_count=1)
        practical = Exam(title="Race practical", kind=ExamKind.PRACTICAL)
        db.session.add_all(
            [theory, practical, ExamQuestion(topic="race", text="Q", options="a\nb", correct_option=1)]
        )
        db.session.add(PracticalCriterion(exam=practical, position=1, text="Solder", max_points=10))
        db.session.flush()
        candidate = staff(alpha, "frontdesk")
        services.record_practical(
            practical, candidate, staff(alpha, "trainer"), {practical.criteria[0].id: 1}
        )
        first = services.start_theory(theory, candidate)
        services.submit_theory(first, candidate, {1: 2})
        theory_id, practical_id, criterion_id = theory.id, practical.id, practical.criteria[0].id
    monkeypatch.setattr(services, "_next_number", lambda exam, user: 1)  # as if read before the other saved
    with in_tenant(app, alpha):
        with pytest.raises(Conflict), unit_of_work():
            services.start_theory(db.session.get(Exam, theory_id), staff(alpha, "frontdesk"))
        count = (
            sa.select(sa.func.count())
            .select_from(ExamAttempt)
            .where(
                ExamAttempt.user_id == staff(alpha, "frontdesk").id,
                ExamAttempt.exam_id.in_([theory_id, practical_id]),
            )
        )
        assert db.session.scalar(count) == 2
    sign_in(client, alpha, "trainer")
    frontdesk = user_id(app, alpha, "frontdesk")
    url = f"/admin/training/exams/{practical_id}/practical/{frontdesk}"
    page = client.get(url, base_url=host(alpha))
    answer = client.post(
        url, base_url=host(alpha), data={"csrf_token": csrf_token_from(page.text), f"c{criterion_id}": "9"}
    )
    assert answer.status_code == 409 and "just recorded by another request" in answer.text
    with in_tenant(app, alpha):
        assert db.session.scalar(count) == 2


# --- finding 11: training steps need the version their page showed ---------------------------------------


def _session_of(tenant, store_name="S1") -> TrainingSession:
    return db.session.scalars(
        sa.select(TrainingSession).where(
            TrainingSession.title == f"Session {tenant.store_sentinel(store_name)}"
        )
    ).one()


def test_a_stale_or_missing_version_changes_no_session(app, client, alpha):
    with in_tenant(app, alpha):
        session = _session_of(alpha)
        session_id, version = session.id, session.version
        waiting = db.session.scalars(
            sa.select(Enrolment).where(
                Enrolment.user_id == staff(alpha, "frontdesk").id, Enrolment.status == EnrolmentStatus.WAITING
            )
        ).one()
        waiting_id, newcomer = waiting.id, staff(alpha, "manager").id
    sign_in(client, alpha, "trainer")
    url = f"/admin/training/sessions/{session_id}"
    token = csrf_token_from(client.get(url, base_url=host(alpha)).text)
    steps = ({"step": "place", "enrolment": str(waiting_id)}, {"step": "enrol", "user": str(newcomer)})
    for step in steps:
        stale = client.post(
            url, base_url=host(alpha), data={"csrf_token": token, "version": version + 1, **step}
        )
        assert stale.status_code == 409 and "Someone else changed this record" in stale.text
        blind = client.post(url, base_url=host(alpha), data={"csrf_token": token, **step})
        assert blind.status_code == 400 and "Reload it and try again" in blind.text
    with in_tenant(app, alpha):
        assert db.session.get(Enrolment, waiting_id).status == EnrolmentStatus.WAITING
        assert db.session.get(TrainingSession, session_id).version == version
        assert not db.session.scalars(
            sa.select(Enrolment).where(Enrolment.user_id == newcomer, Enrolment.session_id == session_id)
        ).all()
    placed = client.post(
        url, base_url=host(alpha), data={"csrf_token": token, "version": version, **steps[0]}
    )
    assert placed.status_code == 302
    again = client.post(  # the page that placed them is now out of date
        url, base_url=host(alpha), data={"csrf_token": token, "version": version, **steps[1]}
    )
    assert again.status_code == 409
    with in_tenant(app, alpha):
        assert db.session.get(Enrolment, waiting_id).session_id == session_id
        assert db.session.get(TrainingSession, session_id).version == version + 1


def test_a_stale_or_missing_version_records_no_evaluation(app, client, alpha):
    with in_tenant(app, alpha):
        evaluation = db.session.scalars(
            sa.select(Evaluation).where(Evaluation.user_id == staff(alpha, "tech").id)
        ).one()
        evaluation_id, version = evaluation.id, evaluation.version
    sign_in(client, alpha, "trainer")
    url = f"/admin/training/evaluations/{evaluation_id}"
    token = csrf_token_from(client.get(url, base_url=host(alpha)).text)
    data = {"csrf_token": token, "evaluation-score": "80", "evaluation-remarks": "Good"}
    assert client.post(url, base_url=host(alpha), data={**data, "version": version + 1}).status_code == 409
    assert client.post(url, base_url=host(alpha), data=data).status_code == 400
    with in_tenant(app, alpha):
        assert db.session.get(Evaluation, evaluation_id).status == EvaluationStatus.DUE
    assert client.post(url, base_url=host(alpha), data={**data, "version": version}).status_code == 302
    with in_tenant(app, alpha):
        assert db.session.get(Evaluation, evaluation_id).status == EvaluationStatus.DONE


# --- finding 13: a second store's role is not a new hire --------------------------------------------------


def test_a_role_at_a_second_store_enrols_nobody(app, alpha):
    with in_tenant(app, alpha):
        tech = staff(alpha, "tech")
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Enrolment))
        db.session.add(RoleAssignment(user=tech, role=Role.TECHNICIAN, store=store(alpha, "S2")))
        db.session.flush()
        # Someone from before training was recorded: a role, no enrolment at all.
        veteran = create_staff_user(
            "vet@example.com", "Veteran", None, roles=[(Role.FRONT_DESK, store(alpha))]
        )
        for enrolment in db.session.scalars(sa.select(Enrolment).where(Enrolment.user_id == veteran.id)):
            db.session.delete(enrolment)
        db.session.flush()
        before_veteran = db.session.scalar(sa.select(sa.func.count()).select_from(Enrolment))
        db.session.add(RoleAssignment(user=veteran, role=Role.TECHNICIAN, store=store(alpha, "S2")))
        db.session.flush()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Enrolment)) == before_veteran
        assert before_veteran == before
        # A new technician still is a new hire.
        create_staff_user("fresh@example.com", "Fresh", None, roles=[(Role.TECHNICIAN, store(alpha, "S2"))])
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Enrolment)) == before + 1


# --- finding 16: ids out of range ------------------------------------------------------------------------


def test_training_ids_out_of_range_are_404(client, alpha):
    sign_in(client, alpha, "trainer")
    for path in ("sessions/99999999999", "evaluations/99999999999", "staff/99999999999",
                 "attempts/99999999999", "exams/99999999999/practical/1"):  # fmt: skip
        assert client.get(f"/admin/training/{path}", base_url=host(alpha)).status_code == 404, path
