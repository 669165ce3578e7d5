"""The forms of the access-log review and the confidentiality screens (HB §7.3). They only read
what the browser sent (dates, ids, lengths); the rules are in `privacy.services`."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, FileField, Form, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from repairqc.forms_base import strip_whitespace
from repairqc.privacy.models import NOTE_MAX, TITLE_MAX, VERSION_MAX, AccessKind


class AccessFilterForm(Form):
    """GET parameters of the review screen; every one optional."""

    person = SelectField(_l("Person"), validate_choice=True, default="")
    start = DateField(_l("From"), [Optional()])
    end = DateField(_l("To (inclusive)"), [Optional()])
    kind = SelectField(
        _l("Access"), choices=[("", _l("All")), *AccessKind.choices()], validate_choice=True, default=""
    )
    subject = SelectField(_l("Data"), validate_choice=True, default="")


class AgreementForm(Form):
    staff_user = SelectField(
        _l("Staff member"), [InputRequired(_l("Choose the member of staff who signed."))]
    )
    signed_on = DateField(_l("Signed on"), [InputRequired(_l("Enter the date the agreement was signed."))])
    valid_until = DateField(
        _l("Valid until"), [Optional()], description=_l("Leave empty if the agreement does not expire.")
    )
    title = StringField(
        _l("Agreement"),
        [InputRequired(_l("Name the agreement that was signed.")), Length(max=TITLE_MAX)],
        filters=[strip_whitespace],
        default=_l("Staff confidentiality agreement"),
    )
    agreement_version = StringField(
        _l("Agreement version"), [Optional(), Length(max=VERSION_MAX)], filters=[strip_whitespace]
    )
    document = FileField(_l("Signed document (scan or PDF)"), [Optional()])
    note = TextAreaField(_l("Note"), [Optional(), Length(max=NOTE_MAX)], filters=[strip_whitespace])
