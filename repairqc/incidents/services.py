"""The rules of emergency plans, drills and incidents (HB §9.1-§9.2).

Plans (HB §9.1.2-§9.1.3) are versioned like the standards: a family (`code`) has numbered
versions; only a draft changes; publishing a draft supersedes the family's active version (one
active per family, also a unique key). Drafts are written and published by QA and the owner.

Incidents follow HB §9.2: any member of the store's staff (HQ for any store) reports one; the
active plan of its kind for the store is attached (store plans before provider-wide ones); the
people holding the plan's command roles at that store, and the provider-wide ones, are alerted by
mail, one `IncidentAlert` and one job each, claimed before sending; someone of those roles takes
command; everyone at the store logs actions; the affected customers (open orders of the store,
`RepairOrderStatus.is_open`) get updates from the plan's template in their language, at once
when asked and then every `update_interval_hours` through the periodic job "incident-updates";
the incident closes with a review and an all-clear message, optionally starting a new draft of
the plan. Views and jobs call these functions inside one unit of work; nothing here commits.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from babel.dates import format_datetime as babel_datetime
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from repairqc.accounts.models import Role, RoleAssignment, StaffUser
from repairqc.accounts.permissions import Grants, roles_at
from repairqc.db import db, on_commit
from repairqc.errors import Conflict, DomainError
from repairqc.incidents.models import (
    CODE_MAX,
    TITLE_MAX,
    EmergencyDrill,
    EmergencyPlan,
    Incident,
    IncidentAction,
    IncidentAlert,
    IncidentStatus,
    IncidentUpdate,
    PlanKind,
    PlanStatus,
    Severity,
    UpdateKind,
)
from repairqc.models_base import check_version
from repairqc.notifications import services as notifications
from repairqc.notifications.models import CustomerMessage, MessageStatus
from repairqc.repairs.models import Customer, RepairOrder, RepairOrderStatus
from repairqc.stores.models import Store

#: Write and publish plans (HB §9.1: HQ quality and the owner).
PLANNERS = frozenset({Role.OWNER, Role.QA_MANAGER})
#: Record drills: the store's manager and HQ quality.
DRILL_RECORDERS = PLANNERS | {Role.STORE_MANAGER}
#: Alerted and in command when no plan exists for the incident's kind.
DEFAULT_COMMAND_ROLES = (Role.STORE_MANAGER, Role.QA_MANAGER, Role.OWNER)
#: Roles that only read (the auditor): they neither report nor act on incidents.
READ_ONLY_ROLES = frozenset({Role.AUDITOR})
#: What a customer message template may contain, filled per customer (HB §9.1.3(5)).
PLACEHOLDERS = ("customer_name", "store_name", "store_phone", "order_number", "device", "update_time")
TEXT_MAX = 5000
TEMPLATE_MAX = 2000
#: Updates at most a week apart: a longer interval is a typing mistake, not a plan.
INTERVAL_MAX_HOURS = 168
#: A phone whose clock runs a little ahead may report an incident "in the future".
CLOCK_SKEW = timedelta(minutes=5)
CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]*$")
#: The orders whose device is still at the store (not delivered, closed, declined, cancelled).
OPEN_STATUSES = tuple(status for status in RepairOrderStatus if status.is_open)


class Refused(Conflict):
    """A step the record's state or the user's roles do not allow (409)."""


# --- who may act ------------------------------------------------------------------------------------


def may_plan(user: StaffUser) -> bool:
    return bool(Grants.of(user).tenant_roles & PLANNERS)


def may_record_drill(user: StaffUser, store_id: int) -> bool:
    return bool(roles_at(user, store_id) & DRILL_RECORDERS)


def may_report(user: StaffUser, store_id: int) -> bool:
    """Any member of the store's staff, and HQ for every store (HB §9.2 report)."""
    return bool(roles_at(user, store_id) - READ_ONLY_ROLES)


def command_roles(plan: EmergencyPlan | None) -> list[Role]:
    if plan is None or not plan.command_roles:
        return list(DEFAULT_COMMAND_ROLES)
    return [Role(value) for value in plan.command_roles if value in Role._value2member_map_]


def may_command(user: StaffUser, incident: Incident) -> bool:
    """The plan's command roles at the incident's store (and the owner, always)."""
    allowed = {*command_roles(incident.plan), Role.OWNER}
    return bool(roles_at(user, incident.store_id) & allowed)


def _require_planner(user: StaffUser) -> None:
    if not may_plan(user):
        raise Refused(_("Only a QA manager or the owner may write and publish emergency plans."))


# --- customer message templates ---------------------------------------------------------------------


def placeholder_list() -> str:
    return ", ".join("{" + name + "}" for name in PLACEHOLDERS)


def template_problem(text: str) -> str | None:
    """Why `text` cannot be used as a customer message template, or None if it can.

    Only the known placeholders, without format specs, conversions, attributes or indexes: a
    template is filled with `fill`, never with str.format, so it can read nothing else."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return _(
            "A brace is not closed. Write placeholders like {customer_name}, and {{ or }} for a brace itself."
        )
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            written = (
                "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            )
            return _(
                "%(placeholder)s is not a placeholder the message can fill in. Use only: %(known)s.",
                placeholder=written,
                known=placeholder_list(),
            )
    return None


def fill(template: str, values: dict[str, str]) -> str:
    """`template` with its placeholders replaced by `values` (checked by `template_problem`)."""
    parts = []
    for literal, name, _spec, _conversion in string.Formatter().parse(template):
        parts.append(literal)
        if name is not None:
            parts.append(values.get(name, ""))
    return "".join(parts)


# --- plans ------------------------------------------------------------------------------------------


@dataclass
class PlanContent:
    """What a plan version says (HB §9.1.3); the same fields on `EmergencyPlan`."""

    kind: PlanKind
    title: str
    store_id: int | None
    command_roles: Sequence[str]
    response_steps: str
    customer_template_en: str
    customer_template_zh: str
    update_interval_hours: int | None
    rescue_team: str | None = None
    supplies: str | None = None
    warning_triggers: str | None = None
    rescue_measures: str | None = None
    notes: str | None = None


CONTENT_FIELDS = tuple(f.name for f in fields(PlanContent))


def content_of(plan: EmergencyPlan) -> PlanContent:
    return PlanContent(**{name: getattr(plan, name) for name in CONTENT_FIELDS})


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def checked_content(content: PlanContent) -> PlanContent:
    """The content cleaned up, or a `DomainError` naming the first field that is wrong."""
    title = _text(content.title)
    if title is None:
        raise DomainError(_("Enter the plan's title."), field="title")
    if len(title) > TITLE_MAX:
        raise DomainError(_("The title is longer than %(max)s characters.", max=TITLE_MAX), field="title")
    try:
        kind = PlanKind(content.kind)
    except ValueError:
        raise DomainError(_("Choose the kind of emergency."), field="kind") from None
    roles: list[str] = []
    for value in content.command_roles or ():
        if value not in Role._value2member_map_:
            raise DomainError(_("“%(role)s” is not a role.", role=value), field="command_roles")
        if value not in roles:
            roles.append(value)
    if not roles:
        raise DomainError(
            _("Choose the roles that are alerted and lead the response."), field="command_roles"
        )
    if content.store_id is not None:
        store = db.session.get(Store, content.store_id)
        if store is None or not store.is_active:
            raise DomainError(_("Choose an active store, or every store."), field="store_id")
    texts = {}
    for name in ("rescue_team", "supplies", "warning_triggers", "response_steps", "rescue_measures", "notes"):
        value = _text(getattr(content, name))
        if value is not None and len(value) > TEXT_MAX:
            raise DomainError(_("This text is longer than %(max)s characters.", max=TEXT_MAX), field=name)
        texts[name] = value
    if texts["response_steps"] is None:
        raise DomainError(_("Enter the response steps, one per line."), field="response_steps")
    templates = {}
    for name, language in (("customer_template_en", _("English")), ("customer_template_zh", _("Chinese"))):
        value = _text(getattr(content, name))
        if value is None:
            raise DomainError(
                _("Enter the message to customers in %(language)s.", language=language), field=name
            )
        if len(value) > TEMPLATE_MAX:
            raise DomainError(_("This text is longer than %(max)s characters.", max=TEMPLATE_MAX), field=name)
        problem = template_problem(value)
        if problem is not None:
            raise DomainError(problem, field=name)
        templates[name] = value
    hours = content.update_interval_hours
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= INTERVAL_MAX_HOURS:
        raise DomainError(
            _("Enter the update interval in whole hours, from 1 to %(max)s.", max=INTERVAL_MAX_HOURS),
            field="update_interval_hours",
        )
    return PlanContent(
        kind=kind,
        title=title,
        store_id=content.store_id,
        command_roles=roles,
        update_interval_hours=hours,
        **templates,
        **texts,
    )


def _apply(plan: EmergencyPlan, content: PlanContent) -> None:
    for name in CONTENT_FIELDS:
        value = getattr(content, name)
        setattr(plan, name, list(value) if name == "command_roles" else value)


def normalised_code(code: str | None) -> str:
    code = (code or "").strip().upper()
    if not code:
        raise DomainError(_("Enter a short code for the plan, such as FIRE."), field="code")
    if len(code) > CODE_MAX or not CODE_PATTERN.match(code):
        raise DomainError(
            _("Use letters, digits, - and _ only, at most %(max)s characters.", max=CODE_MAX), field="code"
        )
    return code


def family(code: str) -> list[EmergencyPlan]:
    return list(
        db.session.execute(
            sa.select(EmergencyPlan).where(EmergencyPlan.code == code).order_by(EmergencyPlan.number)
        ).scalars()
    )


def active_version(code: str, *, for_update: bool = False) -> EmergencyPlan | None:
    statement = sa.select(EmergencyPlan).where(
        EmergencyPlan.code == code, EmergencyPlan.status == PlanStatus.ACTIVE
    )
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return db.session.execute(statement).scalar_one_or_none()


def draft_of(code: str) -> EmergencyPlan | None:
    return (
        db.session.execute(
            sa.select(EmergencyPlan)
            .where(EmergencyPlan.code == code, EmergencyPlan.status == PlanStatus.DRAFT)
            .order_by(EmergencyPlan.number.desc())
        )
        .scalars()
        .first()
    )


def _add_version(plan: EmergencyPlan) -> EmergencyPlan:
    """Insert a new version; two people starting the same version at once meet at the unique
    (code, number) key and the second is told, instead of an error page."""
    try:
        with db.session.begin_nested():
            db.session.add(plan)
    except sa.exc.IntegrityError:
        raise Conflict(
            _("Someone else started version %(n)s of plan %(code)s at the same time. Reload the page.",
              n=plan.number, code=plan.code)
        ) from None  # fmt: skip
    return plan


def create_plan(user: StaffUser, code: str, content: PlanContent) -> EmergencyPlan:
    """A new plan family: version 1, a draft."""
    _require_planner(user)
    code = normalised_code(code)
    if db.session.execute(sa.select(EmergencyPlan.id).where(EmergencyPlan.code == code).limit(1)).first():
        raise DomainError(
            _("There is a plan %(code)s already; open it and start a new draft instead.", code=code),
            field="code",
        )
    content = checked_content(content)
    plan = EmergencyPlan(code=code, number=1, status=PlanStatus.DRAFT, created_by_id=user.id)
    _apply(plan, content)
    return _add_version(plan)


def save_draft(
    plan: EmergencyPlan, user: StaffUser, content: PlanContent, *, expected_version: int | None
) -> EmergencyPlan:
    """Replace a draft's content after checking it whole (nothing is saved if any field is wrong)."""
    _require_planner(user)
    check_version(plan, expected_version)
    if plan.status is not PlanStatus.DRAFT:
        raise Refused(
            _("Version %(n)s of plan %(code)s is published and cannot change; start a new draft.",
              n=plan.number, code=plan.code)
        )  # fmt: skip
    _apply(plan, checked_content(content))
    db.session.flush()
    return plan


def publish_plan(
    plan: EmergencyPlan, user: StaffUser, *, expected_version: int | None, now: datetime
) -> None:
    """The draft becomes the family's active version; the previous active one is superseded."""
    _require_planner(user)
    check_version(plan, expected_version)
    if plan.status is not PlanStatus.DRAFT:
        raise Refused(
            _("Version %(n)s of plan %(code)s is already published.", n=plan.number, code=plan.code)
        )
    checked_content(content_of(plan))  # a draft from before a rule changed is checked again
    previous = active_version(plan.code, for_update=True)
    if previous is not None:
        previous.status = PlanStatus.SUPERSEDED
        previous.active_code = None
        previous.superseded_at = now
        db.session.flush()  # frees the family's unique active key first
    plan.status = PlanStatus.ACTIVE
    plan.active_code = plan.code
    plan.published_at = now
    plan.published_by_id = user.id
    db.session.flush()


def _copy_to_draft(code: str, user: StaffUser | None, notes: str | None) -> EmergencyPlan:
    versions = family(code)
    base = next((v for v in versions if v.status is PlanStatus.ACTIVE), versions[-1])
    draft = EmergencyPlan(
        code=code,
        number=versions[-1].number + 1,
        status=PlanStatus.DRAFT,
        based_on_id=base.id,
        created_by_id=user.id if user is not None else None,
    )
    _apply(draft, content_of(base))
    draft.notes = notes
    return _add_version(draft)


def start_draft(plan: EmergencyPlan, user: StaffUser) -> EmergencyPlan:
    """A new draft of `plan`'s family, copied from its active version (HB §9.1.2 flexible)."""
    _require_planner(user)
    existing = draft_of(plan.code)
    if existing is not None:
        raise Refused(
            _("Plan %(code)s has a draft already (version %(n)s); edit or publish it first.",
              code=plan.code, n=existing.number)
        )  # fmt: skip
    return _copy_to_draft(plan.code, user, None)


def active_plan_for(store_id: int, kind: PlanKind) -> EmergencyPlan | None:
    """The active plan of `kind` for the store: its own plan before one for every store."""
    return (
        db.session.execute(
            sa.select(EmergencyPlan)
            .where(
                EmergencyPlan.status == PlanStatus.ACTIVE,
                EmergencyPlan.kind == kind,
                sa.or_(EmergencyPlan.store_id.is_(None), EmergencyPlan.store_id == store_id),
            )
            .order_by(
                sa.case((EmergencyPlan.store_id.is_(None), 1), else_=0),
                EmergencyPlan.published_at.desc(),
                EmergencyPlan.id.desc(),
            )
        )
        .scalars()
        .first()
    )


def covers(plan: EmergencyPlan, store_id: int) -> bool:
    return plan.store_id is None or plan.store_id == store_id


# --- drills -----------------------------------------------------------------------------------------


def record_drill(
    user: StaffUser,
    plan: EmergencyPlan,
    store: Store,
    *,
    held_on: date,
    participants: str,
    scenario: str,
    findings: str | None,
    follow_up: str | None,
    today: date,
) -> EmergencyDrill:
    """A drill of a published plan version at a store (HB §9.1.2 plans must be practical)."""
    if not may_record_drill(user, store.id):
        raise Refused(_("Only the store's manager, a QA manager or the owner may record its drills."))
    if plan.status is PlanStatus.DRAFT:
        raise DomainError(_("A drill practises a published plan; publish the draft first."), field="plan")
    if not covers(plan, store.id):
        raise DomainError(
            _("Plan %(plan)s does not cover store %(store)s.", plan=plan.label, store=store.code),
            field="plan",
        )
    if held_on is None:
        raise DomainError(_("Enter the date of the drill."), field="held_on")
    if held_on > today:
        raise DomainError(_("A drill is recorded once it has been held."), field="held_on")
    values = {}
    for name, value, required in (
        ("participants", participants, True),
        ("scenario", scenario, True),
        ("findings", findings, False),
        ("follow_up", follow_up, False),
    ):
        value = _text(value)
        if required and value is None:
            raise DomainError(_("This field is required."), field=name)
        if value is not None and len(value) > TEXT_MAX:
            raise DomainError(_("This text is longer than %(max)s characters.", max=TEXT_MAX), field=name)
        values[name] = value
    drill = EmergencyDrill(
        store_id=store.id, plan_id=plan.id, held_on=held_on, recorded_by_id=user.id, **values
    )
    db.session.add(drill)
    db.session.flush()
    return drill


# --- incidents --------------------------------------------------------------------------------------


def report_incident(
    user: StaffUser,
    store: Store,
    *,
    kind: PlanKind,
    severity: Severity,
    description: str,
    occurred_at: datetime,
    notify_customers: bool,
    now: datetime,
) -> Incident:
    """Record an incident, attach the plan, alert the command roles, and tell the affected
    customers at once when `notify_customers` (HB §9.2 report → command → updates)."""
    if not may_report(user, store.id):
        raise Refused(_("Only the store's staff and HQ report incidents of this store."))
    description = _text(description)
    if description is None:
        raise DomainError(_("Describe what happened."), field="description")
    if len(description) > TEXT_MAX:
        raise DomainError(
            _("This text is longer than %(max)s characters.", max=TEXT_MAX), field="description"
        )
    if occurred_at is None:
        raise DomainError(_("Enter when it happened."), field="occurred_at")
    if occurred_at > now + CLOCK_SKEW:
        raise DomainError(_("An incident is reported once it has happened."), field="occurred_at")
    incident = Incident(
        store_id=store.id,
        kind=PlanKind(kind),
        severity=Severity(severity),
        description=description,
        occurred_at=occurred_at,
        reported_at=now,
        reported_by_id=user.id,
        plan=active_plan_for(store.id, PlanKind(kind)),
        status=IncidentStatus.REPORTED,
    )
    incident.store = store
    db.session.add(incident)
    db.session.flush()
    alert_command(incident)
    if notify_customers:
        _send_round(incident, UpdateKind.UPDATE, note=None, user=user, now=now)
        incident.next_update_due_at = _next_after(incident, now)
        db.session.flush()
    return incident


def command_recipients(incident: Incident) -> list[tuple[StaffUser, Role]]:
    """The active people holding the plan's command roles at the incident's store, and those
    holding them provider-wide, each once (with the first of their roles in the plan's order)."""
    found: dict[int, tuple[StaffUser, Role]] = {}
    for role in command_roles(incident.plan):
        where = (
            RoleAssignment.store_id.is_(None)
            if role.is_tenant_wide
            else RoleAssignment.store_id == incident.store_id
        )
        for user in db.session.execute(
            sa.select(StaffUser)
            .join(RoleAssignment, RoleAssignment.user_id == StaffUser.id)
            .where(RoleAssignment.role == role, where, StaffUser.is_active.is_(True))
            .order_by(StaffUser.id)
        ).scalars():
            found.setdefault(user.id, (user, role))
    return list(found.values())


def alert_command(incident: Incident) -> list[IncidentAlert]:
    """One alert per recipient, written now; each mailed by its own job after the commit."""
    from repairqc.incidents.tasks import send_incident_alert
    from repairqc.jobs import enqueue

    alerts = [
        IncidentAlert(
            store_id=incident.store_id,
            incident_id=incident.id,
            user_id=user.id,
            role=role.value,
            email=user.email,
        )
        for user, role in command_recipients(incident)
    ]
    db.session.add_all(alerts)
    db.session.flush()
    for alert in alerts:
        on_commit(partial(enqueue, send_incident_alert, alert.id))
    return alerts


def _check_open(incident: Incident) -> None:
    if incident.status is IncidentStatus.CLOSED:
        raise Refused(_("Incident #%(id)s is closed.", id=incident.id))


def _command_refusal(incident: Incident) -> Refused:
    names = ", ".join(role.label for role in command_roles(incident.plan))
    return Refused(_("Only the plan's command roles (%(roles)s) or the owner may do this.", roles=names))


def take_command(incident: Incident, user: StaffUser, *, expected_version: int | None, now: datetime) -> None:
    """HB §9.2 command: someone of the command roles leads the response (or takes it over)."""
    check_version(incident, expected_version)
    _check_open(incident)
    if not may_command(user, incident):
        raise _command_refusal(incident)
    if incident.commander_id == user.id:
        raise Refused(_("You are in command of this incident already."))
    incident.commander_id = user.id
    incident.command_taken_at = now
    incident.status = IncidentStatus.RESPONDING
    db.session.flush()


def log_action(
    incident: Incident, user: StaffUser, *, what: str, step: int | None, now: datetime
) -> IncidentAction:
    """A response action (HB §9.2 rescue), by anyone of the store's staff; `step` ticks off a
    step of the plan. Actions are appended, so two people logging at once both get in."""
    _check_open(incident)
    if not may_report(user, incident.store_id):
        raise Refused(_("Only the store's staff and HQ log actions on this incident."))
    what = _text(what)
    if what is None:
        raise DomainError(_("Describe what was done."), field="what")
    if len(what) > TEXT_MAX:
        raise DomainError(_("This text is longer than %(max)s characters.", max=TEXT_MAX), field="what")
    if step is not None:
        steps = incident.plan.steps if incident.plan is not None else []
        if not 1 <= step <= len(steps):
            raise DomainError(_("Choose a step of the plan."), field="step")
    action = IncidentAction(
        store_id=incident.store_id, incident_id=incident.id, at=now, by_id=user.id, what=what, step=step
    )
    db.session.add(action)
    db.session.flush()
    return action


def send_update(
    incident: Incident, user: StaffUser, *, note: str | None, expected_version: int | None, now: datetime
) -> IncidentUpdate:
    """ "Send an update now": a round to the affected customers, and the plan's interval starts
    again from now. The incident's version moves, so a second click on the same page is a 409."""
    check_version(incident, expected_version)
    _check_open(incident)
    if not may_command(user, incident):
        raise _command_refusal(incident)
    note = _text(note)
    if note is not None and len(note) > TEMPLATE_MAX:
        raise DomainError(_("This text is longer than %(max)s characters.", max=TEMPLATE_MAX), field="note")
    update = _send_round(incident, UpdateKind.UPDATE, note=note, user=user, now=now)
    incident.next_update_due_at = _next_after(incident, now)
    db.session.flush()
    return update


def _next_after(incident: Incident, moment: datetime) -> datetime | None:
    """When the next round is due after a round at `moment` (None without a plan: only manual
    updates then, as there is no interval to keep)."""
    if incident.plan is None or incident.status is IncidentStatus.CLOSED:
        return None
    return moment + timedelta(hours=incident.plan.update_interval_hours)


def close_incident(
    incident: Incident,
    user: StaffUser,
    *,
    review: str,
    revise_plan: bool,
    expected_version: int | None,
    now: datetime,
) -> EmergencyPlan | None:
    """Close with a review (HB §9.2); customers who were told about the incident get the
    all-clear; `revise_plan` starts a new draft of the plan (or reuses the family's open draft),
    linked to the incident. Returns that draft."""
    check_version(incident, expected_version)
    _check_open(incident)
    if incident.status is IncidentStatus.REPORTED:
        raise Refused(_("Someone must take command before the incident is closed."))
    if not may_command(user, incident):
        raise _command_refusal(incident)
    review = _text(review)
    if review is None:
        raise DomainError(_("Write the review: what happened, what worked, what to change."), field="review")
    if len(review) > TEXT_MAX:
        raise DomainError(_("This text is longer than %(max)s characters.", max=TEXT_MAX), field="review")
    if revise_plan and incident.plan is None:
        raise DomainError(
            _("This incident followed no plan; write one under Emergency plans instead."), field="revise_plan"
        )
    told = db.session.execute(
        sa.select(sa.func.count())
        .select_from(IncidentUpdate)
        .where(IncidentUpdate.incident_id == incident.id)
    ).scalar_one()
    incident.status = IncidentStatus.CLOSED
    incident.closed_at = now
    incident.closed_by_id = user.id
    incident.review = review
    incident.next_update_due_at = None
    db.session.flush()
    if told:
        _send_round(incident, UpdateKind.CLOSING, note=None, user=user, now=now)
    draft = None
    if revise_plan:
        note = f"#{incident.id}: {review}"
        draft = draft_of(incident.plan.code)
        if draft is None:
            draft = _copy_to_draft(incident.plan.code, user, note[:TEXT_MAX])
        else:
            draft.notes = (f"{draft.notes}\n\n{note}" if draft.notes else note)[:TEXT_MAX]
        incident.revision_plan_id = draft.id
        db.session.flush()
    return draft


# --- customer updates (HB §9.2 regular updates to customers) -----------------------------------------


def affected_customers(store_id: int) -> list[tuple[Customer, list[RepairOrder]]]:
    """Customers with a device in the store now: its open orders (not delivered, closed,
    declined or cancelled), grouped by customer."""
    orders = db.session.execute(
        sa.select(RepairOrder)
        .where(RepairOrder.store_id == store_id, RepairOrder.status.in_(OPEN_STATUSES))
        .options(joinedload(RepairOrder.customer), joinedload(RepairOrder.device))
        .order_by(RepairOrder.customer_id, RepairOrder.id)
    ).scalars()
    grouped: dict[int, tuple[Customer, list[RepairOrder]]] = {}
    for order in orders:
        grouped.setdefault(order.customer_id, (order.customer, []))[1].append(order)
    return list(grouped.values())


def told_customer_ids(incident: Incident) -> set[int]:
    """The customers an update round of the incident was addressed to (whatever the channel)."""
    prefix = f"incident:{incident.id}:update:"
    return set(
        db.session.execute(
            sa.select(CustomerMessage.customer_id)
            .where(CustomerMessage.event_key.startswith(prefix, autoescape=True))
            .distinct()
        ).scalars()
    )


def event_key(incident: Incident, kind: UpdateKind, round_: int, customer: Customer) -> str:
    if kind is UpdateKind.CLOSING:
        return f"incident:{incident.id}:closed:customer:{customer.id}"
    return f"incident:{incident.id}:update:{round_}:customer:{customer.id}"


def store_time(store: Store, moment: datetime, locale: str) -> str:
    """`moment` as the store's clock shows it, in `locale`'s short format."""
    try:
        zone = ZoneInfo(store.timezone or "UTC")
    except (ValueError, KeyError, OSError):
        zone = ZoneInfo("UTC")
    return babel_datetime(moment, "short", tzinfo=zone, locale=locale)


def placeholder_values(
    incident: Incident, customer: Customer, orders: list[RepairOrder], now: datetime
) -> dict[str, str]:
    store = incident.store
    return {
        "customer_name": customer.full_name,
        "store_name": store.name,
        "store_phone": store.phone or "",
        "order_number": ", ".join(order.number for order in orders),
        "device": ", ".join(f"{order.device.brand} {order.device.model}" for order in orders),
        "update_time": store_time(store, now, notifications.customer_locale(customer)),
    }


def message_content(
    incident: Incident,
    customer: Customer,
    orders: list[RepairOrder],
    *,
    kind: UpdateKind,
    note: str | None,
    now: datetime,
) -> notifications.MessageContent:
    """The message in the customer's language: the plan's template for it (Chinese for zh,
    English otherwise), filled in; the staff's note below it."""
    values = placeholder_values(incident, customer, orders, now)
    plan = incident.plan
    text = None
    if plan is not None and kind is UpdateKind.UPDATE:
        chinese = notifications.customer_locale(customer).startswith("zh")
        text = fill(plan.customer_template_zh if chinese else plan.customer_template_en, values)
    return notifications.render_content(
        "incidents/messages/update",
        customer,
        incident=incident,
        store=incident.store,
        text=text,
        note=note,
        closing=kind is UpdateKind.CLOSING,
        values=values,
    )


def _send_round(
    incident: Incident, kind: UpdateKind, *, note: str | None, user: StaffUser | None, now: datetime
) -> IncidentUpdate:
    """One round: the `IncidentUpdate` (unique per incident and round, so a concurrent round is
    refused before anything is sent) and one message per affected customer, each once."""
    round_ = (
        db.session.execute(
            sa.select(sa.func.max(IncidentUpdate.round)).where(IncidentUpdate.incident_id == incident.id)
        ).scalar()
        or 0
    ) + 1
    update = IncidentUpdate(
        store_id=incident.store_id,
        incident_id=incident.id,
        round=round_,
        kind=kind,
        note=note,
        sent_at=now,
        sent_by_id=user.id if user is not None else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(update)
    except sa.exc.IntegrityError:
        raise Conflict(
            _("Another update of this incident was sent at the same moment. Reload the page.")
        ) from None
    recipients = no_channel = 0
    audience = affected_customers(incident.store_id)
    if kind is UpdateKind.CLOSING:
        # The all-clear goes to those who were told of the incident and still have a device
        # here; a customer who came in since was never told of it (and the message speaks of
        # their repair going on, so not to those whose device has been delivered).
        told = told_customer_ids(incident)
        audience = [(customer, orders) for customer, orders in audience if customer.id in told]
    for customer, orders in audience:
        content = message_content(incident, customer, orders, kind=kind, note=note, now=now)
        message = notifications.queue_message(
            customer,
            event_key=event_key(incident, kind, round_, customer),
            purpose="incident",
            content=content,
            store=incident.store,
        )
        recipients += 1
        no_channel += message.status is MessageStatus.NO_CHANNEL
    update.recipients = recipients
    update.no_channel = no_channel
    db.session.flush()
    return update


def send_due_updates(now: datetime) -> list[int]:
    """The periodic round: every open incident whose next update is due gets one, and its next
    one is scheduled an interval after the due time (or after now, when the job was down for
    longer). Idempotent: each incident is locked and re-read before its round, so two runs at
    once send one round; the messages' event keys stop any repeat. Returns the update ids."""
    due_ids = list(
        db.session.execute(
            sa.select(Incident.id)
            .where(Incident.status != IncidentStatus.CLOSED, Incident.next_update_due_at <= now)
            .order_by(Incident.id)
        ).scalars()
    )
    sent = []
    for incident_id in due_ids:
        incident = db.session.execute(
            sa.select(Incident)
            .where(Incident.id == incident_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        due = incident.next_update_due_at if incident is not None else None
        if incident is None or incident.status is IncidentStatus.CLOSED or due is None or due > now:
            continue
        try:
            update = _send_round(incident, UpdateKind.UPDATE, note=None, user=None, now=now)
        except Conflict:
            continue
        following = _next_after(incident, due)
        if following is not None and following <= now:
            following = _next_after(incident, now)
        # A plain UPDATE: the schedule moving on is no edit of the incident, so a page opened
        # before the round does not become stale (no version change).
        db.session.execute(
            sa.update(Incident)
            .where(Incident.id == incident.id)
            .values(next_update_due_at=following)
            .execution_options(synchronize_session=False)
        )
        db.session.expire(incident, ["next_update_due_at"])
        sent.append(update.id)
    return sent


def customers_to_call(incident: Incident) -> list[tuple[CustomerMessage, Customer]]:
    """The customers the latest round could not reach (no e-mail, no texting): call them."""
    latest = (
        db.session.execute(
            sa.select(IncidentUpdate)
            .where(IncidentUpdate.incident_id == incident.id)
            .order_by(IncidentUpdate.round.desc())
        )
        .scalars()
        .first()
    )
    if latest is None:
        return []
    if latest.kind is UpdateKind.CLOSING:
        prefix = f"incident:{incident.id}:closed:customer:"
    else:
        prefix = f"incident:{incident.id}:update:{latest.round}:customer:"
    rows = db.session.execute(
        sa.select(CustomerMessage, Customer)
        .join(Customer, Customer.id == CustomerMessage.customer_id)
        .where(
            CustomerMessage.event_key.startswith(prefix, autoescape=True),
            CustomerMessage.status == MessageStatus.NO_CHANNEL,
        )
        .order_by(Customer.full_name, Customer.id)
    ).all()
    return [(message, customer) for message, customer in rows]


def steps_done(incident: Incident) -> dict[int, IncidentAction]:
    """The plan steps an action carried out, with the first such action."""
    done: dict[int, IncidentAction] = {}
    for action in incident.actions:
        if action.step is not None:
            done.setdefault(action.step, action)
    return done
