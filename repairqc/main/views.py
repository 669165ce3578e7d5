"""The home page of each plane, /healthz and the language switch."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, g, jsonify, redirect, request, session, url_for
from flask_login import current_user

from repairqc.db import db
from repairqc.i18n import normalise_locale
from repairqc.jobs import redis_connection
from repairqc.urls import safe_next

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    if g.is_platform:
        return redirect(url_for("signup.pricing"))
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    return redirect(url_for("accounts.login"))


@bp.get("/healthz")
def healthz():
    """Database and Redis reachability, for load balancers and the deploy gate."""
    checks: dict[str, str] = {}
    try:
        with db.control_engine.connect() as conn:
            conn.execute(sa.select(1))
        checks["database"] = "ok"
    except sa.exc.SQLAlchemyError as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    if current_app.config["REDIS_URL"]:
        try:
            redis_connection().ping()
            checks["redis"] = "ok"
        except Exception as exc:  # any failure to reach Redis is a health result, not a crash
            checks["redis"] = f"error: {type(exc).__name__}"
    else:
        checks["redis"] = "not configured (jobs run in-process)"
    healthy = all(v == "ok" or v.startswith("not configured") for v in checks.values())
    return jsonify(status="ok" if healthy else "error", **checks), 200 if healthy else 503


@bp.post("/language")
def set_language():
    """Remember the chosen language for this browser and, when signed in, for the account."""
    locale = normalise_locale(request.form.get("locale"))
    if locale:
        session["locale"] = locale
        if current_user.is_authenticated and g.get("tenant") is not None:
            from repairqc.accounts.services import set_preferred_locale
            from repairqc.db import unit_of_work

            with unit_of_work():
                set_preferred_locale(current_user, locale)
    return redirect(safe_next(request.form.get("next")) or url_for("main.index"))
