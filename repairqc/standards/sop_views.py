"""SOP screens: every member of staff reads the work instructions; HQ quality edits the draft's.

Thin: parse the form, call `standards.sop_services`, render. Reading works on any version (the
one in force today unless `?version=` says otherwise); editing only ever touches the current
draft, so a published version cannot be changed from here by any URL.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    MultipleFileField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from repairqc.admin.views import INT32_MAX
from repairqc.db import db, unit_of_work, utcnow
from repairqc.errors import DomainError
from repairqc.files.services import find_by_sha256
from repairqc.standards import services, sop_services
from repairqc.standards.models import StandardStatus, StandardVersion
from repairqc.standards.schema import ALL_CATEGORIES, SOP_STEPS, Sop, StandardDocument, Text
from repairqc.standards.views import StandardsAccess

STEP_LABELS = {
    "intake": _l("Reception and intake"),
    "diagnosis": _l("Diagnosis"),
    "quote": _l("Quotation"),
    "repair": _l("Repair"),
    "qc": _l("Quality check"),
    "delivery": _l("Delivery and acceptance"),
    "warranty": _l("Warranty and after-sales"),
}
assert set(STEP_LABELS) == set(SOP_STEPS)


def _chinese() -> bool:
    return str(get_locale()).startswith("zh")


def _text(text: Text) -> str:
    return text.zh if _chinese() else text.en


def _body(sop: Sop) -> str:
    """The instructions in the reader's language, or in the other one when that is empty."""
    first, second = (sop.body.zh, sop.body.en) if _chinese() else (sop.body.en, sop.body.zh)
    return first if first.strip() else second


def _category_labels(document: StandardDocument) -> dict[str, str]:
    labels = {ALL_CATEGORIES: _("All categories")}
    labels.update({category.code: _text(category.name) for category in document.device_categories})
    return labels


class SopForm(FlaskForm):
    """The editor of one SOP. Its rules live in `sop_services`; this form only parses and shows."""

    digest = HiddenField()
    code = StringField(
        _l("Code"), description=_l("Lowercase letters, digits, - and _; unique in the version.")
    )
    category = SelectField(_l("Device category"), validate_choice=False)
    step = SelectField(_l("Repair step"), validate_choice=False)
    title_en = StringField(_l("Title (English)"))
    title_zh = StringField(_l("Title (Chinese)"))
    body_en = TextAreaField(
        _l("Instructions (English)"),
        description=_l("Markdown. Leave one language empty to show the other one in its place."),
    )
    body_zh = TextAreaField(_l("Instructions (Chinese)"))
    attachments = MultipleFileField(
        _l("Add attachments"), description=_l("PNG, JPEG, WebP or GIF images and PDF documents.")
    )
    remove = SelectMultipleField(
        _l("Remove attachments"),
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )

    @classmethod
    def for_draft(cls, draft: StandardVersion, document: StandardDocument, sop: Sop | None) -> SopForm:
        if request.method == "POST":
            form = cls()
        elif sop is None:
            form = cls(formdata=None, category=ALL_CATEGORIES, step=SOP_STEPS[0])
        else:
            form = cls(formdata=None, code=sop.code, category=sop.category, step=sop.step,
                       title_en=sop.title.en, title_zh=sop.title.zh, body_en=sop.body.en,
                       body_zh=sop.body.zh)  # fmt: skip
        if request.method != "POST":
            form.digest.data = services.document_digest(draft.document)
        form.category.choices = [
            SelectChoice(code, label) for code, label in _category_labels(document).items()
        ]
        form.step.choices = [SelectChoice(step, STEP_LABELS[step]) for step in SOP_STEPS]
        attachments = sop.attachments if sop else []
        form.remove.choices = [SelectChoice(a.sha256, a.filename) for a in attachments]
        return form

    def sop_input(self) -> sop_services.SopInput:
        return sop_services.SopInput(
            code=self.code.data or "",
            category=self.category.data or "",
            step=self.step.data or "",
            title_en=self.title_en.data or "",
            title_zh=self.title_zh.data or "",
            body_en=self.body_en.data or "",
            body_zh=self.body_zh.data or "",
            remove=set(self.remove.data or []),
            uploads=[upload for upload in (self.attachments.data or []) if upload and upload.filename],
        )

    def show_problems(self, fields: dict[str, list[str]]) -> list[str]:
        """Put each problem on its field; return those that belong to no field."""
        general: list[str] = []
        for name, messages in fields.items():
            if name in self and name != "csrf_token":
                self[name].errors = [*self[name].errors, *messages]
            else:
                general.extend(messages)
        return general


class SopView(StandardsAccess):
    def _version(self) -> StandardVersion:
        """The version named by ?version=N, or the one in force today."""
        number = request.args.get("version", type=int)
        if number is None:
            return services.version_on(utcnow().date())
        version = None
        if 0 < number <= INT32_MAX:
            version = db.session.execute(
                sa.select(StandardVersion).where(StandardVersion.number == number)
            ).scalar()
        if version is None:
            abort(404)
        return version

    def _editable_draft(self) -> StandardVersion | None:
        if not self.can_edit():
            abort(403)
        return services.current_draft()

    def _no_draft(self):
        flash(_("Start a new version of the standards before editing its SOPs."), "error")
        return redirect(url_for("standards.index"))

    @expose("/")
    def index(self):
        version = self._version()
        document = StandardDocument.model_validate(version.document)
        category = request.args.get("category", "")
        step = request.args.get("step", "")
        sops = [
            sop
            for sop in document.sops
            if (not category or sop.category in (category, ALL_CATEGORIES)) and (not step or sop.step == step)
        ]
        draft = services.current_draft() if self.can_edit() else None
        return self.render(
            "standards/sops/index.html",
            version=version,
            sops=sorted(sops, key=lambda s: (SOP_STEPS.index(s.step), s.code)),
            category=category,
            step=step,
            categories=_category_labels(document),
            steps=STEP_LABELS,
            draft=draft,
            editing=draft is not None and draft.id == version.id,
            text=_text,
        )

    @expose("/<code>/")
    def read(self, code: str):
        version = self._version()
        document = StandardDocument.model_validate(version.document)
        sop = document.sop(code)
        if sop is None:
            abort(404)
        stored = find_by_sha256(a.sha256 for a in sop.attachments)
        return self.render(
            "standards/sops/read.html",
            version=version,
            sop=sop,
            body=_body(sop),
            files={sha: row.id for sha, row in stored.items()},
            categories=_category_labels(document),
            steps=STEP_LABELS,
            editing=self.can_edit() and version.status is StandardStatus.DRAFT,
            text=_text,
        )

    @expose("/draft/new/", methods=("GET", "POST"))
    def create(self):
        return self._edit(None)

    @expose("/draft/<code>/edit/", methods=("GET", "POST"))
    def edit(self, code: str):
        return self._edit(code)

    def _edit(self, code: str | None):
        draft = self._editable_draft()
        if draft is None:
            return self._no_draft()
        document = StandardDocument.model_validate(draft.document)
        sop = document.sop(code) if code else None
        if code and sop is None:
            abort(404)
        form = SopForm.for_draft(draft, document, sop)
        general: list[str] = []
        status = 200
        if request.method == "POST":
            status = 400
            if form.validate():  # the CSRF token; the SOP's own rules are checked by the service
                try:
                    with unit_of_work():
                        saved = sop_services.save_sop(
                            draft,
                            form.sop_input(),
                            original_code=code,
                            expected_digest=form.digest.data or None,
                        )
                except sop_services.SopInvalid as exc:
                    general = form.show_problems(exc.fields)
                except DomainError as exc:  # the whole document, a stale editor, a published version
                    general = getattr(exc, "problems", [exc.message])
                    status = exc.status_code
                else:
                    flash(_("The SOP is saved in draft version %(n)s.", n=draft.number), "success")
                    return redirect(url_for(".read", code=saved.code, version=draft.number))
            else:
                general = [message for messages in form.errors.values() for message in messages]
        return self.render(
            "standards/sops/edit.html", form=form, draft=draft, sop=sop, general=general
        ), status

    @expose("/draft/<code>/delete/", methods=("POST",))
    def delete(self, code: str):
        draft = self._editable_draft()
        if draft is None:
            return self._no_draft()
        form = FlaskForm()
        if not form.validate():
            abort(400)
        try:
            with unit_of_work():
                sop_services.delete_sop(draft, code, expected_digest=request.form.get("digest") or None)
        except DomainError as exc:
            flash(exc.message, "error")
            return redirect(url_for(".index", version=draft.number))
        flash(
            _("The SOP %(code)s is removed from draft version %(n)s.", code=code, n=draft.number), "success"
        )
        return redirect(url_for(".index", version=draft.number))


def register_sop_view(admin) -> None:
    from repairqc.chapters import CHAPTERS

    admin.add_view(
        SopView(
            name=_l("Work instructions (SOPs)"),
            endpoint="sops",
            url="/admin/standards/sops",
            category=CHAPTERS["ch5"],
        )
    )
