"""The operators' standard templates as a tenant sees them: what is offered, and starting from one.

Templates live in the control plane and belong to no tenant. A tenant only reads the active ones
through the control session and copies a template's document into its own draft, so nothing in
a tenant schema refers back to the control plane (design.md §7) and a template changed or
withdrawn later leaves the tenant's versions as they were.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from repairqc.console.models import StandardTemplate, in_current_language
from repairqc.db import db
from repairqc.errors import NotFound
from repairqc.standards.models import StandardVersion
from repairqc.standards.services import save_draft, start_draft, validated


@dataclass(frozen=True)
class TemplateOffer:
    """What a tenant may know about a template: no document, no operator."""

    id: int
    code: str
    name_en: str
    name_zh: str
    description_en: str | None
    description_zh: str | None

    @property
    def name(self) -> str:
        return in_current_language(self.name_en, self.name_zh) or self.code

    @property
    def description(self) -> str | None:
        return in_current_language(self.description_en, self.description_zh)


def available_templates() -> list[TemplateOffer]:
    """The templates the operators currently offer, by code."""
    rows = db.control.execute(
        sa.select(
            StandardTemplate.id,
            StandardTemplate.code,
            StandardTemplate.name_en,
            StandardTemplate.name_zh,
            StandardTemplate.description_en,
            StandardTemplate.description_zh,
        )
        .where(StandardTemplate.is_active.is_(True))
        .order_by(StandardTemplate.code)
    )
    return [TemplateOffer(*row) for row in rows]


def start_draft_from_template(template_id: int) -> StandardVersion:
    """A new draft of the current tenant's standards holding the template's document.

    :raises NotFound: no such template, or it is no longer offered.
    :raises Conflict: the tenant already has a draft.
    :raises InvalidStandard: the template no longer fits the schema (it changed since upload).
    """
    template = db.control.execute(
        sa.select(StandardTemplate).where(
            StandardTemplate.id == template_id, StandardTemplate.is_active.is_(True)
        )
    ).scalar_one_or_none()
    if template is None:
        raise NotFound(_("This template is not offered any more."))
    # Validated again, not trusted: the schema may have changed since the template was uploaded.
    document = validated(template.document).model_dump(mode="json")
    draft = start_draft()
    notes = _("Started from the template “%(name)s” (%(code)s).", name=template.name, code=template.code)
    return save_draft(draft, document, notes=notes)
