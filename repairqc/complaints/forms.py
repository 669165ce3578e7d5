"""The forms of the complaint screens and of the public complaint form (HB §9.3).

They only read what the browser sent and refuse what a column could not hold (lengths, choices,
amounts, dates); every rule (who may act, which move is allowed, the deadline, an order of
another store) is in `complaints.services`. Each form of the complaint page has its own prefix;
the CSRF token and the complaint's `version` are hidden inputs of the templates (CSRFProtect
checks every POST).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    DateTimeLocalField,
    Form,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Email, InputRequired, Length, Optional, ValidationError

from repairqc.complaints.models import (
    DESCRIPTION_MAX,
    EMAIL_MAX,
    NAME_MAX,
    NOTE_MAX,
    PHONE_MAX,
    ComplaintChannel,
    ContactMethod,
    ResolutionOutcome,
)
from repairqc.forms_base import strip_whitespace
from repairqc.i18n import LOCALES
from repairqc.inspections.action_forms import _AMOUNT, amount_to_cents

ORDER_NUMBER_MAX = 40
#: The channels staff register a complaint from (the web form and surveys open their own).
STAFF_CHANNELS = (
    ComplaintChannel.PHONE,
    ComplaintChannel.EMAIL,
    ComplaintChannel.IN_STORE,
    ComplaintChannel.FOLLOW_UP,
)


def _text(label, limit: int, *validators, rows: int = 3, description=None) -> TextAreaField:
    return TextAreaField(
        label,
        [*validators, Length(max=limit)],
        filters=[strip_whitespace],
        description=description,
        render_kw={"rows": rows, "maxlength": limit},
    )


def _line(label, limit: int, *validators, description=None) -> StringField:
    return StringField(
        label,
        [*validators, Length(max=limit)],
        filters=[strip_whitespace],
        description=description,
        render_kw={"maxlength": limit},
    )


class RegisterForm(Form):
    """Staff register a complaint received by phone, e-mail, in the store or at a follow-up call.

    The customer is a profile found by the search (`customer`), or the contact details of someone
    without one; the view fills the choices (stores, categories, the customers found)."""

    store = SelectField(_l("Store"), validators=[InputRequired(_l("Choose the store."))])
    channel = SelectField(_l("Received by"), choices=[(c.value, c.label) for c in STAFF_CHANNELS])
    category = SelectField(_l("Category"))
    description = _text(
        _l("Complaint"), DESCRIPTION_MAX, InputRequired(_l("Describe the complaint.")), rows=5,
        description=_l("In the customer's words"),
    )  # fmt: skip
    customer = SelectField(_l("Customer"))
    order_number = _line(
        _l("Order number"), ORDER_NUMBER_MAX, description=_l("Optional: the order it is about")
    )
    contact_name = _line(_l("Name"), NAME_MAX)
    contact_phone = _line(_l("Phone"), PHONE_MAX)
    contact_email = _line(_l("E-mail"), EMAIL_MAX, Optional(), Email(_l("Enter a valid e-mail address.")))
    language = SelectField(_l("The customer's language"), choices=list(LOCALES.items()))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.channel.choices = [(c.value, c.label) for c in STAFF_CHANNELS]


class ContactForm(Form):
    channel = SelectField(_l("How"), choices=[])
    at = DateTimeLocalField(
        _l("When"), validators=[Optional()], format=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        description=_l("Empty: now. In the store's time."),
    )  # fmt: skip
    note = _text(_l("What was said"), NOTE_MAX, InputRequired(_l("Write down what was said.")))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.channel.choices = [(c.value, c.label) for c in ContactMethod]


class ResolveForm(Form):
    outcome = SelectField(_l("Outcome"), choices=[])
    resolution = _text(
        _l("Resolution"), DESCRIPTION_MAX, InputRequired(_l("Describe the resolution.")), rows=4,
        description=_l("The customer reads this when asked to confirm"),
    )  # fmt: skip
    rework = SelectField(
        _l("Rework order"), choices=[], description=_l("For the outcome “Repair done again”")
    )
    refund = StringField(
        _l("Amount refunded"), filters=[strip_whitespace], description=_l("For a refund, for example 120.00")
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.outcome.choices = [(o.value, o.label) for o in ResolutionOutcome]

    def validate_refund(self, field) -> None:
        if field.data and not _AMOUNT.match(field.data):
            raise ValidationError(_l("Enter an amount such as 200.00 (at most two decimals)."))

    @property
    def refund_cents(self) -> int | None:
        return amount_to_cents(self.refund.data)


class ReassignForm(Form):
    responsible = SelectField(_l("Responsible person"), validators=[InputRequired(_l("Choose the person."))])
    note = _text(_l("Note"), NOTE_MAX, rows=2)


class ClassifyForm(Form):
    category = SelectField(_l("Category"))


class CloseForm(Form):
    how = RadioField(
        _l("How is it closed?"),
        choices=[
            ("phone", _l("The customer confirmed to us that it is resolved")),
            ("unconfirmed", _l("Without the customer's confirmation")),
        ],
        validators=[InputRequired(_l("Choose how it is closed."))],
    )
    note = _text(
        _l("Note"),
        NOTE_MAX,
        InputRequired(_l("Note how the customer confirmed, or why it is closed without them.")),
        rows=2,
    )


class ReopenForm(Form):
    reason = _text(
        _l("Why it is reopened"), NOTE_MAX, InputRequired(_l("Say why the complaint is reopened.")), rows=2
    )


# --- the public pages ------------------------------------------------------------------------------


class PublicComplaintForm(Form):
    """The store's complaint form on the web (HB §9.3.1). `website` is a honeypot (hidden from
    people, filled in by bots); `issued` is the signed moment the form was served."""

    name = _line(_l("Your name"), NAME_MAX, InputRequired(_l("Enter your name.")))
    phone = _line(_l("Phone"), PHONE_MAX)
    email = _line(_l("E-mail"), EMAIL_MAX, Optional(), Email(_l("Enter a valid e-mail address.")))
    order_number = _line(
        _l("Order number"),
        ORDER_NUMBER_MAX,
        description=_l("Optional: from your receipt, if it is about a repair"),
    )
    category = SelectField(_l("What is it about?"))
    description = _text(
        _l("Your complaint"), DESCRIPTION_MAX, InputRequired(_l("Tell us what went wrong.")), rows=6
    )
    website = StringField(_l("Leave this field empty"))
    issued = HiddenField()

    def validate_phone(self, field) -> None:
        if not field.data and not self.email.data:
            raise ValidationError(_l("Enter a phone number or an e-mail address, so that we can reach you."))


class ConfirmForm(Form):
    answer = RadioField(
        _l("Is your complaint resolved?"),
        choices=[("yes", _l("Yes, it is resolved")), ("no", _l("No, it is not resolved"))],
        validators=[InputRequired(_l("Answer yes or no."))],
    )
    comment = _text(
        _l("Comment"), NOTE_MAX, rows=3, description=_l("If it is not resolved: what is still wrong?")
    )
