"""Process configuration, read once from flags, `STELLARFLOW_*` variables and `.env`.

Every process (api, worker, cli, tests) builds the same `Settings`, so a value means the same thing
wherever it is read.
"""

from __future__ import annotations

import json
import os
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.agents.types import AgentType
from core.limits.quotas import TierQuotaMap, default_quotas
from core.limits.ratelimit import AuthBudget, RateTiers, RedisUrl, default_auth_budget, default_tiers

TASK_QUEUE = "stellarflow"
SANDBOX_LIMITS = ("cpu_s", "memory_mb", "processes", "file_size_mb")  # sandbox_<name> and sandbox_max_<name>

# Custom search attributes registered on the dev server and set on every run we start.
SEARCH_ATTRIBUTES: dict[str, str] = {
    "StellarflowWorkflowId": "Keyword",
    "StellarflowVersion": "Int",
    "StellarflowStatus": "Keyword",
    "StellarflowDefinition": "Keyword",
    "StellarflowTrigger": "Keyword",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STELLARFLOW_", env_file=".env", extra="ignore")

    data_dir: Path = Path(".stellarflow")
    # Where run and task workspaces live: outside the data dir, so nothing a command can be pointed at is next to
    # the server's secrets. Unset: `<data dir>-workspaces`, a sibling (`.stellarflow-workspaces/` by default).
    workspaces_path: Path | None = Field(
        default=None, validation_alias="STELLARFLOW_WORKSPACES_DIR"
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    temporal_port: int = 7233
    ui_port: int = 8233
    temporal_address: str | None = Field(
        default=None, validation_alias=AliasChoices("TEMPORAL_ADDRESS", "STELLARFLOW_TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = "default"
    # Reaching a cluster other than the dev server (core/temporal.py: connect_options, docs/deploy.md): TLS, mTLS with a
    # client certificate and key (files), a private CA, and an API key (Temporal Cloud). `temporal_tls` unset means TLS
    # exactly when an API key or a TLS file is given. The aliases are the names Temporal's own tools read.
    temporal_tls: bool | None = Field(
        default=None, validation_alias=AliasChoices("STELLARFLOW_TEMPORAL_TLS", "TEMPORAL_TLS")
    )
    temporal_tls_cert: Path | None = Field(
        default=None, validation_alias=AliasChoices("STELLARFLOW_TEMPORAL_TLS_CERT", "TEMPORAL_TLS_CLIENT_CERT_PATH")
    )
    temporal_tls_key: Path | None = Field(
        default=None, validation_alias=AliasChoices("STELLARFLOW_TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CLIENT_KEY_PATH")
    )
    temporal_tls_ca: Path | None = Field(
        default=None, validation_alias=AliasChoices("STELLARFLOW_TEMPORAL_TLS_CA", "TEMPORAL_TLS_SERVER_CA_CERT_PATH")
    )
    temporal_tls_server_name: str | None = Field(
        default=None, validation_alias=AliasChoices("STELLARFLOW_TEMPORAL_TLS_SERVER_NAME", "TEMPORAL_TLS_SERVER_NAME")
    )
    temporal_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("STELLARFLOW_TEMPORAL_API_KEY", "TEMPORAL_API_KEY")
    )
    # Where people open the Temporal UI (run links, `links.temporalUi`); unset = the dev server's UI on this machine.
    # Temporal Cloud: https://cloud.temporal.io (the path below it is the same).
    temporal_ui_url: str | None = None
    task_queue: str = TASK_QUEUE
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "STELLARFLOW_DATABASE_URL")
    )
    definitions_dir: Path = Path("definitions")
    public_url: str | None = None

    # Activity tuning. The heartbeat timeout bounds how long a run waits after a worker dies mid-step.
    heartbeat_timeout_s: float = 30.0
    default_step_timeout_s: float = 3600.0
    output_tail_bytes: int = 16_384

    # Agents (core/agents/types.py): extra agent types or overrides of the built-in ones, as JSON, e.g.
    # STELLARFLOW_AGENT_TYPES='{"auditor": {"capabilities": ["security-audit"], "executor": "agent-cli"}}'.
    agent_types: dict[str, AgentType] = Field(default_factory=dict)
    # How many attempts an agent's task gets when its executor raises (a failed command is a result, not retried).
    task_max_attempts: int = Field(default=3, ge=1, le=20)

    # Executors of agent tasks (activities/executors/, docs/executors.md). An executor left unconfigured makes
    # the tasks that need it fail with ExecutorNotConfigured, never a fake success. The key is sent only to
    # `llm_base_url` itself, never to a base URL an agent's config chooses.
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_timeout_s: float = 300.0
    agent_cli_command: str | None = None  # e.g. "claude -p {prompt}"; `{prompt}` becomes one argv element
    agent_cli_env: list[str] = Field(default_factory=list)  # worker variables passed to the CLI (its API key)
    executor_secret_env: list[str] = Field(default_factory=list)  # variables an agent's `api_key_env` may name
    executor_timeout_s: float = 3600.0

    # Outbound requests (http-request steps, notifications, LLM calls, and every later outbound client) refuse
    # loopback, link-local, private and cloud-metadata addresses, checked after DNS resolution, unless the host or
    # network is listed here: JSON list or comma-separated hostnames, IPs or CIDRs (e.g. "127.0.0.1,10.0.0.0/8").
    egress_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Base URLs an agent's LLM `base_url` may name (exact scheme://host[:port][/path] prefixes). The worker's own
    # `llm_base_url` is always allowed; an agent's `api_key_env` secret is sent only to these.
    llm_allowed_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Size limits: request bodies (413 in each dialect's envelope) and workflow definitions.
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_definition_bytes: int = Field(default=256 * 1024, ge=1024)
    max_definition_steps: int = Field(default=500, ge=1)
    max_definition_depth: int = Field(default=32, ge=4)

    # Automation (docs/automation.md): webhooks, sub-workflows, artifacts, definitions synced from git.
    github_webhook_secret: SecretStr | None = None  # the global secret of /api/v2/webhooks/github
    max_workflow_depth: int = Field(default=5, ge=1, le=50)  # how deep run-workflow steps may nest
    artifact_store: str = "local"  # local (under the data dir) or s3
    artifact_s3_bucket: str | None = None
    artifact_s3_endpoint_url: str | None = None
    artifact_s3_prefix: str = "artifacts/"
    artifact_retention_s: float = Field(default=7 * 24 * 3600, gt=0)
    artifact_max_bytes: int = Field(default=100 * 1024 * 1024, ge=1)  # one file
    artifact_sweep_interval_s: float = Field(default=3600.0, gt=0)
    source_sync_interval_s: float = Field(default=300.0, ge=0)  # default interval of git sources (0 = push only)
    # GitHub analyses and PR enhancements (docs/github.md): the REST API's base URL (a GitHub Enterprise server's is
    # https://HOST/api/v3) and the server's token, sent only to that host, never in a URL, log, event or response.
    github_api_url: str = "https://api.github.com"
    github_token: SecretStr | None = None
    # Or as a GitHub App (takes precedence over the token when both are set): its id (or client id), its private key
    # (PEM, or a file holding it), and optionally the installation to act as (else looked up per repository).
    github_app_id: str | None = None
    github_app_private_key: SecretStr | None = None
    github_app_private_key_file: Path | None = None
    github_app_installation_id: int | None = Field(default=None, ge=1)
    github_tool_timeout_s: float = Field(default=900.0, gt=0)  # one analyzer's run over one checkout


    # The sandbox user-supplied code runs in (activities/sandbox.py, docs/sandbox.md). `bwrap` (bubblewrap) is the
    # default when it is on PATH; with `none` the worker refuses commands and executors unless the operator opts in
    # with `allow_unsandboxed`. Limits are per sandboxed process tree: a step or agent may ask for other values up to
    # the maxima (above them it is refused); `network` is the default a step or agent may override with
    # `network: none` (or `on`, unless the operator set `none`, which then holds for everyone).
    sandbox: Literal["bwrap", "none"] | None = None
    allow_unsandboxed: bool = False
    sandbox_network: Literal["on", "none"] = "on"
    sandbox_cpu_s: int = Field(default=3600, ge=1)
    sandbox_max_cpu_s: int = Field(default=86_400, ge=1)
    sandbox_memory_mb: int = Field(default=8192, ge=16)
    sandbox_max_memory_mb: int = Field(default=65_536, ge=16)
    sandbox_processes: int = Field(default=512, ge=1)
    sandbox_max_processes: int = Field(default=4096, ge=1)
    sandbox_file_size_mb: int = Field(default=4096, ge=1)
    sandbox_max_file_size_mb: int = Field(default=65_536, ge=1)
    # When the worker runs as root, each workspace's commands run as a uid of this range (chosen from the workspace
    # path), never as root; keep it clear of real accounts. Extra host paths to hide inside the sandbox:
    # bwrap's own minimal /dev (null, zero, random...) instead of the host's /dev as the sandbox's uid may use it
    # (docs/sandbox.md#dev): 0.3 ms more per command; for hosts with world-accessible device nodes (kvm, dri...).
    sandbox_private_dev: bool = False
    # When a step of a run ends, start the sandbox its next step will likely need, so that step does not wait for
    # bubblewrap (activities/warm_sandboxes.py; needs stellarflow-sandbox-wait, built by `make`).
    sandbox_prewarm: bool = True
    sandbox_uid_base: int = Field(default=0x7000_0000, ge=1000, le=0x7FFF_0000)
    sandbox_uid_count: int = Field(default=65_536, ge=1, le=0x10_0000)
    sandbox_hide: Annotated[list[Path], NoDecode] = Field(default_factory=list)

    # Deploy environments known to the server, merged under a definition's own `environments:` map.
    environments: dict[str, dict[str, Any]] = Field(default_factory=dict)

    # Notification channels. A channel left unset is reported as a warning event, never a failure.
    slack_webhook_url: str | None = None
    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "stellarflow@localhost"
    smtp_to: list[str] = Field(default_factory=list)

    # Auth. Without a configured secret one is generated once into `<data dir>/jwt.secret` (0600); API replicas
    # that do not share a data dir must all be given the same STELLARFLOW_JWT_SECRET (at least 32 characters).
    jwt_secret: SecretStr | None = None
    access_token_ttl_s: int = 3600
    refresh_token_ttl_s: int = 30 * 24 * 3600
    # Self-registration (`POST /api/v2/auth/register`) hands anyone a developer account: off unless opened.
    allow_registration: bool = False

    # Rate limits and quotas (core/limits/ratelimit.py, core/limits/quotas.py). Counts live in this process unless
    # REDIS_URL is set, which API replicas then share. Maps are merged over the spec's defaults; null means unlimited.
    redis_url: RedisUrl = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "STELLARFLOW_REDIS_URL"))
    rate_limit_enabled: bool = True
    rate_limit_tiers: RateTiers = Field(default_factory=default_tiers)
    rate_limit_auth: AuthBudget = Field(default_factory=default_auth_budget)
    rate_limit_exempt_paths: list[str] = Field(default_factory=lambda: [
        "/api/health", "/api/v2/system/health", "/docs", "/redoc", "/openapi.json"])
    rate_limit_key_prefix: str = "stellarflow:ratelimit"
    rate_limit_storage_timeout_s: float = 0.5
    quotas: TierQuotaMap = Field(default_factory=default_quotas)

    # Shared memory (core/memory/). Entries over the size limit are refused with 413; the sweep schedule deletes
    # expired entries (reads never return them, swept or not); the read cache is per process.
    memory_max_entry_bytes: int = Field(default=1024 * 1024, ge=1)
    memory_sweep_interval_s: float = Field(default=300.0, gt=0)
    # The event stream (core/events/, docs/events.md): how long events are kept (unset: forever; swept with memory),
    # how often an API replica polls the events table (SQLite; with LISTEN/NOTIFY or Redis it is only a safety net,
    # polled every `event_safety_poll_s`), and each WebSocket client's send queue (overflow disconnects the client).
    event_retention_days: float | None = Field(default=None, gt=0)
    event_poll_interval_s: float = Field(default=0.1, gt=0)
    event_safety_poll_s: float = Field(default=2.0, gt=0)
    event_client_queue: int = Field(default=1000, ge=1)
    event_auth_timeout_s: float = Field(default=5.0, gt=0)
    # Whether this worker creates/updates the maintenance schedules on start. Turn it off for workers on a task
    # queue of their own (a schedule names one task queue: the last worker to start would move it to its own).
    manage_schedules: bool = True
    memory_cache_entries: int = Field(default=10_000, ge=0)

    # Observability (docs/observability.md). The API rolls its requests up per minute (flushed every
    # `metrics_flush_interval_s`); the worker's metrics Schedule samples host resources every
    # `metrics_sample_interval_s` and deletes rollups, samples and diagnostic bundles older than `metrics_retention_s`.
    metrics_retention_s: float = Field(default=30 * 24 * 3600, gt=0)
    metrics_sample_interval_s: float = Field(default=60.0, ge=5)
    metrics_flush_interval_s: float = Field(default=60.0, gt=0)
    # `GET /metrics` (Prometheus text format) answers an admin's credential, or this token as `Authorization: Bearer`
    # (what a Prometheus scrape config sends); `metrics_public=true` opens it to anyone who reaches the API.
    metrics_token: SecretStr | None = None
    metrics_public: bool = False
    # The worker's Temporal SDK metrics (Prometheus format) on this host:port; unset = off. `stellarflow up --workers N`
    # gives worker n the port + n - 1, so replicas on one machine never clash.
    worker_metrics_address: str | None = None

    # CORS (api/common/middleware.py). No origins (the default) means no CORS headers at all, so browsers on other
    # origins cannot call the API. `STELLARFLOW_CORS_ORIGINS` is a JSON list or comma-separated; `*` allows any origin.
    # Credentials (cookies) are off: the API authenticates with `Authorization: Bearer`, not cookies.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cors_allow_credentials: bool = False
    cors_max_age_s: int = 600

    @field_validator("cors_origins", "egress_allow", "llm_allowed_urls", "sandbox_hide", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip().rstrip("/") for part in text.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _sandbox_defaults_within_maxima(self) -> Settings:
        for name in SANDBOX_LIMITS:
            default, maximum = getattr(self, f"sandbox_{name}"), getattr(self, f"sandbox_max_{name}")
            if default > maximum:
                raise ValueError(f"STELLARFLOW_SANDBOX_{name.upper()} ({default}) is above "
                                 f"STELLARFLOW_SANDBOX_MAX_{name.upper()} ({maximum})")
        return self

    @property
    def db_url(self) -> str:
        return self.database_url or _sqlite_url(self.data_dir)

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def ui_url(self) -> str:
        return (self.temporal_ui_url or f"http://127.0.0.1:{self.ui_port}").rstrip("/")

    @property
    def api_url(self) -> str:
        return self.public_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def workspaces_dir(self) -> Path:
        """The one place that says where workspaces live (`STELLARFLOW_WORKSPACES_DIR`, else a sibling of the data
        dir named `<data dir>-workspaces`), always absolute."""
        paths = (self.workspaces_path, self.data_dir)
        if all(p is None or p.is_absolute() for p in paths):  # a relative one resolves against the current dir
            return _workspaces_dir(*paths)
        return _workspaces_dir.__wrapped__(*paths)

    @property
    def sandbox_maxima(self) -> dict[str, int]:
        """The operator's maxima by limit name (`sandbox_max_<name>`), for checking what a step or agent asks."""
        return {name: getattr(self, f"sandbox_max_{name}") for name in SANDBOX_LIMITS}

    @property
    def sandbox_mode(self) -> Literal["bwrap", "none"]:
        """`STELLARFLOW_SANDBOX`, or when unset: `bwrap` if it is on PATH, else `none`."""
        if self.sandbox is not None:
            return self.sandbox
        return "bwrap" if _on_path("bwrap", os.environ.get("PATH", os.defpath)) else "none"

    @property
    def artifacts_dir(self) -> Path:
        return (self.data_dir / "artifacts").resolve()

    @property
    def sources_dir(self) -> Path:
        return (self.data_dir / "sources").resolve()

    @property
    def cli_key_file(self) -> Path:
        """The local CLI's API key, written by the first `stellarflow up`."""
        return self.data_dir / "cli.key"


@lru_cache(maxsize=64)
def _workspaces_dir(workspaces_path: Path | None, data_dir: Path) -> Path:
    """Resolved once per pair: every step asks several times, and `resolve()` walks the path each time."""
    if workspaces_path is not None:
        return workspaces_path.resolve()
    resolved = data_dir.resolve()
    return resolved.with_name(f"{resolved.name}-workspaces")


@lru_cache(maxsize=64)
def _sqlite_url(data_dir: Path) -> str:
    """The default database's URL (resolving the path costs file-system calls; every request asks for it)."""
    return f"sqlite:///{(data_dir / 'stellarflow.db').resolve()}"


@lru_cache(maxsize=8)
def _on_path(program: str, path: str) -> bool:
    return shutil.which(program, path=path) is not None


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between sessions)."""
    get_settings.cache_clear()
