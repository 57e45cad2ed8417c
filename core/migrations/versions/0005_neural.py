"""Neural training (issue 14, item 5): the trainings' projection and the model registry (models, versions).

Numbered 0005 with 0003/0004 left to the work merged beside it; `down_revision` is re-chained onto whatever is the
head when it lands.

Revision ID: 0005_neural
Revises: 0002_automation
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005_neural"
down_revision = "0002_automation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('neural_model_versions',
        sa.Column('training_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('model_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('path', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('encoding', sa.JSON(), nullable=False),
        sa.Column('config', sa.JSON(), nullable=False),
        sa.Column('metrics', sa.JSON(), nullable=False),
        sa.Column('samples', sa.Integer(), nullable=False),
        sa.Column('epochs', sa.Integer(), nullable=False),
        sa.Column('training_seconds', sa.Float(), nullable=False),
        sa.Column('trained_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('training_id'),
        sa.UniqueConstraint('model_id', 'version', name='uq_neural_model_version'),
    )
    op.create_index(op.f('ix_neural_model_versions_model_id'), 'neural_model_versions', ['model_id'], unique=False)
    op.create_table('neural_models',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('pattern_type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('shared_with', sa.JSON(), nullable=False),
        sa.Column('latest_version', sa.Integer(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_neural_models_owner'), 'neural_models', ['owner'], unique=False)
    op.create_table('neural_trainings',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('pattern_type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('model_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('state', sa.JSON(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_neural_trainings_model_id'), 'neural_trainings', ['model_id'], unique=False)
    op.create_index(op.f('ix_neural_trainings_owner'), 'neural_trainings', ['owner'], unique=False)
    op.create_index(op.f('ix_neural_trainings_status'), 'neural_trainings', ['status'], unique=False)


def downgrade() -> None:
    for table in ("neural_trainings", "neural_models", "neural_model_versions"):
        op.drop_table(table)
