"""The access and confidentiality screens (HB §7.3), under "Ch.7 Information and data management".

* `/admin/data-access/`: the owner's (and auditor's) review of who viewed or exported customer
  data: filters by person, period, kind and data (GET parameters; a bad value re-renders the
  form with its message, 400), newest first, paginated; `/admin/data-access/export.csv` the
  same rows as CSV, itself logged. Entries are never edited or deleted (the matrix has no
  "c", "e" or "d" for `DataAccess`).
* `/admin/confidentiality/`: the staff without a confidentiality agreement in force (none, or
  expired), the agreements on file, and the form to record one (HB §7.3.2), for whoever may
  create `ConfidentialityAgreement` rows (owner, HR).

Thin (aesthetics.md §7): the rules are in `privacy.services`; a POST runs in one unit of work.
"""

from __future__ import annotations

from flask import Response, abort, flash, redirect, request, stream_with_context, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from repairqc.accounts.permissions import Action, current_grants
from repairqc.admin.screens import ScopedScreen, as_id, attempt, field_errors, staff, today
from repairqc.chapters import add_screens
from repairqc.errors import FormInvalid
from repairqc.privacy import services
from repairqc.privacy.access import log_data_access
from repairqc.privacy.forms import AccessFilterForm, AgreementForm
from repairqc.privacy.models import AccessKind, subject_label


class DataAccessView(ScopedScreen):
    model_name = "DataAccess"

    def _filters(self) -> tuple[AccessFilterForm, services.AccessFilters | None]:
        form = AccessFilterForm(request.args)
        form.person.choices = [("", _("Everyone"))] + [
            (str(user.id), f"{user.full_name} <{user.email}>") for user in services.people()
        ]
        form.subject.choices = [("", _("All"))] + [(s, subject_label(s)) for s in services.logged_subjects()]
        if not form.validate():
            return form, None
        filters = services.AccessFilters(
            staff_user_id=as_id(form.person.data),
            start=form.start.data,
            end=form.end.data,
            kind=AccessKind(form.kind.data) if form.kind.data else None,
            subject=form.subject.data or None,
        )
        if filters.start and filters.end and filters.end < filters.start:
            form.end.errors = [*form.end.errors, _("The period ends before it starts.")]
            return form, None
        return form, filters

    @expose("/")
    def index(self):
        form, filters = self._filters()
        if filters is None:
            return self.render("privacy/data_access.html", form=form, page=None, query={}), 400
        page = services.access_page(filters, max(1, as_id(request.args.get("page")) or 1))
        query = {k: v for k, v in request.args.items() if k != "page" and v}
        return self.render(
            "privacy/data_access.html", form=form, page=page, query=query, subject_label=subject_label
        )

    @expose("/export.csv")
    def export(self):
        if not current_grants().can(self.model_name, Action.EXPORT):
            abort(403)
        form, filters = self._filters()
        if filters is None:
            return self.render("privacy/data_access.html", form=form, page=None, query={}), 400
        lines = services.access_csv(filters)
        log_data_access("export", "data_access_log", detail=f"csv {filters.describe()}".strip())
        return Response(
            stream_with_context(lines),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="data-access-log.csv"'},
        )


class ConfidentialityView(ScopedScreen):
    model_name = "ConfidentialityAgreement"

    def _may_record(self) -> bool:
        return current_grants().can(self.model_name, Action.CREATE)

    def _form(self, formdata=None) -> AgreementForm:
        form = AgreementForm(formdata)
        form.staff_user.choices = [("", "")] + [
            (str(user.id), f"{user.full_name} <{user.email}>")
            for user in services.people()
            if user.is_active and not user.is_platform_support
        ]
        if formdata is None and request.args.get("staff"):
            form.staff_user.data = request.args["staff"]
        return form

    def _page(self, form: AgreementForm, refusal_messages=()):
        day = today()
        return self.render(
            "privacy/confidentiality.html",
            form=form if self._may_record() else None,
            missing=services.staff_without_agreement(day),
            agreements=services.agreements(),
            day=day,
            refusal_messages=list(refusal_messages),
        )

    @expose("/")
    def index(self):
        return self._page(self._form())

    @expose("/agreements", methods=("POST",))
    def record(self):
        if not self._may_record():
            abort(403)
        form = self._form(request.form)

        def run() -> None:
            if not form.validate():
                raise FormInvalid(form.errors)
            services.record_agreement(
                services.AgreementInput(
                    staff_user_id=as_id(form.staff_user.data),
                    signed_on=form.signed_on.data,
                    valid_until=form.valid_until.data,
                    title=form.title.data or "",
                    agreement_version=form.agreement_version.data or "",
                    note=form.note.data or "",
                    document=request.files.get("document"),
                ),
                staff(),
                today=today(),
            )

        error = attempt(run)
        if error is None:
            flash(_("The confidentiality agreement is recorded."), "success")
            return redirect(url_for(".index"))
        return self._page(form, field_errors(form, error, {"staff_user_id": "staff_user"})), error.status_code


def register_privacy_views(admin) -> None:
    add_screens(
        admin,
        "ch7",
        (DataAccessView, _l("Data access log review"), "data_access", "/admin/data-access"),
        (ConfidentialityView, _l("Confidentiality agreements"), "confidentiality", "/admin/confidentiality"),
    )
