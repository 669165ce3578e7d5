"""Rows of the complaints domain in both seeded tenants (called from tests/conftest.seed_tenant)."""

from __future__ import annotations


def seed(s: str, stores: dict, users: dict) -> None:
    """Nothing yet."""
