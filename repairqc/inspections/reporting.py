"""Supervision's columns of the cross-store report (HB ch.8, §8.3.4).

Definitions (period = whole UTC days from start to end inclusive; "now" = when the report is made):

* **Inspections**: store inspections (the standard's template) submitted in the period
  (`submitted_at`) and still submitted, reviewed or closed (one returned to the inspector does
  not count until submitted again). Confidentiality checks (HB §7.3.2 (3)) are left out of this
  and the three columns below: they score another checklist, with another pass mark, so a
  store's average would mix two scales. Their findings and corrective actions count below like
  any other, being real problems of the store.
* **Latest score / Average score**: the score (%) of the last of those inspections, and the mean
  of their scores.
* **Pass rate**: the share of those inspections that passed (score at the pass mark, no critical
  item failed).
* **Findings by severity and by category**: findings raised in the period (`raised_at`).
* **Corrective actions** of those findings, as they stand now: *open* = not yet verified by QA
  (open, in progress, reopened, or done and awaiting verification); *overdue* = still to be done
  by the owner (open, in progress, reopened) and due before today; *closed on time* = verified
  and done on or before the due date (the UTC day of `done_at` <= `due_on`).
* **Rewards / Penalties** (HB §8.3.4): decided in the period (`decided_on`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from repairqc.db import db, utcnow
from repairqc.inspections.models import (
    ACTION_PENDING,
    ActionStatus,
    CorrectiveAction,
    Finding,
    FindingCategory,
    Inspection,
    InspectionChecklist,
    InspectionStatus,
    RewardKind,
    RewardPenalty,
    Severity,
)
from repairqc.reports.providers import Column, Ratio, StoreValues, count_if, register, utc_bounds, utc_date

#: Inspections whose result stands: submitted, and not returned to the inspector since.
COUNTED = (InspectionStatus.SUBMITTED, InspectionStatus.REVIEWED, InspectionStatus.CLOSED)

SEVERITY_LABELS = {
    Severity.CRITICAL: _l("Critical findings"),
    Severity.MAJOR: _l("Major findings"),
    Severity.MINOR: _l("Minor findings"),
}
CATEGORY_LABELS = {
    FindingCategory.PROCESS: _l("Findings: process"),
    FindingCategory.EQUIPMENT: _l("Findings: equipment"),
    FindingCategory.SKILLS: _l("Findings: staff skills"),
    FindingCategory.SERVICE: _l("Findings: service"),
}


class InspectionsProvider:
    key = "inspections"
    title = _l("Inspections")
    columns = (
        Column("inspections", _l("Inspections"), "count", help=_l("Inspections submitted in the period")),
        Column(
            "score_latest",
            _l("Latest score"),
            "score",
            higher_is_better=True,
            help=_l("Score of the last inspection submitted in the period"),
        ),
        Column(
            "score_avg",
            _l("Average score"),
            "score",
            higher_is_better=True,
            help=_l("Mean score of the inspections submitted in the period"),
        ),
        Column(
            "pass_rate",
            _l("Inspections passed"),
            "percent",
            higher_is_better=True,
            help=_l("Score at the pass mark and no critical item failed"),
        ),
        Column("findings", _l("Findings"), "count", higher_is_better=False, help=_l("Raised in the period")),
        *(
            Column(f"findings_{severity.value}", label, "count", higher_is_better=False)
            for severity, label in SEVERITY_LABELS.items()
        ),
        *(
            Column(f"findings_{category.value}", label, "count")
            for category, label in CATEGORY_LABELS.items()
        ),
        Column(
            "actions_open",
            _l("Corrective actions open"),
            "count",
            higher_is_better=False,
            help=_l("Of the findings raised in the period: not yet verified by QA"),
        ),
        Column(
            "actions_overdue",
            _l("Corrective actions overdue"),
            "count",
            higher_is_better=False,
            help=_l("Still to be done and past their due date today"),
        ),
        Column(
            "actions_closed_on_time",
            _l("Corrective actions closed on time"),
            "count",
            higher_is_better=True,
            help=_l("Verified, and done by their due date"),
        ),
        Column("rewards", _l("Rewards"), "count", help=_l("HB §8.3.4, decided in the period")),
        Column("penalties", _l("Penalties"), "count", help=_l("HB §8.3.4, decided in the period")),
    )
    control_charts = ()
    trend_columns = ("score_avg",)

    def collect(self, start: date, end: date, store_ids: Sequence[int]) -> StoreValues:
        return self.collect_periods([(start, end)], store_ids)[0]

    def collect_periods(
        self, periods: Sequence[tuple[date, date]], store_ids: Sequence[int]
    ) -> list[StoreValues]:
        """Five statements whatever the number of periods: each reads the rows of every period
        as one UNION ALL branch per period (tagged with its index) and groups by period and store."""
        values: list[StoreValues] = [{} for _ in periods]
        if not store_ids or not periods:
            return values

        # One list of ids however many branches use it: the same bound parameters each time,
        # not a copy per period (12 months x 2 x stores would near the drivers' limits).
        stores = sa.bindparam("store_ids", list(store_ids), expanding=True)

        def put(k: int, store_id: int, **row) -> None:
            values[k].setdefault(store_id, {}).update(row)

        def per_period(branch: Callable[[datetime, datetime, date, date], sa.Select]) -> sa.Subquery:
            return sa.union_all(
                *(
                    branch(*utc_bounds(start, end), start, end).add_columns(
                        sa.literal_column(str(k)).label("period")
                    )
                    for k, (start, end) in enumerate(periods)
                )
            ).subquery()

        i = Inspection
        counted = per_period(
            lambda low, high, _start, _end: sa.select(
                i.id, i.store_id, i.score, i.submitted_at, i.passed.label("passed")
            ).where(
                i.store_id.in_(stores),
                i.submitted_at >= low,
                i.submitted_at < high,
                i.status.in_(COUNTED),
                i.checklist == InspectionChecklist.STORE,
            )
        )
        c = counted.c
        for k, sid, n, avg, passed, judged in db.session.execute(
            sa.select(
                c.period,
                c.store_id,
                sa.func.count(),
                sa.func.avg(c.score),
                count_if(c.passed.is_(True)),
                count_if(c.passed.is_not(None)),
            ).group_by(c.period, c.store_id)
        ):
            put(
                k,
                sid,
                inspections=int(n),
                score_avg=None if avg is None else float(avg),
                pass_rate=Ratio(int(passed), int(judged)),
            )
        newest = sa.select(
            c.period,
            c.store_id,
            c.score,
            sa.func.row_number()
            .over(partition_by=(c.period, c.store_id), order_by=(c.submitted_at.desc(), c.id.desc()))
            .label("rn"),
        ).subquery()
        for k, sid, score in db.session.execute(
            sa.select(newest.c.period, newest.c.store_id, newest.c.score).where(newest.c.rn == 1)
        ):
            put(k, sid, score_latest=None if score is None else float(score))

        f = Finding

        def raised(low: datetime, high: datetime) -> list[sa.ColumnElement[bool]]:
            return [f.store_id.in_(stores), f.raised_at >= low, f.raised_at < high]

        found = per_period(
            lambda low, high, _start, _end: sa.select(f.store_id, f.severity, f.category).where(
                *raised(low, high)
            )
        )
        severities, categories = list(SEVERITY_LABELS), list(CATEGORY_LABELS)
        keys = [f"findings_{s.value}" for s in severities] + [f"findings_{c.value}" for c in categories]
        for k, sid, total, *counts in db.session.execute(
            sa.select(
                found.c.period,
                found.c.store_id,
                sa.func.count(),
                *(count_if(found.c.severity == s) for s in severities),
                *(count_if(found.c.category == c) for c in categories),
            ).group_by(found.c.period, found.c.store_id)
        ):
            put(k, sid, findings=int(total), **dict(zip(keys, map(int, counts), strict=True)))

        a = CorrectiveAction
        actions = per_period(
            lambda low, high, _start, _end: (
                sa.select(a.store_id, a.status, a.due_on, a.done_at)
                .join(f, f.id == a.finding_id)
                .where(*raised(low, high))
            )
        )
        today = utcnow().date()
        for k, sid, still_open, overdue, on_time in db.session.execute(
            sa.select(
                actions.c.period,
                actions.c.store_id,
                count_if(actions.c.status != ActionStatus.VERIFIED),
                count_if(sa.and_(actions.c.status.in_(ACTION_PENDING), actions.c.due_on < today)),
                count_if(
                    sa.and_(
                        actions.c.status == ActionStatus.VERIFIED,
                        utc_date(actions.c.done_at) <= actions.c.due_on,
                    )
                ),
            ).group_by(actions.c.period, actions.c.store_id)
        ):
            put(
                k,
                sid,
                actions_open=int(still_open),
                actions_overdue=int(overdue),
                actions_closed_on_time=int(on_time),
            )

        r = RewardPenalty
        decided = per_period(
            lambda _low, _high, start, end: sa.select(r.store_id, r.kind).where(
                r.store_id.in_(stores), r.decided_on >= start, r.decided_on <= end
            )
        )
        for k, sid, rewards, penalties in db.session.execute(
            sa.select(
                decided.c.period,
                decided.c.store_id,
                count_if(decided.c.kind == RewardKind.REWARD),
                count_if(decided.c.kind == RewardKind.PENALTY),
            ).group_by(decided.c.period, decided.c.store_id)
        ):
            put(k, sid, rewards=int(rewards), penalties=int(penalties))
        return values


register(InspectionsProvider())
