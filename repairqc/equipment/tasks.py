"""The daily "equipment-due" job (HB §4.2.2 execute the maintenance plan strictly, §5.1.3(2)).

It mails each store's managers the items whose daily care, full inspection or calibration falls
due within `services.DUE_SOON_DAYS` or is overdue. Idempotent: each (item, kind, due date) is
claimed in `equipment_reminders` before any mail goes out, so a second run on the same day, a
retry or a second scheduler sends nothing twice; a new due date (after the maintenance or
calibration is recorded) is reminded again in its turn. The mails go out after the claim
commits, one job per store and recipient, so a failed mail is retried on its own.
"""

from __future__ import annotations

from datetime import date
from functools import partial

import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale, format_date

from repairqc.accounts.models import StaffUser
from repairqc.db import db, on_commit
from repairqc.equipment import services
from repairqc.equipment.models import EquipmentItem, EquipmentReminder, EquipmentStatus
from repairqc.i18n import normalise_locale
from repairqc.jobs import enqueue, job
from repairqc.mail import send_mail
from repairqc.stores.models import Store
from repairqc.tenants.services import tenant_url


@job(queue="default", timeout=600)
def remind_equipment_due(today_iso: str) -> dict[int, list[int]]:
    """Claim every due entry not yet reminded, then queue one mail per store manager.
    Returns {store id: [reminder ids]} of what was claimed."""
    today = date.fromisoformat(today_iso)
    claimed = services.claim_reminders(today)
    result: dict[int, list[int]] = {}
    for store_id, entries in claimed.items():
        reminder_ids = [
            db.session.execute(
                sa.select(EquipmentReminder.id).where(
                    EquipmentReminder.item_id == entry.item.id,
                    EquipmentReminder.kind == entry.kind,
                    EquipmentReminder.due_on == entry.due_on,
                )
            ).scalar_one()
            for entry in entries
        ]
        result[store_id] = reminder_ids
        managers = services.store_managers(store_id)
        for reminder in db.session.execute(
            sa.select(EquipmentReminder).where(EquipmentReminder.id.in_(reminder_ids))
        ).scalars():
            reminder.recipients = ", ".join(user.email for user in managers) or None
        for manager in managers:
            on_commit(partial(enqueue, send_due_mail, store_id, manager.id, reminder_ids, today_iso))
    return result


@job(queue="emails", timeout=60, retries=2)
def send_due_mail(store_id: int, user_id: int, reminder_ids: list[int], today_iso: str) -> str | None:
    """One store's list for one manager, in their language; items since retired are left out."""
    user = db.session.get(StaffUser, user_id)
    store = db.session.get(Store, store_id)
    if user is None or not user.is_active or store is None:
        return None
    today = date.fromisoformat(today_iso)
    rows = db.session.execute(
        sa.select(EquipmentReminder, EquipmentItem)
        .join(EquipmentItem, EquipmentItem.id == EquipmentReminder.item_id)
        .where(EquipmentReminder.id.in_(reminder_ids), EquipmentItem.store_id == store_id)
        .order_by(EquipmentReminder.due_on, EquipmentItem.asset_tag)
    ).all()
    rows = [(reminder, item) for reminder, item in rows if item.status is not EquipmentStatus.RETIRED]
    if not rows:
        return None
    from repairqc.inspections.services import describe_due

    with force_locale(normalise_locale(user.locale) or "en"):
        lines = [
            {
                "item": item,
                "kind": reminder.kind.label,
                "date": format_date(reminder.due_on),
                "due": describe_due(reminder.due_on, today),
                "overdue": reminder.due_on < today,
                "link": tenant_url(f"/admin/equipment/register/{item.id}/"),
            }
            for reminder, item in rows
        ]
        context = {
            "recipient": user,
            "store": store,
            "lines": lines,
            "overdue": len({line["item"].id for line in lines if line["overdue"]}),
            "link": tenant_url(f"/admin/equipment/due/?store={store.id}"),
        }
        subject = render_template("equipment/mail/due_subject.txt", **context).strip()
        body = render_template("equipment/mail/due.txt", **context)
    send_mail(user.email, subject, body)
    return user.email
