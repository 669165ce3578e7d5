"""The operators' console on the bare BASE_DOMAIN: sign-in, the tenants, the standard templates."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user

from repairqc.accounts.forms import SignInForm
from repairqc.console import services
from repairqc.console.forms import TemplateDetailsForm, TemplateUploadForm
from repairqc.console.models import Operator, StandardTemplate, TenantRollup
from repairqc.db import db, unit_of_work
from repairqc.errors import DomainError
from repairqc.extensions import account_login_rate_limit, limiter, login_rate_limit
from repairqc.tenants.models import Domain, Tenant
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


@bp.get("/")
def tenants():
    rows = db.control.execute(
        sa.select(Tenant, TenantRollup, Domain.host)
        .outerjoin(TenantRollup, TenantRollup.tenant_id == Tenant.id)
        .outerjoin(Domain, sa.and_(Domain.tenant_id == Tenant.id, Domain.is_primary.is_(True)))
        .order_by(Tenant.slug)
    ).all()
    return render_template("console/tenants.html", rows=rows)


@bp.post("/rollups")
def refresh_rollups():
    """Queue the figures job for every active tenant (runs at once without Redis)."""
    count = services.refresh_rollups()
    flash(_("Refreshing the figures of %(n)d tenants.", n=count), "info")
    return redirect(url_for("console.tenants"))


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
