"""Forms of the standards screens; the editor's fields are built from the document's categories."""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, FloatField, IntegerField
from wtforms.validators import InputRequired, NumberRange

from repairqc.standards.schema import StandardDocument, Text

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
TURNAROUND_PREFIX = "turnaround__"
TARGET_LABELS = {name: label for name, label, _whole, _maximum in SCALAR_TARGETS}
CHECK_KIND_LABELS = {
    "pass_fail": _l("Pass / fail"),
    "measured": _l("Measured value"),
    "photo": _l("Photo"),
    "note": _l("Note"),
}


def localized(text: Text) -> str:
    return text.zh if str(get_locale()).startswith("zh") else text.en


class PublishForm(FlaskForm):
    effective_from = DateField(_l("Effective from"), validators=[InputRequired()])


class UploadForm(FlaskForm):
    file = FileField(_l("Standards file (YAML or JSON)"), validators=[FileRequired()])


class ServiceTargetsForm(FlaskForm):
    @classmethod
    def for_document(cls, document: StandardDocument, formdata: Any) -> ServiceTargetsForm:
        targets = document.service_targets
        fields: dict[str, Any] = {}
        for name, label, whole, maximum in SCALAR_TARGETS:
            minimum = 1 if whole else 0
            field_class = IntegerField if whole else FloatField
            fields[name] = field_class(label, validators=[InputRequired(), NumberRange(minimum, maximum)],
                                       default=getattr(targets, name))  # fmt: skip
        for category in document.device_categories:
            fields[f"{TURNAROUND_PREFIX}{category.code}"] = IntegerField(
                _l("Turnaround: %(category)s (days)", category=localized(category.name)),
                validators=[InputRequired(), NumberRange(1, 365)],
                default=targets.turnaround_days.get(category.code, 1),
            )
        form_class = type("ServiceTargetsEditor", (cls,), fields)
        return form_class(formdata=formdata)

    def targets(self) -> dict[str, Any]:
        """The submitted values, shaped like `ServiceTargets`."""
        values: dict[str, Any] = {name: self[name].data for name, *_ in SCALAR_TARGETS}
        values["turnaround_days"] = {
            field.name.removeprefix(TURNAROUND_PREFIX): field.data
            for field in self
            if field.name.startswith(TURNAROUND_PREFIX)
        }
        return values
