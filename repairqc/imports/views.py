"""The import screens (HB §7.1.1-§7.1.2), under "Ch.7 Information and data".

`ImportsView` (/admin/imports/):

* `/`: the history of the runs the user may see (their stores'; HQ: all).
* `/new`: choose what to import, the store and the file; the help panel lists each kind's columns
  and links its templates (`/template/<kind>.csv|xlsx`).
* `/<id>/`: the preview: what the import will create, update and leave unchanged, every problem
  by row and column, the first rows, an earlier import of the same file; confirm or cancel.

Thin (aesthetics.md §7): each POST runs one service in one unit of work (`attempt`); a refusal
re-renders the page with its message and status, nothing saved. A confirmation that finds
problems is recorded as failed in a second unit of work, after the import's rolled back.
"""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from repairqc.accounts.permissions import current_grants
from repairqc.accounts.scoping import scoped_select
from repairqc.admin.screens import (
    ScopedScreen,
    attempt,
    field_errors,
    load_scoped,
    required_version,
    staff,
    validated,
)
from repairqc.db import db
from repairqc.errors import Conflict, DomainError
from repairqc.forms_base import store_choices
from repairqc.imports import services
from repairqc.imports.forms import UploadForm
from repairqc.imports.kinds import KINDS, import_stores, importable_kinds, may_import
from repairqc.imports.models import ImportKind, ImportRun, ImportStatus
from repairqc.stores.models import Store

#: Runs listed in the history, newest first.
HISTORY_LIMIT = 200
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _kind(raw: str | None) -> ImportKind | None:
    try:
        return ImportKind(raw)
    except ValueError:
        return None


def target_stores(kinds: list[ImportKind]) -> list[Store]:
    """The active stores the user may import any of `kinds` into, by code."""
    grants = current_grants()
    wanted: set[int] = set()
    every = False
    for kind in kinds:
        if not KINDS[kind].store_on_form:
            continue
        stores = import_stores(grants, kind)
        if stores is None:
            every = True
        else:
            wanted |= stores
    statement = scoped_select(Store).where(Store.is_active.is_(True)).order_by(Store.code)
    rows = list(db.session.execute(statement).scalars())
    return rows if every else [s for s in rows if s.id in wanted]


class ImportsView(ScopedScreen):
    model_name = "ImportRun"

    @expose("/")
    def index(self):
        runs = list(
            db.session.execute(
                scoped_select(ImportRun)
                .options(joinedload(ImportRun.store), joinedload(ImportRun.uploaded_by))
                .order_by(ImportRun.id.desc())
                .limit(HISTORY_LIMIT)
            ).scalars()
        )
        return self.render(
            "imports/list.html",
            runs=runs,
            can_import=bool(importable_kinds(current_grants())),
            limit=HISTORY_LIMIT,
            format_datetime=format_datetime,
        )

    @expose("/new", methods=("GET", "POST"))
    def new(self):
        kinds = importable_kinds(current_grants())
        if not kinds:
            abort(403)
        stores = target_stores(kinds)
        posting = request.method == "POST"
        form = UploadForm(request.form if posting else None, kind=request.args.get("kind"))
        form.kind.choices = [(kind.value, kind.label) for kind in kinds]
        form.store.choices = store_choices(stores, blank=True)
        if not posting:
            if len(stores) == 1:
                form.store.data = str(stores[0].id)
            return self._new_page(form, kinds, [])
        created: dict = {}

        def upload() -> None:
            validated(form)
            upload = request.files.get("file")
            if upload is None or not upload.filename:
                raise DomainError(_("Choose the file to import."), field="file")
            limit = current_app.config["UPLOAD_MAX_BYTES"]
            data = upload.stream.read(limit + 1)
            store = next((s for s in stores if str(s.id) == form.store.data), None)
            run = services.upload(
                ImportKind(form.kind.data),
                data,
                upload.filename,
                user=staff(),
                grants=current_grants(),
                store=store,
                encoding=form.encoding.data,
            )
            created["id"] = run.id

        error = attempt(upload)
        if error is None:
            return redirect(url_for(".run", run_id=created["id"]))
        return self._new_page(form, kinds, field_errors(form, error)), error.status_code

    def _new_page(self, form: UploadForm, kinds: list[ImportKind], messages: list):
        return self.render(
            "imports/new.html",
            form=form,
            specs=[KINDS[kind] for kind in kinds],
            refusal_messages=messages,
            max_rows=current_app.config["IMPORT_MAX_ROWS"],
        )

    @expose("/template/<kind>.<fmt>")
    def template(self, kind: str, fmt: str):
        chosen = _kind(kind)
        if chosen is None or fmt not in ("csv", "xlsx"):
            abort(404)
        if not may_import(current_grants(), chosen):
            abort(403)
        locale = str(get_locale() or "en")
        if fmt == "csv":
            body, mimetype = services.template_csv(chosen, locale), "text/csv; charset=utf-8"
        else:
            body, mimetype = services.template_xlsx(chosen, locale), XLSX
        return Response(
            body,
            mimetype=mimetype,
            headers={"Content-Disposition": f'attachment; filename="import-{chosen.value}.{fmt}"'},
        )

    @expose("/<int:run_id>/")
    def run(self, run_id: int):
        return self._run_page(load_scoped(ImportRun, run_id))

    def _run_page(self, run: ImportRun, messages: list | None = None):
        report = services.read_report(run)
        user = staff()
        return self.render(
            "imports/run.html",
            run=run,
            report=report,
            spec=KINDS[run.kind],
            earlier=services.earlier_imports(run, scoped_select(ImportRun)),
            may_act=run.status is ImportStatus.PREVIEWED and run.uploaded_by_id == user.id,
            S=ImportStatus,
            refusal_messages=messages or [],
            format_datetime=format_datetime,
        )

    @expose("/<int:run_id>/confirm", methods=("POST",))
    def confirm(self, run_id: int):
        def confirm_run() -> None:
            run = load_scoped(ImportRun, run_id, for_update=True)
            _check_version(run)
            services.confirm(run, user=staff(), grants=current_grants())

        error = attempt(confirm_run)
        if error is None:
            run = load_scoped(ImportRun, run_id)
            flash(
                _("Imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.",
                  created=run.created_count, updated=run.updated_count, unchanged=run.unchanged_count),
                "success",
            )  # fmt: skip
            return redirect(url_for(".run", run_id=run_id))
        if isinstance(error, services.ImportInvalid):
            attempt(
                lambda: services.record_failure(
                    load_scoped(ImportRun, run_id, for_update=True), staff(), error
                )
            )
        db.session.expire_all()
        return self._run_page(load_scoped(ImportRun, run_id), [error.message]), error.status_code

    @expose("/<int:run_id>/cancel", methods=("POST",))
    def cancel(self, run_id: int):
        def cancel_run() -> None:
            run = load_scoped(ImportRun, run_id, for_update=True)
            _check_version(run)
            services.cancel(run, user=staff())

        error = attempt(cancel_run)
        if error is None:
            flash(_("The import is cancelled and its file deleted; nothing was imported."), "success")
            return redirect(url_for(".index"))
        db.session.expire_all()
        return self._run_page(load_scoped(ImportRun, run_id), [error.message]), error.status_code


def _check_version(run: ImportRun) -> None:
    if required_version() != run.version:
        raise Conflict(_("Someone else changed this import in the meantime. Reload the page and try again."))


def register_imports_views(admin) -> None:
    from repairqc.chapters import add_screens

    add_screens(admin, "ch7", (ImportsView, _l("Imports"), "imports", "/admin/imports"))
