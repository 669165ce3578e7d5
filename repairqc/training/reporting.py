"""The training columns of the cross-store report (issue #7: store compliance).

* **Certificates valid** (HB §5.1.3(1)): of the store's active technicians (people holding the
  technician role at the store, accounts active), those holding at least one certificate valid
  on the period's last day — a Ratio per store.
* **Training completed** (HB §3.1.4): of the new-hire enrolments of the store (the store the
  person was hired at) whose due date falls in the period, not withdrawn, those completed by the
  period's end — a Ratio per store. An enrolment's due date is its session's last day, or the
  enrolment day plus the policy's training days while it waits for a session.

Two statements per period, each grouped by store; nothing is loaded into Python to count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.db import db
from repairqc.reports.providers import Column, Ratio, StoreValues, count_if, register
from repairqc.training.models import Certificate, Enrolment, EnrolmentStatus, ProgrammeKind, TrainingProgramme


class TrainingProvider:
    key = "training"
    title = _l("Training and certificates")
    columns = (
        Column(
            "certificates_valid",
            _l("Technicians certified"),
            "percent",
            higher_is_better=True,
            help=_l("Active technicians holding a valid certificate on the period's last day (HB §5.1.3(1))"),
        ),
        Column(
            "training_completed",
            _l("New-hire training completed"),
            "percent",
            higher_is_better=True,
            help=_l("New-hire enrolments due in the period that were completed by its end (HB §3.1.4)"),
        ),
    )
    control_charts = ()
    trend_columns = ("certificates_valid",)

    def collect(self, start: date, end: date, store_ids: Sequence[int]) -> StoreValues:
        values: StoreValues = {}
        if not store_ids:
            return values
        stores = list(store_ids)
        valid = (
            sa.exists()
            .where(
                Certificate.holder_id == RoleAssignment.user_id,
                Certificate.issued_on <= end,
                sa.or_(Certificate.expires_on.is_(None), Certificate.expires_on >= end),
            )
            .correlate(RoleAssignment)
        )
        technicians = (
            sa.select(RoleAssignment.store_id, RoleAssignment.user_id, valid.label("valid"))
            .join(StaffUser, StaffUser.id == RoleAssignment.user_id)
            .where(
                RoleAssignment.role == Role.TECHNICIAN,
                RoleAssignment.store_id.in_(stores),
                StaffUser.is_active,
                ~StaffUser.is_platform_support,
            )
            .subquery()
        )
        for store_id, certified, total in db.session.execute(
            sa.select(technicians.c.store_id, count_if(technicians.c.valid), sa.func.count()).group_by(
                technicians.c.store_id
            )
        ):
            values.setdefault(store_id, {})["certificates_valid"] = Ratio(int(certified), int(total))
        completed = sa.and_(Enrolment.status == EnrolmentStatus.COMPLETED, Enrolment.completed_on <= end)
        for store_id, done, due in db.session.execute(
            sa.select(Enrolment.store_id, count_if(completed), sa.func.count())
            .join(TrainingProgramme, TrainingProgramme.id == Enrolment.programme_id)
            .where(
                TrainingProgramme.kind == ProgrammeKind.NEW_HIRE,
                Enrolment.store_id.in_(stores),
                Enrolment.due_on.between(start, end),
                Enrolment.status != EnrolmentStatus.WITHDRAWN,
            )
            .group_by(Enrolment.store_id)
        ):
            values.setdefault(store_id, {})["training_completed"] = Ratio(int(done), int(due))
        return values


register(TrainingProvider())
