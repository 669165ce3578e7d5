"""The owner's backup screen (/admin/backups/, under "Ch.7 Information and data"; HB §7.3.1).

Lists this tenant's backups (nightly and on demand) with their status and size, downloads one
(streamed; the download is logged as an export of the tenant's data) and queues a new one, one
at a time. Owners only: a backup holds the whole database, password hashes included, so the
matrix grants `TenantBackup` to no other role, and a support session (an auditor) is refused.
Another tenant's backup id answers 404.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, send_file, url_for
from flask_admin import expose
from flask_admin.base import BaseView
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from repairqc.accounts.permissions import Action, current_grants
from repairqc.admin.screens import staff
from repairqc.admin.views import deny_access, staff_signed_in
from repairqc.backups import services
from repairqc.backups.forms import BackUpNowForm
from repairqc.db import current_tenant, unit_of_work
from repairqc.errors import DomainError
from repairqc.privacy.access import log_data_access

MODEL = "TenantBackup"


class BackupsView(BaseView):
    def is_accessible(self) -> bool:
        return staff_signed_in() and current_grants().can(MODEL, Action.VIEW)

    def inaccessible_callback(self, name, **kwargs):
        return deny_access(name, **kwargs)

    def _page(self, status: int = 200, refusals: list[str] | None = None, form: BackUpNowForm | None = None):
        tenant_id = current_tenant().id
        return self.render(
            "backups/tenant_backups.html",
            backups=services.tenant_backups(tenant_id),
            running=services.is_running(tenant_id),
            can_export=current_grants().can(MODEL, Action.EXPORT),
            retention_days=current_app.config["BACKUP_RETENTION_DAYS"],
            refusals=refusals or [],
            form=form or BackUpNowForm(),
        ), status

    @expose("/")
    def index(self):
        return self._page()

    @expose("/new", methods=("POST",))
    def make(self):
        form = BackUpNowForm()
        if not current_grants().can(MODEL, Action.EXPORT):
            return deny_access("make")
        if not form.validate_on_submit():
            return self._page(
                400, [_("The form expired or was sent from another page. Reload it and try again.")]
            )
        try:
            with unit_of_work():
                services.request_backup(current_tenant().id, staff())
        except DomainError as exc:
            return self._page(exc.status_code, [exc.message])
        flash(_("The backup is being made; it appears in the list when it is ready."), "info")
        return redirect(url_for(".index"))

    @expose("/<int:backup_id>/download")
    def download(self, backup_id: int):
        if not current_grants().can(MODEL, Action.EXPORT):
            return deny_access("download")
        try:
            path, name = services.downloadable(backup_id, current_tenant().id)
            # Logged before the file leaves: an export that cannot be recorded is not sent.
            log_data_access("export", "backup", record_id=backup_id, detail=name)
        except DomainError as exc:
            return self._page(exc.status_code, [exc.message])
        return send_file(path, mimetype="application/zip", as_attachment=True, download_name=name)


def register_backup_views(admin) -> None:
    from repairqc.chapters import add_screens

    add_screens(admin, "ch7", (BackupsView, _l("Backups"), "tenant_backups", "/admin/backups"))
