"""The forms of the assessment screens (HB §3.3).

They only read what the browser sent (a number that is not one, a text too long, a choice not
offered); every rule (score ranges, who assesses, what finalising needs) is in
`assessments.services`. Each form of the assessment page has its own prefix; the CSRF token and
the assessment's `version` are hidden inputs of the template.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import FloatField, Form, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from repairqc.assessments.models import AssessmentKind, AssessmentOutcome, FollowUp
from repairqc.forms_base import strip_whitespace

COMMENT_MAX = 5000


class NewAssessmentForm(Form):
    """Open an assessment: the technician (at one of their stores), the cycle and the period."""

    technician = SelectField(_l("Technician"), [InputRequired()], choices=[])
    kind = SelectField(_l("Cycle"), [InputRequired()], choices=[])
    period = StringField(
        _l("Period"),
        [InputRequired(), Length(max=20)],
        filters=[strip_whitespace],
        description=_l("A month (2026-10), a quarter (2026-Q3) or a year (2026), as the cycle needs"),
    )

    @property
    def kind_value(self) -> AssessmentKind:
        return AssessmentKind(self.kind.data)


def _score_field(label) -> FloatField:
    return FloatField(
        label, [Optional()], description=_l("0 to 100; empty if not scored"), render_kw={"step": "any"}
    )


class ScoresForm(Form):
    """The assessor's own scores (HB §3.3.1: communication, teamwork, safety)."""

    communication = _score_field(_l("Communication"))
    teamwork = _score_field(_l("Teamwork"))
    safety = _score_field(_l("Safety (rule compliance)"))
    comment = TextAreaField(
        _l("Comment"), [Length(max=COMMENT_MAX)], filters=[strip_whitespace], render_kw={"rows": 3}
    )


class FinaliseForm(Form):
    outcome = SelectField(
        _l("Outcome"), choices=AssessmentOutcome.choices(), default=AssessmentOutcome.NONE.value
    )
    follow_up = SelectField(
        _l("If failed"),
        choices=FollowUp.choices(),
        default=FollowUp.NONE.value,
        description=_l("HB §5.3.1(3): staff who fail an assessment retake it or are retrained"),
    )
    comment = TextAreaField(
        _l("Comment"), [Length(max=COMMENT_MAX)], filters=[strip_whitespace], render_kw={"rows": 2}
    )

    @property
    def outcome_value(self) -> AssessmentOutcome:
        return AssessmentOutcome(self.outcome.data)

    @property
    def follow_up_value(self) -> FollowUp:
        return FollowUp(self.follow_up.data)
