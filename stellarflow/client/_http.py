"""How one API call is made: the request (`Call`), credentials, automatic `Idempotency-Key`s, bounded retries that
honour `Retry-After`, and turning error responses into exceptions. One `Call` runs on either transport, so the
sync and async clients share every resource method (stellarflow/client/resources.py).

Retries (`RetryPolicy`): 429 is always retried (the rate limiter answered before the route ran); 503, a connection
failure and 409 with `Retry-After` (the same Idempotency-Key still in flight) only when repeating the request is
safe — a GET/PUT/DELETE, or a POST carrying an Idempotency-Key. The wait is the server's `Retry-After`, else an
exponential backoff, never more than `max_wait`; after `max_retries` the error is raised.

Idempotency (api/common/idempotency.py): the API honours `Idempotency-Key` on POSTs that create (201/202). Every
such call gets a fresh UUID key, reused on each of its retries, so a retry after a lost answer returns the first
response (`Idempotent-Replayed: true`) instead of creating twice.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

import httpx

from stellarflow.client.errors import StellarFlowError, TransportError, from_response

T = TypeVar("T")
IDEMPOTENCY_HEADER = "Idempotency-Key"
_SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
USER_AGENT = "stellarflow-python-sdk/0.1"


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    max_wait: float = 60.0  # the longest single wait, even when Retry-After asks for more
    backoff: float = 0.5  # first wait without Retry-After; doubles per attempt, with jitter

    def wait(self, attempt: int, error: StellarFlowError | None) -> float:
        asked = error.retry_after if error is not None else None
        if asked is None:
            asked = self.backoff * (2 ** attempt) * (0.5 + random.random() / 2)
        return min(asked, self.max_wait)


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and how to read its answer. `creating`: a POST that creates, which gets an Idempotency-Key."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] | None = None
    json: Any = None
    content: str | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    creating: bool = False
    idempotency_key: str | None = None
    timeout: float | None = None

    def prepared(self) -> Call[T]:
        """This call with its Idempotency-Key fixed (once: retries reuse it)."""
        if not self.creating or IDEMPOTENCY_HEADER in self.headers:
            return self
        key = self.idempotency_key or str(uuid.uuid4())
        return replace(self, headers={**self.headers, IDEMPOTENCY_HEADER: key})

    def request_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"headers": self.headers}
        if self.params:
            kwargs["params"] = {k: v for k, v in self.params.items() if v is not None}
        if self.content is not None:
            kwargs["content"] = self.content
        elif self.json is not None:
            kwargs["json"] = self.json
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        return kwargs

    @property
    def repeatable(self) -> bool:
        return self.method in _SAFE_METHODS or IDEMPOTENCY_HEADER in self.headers


def _retryable(call: Call[Any], response: httpx.Response) -> bool:
    status = response.status_code
    if status == 429:
        return True
    if status == 503:
        return call.repeatable
    return status == 409 and "retry-after" in response.headers and IDEMPOTENCY_HEADER in call.headers


def _headers(token: str | None, extra: dict[str, str] | None) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(extra or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


class _Credential:
    http: httpx.Client | httpx.AsyncClient

    def set_token(self, token: str | None) -> None:
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"
        else:
            self.http.headers.pop("Authorization", None)

    @property
    def token(self) -> str | None:
        value = self.http.headers.get("Authorization", "")
        return value[7:] if value.startswith("Bearer ") else None


class SyncTransport(_Credential):
    """Runs calls on an `httpx.Client` (yours, or one this creates for `base_url`)."""

    is_async = False
    http: httpx.Client

    def __init__(self, base_url: str, *, token: str | None, timeout: float, retry: RetryPolicy,
                 http_client: httpx.Client | None = None, transport: httpx.BaseTransport | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.retry = retry
        self._owned = http_client is None
        self.http = http_client or httpx.Client(base_url=base_url, timeout=timeout, transport=transport)
        self.http.headers.update(_headers(token, headers))
        self.base_url = str(self.http.base_url)

    def run(self, call: Call[T]) -> T:
        call = call.prepared()
        attempt = 0
        while True:
            try:
                response = self.http.request(call.method, call.path, **call.request_kwargs())
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if not call.repeatable or attempt >= self.retry.max_retries:
                    raise TransportError(str(exc) or type(exc).__name__, code="TRANSPORT_ERROR") from exc
                time.sleep(self.retry.wait(attempt, None))
                attempt += 1
                continue
            if response.is_success:
                return call.parse(response)
            error = from_response(response)
            if not _retryable(call, response) or attempt >= self.retry.max_retries:
                raise error
            time.sleep(self.retry.wait(attempt, error))
            attempt += 1

    def close(self) -> None:
        if self._owned:
            self.http.close()


class AsyncTransport(_Credential):
    """Runs calls on an `httpx.AsyncClient` (yours — e.g. on `httpx.ASGITransport(app)` — or its own)."""

    is_async = True
    http: httpx.AsyncClient

    def __init__(self, base_url: str, *, token: str | None, timeout: float, retry: RetryPolicy,
                 http_client: httpx.AsyncClient | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.retry = retry
        self._owned = http_client is None
        self.http = http_client or httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)
        self.http.headers.update(_headers(token, headers))
        self.base_url = str(self.http.base_url)

    async def run(self, call: Call[T]) -> T:
        call = call.prepared()
        attempt = 0
        while True:
            try:
                response = await self.http.request(call.method, call.path, **call.request_kwargs())
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if not call.repeatable or attempt >= self.retry.max_retries:
                    raise TransportError(str(exc) or type(exc).__name__, code="TRANSPORT_ERROR") from exc
                await asyncio.sleep(self.retry.wait(attempt, None))
                attempt += 1
                continue
            if response.is_success:
                return call.parse(response)
            error = from_response(response)
            if not _retryable(call, response) or attempt >= self.retry.max_retries:
                raise error
            await asyncio.sleep(self.retry.wait(attempt, error))
            attempt += 1

    async def close(self) -> None:
        if self._owned:
            await self.http.aclose()


Transport = SyncTransport | AsyncTransport
