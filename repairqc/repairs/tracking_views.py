"""Placeholder until its screen lands (being written now)."""

from flask import Blueprint

bp = Blueprint("tracking", __name__)
