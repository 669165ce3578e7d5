"""Improvement suggestions and process reviews (HB §2.3, §5.2.3)

Revision ID: f7b1d5a4ca36
Revises: e6a0c4f3b925
Create Date: 2026-11-25 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'f7b1d5a4ca36'
down_revision: str | Sequence[str] | None = 'e6a0c4f3b925'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ('submitted', 'adopted', 'rejected', 'in_progress', 'implemented', 'reviewed')


def upgrade() -> None:
    op.create_table('process_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('participants', sa.Text(), nullable=False),
    sa.Column('areas', sa.String(length=300), nullable=False),
    sa.Column('findings', sa.Text(), nullable=False),
    sa.Column('decisions', sa.Text(), nullable=False),
    sa.Column('next_review_due_on', sa.Date(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['staff_users.id'], name=op.f('fk_process_reviews_recorded_by_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_reviews'))
    )
    with op.batch_alter_table('process_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_reviews_held_on'), ['held_on'], unique=False)

    op.create_table('improvement_suggestions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('area', sa.Enum('repair_process', 'equipment', 'skills_training', 'customer_service', 'quality_standards', 'other', name='improvementarea', native_enum=False, length=25), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('proposal', sa.Text(), nullable=False),
    sa.Column('source', sa.Enum('staff_idea', 'complaint', 'survey_analysis', 'inspection_finding', 'process_review', 'effect_review', name='suggestionsource', native_enum=False, length=26), nullable=False),
    sa.Column('source_reference', sa.String(length=200), nullable=True),
    sa.Column('status', sa.Enum(*STATUSES, name='suggestionstatus', native_enum=False, length=19), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('responsible_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('plan', sa.Text(), nullable=True),
    sa.Column('implemented_on', sa.Date(), nullable=True),
    sa.Column('implementation_notes', sa.Text(), nullable=True),
    sa.Column('implemented_by_id', sa.Integer(), nullable=True),
    sa.Column('effect_review_due_on', sa.Date(), nullable=True),
    sa.Column('effect_rating', sa.Enum('effective', 'partly_effective', 'not_effective', name='effectrating', native_enum=False, length=24), nullable=True),
    sa.Column('effect_notes', sa.Text(), nullable=True),
    sa.Column('effect_reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('effect_reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('follow_up_of_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['staff_users.id'], name=op.f('fk_improvement_suggestions_decided_by_id_staff_users')),
    sa.ForeignKeyConstraint(['effect_reviewed_by_id'], ['staff_users.id'], name=op.f('fk_improvement_suggestions_effect_reviewed_by_id_staff_users')),
    sa.ForeignKeyConstraint(['follow_up_of_id'], ['improvement_suggestions.id'], name=op.f('fk_improvement_suggestions_follow_up_of_id_improvement_suggestions')),
    sa.ForeignKeyConstraint(['implemented_by_id'], ['staff_users.id'], name=op.f('fk_improvement_suggestions_implemented_by_id_staff_users')),
    sa.ForeignKeyConstraint(['responsible_id'], ['staff_users.id'], name=op.f('fk_improvement_suggestions_responsible_id_staff_users')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_improvement_suggestions_store_id_stores')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['staff_users.id'], name=op.f('fk_improvement_suggestions_submitted_by_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_improvement_suggestions'))
    )
    with op.batch_alter_table('improvement_suggestions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_improvement_suggestions_follow_up_of_id'), ['follow_up_of_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_improvement_suggestions_responsible_id'), ['responsible_id'], unique=False)
        batch_op.create_index('ix_improvement_suggestions_status_due', ['status', 'due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_improvement_suggestions_store_id'), ['store_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_improvement_suggestions_submitted_by_id'), ['submitted_by_id'], unique=False)

    op.create_table('improvement_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.Enum('overdue', 'effect_review', 'process_review', name='reminderkind', native_enum=False, length=22), nullable=False),
    sa.Column('suggestion_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.Column('recipients', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['suggestion_id'], ['improvement_suggestions.id'], name=op.f('fk_improvement_reminders_suggestion_id_improvement_suggestions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_improvement_reminders')),
    sa.UniqueConstraint('key', name=op.f('uq_improvement_reminders_key'))
    )
    with op.batch_alter_table('improvement_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_improvement_reminders_suggestion_id'), ['suggestion_id'], unique=False)

    op.create_table('process_review_suggestions',
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('suggestion_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['process_reviews.id'], name=op.f('fk_process_review_suggestions_review_id_process_reviews'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['suggestion_id'], ['improvement_suggestions.id'], name=op.f('fk_process_review_suggestions_suggestion_id_improvement_suggestions')),
    sa.PrimaryKeyConstraint('review_id', 'suggestion_id', name=op.f('pk_process_review_suggestions'))
    )
    with op.batch_alter_table('process_review_suggestions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_review_suggestions_suggestion_id'), ['suggestion_id'], unique=False)

    op.create_table('suggestion_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('suggestion_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.Enum(*STATUSES, name='suggestionstatus', native_enum=False, length=19), nullable=True),
    sa.Column('to_status', sa.Enum(*STATUSES, name='suggestionstatus', native_enum=False, length=19), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['staff_users.id'], name=op.f('fk_suggestion_events_actor_id_staff_users')),
    sa.ForeignKeyConstraint(['suggestion_id'], ['improvement_suggestions.id'], name=op.f('fk_suggestion_events_suggestion_id_improvement_suggestions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suggestion_events'))
    )
    with op.batch_alter_table('suggestion_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suggestion_events_suggestion_id'), ['suggestion_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('suggestion_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suggestion_events_suggestion_id'))
    op.drop_table('suggestion_events')
    with op.batch_alter_table('process_review_suggestions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_review_suggestions_suggestion_id'))
    op.drop_table('process_review_suggestions')
    with op.batch_alter_table('improvement_reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_improvement_reminders_suggestion_id'))
    op.drop_table('improvement_reminders')
    with op.batch_alter_table('improvement_suggestions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_improvement_suggestions_submitted_by_id'))
        batch_op.drop_index(batch_op.f('ix_improvement_suggestions_store_id'))
        batch_op.drop_index('ix_improvement_suggestions_status_due')
        batch_op.drop_index(batch_op.f('ix_improvement_suggestions_responsible_id'))
        batch_op.drop_index(batch_op.f('ix_improvement_suggestions_follow_up_of_id'))
    op.drop_table('improvement_suggestions')
    with op.batch_alter_table('process_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_reviews_held_on'))
    op.drop_table('process_reviews')
