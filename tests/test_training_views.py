"""The training screens over HTTP: a technician takes a theory exam in the browser (and late
answers are refused), HR records a certificate with its scan, and nobody reaches another
store's or tenant's training records (custom screens are not covered by test_isolation.py).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.db import db, unit_of_work
from repairqc.training.models import AttemptStatus, Certificate, Exam, ExamAttempt
from tests.conftest import csrf_token_from, in_tenant, sign_in


def host(tenant) -> str:
    return f"http://{tenant.host}"


def user_id(app, tenant, key) -> int:
    with in_tenant(app, tenant):
        return db.session.scalars(sa.select(StaffUser.id).where(StaffUser.email == tenant.users[key])).one()


def theory_id(app, tenant) -> int:
    with in_tenant(app, tenant):
        return db.session.scalars(
            sa.select(Exam.id).where(Exam.title == f"Theory SENTINEL-{tenant.letter}")
        ).one()


def start(client, tenant, exam_id):
    page = client.get("/admin/training/me", base_url=host(tenant))
    assert page.status_code == 200 and "Start the exam" in page.text
    return client.post(
        f"/admin/training/exams/{exam_id}/start",
        base_url=host(tenant),
        data={"csrf_token": csrf_token_from(page.text)},
    )


def test_a_technician_takes_the_theory_exam_and_passes(app, client, alpha):
    sign_in(client, alpha, "frontdesk")  # the seeded clerk has not sat the theory exam
    started = start(client, alpha, theory_id(app, alpha))
    assert started.status_code == 302 and "/admin/training/attempts/" in started.location
    page = client.get(started.location, base_url=host(alpha))
    assert "Closed book" in page.text and page.text.count('data-testid="question"') == 2
    data = {"csrf_token": csrf_token_from(page.text), "q1": "1", "q2": "1"}
    done = client.post(started.location, base_url=host(alpha), data=data, follow_redirects=True)
    assert done.status_code == 200 and "Passed" in done.text and "100%" in done.text


def test_answers_after_the_time_limit_are_refused_with_a_message(app, client, alpha):
    sign_in(client, alpha, "frontdesk")
    started = start(client, alpha, theory_id(app, alpha))
    page = client.get(started.location, base_url=host(alpha))
    attempt_id = int(started.location.rstrip("/").rsplit("/", 1)[1])
    with in_tenant(app, alpha), unit_of_work():
        attempt = db.session.get(ExamAttempt, attempt_id)
        attempt.deadline_at = attempt.started_at - timedelta(minutes=5)  # the time ran out
    data = {"csrf_token": csrf_token_from(page.text), "q1": "1", "q2": "1"}
    refused = client.post(started.location, base_url=host(alpha), data=data, follow_redirects=True)
    assert "were not accepted" in refused.text and "Time ran out" in refused.text
    with in_tenant(app, alpha):
        attempt = db.session.get(ExamAttempt, attempt_id)
        assert attempt.status == AttemptStatus.EXPIRED
        assert all(answer.chosen_option is None for answer in attempt.answers)


def test_hr_records_a_certificate_and_bad_input_saves_nothing(app, client, alpha):
    sign_in(client, alpha, "trainer")
    tech2 = user_id(app, alpha, "tech2")
    page = client.get(f"/admin/training/staff/{tech2}", base_url=host(alpha))
    assert page.status_code == 200 and "Record a certificate" in page.text
    data = {
        "csrf_token": csrf_token_from(page.text),
        "cert-kind": "vocational",
        "cert-device_category": "laptop",
        "cert-number": "VQ-77",
        "cert-issuer": "Ministry",
        "cert-issued_on": "2024-01-01",
        "cert-expires_on": "2023-01-01",
    }
    refused = client.post(f"/admin/training/staff/{tech2}", base_url=host(alpha), data=data)
    assert refused.status_code == 400 and "expires before it was issued" in refused.text
    assert 'value="VQ-77"' in refused.text  # what was typed is kept
    data["cert-expires_on"] = "2099-01-01"
    data["cert-scan"] = (__import__("io").BytesIO(b"%PDF-1.4\n%scan\n"), "scan.pdf")
    ok = client.post(f"/admin/training/staff/{tech2}", base_url=host(alpha), data=data, follow_redirects=True)
    assert ok.status_code == 200 and "VQ-77" in ok.text
    with in_tenant(app, alpha):
        cert = db.session.scalars(sa.select(Certificate).where(Certificate.number == "VQ-77")).one()
        assert cert.file_id is not None and cert.holder_id == tech2


def test_training_pages_stay_within_stores_and_tenants(app, client, alpha, beta):
    tech, tech2 = user_id(app, alpha, "tech"), user_id(app, alpha, "tech2")
    beta_tech = user_id(app, beta, "tech")
    sign_in(client, alpha, "manager")  # manager of S1
    own = client.get(f"/admin/training/staff/{tech}", base_url=host(alpha))
    assert own.status_code == 200 and "SENTINEL-A-tech-laptop" in own.text
    assert client.get(f"/admin/training/staff/{tech2}", base_url=host(alpha)).status_code == 404
    overview = client.get("/admin/training/", base_url=host(alpha)).text
    assert "SENTINEL-A-S1" in overview and "SENTINEL-A-S2" not in overview and "SENTINEL-B" not in overview
    if beta_tech not in (tech, tech2):
        assert client.get(f"/admin/training/staff/{beta_tech}", base_url=host(alpha)).status_code == 404
    # a technician sees only their own page, and cannot sit someone else's attempt
    client.get("/logout", base_url=host(alpha))
    sign_in(client, alpha, "tech")
    assert client.get(f"/admin/training/staff/{tech2}", base_url=host(alpha)).status_code == 404
    mine = client.get("/admin/training/", base_url=host(alpha), follow_redirects=True).text
    assert "SENTINEL-A-tech-laptop" in mine and "SENTINEL-A-tech2" not in mine and "SENTINEL-B" not in mine
    with in_tenant(app, alpha):
        other = db.session.scalars(sa.select(ExamAttempt.id).where(ExamAttempt.user_id == tech2)).first()
    assert client.get(f"/admin/training/attempts/{other}", base_url=host(alpha)).status_code == 404
    # the same ids in the other tenant's host show that tenant's rows only
    sign_in(client, beta, "trainer")
    page = client.get(f"/admin/training/staff/{beta_tech}", base_url=host(beta)).text
    assert "SENTINEL-B" in page and "SENTINEL-A" not in page
