"""The forms of the emergency screens (HB §9.1-§9.2).

They read what the browser sent and refuse what a column could not hold (lengths, dates,
numbers); every rule (who may act, the placeholders of a customer template, a plan covering the
store, a drill in the future) is in `incidents.services`. Each form of the incident page has its
own prefix; the CSRF token and the record's `version` are hidden inputs of the templates.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    Form,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from repairqc.accounts.models import Role
from repairqc.forms_base import strip_whitespace
from repairqc.incidents.models import CODE_MAX, TITLE_MAX, PlanKind, Severity
from repairqc.incidents.services import INTERVAL_MAX_HOURS, PLACEHOLDERS, TEMPLATE_MAX, TEXT_MAX


def _text(label, max_length: int, *validators, rows: int = 3, description=None) -> TextAreaField:
    return TextAreaField(
        label,
        [*validators, Length(max=max_length)],
        filters=[strip_whitespace],
        render_kw={"rows": rows},
        description=description,
    )


#: The placeholders a customer template may use, shown under both template fields.
PLACEHOLDER_HELP = _l("Placeholders: %(names)s", names=", ".join("{" + name + "}" for name in PLACEHOLDERS))


class PlanForm(Form):
    """A plan version's content (HB §9.1.3); `code` only when a new plan is started."""

    code = StringField(
        _l("Plan code"),
        [Length(max=CODE_MAX)],
        filters=[strip_whitespace],
        description=_l("Short and unique, such as FIRE or DATA-BREACH; every version keeps it"),
    )
    kind = SelectField(_l("Kind of emergency"), choices=[], validate_choice=False)
    title = StringField(
        _l("Title"),
        [InputRequired(_l("Enter the plan's title.")), Length(max=TITLE_MAX)],
        filters=[strip_whitespace],
    )
    store = SelectField(_l("Store"), choices=[], validate_choice=False)
    #: Checked again by the service, which names an unknown role in its message.
    command_roles = SelectMultipleField(
        _l("Command roles"),
        choices=[],
        validate_choice=False,
        description=_l("Alerted when an incident is reported; they lead the response"),
    )
    rescue_team = _text(_l("Rescue team"), TEXT_MAX, description=_l("Who does what, with phone numbers"))
    supplies = _text(_l("Emergency supplies"), TEXT_MAX, description=_l("What is kept where"))
    warning_triggers = _text(
        _l("Early warning triggers"), TEXT_MAX, description=_l("Signs that call for this plan")
    )
    response_steps = _text(
        _l("Response steps"),
        TEXT_MAX,
        rows=6,
        description=_l("One step per line; the incident page ticks them off"),
    )
    rescue_measures = _text(_l("Rescue and evacuation measures"), TEXT_MAX, rows=4)
    customer_template_en = _text(
        _l("Customer message (English)"), TEMPLATE_MAX, rows=4, description=PLACEHOLDER_HELP
    )
    customer_template_zh = _text(
        _l("Customer message (Chinese)"), TEMPLATE_MAX, rows=4, description=PLACEHOLDER_HELP
    )
    update_interval_hours = IntegerField(
        _l("Customer update interval (hours)"),
        validators=[
            InputRequired(_l("Enter the update interval in hours.")),
            NumberRange(1, INTERVAL_MAX_HOURS, _l("From 1 to %(max)s hours.", max=INTERVAL_MAX_HOURS)),
        ],
    )
    notes = _text(_l("What changed"), TEXT_MAX, rows=2)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [("", "—"), *((k.value, k.label) for k in PlanKind)]
        self.command_roles.choices = [(r.value, r.label) for r in Role if r is not Role.AUDITOR]


class DrillForm(Form):
    store = SelectField(_l("Store"), choices=[], validators=[InputRequired(_l("Choose the store."))])
    plan = SelectField(_l("Plan version"), choices=[], validators=[InputRequired(_l("Choose the plan."))])
    held_on = DateField(_l("Held on"), validators=[InputRequired(_l("Enter the date of the drill."))])
    participants = _text(_l("Participants"), TEXT_MAX, InputRequired(_l("Name the participants.")), rows=2)
    scenario = _text(_l("Scenario"), TEXT_MAX, InputRequired(_l("Describe the scenario practised.")))
    findings = _text(_l("Findings"), TEXT_MAX)
    follow_up = _text(_l("Follow-up"), TEXT_MAX, description=_l("What changes after the drill, by whom"))


class ReportForm(Form):
    """Reporting an incident (HB §9.2 report): any member of the store's staff."""

    store = SelectField(_l("Store"), choices=[], validators=[InputRequired(_l("Choose the store."))])
    kind = SelectField(
        _l("Kind of emergency"), choices=[], validators=[InputRequired(_l("Choose the kind."))]
    )
    severity = SelectField(_l("Severity"), choices=[], validators=[InputRequired(_l("Choose the severity."))])
    description = _text(
        _l("What happened"), TEXT_MAX, InputRequired(_l("Describe what happened.")), rows=4,
        description=_l("Where, what, who is affected, what has been done so far"),
    )  # fmt: skip
    occurred_at = DateTimeLocalField(
        _l("When"),
        validators=[Optional()],
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        description=_l("Empty: now. In the store's time."),
    )
    notify_customers = BooleanField(
        _l("Tell the affected customers now"),
        description=_l(
            "Customers with a device at the store get the plan's message now, and then at the plan's interval"
        ),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [("", "—"), *((k.value, k.label) for k in PlanKind)]
        self.severity.choices = [("", "—"), *((s.value, s.label) for s in Severity)]


class ActionForm(Form):
    what = _text(_l("What was done"), TEXT_MAX, InputRequired(_l("Describe what was done.")), rows=2)
    step = SelectField(_l("Plan step"), choices=[], validate_choice=False)


class CommandForm(Form):
    """Taking command: the button alone (and the page's version)."""


class UpdateForm(Form):
    note = _text(
        _l("Note to customers"), TEMPLATE_MAX, rows=2,
        description=_l("Optional; added below the plan's message"),
    )  # fmt: skip


class CloseForm(Form):
    review = _text(
        _l("Review of the response"),
        TEXT_MAX,
        InputRequired(_l("Write the review: what happened, what worked, what to change.")),
        rows=4,
    )
    revise_plan = BooleanField(
        _l("Revise the plan"), description=_l("Starts a new draft of the plan, linked to this incident")
    )


def int_or_none(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None
