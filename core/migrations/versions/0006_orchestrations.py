"""Orchestrations (issue 14, item 1): the `orchestrations` projection table.

It follows 0005_neural (they were written side by side and chained at the merge).

Revision ID: 0006_orchestrations
Revises: 0004_metrics
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from core.schema import complete_tables

revision = "0006_orchestrations"
down_revision = "0005_neural"
branch_labels = None
depends_on = None

ORCHESTRATIONS = sa.MetaData()

table = sa.Table('orchestrations', ORCHESTRATIONS,
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('strategy', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('swarm_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('completed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
)
sa.Index('ix_orchestrations_owner_created', table.c.owner, table.c.created_at, unique=False)
sa.Index('ix_orchestrations_status', table.c.status, unique=False)


def upgrade() -> None:
    complete_tables(op.get_bind(), ORCHESTRATIONS)


def downgrade() -> None:
    op.drop_table("orchestrations")
