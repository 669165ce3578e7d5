"""Operator accounts, the per-tenant rollup the console shows, and the standard templates."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from werkzeug.security import check_password_hash

from repairqc.accounts.services import _dummy_hash, normalise_email, validate_password
from repairqc.console.models import Operator, StandardTemplate
from repairqc.db import db, utcnow
from repairqc.errors import DomainError, NotFound
from repairqc.standards.services import read_export, validated

logger = logging.getLogger(__name__)

#: Same shape as the codes inside a standards document: lowercase, digits, - and _.
TEMPLATE_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def authenticate_operator(email: str, password: str) -> Operator | None:
    operator = db.control.execute(
        sa.select(Operator).where(Operator.email == normalise_email(email))
    ).scalar_one_or_none()
    if operator is None or not operator.is_active:
        check_password_hash(_dummy_hash(), password)
        return None
    if not operator.check_password(password):
        return None
    operator.last_login_at = utcnow()
    db.control.flush()
    return operator


def create_operator(email: str, full_name: str, password: str) -> Operator:
    email = normalise_email(email)
    validate_password(password)
    if db.control.execute(sa.select(Operator.id).where(Operator.email == email)).first():
        raise DomainError(f"an operator with e-mail {email} already exists")
    operator = Operator(email=email, full_name=full_name)
    operator.set_password(password)
    db.control.add(operator)
    db.control.flush()
    return operator


def refresh_rollups() -> int:
    """Enqueue `compute_tenant_rollup` in every active tenant; returns how many."""
    from repairqc.console.tasks import compute_tenant_rollup
    from repairqc.jobs import enqueue
    from repairqc.tenants.models import Tenant, TenantStatus

    tenants = (
        db.control.execute(sa.select(Tenant).where(Tenant.status == TenantStatus.ACTIVE)).scalars().all()
    )
    for tenant in tenants:
        enqueue(compute_tenant_rollup, tenant=tenant.ref)
    return len(tenants)


# --- standard templates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedTemplate:
    template: StandardTemplate
    #: How many attachment references were removed from the SOPs (templates carry no files).
    stripped_attachments: int


def strip_attachments(document: Any) -> tuple[Any, int]:
    """The document without attachment references in its SOPs, and how many were removed.

    A template is copied into many tenants, but an attachment is a file one tenant stored; in the
    others its reference would name a file they do not have. Any key inside the SOPs whose name
    starts with "attachment" is such a reference (`Sop.attachments` today): lists become empty,
    so a required list stays valid, and other values are dropped.
    """
    if not isinstance(document, dict) or not isinstance(document.get("sops"), list):
        return document, 0
    removed = 0

    def clean(value: Any) -> Any:
        nonlocal removed
        if isinstance(value, list):
            return [clean(item) for item in value]
        if not isinstance(value, dict):
            return value
        kept: dict[Any, Any] = {}
        for key, item in value.items():
            if not str(key).startswith("attachment"):
                kept[key] = clean(item)
            elif isinstance(item, list):
                removed += len(item)
                kept[key] = []
            else:
                removed += item is not None
        return kept

    return {**document, "sops": clean(document["sops"])}, removed


def get_template(template_id: int) -> StandardTemplate:
    template = db.control.get(StandardTemplate, template_id)
    if template is None:
        raise NotFound(_("There is no such template."))
    return template


def upload_template(
    text: str,
    fmt: str,
    *,
    code: str,
    name_en: str,
    name_zh: str,
    description_en: str | None = None,
    description_zh: str | None = None,
    is_active: bool = False,
    uploaded_by: Operator | None,
) -> UploadedTemplate:
    """A new template from an exported standards file; invalid files save nothing.

    :raises InvalidStandard: the document breaks the schema (`problems` names each field).
    """
    code = code.strip().lower()
    if not TEMPLATE_CODE_RE.match(code):
        raise DomainError(_("Use lowercase letters, digits, - and _ only (at most 40)."), field="code")
    taken = DomainError(_("A template with the code %(code)s already exists.", code=code), field="code")
    if db.control.execute(sa.select(StandardTemplate.id).where(StandardTemplate.code == code)).first():
        raise taken
    document, stripped = strip_attachments(read_export(text, fmt))
    template = StandardTemplate(
        code=code,
        name_en=name_en,
        name_zh=name_zh,
        description_en=description_en or None,
        description_zh=description_zh or None,
        document=validated(document).model_dump(mode="json"),
        is_active=is_active,
        created_by=uploaded_by,
    )
    db.control.add(template)
    try:
        db.control.flush()
    except sa.exc.IntegrityError:
        raise taken from None  # another operator took the code since the check above
    logger.info("standard template %s uploaded by operator %s", code, uploaded_by and uploaded_by.id)
    return UploadedTemplate(template, stripped)


def update_template(
    template: StandardTemplate,
    *,
    name_en: str,
    name_zh: str,
    description_en: str | None,
    description_zh: str | None,
) -> StandardTemplate:
    """Names and descriptions only: the document is a snapshot, replaced by uploading anew."""
    template.name_en, template.name_zh = name_en, name_zh
    template.description_en, template.description_zh = description_en or None, description_zh or None
    db.control.flush()
    return template


def set_template_active(template: StandardTemplate, is_active: bool) -> StandardTemplate:
    """Offer the template to tenants, or stop offering it (drafts already started keep theirs)."""
    template.is_active = is_active
    db.control.flush()
    logger.info("standard template %s %s", template.code, "offered" if is_active else "withdrawn")
    return template
