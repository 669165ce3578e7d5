"""The forms of the improvement screens (HB §2.3.1, §2.3.2).

They only read what the browser sent and refuse what a column could not hold (lengths, dates,
choices), each with a translated message of ours (WTForms' own messages are English only for
plain forms); every rule (who may act, a due date in the past, a reason required) is in
`improvements.services`. Each form of the suggestion page has its own prefix; the CSRF token and
the record's `version` are hidden inputs of the templates.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    Form,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from repairqc.forms_base import strip_whitespace
from repairqc.improvements.models import (
    REFERENCE_MAX,
    TEXT_MAX,
    TITLE_MAX,
    EffectRating,
    ImprovementArea,
    SuggestionSource,
)
from repairqc.improvements.services import PARTICIPANTS_MAX


class Date(DateField):
    """A date field whose unreadable input gets our translated message."""

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            self.data = None
            raise ValueError(str(_l("Enter a date such as 2026-12-31."))) from exc


def _too_long(limit: int) -> Length:
    return Length(max=limit, message=_l("At most %(max)d characters."))


def _text_area(label, required=None, limit: int = TEXT_MAX, rows: int = 3, description=None) -> TextAreaField:
    validators = [InputRequired(required)] if required else []
    return TextAreaField(
        label,
        [*validators, _too_long(limit)],
        filters=[strip_whitespace],
        render_kw={"rows": rows},
        description=description,
    )


def _check_choice(field, message) -> None:
    if field.data not in {str(value) for value, _label in field.choices}:
        raise ValidationError(message)


class SuggestionForm(Form):
    """Any member of staff submits a suggestion (HB §2.3.2)."""

    store = SelectField(_l("Store"), validate_choice=False, description=_l("The store it concerns"))
    area = SelectField(_l("Area of improvement"), choices=ImprovementArea.choices(), validate_choice=False)
    title = StringField(
        _l("Title"),
        [InputRequired(_l("Give the suggestion a short title.")), _too_long(TITLE_MAX)],
        filters=[strip_whitespace],
    )
    problem = _text_area(_l("The problem"), _l("Describe the problem."), rows=4)
    proposal = _text_area(_l("The proposal"), _l("Describe what you propose."), rows=4)
    source = SelectField(
        _l("Source"),
        choices=[(value, label) for value, label in SuggestionSource.choices() if value != "effect_review"],
        default=SuggestionSource.STAFF_IDEA.value,
        validate_choice=False,
    )
    source_reference = StringField(
        _l("Source reference"),
        [_too_long(REFERENCE_MAX)],
        filters=[strip_whitespace],
        description=_l("For example the complaint, order or inspection number"),
    )

    def validate_store(self, field) -> None:
        _check_choice(field, _l("Choose one of the stores offered."))

    def validate_area(self, field) -> None:
        _check_choice(field, _l("Choose the area of improvement."))

    def validate_source(self, field) -> None:
        _check_choice(field, _l("Choose where the idea came from."))


class AdoptForm(Form):
    responsible = SelectField(_l("Responsible person"), validate_choice=False)
    due_on = Date(
        _l("Implement by"), validators=[InputRequired(_l("Enter the date by which it is to be implemented."))]
    )
    plan = _text_area(_l("Implementation plan"), _l("Describe the implementation plan."))
    note = _text_area(_l("Note to the submitter"), rows=2)

    def validate_responsible(self, field) -> None:
        if not field.data:
            raise ValidationError(_l("Choose the person responsible for implementing it."))
        _check_choice(field, _l("Choose one of the people offered."))


class RejectForm(Form):
    reason = _text_area(
        _l("Reason for not adopting it"),
        _l("Give the reason for not adopting it."),
        description=_l("The submitter sees it"),
    )


class StartForm(Form):
    note = _text_area(_l("Note"), rows=2)


class ImplementForm(Form):
    implemented_on = Date(
        _l("Implemented on"), validators=[InputRequired(_l("Enter the date it was implemented."))]
    )
    what_was_done = _text_area(_l("What was done"), _l("Describe what was done."))
    effect_review_due_on = Date(
        _l("Review the effect on"),
        validators=[Optional()],
        description=_l("Empty: 90 days after the implementation"),
    )


class EffectForm(Form):
    rating = RadioField(_l("Effect"), choices=EffectRating.choices(), validate_choice=False)
    notes = _text_area(_l("Effect observed"), _l("Describe the effect observed."))
    reopen = BooleanField(
        _l("Reopen the problem as a new suggestion"),
        description=_l("Only when it was partly or not effective"),
    )

    def validate_rating(self, field) -> None:
        if not field.data:
            raise ValidationError(_l("Choose how effective it was."))
        _check_choice(field, _l("Choose how effective it was."))


class MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ReviewForm(Form):
    """A periodic review of the process (HB §2.3.1)."""

    period_start = Date(
        _l("Review period from"), validators=[InputRequired(_l("Enter the first day of the period."))]
    )
    period_end = Date(
        _l("Review period to"), validators=[InputRequired(_l("Enter the last day of the period."))]
    )
    held_on = Date(_l("Held on"), validators=[InputRequired(_l("Enter the date the review was held."))])
    participants = _text_area(
        _l("Participants"), _l("Name the participants."), limit=PARTICIPANTS_MAX, rows=2
    )
    areas = MultiCheckbox(_l("Areas reviewed"), choices=ImprovementArea.choices(), validate_choice=False)
    findings = _text_area(_l("Findings"), _l("Record what the review found."), rows=5)
    decisions = _text_area(_l("Decisions"), _l("Record what was decided."), rows=5)
    next_review_due_on = Date(
        _l("Next review due on"), validators=[InputRequired(_l("Enter when the next review is due."))]
    )
    suggestions = MultiCheckbox(_l("Suggestions discussed"), coerce=str, validate_choice=False)

    def validate_areas(self, field) -> None:
        if not field.data:
            raise ValidationError(_l("Tick at least one area reviewed."))
        allowed = {value for value, _label in field.choices}
        if any(value not in allowed for value in field.data):
            raise ValidationError(_l("Choose among the areas offered."))

    def validate_suggestions(self, field) -> None:
        allowed = {value for value, _label in field.choices}
        if any(value not in allowed for value in field.data or []):
            raise ValidationError(_l("Choose among the suggestions offered."))

    @property
    def suggestion_ids(self) -> list[int]:
        return [int(value) for value in self.suggestions.data or [] if value.isdigit()]
