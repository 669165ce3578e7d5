"""Placeholder until the JSON API lands (being written now)."""

from flask import Blueprint

bp = Blueprint("repairs_api", __name__, url_prefix="/api/repairs")
