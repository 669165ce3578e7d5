"""Sentinel rows of the training domain for the two session tenants (tests/conftest.py seed_tenant).

Every text column a user reads carries the tenant's sentinel (`s`, e.g. SENTINEL-A) or the
store's (`{s}-S1`), so the isolation probe (tests/test_isolation.py) can tell the tenants apart.

The seeded technicians hold valid certificates for every device category of the handbook's
standard (HB §5.1.3(1)), so the workflow's tests can assign them any order.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.db import db, utcnow
from repairqc.training.models import (
    AttemptStatus,
    Attendance,
    Certificate,
    CertificateKind,
    Enrolment,
    EnrolmentStatus,
    Evaluation,
    Exam,
    ExamAnswer,
    ExamAttempt,
    ExamKind,
    ExamQuestion,
    PracticalCriterion,
    PracticalScore,
    ProgrammeKind,
    Retraining,
    RetrainingReason,
    RetrainingStatus,
    TrainingProgramme,
    TrainingSession,
)

#: The device categories of the handbook's standard (standards/defaults.py).
CATEGORIES = ("smartphone", "laptop", "tablet", "other")


def certify(
    user: StaffUser, categories=CATEGORIES, *, label: str = "", expires_on: date | None = None
) -> None:
    """Give `user` a valid internal certificate for each category (tests that make technicians)."""
    for category in categories:
        db.session.add(
            Certificate(
                holder=user,
                kind=CertificateKind.INTERNAL,
                device_category=category,
                number=f"CERT {label or user.email} {category}",
                issuer=f"Training {label or user.email}",
                issued_on=date(2020, 1, 1),
                expires_on=expires_on,
            )
        )
    db.session.flush()


def _people(users: dict) -> dict[str, StaffUser]:
    return {
        key: db.session.scalars(sa.select(StaffUser).where(StaffUser.email == email)).one()
        for key, email in users.items()
    }


def seed_certificates(s: str, stores: dict, users: dict) -> None:
    """Valid certificates of the seeded technicians for every category (before the workflow's
    seed rows, whose orders they take; HB §5.1.3(1))."""
    people = _people(users)
    for key in ("tech", "tech2"):
        store = stores["S1" if key == "tech" else "S2"]
        for category in CATEGORIES:
            db.session.add(
                Certificate(
                    holder=people[key],
                    store_id=store.id,
                    kind=CertificateKind.VOCATIONAL,
                    device_category=category,
                    number=f"{s}-{key}-{category}",
                    issuer=f"Issuer {s}",
                    issued_on=date(2020, 1, 1),
                    notes=f"Certificate {s}",
                )
            )
    db.session.flush()


def seed(s: str, stores: dict, users: dict) -> None:
    """Add the domain's rows; `stores` maps "S1"/"S2" to Store, `users` key -> e-mail."""
    people = _people(users)
    # The new-hire programme was made when the first technician was created (auto-enrolment).
    new_hire = db.session.scalars(
        sa.select(TrainingProgramme).where(TrainingProgramme.kind == ProgrammeKind.NEW_HIRE)
    ).one()
    new_hire.name = f"New-hire training {s}"
    in_service = TrainingProgramme(
        kind=ProgrammeKind.IN_SERVICE, name=f"In-service {s}", days=7, topics=f"Case studies {s}"
    )
    db.session.add(in_service)
    start = date(2026, 1, 5)
    theory = Exam(title=f"Theory {s}", kind=ExamKind.THEORY, topic=f"topic-{s}", question_count=2,
                  instructions=f"Instructions {s}")  # fmt: skip
    practical = Exam(title=f"Practical {s}", kind=ExamKind.PRACTICAL, instructions=f"Bench {s}")
    questions = [
        ExamQuestion(
            topic=f"topic-{s}", text=f"Question {n} {s}", options=f"Yes {s}\nNo {s}", correct_option=1
        )
        for n in (1, 2)
    ]
    criterion = PracticalCriterion(exam=practical, position=1, text=f"Criterion {s}", max_points=10)
    db.session.add_all([theory, practical, *questions, criterion])
    db.session.flush()
    now = utcnow()
    # One technician per store, so each store has rows of every kind only it sees.
    for key, name in (("tech", "S1"), ("tech2", "S2")):
        label, person, store = f"{s}-{name}", people[key], stores[name]
        manager = people["manager" if name == "S1" else "manager2"]
        session = TrainingSession(
            programme=new_hire,
            title=f"Session {label}",
            starts_on=start,
            ends_on=start + timedelta(days=13),
            trainer=people["trainer"],
            place=f"Room {label}",
            store=store,
            notes=f"Notes {label}",
        )
        db.session.add(session)
        enrolment = db.session.scalars(sa.select(Enrolment).where(Enrolment.user_id == person.id)).one()
        enrolment.session = session
        enrolment.status = EnrolmentStatus.COMPLETED
        enrolment.attendance = Attendance.ATTENDED
        enrolment.completed_on = session.ends_on
        enrolment.note = f"Enrolment {label}"
        attempt = ExamAttempt(
            exam=theory, user=person, store_id=store.id, number=1, status=AttemptStatus.PASSED,
            started_at=now - timedelta(minutes=20), deadline_at=now + timedelta(minutes=10),
            finished_at=now - timedelta(minutes=5), pass_mark=60, max_attempts=2, score=100,
            comment=f"Theory {label}",
        )  # fmt: skip
        for position, question in enumerate(questions, start=1):
            attempt.answers.append(
                ExamAnswer(question_id=question.id, position=position, text=f"{question.text} {label}",
                           options=question.options, correct_option=1, chosen_option=1, correct=True)
            )  # fmt: skip
        practical_attempt = ExamAttempt(
            exam=practical, user=person, store_id=store.id, number=1, status=AttemptStatus.PASSED,
            started_at=now, finished_at=now, pass_mark=60, max_attempts=2, score=80, assessor=manager,
            comment=f"Practical {label}",
        )  # fmt: skip
        practical_attempt.scores.append(
            PracticalScore(criterion_id=criterion.id, text=f"Criterion {label}", max_points=10, points=8)
        )
        db.session.add_all([attempt, practical_attempt])
        db.session.add(
            Evaluation(
                enrolment=enrolment,
                user_id=person.id,
                store_id=store.id,
                offset_months=0,
                due_on=session.ends_on,
                assessor=people["trainer"],
                remarks=f"Evaluation {label}",
            )
        )
        db.session.add(
            Retraining(
                user=person,
                store_id=store.id,
                reason=RetrainingReason.OTHER,
                note=f"Retraining {label}",
                opened_at=datetime(2026, 1, 1, tzinfo=now.tzinfo),
                status=RetrainingStatus.COMPLETED,
                closed_at=datetime(2026, 1, 2, tzinfo=now.tzinfo),
            )
        )
    for enrolment in db.session.scalars(sa.select(Enrolment).where(Enrolment.session_id.is_(None))):
        enrolment.note = f"Waiting {s}"
    db.session.flush()
