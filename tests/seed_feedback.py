"""Rows of the feedback domain in both seeded tenants (called from tests/conftest.seed_tenant).

The workflow order of each store (tests/conftest.seed_workflow) was delivered, so it has its
follow-ups (the standard's days: 3 and 30; beta's chain overrides the first to 5) and its
survey already. Here, in each store: that survey is answered by staff (S1 by phone at the front
desk, S2 on a visit by the manager) and its first follow-up is recorded (reached, satisfied);
the second stays pending. No order or customer is added (other domains' tests count them), so
a pending survey is made by the tests that need one. Every text a user reads carries the
store's sentinel (`{s}-S1`), so the isolation probe can tell the stores apart.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.db import db
from repairqc.feedback import services
from repairqc.feedback.models import FollowUp, FollowUpChannel, FollowUpOutcome, SurveyChannel
from repairqc.repairs.models import RepairOrder, RepairOrderStatus


def seed(s: str, stores: dict, users: dict) -> None:
    """Add the domain's rows; `stores` maps "S1"/"S2" to Store, `users` key -> e-mail."""

    def person(key: str) -> StaffUser:
        return db.session.execute(sa.select(StaffUser).where(StaffUser.email == users[key])).scalar_one()

    today = date.today()
    for name, store in stores.items():
        label = f"{s}-{name}"
        desk = person("frontdesk" if name == "S1" else "manager2")
        delivered = db.session.execute(
            sa.select(RepairOrder).where(
                RepairOrder.store_id == store.id, RepairOrder.status == RepairOrderStatus.DELIVERED
            )
        ).scalar_one()
        survey = services.survey_of(delivered)
        services.enter_response(
            survey,
            desk,
            services.Answers(5, 4, 5, 4, comment=f"Comment {label}", would_recommend=True),
            channel=SurveyChannel.PHONE if name == "S1" else SurveyChannel.ON_SITE,
        )
        first = db.session.execute(
            sa.select(FollowUp).where(FollowUp.order_id == delivered.id, FollowUp.sequence == 1)
        ).scalar_one()
        services.record_follow_up(
            first,
            desk,
            channel=FollowUpChannel.PHONE,
            outcome=FollowUpOutcome.SATISFIED,
            notes=f"Follow-up notes {label}",
            today=today,
        )
