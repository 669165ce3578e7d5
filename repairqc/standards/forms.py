"""Forms of the standards screens: one structured editor per part of a standard set.

Every editor is built from the draft's document and turns what was submitted back into that
part of the document (`apply`). Lists are tables of rows: "Add a row" appends an empty one,
ticking "Remove" drops a row when saving, and the "#" column orders them. Rows are checked
twice: by WTForms (required, ranges) and by the schema's own model for that row, so a rule
such as "lower limit above upper limit" appears next to the row it concerns. The whole
document is then validated again by `services.save_draft`.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from pydantic import BaseModel, ValidationError
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    FloatField,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp

from repairqc.standards.schema import (
    KPIS,
    SCORE_MAX,
    ChecklistItem,
    DeviceCategory,
    EquipmentRule,
    InspectionItem,
    StandardDocument,
    SupervisionPolicy,
    Text,
    WarrantyRule,
    problem_text,
)

#: (field, label, whole number?, maximum) for the scalar service targets.
SCALAR_TARGETS = [
    ("complaint_first_contact_hours", _l("First contact on a complaint (hours)"), True, 720),
    ("diagnosis_hours", _l("Diagnosis within (hours)"), True, 720),
    ("quote_validity_days", _l("Quote valid for (days)"), True, 365),
    ("follow_up_days", _l("Follow-up after delivery (days)"), True, 365),
    ("corrective_action_due_days", _l("Corrective actions due within (days)"), True, 365),
    ("satisfaction_target_pct", _l("Customer satisfaction target (%)"), False, 100),
    ("first_time_fix_target_pct", _l("First-time-fix target (%)"), False, 100),
    ("max_rework_rate_pct", _l("Maximum rework rate (%)"), False, 100),
]
#: (field, label, minimum, maximum) of the follow-up, survey and complaint targets (issue #8,
#: HB §6.2.2, §6.3, §9.3.3). Left empty, a field keeps the draft's value; the survey may go
#: out at delivery (0 hours).
FEEDBACK_TARGETS = [
    ("survey_delay_hours", _l("Survey sent after delivery (hours)"), 0, 720),
    ("survey_link_valid_days", _l("Survey link valid for (days)"), 1, 365),
    ("survey_low_score", _l("Survey score opening a complaint (this or lower, of 5)"), 1, 4),
    ("complaint_warning_hours", _l("Warn before the first-contact deadline (hours)"), 1, 168),
]
#: The further follow-ups, typed as days after delivery separated by commas ("30, 90").
FURTHER_FOLLOW_UPS = "further_follow_up_days"
FURTHER_FOLLOW_UPS_LABEL = _l("Further follow-ups (days after delivery)")
TURNAROUND_PREFIX = "turnaround__"
TARGET_LABELS = {
    **{name: label for name, label, _whole, _maximum in SCALAR_TARGETS},
    **{name: label for name, label, _minimum, _maximum in FEEDBACK_TARGETS},
    FURTHER_FOLLOW_UPS: FURTHER_FOLLOW_UPS_LABEL,
}


def parse_days(raw: str | None) -> list[int] | None:
    """ "30, 90" → [30, 90]; None when it is not a list of whole days 1-365 (at most 10)."""
    parts = [part.strip() for part in (raw or "").replace("，", ",").split(",") if part.strip()]
    if len(parts) > 10 or not all(part.isascii() and part.isdigit() for part in parts):
        return None
    days = [int(part) for part in parts]
    return days if all(1 <= day <= 365 for day in days) else None


def check_days(form, field) -> None:
    """WTForms validator of the further follow-up days."""
    from wtforms.validators import ValidationError

    if parse_days(field.data) is None:
        raise ValidationError(_l("Enter whole days from 1 to 365, separated by commas (at most 10)."))


CHECK_KIND_LABELS = {
    "pass_fail": _l("Pass / fail"),
    "measured": _l("Measured value"),
    "photo": _l("Photo required"),
    "note": _l("Free note"),
}
AREA_LABELS = {
    "process": _l("Repair process"),
    "equipment": _l("Equipment"),
    "skills": _l("Staff skills"),
    "service": _l("Service quality"),
}
KPI_LABELS = {
    "repair_speed": _l("Repair speed"),
    "repair_quality": _l("Repair quality"),
    "diagnosis_accuracy": _l("Diagnosis accuracy"),
    "customer_satisfaction": _l("Customer satisfaction"),
    "communication": _l("Communication"),
    "teamwork": _l("Teamwork"),
    "safety": _l("Safety"),
}
PERIODS = {"monthly": _l("Monthly"), "quarterly": _l("Quarterly"), "annual": _l("Annual")}
CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"


def localized(text: Text) -> str:
    return text.zh if str(get_locale()).startswith("zh") else text.en


MONTHS_LIST = r"^\s*\d{1,2}(\s*,\s*\d{1,2})*\s*$"
MONTHS_MESSAGE = _l("List whole months separated by commas, e.g. 0, 3, 6, 12.")
CODE_MESSAGE = _l("Use lowercase letters, digits, - and _ only.")


def code_field(label: Any = None) -> StringField:
    return StringField(
        label or _l("Code"),
        [InputRequired(), Regexp(CODE_PATTERN, message=CODE_MESSAGE)],
        filters=[lambda value: value.strip() if value else value],
    )


def text_fields(prefix: str, en_label, zh_label) -> dict[str, StringField]:
    return {
        f"{prefix}_en": StringField(en_label, [InputRequired(), Length(max=500)]),
        f"{prefix}_zh": StringField(zh_label, [InputRequired(), Length(max=500)]),
    }


class PublishForm(FlaskForm):
    effective_from = DateField(_l("Effective from"), validators=[InputRequired()])


class UploadForm(FlaskForm):
    file = FileField(_l("Standards file (YAML or JSON)"), validators=[FileRequired()])


# --- rows ------------------------------------------------------------------------------------------


class RowList(FieldList):
    """A FieldList that ignores row indices which are not plain ASCII digits.

    WTForms accepts any `str.isdigit()` index and then fails on `int("²")` with a 500.
    """

    def _extract_indices(self, prefix, formdata):
        offset = len(prefix) + 1
        for key in formdata:
            if key.startswith(prefix):
                index = key[offset:].split(self._field_separator, 1)[0]
                if index.isascii() and index.isdecimal():
                    yield int(index)


class Row(Form):
    """One row of an editor table."""

    #: The schema model a row must satisfy, and how a row becomes that model's input.
    model: ClassVar[type[BaseModel]]

    position = IntegerField("#", [Optional(), NumberRange(0, 10_000)])
    remove = BooleanField(_l("Remove"))

    def payload(self) -> dict[str, Any]:
        raise NotImplementedError

    def check_with_schema(self) -> bool:
        """Run the row's schema rules; put each problem next to its field, or on the row."""
        self.row_errors: list[str] = []
        try:
            self.model.model_validate(self.payload())
        except ValidationError as error:
            for problem in error.errors():
                name = "_".join(str(part) for part in problem["loc"])
                target = self._fields.get(name)
                if target is not None:
                    target.errors = [*target.errors, problem_text(problem)]
                else:
                    self.row_errors.append(problem_text(problem))
            return False
        return True


def _text(row: Row, prefix: str) -> dict[str, str]:
    return {"en": row[f"{prefix}_en"].data, "zh": row[f"{prefix}_zh"].data}


class CategoryRow(Row):
    model = DeviceCategory
    code = code_field()
    name_en = StringField(_l("Name (English)"), [InputRequired(), Length(max=500)])
    name_zh = StringField(_l("Name (Chinese)"), [InputRequired(), Length(max=500)])
    #: The code the category had when the editor opened. Codes are what devices, checklists,
    #: warranty rules and SOPs refer to, so an existing category keeps its code (rename it by
    #: its names); a changed code would silently orphan all of those.
    original = HiddenField()

    def payload(self) -> dict[str, Any]:
        return {"code": self.original.data or self.code.data, "name": _text(self, "name")}


class WarrantyRow(Row):
    model = WarrantyRule
    category = SelectField(_l("Device category"), validators=[InputRequired()])
    repair_type = code_field(_l("Repair type"))
    days = IntegerField(_l("Warranty (days)"), [InputRequired(), NumberRange(1, 3650)])

    def payload(self) -> dict[str, Any]:
        return {"category": self.category.data, "repair_type": self.repair_type.data, "days": self.days.data}


class ChecklistRow(Row):
    model = ChecklistItem
    code = code_field()
    text_en = StringField(_l("Check (English)"), [InputRequired(), Length(max=500)])
    text_zh = StringField(_l("Check (Chinese)"), [InputRequired(), Length(max=500)])
    kind = SelectField(_l("Kind"), choices=list(CHECK_KIND_LABELS.items()), default="pass_fail")
    critical = BooleanField(_l("Critical"))
    unit = StringField(_l("Unit"), [Optional(), Length(max=20)])
    min = FloatField(_l("Lower limit"), [Optional()])
    max = FloatField(_l("Upper limit"), [Optional()])

    def payload(self) -> dict[str, Any]:
        return {
            "code": self.code.data,
            "text": _text(self, "text"),
            "kind": self.kind.data,
            "critical": self.critical.data,
            "unit": self.unit.data or None,
            "min": self.min.data,
            "max": self.max.data,
        }


class SectionRow(Row):
    model = None  # sections are checked with their items, by the whole template
    code = code_field()
    area = SelectField(_l("Area (HB §8.1.4)"), choices=list(AREA_LABELS.items()))
    title_en = StringField(_l("Title (English)"), [InputRequired(), Length(max=500)])
    title_zh = StringField(_l("Title (Chinese)"), [InputRequired(), Length(max=500)])

    def check_with_schema(self) -> bool:
        self.row_errors = []
        return True


class InspectionItemRow(Row):
    model = InspectionItem
    section = SelectField(_l("Section"), validators=[InputRequired()])
    code = code_field()
    text_en = StringField(_l("Item (English)"), [InputRequired(), Length(max=500)])
    text_zh = StringField(_l("Item (Chinese)"), [InputRequired(), Length(max=500)])
    weight = FloatField(_l("Weight"), [InputRequired(), NumberRange(0.01, 100)])
    critical = BooleanField(_l("Critical"))
    kind = SelectField(
        _l("Answer"),
        choices=[("pass_fail", _l("Pass / fail")), ("score", _l("Score 0–%(max)s", max=SCORE_MAX))],
        default="pass_fail",
    )
    required = BooleanField(_l("Required"), default=True)

    def payload(self) -> dict[str, Any]:
        return {
            "code": self.code.data,
            "text": _text(self, "text"),
            "weight": self.weight.data,
            "critical": self.critical.data,
            "kind": self.kind.data,
            "required": self.required.data,
        }


class EquipmentRow(Row):
    model = EquipmentRule
    equipment_type = code_field(_l("Equipment type"))
    name_en = StringField(_l("Name (English)"), [InputRequired(), Length(max=500)])
    name_zh = StringField(_l("Name (Chinese)"), [InputRequired(), Length(max=500)])
    maintenance_interval_days = IntegerField(
        _l("Maintenance every (days)"), [InputRequired(), NumberRange(1, 3650)]
    )
    calibration_interval_days = IntegerField(
        _l("Calibration every (days)"),
        [Optional(), NumberRange(1, 3650)],
        description=_l("Leave empty if it is not calibrated."),
    )
    full_inspection_interval_days = IntegerField(
        _l("Full inspection every (days)"),
        [Optional(), NumberRange(1, 3650)],
        description=_l("HB §4.2.1 periodic full inspection; leave empty if there is none."),
    )

    def payload(self) -> dict[str, Any]:
        return {
            "equipment_type": self.equipment_type.data,
            "name": _text(self, "name"),
            "maintenance_interval_days": self.maintenance_interval_days.data,
            "calibration_interval_days": self.calibration_interval_days.data,
            "full_inspection_interval_days": self.full_inspection_interval_days.data,
        }


# --- editors ---------------------------------------------------------------------------------------


class Editor(FlaskForm):
    """Base of the editors: scalar fields, then tables of rows (`tables`: list name → heading)."""

    title: ClassVar[Any]
    tables: ClassVar[dict[str, Any]] = {}
    template: ClassVar[str] = "standards/editor.html"
    #: The draft's digest when the editor was opened; a different one on save means a lost update.
    digest = HiddenField()

    def __init__(self, document: StandardDocument, key: str | None = None, **kwargs: Any) -> None:
        self.document = document
        self.key = key
        super().__init__(**kwargs)
        self.form_errors: list[str] = []
        self.refresh_choices()

    @classmethod
    def form_class(cls, document: StandardDocument) -> type[Editor]:
        """The class to instantiate; editors whose fields depend on the document override it."""
        return cls

    @classmethod
    def opened(cls, document: StandardDocument, digest: str, key: str | None = None) -> Editor:
        data = cls.initial_data(document, key)
        for name in cls.tables:
            data[name] = [{**row, "position": index} for index, row in enumerate(data[name], start=1)]
        return cls.form_class(document)(document, key, formdata=None, data={**data, "digest": digest})

    @classmethod
    def submitted(cls, document: StandardDocument, key: str | None = None) -> Editor:
        return cls.form_class(document)(document, key)  # FlaskForm reads request.form

    @classmethod
    def initial_data(cls, document: StandardDocument, key: str | None) -> dict[str, Any]:
        raise NotImplementedError

    def refresh_choices(self) -> None:
        """Fill select fields whose choices depend on the document or on other rows."""

    def scalar_fields(self) -> list:
        skip = {"csrf_token", "digest", *self.tables}
        return [field for field in self if field.name not in skip]

    def columns(self, table: str) -> list[tuple[str, Any]]:
        row_class = self[table].unbound_field.args[0]
        return [(field.short_name, field.label.text) for field in row_class() if field.type != "HiddenField"]

    def add_row(self, table: str) -> None:
        rows = self[table]
        positions = [entry.form.position.data or 0 for entry in rows]
        rows.append_entry({"position": max(positions, default=0) + 1})
        self.refresh_choices()

    def live_rows(self, table: str) -> list[Row]:
        kept = [entry.form for entry in self[table] if not entry.form.remove.data]
        return sorted(kept, key=lambda row: row.position.data if row.position.data is not None else 10_000)

    def validate_all(self) -> bool:
        """WTForms rules on scalars and kept rows, then each kept row's schema rules."""
        ok = all(field.validate(self) for field in self.scalar_fields())
        for table in self.tables:
            for row in self.live_rows(table):
                row.row_errors = []
                # Schema rules only once the fields themselves are well-formed.
                ok = (row.validate() and row.check_with_schema()) and ok
        return ok

    def apply(self, document: dict[str, Any]) -> dict[str, Any]:
        """A copy of `document` with this editor's part replaced by what was submitted."""
        raise NotImplementedError


def _category_choices(document: StandardDocument) -> list[tuple[str, str]]:
    return [(category.code, localized(category.name)) for category in document.device_categories]


class ServiceTargetsEditor(Editor):
    title = _l("Service targets")
    tables = {"warranty": _l("Warranty per device category and repair type")}

    warranty = RowList(FormField(WarrantyRow))

    @classmethod
    def form_class(cls, document: StandardDocument) -> type[Editor]:
        # The turnaround fields depend on the tenant's device categories.
        fields: dict[str, Any] = {}
        for name, label, whole, maximum in SCALAR_TARGETS:
            field_class = IntegerField if whole else FloatField
            fields[name] = field_class(label, [InputRequired(), NumberRange(1 if whole else 0, maximum)])
        for name, label, minimum, maximum in FEEDBACK_TARGETS:
            fields[name] = IntegerField(label, [Optional(), NumberRange(minimum, maximum)])
        fields[FURTHER_FOLLOW_UPS] = StringField(
            FURTHER_FOLLOW_UPS_LABEL,
            [Optional(), Length(max=80), check_days],
            description=_l("For example 30, 90"),
        )
        for category in document.device_categories:
            fields[f"{TURNAROUND_PREFIX}{category.code}"] = IntegerField(
                _l("Turnaround: %(category)s (days)", category=localized(category.name)),
                [InputRequired(), NumberRange(1, 365)],
            )
        return type("ServiceTargetsForm", (cls,), fields)

    @classmethod
    def initial_data(cls, document, key):
        targets = document.service_targets
        data: dict[str, Any] = {name: getattr(targets, name) for name, *_ in SCALAR_TARGETS}
        data.update({name: getattr(targets, name) for name, *_ in FEEDBACK_TARGETS})
        data[FURTHER_FOLLOW_UPS] = ", ".join(str(day) for day in targets.further_follow_up_days)
        for category in document.device_categories:
            data[f"{TURNAROUND_PREFIX}{category.code}"] = targets.turnaround_days.get(category.code)
        data["warranty"] = [rule.model_dump() for rule in targets.warranty]
        return data

    def refresh_choices(self) -> None:
        for entry in self.warranty:
            entry.form.category.choices = _category_choices(self.document)

    def apply(self, document):
        changed = copy.deepcopy(document)
        targets = changed["service_targets"]
        targets.update({name: self[name].data for name, *_ in SCALAR_TARGETS})
        # Issue #8's targets: an empty field keeps what the draft has.
        targets.update(
            {name: self[name].data for name, *_ in FEEDBACK_TARGETS if self[name].data is not None}
        )
        if (self[FURTHER_FOLLOW_UPS].data or "").strip():
            targets[FURTHER_FOLLOW_UPS] = parse_days(self[FURTHER_FOLLOW_UPS].data)
        targets["turnaround_days"] = {
            field.name.removeprefix(TURNAROUND_PREFIX): field.data
            for field in self
            if field.name.startswith(TURNAROUND_PREFIX)
        }
        targets["warranty"] = [row.payload() for row in self.live_rows("warranty")]
        return changed


class CategoriesEditor(Editor):
    """Device categories; removing one removes its checklist, turnaround and warranty rules."""

    title = _l("Device categories")
    tables = {"categories": _l("Device categories")}
    categories = RowList(FormField(CategoryRow))

    @classmethod
    def initial_data(cls, document, key):
        return {
            "categories": [
                {"code": c.code, "original": c.code, "name_en": c.name.en, "name_zh": c.name.zh}
                for c in document.device_categories
            ]
        }

    def refresh_choices(self) -> None:
        known = {category.code for category in self.document.device_categories}
        for entry in self.categories:
            row = entry.form
            if row.original.data not in known:  # only codes this document has are kept
                row.original.data = ""
            if row.original.data:
                row.code.data = row.original.data
                row.code.render_kw = {"readonly": True}

    def validate_all(self) -> bool:
        ok = super().validate_all()
        kept = {row.payload()["code"] for row in self.live_rows("categories")}
        for category in self.document.device_categories:
            sops = [sop.code for sop in self.document.sops if sop.category == category.code]
            if category.code not in kept and sops:
                self.form_errors.append(
                    _l("“%(category)s” has SOPs (%(sops)s); move or delete them before removing it.",
                       category=category.code, sops=", ".join(sops))
                )  # fmt: skip
                ok = False
        return ok

    def apply(self, document):
        changed = copy.deepcopy(document)
        rows = [row.payload() for row in self.live_rows("categories")]
        changed["device_categories"] = rows
        kept = {row["code"] for row in rows}
        targets = changed["service_targets"]
        targets["turnaround_days"] = {
            code: days for code, days in targets["turnaround_days"].items() if code in kept
        }
        for row in rows:  # a new category starts with the longest turnaround; HQ adjusts it
            targets["turnaround_days"].setdefault(
                row["code"], max(targets["turnaround_days"].values(), default=7)
            )
        targets["warranty"] = [rule for rule in targets["warranty"] if rule["category"] in kept]
        changed["qc_checklists"] = [c for c in changed["qc_checklists"] if c["category"] in kept]
        return changed


class ChecklistEditor(Editor):
    """The QC checklist of one device category (HB §5.1.3(5), §5.2.1)."""

    title = _l("QC checklist")
    tables = {"items": _l("Checks, in the order they are done")}
    items = RowList(FormField(ChecklistRow))

    @classmethod
    def initial_data(cls, document, key):
        checklist = document.checklist_for(key)
        items = checklist.items if checklist else []
        rows = [
            {**item.model_dump(exclude={"text"}), "text_en": item.text.en, "text_zh": item.text.zh}
            for item in items
        ]
        return {"items": rows}

    def apply(self, document):
        changed = copy.deepcopy(document)
        items = [row.payload() for row in self.live_rows("items")]
        checklists = [c for c in changed["qc_checklists"] if c["category"] != self.key]
        if items:  # no items: the category has no QC checklist (the schema needs at least one item)
            checklists.append({"category": self.key, "items": items})
        order = [c["code"] for c in changed["device_categories"]]
        changed["qc_checklists"] = sorted(
            checklists, key=lambda c: order.index(c["category"]) if c["category"] in order else len(order)
        )
        return changed


class InspectionEditor(Editor):
    """The store inspection template (HB §8.1.4): sections, weighted items, critical items."""

    title = _l("Store inspection template")
    tables = {"sections": _l("Sections"), "items": _l("Items (weights add up to 100)")}
    pass_mark = FloatField(_l("Pass mark (%)"), [InputRequired(), NumberRange(0, 100)])
    # The supervision policy (HB §8.3.2-§8.3.3) is edited here, beside the template it follows up.
    effectiveness_check_days = IntegerField(
        _l("Effectiveness check after verification (days)"), [InputRequired(), NumberRange(1, 100_000)]
    )
    escalation_repeat_days = IntegerField(
        _l("Escalate overdue corrective actions again every (days)"),
        [InputRequired(), NumberRange(1, 100_000)],
    )
    league_tables = BooleanField(_l("Store managers see other stores by name in reports"))
    monthly_report = BooleanField(_l("E-mail the monthly cross-store report to QA"))
    sections = RowList(FormField(SectionRow))
    items = RowList(FormField(InspectionItemRow))

    @classmethod
    def initial_data(cls, document, key):
        template = document.inspection_template
        sections, items = [], []
        for section in template.sections:
            sections.append(
                {
                    "code": section.code,
                    "area": section.area,
                    "title_en": section.title.en,
                    "title_zh": section.title.zh,
                }
            )
            items += [
                {
                    "section": section.code,
                    "code": item.code,
                    "text_en": item.text.en,
                    "text_zh": item.text.zh,
                    "weight": item.weight,
                    "critical": item.critical,
                    "kind": item.kind,
                    "required": item.required,
                }
                for item in section.items
            ]
        return {
            "pass_mark": template.pass_mark,
            "sections": sections,
            "items": items,
            **document.supervision.model_dump(),
        }

    def refresh_choices(self) -> None:
        choices = [(row.form.code.data, row.form.code.data) for row in self.sections if row.form.code.data]
        for entry in self.items:
            entry.form.section.choices = choices

    def total_weight(self) -> float:
        return sum(row.weight.data or 0 for row in self.live_rows("items"))

    def validate_all(self) -> bool:
        ok = super().validate_all()
        kept = {row.code.data for row in self.live_rows("sections")}
        for row in self.live_rows("items"):
            if row.section.data not in kept:
                row.section.errors = [*row.section.errors, _l("Choose a section that is kept.")]
                ok = False
        return ok

    def apply(self, document):
        changed = copy.deepcopy(document)
        items = self.live_rows("items")
        sections = []
        for row in self.live_rows("sections"):
            own_items = [item.payload() for item in items if item.section.data == row.code.data]
            sections.append(
                {
                    "code": row.code.data,
                    "area": row.area.data,
                    "title": _text(row, "title"),
                    "items": own_items,
                }
            )
        changed["inspection_template"] = {"pass_mark": self.pass_mark.data, "sections": sections}
        changed["supervision"] = {name: self[name].data for name in SupervisionPolicy.model_fields}
        return changed


class TrainingEditor(Editor):
    """Training and assessment policy (HB §3.1.4, §3.2, §3.3)."""

    title = _l("Training and assessment policy")
    template = "standards/training_editor.html"
    new_hire_training_days = IntegerField(
        _l("New-hire training (days)"), [InputRequired(), NumberRange(1, 365)]
    )
    in_service_sessions_per_year = IntegerField(
        _l("In-service sessions per year"), [InputRequired(), NumberRange(1, 52)]
    )
    in_service_session_days = IntegerField(
        _l("Length of an in-service session (days)"), [InputRequired(), NumberRange(1, 60)]
    )
    evaluation_offsets_months = StringField(
        _l("Evaluations after training (months)"),
        [InputRequired(), Regexp(MONTHS_LIST, message=MONTHS_MESSAGE)],
    )
    theory_pass_mark = FloatField(_l("Theory exam pass mark (%)"), [InputRequired(), NumberRange(0, 100)])
    practical_pass_mark = FloatField(
        _l("Practical exam pass mark (%)"), [InputRequired(), NumberRange(0, 100)]
    )
    max_exam_attempts = IntegerField(
        _l("Exam attempts before retraining"), [InputRequired(), NumberRange(1, 10)]
    )
    exam_time_limit_minutes = IntegerField(
        _l("Theory exam time limit (minutes)"), [InputRequired(), NumberRange(1, 600)]
    )
    assessment_pass_mark = FloatField(_l("Assessment pass mark (%)"), [InputRequired(), NumberRange(0, 100)])

    @classmethod
    def initial_data(cls, document, key):
        policy = document.training_policy
        data = policy.model_dump(exclude={"monthly", "quarterly", "annual"})
        data["evaluation_offsets_months"] = ", ".join(str(m) for m in policy.evaluation_offsets_months)
        for period in PERIODS:
            for kpi, weight in getattr(policy, period).weights.items():
                data[f"kpi__{period}__{kpi}"] = weight
        return data

    def scalar_fields(self) -> list:
        return [field for field in super().scalar_fields() if not field.name.startswith("kpi__")]

    def kpi_field(self, period: str, kpi: str):
        return self[f"kpi__{period}__{kpi}"]

    def validate_all(self) -> bool:
        ok = super().validate_all()
        for period in PERIODS:
            ok = all(self.kpi_field(period, kpi).validate(self) for kpi in KPIS) and ok
        return ok

    def apply(self, document):
        changed = copy.deepcopy(document)
        policy = {name: self[name].data for name in TRAINING_SCALARS}
        policy["evaluation_offsets_months"] = sorted(
            {int(part) for part in self.evaluation_offsets_months.data.split(",")}
        )
        for period in PERIODS:
            policy[period] = {
                "weights": {
                    kpi: self.kpi_field(period, kpi).data for kpi in KPIS if self.kpi_field(period, kpi).data
                }
            }
        changed["training_policy"] = policy
        return changed


TRAINING_SCALARS = (
    "new_hire_training_days",
    "in_service_sessions_per_year",
    "in_service_session_days",
    "theory_pass_mark",
    "practical_pass_mark",
    "max_exam_attempts",
    "exam_time_limit_minutes",
    "assessment_pass_mark",
)
# One weight field per assessment period and KPI (an empty field leaves the KPI out).
for _period in PERIODS:
    for _kpi in KPIS:
        setattr(
            TrainingEditor,
            f"kpi__{_period}__{_kpi}",
            FloatField(KPI_LABELS[_kpi], [Optional(), NumberRange(0, 100)]),
        )


class EquipmentEditor(Editor):
    """Maintenance and calibration intervals per equipment type (HB ch.4, §5.1.3(2))."""

    title = _l("Equipment policy")
    tables = {"rules": _l("Equipment types")}
    rules = RowList(FormField(EquipmentRow))

    @classmethod
    def initial_data(cls, document, key):
        rows = [
            {**rule.model_dump(exclude={"name"}), "name_en": rule.name.en, "name_zh": rule.name.zh}
            for rule in document.equipment_policy
        ]
        return {"rules": rows}

    def apply(self, document):
        changed = copy.deepcopy(document)
        changed["equipment_policy"] = [row.payload() for row in self.live_rows("rules")]
        return changed


#: The editors by the name in their URL.
EDITORS: dict[str, type[Editor]] = {
    "targets": ServiceTargetsEditor,
    "categories": CategoriesEditor,
    "checklist": ChecklistEditor,
    "inspection": InspectionEditor,
    "training": TrainingEditor,
    "equipment": EquipmentEditor,
}
