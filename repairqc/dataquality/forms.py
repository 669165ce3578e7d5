"""The forms of the data-quality screens. They only read what the browser sent (ids, choices,
lengths); the rules (who may merge, versions, a customer merged meanwhile) are in the services.
The CSRF token is a hidden input of the templates (CSRFProtect checks every POST)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import Form, HiddenField, RadioField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from repairqc.dataquality.models import NOTE_MAX
from repairqc.dataquality.services import MERGE_FIELDS
from repairqc.forms_base import strip_whitespace

#: The two customers of the compare page are "a" and "b" (the ids are in the URL).
SIDES = [("a", "A"), ("b", "B")]


def _note(label, *validators) -> TextAreaField:
    return TextAreaField(
        label,
        [*validators, Length(max=NOTE_MAX)],
        filters=[strip_whitespace],
        render_kw={"rows": 2, "maxlength": NOTE_MAX},
    )


class DismissForm(Form):
    note = _note(_l("Why they are different people (optional)"), Optional())


class MergeForm(Form):
    """Which customer is kept, and per field whose value it keeps."""

    survivor = RadioField(
        _l("Customer kept"), [InputRequired(_l("Choose the customer to keep."))], choices=SIDES
    )
    version_a = HiddenField()
    version_b = HiddenField()


for _name, _label in MERGE_FIELDS.items():
    setattr(
        MergeForm,
        f"keep_{_name}",
        RadioField(_label, [InputRequired(_l("Choose whose value to keep."))], choices=SIDES, default="a"),
    )


class ReviewForm(Form):
    decision = RadioField(
        _l("Decision"),
        [InputRequired(_l("Choose whether to confirm or dismiss the flag."))],
        choices=[
            ("confirmed", _l("Confirm: the figure is wrong or needs action")),
            ("dismissed", _l("Dismiss: the figure is right")),
        ],
    )
    note = _note(_l("Note"), Optional())
