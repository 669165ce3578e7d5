"""The daily "equipment-due" job (HB §4.2.2, §5.1.3(2)) run by a real RQ worker, mailing a real
local SMTP server: each store's managers get the items whose daily care, full inspection or
calibration is overdue or due within the week, once per item and due date.

The worker is another process and sees committed rows only, so these tests commit into two
scratch tenants of their own (deleted at the end of the module); the job is queued for each of
them directly (the fan-out would also reach the session tenants, which must stay as seeded).

What the seed (tests/seed_equipment.py) leaves due within the week in each store: the screen
press's daily care (every 7 days, in service today: due in 7 days); the soldering station's is
due tomorrow but was reminded already (the seeded reminder row).
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import force_locale, format_date
from rq import Queue
from rq.job import Job

from repairqc.db import db
from repairqc.equipment import services
from repairqc.equipment.models import (
    CalibrationResult,
    EquipmentItem,
    EquipmentReminder,
    MaintenanceKind,
    MaintenanceResult,
)
from repairqc.equipment.tasks import remind_equipment_due
from repairqc.jobs import enqueue
from repairqc.jobs.periodic import periodic_job
from tests.conftest import SeededTenant, committed, staff, store
from tests.test_jobs import run_worker
from tests.test_supervision_jobs import worker_env  # noqa: F401  (the fixture: Redis queues + SMTP)

TODAY = date.today()


def run_due(backend, env: dict, tenants_: list[SeededTenant], day: date) -> None:
    """Queue the job for each tenant as the fan-out would, and let a real worker do the work."""
    with backend.app.app_context():
        for tenant in tenants_:
            enqueue(remind_equipment_due, day.isoformat(), tenant=tenant.ref)
    queues = [f"{env['prefix']}default", f"{env['prefix']}emails"]
    run_worker(backend.app, queues, **env["settings"])
    for name in queues:
        failed = Queue(name, connection=env["conn"]).failed_job_registry
        assert [Job.fetch(i, connection=env["conn"]).latest_result() for i in failed.get_job_ids()] == []


def overdue_meter(backend, tenant: SeededTenant, tag: str) -> date:
    """A multimeter at S1 whose calibration fell due 10 days ago; the date it fell due."""
    with committed(backend, tenant):
        interval = services.policy(TODAY)["multimeter"].calibration_interval_days
        manager = staff(tenant, "manager")
        meter = services.register_item(
            store(tenant, "S1"),
            manager,
            asset_tag=tag,
            equipment_type="multimeter",
            name=f"Meter {tag}",
            in_service_on=TODAY - timedelta(days=interval + 50),
            today=TODAY,
        )
        services.record_calibration(
            meter,
            manager,
            calibrated_on=TODAY - timedelta(days=interval + 10),
            certificate_number=tag,
            calibrating_body="Lab",
            result=CalibrationResult.PASSED,
            today=TODAY,
        )
        return meter.next_calibration_due_on


def reminders(backend, tenant: SeededTenant) -> set[tuple[str, str, date]]:
    with committed(backend, tenant):
        return set(
            db.session.execute(
                sa.select(EquipmentItem.asset_tag, EquipmentReminder.kind, EquipmentReminder.due_on).join(
                    EquipmentItem, EquipmentItem.id == EquipmentReminder.item_id
                )
            ).all()
        )


def test_the_entry_is_daily_and_names_the_job():
    entry = periodic_job("equipment-due")
    assert entry.tenant_job() is remind_equipment_due and entry.cron.split()[2:] == ["*", "*", "*"]


def test_due_equipment_is_mailed_to_each_stores_managers_once_per_item_and_due_date(
    backend,
    east,
    west,
    worker_env,  # noqa: F811
):
    box = worker_env["box"]
    due = overdue_meter(backend, east, "EAST-LATE")
    with committed(backend, east):  # daily care every 30 days, none since it entered service
        services.register_item(
            store(east, "S1"),
            staff(east, "manager"),
            asset_tag="EAST-CARE",
            equipment_type="multimeter",
            name="Care meter",
            in_service_on=TODAY - timedelta(days=60),
            today=TODAY,
        )
    with committed(backend, east):
        staff(east, "manager2").locale = "zh_Hans_CN"
    before = reminders(backend, east)

    run_due(backend, worker_env, [east, west], TODAY)
    expected = {east.users["manager"], east.users["manager2"], west.users["manager"], west.users["manager2"]}
    assert sorted(m["To"] for m in box.messages) == sorted(expected)

    s1 = box.to(east.users["manager"])[0]
    body = s1.get_content()
    assert east.store_sentinel("S1") in s1["Subject"] and "2 equipment items overdue" in s1["Subject"]
    with backend.app.test_request_context(), force_locale("en"):
        assert f"EAST-LATE Meter EAST-LATE: Calibration, due on {format_date(due)}" in body
    # its daily care and full inspection are long overdue too (in service for over a year)
    assert (
        "EAST-LATE Meter EAST-LATE: Daily care" in body
        and "EAST-LATE Meter EAST-LATE: Full inspection" in body
    )
    assert f"{east.store_sentinel('S1')}-SP1" in body  # the press, due within the week
    assert f"{east.store_sentinel('S1')}-SS1" not in body  # reminded already (the seeded row)
    assert east.store_sentinel("S2") not in body and "SENTINEL-W" not in body
    assert f"http://{east.host}/admin/equipment/register/" in body
    s2 = box.to(east.users["manager2"])[0]  # in the reader's language
    assert f"{east.store_sentinel('S2')}-SP1" in s2.get_content() and "EAST-LATE" not in s2.get_content()
    west_body = box.to(west.users["manager"])[0].get_content()
    assert "SENTINEL-E" not in west_body and f"{west.store_sentinel('S1')}-SP1" in west_body

    claimed = reminders(backend, east) - before
    assert ("EAST-LATE", "calibration", due) in {(t, k.value, d) for t, k, d in claimed}
    with committed(backend, east):
        recipients = db.session.execute(
            sa.select(EquipmentReminder.recipients)
            .join(EquipmentItem, EquipmentItem.id == EquipmentReminder.item_id)
            .where(EquipmentItem.asset_tag == "EAST-LATE")
        ).scalars()
        assert set(recipients) == {east.users["manager"]}

    # the same day again, and the next day: every entry was reminded already
    run_due(backend, worker_env, [east, west], TODAY)
    run_due(backend, worker_env, [east, west], TODAY + timedelta(days=1))
    assert len(box.messages) == 4

    # a new due date is reminded in its turn; a calibrated item is not reminded again
    with committed(backend, east):
        manager = staff(east, "manager")
        care = db.session.execute(
            sa.select(EquipmentItem).where(EquipmentItem.asset_tag == "EAST-CARE")
        ).scalar_one()
        services.record_maintenance(  # late daily care: the next one is due in 3 days, a new date
            care,
            manager,
            kind=MaintenanceKind.DAILY_CARE,
            performed_on=TODAY - timedelta(days=27),
            result=MaintenanceResult.OK,
            checklist=services.Checklist(cleaned=True),
            today=TODAY,
        )
        late = db.session.execute(
            sa.select(EquipmentItem).where(EquipmentItem.asset_tag == "EAST-LATE")
        ).scalar_one()
        services.record_calibration(
            late,
            manager,
            calibrated_on=TODAY,
            certificate_number="NEW",
            calibrating_body="Lab",
            result=CalibrationResult.PASSED,
            today=TODAY,
        )
    run_due(backend, worker_env, [east], TODAY)
    (mail,) = box.messages[4:]
    assert mail["To"] == east.users["manager"]
    assert "EAST-CARE Care meter: Daily care" in mail.get_content() and "EAST-LATE" not in mail.get_content()
