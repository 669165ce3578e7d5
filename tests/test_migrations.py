"""Two Alembic environments; create-all-and-stamp equals replay; upgrade --all and status."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from repairqc.db import db, unit_of_work
from repairqc.tenants import ddl, migrations, services
from tests.conftest import backend_app

BACKENDS = ["sqlite", "postgresql"]

EXTRA_REVISION = '''"""test: add customers.loyalty_tier"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("loyalty_tier", sa.String(20), nullable=True))
        batch.create_index("ix_customers_loyalty_tier", ["loyalty_tier"])


def downgrade():
    with op.batch_alter_table("customers") as batch:
        batch.drop_index("ix_customers_loyalty_tier")
        batch.drop_column("loyalty_tier")
'''


@pytest.fixture(params=BACKENDS)
def fresh_app(request, tmp_path):
    """An app with its own empty database, for tests that change revisions."""
    with backend_app(request.param, tmp_path) as app, app.app_context():
        yield app


@pytest.fixture
def add_revision(tmp_path, monkeypatch):
    """Call it to switch to a copy of the migrations with one more additive tenant revision."""
    copy = tmp_path / "migrations"

    def add() -> str:
        shutil.copytree(migrations.MIGRATIONS_DIR, copy)
        rev = uuid.uuid4().hex[:12]
        (copy / "tenant" / "versions" / f"zz_{rev}_loyalty.py").write_text(
            EXTRA_REVISION.format(rev=rev, down=migrations.head("tenant"))
        )
        monkeypatch.setattr(migrations, "MIGRATIONS_DIR", copy)
        migrations.script_directory.cache_clear()
        return rev

    yield add
    migrations.script_directory.cache_clear()


def create(slug: str):
    with unit_of_work():
        return services.create_tenant(slug, slug.title())


def schema_snapshot(conn: sa.Connection, schema: str | None) -> dict:
    """Everything the inspector reports about a schema, with names normalised."""
    inspector = sa.inspect(conn)
    snapshot = {}
    for table in sorted(inspector.get_table_names(schema=schema)):
        snapshot[table] = {
            # Sorted: ALTER TABLE ADD COLUMN appends, so order differs from the model's by design.
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table, schema)
            ),
            "pk": inspector.get_pk_constraint(table, schema)["constrained_columns"],
            "fks": sorted(
                (
                    f["name"],
                    tuple(f["constrained_columns"]),
                    f["referred_table"],
                    tuple(f["referred_columns"]),
                )
                for f in inspector.get_foreign_keys(table, schema)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table, schema)
            ),
            "uniques": sorted(
                (u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table, schema)
            ),
            "checks": sorted(c["name"] for c in inspector.get_check_constraints(table, schema)),
        }
    return snapshot


def test_each_plane_has_a_single_head():
    for plane in migrations.PLANES:
        assert len(migrations.script_directory(plane).get_heads()) == 1


def test_create_all_and_stamp_equals_replaying_every_revision(fresh_app):
    """Provisioning builds tenants with create_all + stamp; migrations must build the same."""
    stamped = create(f"d{uuid.uuid4().hex[:6]}")
    if db.backend == "postgresql":
        replayed = "t_999999"
        with db.state.raw_control.begin() as conn:
            ddl.create_schema(conn, replayed)
            ddl.set_local_search_path(conn, replayed)
            migrations.upgrade_connection(conn, "tenant", replayed)
        with db.state.raw_control.connect() as conn:
            built, migrated = schema_snapshot(conn, stamped.schema), schema_snapshot(conn, replayed)
        with db.state.raw_control.begin() as conn:
            ddl.set_local_search_path(conn, replayed)
            diff = compare_metadata(
                MigrationContext.configure(conn), migrations.autogenerate_metadata("tenant")
            )
    else:
        # SQLite provisions from a template built by replay, so compare replay with create_all.
        created = Path(db.state.tenant_dir) / "created.db"
        engine = services.migrator().file_engine(created)
        with engine.begin() as conn:
            migrations.autogenerate_metadata("tenant").create_all(conn)
        template = services.template_file()
        with engine.connect() as conn:
            built = schema_snapshot(conn, None)
        replay_engine = services.migrator().file_engine(template)
        with replay_engine.connect() as conn:
            migrated = schema_snapshot(conn, None)
            diff = compare_metadata(
                MigrationContext.configure(conn), migrations.autogenerate_metadata("tenant")
            )
        engine.dispose()
        replay_engine.dispose()
    migrated.pop("alembic_version", None)
    built.pop("alembic_version", None)
    assert built == migrated
    assert diff == []


def test_status_and_upgrade_all(fresh_app, add_revision):
    """Behind tenants are reported, upgraded, then skipped; status is a deploy gate."""
    runner = fresh_app.test_cli_runner()
    tenants = [create(f"u{n}{uuid.uuid4().hex[:5]}") for n in range(3)]
    assert runner.invoke(args=["tenants", "status"]).exit_code == 0
    extra_revision = add_revision()

    status = runner.invoke(args=["tenants", "status"])
    assert status.exit_code == 1
    assert all(f"behind: {t.slug}" in status.output for t in tenants)

    first = runner.invoke(args=["tenants", "upgrade", "--all"])
    assert first.exit_code == 0, first.output
    assert "3 upgraded, 0 already at head" in first.output
    assert set(services.migrator().revisions([t.schema for t in tenants]).values()) == {extra_revision}

    again = runner.invoke(args=["tenants", "upgrade", "--all", "--jobs", "2"])
    assert "0 upgraded, 3 already at head" in again.output
    assert runner.invoke(args=["tenants", "status"]).exit_code == 0


def test_upgrade_stops_at_first_failure_and_lists_tenants_not_reached(fresh_app, add_revision):
    tenants = [create(f"f{n}{uuid.uuid4().hex[:5]}") for n in range(3)]
    extra_revision = add_revision()
    broken = tenants[0]
    # A revision Alembic does not know: upgrading this tenant must fail.
    if db.backend == "postgresql":
        with db.state.raw_control.begin() as conn:
            ddl.set_local_search_path(conn, broken.schema)
            conn.execute(sa.text("UPDATE alembic_version SET version_num = 'unknownrev'"))
    else:
        engine = services.migrator().file_engine(db.state.tenant_file(broken.schema))
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = 'unknownrev'"))
        engine.dispose()

    result = fresh_app.test_cli_runner().invoke(args=["tenants", "upgrade", "--all"])
    assert result.exit_code == 1
    assert f"FAILED {broken.slug}" in result.output
    assert "not reached (2)" in result.output
    assert all(t.slug in result.output for t in tenants[1:])
    revisions = services.migrator().revisions([t.schema for t in tenants[1:]])
    assert extra_revision not in revisions.values()


def test_upgrade_of_named_tenants_and_unknown_names(fresh_app, add_revision):
    one, two = create(f"n1{uuid.uuid4().hex[:5]}"), create(f"n2{uuid.uuid4().hex[:5]}")
    old_head = migrations.head("tenant")
    extra_revision = add_revision()
    runner = fresh_app.test_cli_runner()
    assert runner.invoke(args=["tenants", "upgrade", one.slug]).exit_code == 0
    assert services.migrator().revisions([one.schema, two.schema]) == {
        one.schema: extra_revision,
        two.schema: old_head,
    }
    missing = runner.invoke(args=["tenants", "upgrade", "no-such-tenant"])
    assert missing.exit_code != 0 and "no such tenant" in missing.output
    both = runner.invoke(args=["tenants", "upgrade", "--all", one.slug])
    assert both.exit_code != 0


def test_new_tenants_start_at_the_new_head(fresh_app, add_revision):
    extra_revision = add_revision()
    tenant = create(f"h{uuid.uuid4().hex[:6]}")
    assert services.migrator().revisions([tenant.schema]) == {tenant.schema: extra_revision}


def test_control_plane_upgrade_is_idempotent(fresh_app):
    migrations.upgrade_control(db.state.raw_control)
    assert migrations.control_revision(db.state.raw_control) == migrations.head("control")


def test_control_plane_migrations_match_the_models(fresh_app):
    with db.state.raw_control.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL search_path TO control")
        diff = compare_metadata(MigrationContext.configure(conn), migrations.autogenerate_metadata("control"))
    assert [d for d in diff if "alembic_version" not in str(d)] == []


def test_revisions_are_read_in_chunks_with_the_same_result(backend, monkeypatch):
    """Chunking bounds the locks one transaction holds; it must not change the answer."""
    schemas = [backend.alpha.ref.schema, backend.beta.ref.schema, "t_999998"]
    with backend.app.app_context():
        whole = services.migrator().revisions(schemas)
        monkeypatch.setattr(migrations, "REVISION_CHUNK", 1)
        assert services.migrator().revisions(schemas) == whole
    assert whole == {
        schemas[0]: migrations.head("tenant"),
        schemas[1]: migrations.head("tenant"),
        "t_999998": None,
    }


REBUILD_REVISION = '''"""test: rebuild staff_users (SQLite copies the table and drops the old one)"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    recreate = "always" if op.get_bind().dialect.name == "sqlite" else "auto"
    with op.batch_alter_table("staff_users", recreate=recreate) as batch:
        batch.add_column(sa.Column("nickname", sa.String(40), nullable=True))
        batch.alter_column("phone", type_=sa.String(60))


def downgrade():
    pass
'''


def test_a_table_rebuild_keeps_the_rows_that_refer_to_it(fresh_app, tmp_path, monkeypatch):
    """With foreign keys on, SQLite's DROP of the old table would cascade to role assignments."""
    from repairqc.accounts.models import Role, RoleAssignment
    from repairqc.accounts.services import create_staff_user
    from repairqc.db import tenant_context

    with unit_of_work():
        tenant = services.create_tenant(
            f"r{uuid.uuid4().hex[:6]}",
            "Rebuild",
            seed=lambda: create_staff_user(
                "o@r.example.com", "O", "a-long-password", roles=[(Role.OWNER, None)]
            ),
        )
    copy = tmp_path / "rebuild-migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, copy)
    rev = uuid.uuid4().hex[:12]
    (copy / "tenant" / "versions" / f"zz_{rev}_rebuild.py").write_text(
        REBUILD_REVISION.format(rev=rev, down=migrations.head("tenant"))
    )
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", copy)
    migrations.script_directory.cache_clear()
    try:
        services.migrator().upgrade(tenant.schema)
    finally:
        migrations.script_directory.cache_clear()
    db.state.forget_tenant(tenant.schema)
    with tenant_context(tenant.ref):
        assert db.session.execute(sa.select(sa.func.count()).select_from(RoleAssignment)).scalar() == 1
        db.session.remove()


@pytest.mark.parametrize("fresh_app", ["sqlite"], indirect=True)  # only SQLite keeps tenants in files
def test_a_missing_sqlite_tenant_file_is_never_recreated(fresh_app, add_revision):
    tenant = create(f"m{uuid.uuid4().hex[:6]}")
    path = db.state.tenant_file(tenant.schema)
    db.state.forget_tenant(tenant.schema)
    path.rename(path.with_suffix(".lost"))
    page = fresh_app.test_client().post(
        "/login",
        base_url=f"http://{tenant.slug}.localhost",
        data={"email": "a@b.example.com", "password": "x"},
    )
    assert page.status_code == 503 and "temporarily unavailable" in page.text
    add_revision()
    result = fresh_app.test_cli_runner().invoke(args=["tenants", "upgrade", "--all"])
    assert result.exit_code == 1 and f"FAILED {tenant.slug}" in result.output and "missing" in result.output
    assert not path.exists()
    assert fresh_app.test_cli_runner().invoke(args=["tenants", "status"]).exit_code == 1
