"""Alembic environment of the tenant plane; used only by `flask --app repairqc db revision`.

Upgrades do not come through here: `repairqc.tenants.migrations` runs revisions directly on an
open connection.
"""

from repairqc.tenants.migrations import run_autogenerate_env

run_autogenerate_env("tenant")
