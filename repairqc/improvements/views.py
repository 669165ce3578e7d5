"""Screens of the improvements domain."""

from __future__ import annotations


def register_improvements_views(admin) -> None:
    """Add this domain's screens to the admin (none yet)."""
