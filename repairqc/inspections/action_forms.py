"""The forms of the corrective-action page (HB §8.2.2, §8.3.2-§8.3.3) and of rewards and
penalties (HB §8.3.4).

They only read what the browser sent and refuse what a column could not hold (lengths,
choices, amounts); every rule (who may act, evidence required, a person of another store) is in
`inspections.services`. Each form of the action page has its own prefix, so the several forms
of one page never read each other's fields; the CSRF token and the record's `version` are
hidden inputs of the template (CSRFProtect checks every POST).
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from wtforms import DateField, Form, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from repairqc.forms_base import strip_whitespace
from repairqc.inspections.models import RewardKind

#: Long enough for a paragraph of evidence or analysis; longer is a paste gone wrong.
TEXT_MAX = 5000
COMMENT_MAX = 2000


class CompleteForm(Form):
    """The store reports the rectification done; the photos are the `complete-photos` file input."""

    evidence = TextAreaField(
        _l("Evidence"),
        [Length(max=TEXT_MAX)],
        filters=[strip_whitespace],
        description=_l("What was done, and how anyone can see that the problem is fixed"),
        render_kw={"rows": 4},
    )


class VerifyForm(Form):
    comment = TextAreaField(
        _l("Comment"), [Length(max=COMMENT_MAX)], filters=[strip_whitespace], render_kw={"rows": 2}
    )


class ReopenForm(Form):
    comment = TextAreaField(
        _l("Why it is reopened"),
        [Length(max=COMMENT_MAX)],
        filters=[strip_whitespace],
        description=_l("The owner sees this comment"),
        render_kw={"rows": 2},
    )


class EffectivenessForm(Form):
    """HB §8.3.3: did the problem stay fixed? "No" reopens the action."""

    effective = RadioField(
        _l("Did the problem stay fixed?"),
        choices=[("yes", _l("Yes, effective")), ("no", _l("No, not effective"))],
        validators=[InputRequired(_l("Answer yes or no."))],
    )
    note = TextAreaField(
        _l("Note"),
        [Length(max=COMMENT_MAX)],
        filters=[strip_whitespace],
        description=_l("Required when the answer is no: what is still wrong"),
        render_kw={"rows": 2},
    )

    @property
    def is_effective(self) -> bool:
        return self.effective.data == "yes"


class RootCauseForm(Form):
    """HB §8.3.3 "analyse the root causes"; the hidden `version` is the finding's."""

    root_cause = TextAreaField(
        _l("Root cause"), [Length(max=TEXT_MAX)], filters=[strip_whitespace], render_kw={"rows": 3}
    )


# --- rewards and penalties (HB §8.3.4) -----------------------------------------------------------------

#: Up to 9,999,999.99: the amount in cents stays within a 32-bit integer column.
_AMOUNT = re.compile(r"^\d{1,7}(?:[.,]\d{1,2})?$")


def amount_to_cents(raw: str | None) -> int | None:
    """ "120.50" or "120,5" → 12050; empty → None. The caller has validated the format."""
    text = (raw or "").strip()
    if not text:
        return None
    whole, _sep, fraction = text.replace(",", ".").partition(".")
    return int(whole) * 100 + int((fraction + "00")[:2])


class RewardForm(Form):
    """QA records a reward or a penalty against a store or one of its people.

    The choices are set by the view from the user's scope: stores, their staff (as
    "name · store codes") and their inspections; a person or inspection of another store than
    the one chosen is refused by `services.record_reward_penalty`.
    """

    kind = SelectField(_l("Kind"), validators=[InputRequired()])
    store = SelectField(_l("Store"), validators=[InputRequired(_l("Choose the store."))])
    staff = SelectField(_l("Person"), description=_l("Empty: the whole store"))
    inspection = SelectField(_l("Inspection"), description=_l("The inspection it follows from, if any"))
    decided_on = DateField(_l("Decided on"), validators=[Optional()])
    reason = TextAreaField(
        _l("Reason"),
        [InputRequired(_l("Give the reason.")), Length(max=TEXT_MAX)],
        filters=[strip_whitespace],
        render_kw={"rows": 3},
    )
    measure = StringField(
        _l("Measure"),
        [Length(max=300)],
        filters=[strip_whitespace],
        description=_l("E.g. bonus, certificate, warning, fine"),
    )
    amount = StringField(
        _l("Amount"), filters=[strip_whitespace], description=_l("Optional, for example 200.00")
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [(kind.value, kind.label) for kind in RewardKind]

    def validate_amount(self, field) -> None:
        if field.data and not _AMOUNT.match(field.data):
            raise ValidationError(_l("Enter an amount such as 200.00 (at most two decimals)."))

    @property
    def kind_value(self) -> RewardKind:
        return RewardKind(self.kind.data)

    @property
    def amount_cents(self) -> int | None:
        return amount_to_cents(self.amount.data)
