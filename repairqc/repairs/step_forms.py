"""Forms of the step pages: quality check (HB §5.1.3(5), §5.2.2), payment and acceptance at
pick-up (HB §2.1.2(5)) and warranty claims (HB §2.1.2(6)).

These only read what the browser sent and say what could not be read; every rule (who may
check, tolerances, overpayment, signatures, the warranty period) is in `repairs.services`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage, MultiDict
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, ValidationError

from repairqc.errors import FormInvalid
from repairqc.repairs.models import OrderPhoto, PaymentMethod, QCCheckResult
from repairqc.repairs.services import ResultInput


def _chinese() -> bool:
    return str(get_locale()).startswith("zh")


def item_text(result: QCCheckResult) -> str:
    """The checklist item in the reader's language (the other language when that one is empty)."""
    texts = result.item_text or {}
    first, second = (texts.get("zh"), texts.get("en")) if _chinese() else (texts.get("en"), texts.get("zh"))
    return first or second or result.item_code


def _number(value: float) -> str:
    return f"{value:g}"


def tolerance(result: QCCheckResult) -> str:
    """A measured item's limits as the standard sets them: "0.5-3 A" (an en dash), "≥ 80 %", "≤ 90 °C"."""
    unit = f" {result.unit}" if result.unit else ""
    if result.min_value is not None and result.max_value is not None:
        return f"{_number(result.min_value)}–{_number(result.max_value)}{unit}"
    if result.min_value is not None:
        return f"≥ {_number(result.min_value)}{unit}"
    if result.max_value is not None:
        return f"≤ {_number(result.max_value)}{unit}"
    return ""


# --- the quality check ----------------------------------------------------------------------------------


def result_field(result: QCCheckResult, part: str) -> str:
    """The name of one input of a checklist row: result-<id>-passed, -value, -note, -photos."""
    return f"result-{result.id}-{part}"


NOTE_MAX = 2000


@dataclass
class QCSubmission:
    """The inspector's answers, keyed by item code as `services.record_qc_results` takes them,
    and the photos sent for each photo item (by result id)."""

    answers: dict[str, ResultInput] = field(default_factory=dict)
    photos: dict[int, list[FileStorage]] = field(default_factory=dict)


def parse_measured(raw: str) -> float | None:
    """A measured value as typed ("2.1", "2,1"); None when empty; ValueError when not a number."""
    text = raw.strip().replace(" ", "")
    if not text:
        return None
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", text):
        raise ValueError(text)
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def parse_qc(results: Iterable[QCCheckResult], form: MultiDict, files: MultiDict) -> QCSubmission:
    """Read one answer per checklist row; raise `FormInvalid` naming every row that cannot be read."""
    submission = QCSubmission()
    errors: dict[str, list[str]] = {}
    for result in results:
        note = form.get(result_field(result, "note"), "")
        if len(note) > NOTE_MAX:
            errors[result_field(result, "note")] = [
                _(
                    "%(item)s: the note is longer than %(max)d characters.",
                    item=item_text(result),
                    max=NOTE_MAX,
                )
            ]
        passed: bool | None = None
        measured: float | None = None
        if result.kind == "pass_fail":
            passed = {"pass": True, "fail": False}.get(form.get(result_field(result, "passed"), ""))
        elif result.kind == "measured":
            raw = form.get(result_field(result, "value"), "")
            try:
                measured = parse_measured(raw)
            except ValueError:
                errors[result_field(result, "value")] = [
                    _(
                        "%(item)s: “%(value)s” is not a number.",
                        item=item_text(result),
                        value=raw.strip()[:40],
                    )
                ]
        elif result.kind == "photo":
            uploads = [u for u in files.getlist(result_field(result, "photos")) if u and u.filename]
            if uploads:
                submission.photos[result.id] = uploads
        submission.answers[result.item_code] = ResultInput(passed=passed, measured_value=measured, note=note)
    if errors:
        raise FormInvalid(errors)
    return submission


@dataclass
class QCRow:
    """One checklist row as the page shows it: the stored result, or what was just typed."""

    result: QCCheckResult
    text: str
    tolerance: str
    passed: str  # "pass", "fail" or ""
    value: str
    note: str
    photos: list[OrderPhoto]
    errors: list[str]

    def name(self, part: str) -> str:
        return result_field(self.result, part)


def qc_rows(
    results: Iterable[QCCheckResult],
    photos: Mapping[int, list[OrderPhoto]],
    posted: MultiDict | None = None,
    errors: Mapping[str, list[str]] | None = None,
) -> list[QCRow]:
    """The rows of the check; `posted` (a refused submission) takes the place of stored answers."""
    rows = []
    errors = errors or {}
    for result in results:
        if posted is not None:
            passed = posted.get(result_field(result, "passed"), "")
            value = posted.get(result_field(result, "value"), "")
            note = posted.get(result_field(result, "note"), "")
        else:
            passed = (
                ""
                if result.kind != "pass_fail" or result.passed is None
                else ("pass" if result.passed else "fail")
            )
            value = _number(result.measured_value) if result.measured_value is not None else ""
            note = result.note or ""
        row_errors = [
            message
            for part in ("passed", "value", "note", "photos")
            for message in errors.get(result_field(result, part), [])
        ]
        rows.append(
            QCRow(
                result,
                item_text(result),
                tolerance(result),
                passed,
                value,
                note,
                photos.get(result.id, []),
                row_errors,
            )
        )
    return rows


# --- payment and acceptance at pick-up ---------------------------------------------------------------------

_AMOUNT = re.compile(r"^\s*-?\d{1,10}(?:[.,]\d{1,2})?\s*$")


class PaymentForm(FlaskForm):
    """A payment taken at pick-up; `services.record_payment` refuses zero and overpayment."""

    version = HiddenField()
    amount = StringField(_l("Amount"), description=_l("For example 120.50"))
    method = SelectField(_l("Method"), validate_choice=True)
    reference = StringField(
        _l("Reference"),
        validators=[Length(max=120)],
        description=_l("Receipt or transaction number, if any"),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.method.choices = [SelectChoice(m.value, m.label) for m in PaymentMethod]

    def validate_amount(self, field) -> None:
        if not _AMOUNT.match(field.data or ""):
            raise ValidationError(_("Enter an amount such as 120.50 (at most two decimals)."))

    @property
    def amount_value(self) -> Decimal:
        return Decimal((self.amount.data or "0").strip().replace(",", "."))

    @property
    def method_value(self) -> PaymentMethod:
        return PaymentMethod(self.method.data)


class AcceptanceForm(FlaskForm):
    """The customer's acceptance: they confirm the fault is gone and sign (HB §2.1.2(5)).
    The signature itself is the `signature` field of the signature pad (`repairs/_signature.html`)."""

    version = HiddenField()
    confirmed_fixed = BooleanField(_l("The customer confirms the fault is solved"))
    signer_name = StringField(_l("Name of the person signing"), validators=[Length(max=200)])


# --- warranty claims -------------------------------------------------------------------------------------


class WarrantyClaimForm(FlaskForm):
    """A problem reported on a delivered repair; the service decides if the warranty covers it."""

    version = HiddenField()
    symptoms = TextAreaField(
        _l("Fault symptoms"),
        validators=[Length(max=5000)],
        description=_l("As the customer describes them"),
    )
