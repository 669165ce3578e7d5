"""The forms of the training screens. They read what the browser sent and refuse what a column
could not hold; every rule (dates, categories of the standard, who may act) is in
`training.services`. The CSRF token and a record's `version` are hidden inputs of the templates.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, FileField, Form, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from repairqc.forms_base import strip_whitespace
from repairqc.training.models import CertificateKind


class CertificateForm(Form):
    """HB §5.1.3(1): a certificate with its number, issuer, dates and a scan."""

    kind = SelectField(_l("Kind"), choices=CertificateKind.choices(), validators=[InputRequired()])
    device_category = SelectField(_l("Device category"), choices=[], validators=[InputRequired()])
    number = StringField(
        _l("Certificate number"), [InputRequired(), Length(max=100)], filters=[strip_whitespace]
    )
    issuer = StringField(_l("Issued by"), [InputRequired(), Length(max=200)], filters=[strip_whitespace])
    issued_on = DateField(_l("Issued on"), [InputRequired()])
    expires_on = DateField(_l("Expires on"), [Optional()], description=_l("Empty: does not expire"))
    scan = FileField(_l("Scan (PDF or image)"))
    notes = TextAreaField(_l("Notes"), [Optional(), Length(max=2000)], filters=[strip_whitespace])


class SessionForm(Form):
    """A session of a programme: dates, trainer, place."""

    programme = SelectField(_l("Programme"), coerce=int, choices=[], validators=[InputRequired()])
    title = StringField(_l("Title"), [InputRequired(), Length(max=200)], filters=[strip_whitespace])
    starts_on = DateField(_l("Starts on"), [InputRequired()])
    ends_on = DateField(_l("Ends on"), [InputRequired()])
    trainer = SelectField(_l("Trainer"), coerce=int, choices=[], validators=[Optional()])
    place = StringField(_l("Place"), [InputRequired(), Length(max=300)], filters=[strip_whitespace])
    store = SelectField(_l("Held at store"), coerce=int, choices=[], validators=[Optional()])


class EvaluationForm(Form):
    """HB §3.2.2: the assessor's score and remarks."""

    score = IntegerField(_l("Score (0-100)"), [InputRequired(), NumberRange(0, 100)])
    remarks = TextAreaField(_l("Remarks"), [InputRequired(), Length(max=5000)], filters=[strip_whitespace])
