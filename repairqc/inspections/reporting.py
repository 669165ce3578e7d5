"""Supervision's columns of the cross-store report (HB ch.8, §8.3.4).

Definitions (period = whole UTC days from start to end inclusive; "now" = when the report is made):

* **Inspections**: inspections submitted in the period (`submitted_at`) and still submitted,
  reviewed or closed (one returned to the inspector does not count until submitted again).
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

from collections.abc import Sequence
from datetime import date

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
        if not store_ids:
            return {}
        low, high = utc_bounds(start, end)
        values: StoreValues = {}

        def put(store_id: int, **row) -> None:
            values.setdefault(store_id, {}).update(row)

        i = Inspection
        counted = [
            i.store_id.in_(store_ids),
            i.submitted_at >= low,
            i.submitted_at < high,
            i.status.in_(COUNTED),
        ]
        for sid, n, avg, passed, judged in db.session.execute(
            sa.select(
                i.store_id,
                sa.func.count(),
                sa.func.avg(i.score),
                count_if(i.passed.is_(True)),
                count_if(i.passed.is_not(None)),
            )
            .where(*counted)
            .group_by(i.store_id)
        ):
            put(
                sid,
                inspections=int(n),
                score_avg=None if avg is None else float(avg),
                pass_rate=Ratio(int(passed), int(judged)),
            )
        newest = (
            sa.select(
                i.store_id,
                i.score,
                sa.func.row_number()
                .over(partition_by=i.store_id, order_by=(i.submitted_at.desc(), i.id.desc()))
                .label("rn"),
            )
            .where(*counted)
            .subquery()
        )
        for sid, score in db.session.execute(
            sa.select(newest.c.store_id, newest.c.score).where(newest.c.rn == 1)
        ):
            put(sid, score_latest=None if score is None else float(score))

        f = Finding
        raised = [f.store_id.in_(store_ids), f.raised_at >= low, f.raised_at < high]
        severities, categories = list(SEVERITY_LABELS), list(CATEGORY_LABELS)
        for sid, total, *counts in db.session.execute(
            sa.select(
                f.store_id,
                sa.func.count(),
                *(count_if(f.severity == s) for s in severities),
                *(count_if(f.category == c) for c in categories),
            )
            .where(*raised)
            .group_by(f.store_id)
        ):
            row = {"findings": int(total)}
            keys = [f"findings_{s.value}" for s in severities] + [f"findings_{c.value}" for c in categories]
            row.update(zip(keys, map(int, counts), strict=True))
            put(sid, **row)

        a = CorrectiveAction
        today = utcnow().date()
        for sid, still_open, overdue, on_time in db.session.execute(
            sa.select(
                a.store_id,
                count_if(a.status != ActionStatus.VERIFIED),
                count_if(sa.and_(a.status.in_(ACTION_PENDING), a.due_on < today)),
                count_if(sa.and_(a.status == ActionStatus.VERIFIED, utc_date(a.done_at) <= a.due_on)),
            )
            .join(f, f.id == a.finding_id)
            .where(*raised)
            .group_by(a.store_id)
        ):
            put(
                sid,
                actions_open=int(still_open),
                actions_overdue=int(overdue),
                actions_closed_on_time=int(on_time),
            )

        r = RewardPenalty
        for sid, rewards, penalties in db.session.execute(
            sa.select(
                r.store_id, count_if(r.kind == RewardKind.REWARD), count_if(r.kind == RewardKind.PENALTY)
            )
            .where(r.store_id.in_(store_ids), r.decided_on >= start, r.decided_on <= end)
            .group_by(r.store_id)
        ):
            put(sid, rewards=int(rewards), penalties=int(penalties))
        return values


register(InspectionsProvider())
