"""The forms of the order page (HB §2.1.2(2)-(5)): one small form per step.

They only parse and check what a column would refuse (lengths, choices, ranges); the rules of
each step live in `repairs.services`. Every form is a plain WTForms `Form` with its own prefix,
so the many forms of one page never read each other's fields; the CSRF token and the order's
`version` are hidden inputs of the template (CSRFProtect checks every POST).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DecimalField,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from repairqc.admin.screens import as_id
from repairqc.admin.views import INT32_MAX
from repairqc.errors import DomainError
from repairqc.forms_base import strip_whitespace
from repairqc.repairs.models import DecisionMethod, OrderHold, Part, Quote, QuoteLineKind
from repairqc.repairs.services import LineInput, line_amounts
from repairqc.standards.forms import RowList

#: Above this a quote line is a typing error, and sums stay within the integer columns.
MAX_UNIT_PRICE = Decimal("99999.99")
MAX_QUANTITY = 999


def decimal_value(low: Decimal, high: Decimal, *, below: Any, above: Any):
    """A finite number within [low, high] with at most two decimals (cents, basis points)."""

    def check(form: Form, field: DecimalField) -> None:
        value = field.data
        if value is None:
            return
        if not value.is_finite():
            raise ValidationError(_l("Enter a number."))
        if value < low:
            raise ValidationError(below)
        if value > high:
            raise ValidationError(above)
        try:
            exact = value == value.quantize(Decimal("0.01"))
        except InvalidOperation:
            exact = False
        if not exact:
            raise ValidationError(_l("Use at most two decimals."))

    return check


class AssignForm(Form):
    technician = SelectField(_l("Technician"), coerce=int, validators=[InputRequired()])


class DiagnosisForm(Form):
    """What the technician found (HB §2.1.2(2)): cause, plan, repair type and time spent."""

    cause = TextAreaField(
        _l("Cause found"),
        [InputRequired(_l("Describe the cause.")), Length(max=5000)],
        filters=[strip_whitespace],
        render_kw={"rows": 3},
    )
    plan = TextAreaField(
        _l("Repair plan"),
        [InputRequired(_l("Describe the repair plan.")), Length(max=5000)],
        filters=[strip_whitespace],
        # Plain words for the customer (HB §6.2.1: no jargon).
        description=_l("In plain words: the front desk explains it to the customer."),
        render_kw={"rows": 3},
    )
    repair_type = SelectField(_l("Repair type"), validators=[InputRequired(_l("Choose a repair type."))])
    minutes = IntegerField(
        _l("Diagnosis time (minutes)"),
        [InputRequired(_l("Enter the minutes spent.")),
         NumberRange(1, 1440, message=_l("Diagnosis time must be between 1 and 1440 minutes."))],
    )  # fmt: skip


# --- the quote editor ------------------------------------------------------------------------------


class LineRow(Form):
    """One line of the itemised quote (HB §2.1.2(3)); an untouched row is ignored."""

    kind = SelectField(_l("Kind"), choices=QuoteLineKind.choices(), default=QuoteLineKind.PART.value)
    part = SelectField(_l("Part"), default="")
    description = StringField(
        _l("Description"),
        [Length(max=300)],
        filters=[strip_whitespace],
        description=_l("Empty: the part's name"),
    )
    quantity = IntegerField(
        _l("Quantity"),
        [InputRequired(_l("Enter the quantity.")),
         NumberRange(min=1, message=_l("Quantities must be at least 1.")),
         NumberRange(max=MAX_QUANTITY, message=_l("At most %(n)s per line.", n=MAX_QUANTITY))],
        default=1,
    )  # fmt: skip
    unit_price = DecimalField(
        _l("Unit price"),
        [Optional(),
         decimal_value(Decimal(0), MAX_UNIT_PRICE, below=_l("Prices cannot be negative."),
                       above=_l("At most %(n)s per unit.", n=MAX_UNIT_PRICE))],
        places=2,
        description=_l("Before tax. Empty: the part's list price"),
    )  # fmt: skip
    tax_rate = DecimalField(
        _l("Tax rate (%)"),
        [Optional(),
         decimal_value(Decimal(0), Decimal(100), below=_l("Tax rates are between 0 and 100 %."),
                       above=_l("Tax rates are between 0 and 100 %."))],
        places=2,
        default=Decimal(0),
    )  # fmt: skip
    remove = BooleanField(_l("Remove"))

    def is_blank(self) -> bool:
        """A row added and left empty (or only its defaults): not a line of the quote."""
        return not (self.description.data or self.part.data or (self.unit_price.raw_data or [""])[0].strip())


class QuoteForm(Form):
    """The rows of the draft quote. "Add a row" posts the rows and shows one more, saving nothing."""

    lines = RowList(FormField(LineRow), min_entries=1)

    def __init__(self, *args: Any, parts: list[Part] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parts = {part.id: part for part in parts}
        self.form_errors: list[str] = []
        self.refresh_choices()

    @classmethod
    def from_quote(cls, quote: Quote | None, parts: list[Part], **kwargs: Any) -> QuoteForm:
        """The editor opened on `quote`'s lines (a draft, or the sent quote to revise)."""
        rows = [
            {
                "kind": line.kind.value,
                "part": str(line.part_id) if line.part_id else "",
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": Decimal(line.unit_price_cents) / 100,
                "tax_rate": Decimal(line.tax_rate_bp) / 100,
            }
            for line in (quote.lines if quote is not None else [])
        ]
        return cls(formdata=None, data={"lines": rows or [{}]}, parts=parts, **kwargs)

    def refresh_choices(self) -> None:
        choices = [("", _l("— none —"))] + [(str(pid), str(part)) for pid, part in self.parts.items()]
        for entry in self.lines:
            entry.form.part.choices = choices

    def add_row(self) -> None:
        self.lines.append_entry({})
        self.refresh_choices()

    def kept_rows(self) -> list[LineRow]:
        return [
            entry.form for entry in self.lines if not entry.form.remove.data and not entry.form.is_blank()
        ]

    def validate_rows(self) -> bool:
        """Each kept row's fields, then the rules across fields that WTForms cannot express."""
        ok = True
        for row in self.kept_rows():
            if not row.validate():
                ok = False
                continue
            if row.unit_price.data is None and not row.part.data:
                row.unit_price.errors = [*row.unit_price.errors, _l("Enter the unit price or choose a part.")]
                ok = False
            if not row.description.data and not row.part.data:
                row.description.errors = [*row.description.errors, _l("Describe the line or choose a part.")]
                ok = False
        if ok:
            try:
                total = sum(sum(line_amounts(line)) for line in self.inputs())
            except DomainError as error:  # the service's own checks, should a rule differ
                self.form_errors.append(error.message)
                return False
            if total > INT32_MAX:
                self.form_errors.append(_l("The quote total is too large; check the quantities and prices."))
                ok = False
        return ok

    def inputs(self) -> list[LineInput]:
        """The kept rows as service input; a part fills an empty description or price."""
        lines = []
        for row in self.kept_rows():
            part = self.parts.get(int(row.part.data)) if row.part.data else None
            price = row.unit_price.data
            if price is None and part is not None:
                price = Decimal(part.unit_price_cents) / 100
            lines.append(
                LineInput(
                    kind=QuoteLineKind(row.kind.data),
                    description=row.description.data or (part.name if part is not None else ""),
                    quantity=row.quantity.data,
                    unit_price=price if price is not None else Decimal(0),
                    tax_rate=row.tax_rate.data if row.tax_rate.data is not None else Decimal(0),
                    part_id=part.id if part is not None else None,
                )
            )
        return lines


# --- the customer's decision, the repair --------------------------------------------------------------

DECISIONS = [("approve", _l("The customer approves the quote")), ("decline", _l("The customer declines"))]


class DecisionForm(Form):
    """The customer's answer given at the counter or by phone (HB §2.1.2(3))."""

    revision = HiddenField()
    decision = RadioField(
        _l("Decision"), choices=DECISIONS, validators=[InputRequired(_l("Choose a decision."))]
    )
    method = SelectField(
        _l("How the customer answered"),
        choices=[
            c for c in DecisionMethod.choices() if c[0] in (DecisionMethod.IN_STORE, DecisionMethod.PHONE)
        ],
        default=DecisionMethod.IN_STORE.value,
    )
    signer_name = StringField(
        _l("Customer's name"),
        [InputRequired(_l("Enter the name of the person deciding.")), Length(max=200)],
        filters=[strip_whitespace],
    )
    reason = TextAreaField(
        _l("Reason for declining"), [Length(max=2000)], filters=[strip_whitespace], render_kw={"rows": 2}
    )

    def revision_number(self) -> int | None:
        return as_id(self.revision.data)


class WorkLogForm(Form):
    """One step of the repair: what, how long, with which equipment (HB §2.1.2(4))."""

    step = TextAreaField(
        _l("Step"), [InputRequired(_l("Describe the step.")), Length(max=5000)], filters=[strip_whitespace],
        render_kw={"rows": 2},
    )  # fmt: skip
    minutes = IntegerField(
        _l("Minutes"),
        [InputRequired(_l("Enter the minutes spent.")),
         NumberRange(1, 1440, message=_l("Minutes must be between 1 and 1440."))],
    )  # fmt: skip
    equipment = StringField(
        _l("Other equipment"), [Length(max=300)], filters=[strip_whitespace],
        description=_l("Anything not in the equipment register"),
    )  # fmt: skip
    #: The store's items in service (set by the view); HB §5.1.3(2): an item overdue for
    #: calibration is refused by `services.log_work`, naming it and the date it fell due.
    equipment_items = SelectMultipleField(
        _l("Equipment used"),
        coerce=int,
        description=_l("The register's items used for this step (hold Ctrl or ⌘ to choose several)"),
    )


class PartForm(Form):
    """Parts taken out of the store's stock for this repair (HB §7.1.1 parts used)."""

    part = SelectField(_l("Part"), coerce=int, validators=[InputRequired(_l("Choose a part."))])
    quantity = IntegerField(
        _l("Quantity"),
        [InputRequired(_l("Enter the quantity.")),
         NumberRange(min=1, message=_l("Quantities must be at least 1.")),
         NumberRange(max=MAX_QUANTITY, message=_l("At most %(n)s at a time.", n=MAX_QUANTITY))],
        default=1,
    )  # fmt: skip
    hold_if_short = BooleanField(_l("Put the repair on hold if the stock is short"))


class HoldForm(Form):
    hold = SelectField(
        _l("Waiting for"),
        choices=[("", _l("Nothing: not on hold")), *OrderHold.choices()],
        default="",
    )
    note = StringField(_l("Note"), [Length(max=500)], filters=[strip_whitespace])

    def chosen(self) -> OrderHold | None:
        return OrderHold(self.hold.data) if self.hold.data else None


class CancelForm(Form):
    reason = TextAreaField(
        _l("Reason for cancelling"),
        [InputRequired(_l("Give a reason.")), Length(max=2000)],
        filters=[strip_whitespace],
        render_kw={"rows": 2},
    )
