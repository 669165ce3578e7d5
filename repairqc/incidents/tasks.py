"""Jobs of the incidents domain (HB §9.2).

* `send_incident_alert`: one mail to one member of the plan's command roles. The alert row is
  claimed (`sent_at`, a conditional UPDATE) before the mail goes out: a retry, a second worker or
  a replayed job finds it claimed and sends nothing; if sending fails the job's unit of work rolls
  the claim back and RQ retries it.
* `send_incident_updates`: the periodic job "incident-updates" (every 15 minutes): every open
  incident whose customer update is due gets its round (`services.send_due_updates`, idempotent).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale

from repairqc.db import db, utcnow
from repairqc.i18n import normalise_locale
from repairqc.incidents import services
from repairqc.incidents.models import IncidentAlert
from repairqc.jobs import job
from repairqc.jobs.periodic import parse_moment
from repairqc.mail import send_mail
from repairqc.tenants.services import tenant_url


@job(queue="emails", timeout=60, retries=2)
def send_incident_alert(alert_id: int) -> str | None:
    """Mail one alert, once, in the recipient's language; returns the address mailed."""
    claimed = db.session.execute(
        sa.update(IncidentAlert)
        .where(IncidentAlert.id == alert_id, IncidentAlert.sent_at.is_(None))
        .values(sent_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        return None
    alert = db.session.get(IncidentAlert, alert_id)
    user, incident = alert.user, alert.incident
    if not user.is_active:
        return None
    context = {
        "recipient": user,
        "incident": incident,
        "store": incident.store,
        "plan": incident.plan,
        "reporter": incident.reported_by,
        "steps": incident.plan.steps if incident.plan is not None else [],
        "link": tenant_url(f"/admin/emergency/incidents/{incident.id}/"),
    }
    locale = normalise_locale(user.locale) or "en"
    with force_locale(locale):
        context["occurred"] = services.store_time(incident.store, incident.occurred_at, locale)
        context["role"] = services.Role(alert.role).label
        subject = render_template("incidents/mail/alert_subject.txt", **context).strip()
        body = render_template("incidents/mail/alert.txt", **context)
    send_mail(alert.email, subject, body)
    return alert.email


@job(queue="default", timeout=600)
def send_incident_updates(today_iso: str, now_iso: str | None = None) -> list[int]:
    """The periodic round of customer updates (HB §9.2 regular updates). `today_iso` is the day
    the fan-out passes every periodic job; the time that counts is `now_iso` (tests travel in
    time with it) or the clock. Returns the ids of the rounds sent."""
    now = parse_moment(now_iso) if now_iso else utcnow()
    return services.send_due_updates(now)
