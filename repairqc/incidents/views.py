"""Screens of the incidents domain."""

from __future__ import annotations


def register_incidents_views(admin) -> None:
    """Add this domain's screens to the admin (none yet)."""
