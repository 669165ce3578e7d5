"""Demo improvement suggestions (`repairqc.demo`): one waiting for QA's decision and one adopted
and being worked on, so the suggestion register (HB §2.3.2, §5.2.3) has something to show."""

from __future__ import annotations

from datetime import timedelta

from repairqc.accounts.models import Role, StaffUser
from repairqc.db import utcnow
from repairqc.improvements import services
from repairqc.improvements.models import ImprovementArea, SuggestionSource
from repairqc.stores.models import Store


def seed_demo(stores: dict[str, Store], users: dict[Role, StaffUser]) -> None:
    today = utcnow().date()
    downtown = stores["FF-N01"]
    services.submit_suggestion(
        users[Role.TECHNICIAN],
        area=ImprovementArea.EQUIPMENT,
        title="A second heat plate for screen repairs",
        problem="Screen repairs queue for the one heat plate in the afternoon.",
        proposal="Buy a second plate for the downtown bench; it pays back in about two months.",
        store=downtown,
    )
    adopted = services.submit_suggestion(
        users[Role.FRONT_DESK],
        area=ImprovementArea.CUSTOMER_SERVICE,
        title="Text the customer when the quote is ready",
        problem="Customers call to ask whether the quote is ready; the calls interrupt intake.",
        proposal="Send the tracking link by text message as soon as the quote is sent.",
        store=downtown,
        source=SuggestionSource.STAFF_IDEA,
    )
    services.adopt_suggestion(
        adopted,
        users[Role.QA_MANAGER],
        responsible=users[Role.STORE_MANAGER],
        due_on=today + timedelta(days=21),
        plan="Configure the SMS provider, then try it at the downtown store for a month.",
        today=today,
    )
