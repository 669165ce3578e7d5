"""The forms of follow-ups and surveys (HB §6.2.2, §6.3).

They read what the browser sent and refuse what a column could not hold (choices, lengths);
who may act, a follow-up already recorded, a survey already answered are `feedback.services`'
rules. The CSRF token and the record's `version` are hidden inputs of the templates.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, Form, RadioField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from repairqc.feedback.models import COMMENT_MAX, NOTES_MAX, FollowUpChannel, FollowUpOutcome, SurveyChannel
from repairqc.feedback.services import Answers
from repairqc.forms_base import strip_whitespace

SCORES = [(5, "5"), (4, "4"), (3, "3"), (2, "2"), (1, "1")]


def complaint_categories() -> list[tuple[int, str]]:
    """The active complaint categories (HB §9.3.2: the built-in ones and the provider's own)."""
    from repairqc.complaints.services import active_categories

    return [(category.id, category.label) for category in active_categories()]


def _score(label, description) -> RadioField:
    return RadioField(
        label,
        choices=SCORES,
        coerce=int,
        validators=[InputRequired(_l("Choose a score from 1 to 5."))],
        description=description,
    )


class SurveyForm(Form):
    """The questionnaire of HB §6.3.2, for the customer's page and for staff."""

    timeliness = _score(_l("Timeliness"), _l("Was the repair done when we said it would be?"))
    quality = _score(_l("Repair quality"), _l("Does the device work as it should?"))
    attitude = _score(_l("Service attitude"), _l("Were our staff friendly and helpful?"))
    price = _score(_l("Price transparency"), _l("Was the price clear before the repair?"))
    would_recommend = RadioField(
        _l("Would you recommend us to a friend?"),
        choices=[("yes", _l("Yes")), ("no", _l("No"))],
        validators=[Optional()],
    )
    comment = TextAreaField(
        _l("Anything else you want to tell us?"),
        [Length(max=COMMENT_MAX)],
        filters=[strip_whitespace],
        render_kw={"rows": 3, "maxlength": COMMENT_MAX},
    )

    def answers(self) -> Answers:
        recommend = {"yes": True, "no": False}.get(self.would_recommend.data or "")
        return Answers(
            timeliness=self.timeliness.data,
            quality=self.quality.data,
            attitude=self.attitude.data,
            price=self.price.data,
            comment=self.comment.data or None,
            would_recommend=recommend,
        )


class StaffSurveyForm(SurveyForm):
    """A response taken by phone, on a visit or on paper (HB §6.3.1)."""

    channel = SelectField(
        _l("How the customer answered"),
        choices=[(value, label) for value, label in SurveyChannel.choices() if value != SurveyChannel.ONLINE],
        validators=[InputRequired(_l("Choose how the customer answered."))],
    )

    def channel_value(self) -> SurveyChannel:
        return SurveyChannel(self.channel.data)


class FollowUpForm(Form):
    channel = SelectField(
        _l("Channel"),
        choices=FollowUpChannel.choices(),
        validators=[InputRequired(_l("Choose how you contacted the customer."))],
    )
    outcome = RadioField(
        _l("Outcome"),
        choices=FollowUpOutcome.choices(),
        validators=[InputRequired(_l("Choose the outcome."))],
    )
    notes = TextAreaField(
        _l("Notes"), [Length(max=NOTES_MAX)], filters=[strip_whitespace], render_kw={"rows": 3}
    )
    give_up = BooleanField(
        _l("Not reached: close it (no more tries)"),
        description=_l("Leave it unticked to try again later; every try is kept."),
    )
    open_complaint = BooleanField(_l("Problem reported: open a complaint now"), default=True)
    complaint_category = SelectField(_l("Complaint category"), coerce=int, validate_choice=False)

    def channel_value(self) -> FollowUpChannel:
        return FollowUpChannel(self.channel.data)

    def outcome_value(self) -> FollowUpOutcome:
        return FollowUpOutcome(self.outcome.data)

    def complaint_category_value(self) -> int | None:
        if self.outcome.data != FollowUpOutcome.PROBLEM.value or not self.open_complaint.data:
            return None
        return self.complaint_category.data


class ComplaintForm(Form):
    complaint_category = SelectField(_l("Complaint category"), coerce=int, validate_choice=False)
