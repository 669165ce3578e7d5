"""Sentinel rows of the improvements domain for the two session tenants (tests/conftest.py
seed_tenant).

Every text a user reads carries the tenant's sentinel (`s`, e.g. SENTINEL-A) or the store's
(`{s}-S1`), so the isolation probe (tests/test_isolation.py) can tell tenants and stores apart.
Each store gets a suggestion submitted by its technician and left awaiting the decision, and one
adopted by QA with the store's manager responsible (HB §2.3.2); the tenant gets one provider-wide
suggestion filed by QA (no store: every member of staff sees it, so its texts and people carry
only the tenant's sentinel), one process review discussing the three adopted or provider-wide
ones (HB §2.3.1), and one reminder the daily job sent.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.db import db
from repairqc.improvements import services
from repairqc.improvements.models import ImprovementArea, ImprovementReminder, ReminderKind, SuggestionSource


def seed(s: str, stores: dict, users: dict) -> None:
    """Add the domain's rows; `stores` maps "S1"/"S2" to Store, `users` key -> e-mail."""

    def person(key: str) -> StaffUser:
        return db.session.execute(sa.select(StaffUser).where(StaffUser.email == users[key])).scalar_one()

    today = date.today()
    qa = person("qa")
    adopted = []
    for name, store in stores.items():
        label = f"{s}-{name}"
        tech = person("tech" if name == "S1" else "tech2")
        manager = person("manager" if name == "S1" else "manager2")
        services.submit_suggestion(
            tech,
            area=ImprovementArea.REPAIR_PROCESS,
            title=f"Suggestion {label}",
            problem=f"Problem {label}",
            proposal=f"Proposal {label}",
            store=store,
        )
        suggestion = services.submit_suggestion(
            tech,
            area=ImprovementArea.EQUIPMENT,
            title=f"Adopted suggestion {label}",
            problem=f"Adopted problem {label}",
            proposal=f"Adopted proposal {label}",
            store=store,
            source=SuggestionSource.COMPLAINT,
            source_reference=f"Complaint {label}",
        )
        services.adopt_suggestion(
            suggestion,
            qa,
            responsible=manager,
            due_on=today + timedelta(days=30),
            plan=f"Plan {label}",
            note=f"Note {label}",
            today=today,
        )
        adopted.append(suggestion)
    provider_wide = services.submit_suggestion(
        qa,
        area=ImprovementArea.QUALITY_STANDARDS,
        title=f"Provider idea {s}",
        problem=f"Provider problem {s}",
        proposal=f"Provider proposal {s}",
        store=None,
        source=SuggestionSource.SURVEY_ANALYSIS,
    )
    services.save_process_review(
        qa,
        period_start=today - timedelta(days=90),
        period_end=today,
        held_on=today,
        participants=f"Participants {s}",
        areas=[ImprovementArea.REPAIR_PROCESS, ImprovementArea.EQUIPMENT],
        findings=f"Findings {s}",
        decisions=f"Decisions {s}",
        next_review_due_on=today + timedelta(days=90),
        suggestion_ids=[*(a.id for a in adopted), provider_wide.id],
        today=today,
    )
    db.session.add(
        ImprovementReminder(
            key=f"process_review:0:{(today - timedelta(days=400)).isoformat()}",
            kind=ReminderKind.PROCESS_REVIEW,
            due_on=today - timedelta(days=400),
            sent_on=today - timedelta(days=400),
            recipients=f"Reminder {s}",
        )
    )
    db.session.flush()
