"""Training programmes, sessions, enrolments, exams, certificates, evaluations (HB ch.3)

Revision ID: 7d2b9e4a0c13
Revises: 4e0a1f7c2b91
Create Date: 2026-11-24 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '7d2b9e4a0c13'
down_revision: str | Sequence[str] | None = '4e0a1f7c2b91'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('training_exam_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=100), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('options', sa.Text(), nullable=False),
    sa.Column('correct_option', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_exam_questions'))
    )
    op.create_index(op.f('ix_training_exam_questions_topic'), 'training_exam_questions', ['topic'], unique=False)
    op.create_table('training_programmes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('new_hire', 'in_service', 'retraining', name='programmekind', native_enum=False, length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('topics', sa.Text(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_programmes'))
    )
    op.create_table('training_exams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('theory', 'practical', name='examkind', native_enum=False, length=17), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=True),
    sa.Column('topic', sa.String(length=100), nullable=True),
    sa.Column('question_count', sa.Integer(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('instructions', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['programme_id'], ['training_programmes.id'], name=op.f('fk_training_exams_programme_id_training_programmes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_exams'))
    )
    op.create_index(op.f('ix_training_exams_programme_id'), 'training_exams', ['programme_id'], unique=False)
    op.create_table('training_practical_criteria',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('exam_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('max_points', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['exam_id'], ['training_exams.id'], name=op.f('fk_training_practical_criteria_exam_id_training_exams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_practical_criteria'))
    )
    op.create_index(op.f('ix_training_practical_criteria_exam_id'), 'training_practical_criteria', ['exam_id'], unique=False)
    op.create_table('training_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('trainer_id', sa.Integer(), nullable=True),
    sa.Column('place', sa.String(length=300), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('planned', 'completed', 'cancelled', name='sessionstatus', native_enum=False, length=17), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_training_sessions_dates_in_order')),
    sa.ForeignKeyConstraint(['programme_id'], ['training_programmes.id'], name=op.f('fk_training_sessions_programme_id_training_programmes')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_training_sessions_store_id_stores')),
    sa.ForeignKeyConstraint(['trainer_id'], ['staff_users.id'], name=op.f('fk_training_sessions_trainer_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_sessions'))
    )
    op.create_index(op.f('ix_training_sessions_programme_id'), 'training_sessions', ['programme_id'], unique=False)
    op.create_index(op.f('ix_training_sessions_store_id'), 'training_sessions', ['store_id'], unique=False)
    op.create_index(op.f('ix_training_sessions_trainer_id'), 'training_sessions', ['trainer_id'], unique=False)
    op.create_table('training_certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('vocational', 'internal', name='certificatekind', native_enum=False, length=18), nullable=False),
    sa.Column('device_category', sa.String(length=40), nullable=False),
    sa.Column('number', sa.String(length=100), nullable=False),
    sa.Column('issuer', sa.String(length=200), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('file_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('reminded_for', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('expires_on IS NULL OR expires_on >= issued_on', name=op.f('ck_training_certificates_dates_in_order')),
    sa.ForeignKeyConstraint(['file_id'], ['stored_files.id'], name=op.f('fk_training_certificates_file_id_stored_files')),
    sa.ForeignKeyConstraint(['holder_id'], ['staff_users.id'], name=op.f('fk_training_certificates_holder_id_staff_users')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_training_certificates_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_certificates'))
    )
    op.create_index('ix_training_certificates_holder_category', 'training_certificates', ['holder_id', 'device_category'], unique=False)
    op.create_index(op.f('ix_training_certificates_holder_id'), 'training_certificates', ['holder_id'], unique=False)
    op.create_index(op.f('ix_training_certificates_store_id'), 'training_certificates', ['store_id'], unique=False)
    op.create_table('training_enrolments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('waiting', 'enrolled', 'completed', 'not_completed', 'withdrawn', name='enrolmentstatus', native_enum=False, length=21), nullable=False),
    sa.Column('enrolled_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('attendance', sa.Enum('attended', 'absent', 'excused', name='attendance', native_enum=False, length=16), nullable=True),
    sa.Column('completed_on', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['programme_id'], ['training_programmes.id'], name=op.f('fk_training_enrolments_programme_id_training_programmes')),
    sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], name=op.f('fk_training_enrolments_session_id_training_sessions')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_training_enrolments_store_id_stores')),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_training_enrolments_user_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_enrolments')),
    sa.UniqueConstraint('session_id', 'user_id', name=op.f('uq_training_enrolments_session_id_user_id'))
    )
    op.create_index('ix_training_enrolments_programme_status', 'training_enrolments', ['programme_id', 'status'], unique=False)
    op.create_index(op.f('ix_training_enrolments_session_id'), 'training_enrolments', ['session_id'], unique=False)
    op.create_index(op.f('ix_training_enrolments_store_id'), 'training_enrolments', ['store_id'], unique=False)
    op.create_index(op.f('ix_training_enrolments_user_id'), 'training_enrolments', ['user_id'], unique=False)
    op.create_table('training_evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('offset_months', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('assessor_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('due', 'done', name='evaluationstatus', native_enum=False, length=12), nullable=False),
    sa.Column('reminded_on', sa.Date(), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('remarks', sa.Text(), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assessor_id'], ['staff_users.id'], name=op.f('fk_training_evaluations_assessor_id_staff_users')),
    sa.ForeignKeyConstraint(['enrolment_id'], ['training_enrolments.id'], name=op.f('fk_training_evaluations_enrolment_id_training_enrolments')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_training_evaluations_store_id_stores')),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_training_evaluations_user_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_evaluations')),
    sa.UniqueConstraint('enrolment_id', 'offset_months', name=op.f('uq_training_evaluations_enrolment_id_offset_months'))
    )
    op.create_index(op.f('ix_training_evaluations_enrolment_id'), 'training_evaluations', ['enrolment_id'], unique=False)
    op.create_index(op.f('ix_training_evaluations_user_id'), 'training_evaluations', ['user_id'], unique=False)
    op.create_table('training_exam_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('exam_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('enrolment_id', sa.Integer(), nullable=True),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('in_progress', 'passed', 'failed', 'expired', name='attemptstatus', native_enum=False, length=19), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pass_mark', sa.Double(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('score', sa.Double(), nullable=True),
    sa.Column('assessor_id', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assessor_id'], ['staff_users.id'], name=op.f('fk_training_exam_attempts_assessor_id_staff_users')),
    sa.ForeignKeyConstraint(['enrolment_id'], ['training_enrolments.id'], name=op.f('fk_training_exam_attempts_enrolment_id_training_enrolments')),
    sa.ForeignKeyConstraint(['exam_id'], ['training_exams.id'], name=op.f('fk_training_exam_attempts_exam_id_training_exams')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_training_exam_attempts_store_id_stores')),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_training_exam_attempts_user_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_exam_attempts')),
    sa.UniqueConstraint('exam_id', 'user_id', 'number', name=op.f('uq_training_exam_attempts_exam_id_user_id_number'))
    )
    op.create_index(op.f('ix_training_exam_attempts_exam_id'), 'training_exam_attempts', ['exam_id'], unique=False)
    op.create_index(op.f('ix_training_exam_attempts_user_id'), 'training_exam_attempts', ['user_id'], unique=False)
    op.create_table('training_retrainings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Enum('exam_failed', 'assessment_failed', 'evaluation', 'other', name='retrainingreason', native_enum=False, length=25), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('open', 'enrolled', 'completed', 'cancelled', name='retrainingstatus', native_enum=False, length=17), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('enrolment_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['enrolment_id'], ['training_enrolments.id'], name=op.f('fk_training_retrainings_enrolment_id_training_enrolments')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['staff_users.id'], name=op.f('fk_training_retrainings_opened_by_id_staff_users')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_training_retrainings_store_id_stores')),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_training_retrainings_user_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_retrainings'))
    )
    op.create_index(op.f('ix_training_retrainings_user_id'), 'training_retrainings', ['user_id'], unique=False)
    op.create_table('training_exam_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attempt_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('options', sa.Text(), nullable=False),
    sa.Column('correct_option', sa.Integer(), nullable=False),
    sa.Column('chosen_option', sa.Integer(), nullable=True),
    sa.Column('correct', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['attempt_id'], ['training_exam_attempts.id'], name=op.f('fk_training_exam_answers_attempt_id_training_exam_attempts')),
    sa.ForeignKeyConstraint(['question_id'], ['training_exam_questions.id'], name=op.f('fk_training_exam_answers_question_id_training_exam_questions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_exam_answers')),
    sa.UniqueConstraint('attempt_id', 'position', name=op.f('uq_training_exam_answers_attempt_id_position'))
    )
    op.create_index(op.f('ix_training_exam_answers_attempt_id'), 'training_exam_answers', ['attempt_id'], unique=False)
    op.create_table('training_practical_scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attempt_id', sa.Integer(), nullable=False),
    sa.Column('criterion_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('max_points', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['training_exam_attempts.id'], name=op.f('fk_training_practical_scores_attempt_id_training_exam_attempts')),
    sa.ForeignKeyConstraint(['criterion_id'], ['training_practical_criteria.id'], name=op.f('fk_training_practical_scores_criterion_id_training_practical_criteria')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_practical_scores')),
    sa.UniqueConstraint('attempt_id', 'criterion_id', name=op.f('uq_training_practical_scores_attempt_id_criterion_id'))
    )
    op.create_index(op.f('ix_training_practical_scores_attempt_id'), 'training_practical_scores', ['attempt_id'], unique=False)
    transitional_certificates()


#: Existing technicians keep working the day this revision lands (HB §5.1.3(1) gates assignment).
TRANSITIONAL_DAYS = 90
TRANSITIONAL_ISSUER = 'RepairQC upgrade (transitional)'
TRANSITIONAL_NUMBER = 'TRANSITIONAL'
TRANSITIONAL_NOTE = (
    'Made by the upgrade that introduced certificates, so that a technician already working on '
    'orders of this category is not refused them. HR: record the real certificate (with its scan) '
    'before this one expires.'
)


def transitional_certificates() -> None:
    """Data step: every user holding a technician role gets a transitional internal certificate
    for each device category of the orders they are or were the technician of, valid from today
    for TRANSITIONAL_DAYS days (issue #7 review, finding 3). Plain SQL for SQLite and PostgreSQL;
    the tenant's schema is the connection's search path, as for every tenant revision. The
    certificate's store is the person's home store (their lowest store id), as the service does."""
    from datetime import timedelta

    from repairqc.db import UTCDateTime, utcnow

    now = utcnow()
    insert = sa.text(
        "INSERT INTO training_certificates (holder_id, store_id, kind, device_category, number, issuer, "
        "issued_on, expires_on, notes, created_at, updated_at, version) "
        "SELECT pairs.user_id, "
        "(SELECT min(h.store_id) FROM role_assignments h WHERE h.user_id = pairs.user_id "
        "AND h.store_id IS NOT NULL), "
        "'internal', pairs.category, :number, :issuer, :issued_on, :expires_on, :notes, :now, :now, 1 "
        "FROM (SELECT DISTINCT o.technician_id AS user_id, d.category AS category "
        "FROM repair_orders o JOIN devices d ON d.id = o.device_id "
        "WHERE o.technician_id IN (SELECT r.user_id FROM role_assignments r WHERE r.role = 'technician')"
        ") pairs"
    ).bindparams(
        sa.bindparam('issued_on', now.date(), type_=sa.Date()),
        sa.bindparam('expires_on', now.date() + timedelta(days=TRANSITIONAL_DAYS), type_=sa.Date()),
        sa.bindparam('now', now, type_=UTCDateTime()),
        sa.bindparam('number', TRANSITIONAL_NUMBER, type_=sa.String()),
        sa.bindparam('issuer', TRANSITIONAL_ISSUER, type_=sa.String()),
        sa.bindparam('notes', TRANSITIONAL_NOTE, type_=sa.Text()),
    )
    op.get_bind().execute(insert)


def downgrade() -> None:
    op.drop_index(op.f('ix_training_practical_scores_attempt_id'), table_name='training_practical_scores')
    op.drop_table('training_practical_scores')
    op.drop_index(op.f('ix_training_exam_answers_attempt_id'), table_name='training_exam_answers')
    op.drop_table('training_exam_answers')
    op.drop_index(op.f('ix_training_retrainings_user_id'), table_name='training_retrainings')
    op.drop_table('training_retrainings')
    op.drop_index(op.f('ix_training_exam_attempts_user_id'), table_name='training_exam_attempts')
    op.drop_index(op.f('ix_training_exam_attempts_exam_id'), table_name='training_exam_attempts')
    op.drop_table('training_exam_attempts')
    op.drop_index(op.f('ix_training_evaluations_user_id'), table_name='training_evaluations')
    op.drop_index(op.f('ix_training_evaluations_enrolment_id'), table_name='training_evaluations')
    op.drop_table('training_evaluations')
    op.drop_index(op.f('ix_training_enrolments_user_id'), table_name='training_enrolments')
    op.drop_index(op.f('ix_training_enrolments_store_id'), table_name='training_enrolments')
    op.drop_index(op.f('ix_training_enrolments_session_id'), table_name='training_enrolments')
    op.drop_index('ix_training_enrolments_programme_status', table_name='training_enrolments')
    op.drop_table('training_enrolments')
    op.drop_index(op.f('ix_training_certificates_store_id'), table_name='training_certificates')
    op.drop_index(op.f('ix_training_certificates_holder_id'), table_name='training_certificates')
    op.drop_index('ix_training_certificates_holder_category', table_name='training_certificates')
    op.drop_table('training_certificates')
    op.drop_index(op.f('ix_training_sessions_trainer_id'), table_name='training_sessions')
    op.drop_index(op.f('ix_training_sessions_store_id'), table_name='training_sessions')
    op.drop_index(op.f('ix_training_sessions_programme_id'), table_name='training_sessions')
    op.drop_table('training_sessions')
    op.drop_index(op.f('ix_training_practical_criteria_exam_id'), table_name='training_practical_criteria')
    op.drop_table('training_practical_criteria')
    op.drop_index(op.f('ix_training_exams_programme_id'), table_name='training_exams')
    op.drop_table('training_exams')
    op.drop_table('training_programmes')
    op.drop_index(op.f('ix_training_exam_questions_topic'), table_name='training_exam_questions')
    op.drop_table('training_exam_questions')
