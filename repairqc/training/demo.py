"""Training data of the demo tenant: certificates for its technician (so they can take every
category's repairs, HB §5.1.3(1)), the policy's programmes with a planned session, and a theory
exam with a small question bank and a practical exam with its rubric (HB §3.2.1)."""

from __future__ import annotations

from datetime import timedelta

from repairqc.accounts.models import Role, StaffUser
from repairqc.db import db, utcnow
from repairqc.training import services
from repairqc.training.models import (
    Certificate,
    CertificateKind,
    Exam,
    ExamKind,
    ExamQuestion,
    PracticalCriterion,
    ProgrammeKind,
)

QUESTIONS = (
    ("Before opening a phone, what do you do first?",
     "Discharge the battery below 25% and disconnect it\nHeat the screen to 200 °C\n"
     "Remove the SIM tray last", 1),
    ("An ESD wrist strap is worn…",
     "Whenever touching a board\nOnly for laptops\nOnly when it is cold", 1),
    ("A customer asks for the old screen back. You…",
     "Return it with the device, as recorded at intake\nThrow it away\nKeep it for spare parts", 1),
    ("QC of a repair is signed by…",
     "Another technician or the store manager\nThe technician who repaired it\nThe customer", 1),
    ("A tool past its calibration date is…",
     "Not used until calibrated\nUsed carefully\nUsed for small repairs only", 1),
)  # fmt: skip


def seed_demo(users: dict[Role, StaffUser]) -> None:
    today = utcnow().date()
    technician = users[Role.TECHNICIAN]
    for category in ("smartphone", "laptop", "tablet", "other"):
        db.session.add(
            Certificate(
                holder=technician,
                kind=CertificateKind.INTERNAL,
                device_category=category,
                number=f"FF-{category.upper()}-0001",
                issuer="FixFast Academy",
                issued_on=today - timedelta(days=200),
                expires_on=today + timedelta(days=20 if category == "tablet" else 530),
            )
        )
    new_hire = services.programme_for(ProgrammeKind.NEW_HIRE, today)
    services.programme_for(ProgrammeKind.IN_SERVICE, today)
    db.session.flush()
    days = new_hire.days
    services.schedule_session(
        new_hire,
        title="New-hire training, next intake",
        starts_on=today + timedelta(days=14),
        ends_on=today + timedelta(days=14 + days - 1),
        place="FixFast Academy, Downtown",
        trainer=users.get(Role.TRAINER),
    )
    theory = Exam(title="Repair basics (theory)", kind=ExamKind.THEORY, topic="basics", question_count=5)
    practical = Exam(title="Screen replacement (practical)", kind=ExamKind.PRACTICAL)
    practical.criteria = [
        PracticalCriterion(position=1, text="Safe disassembly", max_points=20),
        PracticalCriterion(position=2, text="Correct part fitted, no damage", max_points=50),
        PracticalCriterion(position=3, text="Function test and cleaning", max_points=30),
    ]
    db.session.add_all([theory, practical])
    db.session.add_all(
        ExamQuestion(topic="basics", text=text, options=options, correct_option=correct)
        for text, options, correct in QUESTIONS
    )
    db.session.flush()
