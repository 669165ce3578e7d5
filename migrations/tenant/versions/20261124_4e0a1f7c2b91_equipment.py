"""Equipment register, procurement, maintenance, calibration, retirement (HB ch.4)

Revision ID: 4e0a1f7c2b91
Revises: 20901f4b4ad6
Create Date: 2026-11-24 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '4e0a1f7c2b91'
down_revision: str | Sequence[str] | None = '20901f4b4ad6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ### written by hand to match repairqc/equipment/models.py (the layout autogenerate gives) ###
    op.create_table('procurement_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('equipment_type', sa.String(length=40), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('needs', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('comparing', 'approved', 'rejected', 'acceptance_failed', 'accepted', name='procurementstatus', native_enum=False, length=25), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('checked_by_id', sa.Integer(), nullable=True),
    sa.Column('checked_on', sa.Date(), nullable=True),
    sa.Column('acceptance_notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['checked_by_id'], ['staff_users.id'], name=op.f('fk_procurement_requests_checked_by_id_staff_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['staff_users.id'], name=op.f('fk_procurement_requests_decided_by_id_staff_users')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['staff_users.id'], name=op.f('fk_procurement_requests_requested_by_id_staff_users')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_procurement_requests_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_procurement_requests'))
    )
    with op.batch_alter_table('procurement_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_procurement_requests_store_id'), ['store_id'], unique=False)

    op.create_table('equipment_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('asset_tag', sa.String(length=40), nullable=False),
    sa.Column('asset_tag_key', sa.String(length=40), nullable=False),
    sa.Column('equipment_type', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('brand', sa.String(length=100), nullable=True),
    sa.Column('model', sa.String(length=100), nullable=True),
    sa.Column('serial_number', sa.String(length=100), nullable=True),
    sa.Column('supplier', sa.String(length=200), nullable=True),
    sa.Column('purchased_on', sa.Date(), nullable=True),
    sa.Column('price_cents', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('in_service', 'under_maintenance', 'out_of_service', 'retired', name='equipmentstatus', native_enum=False, length=25), nullable=False),
    sa.Column('in_service_on', sa.Date(), nullable=False),
    sa.Column('last_maintenance_on', sa.Date(), nullable=True),
    sa.Column('next_maintenance_due_on', sa.Date(), nullable=True),
    sa.Column('last_full_inspection_on', sa.Date(), nullable=True),
    sa.Column('next_full_inspection_due_on', sa.Date(), nullable=True),
    sa.Column('last_calibration_on', sa.Date(), nullable=True),
    sa.Column('next_calibration_due_on', sa.Date(), nullable=True),
    sa.Column('first_calibration_due_on', sa.Date(), nullable=True),
    sa.Column('procurement_id', sa.Integer(), nullable=True),
    sa.Column('retired_on', sa.Date(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['procurement_id'], ['procurement_requests.id'], name=op.f('fk_equipment_items_procurement_id_procurement_requests')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_equipment_items_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_equipment_items')),
    sa.UniqueConstraint('asset_tag_key', name=op.f('uq_equipment_items_asset_tag_key'))
    )
    with op.batch_alter_table('equipment_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_equipment_items_procurement_id'), ['procurement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_equipment_items_store_id'), ['store_id'], unique=False)
        batch_op.create_index('ix_equipment_items_store_status', ['store_id', 'status'], unique=False)

    op.create_table('procurement_options',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('brand', sa.String(length=100), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('supplier', sa.String(length=200), nullable=False),
    sa.Column('unit_price_cents', sa.Integer(), nullable=False),
    sa.Column('after_sales', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('chosen', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['procurement_requests.id'], name=op.f('fk_procurement_options_request_id_procurement_requests')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_procurement_options_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_procurement_options'))
    )
    with op.batch_alter_table('procurement_options', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_procurement_options_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_procurement_options_store_id'), ['store_id'], unique=False)

    op.create_table('calibration_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('calibrated_on', sa.Date(), nullable=False),
    sa.Column('certificate_number', sa.String(length=100), nullable=False),
    sa.Column('calibrating_body', sa.String(length=200), nullable=False),
    sa.Column('result', sa.Enum('passed', 'adjusted', 'failed', name='calibrationresult', native_enum=False, length=16), nullable=False),
    sa.Column('next_due_on', sa.Date(), nullable=True),
    sa.Column('certificate_file_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['certificate_file_id'], ['stored_files.id'], name=op.f('fk_calibration_records_certificate_file_id_stored_files')),
    sa.ForeignKeyConstraint(['item_id'], ['equipment_items.id'], name=op.f('fk_calibration_records_item_id_equipment_items')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['staff_users.id'], name=op.f('fk_calibration_records_recorded_by_id_staff_users')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_calibration_records_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration_records'))
    )
    with op.batch_alter_table('calibration_records', schema=None) as batch_op:
        batch_op.create_index('ix_calibration_records_item_calibrated', ['item_id', 'calibrated_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_calibration_records_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calibration_records_store_id'), ['store_id'], unique=False)

    op.create_table('equipment_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('manual', 'invoice', 'certificate', 'other', name='documentkind', native_enum=False, length=19), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['staff_users.id'], name=op.f('fk_equipment_documents_added_by_id_staff_users')),
    sa.ForeignKeyConstraint(['file_id'], ['stored_files.id'], name=op.f('fk_equipment_documents_file_id_stored_files')),
    sa.ForeignKeyConstraint(['item_id'], ['equipment_items.id'], name=op.f('fk_equipment_documents_item_id_equipment_items')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_equipment_documents_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_equipment_documents'))
    )
    with op.batch_alter_table('equipment_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_equipment_documents_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_equipment_documents_store_id'), ['store_id'], unique=False)

    op.create_table('equipment_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.Enum('in_service', 'under_maintenance', 'out_of_service', 'retired', name='equipmentstatus', native_enum=False, length=25), nullable=True),
    sa.Column('to_status', sa.Enum('in_service', 'under_maintenance', 'out_of_service', 'retired', name='equipmentstatus', native_enum=False, length=25), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['staff_users.id'], name=op.f('fk_equipment_events_actor_id_staff_users')),
    sa.ForeignKeyConstraint(['item_id'], ['equipment_items.id'], name=op.f('fk_equipment_events_item_id_equipment_items')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_equipment_events_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_equipment_events'))
    )
    with op.batch_alter_table('equipment_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_equipment_events_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_equipment_events_store_id'), ['store_id'], unique=False)

    op.create_table('equipment_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('maintenance', 'full_inspection', 'calibration', name='reminderkind', native_enum=False, length=23), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.Column('recipients', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['equipment_items.id'], name=op.f('fk_equipment_reminders_item_id_equipment_items')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_equipment_reminders_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_equipment_reminders')),
    sa.UniqueConstraint('item_id', 'kind', 'due_on', name=op.f('uq_equipment_reminders_item_id_kind_due_on'))
    )
    with op.batch_alter_table('equipment_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_equipment_reminders_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_equipment_reminders_store_id'), ['store_id'], unique=False)

    op.create_table('maintenance_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('daily_care', 'full_inspection', 'failure_repair', name='maintenancekind', native_enum=False, length=23), nullable=False),
    sa.Column('performed_on', sa.Date(), nullable=False),
    sa.Column('performed_by_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('inspected', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('cleaned', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('lubricated', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('tightened', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('result', sa.Enum('ok', 'problems_fixed', 'problems_open', 'repaired', 'not_repairable', name='maintenanceresult', native_enum=False, length=22), nullable=True),
    sa.Column('problems', sa.Text(), nullable=True),
    sa.Column('cost_cents', sa.Integer(), nullable=True),
    sa.Column('completed_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['equipment_items.id'], name=op.f('fk_maintenance_records_item_id_equipment_items')),
    sa.ForeignKeyConstraint(['performed_by_id'], ['staff_users.id'], name=op.f('fk_maintenance_records_performed_by_id_staff_users')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_maintenance_records_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maintenance_records'))
    )
    with op.batch_alter_table('maintenance_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_maintenance_records_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_maintenance_records_store_id'), ['store_id'], unique=False)
        batch_op.create_index('ix_maintenance_records_store_performed', ['store_id', 'performed_on'], unique=False)

    op.create_table('retirement_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('assessed', 'planned', 'approved', 'rejected', 'disposed', name='retirementstatus', native_enum=False, length=16), nullable=False),
    sa.Column('reason', sa.Enum('technical_progress', 'end_of_life', 'repair_cost', 'environmental', 'other', name='retirementreason', native_enum=False, length=26), nullable=False),
    sa.Column('condition', sa.Text(), nullable=False),
    sa.Column('assessed_by_id', sa.Integer(), nullable=True),
    sa.Column('assessed_on', sa.Date(), nullable=False),
    sa.Column('planned_on', sa.Date(), nullable=True),
    sa.Column('disposal_method', sa.Enum('recycling', 'return_to_supplier', 'resale', 'donation', 'scrapping', name='disposalmethod', native_enum=False, length=26), nullable=True),
    sa.Column('plan_notes', sa.Text(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('disposed_on', sa.Date(), nullable=True),
    sa.Column('disposal_record', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assessed_by_id'], ['staff_users.id'], name=op.f('fk_retirement_requests_assessed_by_id_staff_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['staff_users.id'], name=op.f('fk_retirement_requests_decided_by_id_staff_users')),
    sa.ForeignKeyConstraint(['item_id'], ['equipment_items.id'], name=op.f('fk_retirement_requests_item_id_equipment_items')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_retirement_requests_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retirement_requests'))
    )
    with op.batch_alter_table('retirement_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retirement_requests_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_retirement_requests_store_id'), ['store_id'], unique=False)

    op.create_table('work_log_equipment',
    sa.Column('work_log_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['equipment_items.id'], name=op.f('fk_work_log_equipment_item_id_equipment_items')),
    sa.ForeignKeyConstraint(['work_log_id'], ['work_logs.id'], name=op.f('fk_work_log_equipment_work_log_id_work_logs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('work_log_id', 'item_id', name=op.f('pk_work_log_equipment'))
    )
    with op.batch_alter_table('work_log_equipment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_log_equipment_item_id'), ['item_id'], unique=False)

    # ### end Alembic commands ###


def downgrade() -> None:
    # ### written by hand to match repairqc/equipment/models.py (the layout autogenerate gives) ###
    with op.batch_alter_table('work_log_equipment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_log_equipment_item_id'))

    op.drop_table('work_log_equipment')
    with op.batch_alter_table('retirement_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retirement_requests_store_id'))
        batch_op.drop_index(batch_op.f('ix_retirement_requests_item_id'))

    op.drop_table('retirement_requests')
    with op.batch_alter_table('maintenance_records', schema=None) as batch_op:
        batch_op.drop_index('ix_maintenance_records_store_performed')
        batch_op.drop_index(batch_op.f('ix_maintenance_records_store_id'))
        batch_op.drop_index(batch_op.f('ix_maintenance_records_item_id'))

    op.drop_table('maintenance_records')
    with op.batch_alter_table('equipment_reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_equipment_reminders_store_id'))
        batch_op.drop_index(batch_op.f('ix_equipment_reminders_item_id'))

    op.drop_table('equipment_reminders')
    with op.batch_alter_table('equipment_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_equipment_events_store_id'))
        batch_op.drop_index(batch_op.f('ix_equipment_events_item_id'))

    op.drop_table('equipment_events')
    with op.batch_alter_table('equipment_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_equipment_documents_store_id'))
        batch_op.drop_index(batch_op.f('ix_equipment_documents_item_id'))

    op.drop_table('equipment_documents')
    with op.batch_alter_table('calibration_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calibration_records_store_id'))
        batch_op.drop_index(batch_op.f('ix_calibration_records_item_id'))
        batch_op.drop_index('ix_calibration_records_item_calibrated')

    op.drop_table('calibration_records')
    with op.batch_alter_table('procurement_options', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_procurement_options_store_id'))
        batch_op.drop_index(batch_op.f('ix_procurement_options_request_id'))

    op.drop_table('procurement_options')
    with op.batch_alter_table('equipment_items', schema=None) as batch_op:
        batch_op.drop_index('ix_equipment_items_store_status')
        batch_op.drop_index(batch_op.f('ix_equipment_items_store_id'))
        batch_op.drop_index(batch_op.f('ix_equipment_items_procurement_id'))

    op.drop_table('equipment_items')
    with op.batch_alter_table('procurement_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_procurement_requests_store_id'))

    op.drop_table('procurement_requests')
    # ### end Alembic commands ###
