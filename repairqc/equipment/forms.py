"""The forms of the equipment screens (HB ch.4, §5.1.3(2)).

They only read what the browser sent and refuse what a column could not hold (lengths, dates,
amounts, choices); every rule (who may act, a calibration date in the future, the asset tag
already used, an item in use on an open order) is in `equipment.services`. Each form of a page
has its own prefix, so the several forms of one page never read each other's fields; the CSRF
token and the record's `version` are hidden inputs of the templates.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    Form,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from repairqc.equipment.models import (
    ASSET_TAG_MAX,
    CalibrationResult,
    DisposalMethod,
    DocumentKind,
    MaintenanceKind,
    MaintenanceResult,
    RetirementReason,
)
from repairqc.equipment.services import MAX_QUANTITY, TEXT_MAX
from repairqc.forms_base import strip_whitespace
from repairqc.inspections.action_forms import _AMOUNT, amount_to_cents

NOTE_MAX = 2000


def _amount_field(label, description=None) -> StringField:
    return StringField(
        label, filters=[strip_whitespace], description=description or _l("For example 1200.00")
    )


def _check_amount(field) -> None:
    if field.data and not _AMOUNT.match(field.data):
        raise ValidationError(_l("Enter an amount such as 200.00 (at most two decimals)."))


class ItemForm(Form):
    """Entering an item into the register by hand (items bought through a procurement request
    enter it at the acceptance check)."""

    store = SelectField(_l("Store"), validators=[InputRequired(_l("Choose the store."))])
    asset_tag = StringField(
        _l("Asset tag"),
        [InputRequired(_l("Enter the asset tag.")), Length(max=ASSET_TAG_MAX)],
        filters=[strip_whitespace],
    )
    equipment_type = SelectField(_l("Type"), validators=[InputRequired(_l("Choose the type."))])
    name = StringField(
        _l("Name"), [InputRequired(_l("Enter the item's name.")), Length(max=200)], filters=[strip_whitespace]
    )
    brand = StringField(_l("Brand"), [Length(max=100)], filters=[strip_whitespace])
    model = StringField(_l("Model"), [Length(max=100)], filters=[strip_whitespace])
    serial_number = StringField(_l("Serial number"), [Length(max=100)], filters=[strip_whitespace])
    supplier = StringField(_l("Supplier"), [Length(max=200)], filters=[strip_whitespace])
    purchased_on = DateField(_l("Purchase date"), validators=[Optional()])
    price = _amount_field(_l("Purchase price"))
    in_service_on = DateField(_l("In service since"), validators=[Optional()], description=_l("Empty: today"))
    notes = TextAreaField(
        _l("Notes"), [Length(max=TEXT_MAX)], filters=[strip_whitespace], render_kw={"rows": 2}
    )

    def validate_price(self, field) -> None:
        _check_amount(field)

    @property
    def price_cents(self) -> int | None:
        return amount_to_cents(self.price.data)


class MaintenanceForm(Form):
    """Daily care (HB §4.2.1: inspect, clean, lubricate, tighten) or a periodic full inspection."""

    kind = SelectField(
        _l("Kind"),
        choices=[(k.value, k.label) for k in (MaintenanceKind.DAILY_CARE, MaintenanceKind.FULL_INSPECTION)],
        default=MaintenanceKind.DAILY_CARE.value,
    )
    performed_on = DateField(_l("Performed on"), validators=[InputRequired(_l("Enter the date."))])
    inspected = BooleanField(_l("Inspected"))
    cleaned = BooleanField(_l("Cleaned"))
    lubricated = BooleanField(_l("Lubricated"))
    tightened = BooleanField(_l("Tightened"))
    result = SelectField(
        _l("Result"),
        choices=[
            (r.value, r.label)
            for r in (MaintenanceResult.OK, MaintenanceResult.PROBLEMS_FIXED, MaintenanceResult.PROBLEMS_OPEN)
        ],
        default=MaintenanceResult.OK.value,
    )
    problems = TextAreaField(
        _l("Problems found"),
        [Length(max=TEXT_MAX)],
        filters=[strip_whitespace],
        render_kw={"rows": 2},
        description=_l("Required when problems were found (HB §4.2.2)"),
    )
    cost = _amount_field(_l("Cost"), _l("Optional, for example 35.00"))

    def validate_cost(self, field) -> None:
        _check_amount(field)

    @property
    def cost_cents(self) -> int | None:
        return amount_to_cents(self.cost.data)


class FailureForm(Form):
    problem = TextAreaField(
        _l("What failed"),
        [InputRequired(_l("Describe the failure.")), Length(max=TEXT_MAX)],
        filters=[strip_whitespace],
        render_kw={"rows": 2},
    )


class RepairDoneForm(Form):
    outcome = RadioField(
        _l("Outcome"),
        choices=[
            ("repaired", _l("Repaired, back in service")),
            ("not_repaired", _l("Not repaired, out of service")),
        ],
        validators=[InputRequired(_l("Choose the outcome."))],
    )
    completed_on = DateField(_l("Completed on"), validators=[InputRequired(_l("Enter the date."))])
    cost = _amount_field(_l("Cost"), _l("Optional, for example 350.00"))
    note = TextAreaField(
        _l("Note"), [Length(max=NOTE_MAX)], filters=[strip_whitespace], render_kw={"rows": 2}
    )

    def validate_cost(self, field) -> None:
        _check_amount(field)

    @property
    def cost_cents(self) -> int | None:
        return amount_to_cents(self.cost.data)


class CalibrationForm(Form):
    """A calibration certificate (HB §5.1.3(2)); the scan is the `calibration-scan` file input."""

    calibrated_on = DateField(_l("Calibrated on"), validators=[InputRequired(_l("Enter the date."))])
    certificate_number = StringField(
        _l("Certificate number"),
        [InputRequired(_l("Enter the certificate number.")), Length(max=100)],
        filters=[strip_whitespace],
    )
    calibrating_body = StringField(
        _l("Calibrated by"),
        [InputRequired(_l("Enter who calibrated it.")), Length(max=200)],
        filters=[strip_whitespace],
        description=_l("The laboratory or body that issued the certificate"),
    )
    result = SelectField(
        _l("Result"), choices=CalibrationResult.choices(), default=CalibrationResult.PASSED.value
    )
    notes = TextAreaField(
        _l("Notes"), [Length(max=NOTE_MAX)], filters=[strip_whitespace], render_kw={"rows": 2}
    )


class DocumentForm(Form):
    kind = SelectField(_l("Kind"), choices=DocumentKind.choices(), default=DocumentKind.MANUAL.value)
    title = StringField(
        _l("Title"), [Length(max=200)], filters=[strip_whitespace], description=_l("Empty: the file's name")
    )


class ReturnForm(Form):
    note = TextAreaField(
        _l("What was done"), [Length(max=NOTE_MAX)], filters=[strip_whitespace], render_kw={"rows": 2}
    )


class RetireForm(Form):
    """HB §4.3.1-§4.3.2: the condition assessment that starts a retirement."""

    reason = SelectField(_l("Reason"), choices=RetirementReason.choices())
    condition = TextAreaField(
        _l("Condition assessment"),
        [InputRequired(_l("Describe the item's condition.")), Length(max=TEXT_MAX)],
        filters=[strip_whitespace],
        render_kw={"rows": 3},
    )


# --- procurement (HB §4.1.2) ------------------------------------------------------------------------


class RequestForm(Form):
    """The needs analysis."""

    store = SelectField(_l("Store"), validators=[InputRequired(_l("Choose the store."))])
    equipment_type = SelectField(_l("Type"), validators=[InputRequired(_l("Choose the type."))])
    quantity = IntegerField(
        _l("Quantity"),
        [
            InputRequired(_l("Enter the quantity.")),
            NumberRange(1, MAX_QUANTITY, message=_l("The quantity must be between 1 and %(max)s.")),
        ],
        default=1,
    )
    needs = TextAreaField(
        _l("Needs analysis"),
        [
            InputRequired(_l("Explain why the store needs it (HB §4.1.2 needs analysis).")),
            Length(max=TEXT_MAX),
        ],
        filters=[strip_whitespace],
        render_kw={"rows": 3},
        description=_l("What it is for, why now, what is used instead today"),
    )


class OptionForm(Form):
    """One offer of the market comparison."""

    brand = StringField(
        _l("Brand"), [InputRequired(_l("Enter the brand.")), Length(max=100)], filters=[strip_whitespace]
    )
    model = StringField(
        _l("Model"), [InputRequired(_l("Enter the model.")), Length(max=100)], filters=[strip_whitespace]
    )
    supplier = StringField(
        _l("Supplier"),
        [InputRequired(_l("Enter the supplier.")), Length(max=200)],
        filters=[strip_whitespace],
    )
    unit_price = _amount_field(_l("Unit price"))
    after_sales = TextAreaField(
        _l("After-sales service"),
        [Length(max=TEXT_MAX)],
        filters=[strip_whitespace],
        render_kw={"rows": 2},
        description=_l("Warranty, repair service, calibration offered"),
    )
    notes = TextAreaField(
        _l("Notes"), [Length(max=TEXT_MAX)], filters=[strip_whitespace], render_kw={"rows": 2}
    )

    def validate_unit_price(self, field) -> None:
        if not field.data:
            raise ValidationError(_l("Enter the unit price."))
        _check_amount(field)

    @property
    def unit_price_cents(self) -> int | None:
        return amount_to_cents(self.unit_price.data)


class ApprovalForm(Form):
    """Approve or reject, with the note a rejection needs (purchases and retirements)."""

    decision = RadioField(
        _l("Decision"),
        choices=[("approve", _l("Approve")), ("reject", _l("Reject"))],
        validators=[InputRequired(_l("Approve or reject."))],
    )
    note = TextAreaField(
        _l("Note"),
        [Length(max=NOTE_MAX)],
        filters=[strip_whitespace],
        render_kw={"rows": 2},
        description=_l("Required when rejecting"),
    )

    @property
    def approve(self) -> bool:
        return self.decision.data == "approve"


class DecisionForm(ApprovalForm):
    """The purchase decision (HB §4.1.2): one of the compared options, or none."""

    decision = RadioField(
        _l("Decision"),
        choices=[("approve", _l("Approve the chosen option")), ("reject", _l("Reject"))],
        validators=[InputRequired(_l("Approve or reject."))],
    )
    option = SelectField(_l("Option"), coerce=str)


class AcceptanceForm(Form):
    """The acceptance check on delivery (HB §4.1.2)."""

    outcome = RadioField(
        _l("Acceptance check"),
        choices=[("passed", _l("Passed: enter the items into the register")), ("failed", _l("Failed"))],
        validators=[InputRequired(_l("Choose the outcome."))],
    )
    checked_on = DateField(_l("Checked on"), validators=[InputRequired(_l("Enter the date."))])
    asset_tags = TextAreaField(
        _l("Asset tags"),
        [Length(max=TEXT_MAX)],
        render_kw={"rows": 3},
        description=_l("One per line, one per item delivered"),
    )
    serial_numbers = TextAreaField(
        _l("Serial numbers"),
        [Length(max=TEXT_MAX)],
        render_kw={"rows": 3},
        description=_l("One per line, in the order of the asset tags (optional)"),
    )
    notes = TextAreaField(
        _l("Notes"),
        [Length(max=TEXT_MAX)],
        filters=[strip_whitespace],
        render_kw={"rows": 2},
        description=_l("Required when the check failed: what was wrong"),
    )

    @staticmethod
    def lines(text: str | None) -> list[str]:
        return [line.strip() for line in (text or "").splitlines()]


# --- retirement (HB §4.3.2) -------------------------------------------------------------------------


class PlanForm(Form):
    planned_on = DateField(_l("Retire on"), validators=[InputRequired(_l("Enter the date."))])
    method = SelectField(_l("Disposal method"), choices=DisposalMethod.choices())
    notes = TextAreaField(
        _l("Retirement plan"), [Length(max=TEXT_MAX)], filters=[strip_whitespace], render_kw={"rows": 2}
    )


class RetirementDecisionForm(ApprovalForm):
    """The approval of a retirement plan (HB §4.3.2)."""

    decision = RadioField(
        _l("Decision"),
        choices=[("approve", _l("Approve the retirement")), ("reject", _l("Reject"))],
        validators=[InputRequired(_l("Approve or reject."))],
    )


class DisposalForm(Form):
    disposed_on = DateField(_l("Disposed of on"), validators=[InputRequired(_l("Enter the date."))])
    record = TextAreaField(
        _l("Disposal record"),
        [InputRequired(_l("Record how it was disposed of (who took it, receipt).")), Length(max=TEXT_MAX)],
        filters=[strip_whitespace],
        render_kw={"rows": 2},
    )
