"""Sign-in, sign-out and password reset for staff, on a tenant's host."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user

from repairqc.accounts import services
from repairqc.accounts.forms import ForgotPasswordForm, ResetPasswordForm, SignInForm
from repairqc.accounts.loader import act_as
from repairqc.db import unit_of_work
from repairqc.errors import DomainError
from repairqc.extensions import account_login_rate_limit, limiter, login_rate_limit
from repairqc.tenants import resolution
from repairqc.urls import safe_next

bp = Blueprint("accounts", __name__)


@bp.before_request
def _tenant_host_only():
    if g.get("tenant") is None:
        abort(404)


def _failed_attempt(response) -> bool:
    return bool(g.get("sign_in_failed"))


def _tenant_key() -> str:
    # The tenant, not the raw Host header: "x.localhost:81" and "x.localhost." are one tenant.
    # (Flask-Limiter may ask before resolve_request has run, hence the cached lookup.)
    tenant = g.get("tenant") or resolution.lookup(resolution.request_host())
    return str(tenant.ref.id) if tenant else resolution.request_host()


def _client_key() -> str:
    return f"client|{_tenant_key()}|{request.remote_addr}"


def _account_key() -> str:
    # A second budget per account, so rotating client addresses does not buy more guesses.
    return f"account|{_tenant_key()}|{services.normalise_email(request.form.get('email', ''))}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"], deduct_when=_failed_attempt, key_func=_client_key)
@limiter.limit(account_login_rate_limit, methods=["POST"], deduct_when=_failed_attempt, key_func=_account_key)
def login():
    form = SignInForm()
    if form.validate_on_submit():
        with unit_of_work():
            user = services.authenticate(form.email.data, form.password.data)
            if user is not None:
                act_as(user)
                services.record_sign_in(user)
        if user is None:
            g.sign_in_failed = True
            flash(_("The e-mail or password is wrong."), "danger")
            return render_template("accounts/login.html", form=form), 401
        locale = session.get("locale")
        session.clear()  # a fresh session on sign-in (no fixation)
        if locale:
            session["locale"] = locale
        login_user(user, remember=form.remember.data)
        return redirect(safe_next(request.args.get("next")) or url_for("admin.index"))
    status = 400 if form.errors else 200
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"], key_func=_client_key)
@limiter.limit(account_login_rate_limit, methods=["POST"], key_func=_account_key)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        with unit_of_work():
            services.request_password_reset(form.email.data)
        flash(_("If an account uses that e-mail, a link to choose a new password is on its way."), "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot.html", form=form), 400 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        user = services.user_for_reset_token(token)
    except DomainError as exc:
        return render_template("errors/error.html", code=400, message=exc.message), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        act_as(user)  # the reset is the user's own change in the audit log
        with unit_of_work():
            services.reset_password(user, form.password.data)
        flash(_("Your password is changed. Sign in with the new one."), "success")
        return redirect(url_for("accounts.login"))
    return render_template(
        "accounts/reset.html", form=form, user=user, min_length=services.MIN_PASSWORD_LENGTH
    ), 400 if form.errors else 200
