"""Domain errors and the one place that turns errors into pages (no 500 for bad input)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from repairqc.db import TenantStorageMissing

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Link:
    """Where the user can go to do something about a refusal (the billing page for a limit)."""

    url: str
    label: str


class DomainError(Exception):
    """A rule of the business was broken; the message is shown to the user as it is, with
    `link` (when given) as the way out."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, link: Link | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.link = link


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class FormInvalid(DomainError):
    """Input that could not be read (a garbage date or number, a field too long): 400, nothing
    saved. `fields` maps a form field's name to its messages, so the page shows each on its field.
    """

    def __init__(self, fields: Mapping[str, Iterable[str]]) -> None:
        # str(): validators may give lazy strings, which " ".join() refuses.
        self.fields = {
            name: [str(message) for message in messages]
            for name, messages in fields.items()
            if name != "csrf_token"
        }
        messages = [message for messages in self.fields.values() for message in messages]
        if not messages:  # only the CSRF token was wrong
            messages = [_("The form expired or was sent from another page. Reload it and try again.")]
        super().__init__(" ".join(messages), field=next(iter(self.fields), None))


def refusal_text(error: DomainError) -> str | Markup:
    """The message with its link, for a flash or a form field (the message itself is escaped)."""
    if error.link is None:
        return error.message
    return Markup('{} <a href="{}" class="alert-link" data-testid="refusal-link">{}</a>').format(
        error.message, error.link.url, error.link.label
    )


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        if _wants_json():
            link = exc.link.url if exc.link else None
            return jsonify(error=exc.message, field=exc.field, link=link), exc.status_code
        return render_template(
            "errors/error.html", code=exc.status_code, message=exc.message, link=exc.link
        ), exc.status_code

    @app.errorhandler(sa.exc.DataError)
    @app.errorhandler(OverflowError)
    def _bad_value(exc: Exception):
        # A value the database cannot store or compare (an id beyond the integer range, ...).
        from repairqc.db import db

        db.session.rollback()
        message = _("A value in the request is out of range or of the wrong kind.")
        return render_template("errors/error.html", code=400, message=message), 400

    @app.errorhandler(StaleDataError)
    def _stale(exc: StaleDataError):
        # Two saves of one versioned row raced; the later one lost (workflow screens, admin).
        from repairqc.db import db

        db.session.rollback()
        message = _(
            "Someone else changed this record at the same time. Nothing was saved; reload and try again."
        )
        if _wants_json():
            return jsonify(error=message), 409
        return render_template("errors/error.html", code=409, message=message), 409

    @app.errorhandler(TenantStorageMissing)
    def _storage_missing(exc: TenantStorageMissing):
        logger.error("%s", exc)
        message = _("This account's data is temporarily unavailable. The operators have been told.")
        return render_template("errors/error.html", code=503, message=message), 503

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        message = _("The form expired or was sent from another page. Go back, reload it and try again.")
        return render_template("errors/error.html", code=400, message=message), 400

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if _wants_json():
            return jsonify(error=exc.name), exc.code
        messages = {
            400: _("The request could not be understood. Go back and try again."),
            401: _("Sign in to open this page."),
            403: _("You do not have permission to open this page."),
            404: _("There is nothing at this address."),
            405: _("This address does not accept that kind of request."),
            409: _("Someone else changed this record at the same time. Reload the page and try again."),
            429: _("Too many attempts. Wait a minute and try again."),
            500: _("Something went wrong on our side. The error is logged; try again in a moment."),
        }
        message = messages.get(exc.code or 500, messages[500] if (exc.code or 500) >= 500 else messages[400])
        return render_template("errors/error.html", code=exc.code, message=message), exc.code
