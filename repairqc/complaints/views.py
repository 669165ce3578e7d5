"""Screens of the complaints domain."""

from __future__ import annotations


def register_complaints_views(admin) -> None:
    """Add this domain's screens to the admin (none yet)."""
