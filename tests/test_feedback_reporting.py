"""Customer satisfaction's columns of the cross-store report (feedback/reporting.py's docstring
defines each), on both databases: figures per store and period, and a fixed number of
statements whatever the number of surveys.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from repairqc.db import db
from repairqc.feedback.models import FollowUp, FollowUpStatus, SatisfactionSurvey, SurveyChannel, SurveyStatus
from repairqc.feedback.reporting import FeedbackProvider
from repairqc.reports.providers import Ratio, providers
from tests.conftest import in_tenant, store
from tests.test_feedback_services import delivered_order

MARCH = (date(2025, 3, 1), date(2025, 3, 31))
APRIL = (date(2025, 4, 1), date(2025, 4, 30))


def at(day: int, month: int = 3, hour: int = 10) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


def survey_in_the_past(
    tenant,
    store_name: str,
    *,
    due: datetime,
    answered: datetime | None = None,
    scores=(5, 5, 5, 5),
    recommend: bool | None = None,
) -> SatisfactionSurvey:
    """A delivered order's survey moved back in time: due at `due`, answered at `answered`."""
    survey = db.session.execute(
        sa.select(SatisfactionSurvey).where(
            SatisfactionSurvey.order_id == delivered_order(tenant, store_name).id
        )
    ).scalar_one()
    survey.send_after = due
    if answered is not None:
        survey.timeliness, survey.quality, survey.attitude, survey.price = scores
        survey.answered_at, survey.channel, survey.status = (
            answered,
            SurveyChannel.PHONE,
            SurveyStatus.ANSWERED,
        )
        survey.would_recommend = recommend
    return survey


def follow_up_in_the_past(
    survey: SatisfactionSurvey, *, due: date, done: date | None, status: FollowUpStatus
):
    follow_up = db.session.execute(
        sa.select(FollowUp).where(FollowUp.order_id == survey.order_id, FollowUp.sequence == 1)
    ).scalar_one()
    follow_up.due_on, follow_up.completed_on, follow_up.status = due, done, status


def test_the_provider_is_registered():
    assert "feedback" in [p.key for p in providers()]


def test_figures_per_store_and_period(app, alpha, statements):
    with in_tenant(app, alpha):
        s1, s2 = store(alpha, "S1").id, store(alpha, "S2").id
        # S1: four surveys due in March; three answered in March (one of them late in April)
        a = survey_in_the_past(alpha, "S1", due=at(2), answered=at(3), scores=(5, 5, 4, 4), recommend=True)
        b = survey_in_the_past(alpha, "S1", due=at(5), answered=at(6), scores=(3, 4, 3, 2), recommend=False)
        survey_in_the_past(alpha, "S1", due=at(8), answered=at(9), scores=(4, 4, 4, 4))
        survey_in_the_past(alpha, "S1", due=at(30), answered=at(2, month=4), scores=(1, 1, 1, 1))
        c = survey_in_the_past(alpha, "S1", due=at(31, hour=23))  # due, never answered
        # follow-ups of March at S1: on time, late, closed without reaching, open
        follow_up_in_the_past(a, due=date(2025, 3, 5), done=date(2025, 3, 5), status=FollowUpStatus.DONE)
        follow_up_in_the_past(b, due=date(2025, 3, 8), done=date(2025, 3, 10), status=FollowUpStatus.DONE)
        follow_up_in_the_past(c, due=date(2025, 3, 20), done=date(2025, 3, 20), status=FollowUpStatus.CLOSED)
        # S2: one survey answered in March
        survey_in_the_past(alpha, "S2", due=at(10), answered=at(10, hour=12), scores=(2, 2, 2, 2))
        db.session.flush()

        march, april = FeedbackProvider().collect_periods([MARCH, APRIL], [s1, s2])
        one = march[s1]
        assert one["surveys_answered"] == 3
        assert one["response_rate"] == Ratio(4, 5)  # answered by now, of those due in March
        assert one["satisfied"] == Ratio(2, 3)  # means 4.5, 3.0, 4.0
        assert one["would_recommend"] == Ratio(1, 2)
        assert one["avg_timeliness"] == pytest.approx(4.0) and one["avg_price"] == pytest.approx(10 / 3)
        assert one["avg_quality"] == pytest.approx(13 / 3) and one["avg_attitude"] == pytest.approx(11 / 3)
        assert one["follow_ups_on_time"] == Ratio(1, 3)
        assert march[s2]["satisfied"] == Ratio(0, 1) and march[s2]["avg_quality"] == pytest.approx(2.0)
        assert "response_rate" in march[s2] and "follow_ups_on_time" not in march[s2]
        assert april[s1]["surveys_answered"] == 1 and april[s1]["satisfied"] == Ratio(0, 1)
        assert FeedbackProvider().collect(*MARCH, [s2]) == {s2: march[s2]}

        # more surveys, the same statements
        with statements() as few:
            FeedbackProvider().collect_periods([MARCH, APRIL], [s1, s2])
        for _ in range(3):
            survey_in_the_past(alpha, "S2", due=at(11), answered=at(12), scores=(5, 4, 5, 4))
        db.session.flush()
        with statements() as more:
            FeedbackProvider().collect_periods([MARCH, APRIL], [s1, s2])
        assert (
            len([s for s in more if s.startswith("select")])
            == len([s for s in few if s.startswith("select")])
            == 3
        )
