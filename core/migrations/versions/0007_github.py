"""GitHub analyses and PR enhancements (issue 14): the `github_jobs` projection.

Revision ID: 0007_github
Revises: 0006_orchestrations
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from core.schema import complete_tables

revision = "0007_github"
down_revision = "0006_orchestrations"
branch_labels = None
depends_on = None

GITHUB = sa.MetaData()

sa.Table('github_jobs', GITHUB,
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('repository', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
)
sa.Index('ix_github_jobs_kind', GITHUB.tables['github_jobs'].c['kind'], unique=False)
sa.Index('ix_github_jobs_owner', GITHUB.tables['github_jobs'].c['owner'], unique=False)


def upgrade() -> None:
    complete_tables(op.get_bind(), GITHUB)


def downgrade() -> None:
    raise NotImplementedError("not undone: restore a backup instead")
