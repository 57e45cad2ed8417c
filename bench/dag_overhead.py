"""How much does StellarFlow add on top of a hand-written Temporal workflow doing the same work?

    python bench/dag_overhead.py [--runs N] [--warmup K] [--json out.json] [--api subprocess|inprocess]

One process, one Temporal dev server it starts itself (SQLite file, the project's DEV_SERVER_TUNING), one temp
data dir. Two shapes of `true` commands, each measured three ways, interleaved so drift hits all of them:

* ours      – the definition created through the real API; a run is POST /api/v2/workflows/{id}/runs and then
              GET /api/v2/runs/{runId} every --poll-ms until the status is terminal (real HTTP over loopback).
* direct    – the same PipelineWorkflow started with the raw Temporal client (no API, no polling): splits the
              gap into "workflow bookkeeping" and "API + polling".
* baseline  – RawChain / RawFanOut below: the same `execute_command` activity, same ActionRequest, timeouts,
              heartbeat and retry policy as PipelineWorkflow, 20 in sequence / 20 in parallel, nothing else.
* minimal   – MinimalChain / MinimalFanOut: what a user would write by hand instead — an activity that only runs
              the command with `asyncio.create_subprocess_exec` and returns its exit code, default options, on a
              task queue and worker of its own. The user's question ("how much slower than Temporal by hand?") is
              ours/minimal; ours/baseline isolates the engine from our activity's per-step work.

The workflow sandbox re-imports this module to run RawChain/RawFanOut, so everything with side effects is under
`if __name__ == "__main__":` and module-level imports are only what the workflows need.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.pipelines.contracts import ActionRequest, ActionResult

BASELINE_TASK_QUEUE = "stellarflow-bench-baseline"
MINIMAL_TASK_QUEUE = "stellarflow-bench-minimal"
TARGET_RATIO = 1.3  # ours / minimal, medians (issue 16)
GOAL_CHAIN_MS = 250.0  # the goal for a 20-step chain end to end


class RawInput(BaseModel):
    """Everything PipelineWorkflow would derive from the definition and settings, passed in explicitly."""

    run_id: str
    steps: int
    command: list[str]
    timeout_s: float
    heartbeat_timeout_s: float
    max_attempts: int
    initial_interval_s: float
    non_retryable: list[str]
    local: bool = False


async def _raw_step(inp: RawInput, index: int) -> None:
    # Mirrors PipelineWorkflow._run_activity for an execute-command step without `retry:` (and `local:`).
    request = ActionRequest(
        run_id=inp.run_id,
        step_id=f"s{index:02d}",
        action="execute-command",
        parameters={"command": inp.command},
        env={},
        timeout_s=inp.timeout_s,
        retry_failures=False,
        environments={},
    )
    policy = RetryPolicy(
        maximum_attempts=inp.max_attempts,
        initial_interval=timedelta(seconds=inp.initial_interval_s),
        non_retryable_error_types=inp.non_retryable,
    )
    if inp.local:
        result: ActionResult = await workflow.execute_local_activity(
            "execute_command", request, result_type=ActionResult,
            start_to_close_timeout=timedelta(seconds=inp.timeout_s + 5), retry_policy=policy,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )  # fmt: skip
    else:
        result = await workflow.execute_activity(
            "execute_command", request, result_type=ActionResult,
            start_to_close_timeout=timedelta(seconds=inp.timeout_s + 30),
            heartbeat_timeout=timedelta(seconds=inp.heartbeat_timeout_s), retry_policy=policy,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )  # fmt: skip
    if result.outputs.get("exitCode") != 0:
        raise RuntimeError(f"step {index} exited with {result.outputs.get('exitCode')}")


class MinimalInput(BaseModel):
    steps: int
    command: list[str]
    local: bool = False


@activity.defn(name="bench_minimal_spawn")
async def minimal_spawn(argv: list[str]) -> int:
    """The hand-written activity: spawn, wait, return the exit code."""
    proc = await asyncio.create_subprocess_exec(*argv)
    return await proc.wait()


async def _minimal_step(inp: MinimalInput) -> None:
    if inp.local:
        code = await workflow.execute_local_activity(minimal_spawn, inp.command,
                                                     start_to_close_timeout=timedelta(seconds=60))
    else:
        code = await workflow.execute_activity(minimal_spawn, inp.command, start_to_close_timeout=timedelta(seconds=60))
    if code != 0:
        raise RuntimeError(f"exited with {code}")


@workflow.defn(name="BenchMinimalChain")
class MinimalChain:
    @workflow.run
    async def run(self, inp: MinimalInput) -> int:
        for _ in range(inp.steps):
            await _minimal_step(inp)
        return inp.steps


@workflow.defn(name="BenchMinimalFanOut")
class MinimalFanOut:
    @workflow.run
    async def run(self, inp: MinimalInput) -> int:
        await asyncio.gather(*[_minimal_step(inp) for _ in range(inp.steps)])
        return inp.steps


@workflow.defn(name="BenchRawChain")
class RawChain:
    @workflow.run
    async def run(self, inp: RawInput) -> int:
        for index in range(inp.steps):
            await _raw_step(inp, index)
        return inp.steps


@workflow.defn(name="BenchRawFanOut")
class RawFanOut:
    @workflow.run
    async def run(self, inp: RawInput) -> int:
        await asyncio.gather(*[_raw_step(inp, index) for index in range(inp.steps)])
        return inp.steps


# ---- the harness (never runs inside the sandbox) ----------------------------------------------------------


def _main() -> int:
    import argparse
    import contextlib
    import faulthandler
    import json
    import os
    import platform
    import shutil
    import signal
    import socket
    import statistics
    import subprocess
    import sys
    import tempfile
    import threading
    import time
    from datetime import UTC, datetime
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))  # `python bench/dag_overhead.py` puts bench/ first, not the repo

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="measured runs per shape and variant")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured runs per shape and variant first")
    parser.add_argument("--steps", type=int, default=20, help="chain length / fan-out width")
    parser.add_argument("--poll-ms", type=float, default=5.0, help="GET /api/v2/runs/{id} interval (--wait poll)")
    parser.add_argument("--local", action="store_true",
                        help="steps as local activities on both sides (`local: true` vs execute_local_activity)")
    parser.add_argument("--wait", choices=["long-poll", "poll"], default="long-poll",
                        help="how ours learns the end: GET ?wait= (like execute_workflow's long poll) or polling")
    parser.add_argument("--api", choices=["subprocess", "inprocess"], default="subprocess",
                        help="uvicorn in its own process (like `stellarflow up`) or in this one")
    parser.add_argument("--run-timeout", type=float, default=60.0, help="seconds before one run counts as hung")
    parser.add_argument("--stall-timeout", type=float, default=30.0,
                        help="seconds the event loop may be blocked before the watchdog aborts")
    parser.add_argument("--cold", action="store_true",
                        help="add a variant: ours with warm sandboxes off (STELLARFLOW_SANDBOX_PREWARM=false) for "
                             "that run only, interleaved like the others")
    parser.add_argument("--sandbox-off", action="store_true",
                        help="also time `ours` with the worker's sandbox off (STELLARFLOW_SANDBOX=none, opted in), "
                             "interleaved: what the sandbox costs, measured in one run")
    parser.add_argument("--json", type=Path, help="also write samples and summary here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (server db, logs)")
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 0 or args.steps < 1:
        parser.error("--runs and --steps must be >= 1, --warmup >= 0")

    tmp = Path(tempfile.mkdtemp(prefix="stellarflow-bench-"))
    (tmp / "definitions").mkdir()
    # Settings are read from the environment: pin them before anything builds them.
    os.environ["STELLARFLOW_DATA_DIR"] = str(tmp / "data")
    os.environ["STELLARFLOW_DEFINITIONS_DIR"] = str(tmp / "definitions")
    for name in ("DATABASE_URL", "STELLARFLOW_DATABASE_URL", "TEMPORAL_ADDRESS", "STELLARFLOW_TEMPORAL_ADDRESS"):
        os.environ.pop(name, None)

    import httpx
    import temporalio
    import uvicorn
    from temporalio.client import Client
    from temporalio.common import SearchAttributePair, TypedSearchAttributes
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

    from core.settings import get_settings, reset_settings

    reset_settings()
    from history_breakdown import FIELDS, chain_breakdown  # bench/history_breakdown.py

    from activities.command import execute_command
    from core.db import get_engine
    from core.dsl.models import LOCAL_STEP_MAX_S, WorkflowDefinition
    from core.ids import new_id
    from core.pipelines.contracts import PipelineInput
    from core.pipelines.models import RunStatus
    from core.temporal import (
        DEV_SERVER_TUNING,
        SA_STATUS,
        SA_VERSION,
        SA_WORKFLOW_ID,
        SEARCH_ATTRIBUTE_KEYS,
        temporal_binary,
    )
    from worker import build_worker
    from workflows.pipeline import NON_RETRYABLE, PipelineWorkflow

    settings = get_settings()
    terminal = {s.value for s in (RunStatus.succeeded, RunStatus.failed, RunStatus.cancelled)}
    n = args.steps

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def definition(shape: str) -> dict:
        steps = []
        for i in range(n):
            step: dict = {"id": f"s{i:02d}", "action": "execute-command", "parameters": {"command": ["true"]}}
            if args.local:
                step["local"] = True
            if shape == "chain" and i > 0:
                step["dependsOn"] = [f"s{i - 1:02d}"]
            steps.append(step)
        label = f"{n}-step chain" if shape == "chain" else f"{n}-wide fan-out"
        return {"name": f"bench {label}", "description": "bench/dag_overhead.py", "steps": steps}

    def raw_input() -> RawInput:
        # Same values PipelineWorkflow uses for an execute-command step without `retry:` (see _run_activity).
        return RawInput(
            run_id=new_id("bench"), steps=n, command=["true"],
            timeout_s=LOCAL_STEP_MAX_S if args.local else settings.default_step_timeout_s,
            heartbeat_timeout_s=settings.heartbeat_timeout_s,
            max_attempts=3, initial_interval_s=1.0, non_retryable=list(NON_RETRYABLE), local=args.local,
        )

    def bootstrap_credentials() -> dict[str, str]:
        """What `stellarflow up` does on first start: an admin (enterprise tier, so no rate limit) and the CLI's
        API key, which the bench then sends like the CLI does. A tree without auth needs no header."""
        try:
            from core.auth.bootstrap import bootstrap
        except ImportError:
            return {}
        bootstrap(settings)
        return {"Authorization": f"Bearer {settings.cli_key_file.read_text().strip()}"}

    def pctl(values: list[float], q: float) -> float:
        ordered = sorted(values)
        if len(ordered) == 1:
            return ordered[0]
        pos = (len(ordered) - 1) * q  # linear interpolation between closest ranks
        lo = int(pos)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)

    # A wedged event loop defeats every asyncio timeout (seen here: a fork in activities/command.py that
    # never reached exec, with the loop thread blocked reading its error pipe). A thread watches a heartbeat
    # the loop keeps fresh; if it goes stale it dumps every thread's stack, kills our children and exits.
    loop_beat = [time.monotonic()]
    watchdog_on = threading.Event()

    def child_pids() -> list[int]:
        found: list[int] = []
        with contextlib.suppress(OSError):
            for task_dir in Path(f"/proc/{os.getpid()}/task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    found += [int(p) for p in (task_dir / "children").read_text().split()]
        return found

    def watchdog() -> None:
        while watchdog_on.is_set():
            time.sleep(1.0)
            stalled = time.monotonic() - loop_beat[0]
            if stalled < args.stall_timeout:
                continue
            print(f"\nwatchdog: the event loop has not run for {stalled:.0f} s; stacks:", file=sys.stderr)
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
            own_cmdline = Path("/proc/self/cmdline").read_bytes()
            for pid in child_pids():
                with contextlib.suppress(OSError):
                    if Path(f"/proc/{pid}/cmdline").read_bytes() == own_cmdline:
                        print(f"watchdog: child {pid} is a fork of this process that never reached exec "
                              "(preexec_fn deadlock?)", file=sys.stderr)
                    os.kill(pid, signal.SIGKILL)
            print(f"watchdog: killed our child processes; kept {tmp}", file=sys.stderr, flush=True)
            os._exit(3)

    async def keep_beating() -> None:
        while True:
            loop_beat[0] = time.monotonic()
            await asyncio.sleep(0.5)

    async def run_bench() -> dict:
        beating = asyncio.create_task(keep_beating())
        api_port = free_port()
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_binary(),
            data_converter=pydantic_data_converter,
            search_attributes=SEARCH_ATTRIBUTE_KEYS,
            dev_server_extra_args=DEV_SERVER_TUNING,
            dev_server_database_filename=str(tmp / "temporal.db"),
            port=free_port(),
            dev_server_startup_timeout=timedelta(seconds=60),
        )
        client: Client = env.client
        target = client.service_client.config.target_host
        stack = contextlib.AsyncExitStack()
        try:
            stack.callback(beating.cancel)
            stack.push_async_callback(env.shutdown)
            get_engine()  # create the tables before the API process and the worker race to do it
            headers = bootstrap_credentials()

            ours_worker = build_worker(client, settings)
            base_worker = Worker(
                client,
                task_queue=BASELINE_TASK_QUEUE,  # own queue: unknown workflow types on a shared queue fail tasks
                workflows=[RawChain, RawFanOut],
                activities=[execute_command],
                workflow_runner=SandboxedWorkflowRunner(
                    restrictions=SandboxRestrictions.default.with_passthrough_modules("core", "pydantic",
                                                                                      "pydantic_core")
                ),
                max_concurrent_activities=200,
            )
            minimal_worker = Worker(
                client,
                task_queue=MINIMAL_TASK_QUEUE,
                workflows=[MinimalChain, MinimalFanOut],
                activities=[minimal_spawn],
                workflow_runner=SandboxedWorkflowRunner(
                    restrictions=SandboxRestrictions.default.with_passthrough_modules("pydantic", "pydantic_core")
                ),
                max_concurrent_activities=200,
            )
            for w in (ours_worker, base_worker, minimal_worker):
                task = asyncio.create_task(w.run())

                async def stop(w: Worker = w, task: asyncio.Task = task) -> None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(w.shutdown(), 30)
                    await asyncio.gather(task, return_exceptions=True)

                stack.push_async_callback(stop)

            if args.api == "inprocess":
                from api.main import create_app

                server = uvicorn.Server(uvicorn.Config(create_app(settings, client=client), host="127.0.0.1",
                                                       port=api_port, log_level="warning", lifespan="on"))
                server_task = asyncio.create_task(server.serve())

                async def stop_server() -> None:
                    server.should_exit = True
                    await asyncio.gather(server_task, return_exceptions=True)

                stack.push_async_callback(stop_server)
            else:
                log = open(tmp / "api.log", "wb")  # noqa: SIM115 - closed by the exit stack
                stack.callback(log.close)
                proc = subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
                     "--port", str(api_port), "--log-level", "warning"],
                    cwd=root, env={**os.environ, "TEMPORAL_ADDRESS": target}, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True,
                )

                def stop_proc() -> None:
                    proc.terminate()
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(5)

                stack.callback(stop_proc)

            http = await stack.enter_async_context(
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=30, headers=headers)
            )
            deadline = time.monotonic() + 60
            while True:  # also makes the API connect to Temporal before anything is timed
                with contextlib.suppress(httpx.TransportError):
                    health = await http.get("/api/v2/system/health")
                    if health.status_code == 200:
                        break
                if args.api == "subprocess" and proc.poll() is not None:
                    raise RuntimeError(f"the API exited ({proc.returncode}); see {tmp / 'api.log'}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the API did not become healthy; see {tmp / 'api.log'}")
                await asyncio.sleep(0.1)

            workflows: dict[str, tuple[str, int, dict]] = {}
            for shape in ("chain", "fanout"):
                created = await http.post("/api/v2/workflows", json=definition(shape))
                created.raise_for_status()
                data = created.json()["data"]
                pinned = WorkflowDefinition.model_validate(definition(shape)).dump()
                workflows[shape] = (data["id"], data["version"], pinned)

            async def server_ms(workflow_id: str) -> float:
                """Start to close as the server recorded it; called after the wall clock stopped. The API may
                report a run succeeded a moment before it closes (its last events are still being written)."""
                handle = client.get_workflow_handle(workflow_id)
                await asyncio.wait_for(handle.result(), args.run_timeout)
                desc = await handle.describe()
                assert desc.close_time is not None
                return (desc.close_time - desc.start_time).total_seconds() * 1000

            async def ours(shape: str) -> dict:
                wf_id = workflows[shape][0]
                get_ms: list[float] = []
                posted_at = datetime.now(UTC)
                started = time.perf_counter()
                posted = await http.post(f"/api/v2/workflows/{wf_id}/runs", json={})
                post_ms = (time.perf_counter() - started) * 1000
                if posted.status_code != 202:
                    raise RuntimeError(f"POST runs gave {posted.status_code}: {posted.text[:500]}")
                run_id = posted.json()["data"]["id"]
                while True:
                    sent = time.perf_counter()
                    params = {"wait": min(60.0, args.run_timeout)} if args.wait == "long-poll" else None
                    got = await http.get(f"/api/v2/runs/{run_id}", params=params)
                    get_ms.append((time.perf_counter() - sent) * 1000)
                    got.raise_for_status()
                    run = got.json()["data"]
                    if run["status"] in terminal:
                        break
                    if args.wait == "poll":
                        await asyncio.sleep(args.poll_ms / 1000)
                wall_ms = (time.perf_counter() - started) * 1000
                seen_at = datetime.now(UTC)
                if run["status"] != "succeeded" or run["summary"].get("succeeded") != n:
                    raise RuntimeError(f"run {run_id} ended {run['status']}: {run.get('error')}")
                run_started = datetime.fromisoformat(run["startedAt"])
                run_ended = datetime.fromisoformat(run["endedAt"])
                return {
                    "ms": wall_ms,
                    "run_id": run_id,
                    "post_ms": post_ms,
                    "polls": len(get_ms),
                    "get_median_ms": statistics.median(get_ms),
                    # workflow clock (start of the activation) against this process's wall clock
                    "post_to_run_started_ms": (run_started - posted_at).total_seconds() * 1000,
                    "run_started_to_ended_ms": (run_ended - run_started).total_seconds() * 1000,
                    "run_ended_to_seen_ms": (seen_at - run_ended).total_seconds() * 1000,
                    "server_ms": await server_ms(run_id),
                }

            async def direct(shape: str) -> dict:
                wf_id, version, pinned = workflows[shape]
                run_id = new_id("run")
                started = time.perf_counter()
                state = await client.execute_workflow(
                    PipelineWorkflow.run,
                    PipelineInput(run_id=run_id, workflow_id=wf_id, version=version, definition=pinned,
                                  heartbeat_timeout_s=settings.heartbeat_timeout_s,
                                  default_timeout_s=settings.default_step_timeout_s),
                    id=run_id,
                    task_queue=settings.task_queue,
                    search_attributes=TypedSearchAttributes([
                        SearchAttributePair(SA_WORKFLOW_ID, wf_id),
                        SearchAttributePair(SA_VERSION, version),
                        SearchAttributePair(SA_STATUS, RunStatus.running.value),
                    ]),
                )
                wall_ms = (time.perf_counter() - started) * 1000
                if state.status != RunStatus.succeeded:
                    raise RuntimeError(f"direct run {run_id} ended {state.status}: {state.error}")
                return {"ms": wall_ms, "run_id": run_id, "server_ms": await server_ms(run_id)}

            async def baseline(shape: str) -> dict:
                inp = raw_input()
                started = time.perf_counter()
                done = await client.execute_workflow(
                    RawChain.run if shape == "chain" else RawFanOut.run,
                    inp,
                    id=inp.run_id,
                    task_queue=BASELINE_TASK_QUEUE,
                )
                wall_ms = (time.perf_counter() - started) * 1000
                if done != n:
                    raise RuntimeError(f"baseline {inp.run_id} returned {done}")
                return {"ms": wall_ms, "run_id": inp.run_id, "server_ms": await server_ms(inp.run_id)}

            async def minimal(shape: str) -> dict:
                run_id = new_id("bench-min")
                started = time.perf_counter()
                done = await client.execute_workflow(
                    MinimalChain.run if shape == "chain" else MinimalFanOut.run,
                    MinimalInput(steps=n, command=["true"], local=args.local),
                    id=run_id,
                    task_queue=MINIMAL_TASK_QUEUE,
                )
                wall_ms = (time.perf_counter() - started) * 1000
                if done != n:
                    raise RuntimeError(f"minimal {run_id} returned {done}")
                return {"ms": wall_ms, "run_id": run_id, "server_ms": await server_ms(run_id)}

            async def unsandboxed(shape: str) -> dict:
                # The in-process worker reads its settings per activity: switch the sandbox off for this run only.
                from core.settings import reset_settings

                os.environ.update(STELLARFLOW_SANDBOX="none", STELLARFLOW_ALLOW_UNSANDBOXED="true")
                reset_settings()
                try:
                    return await ours(shape)
                finally:
                    for name in ("STELLARFLOW_SANDBOX", "STELLARFLOW_ALLOW_UNSANDBOXED"):
                        os.environ.pop(name, None)
                    reset_settings()

            async def cold(shape: str) -> dict:
                # Warm sandboxes off for this run only: every step starts its sandbox when it starts.
                from core.settings import reset_settings

                os.environ["STELLARFLOW_SANDBOX_PREWARM"] = "false"
                reset_settings()
                try:
                    return await ours(shape)
                finally:
                    os.environ.pop("STELLARFLOW_SANDBOX_PREWARM", None)
                    reset_settings()

            variants = {"ours": ours, "direct": direct, "baseline": baseline, "minimal": minimal}
            if args.cold:
                variants["cold"] = cold
            if args.sandbox_off:
                variants["unsandboxed"] = unsandboxed
            samples: dict[str, dict[str, list[dict]]] = {s: {v: [] for v in variants} for s in workflows}
            total = args.warmup + args.runs
            for i in range(total):
                measured = i >= args.warmup
                # Rotate the order each round so no variant always runs right after the same neighbour.
                order = list(variants)
                order = order[i % len(order):] + order[: i % len(order)]
                for shape in workflows:
                    for name in order:
                        result = await asyncio.wait_for(variants[name](shape), args.run_timeout)
                        if measured:
                            if shape == "chain" and not args.local:  # after the clock stopped
                                result["breakdown"] = await chain_breakdown(client, result["run_id"])
                            samples[shape][name].append(result)
                print(f"  round {i + 1}/{total}{'' if measured else ' (warm-up)'} done", file=sys.stderr,
                      flush=True)
            return samples
        finally:
            await stack.aclose()

    def summarize(samples: dict) -> dict:
        summary: dict = {}
        for shape, by_variant in samples.items():
            row: dict = {}
            for name, results in by_variant.items():
                ms = [r["ms"] for r in results]
                row[name] = {
                    "median_ms": statistics.median(ms),
                    "p90_ms": pctl(ms, 0.9),
                    "min_ms": min(ms),
                    "max_ms": max(ms),
                    "server_median_ms": statistics.median(r["server_ms"] for r in results),
                }
            for key in ("post_ms", "polls", "get_median_ms", "post_to_run_started_ms", "run_started_to_ended_ms",
                        "run_ended_to_seen_ms"):
                row["ours"][f"{key}_median"] = statistics.median(r[key] for r in by_variant["ours"])
            row["ratio_ours_baseline"] = row["ours"]["median_ms"] / row["baseline"]["median_ms"]
            row["ratio_ours_minimal"] = row["ours"]["median_ms"] / row["minimal"]["median_ms"]
            row["ratio_direct_minimal"] = row["direct"]["median_ms"] / row["minimal"]["median_ms"]
            row["ratio_baseline_minimal"] = row["baseline"]["median_ms"] / row["minimal"]["median_ms"]
            # the same, from the server's own start and close times (no client, API or polling in them)
            row["server_ratio_ours_minimal"] = row["ours"]["server_median_ms"] / row["minimal"]["server_median_ms"]
            row["server_ratio_direct_minimal"] = (row["direct"]["server_median_ms"]
                                                  / row["minimal"]["server_median_ms"])
            if "cold" in row:
                row["ratio_ours_cold"] = row["ours"]["median_ms"] / row["cold"]["median_ms"]
            if "unsandboxed" in row:
                row["ratio_ours_unsandboxed"] = row["ours"]["median_ms"] / row["unsandboxed"]["median_ms"]
            row["ratio_direct_baseline"] = row["direct"]["median_ms"] / row["baseline"]["median_ms"]
            if shape == "chain" and all("breakdown" in r for results in by_variant.values() for r in results):
                row["breakdown"] = {
                    name: {key: statistics.median(r["breakdown"][key] for r in results if key in r["breakdown"])
                           for key in results[0]["breakdown"]}
                    for name, results in by_variant.items()
                }
            row["target_ratio"] = TARGET_RATIO
            row["target_met"] = row["ratio_ours_minimal"] <= TARGET_RATIO
            summary[shape] = row
        return summary

    def temporal_version() -> str:
        with contextlib.suppress(Exception):
            out = subprocess.run([temporal_binary(), "--version"], capture_output=True, text=True, timeout=10)
            return out.stdout.strip()
        return "unknown"

    print(f"StellarFlow DAG overhead: {n}-step chain and {n}-wide fan-out of `true`, "
          f"{args.warmup} warm-up + {args.runs} measured runs per variant, API {args.api}, "
          + (f"poll every {args.poll_ms:g} ms" if args.wait == "poll" else "long-poll GET ?wait=")
          + (", steps as local activities" if args.local else ""),
          file=sys.stderr, flush=True)
    load_before = os.getloadavg()
    started = time.monotonic()
    loop_beat[0] = time.monotonic()
    watchdog_on.set()
    threading.Thread(target=watchdog, name="bench-watchdog", daemon=True).start()
    try:
        samples = asyncio.run(run_bench())
    except BaseException:
        print(f"kept {tmp} (server db, api.log) for a look", file=sys.stderr)
        raise
    finally:
        watchdog_on.clear()
    if args.keep:
        print(f"kept {tmp}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - started
    summary = summarize(samples)

    labels = {"chain": f"{n}-step chain", "fanout": f"{n}-wide fan-out"}
    out = [
        f"{'shape':<16} {'ours med':>9} {'ours p90':>9} {'min med':>8} {'base med':>9} {'ours/min':>8} "
        f"{'srv o/min':>9} {'ours/base':>9}  target ours/min <= {TARGET_RATIO}x",
    ]
    out.append("-" * len(out[0]))
    for shape, row in summary.items():
        o, b, m = row["ours"], row["baseline"], row["minimal"]
        verdict = "met" if row["target_met"] else f"NOT met (by {row['ratio_ours_minimal'] / TARGET_RATIO:.2f}x)"
        out.append(
            f"{labels[shape]:<16} {o['median_ms']:>9.0f} {o['p90_ms']:>9.0f} {m['median_ms']:>8.0f} "
            f"{b['median_ms']:>9.0f} {row['ratio_ours_minimal']:>7.2f}x {row['server_ratio_ours_minimal']:>8.2f}x "
            f"{row['ratio_ours_baseline']:>8.2f}x  {verdict}"
        )
    out += ["", "server-side medians (start to close as Temporal recorded them), ms:"]
    for shape, row in summary.items():
        server = {name: row[name]["server_median_ms"] for name in ("ours", "direct", "baseline", "minimal")}
        out.append(f"{labels[shape]:<16} " + "   ".join(f"{name} {ms:>6.0f}" for name, ms in server.items())
                   + f"   direct/minimal {row['server_ratio_direct_minimal']:.2f}x")
    out += ["", "where the time goes (medians, ms; `direct` = PipelineWorkflow started by the raw client):"]
    out.append(
        f"{'shape':<16} {'direct':>7} {'dir/base':>8} {'POST':>6} {'GET':>6} {'polls':>5} "
        f"{'POST->start':>11} {'start->end':>10} {'end->seen':>9} {'srv ours':>8} {'srv dir':>7} {'srv base':>8}"
    )
    for shape, row in summary.items():
        o, d, b = row["ours"], row["direct"], row["baseline"]
        out.append(
            f"{labels[shape]:<16} {d['median_ms']:>7.0f} {row['ratio_direct_baseline']:>7.2f}x "
            f"{o['post_ms_median']:>6.1f} {o['get_median_ms_median']:>6.1f} {o['polls_median']:>5.0f} "
            f"{o['post_to_run_started_ms_median']:>11.0f} {o['run_started_to_ended_ms_median']:>10.0f} "
            f"{o['run_ended_to_seen_ms_median']:>9.0f} {o['server_median_ms']:>8.0f} {d['server_median_ms']:>7.0f} "
            f"{b['server_median_ms']:>8.0f}"
        )
    if not args.local:
        out += ["", f"per step of the {n}-step chain, from the server's history (medians over the measured runs; "
                    "ms, bytes; see bench/history_breakdown.py):"]
        columns = (*FIELDS, "first_schedule", "last_to_close", "markers", "history_events")
        out.append(f"{'variant':<12} " + " ".join(f"{c:>{max(len(c), 8)}}" for c in columns))
        for name, results in summary["chain"]["breakdown"].items():
            counts = ("bytes", "markers", "events")
            out.append(f"{name:<12} " + " ".join(
                f"{results.get(c, float('nan')):>{max(len(c), 8)}.{0 if c.endswith(counts) else 2}f}"
                for c in columns))
    if args.cold:
        out += ["", "warm sandboxes (ours, the default, against every sandbox started cold; medians, ms):"]
        for shape, row in summary.items():
            warm, cold_ms = row["ours"]["median_ms"], row["cold"]["median_ms"]
            out.append(f"{labels[shape]:<16} warm {warm:>6.0f}   cold {cold_ms:>6.0f}   warm/cold "
                       f"{row['ratio_ours_cold']:.3f}x   minimal {row['minimal']['median_ms']:>6.0f}")
    if args.sandbox_off:
        out += ["", "the sandbox (ours with the worker's sandbox on, the default, against off; medians, ms):"]
        for shape, row in summary.items():
            on, off = row["ours"]["median_ms"], row["unsandboxed"]["median_ms"]
            per_step = f"   {(on - off) / n:+.2f} ms per step" if shape == "chain" else ""
            out.append(f"{labels[shape]:<16} on {on:>6.0f}   off {off:>6.0f}   "
                       f"on/off {row['ratio_ours_unsandboxed']:.3f}x{per_step}")
    chain_med = summary["chain"]["ours"]["median_ms"]
    verdict = "met" if chain_med <= GOAL_CHAIN_MS else f"{chain_med / GOAL_CHAIN_MS:.1f}x over"
    out += [
        "",
        f"{n}-step chain through the API: median {chain_med:.0f} ms against the issue's goal of "
        f"~{GOAL_CHAIN_MS:.0f} ms: {verdict}",
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
        f"{load_before[0]:.2f} before / {os.getloadavg()[0]:.2f} after; {elapsed:.0f} s in all",
    ]
    print("\n" + "\n".join(out), flush=True)

    if args.json:
        meta = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "temporalio": temporalio.__version__,
            "temporal_cli": temporal_version(),
            "dev_server_tuning": DEV_SERVER_TUNING,
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "elapsed_s": round(elapsed, 1),
            "loadavg_1m_before": load_before[0],
            "loadavg_1m_after": os.getloadavg()[0],
            "goal_chain_ms": GOAL_CHAIN_MS,
        }
        args.json.write_text(json.dumps({"meta": meta, "summary": summary, "samples": samples}, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    import os
    import sys

    try:
        code = _main()
    except KeyboardInterrupt:
        code = 130
    except Exception:
        import traceback

        traceback.print_exc()
        code = 1
    # temporalio's native runtime sometimes aborts at interpreter exit (sdk-python#300); keep the exit code.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
