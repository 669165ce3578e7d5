"""Forms of sign-up, the billing page and the first-run page. Rules (addresses, limits, plans)
are checked by the services; these forms only read the input."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, IntegerField, PasswordField, RadioField, SelectField, StringField
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional

from repairqc.accounts.models import Role
from repairqc.accounts.services import MIN_PASSWORD_LENGTH
from repairqc.billing.models import BillingInterval
from repairqc.forms_base import strip_whitespace
from repairqc.i18n import LOCALES


def _lower(value: str | None) -> str | None:
    return value.strip().lower() if isinstance(value, str) else value


class SignUpForm(FlaskForm):
    business_name = StringField(
        _l("Business name"), filters=[strip_whitespace], validators=[InputRequired(), Length(max=200)]
    )
    slug = StringField(
        _l("Your address"),
        filters=[_lower],
        validators=[InputRequired(), Length(max=40)],
        description=_l("Lowercase letters, digits and hyphens; your staff sign in there."),
    )
    owner_name = StringField(
        _l("Your name"), filters=[strip_whitespace], validators=[InputRequired(), Length(max=200)]
    )
    owner_email = EmailField(
        _l("Your e-mail"), filters=[_lower], validators=[InputRequired(), Email(), Length(max=254)]
    )
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)],
        description=_l("At least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
    )
    locale = SelectField(_l("Language"), choices=list(LOCALES.items()), default="en")
    plan = HiddenField(validators=[InputRequired()])
    interval = RadioField(
        _l("Billing"), choices=BillingInterval.choices(), default=BillingInterval.MONTH.value
    )


class ChangePlanForm(FlaskForm):
    plan = HiddenField(validators=[InputRequired()])
    interval = HiddenField(validators=[InputRequired()])


class FirstStoreForm(FlaskForm):
    code = StringField(
        _l("Store code"),
        filters=[strip_whitespace],
        validators=[InputRequired(), Length(max=20)],
        description=_l("Short code printed on orders, e.g. SH-01"),
    )
    name = StringField(
        _l("Store name"), filters=[strip_whitespace], validators=[InputRequired(), Length(max=200)]
    )
    address = StringField(_l("Address"), filters=[strip_whitespace], validators=[Optional(), Length(max=500)])
    timezone = StringField(
        _l("Time zone"),
        filters=[strip_whitespace],
        default="Asia/Shanghai",
        validators=[InputRequired(), Length(max=64)],
        description=_l("IANA name, e.g. Asia/Shanghai"),
    )


#: Roles an owner invites from the first-run page (owners and auditors are made in the admin).
INVITE_ROLES = (
    Role.STORE_MANAGER,
    Role.FRONT_DESK,
    Role.TECHNICIAN,
    Role.QA_MANAGER,
    Role.INSPECTOR,
    Role.TRAINER,
)


class InviteForm(FlaskForm):
    full_name = StringField(
        _l("Name"), filters=[strip_whitespace], validators=[InputRequired(), Length(max=200)]
    )
    email = EmailField(_l("E-mail"), filters=[_lower], validators=[InputRequired(), Email(), Length(max=254)])
    role = SelectField(
        _l("Role"), choices=[(value, label) for value, label in Role.choices() if Role(value) in INVITE_ROLES]
    )
    store_id = SelectField(_l("Store"), coerce=int, choices=[], validate_choice=False)


class SupportSessionForm(FlaskForm):
    reason = StringField(
        _l("Reason"), filters=[strip_whitespace], validators=[InputRequired(), Length(min=10, max=500)]
    )
    minutes = IntegerField(
        _l("Minutes"), default=30, validators=[InputRequired(), NumberRange(min=1, max=240)]
    )
