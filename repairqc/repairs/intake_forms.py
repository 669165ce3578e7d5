"""The intake form (HB §2.1.2(1)) and the condition checklist the front desk ticks.

The form only parses and checks what a database column would refuse (lengths, choices, a
well-formed e-mail); the rules of receiving a device live in `repairs.services.receive_order`,
whose refusals the view puts next to the field they name.
"""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from repairqc.admin.screens import as_id
from repairqc.errors import DomainError
from repairqc.i18n import LOCALES
from repairqc.repairs.models import ContactChannel
from repairqc.repairs.services import Intake, NewCustomer

#: The condition checklist of intake: code (stored in `Device.condition_checks`) -> label.
#: Ticking beats typing at a busy counter (HB §2.1.3), and the receipt the customer signs
#: lists what was already wrong, so damage found later is not argued about.
CONDITION_CHECKS = {
    "screen_cracked": _l("Screen cracked"),
    "back_cracked": _l("Back cover cracked"),
    "scratches": _l("Scratches"),
    "dents": _l("Dents"),
    "liquid_damage": _l("Signs of liquid damage"),
    "missing_screws": _l("Missing screws"),
    "no_power": _l("Does not power on"),
    "buttons_faulty": _l("Buttons faulty"),
    "camera_damaged": _l("Camera damaged"),
    "battery_swollen": _l("Battery swollen"),
}

#: The value of the "customer" radio button that means "the customer typed in below".
NEW_CUSTOMER = "new"


def condition_label(code: str) -> str:
    """The checklist item's label; a code no longer in the list is shown as it is."""
    label = CONDITION_CHECKS.get(code)
    return str(label) if label is not None else code


class IntakeForm(FlaskForm):
    """Everything the front desk records when a device comes in; choices are set per request."""

    store = SelectField(_l("Store"), coerce=int)
    customer_id = RadioField(_l("Customer"), validate_choice=False)
    new_name = StringField(_l("Full name"), validators=[Length(max=200)])
    new_phone = StringField(
        _l("Phone"), validators=[Length(max=40)], render_kw={"type": "tel", "autocomplete": "off"}
    )
    new_email = StringField(
        _l("E-mail"),
        validators=[Optional(), Length(max=254), Email(message=_l("Enter a valid e-mail address."))],
        render_kw={"type": "email", "autocomplete": "off"},
    )
    new_address = TextAreaField(_l("Address"), validators=[Length(max=500)], render_kw={"rows": 2})
    new_language = SelectField(
        _l("Language"),
        choices=[SelectChoice(code, name) for code, name in LOCALES.items()],
        description=_l("Messages and the tracking page reach the customer in this language."),
    )
    new_channel = SelectField(
        _l("Preferred channel"),
        choices=[SelectChoice(value, label) for value, label in ContactChannel.choices()],
    )

    category = SelectField(_l("Device category"))
    brand = StringField(_l("Brand"), validators=[DataRequired(_l("Enter the brand.")), Length(max=80)])
    model = StringField(_l("Model"), validators=[DataRequired(_l("Enter the model.")), Length(max=120)])
    imei = StringField(
        _l("IMEI"),
        validators=[Length(max=40)],
        description=_l("15 digits (dial *#06#); the check digit is verified. Leave empty if none."),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    serial_number = StringField(_l("Serial number"), validators=[Length(max=64)])
    condition_checks = SelectMultipleField(
        _l("Condition at intake"),
        choices=[SelectChoice(code, label) for code, label in CONDITION_CHECKS.items()],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    condition_notes = TextAreaField(
        _l("Condition notes"), validators=[Length(max=2000)], render_kw={"rows": 2}
    )
    photos = MultipleFileField(
        _l("Photos of the device"),
        description=_l("Several at once: front, back, and any damage. PNG, JPEG, WebP or GIF."),
    )
    accessories = TextAreaField(
        _l("Accessories left with the device"),
        validators=[Length(max=1000)],
        description=_l("Case, charger, SIM card, memory card..."),
        render_kw={"rows": 2},
    )
    passcode = StringField(
        _l("Passcode"),
        validators=[Length(max=100)],
        description=_l(
            "Stored encrypted, shown only to the technician assigned to the repair, and erased at delivery."
        ),
        render_kw={"autocomplete": "off"},
    )
    fault_symptoms = TextAreaField(
        _l("Fault symptoms"),
        validators=[Length(max=5000)],
        description=_l("In the customer's words: what happens, since when, after what."),
        render_kw={"rows": 3},
    )
    customer_requirements = TextAreaField(
        _l("Customer requirements"),
        validators=[Length(max=5000)],
        description=_l("Deadline, budget, data to keep, original parts only..."),
        render_kw={"rows": 2},
    )
    signer_name = StringField(_l("Name of the person signing"), validators=[Length(max=200)])

    def set_defaults(self, *, query: str, matches: int) -> None:
        """First view of the page: guess what the desk would type next (HB §2.1.3).

        A search that found no one pre-fills the new customer with what was searched for.
        """
        self.new_language.data = "zh_Hans_CN" if str(get_locale()).startswith("zh") else "en"
        self.new_channel.data = ContactChannel.PHONE.value
        if matches:
            return
        if "@" in query:
            self.new_email.data = query
        elif query and sum(ch.isdigit() for ch in query) >= 5:
            self.new_phone.data = query
        elif query:
            self.new_name.data = self.signer_name.data = query

    def chosen_customer(self) -> int | None:
        """The id of the customer picked from the search results; None for a new customer."""
        raw = (self.customer_id.data or "").strip()
        if raw in ("", NEW_CUSTOMER, "None"):
            return None
        customer_id = as_id(raw)
        if customer_id is not None:
            return customer_id
        raise DomainError(_("Choose a customer or enter a new one."), field="customer_id")

    def intake(self, signature: str, photos: list[tuple[bytes, str]]) -> Intake:
        customer_id = self.chosen_customer()
        new_customer = None
        if customer_id is None:
            new_customer = NewCustomer(
                full_name=self.new_name.data or "",
                phone=(self.new_phone.data or "").strip() or None,
                email=(self.new_email.data or "").strip() or None,
                address=(self.new_address.data or "").strip() or None,
                language=self.new_language.data or "en",
                preferred_channel=ContactChannel(self.new_channel.data or ContactChannel.PHONE.value),
            )
        return Intake(
            category=self.category.data or "",
            brand=self.brand.data or "",
            model=self.model.data or "",
            fault_symptoms=self.fault_symptoms.data or "",
            signer_name=self.signer_name.data or "",
            signature_data_url=signature,
            customer_id=customer_id,
            new_customer=new_customer,
            imei=self.imei.data or None,
            serial_number=self.serial_number.data or None,
            customer_requirements=(self.customer_requirements.data or "").strip() or None,
            condition_checks=[code for code in self.condition_checks.data or [] if code in CONDITION_CHECKS],
            condition_notes=(self.condition_notes.data or "").strip() or None,
            accessories=(self.accessories.data or "").strip() or None,
            passcode=self.passcode.data or None,
            photos=photos,
        )
