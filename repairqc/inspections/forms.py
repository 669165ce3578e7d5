"""Forms of the plan and inspection screens (HB §8.2-§8.3.1).

They only read what the browser sent and say what could not be read; every rule (who may
inspect which store, dates of a plan, required items, who reviews) is in `inspections.services`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage, MultiDict
from wtforms import DateField, HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from repairqc.errors import DomainError, FormInvalid
from repairqc.forms_base import store_choices
from repairqc.inspections.models import (
    FindingCategory,
    InspectionChecklist,
    InspectionItemResult,
    InspectionKind,
    InspectionPhoto,
    Recurrence,
    Severity,
)
from repairqc.inspections.services import Answer
from repairqc.standards.schema import SCORE_MAX

NOTE_MAX = 2000
TEXT_MAX = 5000


def give_ids(form: FlaskForm, prefix: str) -> FlaskForm:
    """Unique element ids for a form that appears several times on one page (labels stay tied
    to their inputs); the field names, which the server reads, do not change."""
    for form_field in form:
        form_field.id = f"{prefix}{form_field.name}"
        form_field.label.field_id = form_field.id
    return form


# --- plans (HB §8.2.2) -----------------------------------------------------------------------------------


class PlanForm(FlaskForm):
    """A plan: what kind of inspection, how often, by whom, of which stores.

    `store_group` adds every active store of a chain or region ("chain:<id>", "region:<id>")
    to the stores ticked, so a plan over a whole region needs no long list of clicks.
    """

    version = HiddenField()
    name = StringField(_l("Name"), validators=[InputRequired(_l("Give the plan a name.")), Length(max=200)])
    kind = SelectField(_l("Kind"), validate_choice=True)
    recurrence = SelectField(_l("Recurrence"), validate_choice=True)
    checklist = SelectField(
        _l("Checklist"),
        validate_choice=True,
        default=InspectionChecklist.STORE.value,
        description=_l("What the inspections of this plan check"),
    )
    starts_on = DateField(
        _l("First inspection on"), validators=[InputRequired(_l("Enter the date of the first inspection."))]
    )
    ends_on = DateField(_l("Last inspection by"), validators=[Optional()], description=_l("Empty: no end"))
    inspector = SelectField(
        _l("Inspector"),
        validate_choice=True,
        description=_l("Internal audits may leave it empty: the store's manager conducts them"),
    )
    stores = SelectMultipleField(_l("Stores"), coerce=str, validate_choice=True)
    store_group = SelectField(_l("Or every store of"), validate_choice=True)
    notes = TextAreaField(_l("Notes"), validators=[Length(max=TEXT_MAX)])

    def __init__(self, *args, inspectors=(), stores=(), chains=(), regions=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [(k.value, k.label) for k in InspectionKind]
        self.recurrence.choices = [(r.value, r.label) for r in Recurrence]
        self.checklist.choices = [(c.value, c.label) for c in InspectionChecklist]
        self.inspector.choices = [("", _("(none)"))] + [(str(u.id), u.full_name) for u in inspectors]
        self.stores.choices = store_choices(stores)
        self.store_group.choices = (
            [("", _("(only the stores ticked)"))]
            + [(f"chain:{c.id}", _("Chain %(name)s", name=c.name)) for c in chains]
            + [(f"region:{r.id}", _("Region %(name)s", name=r.name)) for r in regions]
        )

    @property
    def store_ids(self) -> set[int]:
        return {int(value) for value in self.stores.data or []}

    @property
    def inspector_id(self) -> int | None:
        return int(self.inspector.data) if self.inspector.data else None

    @property
    def group(self) -> tuple[str, int] | None:
        if not self.store_group.data:
            return None
        kind, _sep, ident = self.store_group.data.partition(":")
        return kind, int(ident)


class UnannouncedForm(FlaskForm):
    """A one-off unannounced inspection of one store (HB §8.2.1)."""

    store = SelectField(_l("Store"), validate_choice=True)
    inspector = SelectField(_l("Inspector"), validate_choice=True)
    due_on = DateField(_l("Due on"), validators=[InputRequired(_l("Enter the date of the inspection."))])

    def __init__(self, *args, inspectors=(), stores=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.store.choices = store_choices(stores)
        self.inspector.choices = [(str(u.id), u.full_name) for u in inspectors]


# --- conducting (HB §8.3.1) -------------------------------------------------------------------------------


def item_field(result: InspectionItemResult, part: str) -> str:
    """The name of one input of an item: item-<id>-value, -note, -photos."""
    return f"item-{result.id}-{part}"


def answer_choices(result: InspectionItemResult) -> list[tuple[str, str]]:
    """The radio buttons of an item: pass/fail or the scores, and "not applicable" if optional."""
    if result.kind == "score":
        choices = [(str(n), str(n)) for n in range(SCORE_MAX + 1)]
    else:
        choices = [("pass", _("Pass")), ("fail", _("Fail"))]
    if not result.required:
        choices.append(("na", _("Not applicable")))
    return choices


@dataclass
class Submission:
    """The inspector's answers, keyed by item code as `services.answer_items` takes them, and the
    photos sent for each item (bytes and file name)."""

    answers: dict[str, Answer] = field(default_factory=dict)
    photos: dict[str, list[tuple[bytes, str]]] = field(default_factory=dict)

    @property
    def photo_count(self) -> int:
        return sum(len(files) for files in self.photos.values())


def parse_answers(
    results: Iterable[InspectionItemResult], form: MultiDict, files: MultiDict, *, upload_limit: int
) -> Submission:
    """One answer per item as posted; the service judges the values (pass/fail, 0-5, "na").

    Raises `FormInvalid` naming every item whose note is too long or whose photo is too large.
    """
    submission = Submission()
    errors: dict[str, list[str]] = {}
    for result in results:
        note = form.get(item_field(result, "note"), "")
        if len(note) > NOTE_MAX:
            errors[item_field(result, "note")] = [
                _(
                    "%(item)s: the note is longer than %(max)d characters.",
                    item=item_text(result),
                    max=NOTE_MAX,
                )
            ]
        submission.answers[result.code] = Answer(form.get(item_field(result, "value"), ""), note)
        uploads: list[FileStorage] = [
            u for u in files.getlist(item_field(result, "photos")) if u and u.filename
        ]
        for upload in uploads:
            # One byte over the limit is enough for `store_bytes` to refuse it with its message.
            submission.photos.setdefault(result.code, []).append(
                (upload.read(upload_limit + 1), upload.filename)
            )
    if errors:
        raise FormInvalid(errors)
    return submission


def item_text(result: InspectionItemResult) -> str:
    return result.text(str(get_locale() or "en"))


@dataclass
class ItemRow:
    """One item as the page shows it: the stored answer, or what was just typed."""

    result: InspectionItemResult
    text: str
    value: str  # "pass", "fail", "na", "0".."5" or ""
    note: str
    photos: list[InspectionPhoto]
    errors: list[str]
    choices: list[tuple[str, str]]

    def name(self, part: str) -> str:
        return item_field(self.result, part)


@dataclass
class Section:
    code: str
    title: str
    rows: list[ItemRow]


def stored_value(result: InspectionItemResult) -> str:
    if result.not_applicable:
        return "na"
    if result.kind == "score" and result.score is not None:
        return str(result.score)
    if result.passed is None:
        return ""
    return "pass" if result.passed else "fail"


def sections(
    results: Iterable[InspectionItemResult], posted: MultiDict | None = None, error: DomainError | None = None
) -> list[Section]:
    """The items grouped by section, in template order; `posted` (a refused save) takes the place
    of the stored answers, and the refusal is shown on the item it names."""
    language = str(get_locale() or "en")
    item_errors = error.fields if isinstance(error, FormInvalid) else {}
    grouped: list[Section] = []
    for result in results:
        if posted is not None:
            value = posted.get(item_field(result, "value"), "")
            note = posted.get(item_field(result, "note"), "")
        else:
            value, note = stored_value(result), result.note or ""
        messages = [
            m for part in ("value", "note", "photos") for m in item_errors.get(item_field(result, part), [])
        ]
        if error is not None and not isinstance(error, FormInvalid) and error.field == result.code:
            messages.append(error.message)
        row = ItemRow(
            result, result.text(language), value, note, list(result.photos), messages, answer_choices(result)
        )
        if not grouped or grouped[-1].code != result.section_code:
            grouped.append(Section(result.section_code, result.section_title(language), []))
        grouped[-1].rows.append(row)
    return grouped


class FindingForm(FlaskForm):
    """A problem noted on site or in review (HB §8.2.2, §8.3.3)."""

    version = HiddenField()
    category = SelectField(_l("Category"), validate_choice=True)
    severity = SelectField(_l("Severity"), validate_choice=True)
    description = TextAreaField(_l("Problem found"), validators=[Length(max=TEXT_MAX)])
    root_cause = TextAreaField(
        _l("Root cause"), validators=[Length(max=TEXT_MAX)], description=_l("HB §8.3.3")
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.category.choices = [(c.value, c.label) for c in FindingCategory]
        self.severity.choices = [(s.value, s.label) for s in Severity]


class ActionForm(FlaskForm):
    """A corrective action for one finding: the measure, its owner and due date (HB §8.3.2)."""

    version = HiddenField()
    finding = HiddenField()
    description = TextAreaField(
        _l("Measure"), validators=[Length(max=TEXT_MAX)], description=_l("What the store will do")
    )
    owner = SelectField(_l("Owner"), validate_choice=True)
    due_on = DateField(_l("Due on"), validators=[Optional()])

    def __init__(self, *args, owners=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.owner.choices = [(str(u.id), u.full_name) for u in owners]


class ReassignForm(FlaskForm):
    """QA hands a scheduled inspection to another inspector or day."""

    version = HiddenField()
    inspector = SelectField(_l("Inspector"), validate_choice=True)
    due_on = DateField(_l("Due on"), validators=[InputRequired(_l("Enter the date of the inspection."))])

    def __init__(self, *args, inspectors=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.inspector.choices = [(str(u.id), u.full_name) for u in inspectors]


class CommentForm(FlaskForm):
    """Return to the inspector (comment required by the service) or mark reviewed."""

    version = HiddenField()
    comment = TextAreaField(_l("Comment"), validators=[Length(max=TEXT_MAX)])
