"""The daily "confidentiality-reminders" job (HB §7.3.2; each person is reminded at most weekly),
in-process with a real local SMTP server:
each member of staff without an agreement in force is mailed once in their language, the owners
get a list, a rerun the same week sends nothing, and one tenant's run never touches another's.
Also: the confidentiality programme and the quarterly check exist after the job and after
provisioning."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from repairqc.accounts.models import StaffUser
from repairqc.db import db, unit_of_work, utcnow
from repairqc.inspections.models import InspectionChecklist, InspectionKind, InspectionPlan, Recurrence
from repairqc.jobs import enqueue
from repairqc.jobs.periodic import periodic_job
from repairqc.privacy import seed, tasks
from repairqc.privacy.models import ConfidentialityAgreement, ConfidentialityReminder
from repairqc.tenants import services as tenants
from repairqc.training.models import ProgrammeKind, TrainingProgramme
from tests.conftest import in_tenant, staff

TODAY = date.today()


def run(app, tenant, day: date = TODAY) -> None:
    with in_tenant(app, tenant):
        enqueue(tasks.confidentiality_reminders, day.isoformat())


def sign_all_but(app, tenant, *keys: str) -> None:
    with in_tenant(app, tenant):
        for key, email in tenant.users.items():
            if key not in keys:
                user = db.session.scalars(sa.select(StaffUser).where(StaffUser.email == email)).one()
                db.session.add(ConfidentialityAgreement(staff_user=user, signed_on=TODAY, title="NDA"))
        db.session.commit()


def test_the_daily_entry_names_the_job():
    entry = periodic_job("confidentiality-reminders")
    assert entry.tenant_job() is tasks.confidentiality_reminders and entry.cron == "0 8 * * *"


def test_reminders_once_a_week_in_the_users_language_with_a_digest_to_the_owner(app, alpha, beta, mailbox):
    sign_all_but(app, alpha, "tech", "tech2")
    with in_tenant(app, alpha):
        tech2 = staff(alpha, "tech2")
        tech2.locale = "zh_Hans_CN"
        db.session.add(
            ConfidentialityAgreement(
                staff_user=tech2,
                signed_on=TODAY - timedelta(days=400),
                valid_until=TODAY - timedelta(days=35),
                title="Old",
            )
        )
        db.session.commit()
    with in_tenant(app, beta):
        beta_reminders = db.session.scalar(sa.select(sa.func.count()).select_from(ConfidentialityReminder))

    run(app, alpha)
    tech, tech2, owner = alpha.users["tech"], alpha.users["tech2"], alpha.users["owner"]
    assert sorted(m["To"] for m in mailbox.messages) == sorted([tech, tech2, owner])
    [english] = mailbox.to(tech)
    assert english["Subject"] == "Please sign the confidentiality agreement"
    assert "no signed confidentiality agreement from you on file" in english.get_content()
    [chinese] = mailbox.to(tech2)
    # Rendered in the user's language (its strings are translated by the lead; the date shows it)
    expired = TODAY - timedelta(days=35)
    assert f"{expired.year}年{expired.month}月{expired.day}日" in chinese.get_content()
    [digest] = mailbox.to(owner)
    body = digest.get_content()
    assert "Tech SENTINEL-A-S1" in body and "Tech2 SENTINEL-A-S2" in body and "Manager" not in body
    assert "/admin/confidentiality/" in body

    mailbox.messages.clear()
    run(app, alpha)  # the same day: everyone was reminded already
    with in_tenant(app, alpha):  # six days on: still within the week
        for reminder in db.session.scalars(sa.select(ConfidentialityReminder)):
            reminder.sent_at -= timedelta(days=6)
        db.session.commit()
    run(app, alpha)
    assert mailbox.messages == []
    with in_tenant(app, beta):  # beta was not touched
        assert (
            db.session.scalar(sa.select(sa.func.count()).select_from(ConfidentialityReminder))
            == beta_reminders
        )


def test_after_a_week_those_still_missing_are_reminded_again(app, alpha, mailbox):
    sign_all_but(app, alpha, "tech")
    with in_tenant(app, alpha):
        db.session.add(
            ConfidentialityReminder(
                staff_user_id=staff(alpha, "tech").id,
                sent_at=utcnow() - timedelta(days=8),
            )
        )
        db.session.commit()
    run(app, alpha)
    assert sorted(m["To"] for m in mailbox.messages) == sorted([alpha.users["tech"], alpha.users["owner"]])


def test_nobody_missing_sends_nothing(app, alpha, mailbox):
    sign_all_but(app, alpha)
    run(app, alpha)
    assert mailbox.messages == []


def test_the_job_gives_an_existing_tenant_the_programme_and_the_quarterly_check(app, alpha, beta):
    def catalogue(tenant):
        with in_tenant(app, tenant):
            programmes = db.session.scalars(
                sa.select(TrainingProgramme).where(TrainingProgramme.name == seed.PROGRAMME_NAME)
            ).all()
            plans = db.session.scalars(
                sa.select(InspectionPlan)
                .where(InspectionPlan.name == seed.PLAN_NAME)
                .options(sa.orm.selectinload(InspectionPlan.stores))
            ).all()
            return programmes, plans

    with in_tenant(app, alpha):
        db.session.execute(sa.delete(TrainingProgramme).where(TrainingProgramme.name == seed.PROGRAMME_NAME))
        db.session.commit()
    beta_before = [len(rows) for rows in catalogue(beta)]
    run(app, alpha)
    run(app, alpha)  # idempotent
    [programme], [plan] = catalogue(alpha)
    assert programme.kind is ProgrammeKind.IN_SERVICE and "保密协议" in programme.topics
    assert (plan.kind, plan.recurrence) == (InspectionKind.INTERNAL_AUDIT, Recurrence.QUARTERLY)
    assert plan.starts_on.day == 1 and plan.starts_on.month in (1, 4, 7, 10) and plan.starts_on > TODAY
    assert plan.checklist is InspectionChecklist.CONFIDENTIALITY and len(plan.stores) == 2
    with in_tenant(app, alpha):  # the in-service course stays the training schedule's own
        from repairqc.training.services import programme_for

        assert programme_for(ProgrammeKind.IN_SERVICE, TODAY).name != seed.PROGRAMME_NAME
    assert [len(rows) for rows in catalogue(beta)] == beta_before


def test_a_new_tenant_has_the_confidentiality_programme(app):
    """Needs the provisioning hook in tenants.services.create_tenant (see /tmp/docs/privacy.md)."""
    from repairqc.db import tenant_context

    with app.app_context(), unit_of_work():
        ref = tenants.create_tenant(f"conf{TODAY:%d}x", "Confidential Ltd").ref
    try:
        with app.app_context(), tenant_context(ref):
            assert seed.PROGRAMME_NAME in set(db.session.scalars(sa.select(TrainingProgramme.name)))
    finally:
        with app.app_context(), unit_of_work():
            tenants.delete_tenant(ref.slug)
