"""Settings, read once from the environment (12-factor) with documented defaults.

Every key below can be set as an environment variable of the same name. `.env.example` lists
them with the same defaults. Nothing else in the package reads `os.environ`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

#: Keys, defaults and a one-line meaning. The type of the default is the type parsed.
DEFAULTS: dict[str, tuple[Any, str]] = {
    "REPAIRQC_ENV": ("production", "production | development | testing"),
    "SECRET_KEY": ("", "signs sessions and tokens; required in production"),
    "DATABASE_URL": ("", "control-plane database; empty = SQLite file in the instance folder"),
    "TENANT_DATA_DIR": ("", "SQLite only: folder of the per-tenant files; empty = instance/tenants"),
    "REDIS_URL": ("", "RQ queue and rate-limit storage; empty = jobs run in-process"),
    "RQ_QUEUE_PREFIX": ("", "prefix of every RQ queue name (deployments or test runs sharing one Redis)"),
    "BASE_DOMAIN": ("localhost", "tenants are served at <slug>.BASE_DOMAIN; operators at BASE_DOMAIN"),
    "PREFERRED_URL_SCHEME": ("https", "scheme used in links sent by email"),
    "SERVER_PORT": ("", "port appended to links sent by email (development only)"),
    "TRUSTED_PROXY_COUNT": (0, "number of reverse proxies whose X-Forwarded-* headers are trusted"),
    "SESSION_COOKIE_SECURE": (True, "send the session cookie over HTTPS only"),
    "LOGIN_RATE_LIMIT": ("10 per minute", "failed sign-ins allowed per client address and tenant"),
    "ACCOUNT_LOGIN_RATE_LIMIT": ("20 per 10 minutes", "failed sign-ins allowed per account, from anywhere"),
    "ENCRYPTION_KEY": (
        "",
        "Fernet keys for sensitive fields, comma-separated, newest first; empty = derived from SECRET_KEY",
    ),
    "LOOKUP_KEY": (
        "",
        "keys of the phone/e-mail search hashes, comma-separated, newest first; empty = derived",
    ),
    "COMPLAINT_FORM_RATE_LIMIT": ("5 per hour", "complaints per client address on a public form"),
    "COMPLAINT_FORM_STORE_RATE_LIMIT": ("100 per day", "complaints one store's form takes, from anywhere"),
    "SURVEY_RATE_LIMIT": ("20 per hour", "survey answers allowed per client address"),
    "PASSWORD_HASH_METHOD": ("scrypt", "werkzeug's method for new password hashes; keep the default"),
    "TRACKING_RATE_LIMIT": ("20 per hour", "quote answers allowed per client address on the tracking page"),
    "TRACKING_LINK_MAX_AGE": (30 * 24 * 3600, "seconds a customer's order-tracking link stays valid"),
    "TENANT_ENGINE_CACHE_SIZE": (64, "SQLite: per-tenant engines kept open (LRU)"),
    "DB_POOL_RECYCLE": (1800, "PostgreSQL: seconds before a pooled connection is replaced"),
    "MAIL_BACKEND": ("smtp", "smtp | console (console prints mails to the log)"),
    "MAIL_SERVER": ("localhost", "SMTP host"),
    "MAIL_PORT": (25, "SMTP port"),
    "MAIL_USERNAME": ("", "SMTP user"),
    "MAIL_PASSWORD": ("", "SMTP password"),
    "MAIL_USE_TLS": (False, "STARTTLS after connecting"),
    "MAIL_DEFAULT_SENDER": ("RepairQC <no-reply@localhost>", "From: header of outgoing mail"),
    "SMS_BACKEND": (
        "console",
        "console (logs texts, not sent) | http (through SMS_GATEWAY_URL) | none | package.module:function",
    ),
    "SMS_GATEWAY_URL": ("", "http backend: the gateway's address (POST JSON to, from, body)"),
    "SMS_GATEWAY_TOKEN": ("", "http backend: sent as Authorization: Bearer <token>"),
    "SMS_SENDER": ("RepairQC", "the sender name or number shown to customers"),
    "PASSWORD_RESET_MAX_AGE": (3600, "seconds a password-reset link stays valid"),
    "UPLOAD_MAX_BYTES": (10 * 1024 * 1024, "largest file accepted as an attachment, in bytes"),
    "STRIPE_SECRET_KEY": ("", "Stripe API key (billing)"),
    "STRIPE_WEBHOOK_SECRET": ("", "Stripe webhook signing secret (billing)"),
    "STRIPE_API_BASE": ("", "override of Stripe's API address, for a local test server"),
    "STRIPE_PRICES": (
        "",
        "Stripe price of each plan and interval: starter:month=price_…,starter:year=price_…,…",
    ),
    "BILLING_GRACE_DAYS": (7, "days a tenant whose payment failed keeps full access before read-only"),
    "BILLING_RETENTION_DAYS": (
        90,
        "days a cancelled tenant's data is kept before the operator may delete it",
    ),
    "EXPORT_DIR": ("", "folder of tenant data exports, shared by web and workers; empty = instance/exports"),
    "EXPORT_RETENTION_DAYS": (30, "days an export archive is kept for download before it is removed"),
    "DATAQUALITY_WINDOW_MONTHS": (12, "months of past orders the anomaly scan compares with (HB §7.1.2)"),
    "DATAQUALITY_MIN_SAMPLE": (
        20,
        "fewest past orders of a device category or state before the anomaly scan flags",
    ),
    "DATAQUALITY_STUCK_FLOOR_HOURS": (
        48,
        "hours an order may stay in one state before it can be flagged stuck",
    ),
    "IMPORT_MAX_ROWS": (
        20000,
        "most data rows one import file may hold (customers, devices, equipment, staff)",
    ),
    "IMPORT_PREVIEW_HOURS": (48, "hours an unconfirmed import keeps its file before it is cancelled"),
    "BACKUP_DIR": ("", "folder of tenant backups, shared by web and workers; empty = instance/backups"),
    "BACKUP_RETENTION_DAYS": (
        14,
        "days a backup file is kept; a tenant's newest successful one is always kept",
    ),
    "SIGNUP_HOLD_HOURS": (24, "hours an address stays reserved for a sign-up at Stripe Checkout"),
    "SUPPORT_SESSION_MINUTES": (30, "longest operator support session into a tenant"),
}


def _parse(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw


def load_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the environment, then `overrides` (tests); validated before returning."""
    config = {key: default for key, (default, _) in DEFAULTS.items()}
    for key, (default, _) in DEFAULTS.items():
        if key in os.environ:
            config[key] = _parse(os.environ[key], default)
    config.update(overrides or {})

    env = config["REPAIRQC_ENV"]
    if env not in {"production", "development", "testing"}:
        raise RuntimeError(f"REPAIRQC_ENV must be production, development or testing, not {env!r}")
    if not config["SECRET_KEY"]:
        if env == "production":
            raise RuntimeError("SECRET_KEY must be set in production (see .env.example)")
        # Development keeps a generated key in the instance folder, so sessions and encrypted
        # fields survive a restart of `make run`; it is never used in production.
        key_file = Path(instance_path) / "dev-secret-key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_hex(32))
        config["SECRET_KEY"] = key_file.read_text().strip()
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = f"sqlite:///{Path(instance_path) / 'repairqc.db'}"
    if not config["TENANT_DATA_DIR"]:
        config["TENANT_DATA_DIR"] = str(Path(instance_path) / "tenants")
    if not config["EXPORT_DIR"]:
        config["EXPORT_DIR"] = str(Path(instance_path) / "exports")
    if config["MAIL_BACKEND"] not in {"smtp", "console"}:
        raise RuntimeError("MAIL_BACKEND must be smtp or console")
    if config["SMS_BACKEND"] not in {"none", "console", "http"} and ":" not in config["SMS_BACKEND"]:
        raise RuntimeError("SMS_BACKEND must be none, console, http or package.module:function")
    if config["SMS_BACKEND"] == "http" and not config["SMS_GATEWAY_URL"]:
        raise RuntimeError("SMS_BACKEND=http needs SMS_GATEWAY_URL")

    config["STRIPE_PRICE_IDS"] = parse_stripe_prices(config["STRIPE_PRICES"])

    # Flask's own names for the settings above.
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["REMEMBER_COOKIE_SECURE"] = config["SESSION_COOKIE_SECURE"]
    config["REMEMBER_COOKIE_HTTPONLY"] = True
    config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    config["TESTING"] = env == "testing"
    config["RATELIMIT_STORAGE_URI"] = config["REDIS_URL"] or "memory://"
    config["RATELIMIT_KEY_PREFIX"] = "repairqc-rl"
    config["BABEL_DEFAULT_LOCALE"] = "en"
    config["BABEL_DEFAULT_TIMEZONE"] = "UTC"
    config["WTF_CSRF_TIME_LIMIT"] = None  # the token lives as long as the session
    # Backstop before anything is spooled to disk: a few attachments plus the form itself.
    config["MAX_CONTENT_LENGTH"] = 4 * config["UPLOAD_MAX_BYTES"] + 1024 * 1024
    return config


def parse_stripe_prices(raw: str) -> dict[tuple[str, str], str]:
    """`starter:month=price_1,starter:year=price_2` → {("starter", "month"): "price_1", ...}."""
    prices: dict[tuple[str, str], str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, _, price = item.partition("=")
        plan, _, interval = key.strip().partition(":")
        if not plan or interval not in {"month", "year"} or not price.strip():
            raise RuntimeError(f"STRIPE_PRICES: {item!r} is not plan:month=price_… or plan:year=price_…")
        prices[(plan, interval)] = price.strip()
    return prices
