"""The operators' console on the bare BASE_DOMAIN: sign-in, the tenants (plans, revenue, support
sessions, deleting those whose retention is over), billing, Stripe's webhooks, the background jobs,
the standard templates."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user
from redis.exceptions import RedisError

from repairqc.accounts.forms import SignInForm
from repairqc.billing.forms import SupportSessionForm
from repairqc.console import exports, services, support
from repairqc.console.forms import TemplateDetailsForm, TemplateUploadForm
from repairqc.console.models import Operator, StandardTemplate, TenantExport
from repairqc.db import db, unit_of_work, utcnow
from repairqc.errors import DomainError
from repairqc.extensions import account_login_rate_limit, limiter, login_rate_limit
from repairqc.urls import safe_next

bp = Blueprint("console", __name__, url_prefix="/console")


@bp.before_request
def _platform_host_only():
    if not g.get("is_platform"):
        abort(404)
    if request.endpoint != "console.login" and not isinstance(current_user._get_current_object(), Operator):
        return redirect(url_for("console.login", next=request.full_path))
    return None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"], deduct_when=lambda response: bool(g.get("sign_in_failed")))
@limiter.limit(
    account_login_rate_limit,
    methods=["POST"],
    deduct_when=lambda response: bool(g.get("sign_in_failed")),
    key_func=lambda: f"operator|{request.form.get('email', '').strip().lower()}",
)
def login():
    form = SignInForm()
    if form.validate_on_submit():
        with unit_of_work():
            operator = services.authenticate_operator(form.email.data, form.password.data)
        if operator is None:
            g.sign_in_failed = True
            flash(_("The e-mail or password is wrong."), "danger")
            return render_template("console/login.html", form=form), 401
        login_user(operator)
        return redirect(safe_next(request.args.get("next")) or url_for("console.tenants"))
    return render_template("console/login.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
def logout():
    logout_user()
    return redirect(url_for("console.login"))


def _operator() -> Operator:
    return current_user._get_current_object()


def _tenants_page(
    status: int = 200, support_form: SupportSessionForm | None = None, support_for: int | None = None
):
    """The tenant list; `support_form` (with its errors) is shown again in tenant `support_for`."""
    lines = services.tenant_lines(utcnow())
    return render_template(
        "console/tenants.html",
        lines=lines,
        mrr=services.mrr_totals(lines),
        latest_exports=exports.latest_by_tenant(),
        blank_support_form=SupportSessionForm(formdata=None),
        support_form=support_form,
        support_for=support_for,
    ), status


@bp.get("/")
def tenants():
    return _tenants_page()


@bp.post("/tenants/<int:tenant_id>/support")
def start_support(tenant_id: int):
    """Open a support session and go into the tenant, on its own host, through a one-time link."""
    form = SupportSessionForm()
    if not form.validate_on_submit():
        return _tenants_page(400, form, tenant_id)
    try:
        with unit_of_work():
            session = support.start(_operator(), tenant_id, form.reason.data, form.minutes.data)
            entry = services.support_entry_url(session)
    except DomainError as exc:
        if exc.field and exc.field in form:
            form[exc.field].errors = [*form[exc.field].errors, exc.message]
        else:
            flash(exc.message, "danger")
        return _tenants_page(exc.status_code, form, tenant_id)
    return redirect(entry, 303)


@bp.post("/tenants/<int:tenant_id>/delete")
def delete_tenant(tenant_id: int):
    """Delete a tenant whose retention period is over, with all its data."""
    try:
        with unit_of_work():
            slug = services.delete_ended_tenant(tenant_id, _operator(), utcnow())
    except DomainError as exc:
        flash(exc.message, "danger")
        return redirect(url_for("console.tenants"))
    flash(_("The tenant %(slug)s and all its data are deleted.", slug=slug), "success")
    return redirect(url_for("console.tenants"))


@bp.post("/tenants/<int:tenant_id>/export")
def export_tenant(tenant_id: int):
    """Queue an export of a tenant whose subscription has ended (written by a job)."""
    try:
        with unit_of_work():
            export = exports.request_export(tenant_id, _operator())
            slug = export.tenant_slug
    except DomainError as exc:
        flash(exc.message, "danger")
        return redirect(url_for("console.tenants"))
    except RedisError as exc:  # raised by the enqueue after the commit: the row waits as queued
        flash(_("Redis did not answer: %(error)s", error=str(exc)), "danger")
        return redirect(url_for("console.exports_page"))
    flash(_("The data of %(slug)s is being exported; it appears here when it is ready.", slug=slug), "info")
    return redirect(url_for("console.exports_page"))


@bp.get("/exports")
def exports_page():
    return render_template(
        "console/exports.html",
        exports=exports.recent_exports(),
        retention_days=current_app.config["EXPORT_RETENTION_DAYS"],
    )


@bp.get("/exports/<int:export_id>/download")
def download_export(export_id: int):
    try:
        path, name = exports.downloadable(export_id)
        exports.record_download(db.control.get(TenantExport, export_id), _operator())
    except DomainError as exc:
        flash(exc.message, "danger")
        return redirect(url_for("console.exports_page"))
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=name)


@bp.post("/exports/<int:export_id>/remove")
def remove_export(export_id: int):
    try:
        with unit_of_work():
            export = exports.remove_export(export_id, _operator())
            name = export.filename
    except DomainError as exc:
        flash(exc.message, "danger")
    else:
        flash(_("The export %(name)s is removed.", name=name), "info")
    return redirect(url_for("console.exports_page"))


@bp.post("/rollups")
def refresh_rollups():
    """Queue the figures job for every active tenant (runs at once without Redis)."""
    count = services.refresh_rollups()
    flash(_("Refreshing the figures of %(n)d tenants.", n=count), "info")
    return redirect(url_for("console.tenants"))


# --- billing, webhooks, jobs, support sessions ------------------------------------------------------


@bp.get("/billing")
def billing():
    failed_sign_ups, pending_sign_ups = services.sign_ups_needing_attention()
    return render_template(
        "console/billing.html",
        failed_payments=services.failed_payments(utcnow()),
        events=services.failed_payment_events(),
        failed_sign_ups=failed_sign_ups,
        pending_sign_ups=pending_sign_ups,
        grace_days=current_app.config["BILLING_GRACE_DAYS"],
    )


@bp.get("/webhooks")
def webhooks():
    event_type = request.args.get("type") or None
    state = request.args.get("state") if request.args.get("state") in services.WEBHOOK_STATES else None
    page = services.webhook_log(event_type, state, request.args.get("page", 1, type=int))
    return render_template(
        "console/webhooks.html",
        page=page,
        event_type=event_type,
        state=state,
        types=services.webhook_event_types(),
        states=services.WEBHOOK_STATES,
    )


@bp.post("/webhooks/<int:event_id>/retry")
def retry_webhook(event_id: int):
    try:
        with unit_of_work():
            event = services.retry_stripe_event(event_id)
            name = event.event_id
    except DomainError as exc:
        flash(exc.message, "danger")
    except RedisError as exc:  # raised by the enqueue after the commit: nothing was changed
        flash(_("Redis did not answer: %(error)s", error=str(exc)), "danger")
    else:
        flash(_("The event %(id)s is queued for processing again.", id=name), "info")
    return redirect(safe_next(request.form.get("next")) or url_for("console.webhooks"))


@bp.get("/jobs")
def jobs():
    return render_template("console/jobs.html", overview=services.jobs_overview())


@bp.get("/support")
def support_sessions():
    return render_template(
        "console/support.html",
        open_sessions=support.open_sessions(),
        past_sessions=services.past_support_sessions(utcnow()),
    )


@bp.post("/support/<int:session_id>/end")
def end_support(session_id: int):
    with unit_of_work():
        session = support.end(session_id, _operator())
        slug = session.tenant.slug
    flash(_("The support session in %(slug)s has ended.", slug=slug), "info")
    return redirect(url_for("console.support_sessions"))


# --- standard templates offered to every tenant ----------------------------------------------------

#: A broken file can break hundreds of fields; the first ones are enough to fix it.
MAX_PROBLEMS_SHOWN = 20


def _show_error(form, exc: DomainError) -> None:
    """Put a field's error under the field; list a document's problems, each naming its field."""
    if exc.field and exc.field in form:
        form[exc.field].errors = [*form[exc.field].errors, exc.message]
        return
    problems = getattr(exc, "problems", None) or [exc.message]
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        flash(problem, "danger")
    if len(problems) > MAX_PROBLEMS_SHOWN:
        more = len(problems) - MAX_PROBLEMS_SHOWN
        flash(ngettext("… and %(num)d more problem.", "… and %(num)d more problems.", more), "danger")


def _templates_page(form: TemplateUploadForm, status: int = 200):
    templates = db.control.execute(sa.select(StandardTemplate).order_by(StandardTemplate.code)).scalars()
    return render_template("console/templates.html", templates=list(templates), form=form), status


@bp.get("/templates/")
def templates():
    return _templates_page(TemplateUploadForm())


@bp.post("/templates/")
def upload_template():
    form = TemplateUploadForm()
    if not form.validate_on_submit():
        return _templates_page(form, 400)
    upload = form.file.data
    fmt = "json" if (upload.filename or "").lower().endswith(".json") else "yaml"
    try:
        with unit_of_work():
            uploaded = services.upload_template(
                upload.read().decode("utf-8", errors="replace"),
                fmt,
                code=form.code.data,
                is_active=form.is_active.data,
                uploaded_by=current_user._get_current_object(),
                **form.details(),
            )
    except DomainError as exc:
        _show_error(form, exc)
        return _templates_page(form, 400)
    flash(_("The template %(code)s is saved.", code=uploaded.template.code), "success")
    if uploaded.stripped_attachments:
        message = ngettext(
            "Templates cannot carry files: %(num)d attachment reference was removed.",
            "Templates cannot carry files: %(num)d attachment references were removed.",
            uploaded.stripped_attachments,
        )
        flash(message, "warning")
    return redirect(url_for("console.templates"))


@bp.route("/templates/<int:template_id>/", methods=["GET", "POST"])
def edit_template(template_id: int):
    template = services.get_template(template_id)
    form = TemplateDetailsForm(obj=template)
    if form.validate_on_submit():
        with unit_of_work():
            services.update_template(template, **form.details())
        flash(_("The template %(code)s is saved.", code=template.code), "success")
        return redirect(url_for("console.templates"))
    status = 400 if form.errors else 200
    return render_template("console/template.html", template=template, form=form), status


@bp.post("/templates/<int:template_id>/active")
def set_template_active(template_id: int):
    template = services.get_template(template_id)
    offer = request.form.get("active") == "1"
    with unit_of_work():
        services.set_template_active(template, offer)
    if offer:
        flash(_("Tenants are now offered the template %(code)s.", code=template.code), "success")
    else:
        flash(_("Tenants are no longer offered the template %(code)s.", code=template.code), "info")
    return redirect(url_for("console.templates"))


# --- backups (issue #9, HB §7.3.1) -------------------------------------------------------------------
# Operators see that every tenant is backed up (time, status, size) and can make one now; they do
# not download here: a backup is tenant data (design.md §3). Whoever runs the servers reaches the
# files in BACKUP_DIR and restores them with `flask backups restore`.


@bp.get("/backups")
def backups_page():
    from repairqc.backups import services as backups
    from repairqc.backups.forms import BackUpNowForm
    from repairqc.tenants.models import Tenant

    tenants = db.control.execute(sa.select(Tenant).order_by(Tenant.slug)).scalars().all()
    return render_template(
        "console/backups.html",
        tenants=tenants,
        latest=backups.latest_by_tenant(),
        last_success=backups.last_success_by_tenant(),
        backed_up=backups.BACKED_UP_STATUSES,
        backup_dir=str(backups.backup_dir()),
        retention_days=current_app.config["BACKUP_RETENTION_DAYS"],
        form=BackUpNowForm(),
    )


@bp.get("/backups/<int:tenant_id>")
def tenant_backups(tenant_id: int):
    from repairqc.backups import services as backups
    from repairqc.tenants.models import Tenant

    tenant = db.control.get(Tenant, tenant_id)
    if tenant is None:
        abort(404)
    history = backups.tenant_backups(tenant_id)
    return render_template("console/tenant_backups.html", tenant=tenant, backups=history)


@bp.post("/backups/<int:tenant_id>/now")
def back_up_now(tenant_id: int):
    from repairqc.backups import services as backups
    from repairqc.backups.forms import BackUpNowForm

    if not BackUpNowForm().validate_on_submit():
        flash(_("The form expired or was sent from another page. Reload it and try again."), "danger")
        return redirect(url_for("console.backups_page")), 303
    try:
        with unit_of_work():
            slug = backups.request_backup(tenant_id, _operator()).tenant_slug
    except DomainError as exc:
        flash(exc.message, "danger")
        return redirect(url_for("console.backups_page")), 303
    except RedisError as exc:  # raised by the enqueue after the commit
        flash(_("Redis did not answer: %(error)s", error=str(exc)), "danger")
        return redirect(url_for("console.backups_page")), 303
    flash(_("A backup of %(slug)s is being made; it appears here when it is ready.", slug=slug), "info")
    return redirect(url_for("console.tenant_backups", tenant_id=tenant_id)), 303
