"""Review findings of issue #7 on equipment (HB ch.4, §5.1.3(2)), on both databases: four eyes
on procurement and retirement decisions, the item locked by both retirement steps, asset tags
unique ignoring case in the database, the acceptance check's serial numbers and item names, and
a late, older failed calibration leaving the item in service.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from repairqc.accounts.models import RoleAssignment, StaffUser
from repairqc.db import db
from repairqc.equipment import services
from repairqc.equipment.models import (
    CalibrationResult,
    DisposalMethod,
    EquipmentItem,
    EquipmentStatus,
    ProcurementStatus,
    RetirementReason,
    RetirementStatus,
)
from repairqc.errors import DomainError
from tests.conftest import in_tenant, sign_in, staff, store
from tests.test_equipment_services import TODAY, calibrate, count, item, planned
from tests.test_equipment_views import PROCUREMENT, form_fields, get, post


def only_approver(user: StaffUser) -> None:
    """Make `user` the tenant's one active QA manager or owner (a one-person shop)."""
    others = db.session.execute(
        sa.select(StaffUser)
        .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
        .where(RoleAssignment.role.in_(services.APPROVERS), StaffUser.id != user.id)
    ).scalars()
    for other in others:
        other.is_active = False
    db.session.flush()


def approved_request(tenant, requester: str = "manager", quantity: int = 1):
    request = services.request_procurement(
        store(tenant), staff(tenant, requester), equipment_type="esd-mat", quantity=quantity,
        needs="Another bench", today=TODAY,
    )  # fmt: skip
    option = services.add_option(
        request, staff(tenant, "manager"), brand="Desco", model="D2", supplier="Desco", unit_price_cents=100
    )
    return request, option


# --- finding 7: nobody decides their own request while another approver can ------------------------


def test_the_requester_does_not_decide_their_own_purchase_unless_alone(app, alpha):
    with in_tenant(app, alpha):
        owner, qa = staff(alpha, "owner"), staff(alpha, "qa")
        request, option = approved_request(alpha, "owner")
        with pytest.raises(services.Refused, match="You made this request"):
            services.decide_procurement(request, owner, approve=True, option_id=option.id, note=None)
        assert request.status is ProcurementStatus.COMPARING and request.decided_by_id is None
        services.decide_procurement(request, qa, approve=True, option_id=option.id, note=None)
        assert request.status is ProcurementStatus.APPROVED and request.decided_by_id == qa.id

        # a one-person shop: the owner is the only active approver and decides their own
        alone, option = approved_request(alpha, "owner")
        only_approver(owner)
        services.decide_procurement(alone, owner, approve=True, option_id=option.id, note=None)
        assert alone.status is ProcurementStatus.APPROVED


def test_the_assessor_does_not_approve_their_own_retirement_unless_alone(app, alpha):
    with in_tenant(app, alpha):
        owner, qa, manager = staff(alpha, "owner"), staff(alpha, "qa"), staff(alpha, "manager")

        def assessed_by_qa(tag: str):
            retirement = services.assess_retirement(
                item(alpha, tag), qa, reason=RetirementReason.END_OF_LIFE, condition="Worn", today=TODAY
            )
            services.plan_retirement(
                retirement, manager, planned_on=TODAY, method=DisposalMethod.RECYCLING, notes=None
            )
            return retirement

        retirement = assessed_by_qa("OWN-1")
        for approve in (True, False):
            with pytest.raises(services.Refused, match="You assessed this retirement"):
                services.decide_retirement(retirement, qa, approve=approve, note="Mine")
        assert retirement.status is RetirementStatus.PLANNED
        services.decide_retirement(retirement, owner, approve=True, note=None)
        assert retirement.status is RetirementStatus.APPROVED

        alone = assessed_by_qa("OWN-2")
        only_approver(qa)
        services.decide_retirement(alone, qa, approve=True, note=None)
        assert alone.status is RetirementStatus.APPROVED and alone.decided_by_id == qa.id


# --- finding 8: both retirement steps lock the item before looking for open orders ----------------


def test_both_retirement_steps_lock_the_item_before_checking_it_is_in_use(app, alpha, statements):
    with in_tenant(app, alpha):
        thing = item(alpha, "LOCK-1")
        retirement = planned(alpha, thing)

        def reads_before_the_use_check(seen: list[str]) -> list[str]:
            use_check = next(i for i, sql in enumerate(seen) if "work_log_equipment" in sql)
            return [
                sql
                for sql in seen[:use_check]
                if re.match(r"select .* from (\w+\.)?equipment_items where", sql)
            ]

        with statements() as seen:
            services.decide_retirement(retirement, staff(alpha, "qa"), approve=True, note=None)
        locks = reads_before_the_use_check(seen)
        with statements() as seen:
            services.record_disposal(
                retirement, staff(alpha, "manager"), disposed_on=TODAY, record="Receipt 7", today=TODAY
            )
        locks += reads_before_the_use_check(seen)
        assert len(locks) == 2, seen
        if db.backend == "postgresql":
            assert all(sql.endswith("for update") for sql in locks), locks
        assert thing.status is EquipmentStatus.RETIRED


# --- finding 9: asset tags unique ignoring case, in the database too --------------------------------


def test_a_racing_asset_tag_of_any_case_gets_the_clear_message_and_saves_nothing(app, alpha, monkeypatch):
    with in_tenant(app, alpha):
        item(alpha, "RACE-AB")
        before = count(EquipmentItem)
        # the other request's row was not committed yet when this one checked: only the
        # database's unique key can refuse it
        monkeypatch.setattr(services, "check_descriptive", lambda thing: None)
        for tag in ("race-ab", "RACE-AB"):
            with pytest.raises(DomainError, match=f"asset tag {tag} is already in the register") as error:
                item(alpha, tag)
            assert error.value.field == "asset_tag"
        assert count(EquipmentItem) == before
        assert db.session.execute(
            sa.select(EquipmentItem.asset_tag).where(sa.func.lower(EquipmentItem.asset_tag) == "race-ab")
        ).scalars().all() == ["RACE-AB"]


# --- finding 10: the acceptance check's serial numbers and generated names ---------------------------


def test_a_too_long_serial_number_line_is_refused_on_its_field_and_nothing_enters(app, client, alpha):
    with in_tenant(app, alpha):
        request, option = approved_request(alpha)
        services.decide_procurement(request, staff(alpha, "qa"), approve=True, option_id=option.id, note=None)
        db.session.commit()
        request_id, before = request.id, count(EquipmentItem)
        with pytest.raises(DomainError, match="line 1 is longer than 100") as error:
            services.check_delivery(
                request, staff(alpha, "manager"), passed=True, checked_on=TODAY, notes=None,
                asset_tags=["SER-1"], serial_numbers=["S" * 150], today=TODAY,
            )  # fmt: skip
        assert error.value.field == "serial_numbers"
    sign_in(client, alpha, "manager")
    data = form_fields(get(client, alpha, f"{PROCUREMENT}{request_id}/").text, "acceptance-form")
    data.update({
        "acceptance-outcome": "passed",
        "acceptance-asset_tags": "SER-2",
        "acceptance-serial_numbers": "S" * 150,
    })  # fmt: skip
    refused = post(client, alpha, f"{PROCUREMENT}{request_id}/acceptance", data)
    assert refused.status_code == 400, refused.text[:500]
    assert "Serial number on line 1 is longer than 100 characters." in refused.text
    assert "S" * 150 in refused.text  # what was typed is kept
    with in_tenant(app, alpha):
        assert count(EquipmentItem) == before
        assert db.session.get(type(request), request_id).status is ProcurementStatus.APPROVED


def test_the_generated_name_is_in_the_readers_language_and_fits_the_column(app, alpha):
    with in_tenant(app, alpha):
        request, option = approved_request(alpha)
        option.model = "M" * 100
        option.brand = "B" * 100
        services.decide_procurement(request, staff(alpha, "qa"), approve=True, option_id=option.id, note=None)
        with force_locale("zh_Hans_CN"):
            (made,) = services.check_delivery(
                request, staff(alpha, "manager"), passed=True, checked_on=TODAY, notes=None,
                asset_tags=["NAME-1"], serial_numbers=["S" * 100], today=TODAY,
            )  # fmt: skip
        chinese = services.policy(TODAY)["esd-mat"].name.zh
        assert made.name.startswith(f"{chinese} {'B' * 100}") and len(made.name) <= 200
        assert made.serial_number == "S" * 100
        db.session.flush()
        assert db.session.get(EquipmentItem, made.id).name == made.name


# --- finding 12: only the latest calibration changes the status -------------------------------------


def test_an_older_failed_calibration_entered_late_leaves_the_item_in_service(app, alpha):
    with in_tenant(app, alpha):
        thing = item(alpha, "CAL-LATE", in_service_on=TODAY - timedelta(days=40))
        calibrate(alpha, thing, TODAY - timedelta(days=2), number="NEWER-PASSED")
        due = thing.next_calibration_due_on
        calibrate(alpha, thing, TODAY - timedelta(days=20), CalibrationResult.FAILED, number="OLDER-FAILED")
        assert thing.status is EquipmentStatus.IN_SERVICE
        assert (thing.last_calibration_on, thing.next_calibration_due_on) == (TODAY - timedelta(days=2), due)
        services.check_usable([thing], thing.store_id, TODAY)  # still usable on a work log
        # the latest one failing still takes it out of service
        calibrate(alpha, thing, TODAY, CalibrationResult.FAILED, number="LATEST-FAILED")
        assert thing.status is EquipmentStatus.OUT_OF_SERVICE
