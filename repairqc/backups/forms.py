"""The one form of the backup screens: a button, with its CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm


class BackUpNowForm(FlaskForm):
    """ "Make a backup now" (owner) and "Back up now" (console): nothing to fill in."""
