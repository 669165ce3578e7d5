"""SOPs (standard work instructions, HB §5.1.3(4), §5.2.1(1)) inside a draft's document.

An SOP is one entry of the version's document, so every change goes through
`services.save_draft`, which validates the whole document and refuses anything but a draft.
Before that, the SOP alone is checked here so that each problem can be shown next to the form
field it concerns; the document's own validator remains the rule that decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from pydantic import ValidationError
from werkzeug.datastructures import FileStorage

from repairqc.errors import Conflict, DomainError, NotFound
from repairqc.files.services import UploadRefused, find_by_sha256, store_upload
from repairqc.standards import services
from repairqc.standards.models import StandardStatus, StandardVersion
from repairqc.standards.schema import ALL_CATEGORIES, Sop, StandardDocument, problem_text

#: Where pydantic's error locations land in the editor's form.
FIELD_OF = {
    ("code",): "code",
    ("category",): "category",
    ("step",): "step",
    ("title", "en"): "title_en",
    ("title", "zh"): "title_zh",
    ("body", "en"): "body_en",
    ("body", "zh"): "body_zh",
    ("body",): "body_en",  # "write it in at least one language": shown at the first text
}


class SopInvalid(DomainError):
    """The SOP was not saved; `fields` maps each form field to what is wrong with it."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__(_("The SOP was not saved; correct the fields marked below."))
        self.fields = fields


@dataclass
class SopInput:
    """What the editor submits for one SOP."""

    code: str
    category: str
    step: str
    title_en: str
    title_zh: str
    body_en: str
    body_zh: str
    remove: set[str] = field(default_factory=set)  # sha256 of attachments to take off
    uploads: list[FileStorage] = field(default_factory=list)


@dataclass(frozen=True)
class DroppedAttachment:
    sop_code: str
    filename: str
    sha256: str


def _problems(error: ValidationError) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for problem in error.errors():
        name = FIELD_OF.get(tuple(problem["loc"][:2])) or FIELD_OF.get(tuple(problem["loc"][:1]), "form")
        if problem["type"] == "string_too_long":
            text = _("must be at most %(n)s characters long", n=problem.get("ctx", {}).get("max_length"))
        else:
            text = problem_text(problem)
        fields.setdefault(name, []).append(text)
    return fields


def _draft_document(version: StandardVersion) -> StandardDocument:
    # Checked before any upload is stored; `save_draft` checks it again for every caller.
    if version.status is not StandardStatus.DRAFT:
        raise Conflict(
            _("Version %(n)s is published and cannot change; start a new draft.", n=version.number)
        )
    return StandardDocument.model_validate(version.document)


def _require_sop(document: StandardDocument, version: StandardVersion, code: str) -> Sop:
    sop = document.sop(code)
    if sop is None:
        raise NotFound(_("Version %(n)s has no SOP %(code)s.", n=version.number, code=code))
    return sop


def save_sop(
    draft: StandardVersion,
    data: SopInput,
    *,
    original_code: str | None = None,
    expected_digest: str | None = None,
) -> Sop:
    """Add an SOP to the draft (`original_code` None) or replace the one with that code.

    Uploads are stored first (same bytes once); if anything is refused, the caller's unit of
    work rolls the stored files back with the rest, so nothing is saved.

    :raises SopInvalid: a field is wrong (code, category, titles, texts, attachments).
    :raises InvalidStandard, Conflict: from `services.save_draft` (published version, stale editor).
    """
    document = _draft_document(draft)
    existing = _require_sop(document, draft, original_code) if original_code else None
    kept = [a.model_dump(mode="json") for a in (existing.attachments if existing else [])
            if a.sha256 not in data.remove]  # fmt: skip
    candidate: dict[str, Any] = {
        "code": data.code.strip(),
        "category": data.category,
        "step": data.step,
        "title": {"en": data.title_en.strip(), "zh": data.title_zh.strip()},
        "body": {"en": data.body_en, "zh": data.body_zh},
        "attachments": kept,
    }
    try:
        Sop.model_validate(candidate)
        fields: dict[str, list[str]] = {}
    except ValidationError as error:
        fields = _problems(error)
    # The document validator refuses these too, but without saying which field is at fault.
    known = {category.code for category in document.device_categories} | {ALL_CATEGORIES}
    if "category" not in fields and data.category not in known:
        fields["category"] = [_("Unknown device category: %(codes)s.", codes=data.category)]
    if "code" not in fields and any(s.code == candidate["code"] for s in document.sops if s is not existing):
        fields["code"] = [_("Another SOP of this version already uses this code.")]
    attached = {a["sha256"] for a in kept}
    for upload in data.uploads:
        try:
            stored = store_upload(upload)
        except UploadRefused as refused:
            fields.setdefault("attachments", []).append(refused.message)
            continue
        if stored.sha256 not in attached:
            attached.add(stored.sha256)
            kept.append({"sha256": stored.sha256, "filename": stored.filename,
                         "content_type": stored.content_type, "size": stored.size})  # fmt: skip
    if fields:
        raise SopInvalid(fields)
    sop = Sop.model_validate(candidate)
    sops = [*document.sops, sop] if existing is None else [sop if s is existing else s for s in document.sops]
    changed = {**draft.document, "sops": [s.model_dump(mode="json") for s in sops]}
    services.save_draft(draft, changed, expected_digest=expected_digest)
    return sop


def delete_sop(draft: StandardVersion, code: str, *, expected_digest: str | None = None) -> None:
    """Take an SOP out of the draft (its files stay stored: published versions may show them)."""
    document = _draft_document(draft)
    sop = _require_sop(document, draft, code)
    changed = {**draft.document, "sops": [s.model_dump(mode="json") for s in document.sops if s is not sop]}
    services.save_draft(draft, changed, expected_digest=expected_digest)


def drop_missing_attachments(document: dict[str, Any]) -> tuple[dict[str, Any], list[DroppedAttachment]]:
    """A validated document without the attachments this tenant does not hold, and which those were.

    An imported document refers to files by content; another tenant's files were never copied,
    so their links would lead nowhere. They are removed and reported instead.
    """
    sops = document.get("sops") or []
    present = find_by_sha256(a["sha256"] for sop in sops for a in sop["attachments"])
    dropped: list[DroppedAttachment] = []
    kept_sops = []
    for sop in sops:
        kept = []
        for attachment in sop["attachments"]:
            if attachment["sha256"] in present:
                kept.append(attachment)
            else:
                dropped.append(DroppedAttachment(sop["code"], attachment["filename"], attachment["sha256"]))
        kept_sops.append({**sop, "attachments": kept})
    return ({**document, "sops": kept_sops} if sops else document), dropped


def import_notes(dropped: Iterable[DroppedAttachment]) -> str:
    """The "what changed" note of an imported draft, naming any attachment left out."""
    dropped = list(dropped)
    if not dropped:
        return _("Imported")
    names = ", ".join(f"{d.sop_code}: {d.filename}" for d in dropped)
    return _("Imported. Attachments not stored in this account were left out: %(names)s", names=names)


def with_stored_attachments(document: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """For `services.import_document`: the document to save and the draft's notes."""
    kept, dropped = drop_missing_attachments(document)
    return kept, import_notes(dropped)
