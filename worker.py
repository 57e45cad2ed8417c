"""`python worker.py`: one Temporal worker hosting every workflow and activity on task queue `stellarflow`.

Nothing in it is process-local state, so any number of replicas can run against one cluster.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from core.settings import Settings, get_settings

# Shared with every sandboxed workflow run instead of re-imported per run: the deterministic libraries and our own
# modules the workflows use.
PASSTHROUGH = ("core", "jinja2", "markupsafe", "pydantic", "pydantic_core", "ulid")
# The replay test's stricter sandbox: only libraries and modules of plain data (models, contracts, names) pass
# through, so the workflows' own logic — workflows/*, templating, swarm scheduling, ids — is re-imported under the
# sandbox's restrictions and a non-deterministic call in it fails the replay, although production shares it (and
# runs the entity workflows unsandboxed) for speed. Pydantic models must pass through: a class re-imported inside
# the sandbox would not be the class the data converter builds.
STRICT_PASSTHROUGH = (
    "jinja2", "markupsafe", "pydantic", "pydantic_core", "ulid",
    "core.names", "core.settings", "core.temporal", "core.errors", "core.events.models", "core.events.contracts",
    "core.pipelines.models", "core.pipelines.contracts", "core.agents.models", "core.agents.state",
    "core.agents.contracts", "core.dsl.models", "core.dsl.actions", "core.dsl.durations",
    "core.concurrency.contracts", "core.sources.contracts", "core.reconcile.contracts", "core.system.contracts",
    "core.orchestrations.models", "core.orchestrations.contracts",
    "core.neural.models", "core.neural.contracts", "core.github.models", "core.github.contracts",
)


def workflow_runner(*, strict: bool = False) -> SandboxedWorkflowRunner:
    """The sandbox sandboxed workflows run in; `strict` is the replay test's (tests/test_replay.py), which every
    workflow replays in, the unsandboxed entity workflows included."""
    modules = STRICT_PASSTHROUGH if strict else PASSTHROUGH
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*modules))


def build_worker(client: Client, settings: Settings) -> Worker:
    import activities
    import workflows
    from activities.environment import HEARTBEAT_THROTTLE

    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=workflows.ALL,
        activities=activities.ALL,
        workflow_runner=workflow_runner(),
        max_concurrent_activities=200,
        max_concurrent_local_activities=200,
        # A run whose worker died waits this long before its next task leaves the dead worker's sticky
        # queue (the SDK default is 10 s); the cost is an occasional replay when a live worker is slow.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=3),
        # Heartbeats leave at least this often (the SDK default is 80 % of the heartbeat timeout): a cancellation
        # is delivered in a heartbeat's answer, so this bounds how long a cancel waits (activities/environment.py).
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
    )


def metrics_runtime(address: str | None) -> Runtime | None:
    """A Temporal runtime exporting the SDK's own metrics (task latencies, slots, polls, sticky cache...) in
    Prometheus format on `address` (host:port), or None when it is unset. A port that cannot be bound is logged and
    the worker runs without it: metrics are not worth a worker that does not start."""
    if not address:
        return None
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    except Exception:  # noqa: BLE001 - bind errors surface as the core's own exception types
        logging.getLogger("stellarflow.worker").exception("worker metrics not exported on %s", address)
        return None


async def run_worker(settings: Settings | None = None) -> None:
    from activities.sandbox import preflight
    from core.datadir import secure
    from core.db import get_engine
    from core.temporal import connect

    settings = settings or get_settings()
    log = logging.getLogger("stellarflow.worker")
    # User code must run as configured before this worker takes any: fail here, with what to do, rather than
    # fail every step later (docs/sandbox.md).
    try:
        how = preflight(settings)
    except RuntimeError as error:
        raise SystemExit(f"stellarflow worker: {error}") from None
    (log.warning if settings.sandbox_mode == "none" else log.info)(how)
    secure(settings)  # the data dir 0700 and its files 0600, also for an install made before that was enforced
    get_engine()  # create tables before the first activity needs them
    runtime = metrics_runtime(settings.worker_metrics_address)
    if runtime is not None:
        log.info("Temporal SDK metrics on http://%s/metrics", settings.worker_metrics_address)
    client = await connect(settings, runtime=runtime)
    if settings.manage_schedules:
        await _ensure_schedules(client, settings)
    worker = build_worker(client, settings)
    log.info("worker polling %s on %s", settings.task_queue, settings.temporal_target)
    await worker.run()


async def _ensure_schedules(client: Client, settings: Settings) -> None:
    """Maintenance schedules (the memory TTL sweep, the artifact retention sweep, the daily reconciliation, the
    metrics sample) and the
    workflows' own schedule triggers, idempotent across workers. A failure is logged, not fatal: the worker is still
    useful, and the next start tries again."""
    from core.artifacts.schedule import ensure_schedule as ensure_artifact_schedule
    from core.memory.schedule import ensure_schedules
    from core.reconcile.schedule import ensure_schedule as ensure_reconcile_schedule
    from core.schedules.service import reconcile_all
    from core.system.schedule import ensure_schedule as ensure_metrics_schedule

    for step in (ensure_schedules, ensure_artifact_schedule, ensure_reconcile_schedule, ensure_metrics_schedule,
                 reconcile_all):
        try:
            await step(client, settings)
        except Exception:
            logging.getLogger("stellarflow.worker").exception("could not create or update schedules (%s)",
                                                              step.__name__)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(run_worker())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
