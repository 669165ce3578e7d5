"""The contents of a standard set (HB ch.5), as one validated document per version.

A version's document is stored whole (JSON) so that a published version is a snapshot that can
be compared, exported and imported. The editors and imports both validate through these models;
`describe_errors` turns pydantic's errors into messages that name the field, in the user's
language.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
Percent = Annotated[float, Field(ge=0, le=100)]
Positive = Annotated[int, Field(gt=0, le=100_000)]

#: The repair steps of HB §2.1.2 (reception ... after-sales), which SOPs are filed under.
SOP_STEPS = ("intake", "diagnosis", "quote", "repair", "qc", "delivery", "warranty")
#: What an attachment may be; `files.services` decides it from the bytes, never the name.
ATTACHMENT_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "application/pdf")
#: An SOP's category may name a device category or this, for every category.
ALL_CATEGORIES = "all"

#: Assessment KPIs of HB §3.3.1.
KPIS = ("repair_speed", "repair_quality", "diagnosis_accuracy", "customer_satisfaction",
        "communication", "teamwork", "safety")  # fmt: skip


class Strict(BaseModel):
    # NaN and infinity would pass every range check (comparisons with NaN are false) and are
    # not valid JSON: PostgreSQL refuses them and exports would break.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Text(Strict):
    """A text in both languages of the product."""

    en: Annotated[str, Field(min_length=1, max_length=500)]
    zh: Annotated[str, Field(min_length=1, max_length=500)]


class DeviceCategory(Strict):
    code: Code
    name: Text


class WarrantyRule(Strict):
    category: Code
    repair_type: Code
    days: Positive


class ServiceTargets(Strict):
    """Service targets; every number is a default the provider adapts (HB §5.1.2 "dynamic")."""

    complaint_first_contact_hours: Positive = 24  # HB §9.3.3
    diagnosis_hours: Positive = 24
    turnaround_days: dict[Code, Positive]
    quote_validity_days: Positive = 7
    warranty: list[WarrantyRule]
    follow_up_days: Positive = 3  # HB §6.2.2(2): the first follow-up after delivery
    #: Days after delivery of the follow-ups after the first (HB §6.2.2 "periodic follow-up").
    further_follow_up_days: Annotated[list[Positive], Field(max_length=10)] = [30]
    #: Hours after delivery before the satisfaction survey goes out (HB §6.3.1).
    survey_delay_hours: Annotated[int, Field(ge=0, le=720)] = 24
    #: Days a survey link stays valid.
    survey_link_valid_days: Annotated[int, Field(ge=1, le=365)] = 30
    #: A score at or below this on any dimension (1-5) opens a complaint (HB §6.3.3, §9.3).
    survey_low_score: Annotated[int, Field(ge=1, le=4)] = 2
    #: Hours before the first-contact deadline when the responsible person is warned (HB §9.3.3).
    complaint_warning_hours: Annotated[int, Field(ge=1, le=168)] = 4
    satisfaction_target_pct: Percent = 100  # HB §1.1.2
    first_time_fix_target_pct: Percent = 95
    max_rework_rate_pct: Percent = 3
    corrective_action_due_days: Positive = 14  # HB §8.3.2


#: Targets that chains and stores may override, with their kind.
OVERRIDABLE_TARGETS = (
    "complaint_first_contact_hours",
    "diagnosis_hours",
    "quote_validity_days",
    "follow_up_days",
    "satisfaction_target_pct",
    "first_time_fix_target_pct",
    "max_rework_rate_pct",
    "corrective_action_due_days",
)


class ChecklistItem(Strict):
    """One point of the post-repair quality check (HB §5.1.3(5), §5.2.1 key checkpoints)."""

    code: Code
    text: Text
    kind: Literal["pass_fail", "measured", "photo", "note"]
    critical: bool = False
    unit: str | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _tolerance(self) -> ChecklistItem:
        if self.kind == "measured":
            if not self.unit:
                raise ValueError(_("A measured value needs a unit."))
            if self.min is None and self.max is None:
                raise ValueError(_("A measured value needs a lower or an upper limit."))
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(_("The lower limit is above the upper limit."))
        return self


class QCChecklist(Strict):
    category: Code
    items: Annotated[list[ChecklistItem], Field(min_length=1)]

    @field_validator("items")
    @classmethod
    def _unique_codes(cls, items: list[ChecklistItem]) -> list[ChecklistItem]:
        _require_unique([item.code for item in items])
        return items


#: The highest score of a scored inspection item (0 … SCORE_MAX); pass/fail items earn all or nothing.
SCORE_MAX = 5


class InspectionItem(Strict):
    code: Code
    text: Text
    weight: Annotated[float, Field(gt=0, le=100)]
    critical: bool = False
    #: Scored 0 … SCORE_MAX, or pass/fail. Added with issue #5; older documents are pass/fail.
    kind: Literal["pass_fail", "score"] = "pass_fail"
    #: A required item must be answered; an optional one may be "not applicable".
    required: bool = True


class InspectionSection(Strict):
    """HB §8.1.4: process, equipment, staff skills, service quality."""

    code: Code
    area: Literal["process", "equipment", "skills", "service"]
    title: Text
    items: Annotated[list[InspectionItem], Field(min_length=1)]


class InspectionTemplate(Strict):
    pass_mark: Percent = 80
    sections: Annotated[list[InspectionSection], Field(min_length=1)]

    @model_validator(mode="after")
    def _weights(self) -> InspectionTemplate:
        codes = [item.code for section in self.sections for item in section.items]
        _require_unique(codes)
        total = sum(item.weight for section in self.sections for item in section.items)
        if abs(total - 100) > 0.001:
            raise ValueError(_("The item weights add up to %(total)s, not 100.", total=f"{total:g}"))
        return self


class SupervisionPolicy(Strict):
    """How HQ follows up its inspections (HB §8.3.2-§8.3.3) and who sees whose results.

    Added with issue #5; documents stored before then get these defaults.
    """

    #: Days after QA verifies a corrective action until its effect is checked (HB §8.3.3).
    effectiveness_check_days: Positive = 30
    #: An overdue corrective action is escalated again after this many days.
    escalation_repeat_days: Positive = 7
    #: Store managers see other stores by name in the cross-store report.
    league_tables: bool = False
    #: E-mail the cross-store report of the month before to QA once it is over (the periodic job
    #: runs daily and sends each month's once).
    monthly_report: bool = True


class KpiWeights(Strict):
    weights: dict[Literal[KPIS], Percent]  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _sum(self) -> KpiWeights:
        total = sum(self.weights.values())
        if abs(total - 100) > 0.001:
            raise ValueError(_("The KPI weights add up to %(total)s, not 100.", total=f"{total:g}"))
        return self


class TrainingPolicy(Strict):
    """HB §3.1.4, §3.2, §3.3."""

    new_hire_training_days: Positive = 14
    in_service_sessions_per_year: Positive = 2
    in_service_session_days: Positive = 7
    evaluation_offsets_months: Annotated[list[Annotated[int, Field(ge=0, le=60)]], Field(min_length=1)]
    theory_pass_mark: Percent = 60
    practical_pass_mark: Percent = 60
    max_exam_attempts: Positive = 2
    #: Minutes a theory exam may take (issue #7); answers after it are refused.
    exam_time_limit_minutes: Positive = 30
    #: An assessment's weighted total passes at this (HB §3.3, §5.3.1(3)); added with issue #7.
    assessment_pass_mark: Percent = 60
    monthly: KpiWeights
    quarterly: KpiWeights
    annual: KpiWeights


class EquipmentRule(Strict):
    """HB ch.4, §5.1.3(2): how often a kind of equipment is maintained and calibrated."""

    equipment_type: Code
    name: Text
    maintenance_interval_days: Positive
    calibration_interval_days: Positive | None = None
    #: HB §4.2.1 "periodic full inspection"; documents stored before it was added have none.
    full_inspection_interval_days: Positive | None = None


class AttachmentRef(Strict):
    """A file of the tenant's file store, referred to by its contents (sha256), not its row id.

    Content addressing keeps an exported document meaningful in another tenant that holds the
    same file, and lets `sop_services.drop_missing_attachments` tell which ones are absent.
    """

    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    filename: Annotated[str, Field(min_length=1, max_length=255)]
    content_type: Literal[ATTACHMENT_TYPES]  # type: ignore[valid-type]
    size: Annotated[int, Field(gt=0)]


#: Long enough for a detailed work instruction, short enough to keep a version's JSON small.
SOP_BODY_MAX = 20_000


class SopBody(Strict):
    """An SOP's Markdown text; one language may be empty (the screen shows the other)."""

    en: Annotated[str, Field(max_length=SOP_BODY_MAX)] = ""
    zh: Annotated[str, Field(max_length=SOP_BODY_MAX)] = ""

    @model_validator(mode="after")
    def _one_language(self) -> SopBody:
        if not self.en.strip() and not self.zh.strip():
            raise ValueError(_("Write the instructions in at least one language."))
        return self


class Sop(Strict):
    """A standard work instruction for one repair step (HB §5.1.3(4), §5.2.1(1))."""

    code: Code
    category: Code  # a device category's code or ALL_CATEGORIES; checked by StandardDocument
    step: Literal[SOP_STEPS]  # type: ignore[valid-type]
    title: Text
    body: SopBody
    attachments: list[AttachmentRef] = Field(default_factory=list)

    @field_validator("attachments")
    @classmethod
    def _unique_files(cls, attachments: list[AttachmentRef]) -> list[AttachmentRef]:
        _require_unique([attachment.sha256 for attachment in attachments])
        return attachments


class StandardDocument(Strict):
    device_categories: Annotated[list[DeviceCategory], Field(min_length=1)]
    service_targets: ServiceTargets
    qc_checklists: list[QCChecklist]
    inspection_template: InspectionTemplate
    supervision: SupervisionPolicy = Field(default_factory=SupervisionPolicy)
    training_policy: TrainingPolicy
    equipment_policy: list[EquipmentRule]
    #: Added with issue #3's SOPs; documents stored before then have none.
    sops: list[Sop] = Field(default_factory=list)

    @model_validator(mode="after")
    def _categories_exist(self) -> StandardDocument:
        known = {c.code for c in self.device_categories}
        _require_unique([c.code for c in self.device_categories])
        used = (
            set(self.service_targets.turnaround_days)
            | {rule.category for rule in self.service_targets.warranty}
            | {checklist.category for checklist in self.qc_checklists}
            | ({sop.category for sop in self.sops} - {ALL_CATEGORIES})
        )
        unknown = sorted(used - known)
        if unknown:
            raise ValueError(_("Unknown device category: %(codes)s.", codes=", ".join(unknown)))
        _require_unique([checklist.category for checklist in self.qc_checklists])
        _require_unique([rule.equipment_type for rule in self.equipment_policy])
        _require_unique([sop.code for sop in self.sops])
        return self

    def checklist_for(self, category: str) -> QCChecklist | None:
        return next((c for c in self.qc_checklists if c.category == category), None)

    def sop(self, code: str) -> Sop | None:
        return next((s for s in self.sops if s.code == code), None)


def _require_unique(codes: list[str]) -> None:
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise ValueError(_("Each code may appear once; repeated: %(codes)s.", codes=", ".join(duplicates)))


def _messages() -> dict[str, str]:
    # pydantic's own texts are English; the ones users meet are translated here.
    return {
        "missing": _("is required"),
        "extra_forbidden": _("is not a known field"),
        "int_parsing": _("must be a whole number"),
        "int_type": _("must be a whole number"),
        "float_parsing": _("must be a number"),
        "float_type": _("must be a number"),
        "finite_number": _("must be a finite number"),
        "bool_parsing": _("must be true or false"),
        "greater_than": _("must be greater than %(limit)s"),
        "greater_than_equal": _("must be at least %(limit)s"),
        "less_than_equal": _("must be at most %(limit)s"),
        "literal_error": _("must be one of: %(expected)s"),
        "string_pattern_mismatch": _("must use lowercase letters, digits, - and _ only"),
        "string_too_short": _("must not be empty"),
        "string_too_long": _("is too long"),
        "too_short": _("needs at least one entry"),
        "list_type": _("must be a list"),
        "dict_type": _("must be a mapping"),
        "model_type": _("must be a mapping"),
        "string_type": _("must be text"),
    }


def problem_text(problem: Any) -> str:
    """What is wrong, in the user's language, for one entry of `ValidationError.errors()`."""
    messages = _messages()
    context = problem.get("ctx") or {}
    if problem["type"] == "value_error":
        return str(context.get("error", problem["msg"]))
    if problem["type"] in messages:
        limit = context.get("gt", context.get("ge", context.get("le", "")))
        limit = f"{limit:g}" if isinstance(limit, float) else limit
        return messages[problem["type"]] % {"limit": limit, "expected": context.get("expected", "")}
    return problem["msg"]


def describe_errors(error: ValidationError) -> list[str]:
    """One line per problem: the path of the field, then what is wrong with it."""
    return [
        f"{'.'.join(str(part) for part in problem['loc']) or _('document')}: {problem_text(problem)}"
        for problem in error.errors()
    ]
