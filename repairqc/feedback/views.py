"""Screens of the feedback domain."""

from __future__ import annotations


def register_feedback_views(admin) -> None:
    """Add this domain's screens to the admin (none yet)."""
