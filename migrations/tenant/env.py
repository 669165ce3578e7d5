"""Alembic environment of the tenant plane.

Upgrades do not come through here: `repairqc.tenants.migrations` runs revisions directly on an
open connection. This file serves `flask --app repairqc db revision`, which hands it a scratch
database already at head to autogenerate against.
"""

from alembic import context

from repairqc.tenants.migrations import autogenerate_metadata, render_item

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=autogenerate_metadata("tenant"),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
