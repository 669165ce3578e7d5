"""The standards screens, inside the admin layout under "Ch.5 Quality standards".

Thin: parse, call `standards.services`, render. Everyone signed in reads; the roles with edit
rights on StandardVersion in the permission matrix (owner, QA manager) write.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from repairqc.accounts.permissions import Action, current_grants
from repairqc.accounts.scoping import selectable_query
from repairqc.admin.views import deny_access, staff_signed_in
from repairqc.db import db, unit_of_work, utcnow
from repairqc.errors import Conflict, DomainError
from repairqc.standards import catalog, services
from repairqc.standards.forms import (
    AREA_LABELS,
    CHECK_KIND_LABELS,
    EDITORS,
    KPI_LABELS,
    PERIODS,
    TARGET_LABELS,
    PublishForm,
    UploadForm,
)
from repairqc.standards.models import StandardStatus, StandardVersion
from repairqc.standards.schema import KPIS, StandardDocument
from repairqc.stores.models import Store


def _today() -> date:
    return utcnow().date()


class StandardsAccess(BaseView):
    """Who reaches the standards screens: every signed-in member of staff reads, HQ quality edits."""

    def is_accessible(self) -> bool:
        return staff_signed_in() and current_grants().can("StandardVersion", Action.VIEW)

    def inaccessible_callback(self, name, **kwargs):
        return deny_access(name, **kwargs)

    @staticmethod
    def can_edit() -> bool:
        """The roles with edit rights on StandardVersion in the permission matrix."""
        return current_grants().can("StandardVersion", Action.EDIT)


class StandardsView(StandardsAccess):
    def _require_edit(self) -> None:
        if not self.can_edit():
            abort(403)

    def _version(self, number: int, *, for_update: bool = False) -> StandardVersion:
        query = sa.select(StandardVersion).where(StandardVersion.number == number)
        # Editors lock the draft row while saving, so the lost-update check cannot race.
        version = db.session.execute(query.with_for_update() if for_update else query).scalar()
        if version is None:
            abort(404)
        return version

    @expose("/")
    def index(self):
        versions = db.session.execute(
            sa.select(StandardVersion).order_by(StandardVersion.number.desc())
        ).scalars()
        return self.render(
            "standards/index.html",
            versions=list(versions),
            in_force=services.version_on(_today()),
            today=_today(),
            draft=services.current_draft(),
            can_edit=self.can_edit(),
            upload=UploadForm(),
            templates=catalog.available_templates() if self.can_edit() else [],
        )

    @expose("/effective/")
    def effective(self):
        """The service targets a store works to on a day, and where each value comes from."""
        stores = selectable_query(Store).order_by(Store.code).all()
        store = next((s for s in stores if s.id == request.args.get("store", type=int)), None)
        store = store or (stores[0] if stores else None)
        try:
            day = date.fromisoformat(request.args.get("day", "")) if request.args.get("day") else _today()
        except ValueError:
            flash(_("Enter the date as YYYY-MM-DD."), "error")
            day = _today()
        standard = None
        if store is not None:
            try:
                standard = services.effective_for_store(store, day)
            except DomainError as exc:  # before version 1 took effect
                flash(exc.message, "error")
        return self.render("standards/effective.html", stores=stores, store=store, day=day,
                           standard=standard, target_labels=TARGET_LABELS)  # fmt: skip

    @expose("/<int:number>/")
    def version(self, number: int):
        version = self._version(number)
        document = StandardDocument.model_validate(version.document)
        publish = PublishForm(effective_from=_today())
        return self.render(
            "standards/version.html",
            version=version,
            document=document,
            can_edit=self.can_edit(),
            publish=publish,
            target_labels=TARGET_LABELS,
            kind_labels=CHECK_KIND_LABELS,
            area_labels=AREA_LABELS,
            kpi_labels=KPI_LABELS,
            periods=PERIODS,
        )

    @expose("/<int:number>/compare/")
    def compare(self, number: int):
        version = self._version(number)
        previous = (
            version.based_on
            or db.session.execute(
                sa.select(StandardVersion).where(StandardVersion.number == number - 1)
            ).scalar()
        )
        changes = services.compare(previous, version) if previous else []
        return self.render("standards/compare.html", version=version, previous=previous, changes=changes)

    @expose("/<int:number>/export.<fmt>")
    def export(self, number: int, fmt: str):
        if fmt not in {"yaml", "json"}:
            abort(404)
        text = services.export_version(self._version(number), fmt)
        mimetype = "application/json" if fmt == "json" else "application/yaml"
        filename = f"standards-v{number}.{fmt}"
        return Response(
            text, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={filename}"}
        )

    @expose("/draft/", methods=("POST",))
    def start_draft(self):
        self._require_edit()
        try:
            with unit_of_work():
                draft = services.start_draft()
        except DomainError as exc:
            flash(exc.message, "error")
            return redirect(url_for(".index"))
        return redirect(url_for(".version", number=draft.number))

    @expose("/<int:number>/edit/<part>/", methods=("GET", "POST"))
    @expose("/<int:number>/edit/<part>/<key>/", methods=("GET", "POST"))
    def edit(self, number: int, part: str, key: str | None = None):
        """One structured editor of a draft; saving replaces that part of the document."""
        self._require_edit()
        editor_class = EDITORS.get(part)
        if editor_class is None or (part == "checklist") != (key is not None):
            abort(404)
        draft = self._version(number, for_update=request.method == "POST")
        if draft.status is not StandardStatus.DRAFT:
            flash(_("Version %(n)s is published and cannot change; start a new draft.", n=number), "error")
            return redirect(url_for(".version", number=number))
        document = StandardDocument.model_validate(draft.document)
        if key is not None and key not in {category.code for category in document.device_categories}:
            abort(404)
        if request.method == "GET":
            form = editor_class.opened(document, services.document_digest(draft.document), key)
            return self._render_editor(draft, form)
        form = editor_class.submitted(document, key)
        if "add" in request.form:  # "Add a row": show the table with one more, save nothing yet
            if request.form["add"] not in form.tables:
                abort(400)
            form.add_row(request.form["add"])
            return self._render_editor(draft, form)
        if not form.validate_all():
            return self._render_editor(draft, form), 400
        try:
            with unit_of_work():
                services.save_draft(draft, form.apply(draft.document), expected_digest=form.digest.data)
        except Conflict as exc:
            form.form_errors.append(exc.message)
            return self._render_editor(draft, form), 409
        except services.InvalidStandard as exc:
            form.form_errors.extend(exc.problems)
            return self._render_editor(draft, form), 400
        flash(_("The draft is saved."), "success")
        return redirect(url_for(".version", number=number, _anchor=part))

    def _render_editor(self, draft: StandardVersion, form):
        return self.render(form.template, version=draft, form=form, kpis=KPIS, periods=PERIODS)

    @expose("/<int:number>/publish/", methods=("POST",))
    def publish(self, number: int):
        self._require_edit()
        draft = self._version(number)
        form = PublishForm()
        if not form.validate():
            for errors in form.errors.values():
                for error in errors:
                    flash(error, "error")
            return redirect(url_for(".version", number=number))
        try:
            with unit_of_work():
                services.publish(
                    draft, form.effective_from.data, today=_today(), publisher_id=current_user.id
                )
        except DomainError as exc:
            flash(exc.message, "error")
            return redirect(url_for(".version", number=number))
        flash(_("Version %(n)s is published, effective from %(day)s.", n=number,
                day=form.effective_from.data.isoformat()), "success")  # fmt: skip
        return redirect(url_for(".index"))

    @expose("/from-template/", methods=("POST",))
    def from_template(self):
        """A new draft from one of the operator's ready-made templates."""
        self._require_edit()
        template_id = request.form.get("template_id", type=int)
        if template_id is None:
            abort(400)
        try:
            with unit_of_work():
                draft = catalog.start_draft_from_template(template_id)
        except DomainError as exc:
            for problem in getattr(exc, "problems", [exc.message]):
                flash(problem, "error")
            return redirect(url_for(".index"))
        flash(_("Draft version %(n)s starts from the template; review it, then publish.", n=draft.number),
              "success")  # fmt: skip
        return redirect(url_for(".version", number=draft.number))

    @expose("/import/", methods=("POST",))
    def import_file(self):
        self._require_edit()
        form = UploadForm()
        if not form.validate():
            flash(_("Choose a YAML or JSON file exported from RepairQC."), "error")
            return redirect(url_for(".index"))
        upload = form.file.data
        fmt = "json" if upload.filename.lower().endswith(".json") else "yaml"
        try:
            with unit_of_work():
                draft = services.import_document(upload.read().decode("utf-8", errors="replace"), fmt)
        except DomainError as exc:
            for problem in getattr(exc, "problems", [exc.message]):
                flash(problem, "error")
            return redirect(url_for(".index"))
        flash(_("Imported as draft version %(n)s; review it, then publish.", n=draft.number), "success")
        return redirect(url_for(".version", number=draft.number))


def register_standards_view(admin) -> None:
    from repairqc.chapters import CHAPTERS
    from repairqc.standards.sop_views import register_sop_view

    admin.add_view(StandardsView(name=_l("Standards"), endpoint="standards", url="/admin/standards",
                                 category=CHAPTERS["ch5"]))  # fmt: skip
    register_sop_view(admin)
