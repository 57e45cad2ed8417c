"""Neural training (issue 14, item 5): the trainings' projection and the model registry (models, versions).

Numbered 0005 with 0003/0004 left to the work merged beside it; `down_revision` is re-chained onto whatever is the
head when it lands. Applied like the others: new tables created whole, so a database that `create_all` made while
these models existed is completed, not failed.

Revision ID: 0005_neural
Revises: 0002_automation
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from core.schema import complete_tables

revision = "0005_neural"
down_revision = "0004_metrics"
branch_labels = None
depends_on = None

NEURAL = sa.MetaData()


def _index(name: str, table: str, columns: list[str], unique: bool) -> None:
    sa.Index(name, *(NEURAL.tables[table].c[column] for column in columns), unique=unique)


sa.Table('neural_model_versions', NEURAL,
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
_index('ix_neural_model_versions_model_id', 'neural_model_versions', ['model_id'], unique=False)
sa.Table('neural_models', NEURAL,
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('pattern_type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('shared_with', sa.JSON(), nullable=False),
    sa.Column('latest_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
)
_index('ix_neural_models_owner', 'neural_models', ['owner'], unique=False)
sa.Table('neural_trainings', NEURAL,
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
_index('ix_neural_trainings_model_id', 'neural_trainings', ['model_id'], unique=False)
_index('ix_neural_trainings_owner', 'neural_trainings', ['owner'], unique=False)
_index('ix_neural_trainings_status', 'neural_trainings', ['status'], unique=False)


def upgrade() -> None:
    complete_tables(op.get_bind(), NEURAL)


def downgrade() -> None:
    raise NotImplementedError("not undone: restore a backup instead")
