"""The baseline: every table as it stood when migrations began (issue 15), created on an empty database, or
completed on one that `create_all` and the old ad-hoc upgrade (`core/schema.py` before Alembic) made.

The schema is frozen here, not read from the models, so later model changes cannot change what this revision does.
On a database that already has some of these tables (made before migrations), it creates the missing tables, adds
the missing columns (nullable, or with a literal default: all a pre-migration release could have lacked) and
indexes, and brings the memory store's full-text objects up to date; on an empty one it creates everything. Either
way the result is this revision's schema, and it runs the same on SQLite and PostgreSQL.

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from core.schema import complete_tables

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

BASELINE = sa.MetaData()


def _index(name: str, table: str, columns: list[str], unique: bool) -> None:
    sa.Index(name, *(BASELINE.tables[table].c[column] for column in columns), unique=unique)


sa.Table('agents', BASELINE,
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('swarm_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('current_task_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('tasks_completed', sa.Integer(), nullable=False),
    sa.Column('tasks_failed', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_agents_owner', 'agents', ['owner'], unique=False)
_index('ix_agents_status', 'agents', ['status'], unique=False)
_index('ix_agents_swarm_created', 'agents', ['swarm_id', 'created_at'], unique=False)
_index('ix_agents_type', 'agents', ['type'], unique=False)
sa.Table('api_keys', BASELINE,
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('secret_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('secret_hash')
)
_index('ix_api_keys_user_id', 'api_keys', ['user_id'], unique=False)
sa.Table('auth_sessions', BASELINE,
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('refresh_jti', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('refreshed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('revoked_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_auth_sessions_user_id', 'auth_sessions', ['user_id'], unique=False)
sa.Table('deployments', BASELINE,
    sa.Column('environment', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('live_slot', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('run_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('environment')
)
sa.Table('events', BASELINE,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('resource_id', 'seq', name='uq_events_resource_seq')
)
_index('ix_events_resource_id', 'events', ['resource_id'], unique=False)
sa.Table('idempotency_requests', BASELINE,
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('request_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('locked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_idempotency_requests_created_at', 'idempotency_requests', ['created_at'], unique=False)
sa.Table('memory_entries', BASELINE,
    sa.Column('pk', sa.Integer(), nullable=False),
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('namespace', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('value_json', sa.Text(), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('tags_text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('filter_terms', sa.Text(), server_default='', nullable=False),
    sa.Column('access_level', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('ttl', sa.Integer(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accessed_count', sa.Integer(), nullable=False),
    sa.Column('last_accessed', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('id'),
    sa.UniqueConstraint('namespace', 'key', name='uq_memory_entries_namespace_key'),
    sqlite_autoincrement=True
)
_index('ix_memory_entries_access_owner', 'memory_entries', ['access_level', 'owner'], unique=False)
_index('ix_memory_entries_expires_at', 'memory_entries', ['expires_at'], unique=False)
_index('ix_memory_entries_namespace_updated', 'memory_entries', ['namespace', 'updated_at'], unique=False)
_index('ix_memory_entries_owner_size', 'memory_entries', ['owner', 'size'], unique=False)
sa.Table('memory_versions', BASELINE,
    sa.Column('namespace', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('entry_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('value_json', sa.Text(), nullable=False),
    sa.Column('tags_text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('access_level', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('author', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('namespace', 'key', 'version')
)
_index('ix_memory_versions_expires_at', 'memory_versions', ['expires_at'], unique=False)
sa.Table('oauth_clients', BASELINE,
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('owner_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('secret_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('token_endpoint_auth_method', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('redirect_uris', sa.JSON(), nullable=False),
    sa.Column('scopes', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_oauth_clients_owner_id', 'oauth_clients', ['owner_id'], unique=False)
sa.Table('oauth_codes', BASELINE,
    sa.Column('code_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('client_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('redirect_uri', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('code_challenge', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('code_challenge_method', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('reused_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('session_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('code_hash')
)
sa.Table('oauth_consents', BASELINE,
    sa.Column('id_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('browser_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('client_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id_hash')
)
sa.Table('oauth_grants', BASELINE,
    sa.Column('session_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('client_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('session_id')
)
_index('ix_oauth_grants_client_id', 'oauth_grants', ['client_id'], unique=False)
sa.Table('operations', BASELINE,
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('resource_type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('resource_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('completed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_operations_resource_id', 'operations', ['resource_id'], unique=False)
sa.Table('runs', BASELINE,
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('workflow_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('started_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_runs_started_by', 'runs', ['started_by'], unique=False)
_index('ix_runs_status', 'runs', ['status'], unique=False)
_index('ix_runs_workflow_created', 'runs', ['workflow_id', 'created_at'], unique=False)
_index('ix_runs_workflow_id', 'runs', ['workflow_id'], unique=False)
sa.Table('swarms', BASELINE,
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('topology', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('strategy', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('max_agents', sa.Integer(), nullable=False),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_swarms_owner', 'swarms', ['owner'], unique=False)
_index('ix_swarms_status', 'swarms', ['status'], unique=False)
_index('ix_swarms_topology', 'swarms', ['topology'], unique=False)
sa.Table('tasks', BASELINE,
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('priority', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('priority_rank', sa.Integer(), nullable=False),
    sa.Column('swarm_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('agent_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('parent_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('similarity', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('wait_ms', sa.Integer(), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('queued_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('completed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_tasks_agent_id', 'tasks', ['agent_id'], unique=False)
_index('ix_tasks_owner_created', 'tasks', ['owner', 'created_at'], unique=False)
_index('ix_tasks_similar_done', 'tasks', ['similarity', 'status', 'completed_at'], unique=False)
_index('ix_tasks_status', 'tasks', ['status'], unique=False)
_index('ix_tasks_swarm_created', 'tasks', ['swarm_id', 'created_at'], unique=False)
_index('ix_tasks_type', 'tasks', ['type'], unique=False)
sa.Table('users', BASELINE,
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('username_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('full_name', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('tier', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email'),
    sa.UniqueConstraint('username_key')
)
sa.Table('workflow_versions', BASELINE,
    sa.Column('workflow_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('workflow_id', 'version')
)
sa.Table('workflows', BASELINE,
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('shared_with', sa.JSON(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_workflows_owner', 'workflows', ['owner'], unique=False)
sa.Table('memory_tags', BASELINE,
    sa.Column('entry_pk', sa.Integer(), nullable=False),
    sa.Column('tag', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.ForeignKeyConstraint(['entry_pk'], ['memory_entries.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_pk', 'tag')
)
_index('ix_memory_tags_tag_entry', 'memory_tags', ['tag', 'entry_pk'], unique=False)

# The memory store's full-text search: SQLite FTS5 with triggers, PostgreSQL a generated tsvector with GIN indexes.
SQLITE_FULL_TEXT = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS memory_fts USING fts5(\n        key, search_text, tags_text, filter_terms, content='memory_entries', content_rowid='pk',\n        tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    'CREATE TRIGGER IF NOT EXISTS memory_fts_ai AFTER INSERT ON memory_entries BEGIN\n        INSERT INTO memory_fts(rowid, key, search_text, tags_text, filter_terms)\n        VALUES (new.pk, new.key, new.search_text, new.tags_text, new.filter_terms);\n    END',
    "CREATE TRIGGER IF NOT EXISTS memory_fts_ad AFTER DELETE ON memory_entries BEGIN\n        INSERT INTO memory_fts(memory_fts, rowid, key, search_text, tags_text, filter_terms)\n        VALUES ('delete', old.pk, old.key, old.search_text, old.tags_text, old.filter_terms);\n    END",
    "CREATE TRIGGER IF NOT EXISTS memory_fts_au AFTER UPDATE OF key, search_text, tags_text, filter_terms ON memory_entries\n    BEGIN\n        INSERT INTO memory_fts(memory_fts, rowid, key, search_text, tags_text, filter_terms)\n        VALUES ('delete', old.pk, old.key, old.search_text, old.tags_text, old.filter_terms);\n        INSERT INTO memory_fts(rowid, key, search_text, tags_text, filter_terms)\n        VALUES (new.pk, new.key, new.search_text, new.tags_text, new.filter_terms);\n    END",
]
POSTGRESQL_FULL_TEXT = [
    "ALTER TABLE memory_entries ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS (\n        setweight(to_tsvector('simple', coalesce(key, '')), 'A')\n        || setweight(to_tsvector('simple', coalesce(tags_text, '')), 'B')\n        || setweight(to_tsvector('simple', coalesce(search_text, '')), 'C')) STORED",
    'CREATE INDEX IF NOT EXISTS ix_memory_entries_search ON memory_entries USING GIN (search_vector)',
    "CREATE INDEX IF NOT EXISTS ix_memory_entries_filter_terms ON memory_entries\n        USING GIN (to_tsvector('simple', filter_terms)) WITH (fastupdate = off)",
]


def upgrade() -> None:
    connection = op.get_bind()
    if "memory_entries" in sa.inspect(connection).get_table_names():
        from core.memory.tables import upgrade_schema

        upgrade_schema(connection)  # a pre-migration memory store without `filter_terms`: add, fill, re-index
    complete_tables(connection, BASELINE)  # new tables whole; old ones get their missing columns and indexes
    statements = SQLITE_FULL_TEXT if connection.dialect.name == "sqlite" else POSTGRESQL_FULL_TEXT
    for statement in statements:  # all IF NOT EXISTS
        connection.exec_driver_sql(statement)


def downgrade() -> None:
    raise NotImplementedError("the baseline is not undone: restore a backup instead")
