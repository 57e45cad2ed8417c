"""`StellarFlow` (sync) and `AsyncStellarFlow` (async): the entry points.

    from stellarflow.client import StellarFlow
    client = StellarFlow("http://127.0.0.1:8000", api_key="sf_...")   # or token=..., or client.auth.login(...)
    agent = client.agents.create(type="coder", name="Python Expert")

Credentials: `token` (a JWT from login) or `api_key` (`sf_…`) — both are sent as `Authorization: Bearer`. Left
out, the URL and credential are found as the CLI finds them (stellarflow/client/config.py). Pass `http_client=`
(an `httpx.Client`/`httpx.AsyncClient` you configured) or `transport=` (e.g. `httpx.ASGITransport(app)` to call an
app in-process).
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import httpx

from stellarflow.client import config
from stellarflow.client._http import AsyncTransport, RetryPolicy, SyncTransport
from stellarflow.client.aio import (
    AsyncAgents,
    AsyncAuth,
    AsyncGitHub,
    AsyncKeys,
    AsyncMemory,
    AsyncNeural,
    AsyncOrchestrations,
    AsyncRuns,
    AsyncSwarms,
    AsyncTasks,
    AsyncWorkflows,
)
from stellarflow.client.resources import (
    Agents,
    Auth,
    GitHub,
    Keys,
    Memory,
    Neural,
    Orchestrations,
    Runs,
    Swarms,
    Tasks,
    Workflows,
)
from stellarflow.client.streams import StreamSettings


class _Client:
    def _mount(self, transport: SyncTransport | AsyncTransport, streams: StreamSettings) -> None:
        self._transport = transport
        for name, kind in (("agents", Agents), ("tasks", Tasks), ("swarms", Swarms), ("memory", Memory),
                           ("workflows", Workflows), ("runs", Runs), ("orchestrations", Orchestrations),
                           ("github", GitHub), ("neural", Neural), ("auth", Auth), ("keys", Keys)):
            setattr(self, name, kind(transport, streams))

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def token(self) -> str | None:
        return self._transport.token

    @token.setter
    def token(self, value: str | None) -> None:
        self._transport.set_token(value)


class StellarFlow(_Client):
    """The synchronous client: every method returns its result."""

    agents: Agents
    tasks: Tasks
    swarms: Swarms
    memory: Memory
    workflows: Workflows
    runs: Runs
    orchestrations: Orchestrations
    github: GitHub
    neural: Neural
    auth: Auth
    keys: Keys

    def __init__(self, base_url: str | None = None, *, token: str | None = None, api_key: str | None = None,
                 timeout: float = 30.0, max_retries: int = 3, max_retry_wait: float = 60.0,
                 http_client: httpx.Client | None = None, transport: httpx.BaseTransport | None = None,
                 headers: dict[str, str] | None = None, max_reconnects: int = 5) -> None:
        self._mount(SyncTransport(config.base_url(base_url),
                                  token=config.credential(token, api_key), timeout=timeout,
                                  retry=RetryPolicy(max_retries=max_retries, max_wait=max_retry_wait),
                                  http_client=http_client, transport=transport, headers=headers),
                    StreamSettings(max_reconnects=max_reconnects))

    def close(self) -> None:
        self._transport.close()  # type: ignore[union-attr]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


class AsyncStellarFlow(_Client):
    """The asynchronous client: every method returns an awaitable, lists and streams are async iterators. (At run
    time the resources are the same classes as the sync client's; `aio.py` declares their async signatures.)"""

    agents: AsyncAgents
    tasks: AsyncTasks
    swarms: AsyncSwarms
    memory: AsyncMemory
    workflows: AsyncWorkflows
    runs: AsyncRuns
    orchestrations: AsyncOrchestrations
    github: AsyncGitHub
    neural: AsyncNeural
    auth: AsyncAuth
    keys: AsyncKeys

    def __init__(self, base_url: str | None = None, *, token: str | None = None, api_key: str | None = None,
                 timeout: float = 30.0, max_retries: int = 3, max_retry_wait: float = 60.0,
                 http_client: httpx.AsyncClient | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 headers: dict[str, str] | None = None, max_reconnects: int = 5) -> None:
        self._mount(AsyncTransport(config.base_url(base_url),
                                   token=config.credential(token, api_key), timeout=timeout,
                                   retry=RetryPolicy(max_retries=max_retries, max_wait=max_retry_wait),
                                   http_client=http_client, transport=transport, headers=headers),
                    StreamSettings(max_reconnects=max_reconnects))

    async def close(self) -> None:
        await self._transport.close()  # type: ignore[misc]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()
