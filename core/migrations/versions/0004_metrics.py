"""Metrics and diagnostics (issue 11): `request_rollups` (per-minute request counts and latency buckets written by
each API process), `host_samples` (the metrics Schedule's host samples), `diagnostic_reports` (bundles).

Frozen here like the earlier revisions, and applied the same way (`complete_tables`).

Revision ID: 0004_metrics
Revises: 0002_automation
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from core.schema import complete_tables

revision = "0004_metrics"
down_revision = "0002_automation"
branch_labels = None
depends_on = None

METRICS = sa.MetaData()

sa.Table('request_rollups', METRICS,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('minute', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('client_errors', sa.Integer(), nullable=False),
    sa.Column('server_errors', sa.Integer(), nullable=False),
    sa.Column('latency_sum_ms', sa.Float(), nullable=False),
    sa.Column('latency_max_ms', sa.Float(), nullable=False),
    sa.Column('buckets', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
)
sa.Table('host_samples', METRICS,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('host', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('cpu', sa.Float(), nullable=False),
    sa.Column('memory', sa.Float(), nullable=False),
    sa.Column('disk', sa.Float(), nullable=False),
    sa.Column('load1', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
)
sa.Table('diagnostic_reports', METRICS,
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('requested_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('compressed', sa.Boolean(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('bundle', sa.LargeBinary(), nullable=True),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('completed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
)
sa.Index('ix_request_rollups_minute', METRICS.tables['request_rollups'].c.minute)
sa.Index('ix_host_samples_at', METRICS.tables['host_samples'].c.at)
sa.Index('ix_diagnostic_reports_created_at', METRICS.tables['diagnostic_reports'].c.created_at)


def upgrade() -> None:
    complete_tables(op.get_bind(), METRICS)


def downgrade() -> None:
    raise NotImplementedError("not undone: restore a backup instead")
