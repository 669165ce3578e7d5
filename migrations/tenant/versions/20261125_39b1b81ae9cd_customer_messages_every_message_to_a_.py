"""Customer messages: every message to a customer, once per event

Revision ID: 39b1b81ae9cd
Revises: a93c5e17d2f8
Create Date: 2026-11-25 00:56:16.303167
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '39b1b81ae9cd'
down_revision: str | Sequence[str] | None = 'a93c5e17d2f8'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('customer_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('event_key', sa.String(length=160), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.Enum('email', 'sms', name='messagechannel', native_enum=False, length=13), nullable=True),
    sa.Column('recipient', sa.Text(), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'sent', 'no_channel', name='messagestatus', native_enum=False, length=18), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_messages_customer_id_customers')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_customer_messages_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_messages')),
    sa.UniqueConstraint('event_key', name=op.f('uq_customer_messages_event_key'))
    )
    with op.batch_alter_table('customer_messages', schema=None) as batch_op:
        batch_op.create_index('ix_customer_messages_customer_created', ['customer_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_messages_purpose'), ['purpose'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_messages_store_id'), ['store_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('customer_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_messages_store_id'))
        batch_op.drop_index(batch_op.f('ix_customer_messages_purpose'))
        batch_op.drop_index('ix_customer_messages_customer_created')

    op.drop_table('customer_messages')
