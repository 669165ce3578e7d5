"""A QC check keeps the standard version it was begun with (HB §2.1.1, §5.1.3(5))."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from repairqc.db import db, utcnow
from repairqc.errors import DomainError
from repairqc.repairs.models import QCCheck, QCCheckStatus, RepairOrder, RepairOrderStatus
from repairqc.repairs.services import begin_qc_check
from repairqc.standards import services
from tests.conftest import in_tenant, staff

TODAY = utcnow().date()  # the seeded standard takes effect on the day the tenants are made
TOMORROW = TODAY + timedelta(days=1)


def order_in_qc(tenant) -> RepairOrder:
    order = db.session.execute(sa.select(RepairOrder).order_by(RepairOrder.id)).scalars().first()
    order.status = RepairOrderStatus.QC
    order.technician_id = staff(tenant, "tech").id
    for check in db.session.execute(sa.select(QCCheck).where(QCCheck.repair_order_id == order.id)).scalars():
        check.status = QCCheckStatus.FAILED  # the seeded check is over: a new one may begin
    return order


def publish_new_smartphone_check(today: date, effective: date) -> int:
    draft = services.start_draft()
    document = copy.deepcopy(draft.document)
    smartphone = next(c for c in document["qc_checklists"] if c["category"] == "smartphone")
    smartphone["items"].insert(0, {"code": "face-id", "text": {"en": "Face ID works", "zh": "面容ID正常"},
                                   "kind": "pass_fail", "critical": True})  # fmt: skip
    services.save_draft(draft, document)
    services.publish(draft, effective, today=today, publisher_id=None)
    return draft.id


def test_a_check_begun_today_keeps_version_1_when_version_2_starts_tomorrow(app, alpha):
    with in_tenant(app, alpha):
        version_1 = services.version_on(TODAY)
        version_2 = publish_new_smartphone_check(TODAY, TOMORROW)
        order = order_in_qc(alpha)
        inspector = staff(alpha, "manager")

        today_check = begin_qc_check(order, inspector, today=TODAY)
        assert today_check.standard_version_id == version_1.id
        assert [r.item_code for r in today_check.results][:2] == ["touch", "cameras"]
        assert "face-id" not in {r.item_code for r in today_check.results}
        assert today_check.results[0].item_text == {"en": "Touch responds over the whole screen",
                                                   "zh": "全屏触控正常"}  # fmt: skip

        today_check.status = QCCheckStatus.FAILED  # finished, so another check may begin
        tomorrow_check = begin_qc_check(order, inspector, today=TOMORROW)
        assert tomorrow_check.standard_version_id == version_2
        assert tomorrow_check.results[0].item_code == "face-id" and tomorrow_check.results[0].critical


def test_the_repairing_technician_cannot_check_and_only_orders_in_qc(app, alpha):
    with in_tenant(app, alpha):
        order = order_in_qc(alpha)
        with pytest.raises(DomainError, match="cannot check it"):
            begin_qc_check(order, staff(alpha, "tech"), today=TODAY)
        order.status = RepairOrderStatus.IN_REPAIR
        with pytest.raises(DomainError, match="waiting for its quality check"):
            begin_qc_check(order, staff(alpha, "manager"), today=TODAY)
