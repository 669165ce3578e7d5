"""Sentinel rows of the assessments domain for the two session tenants (tests/conftest.py seed_tenant).

Every text column a user reads carries the tenant's sentinel (`s`, e.g. SENTINEL-A) or the
store's (`{s}-S1`), so the isolation probe (tests/test_isolation.py) can tell the tenants apart.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.db import db


def seed(s: str, stores: dict, users: dict) -> None:
    """Add the domain's rows; `stores` maps "S1"/"S2" to Store, `users` key -> e-mail.

    One monthly assessment of last month per store (its technician, assessed by its manager),
    with scores saved, so `assessments` and `assessment_events` have rows in both stores."""
    from repairqc.assessments import services
    from repairqc.assessments.models import AssessmentKind

    def person(key: str) -> StaffUser:
        return db.session.execute(sa.select(StaffUser).where(StaffUser.email == users[key])).scalar_one()

    today = date.today()
    period = services.previous_period(AssessmentKind.MONTHLY, today)
    for name, store in stores.items():
        tech, manager = (
            (person("tech"), person("manager")) if name == "S1" else (person("tech2"), person("manager2"))
        )
        assessment = services.open_assessment(
            tech, store, AssessmentKind.MONTHLY, period, by=manager, today=today
        )
        services.save_scores(
            assessment,
            manager,
            services.ManualScores(communication=80, teamwork=75, safety=90),
            comment=f"Assessment {s}-{name}",
        )
        assessment.events[0].comment = f"Opened {s}-{name}"
    db.session.flush()
