"""Extension objects, created unbound and initialised in `create_app` (no app at import time)."""

from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from repairqc.db import db

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def login_rate_limit() -> str:
    """Sign-in attempts allowed per client (LOGIN_RATE_LIMIT), read per request."""
    return current_app.config["LOGIN_RATE_LIMIT"]


def account_login_rate_limit() -> str:
    """Failed sign-ins allowed per account (ACCOUNT_LOGIN_RATE_LIMIT), read per request."""
    return current_app.config["ACCOUNT_LOGIN_RATE_LIMIT"]


__all__ = ["account_login_rate_limit", "babel", "csrf", "db", "limiter", "login_manager", "login_rate_limit"]
