"""The `llm` executor: one chat completion from any OpenAI-compatible endpoint, whose file blocks are written
to the workspace.

Configuration (agent `config` over settings):
- `base_url` / STELLARFLOW_LLM_BASE_URL — the server root; `…/v1` is accepted too. The request goes to
  `{base_url}/v1/chat/completions`.
- `model` / STELLARFLOW_LLM_MODEL (required); `temperature` and `max_tokens` (sent only when set).
- The key: STELLARFLOW_LLM_API_KEY, sent **only** to STELLARFLOW_LLM_BASE_URL itself — an agent that points
  `base_url` elsewhere never receives it. An agent may name `api_key_env`, a worker environment variable
  that STELLARFLOW_EXECUTOR_SECRET_ENV lists, and that key is sent only when the effective base URL is the
  operator's own or listed in STELLARFLOW_LLM_ALLOWED_URLS (core/egress.py `llm_base_url_allowed`); otherwise
  the task fails, non-retryable (`LLMUrlNotAllowed`), before any request. An `api_key` in the agent's config is
  refused, because agent configs are shown by the API. The key never appears in results, errors or logs.
- Every request goes through the egress guard (activities/egress.py): an internal address that the operator
  did not list in STELLARFLOW_EGRESS_ALLOW fails the task, non-retryable (`EgressRefused`).

Failures: a connection error, a timeout, 5xx, 408 or 429 raise a retryable `LLMUnavailable` (the activity's
retry policy tries again; `api_calls` counts the HTTP calls of the attempt that returned); any other 4xx
raises a non-retryable `LLMRequestRejected`; a 2xx that is not a chat completion (or is larger than
`MAX_RESPONSE_BYTES`) raises a non-retryable `LLMBadResponse`. Messages carry the endpoint (no user info or
query), the status code and its standard reason phrase — never the response's body or headers, which a server an
agent points at could fill with whatever it read.

Files: a fenced block (``` or ~~~, three or more) is written when it names a path in one of these ways:
    ```python path=src/app.py      (also file=, filename=; quotes allowed)
    ```src/app.py                  (a single token with a `/` or a file extension)
    ```python src/app.py           (language, then the path)
    ```python:src/app.py
    or a first line inside the block `# file: src/app.py` (`//`, `--`, `;`, `<!--`, `/*` comments; `path:`
    or `filename:` too), which is then left out of the file.
The block's text becomes the whole file. Paths must stay inside the workspace; other blocks are skipped, and
a block left open (the answer was cut off) is not written. Each skip is noted in the output.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from temporalio.exceptions import ApplicationError

from activities.egress import EgressRefused, guarded_client
from activities.executors.base import ExecOutcome, TaskContext, cap, redact, setting
from activities.executors.models import not_configured
from activities.executors.prompt import chat_messages
from activities.executors.workspace import safe_path
from core.agents.contracts import ExecuteTaskInput
from core.agents.models import TokenUsage
from core.egress import LLM_ALLOW_SETTING, llm_base_url_allowed, normalize_base_url
from core.settings import Settings

__all__ = ["LLMPlan", "normalize_base_url", "parse_blocks", "plan", "run", "write_blocks"]

RETRYABLE_STATUS = frozenset({408, 429})
MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # a chat completion is text; a server sending more is not one


@dataclass
class LLMPlan:
    base_url: str
    model: str
    key: str | None
    temperature: float | None
    max_tokens: int | None
    timeout_s: float

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1/chat/completions"

    @property
    def where(self) -> str:
        """The endpoint for messages: scheme, host and path, never user info or a query."""
        return _where(self.url)


def _where(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"
    except ValueError:
        return "<invalid url>"


def _number(value: Any, what: str, cast: type) -> Any:
    if value is None:
        return None
    try:
        return cast(value)
    except (TypeError, ValueError):
        raise not_configured(f"agent config {what} must be a number") from None


def plan(inp: ExecuteTaskInput, settings: Settings) -> LLMPlan:
    config = inp.config
    if setting(config, "api_key") is not None:
        raise not_configured(
            "the agent's config holds an api_key, which is never used (agent configs are shown by the API); "
            "put the key in a worker environment variable listed in STELLARFLOW_EXECUTOR_SECRET_ENV and name "
            "it in config.api_key_env, or set STELLARFLOW_LLM_API_KEY"
        )
    base = setting(config, "base_url") or settings.llm_base_url
    if not base or not isinstance(base, str):
        raise not_configured(
            "the llm executor has no endpoint: set STELLARFLOW_LLM_BASE_URL (any OpenAI-compatible server) or "
            "the agent's config.base_url"
        )
    base_url = normalize_base_url(base)
    if urlsplit(base_url).scheme not in {"http", "https"}:
        raise not_configured("the llm base URL must be an http(s) URL")
    model = config.get("model") or settings.llm_model
    if not model:
        raise not_configured("the llm executor needs a model: set STELLARFLOW_LLM_MODEL or the agent's config.model")
    key: str | None = None
    key_env = setting(config, "api_key_env")
    if key_env:
        if key_env not in settings.executor_secret_env:
            raise not_configured(
                f"config.api_key_env names {key_env!r}, which STELLARFLOW_EXECUTOR_SECRET_ENV does not list"
            )
        if not llm_base_url_allowed(base_url, operator_url=settings.llm_base_url, allowed=settings.llm_allowed_urls):
            raise ApplicationError(
                f"config.api_key_env names a worker secret, which is sent only to base URLs the operator allows; "
                f"{_where(base_url)} is not one: add it to {LLM_ALLOW_SETTING} (or use STELLARFLOW_LLM_BASE_URL)",
                type="LLMUrlNotAllowed",
                non_retryable=True,
            )
        key = os.environ.get(key_env)
        if not key:
            raise not_configured(f"config.api_key_env names {key_env!r}, which is not set on the worker")
    elif settings.llm_api_key is not None and settings.llm_base_url and \
            normalize_base_url(settings.llm_base_url) == base_url:  # fmt: skip
        key = settings.llm_api_key.get_secret_value() or None
    max_tokens = setting(config, "max_tokens")
    return LLMPlan(
        base_url=base_url,
        model=str(model),
        key=key,
        temperature=_number(config.get("temperature"), "temperature", float),
        max_tokens=_number(max_tokens, "max_tokens", int),
        timeout_s=settings.llm_timeout_s,
    )


# ---- fenced blocks --------------------------------------------------------------------------------------------

_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})\s*(?P<info>.*?)\s*$")
_PATH_ATTR = re.compile(r"^(?:path|file|filename)=(?P<path>.+)$", re.IGNORECASE)
_LOOKS_LIKE_PATH = re.compile(r"^(?:[\w.@+-]+/)*[\w.@+-]*\.[A-Za-z0-9_+-]+$|^(?:[\w.@+-]+/)+[\w.@+-]+$")
_FIRST_LINE = re.compile(
    r"^\s*(?:#|//|--|;|<!--|/\*)\s*(?:file(?:name)?|path)\s*:\s*(?P<path>\S+?)\s*(?:-->|\*/)?\s*$", re.IGNORECASE
)


@dataclass
class FileBlock:
    path: str | None
    text: str
    closed: bool


def _info_path(info: str) -> str | None:
    if "`" in info:
        return None
    try:
        tokens = shlex.split(info)
    except ValueError:
        tokens = info.split()
    for token in tokens:
        match = _PATH_ATTR.match(token)
        if match:
            return match.group("path").strip("\"'")
    if tokens and ":" in tokens[0] and "://" not in tokens[0]:
        candidate = tokens[0].split(":", 1)[1]
        if _LOOKS_LIKE_PATH.match(candidate):
            return candidate
    for token in tokens[:2]:
        if _LOOKS_LIKE_PATH.match(token):
            return token
    return None


def parse_blocks(content: str) -> list[FileBlock]:
    """Every fenced block of a Markdown answer, with the path it names (or None)."""
    blocks: list[FileBlock] = []
    lines = content.splitlines()
    index = 0
    while index < len(lines):
        match = _OPEN.match(lines[index])
        index += 1
        if not match:
            continue
        fence = match.group("fence")
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        body: list[str] = []
        closed = False
        while index < len(lines):
            if closing.match(lines[index]):
                closed = True
                index += 1
                break
            body.append(lines[index])
            index += 1
        path = _info_path(match.group("info"))
        if path is None and body:
            first = _FIRST_LINE.match(body[0])
            if first:
                path, body = first.group("path"), body[1:]
        blocks.append(FileBlock(path=path, text="\n".join(body) + "\n" if body else "", closed=closed))
    return blocks


def write_blocks(workspace: Path, content: str) -> tuple[list[str], list[str]]:
    """Write the blocks that name a path; returns (paths written, notes about blocks skipped)."""
    written: list[str] = []
    notes: list[str] = []
    for block in parse_blocks(content):
        if block.path is None:
            continue
        if not block.closed:
            notes.append(f"block for {block.path!r} was not closed (the answer was cut off); not written")
            continue
        try:
            target = safe_path(workspace, block.path)
        except ValueError as err:
            notes.append(f"block skipped: {err}")
            continue
        target.write_text(block.text, encoding="utf-8")
        if block.path not in written:
            written.append(block.path)
    return written, notes


# ---- the call -------------------------------------------------------------------------------------------------


def _status(status: int) -> str:
    """`404 Not Found`: the code and its standard phrase (not the server's own reason phrase, which it chooses)."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


class _TooLarge(Exception):
    pass


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


def _content(message: Any) -> str | None:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else None


def _tokens(usage: Any) -> TokenUsage | None:
    if not isinstance(usage, dict):
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    return TokenUsage(prompt=prompt, completion=completion, total=int(usage.get("total_tokens") or prompt + completion))


async def run(ctx: TaskContext, llm: LLMPlan) -> ExecOutcome:
    secrets = [llm.key] if llm.key else []
    ctx.secrets.extend(secrets)

    def failure(message: str, kind: str, retryable: bool) -> ApplicationError:
        return ApplicationError(redact(message, secrets) or "", type=kind, non_retryable=not retryable)

    body: dict[str, Any] = {"model": llm.model, "messages": chat_messages(ctx.inp)}
    if llm.temperature is not None:
        body["temperature"] = llm.temperature
    if llm.max_tokens is not None:
        body["max_tokens"] = llm.max_tokens
    headers = {"Authorization": f"Bearer {llm.key}"} if llm.key else {}
    ctx.progress.set(0.1, f"asking {llm.model}")
    async with guarded_client(timeout=llm.timeout_s, follow_redirects=False) as client:
        try:
            async with client.stream("POST", llm.url, json=body, headers=headers) as response:
                status = response.status_code
                raw = await _read_capped(response, MAX_RESPONSE_BYTES) if 200 <= status < 300 else b""
        except EgressRefused as err:
            raise failure(f"LLM endpoint {llm.where}: {err}", "EgressRefused", False) from None
        except _TooLarge:
            raise failure(f"LLM endpoint {llm.where} answered {_status(status)} with more than "
                          f"{MAX_RESPONSE_BYTES} bytes", "LLMBadResponse", False) from None  # fmt: skip
        except httpx.TimeoutException:
            raise failure(f"LLM endpoint {llm.where} timed out after {llm.timeout_s:g}s", "LLMUnavailable",
                          True) from None  # fmt: skip
        except httpx.HTTPError as err:
            raise failure(f"LLM endpoint {llm.where} unreachable: {type(err).__name__}", "LLMUnavailable",
                          True) from None  # fmt: skip
    # Never the body or headers of a failed answer: the endpoint may be one an agent chose, and what it sends back
    # (an internal service's page, a reflected secret) must not reach the task's error.
    if status >= 500 or status in RETRYABLE_STATUS:
        raise failure(f"LLM endpoint {llm.where} answered {_status(status)}", "LLMUnavailable", True)
    if not 200 <= status < 300:
        raise failure(f"LLM endpoint {llm.where} rejected the request with {_status(status)}", "LLMRequestRejected",
                      False)  # fmt: skip
    try:
        data = json.loads(raw)
        choice = data["choices"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        raise failure(f"LLM endpoint {llm.where} answered {status} without a chat completion", "LLMBadResponse",
                      False) from None  # fmt: skip
    content = _content(choice.get("message")) if isinstance(choice, dict) else None
    if content is None:
        raise failure(f"LLM endpoint {llm.where} answered without message content", "LLMBadResponse", False)
    ctx.progress.set(0.8, "writing files")
    written, notes = await asyncio.to_thread(write_blocks, ctx.workspace, content)
    if isinstance(choice, dict) and choice.get("finish_reason") == "length":
        notes.append("the answer was cut off at max_tokens")
    output, cut = cap(content, ctx.settings.output_tail_bytes, keep="head")
    ctx.progress.set(1.0, f"answered; {len(written)} file(s) written")
    return ExecOutcome(
        success=True, output=output, truncated=cut, api_calls=1, tokens=_tokens(data.get("usage")), notes=notes
    )
