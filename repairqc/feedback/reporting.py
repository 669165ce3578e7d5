"""Customer satisfaction's columns of the cross-store report (HB §6.3.3, §6.2.2, §5.2.2).

Definitions (period = whole UTC days from start to end inclusive):

* **Surveys answered**: satisfaction surveys of the store answered in the period (`answered_at`),
  online or entered by staff (phone, visit, paper).
* **Response rate**: of the store's surveys due in the period (`send_after`, i.e. delivery +
  `survey_delay_hours`, in the period), the share answered by now, whichever way. Returned as
  Ratio(answered, due).
* **Satisfied**: of the surveys answered in the period, the share whose four scores (HB §6.3.2)
  average at least 4 of 5 (`services.SATISFIED_FROM`), against the standard's
  `satisfaction_target_pct`. Ratio(satisfied, answered); its p-chart shows the stores apart.
* **Timeliness, Repair quality, Service attitude, Price transparency**: the average score (1-5)
  of each dimension over the surveys answered in the period.
* **Would recommend**: of the answers of the period that said yes or no, the share yes.
* **Follow-ups on time**: of the store's follow-ups due in the period (`due_on`), those done
  (the customer reached, or declining to talk) on or before their due day. A follow-up closed
  without reaching the customer, or still open, is not on time. Ratio(on time, due).

Three statements whatever the number of periods (one UNION ALL branch per period each).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from repairqc.db import db
from repairqc.feedback.models import FollowUp, FollowUpStatus, SatisfactionSurvey
from repairqc.feedback.services import SATISFIED_FROM
from repairqc.reports.providers import (
    Column,
    ControlChart,
    Ratio,
    StoreValues,
    count_if,
    register,
    utc_bounds,
)

SCORE_COLUMNS = (
    ("avg_timeliness", "timeliness", _l("Timeliness (1–5)")),
    ("avg_quality", "quality", _l("Repair quality (1–5)")),
    ("avg_attitude", "attitude", _l("Service attitude (1–5)")),
    ("avg_price", "price", _l("Price transparency (1–5)")),
)


class FeedbackProvider:
    key = "feedback"
    title = _l("Customer satisfaction")
    columns = (
        Column(
            "surveys_answered", _l("Surveys answered"), "count", help=_l("Answered in the period, any way")
        ),
        Column(
            "response_rate",
            _l("Survey response rate"),
            "percent",
            higher_is_better=True,
            help=_l("Surveys due in the period that were answered"),
        ),
        Column(
            "satisfied",
            _l("Customers satisfied"),
            "percent",
            higher_is_better=True,
            target="satisfaction_target_pct",
            help=_l("Answers of the period averaging 4 or more of 5"),
        ),
        *(Column(key, label, "score", higher_is_better=True) for key, _name, label in SCORE_COLUMNS),
        Column(
            "would_recommend",
            _l("Would recommend us"),
            "percent",
            higher_is_better=True,
            help=_l("Answers of the period saying yes, of those answering the question"),
        ),
        Column(
            "follow_ups_on_time",
            _l("Follow-ups on time"),
            "percent",
            higher_is_better=True,
            help=_l("Follow-ups due in the period done by their due day"),
        ),
    )
    control_charts = (ControlChart("satisfied", _l("Customers satisfied"), "satisfied"),)
    trend_columns = ("satisfied",)

    def collect(self, start: date, end: date, store_ids: Sequence[int]) -> StoreValues:
        return self.collect_periods([(start, end)], store_ids)[0]

    def collect_periods(
        self, periods: Sequence[tuple[date, date]], store_ids: Sequence[int]
    ) -> list[StoreValues]:
        values: list[StoreValues] = [{} for _ in periods]
        if not store_ids or not periods:
            return values
        stores = sa.bindparam("store_ids", list(store_ids), expanding=True)
        s = SatisfactionSurvey
        total = (s.timeliness + s.quality + s.attitude + s.price).label("total")

        def put(k: int, store_id: int, **row) -> None:
            values[int(k)].setdefault(store_id, {}).update(row)

        def period(k: int):
            return sa.literal_column(str(k)).label("period")

        answered = sa.union_all(
            *(
                sa.select(
                    s.store_id,
                    s.timeliness,
                    s.quality,
                    s.attitude,
                    s.price,
                    total,
                    s.would_recommend,
                    period(k),
                ).where(s.store_id.in_(stores), s.answered_at >= low, s.answered_at < high)
                for k, (low, high) in enumerate(utc_bounds(start, end) for start, end in periods)
            )
        ).subquery()
        a = answered.c
        for row in db.session.execute(
            sa.select(
                a.period,
                a.store_id,
                sa.func.count(),
                *(sa.func.avg(a[name]) for _key, name, _label in SCORE_COLUMNS),
                count_if(a.total >= 4 * SATISFIED_FROM),
                count_if(a.would_recommend.is_(True)),
                sa.func.count(a.would_recommend),
            ).group_by(a.period, a.store_id)
        ):
            k, store_id, n, *averages, satisfied, yes, said = row
            put(
                k,
                store_id,
                surveys_answered=int(n),
                satisfied=Ratio(int(satisfied), int(n)),
                would_recommend=Ratio(int(yes), int(said)),
                **{
                    key: float(avg) for (key, _name, _label), avg in zip(SCORE_COLUMNS, averages, strict=True)
                },
            )

        due = sa.union_all(
            *(
                sa.select(s.store_id, s.answered_at, period(k)).where(
                    s.store_id.in_(stores), s.send_after >= low, s.send_after < high
                )
                for k, (low, high) in enumerate(utc_bounds(start, end) for start, end in periods)
            )
        ).subquery()
        for k, store_id, n, done in db.session.execute(
            sa.select(
                due.c.period, due.c.store_id, sa.func.count(), count_if(due.c.answered_at.is_not(None))
            ).group_by(due.c.period, due.c.store_id)
        ):
            put(k, store_id, response_rate=Ratio(int(done), int(n)))

        f = FollowUp
        follow_ups = sa.union_all(
            *(
                sa.select(f.store_id, f.status, f.due_on, f.completed_on, period(k)).where(
                    f.store_id.in_(stores), f.due_on >= start, f.due_on <= end
                )
                for k, (start, end) in enumerate(periods)
            )
        ).subquery()
        fc = follow_ups.c
        on_time = sa.and_(fc.status == FollowUpStatus.DONE, fc.completed_on <= fc.due_on)
        for k, store_id, n, timely in db.session.execute(
            sa.select(fc.period, fc.store_id, sa.func.count(), count_if(on_time)).group_by(
                fc.period, fc.store_id
            )
        ):
            put(k, store_id, follow_ups_on_time=Ratio(int(timely), int(n)))
        return values


register(FeedbackProvider())
