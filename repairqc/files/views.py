"""Downloading stored files: signed-in staff of the tenant whose host the request came to;
a store's file (a customer's photo or signature) only for that store's staff and HQ; a
certificate scan only for those who may see the holder's training record (training's rule).

The tenant is resolved from the Host header before this runs and the session reads only that
tenant's schema, so another tenant's file id is simply not found (404, never 403).
"""

from __future__ import annotations

import io

from flask import Blueprint, abort, send_file

from repairqc.accounts.permissions import Action, current_grants
from repairqc.admin.views import INT32_MAX, deny_access, staff_signed_in
from repairqc.files import services
from repairqc.privacy.access import log_data_access

bp = Blueprint("files", __name__, url_prefix="/files")


@bp.get("/<int:file_id>")
def download(file_id: int):
    if not staff_signed_in():
        return deny_access()
    if not current_grants().can("StoredFile", Action.VIEW):
        abort(403)
    stored = services.get_file(file_id) if 0 < file_id <= INT32_MAX else None
    stores = current_grants().stores_for("StoredFile", Action.VIEW)
    if stored is None or (
        stored.store_id is not None and stores is not None and stored.store_id not in stores
    ):
        abort(404)  # another store's customer file: as if it did not exist
    from repairqc.admin.screens import staff
    from repairqc.privacy import services as privacy
    from repairqc.training import services as training

    if not training.may_read_file(staff(), stored.id):
        abort(404)  # a colleague's certificate scan: training's rule (may_see_person), no probing
    if not privacy.may_read_file(staff(), stored.id):
        abort(404)  # someone else's signed confidentiality agreement (HB §7.3.2)
    if stored.store_id is not None:
        # A store's files are its customers' device photos, signatures and attachments (HB §7.3.1).
        log_data_access("view", "file", record_id=stored.id, detail=stored.filename)
    response = send_file(
        io.BytesIO(stored.data),
        mimetype=stored.content_type,
        # Images open in the browser; a PDF is saved, so it is never rendered on our origin.
        as_attachment=not stored.is_inline,
        download_name=stored.filename,
        etag=stored.sha256,
        max_age=3600,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True  # signed-in content: browsers only, no shared caches
    response.cache_control.public = False
    return response
