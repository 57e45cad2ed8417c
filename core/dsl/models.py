"""The workflow definition language. It accepts the seed body of `POST /api/v2/workflows` as is and
extends it; unknown keys are rejected (`extra="forbid"`) so a typo never silently does nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.dsl.durations import Duration

ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
LOCAL_STEP_MAX_S = 60.0
LOCAL_ACTIONS = frozenset({"execute-command", "http-request"})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


OVERLAP_POLICIES = ("skip", "buffer", "buffer-all", "cancel-other", "terminate-other", "allow-all")
GITHUB_EVENTS = ("push", "pull_request", "release", "workflow_dispatch")
MAX_SCHEDULES = 10


class Trigger(Strict):
    """How runs start besides the API. `schedule`: a Temporal Schedule (`cron` + `timezone`, or `every`);
    `github`: a GitHub delivery to `/api/v2/webhooks/github` that passes the filters; `webhook`: a signed POST to
    `/api/v2/webhooks/{workflowId}`. `secret` names a webhook secret held by the server (never the value)."""

    type: Literal["manual", "api", "github", "schedule", "webhook"]
    # schedule
    cron: str | None = None
    every: Duration | None = None
    timezone: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict, description="run inputs of a scheduled or triggered run")
    overlap: Literal[OVERLAP_POLICIES] = "skip"  # type: ignore[valid-type]
    catchupWindow: Duration | None = None
    # github
    event: Literal[GITHUB_EVENTS] | None = None  # type: ignore[valid-type]
    types: list[str] = Field(default_factory=list, description="activity types, e.g. opened, synchronize")
    repository: str | None = Field(default=None, description="owner/name; default any repository")
    branches: list[str] = Field(default_factory=list)
    branches_ignore: list[str] = Field(default_factory=list, alias="branches-ignore")
    tags: list[str] = Field(default_factory=list)
    tags_ignore: list[str] = Field(default_factory=list, alias="tags-ignore")
    paths: list[str] = Field(default_factory=list)
    paths_ignore: list[str] = Field(default_factory=list, alias="paths-ignore")
    # github and webhook
    secret: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$",
                               description="the name of a webhook secret stored with /api/v2/webhooks/secrets")

    @model_validator(mode="after")
    def _per_type(self) -> Trigger:
        given = self.model_fields_set
        schedule_only = {"cron", "every", "timezone", "overlap", "catchupWindow"}
        github_only = {"event", "types", "repository", "branches", "branches_ignore", "tags", "tags_ignore",
                       "paths", "paths_ignore"}
        if self.type == "schedule":
            if self.cron is not None and self.every is not None:
                raise ValueError("a schedule trigger takes `cron` or `every`, not both")
            if self.every is not None and self.every < 1:
                raise ValueError("`every` must be at least 1s")
            if self.cron is not None and len(self.cron.split()) not in (5, 6, 7) and not self.cron.startswith("@"):
                raise ValueError(f"`cron` must have 5 fields (minute hour day month weekday), got {self.cron!r}")
            if self.timezone is not None:
                from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

                try:
                    ZoneInfo(self.timezone)
                except (ZoneInfoNotFoundError, ValueError):
                    raise ValueError(f"unknown timezone {self.timezone!r} (use an IANA name such as "
                                     "Europe/Berlin)") from None
        elif given & schedule_only:
            raise ValueError(f"{', '.join(sorted(given & schedule_only))}: only for `type: schedule`")
        if self.type == "github":
            if self.event is None:
                raise ValueError("a github trigger needs `event` (push, pull_request, release, workflow_dispatch)")
            if self.branches and self.branches_ignore:
                raise ValueError("use either branches or branches-ignore, not both")
            if self.tags and self.tags_ignore:
                raise ValueError("use either tags or tags-ignore, not both")
            if self.paths and self.paths_ignore:
                raise ValueError("use either paths or paths-ignore, not both")
        elif given & github_only:
            raise ValueError(f"{', '.join(sorted(given & github_only))}: only for `type: github`")
        if self.type == "webhook" and self.secret is None:
            raise ValueError("a webhook trigger needs `secret`: the name of a webhook secret (PUT "
                             "/api/v2/webhooks/secrets/{name}); unsigned requests are refused")
        if self.secret is not None and self.type not in ("github", "webhook"):
            raise ValueError("`secret` is only for github and webhook triggers")
        if self.inputs and self.type in ("manual", "api"):
            raise ValueError("`inputs` are for schedule, github and webhook triggers")
        return self


class Concurrency(Strict):
    """At most one run (workflow level) or one step (step level) of a group is active at a time; the others wait
    in order, or, with `cancelInProgress`, the newest cancels the one in progress (and those waiting)."""

    group: str = Field(min_length=1, max_length=200, description="a template, e.g. deploy-{{ inputs.env }}")
    cancelInProgress: bool = False


class ArtifactSpec(Strict):
    """Files a step keeps after it ran: globs relative to the run's workspace."""

    paths: list[str] = Field(min_length=1, max_length=50)
    retention: Duration | None = Field(default=None, description="how long they are kept (default: the server's)")
    when: Literal["success", "always"] = "success"


class InputSpec(Strict):
    type: Literal["string", "number", "boolean", "choice"] = "string"
    description: str | None = None
    default: Any = None
    required: bool = False
    options: list[str | int | float] | None = Field(default=None, description="allowed values of a choice")

    @model_validator(mode="after")
    def _check(self) -> InputSpec:
        if self.type == "choice" and not self.options:
            raise ValueError("a choice input needs `options`")
        if self.default is not None:
            self.default = coerce_input(self, self.default)
        return self


def coerce_input(spec: InputSpec, value: Any) -> Any:
    """Coerce a run input (often a CLI string) to its declared type; ValueError names the problem."""
    if spec.type == "string":
        if isinstance(value, dict | list):
            raise ValueError("expected a string")
        return str(value)
    if spec.type == "number":
        if isinstance(value, bool):
            raise ValueError("expected a number")
        if isinstance(value, int | float):
            return value
        try:
            number = float(str(value))
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
        return int(number) if number.is_integer() else number
    if spec.type == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"true", "1", "yes", "on"}:
            return True
        if text in {"false", "0", "no", "off"}:
            return False
        raise ValueError(f"expected a boolean, got {value!r}")
    options = spec.options or []
    for option in options:
        if value == option or str(value) == str(option):
            return option
    raise ValueError(f"must be one of {options}, got {value!r}")


class Backoff(Strict):
    initial: Duration = 1.0
    factor: float = Field(default=2.0, ge=1.0)
    max: Duration | None = None


class RetrySpec(Strict):
    maxAttempts: int = Field(default=3, ge=1, le=100)
    backoff: Backoff = Field(default_factory=Backoff)


class Notifications(Strict):
    channels: list[Literal["email", "slack", "webhook"]] = Field(default_factory=list)
    events: list[Literal["started", "failed", "completed"]] = Field(
        default_factory=lambda: ["started", "failed", "completed"]
    )


class EnvironmentSpec(Strict):
    """How to deploy to one environment. Commands run in the run's workspace with DEPLOY_ENVIRONMENT,
    DEPLOY_STRATEGY, DEPLOY_SLOT and DEPLOY_VERSION in their environment; `healthCheckUrl` may use
    `{{ slot }}`."""

    deployCommand: str | list[str]
    healthCheckUrl: str | None = None
    rollbackCommand: str | list[str] | None = None
    healthCheckTimeout: Duration = 30.0
    slots: list[str] = Field(default_factory=lambda: ["blue", "green"], min_length=2, max_length=2)


class SandboxLimits(Strict):
    """Limits of a sandboxed command (docs/sandbox.md). Unset ones take the operator's defaults; a value above the
    operator's maximum is refused. They are kernel rlimits: CPU seconds and file size per process, memory as the
    address space of each process, processes as the number the sandbox's user may run at once."""

    # Each field's setting name: STELLARFLOW_SANDBOX_<NAME> is its default, STELLARFLOW_SANDBOX_MAX_<NAME> its maximum.
    SETTINGS: ClassVar[dict[str, str]] = {
        "cpu_seconds": "cpu_s", "memory_mb": "memory_mb", "processes": "processes", "file_size_mb": "file_size_mb",
    }  # fmt: skip

    cpu_seconds: int | None = Field(default=None, alias="cpuSeconds", ge=1, description="CPU time per process")
    memory_mb: int | None = Field(default=None, alias="memoryMB", ge=16, description="address space per process, MiB")
    processes: int | None = Field(default=None, ge=1, description="processes (and threads) at once")
    file_size_mb: int | None = Field(default=None, alias="fileSizeMB", ge=1, description="largest file written, MiB")

    def above(self, maxima: Mapping[str, int]) -> list[tuple[str, int, str]]:
        """(key as written in the DSL, value, setting name) of every limit above its maximum; `maxima` is keyed by
        setting name (`Settings.sandbox_max_<name>`)."""
        found = []
        for name, setting in self.SETTINGS.items():
            value = getattr(self, name)
            if value is not None and value > maxima[setting]:
                found.append((type(self).model_fields[name].alias or name, value, setting))
        return found

    def tightened(self, other: SandboxLimits) -> SandboxLimits:
        """The smaller of each limit set in either."""
        values = {}
        for name in type(self).model_fields:
            mine, theirs = getattr(self, name), getattr(other, name)
            values[name] = theirs if mine is None else mine if theirs is None else min(mine, theirs)
        return SandboxLimits.model_validate(values)


class SandboxSpec(Strict):
    """How a step's (or an agent's, `config.sandbox`) commands are sandboxed: `network: none` gives them no network
    at all; `limits` tighten or loosen the operator's defaults within the operator's maxima."""

    network: Literal["on", "none"] | None = Field(
        default=None, description="`none`: no network (only a private loopback); unset: the operator's default"
    )
    limits: SandboxLimits = Field(default_factory=SandboxLimits)

    def tightened(self, other: SandboxSpec | None) -> SandboxSpec:
        """Both at once: no network if either says none, the smaller of each limit (a task may only narrow what its
        agent allows)."""
        if other is None:
            return self
        network = "none" if "none" in (self.network, other.network) else self.network or other.network
        return SandboxSpec(network=network, limits=self.limits.tightened(other.limits))


class Step(Strict):
    id: str = Field(pattern=ID_PATTERN, max_length=64)
    name: str | None = None
    action: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    dependsOn: list[str] = Field(default_factory=list)
    if_: str | None = Field(default=None, alias="if", description="sandboxed jinja2 expression")
    retry: RetrySpec | None = None
    timeout: Duration | None = None
    continueOnError: bool = Field(
        default=False, description="a failure of this step neither skips its dependents nor fails the run"
    )
    outputs: dict[str, str] = Field(
        default_factory=dict, description="named outputs: templates over `result` (this step's raw outputs)"
    )
    forEach: list[Any] | str | None = Field(
        default=None, description="a list, or an expression giving one; each item runs as an instance"
    )
    matrix: dict[str, list[Any]] | None = None
    concurrency: Concurrency | None = None
    artifacts: ArtifactSpec | None = None
    sandbox: SandboxSpec | None = Field(
        default=None, description="network and resource limits of the step's commands (docs/sandbox.md)"
    )
    local: bool = Field(
        default=False,
        description="run as a Temporal local activity in the worker running the workflow: a few ms of "
        f"overhead instead of a server round trip; for short steps (timeout at most {LOCAL_STEP_MAX_S:g}s, "
        "no heartbeats; a crashed worker re-runs the step)",
    )

    @model_validator(mode="after")
    def _local(self) -> Step:
        if self.local:
            if self.action not in LOCAL_ACTIONS:
                raise ValueError(f"`local: true` is for short {' and '.join(sorted(LOCAL_ACTIONS))} steps")
            if self.timeout is not None and self.timeout > LOCAL_STEP_MAX_S:
                raise ValueError(f"a local step's timeout must be at most {LOCAL_STEP_MAX_S:g}s")
        return self

    @model_validator(mode="after")
    def _fan_out(self) -> Step:
        if self.forEach is not None and self.matrix is not None:
            raise ValueError("use either forEach or matrix, not both")
        if self.matrix is not None and (not self.matrix or any(not v for v in self.matrix.values())):
            raise ValueError("matrix axes must be non-empty lists")
        return self


class WorkflowDefinition(Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    triggers: list[Trigger] = Field(default_factory=list)
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)
    notifications: Notifications | None = None
    environments: dict[str, EnvironmentSpec] = Field(default_factory=dict)
    concurrency: Concurrency | None = None

    @model_validator(mode="after")
    def _schedules(self) -> WorkflowDefinition:
        if sum(1 for t in self.triggers if t.type == "schedule") > MAX_SCHEDULES:
            raise ValueError(f"at most {MAX_SCHEDULES} schedule triggers")
        return self

    def schedules(self) -> list[Trigger]:
        return [t for t in self.triggers if t.type == "schedule"]

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def dump(self) -> dict[str, Any]:
        """The canonical JSON form (aliases, no unset defaults) that runs pin and hashes are taken of."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)
