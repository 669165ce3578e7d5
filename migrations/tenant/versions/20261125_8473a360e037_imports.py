"""Import runs: customers, devices, equipment, staff from CSV/XLSX (HB §7.1.1)

Revision ID: 8473a360e037
Revises: 75f09be72999
Create Date: 2026-11-25 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8473a360e037"
down_revision: str | Sequence[str] | None = "75f09be72999"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "customers", "devices", "equipment", "staff", name="importkind", native_enum=False, length=17
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "previewed",
                "imported",
                "failed",
                "cancelled",
                name="importstatus",
                native_enum=False,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("store_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("encoding", sa.String(length=20), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("problem_count", sa.Integer(), nullable=False),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("updated_count", sa.Integer(), nullable=False),
        sa.Column("unchanged_count", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["finished_by_id"], ["staff_users.id"], name=op.f("fk_import_runs_finished_by_id_staff_users")
        ),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_import_runs_store_id_stores")),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"], ["staff_users.id"], name=op.f("fk_import_runs_uploaded_by_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
    )
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_runs_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_import_runs_store_id"), ["store_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_import_runs_uploaded_by_id"), ["uploaded_by_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_runs_uploaded_by_id"))
        batch_op.drop_index(batch_op.f("ix_import_runs_store_id"))
        batch_op.drop_index(batch_op.f("ix_import_runs_sha256"))

    op.drop_table("import_runs")
