"""The operators' console on the bare BASE_DOMAIN: sign-in and the list of tenants."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from repairqc.accounts.forms import SignInForm
from repairqc.console import services
from repairqc.console.models import Operator, TenantRollup
from repairqc.db import db, unit_of_work
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
