"""The standards screens, inside the admin layout under "Ch.5 Quality standards".

Thin: parse, call `standards.services`, render. Everyone signed in reads; the roles with edit
rights on StandardVersion in the permission matrix (owner, QA manager) write.
"""

from __future__ import annotations

import copy
from datetime import date

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from repairqc.accounts.permissions import Action, current_grants
from repairqc.admin.views import deny_access, staff_signed_in
from repairqc.db import db, unit_of_work, utcnow
from repairqc.errors import DomainError
from repairqc.standards import services
from repairqc.standards.forms import (
    CHECK_KIND_LABELS,
    TARGET_LABELS,
    PublishForm,
    ServiceTargetsForm,
    UploadForm,
)
from repairqc.standards.models import StandardVersion
from repairqc.standards.schema import StandardDocument


def _today() -> date:
    return utcnow().date()


class StandardsView(BaseView):
    def is_accessible(self) -> bool:
        return staff_signed_in() and current_grants().can("StandardVersion", Action.VIEW)

    def inaccessible_callback(self, name, **kwargs):
        return deny_access(name, **kwargs)

    @staticmethod
    def can_edit() -> bool:
        return current_grants().can("StandardVersion", Action.EDIT)

    def _require_edit(self) -> None:
        if not self.can_edit():
            abort(403)

    def _version(self, number: int) -> StandardVersion:
        version = db.session.execute(
            sa.select(StandardVersion).where(StandardVersion.number == number)
        ).scalar()
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
            draft=services.current_draft(),
            can_edit=self.can_edit(),
            upload=UploadForm(),
        )

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
        return redirect(url_for(".targets", number=draft.number))

    @expose("/<int:number>/targets/", methods=("GET", "POST"))
    def targets(self, number: int):
        """The service-targets editor of a draft (HB §1.1.2, §6.2.2, §9.3.3 numbers)."""
        self._require_edit()
        draft = self._version(number)
        document = StandardDocument.model_validate(draft.document)
        form = ServiceTargetsForm.for_document(document, request.form if request.method == "POST" else None)
        if request.method == "POST" and form.validate():
            changed = copy.deepcopy(draft.document)
            changed["service_targets"].update(form.targets())
            try:
                with unit_of_work():
                    services.save_draft(draft, changed)
            except DomainError as exc:
                problems = getattr(exc, "problems", [exc.message])
                for problem in problems:
                    flash(problem, "error")
                return self.render("standards/targets.html", version=draft, form=form), 400
            flash(_("The draft is saved."), "success")
            return redirect(url_for(".version", number=number))
        status = 400 if request.method == "POST" else 200
        return self.render("standards/targets.html", version=draft, form=form), status

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

    admin.add_view(StandardsView(name=_l("Standards"), endpoint="standards", url="/admin/standards",
                                 category=CHAPTERS["ch5"]))  # fmt: skip
