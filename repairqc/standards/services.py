"""Versioning rules and the one read API the rest of the code uses (HB ch.5).

* A tenant starts with version 1, published from the handbook's defaults.
* Editing starts a draft copied from the newest version; only drafts change.
* Publishing fixes an effective date that is today or later (and not before the newest
  published version's); the previous versions are then marked superseded. The version that
  applies on a day is the newest non-draft version effective on or before it, so a check begun
  today keeps today's version even if tomorrow's is already published.
* `effective_for_store(store, day)` resolves chain and store overrides of the service targets
  and says where each value came from; records store the version id it returns.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
import yaml
from flask import current_app
from flask_babel import gettext as _
from pydantic import ValidationError
from sqlalchemy import orm

from repairqc.db import current_tenant, db, utcnow
from repairqc.errors import Conflict, DomainError
from repairqc.standards.defaults import handbook_document
from repairqc.standards.models import ServiceTargetOverride, StandardStatus, StandardVersion
from repairqc.standards.schema import OVERRIDABLE_TARGETS, StandardDocument, describe_errors
from repairqc.stores.models import Store


class InvalidStandard(DomainError):
    """The document breaks the schema; `problems` lists every field at fault."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(_("The standards are not valid: %(problems)s", problems="; ".join(problems)))
        self.problems = problems


def validated(document: dict[str, Any]) -> StandardDocument:
    try:
        return StandardDocument.model_validate(document)
    except ValidationError as error:
        raise InvalidStandard(describe_errors(error)) from None


def latest_version() -> StandardVersion | None:
    return (
        db.session.execute(sa.select(StandardVersion).order_by(StandardVersion.number.desc()))
        .scalars()
        .first()
    )


def current_draft() -> StandardVersion | None:
    return db.session.execute(
        sa.select(StandardVersion).where(StandardVersion.status == StandardStatus.DRAFT)
    ).scalar_one_or_none()


def install_handbook_defaults(today: date) -> StandardVersion:
    """Version 1 for a new tenant: the handbook's numbers, published from `today`."""
    document = validated(handbook_document())
    version = StandardVersion(
        number=1,
        status=StandardStatus.PUBLISHED,
        effective_from=today,
        published_at=utcnow(),
        notes="Handbook defaults",
        document=document.model_dump(mode="json"),
    )
    db.session.add(version)
    db.session.flush()
    return version


def start_draft() -> StandardVersion:
    """A new draft copied from the newest version; there is at most one draft at a time."""
    if current_draft() is not None:
        raise Conflict(_("A draft already exists; edit or publish it first."))
    base = latest_version()
    draft = StandardVersion(
        number=(base.number + 1) if base else 1,
        status=StandardStatus.DRAFT,
        based_on=base,
        document=dict(base.document) if base else validated(handbook_document()).model_dump(mode="json"),
    )
    db.session.add(draft)
    db.session.flush()
    return draft


def document_digest(document: dict[str, Any]) -> str:
    """A fingerprint of a draft's contents: an editor sends it back to detect lost updates."""
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32]


def save_draft(
    draft: StandardVersion,
    document: dict[str, Any],
    notes: str | None = None,
    *,
    expected_digest: str | None = None,
) -> StandardVersion:
    """Replace a draft's contents after validating them whole; nothing is saved if invalid.

    With `expected_digest`, the save is refused when someone else saved the draft since the
    editor was opened (two QA managers editing at once must not overwrite each other).
    """
    if draft.status is not StandardStatus.DRAFT:
        raise Conflict(_("Version %(n)s is published and cannot change; start a new draft.", n=draft.number))
    if expected_digest is not None:
        # Re-read the draft under a row lock (PostgreSQL) so that two saves from editors opened
        # on the same contents cannot both pass the check; SQLite serialises writers itself.
        db.session.refresh(draft, with_for_update=True)
    if expected_digest is not None and expected_digest != document_digest(draft.document):
        raise Conflict(
            _("Someone else saved this draft after you opened it. Reload the page to see their changes.")
        )
    draft.document = validated(document).model_dump(mode="json")
    if notes is not None:
        draft.notes = notes
    db.session.flush()
    return draft


def publish(draft: StandardVersion, effective_from: date, *, today: date, publisher_id: int | None) -> None:
    if draft.status is not StandardStatus.DRAFT:
        raise Conflict(_("Version %(n)s is already published.", n=draft.number))
    if effective_from < today:
        raise DomainError(_("A new version cannot take effect in the past."), field="effective_from")
    newest = db.session.execute(
        sa.select(sa.func.max(StandardVersion.effective_from)).where(
            StandardVersion.status != StandardStatus.DRAFT
        )
    ).scalar()
    if newest is not None and effective_from < newest:
        raise DomainError(
            _("Version %(n)s must take effect on or after %(day)s, when the newest published version does.",
              n=draft.number, day=newest.isoformat()),
            field="effective_from",
        )  # fmt: skip
    validated(draft.document)
    for previous in db.session.execute(
        sa.select(StandardVersion).where(StandardVersion.status == StandardStatus.PUBLISHED)
    ).scalars():
        previous.status = StandardStatus.SUPERSEDED  # through the ORM, so the audit log sees it
    draft.status = StandardStatus.PUBLISHED
    draft.effective_from = effective_from
    draft.published_at = utcnow()
    draft.published_by_id = publisher_id
    db.session.flush()


def version_on(day: date) -> StandardVersion:
    """The version in force on `day`: the newest non-draft version effective by then."""
    version = (
        db.session.execute(
            sa.select(StandardVersion)
            .options(orm.defer(StandardVersion.document))  # large; loaded only when needed
            .where(StandardVersion.status != StandardStatus.DRAFT, StandardVersion.effective_from <= day)
            .order_by(StandardVersion.effective_from.desc(), StandardVersion.number.desc())
        )
        .scalars()
        .first()
    )
    if version is None:
        raise DomainError(_("No standard is in force on %(day)s.", day=day.isoformat()))
    return version


# --- the read API -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedTarget:
    value: float
    source: str  # "standard", "chain" or "store"
    source_label: str  # e.g. "v3", "FF", "FF-N01"


@dataclass(frozen=True)
class EffectiveStandard:
    version_id: int
    version_number: int
    document: StandardDocument
    targets: dict[str, ResolvedTarget]

    def target(self, name: str) -> float:
        return self.targets[name].value


def _parse_version(schema: str, version_id: int, published_at: Any) -> StandardDocument:
    version = db.session.get(StandardVersion, version_id)
    return StandardDocument.model_validate(version.document)


def _parsed(version: StandardVersion) -> StandardDocument:
    """The version's document, parsed once per process and app.

    Safe to cache because a non-draft version never changes (the before_flush guard). The key
    holds the tenant's schema, the id and the publication time: on SQLite a rolled-back
    publication can leave its id to the next one, which the time tells apart. The cache lives on
    the app, so apps on other databases (tests, the CLI) never share entries.
    """
    cache = current_app.extensions.get("repairqc.standard_documents")
    if cache is None:
        cache = current_app.extensions["repairqc.standard_documents"] = functools.lru_cache(maxsize=256)(
            _parse_version
        )
    return cache(current_tenant().schema, version.id, version.published_at)


def document_in_force(day: date) -> StandardDocument | None:
    """The parsed document of the version in force on `day`, or None before the first one."""
    try:
        return _parsed(version_on(day))
    except DomainError:
        return None


def _resolved_targets(
    document: StandardDocument, label: str, stores: Sequence[Store]
) -> dict[int, dict[str, ResolvedTarget]]:
    """Each store's overridable targets: the document's, then its chain's, then its own.

    One query for all the stores, so a report over hundreds of stores costs what one store does.
    """
    standard = {
        name: ResolvedTarget(float(getattr(document.service_targets, name)), "standard", label)
        for name in OVERRIDABLE_TARGETS
    }
    resolved = {store.id: dict(standard) for store in stores}
    if not stores:
        return resolved
    overrides = db.session.execute(
        sa.select(ServiceTargetOverride).where(
            sa.or_(
                ServiceTargetOverride.store_id.in_([s.id for s in stores]),
                ServiceTargetOverride.chain_id.in_({s.chain_id for s in stores}),
            )
        )
    ).scalars()
    by_chain: dict[int, list[ServiceTargetOverride]] = {}
    by_store: dict[int, list[ServiceTargetOverride]] = {}
    for override in overrides:
        if override.target not in OVERRIDABLE_TARGETS:
            continue
        if override.store_id is not None:
            by_store.setdefault(override.store_id, []).append(override)
        else:
            by_chain.setdefault(override.chain_id, []).append(override)
    for store in stores:
        targets = resolved[store.id]
        for override in by_chain.get(store.chain_id, []):  # chain first, the store's own wins
            targets[override.target] = ResolvedTarget(override.value, "chain", store.chain.code)
        for override in by_store.get(store.id, []):
            targets[override.target] = ResolvedTarget(override.value, "store", store.code)
    return resolved


def effective_for_store(store: Store, day: date) -> EffectiveStandard:
    """The standard for `store` on `day`, with chain and store overrides applied and explained."""
    version = version_on(day)
    document = _parsed(version)
    targets = _resolved_targets(document, f"v{version.number}", [store])[store.id]
    return EffectiveStandard(version.id, version.number, document, targets)


def targets_by_store(document: StandardDocument, stores: Sequence[Store]) -> dict[int, dict[str, float]]:
    """`document`'s overridable targets for each store, chain and store overrides applied."""
    return {
        store_id: {name: target.value for name, target in targets.items()}
        for store_id, targets in _resolved_targets(document, "", stores).items()
    }


# --- comparison, export, import -------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    path: str
    before: Any
    after: Any


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif (
        isinstance(value, list)
        and value
        and all(isinstance(v, dict) and ("code" in v or "category" in v) for v in value)
    ):
        for entry in value:  # keyed lists compare by code, so inserting an item is one change
            key = entry.get("code") or entry.get("category") or entry.get("equipment_type")
            yield from _flatten(entry, f"{prefix}[{key}]")
    else:
        yield prefix, value


def compare(old: StandardVersion, new: StandardVersion) -> list[Change]:
    """What changed from `old` to `new`, field by field (for the side-by-side view)."""
    before, after = dict(_flatten(old.document)), dict(_flatten(new.document))
    return [
        Change(path, before.get(path), after.get(path))
        for path in sorted(before.keys() | after.keys())
        if before.get(path) != after.get(path)
    ]


def export_version(version: StandardVersion, fmt: str = "yaml") -> str:
    payload = {"repairqc_standard": 1, "version": version.number, "document": version.document}
    if fmt == "json":
        return json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True)
    return yaml.safe_dump(payload, allow_unicode=True, sort_keys=True)


def read_export(text: str, fmt: str = "yaml") -> dict[str, Any]:
    """The document inside an exported file, not yet validated (imports and operator templates)."""
    try:
        payload = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except (ValueError, RecursionError, yaml.YAMLError) as error:  # RecursionError: absurd nesting
        raise DomainError(
            _("The file is not valid %(fmt)s: %(error)s", fmt=fmt.upper(), error=error)
        ) from None
    if not isinstance(payload, dict) or payload.get("repairqc_standard") != 1 or "document" not in payload:
        raise DomainError(
            _("This is not a RepairQC standards file (expected repairqc_standard: 1 and a document).")
        )
    return payload["document"]


def import_document(text: str, fmt: str = "yaml") -> StandardVersion:
    """A new draft from an exported document; the whole document is validated or nothing is saved."""
    from repairqc.standards.sop_services import with_stored_attachments  # imports this module

    document = validated(read_export(text, fmt)).model_dump(mode="json")
    document, notes = with_stored_attachments(document)  # drops, and names, files we lack
    draft = current_draft() or start_draft()
    return save_draft(draft, document, notes=notes)
