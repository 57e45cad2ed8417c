"""How fast does a swarm work through many small tasks, against raw Temporal doing the same work?

    python bench/swarm_throughput.py [--tasks 200] [--agents 8] [--submitters 16] [--topology star]

One process starts a Temporal dev server (SQLite file, the project's DEV_SERVER_TUNING), the worker, and the API
as its own process (like `stellarflow up`). Then, in one run:

* ours     – a swarm of --agents shell agents is created through the API; --tasks `true` tasks are submitted
             through `POST /api/v2/tasks` (with the swarm relationship) by --submitters concurrent clients. Each
             task is a TaskWorkflow, assigned by the SwarmWorkflow, run by an AgentWorkflow through the
             `execute_task` activity (per-task workspace, diff, measured result), with every event recorded.
* baseline – one plain workflow per task calling the same `execute_task` activity with the same input, started
             with the raw Temporal client by the same number of submitters, on a worker of its own whose activity
             slots equal the agent count (the same parallelism of work).

Latency is submission (client clock, before the request) to the task's workflow closing (server clock, same
machine). Throughput is tasks / (last close − first submission). Both sides warm up first (not measured), then
--rounds rounds alternate which side goes first; the ratio reported is the median of the rounds' ratios. The last
lines check that every task ran exactly once (the swarm's count and its agents' own metrics).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.agents.contracts import ExecuteTaskInput
    from core.agents.models import TaskResult

BASELINE_TASK_QUEUE = "stellarflow-bench-swarm-baseline"
TARGET_RATIO = 0.7  # ours / baseline throughput


class RawTaskInput(BaseModel):
    task: ExecuteTaskInput
    heartbeat_timeout_s: float
    timeout_s: float
    max_attempts: int


@workflow.defn(name="RawTask")
class RawTask:
    """What the swarm does for one task, minus everything that makes it a swarm: one activity call."""

    @workflow.run
    async def run(self, inp: RawTaskInput) -> bool:
        result: TaskResult = await workflow.execute_activity(
            "execute_task", inp.task, result_type=TaskResult,
            start_to_close_timeout=timedelta(seconds=inp.timeout_s + 30),
            heartbeat_timeout=timedelta(seconds=inp.heartbeat_timeout_s),
            retry_policy=RetryPolicy(maximum_attempts=inp.max_attempts,
                                     non_retryable_error_types=["ExecutorNotConfigured", "InvalidTask"]),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )  # fmt: skip
        return result.success


def _main() -> int:
    import argparse
    import asyncio
    import contextlib
    import os
    import platform
    import shutil
    import socket
    import statistics
    import subprocess
    import sys
    import tempfile
    import time
    from datetime import UTC, datetime
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--submitters", type=int, default=16, help="concurrent submitting clients, both sides")
    parser.add_argument("--warmup", type=int, default=16, help="unmeasured tasks per side first")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (sides alternate who goes first)")
    parser.add_argument("--topology", default="star", choices=["star", "mesh", "ring", "hierarchical"])
    parser.add_argument("--strategy", default="balanced", choices=["balanced", "specialized", "adaptive"])
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a side counts as hung")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (server db, api.log)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="stellarflow-swarm-bench-"))
    (tmp / "definitions").mkdir()
    os.environ["STELLARFLOW_DATA_DIR"] = str(tmp / "data")
    os.environ["STELLARFLOW_DEFINITIONS_DIR"] = str(tmp / "definitions")
    for name in ("DATABASE_URL", "STELLARFLOW_DATABASE_URL", "TEMPORAL_ADDRESS", "STELLARFLOW_TEMPORAL_ADDRESS"):
        os.environ.pop(name, None)

    import httpx
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

    from core.settings import get_settings, reset_settings

    reset_settings()
    from activities.executors import ALL as EXECUTOR_ACTIVITIES
    from core.auth.bootstrap import bootstrap
    from core.db import get_engine
    from core.ids import new_id
    from core.temporal import DEV_SERVER_TUNING, SEARCH_ATTRIBUTE_KEYS, temporal_binary
    from worker import build_worker

    settings = get_settings()

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def pctl(values: list[float], q: float) -> float:
        ordered = sorted(values)
        pos = (len(ordered) - 1) * q
        lo = int(pos)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)

    async def close_times(client: Client, ids: list[str]) -> dict[str, datetime]:
        """Each workflow's close time as the server recorded it (waiting for the ones still closing)."""
        found: dict[str, datetime] = {}
        for workflow_id in ids:
            handle = client.get_workflow_handle(workflow_id)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(handle.result(), 60)
            desc = await handle.describe()
            assert desc.close_time is not None, workflow_id
            found[workflow_id] = desc.close_time
        return found

    async def spread(count: int, submit) -> dict[str, datetime]:
        """Submit `count` tasks from --submitters concurrent clients; returns id → submission time."""
        submitted: dict[str, datetime] = {}
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(count):
            queue.put_nowait(i)

        async def submitter() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                at = datetime.now(UTC)
                submitted[await submit(i)] = at

        await asyncio.gather(*(submitter() for _ in range(args.submitters)))
        return submitted

    def figures(submitted: dict[str, datetime], closed: dict[str, datetime]) -> dict:
        latencies = [(closed[i] - submitted[i]).total_seconds() * 1000 for i in submitted]
        window = (max(closed.values()) - min(submitted.values())).total_seconds()
        return {"tasks": len(submitted), "window_s": window, "tasks_per_s": len(submitted) / window,
                "p50_ms": statistics.median(latencies), "p99_ms": pctl(latencies, 0.99),
                "max_ms": max(latencies)}

    async def run_bench() -> dict:
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_binary(), data_converter=pydantic_data_converter,
            search_attributes=SEARCH_ATTRIBUTE_KEYS, dev_server_extra_args=DEV_SERVER_TUNING,
            dev_server_database_filename=str(tmp / "temporal.db"), port=free_port(),
            dev_server_startup_timeout=timedelta(seconds=60),
        )
        client: Client = env.client
        stack = contextlib.AsyncExitStack()
        try:
            stack.push_async_callback(env.shutdown)
            get_engine()
            bootstrap(settings)
            headers = {"Authorization": f"Bearer {settings.cli_key_file.read_text().strip()}"}
            ours_worker = build_worker(client, settings)
            base_worker = Worker(
                client, task_queue=BASELINE_TASK_QUEUE, workflows=[RawTask], activities=EXECUTOR_ACTIVITIES,
                workflow_runner=SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default
                                                        .with_passthrough_modules("core", "pydantic", "pydantic_core")),
                max_concurrent_activities=args.agents,
            )
            for w in (ours_worker, base_worker):
                task = asyncio.create_task(w.run())

                async def stop(w: Worker = w, task: asyncio.Task = task) -> None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(w.shutdown(), 30)
                    await asyncio.gather(task, return_exceptions=True)

                stack.push_async_callback(stop)

            api_port = free_port()
            log = open(tmp / "api.log", "wb")  # noqa: SIM115 - closed by the exit stack
            stack.callback(log.close)
            proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(api_port),
                 "--log-level", "warning"],
                cwd=root, env={**os.environ, "TEMPORAL_ADDRESS": client.service_client.config.target_host},
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )

            def stop_proc() -> None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()

            stack.callback(stop_proc)
            limits = httpx.Limits(max_connections=args.submitters + 4)
            http = await stack.enter_async_context(httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{api_port}", timeout=60, headers=headers, limits=limits))
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/api/v2/system/health")).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the API did not come up; see {tmp / 'api.log'}")
                await asyncio.sleep(0.1)

            # ---- ours: a swarm through the API ----
            created = await http.post("/api/swarms", json={
                "name": "bench swarm", "objective": "work through many small tasks", "topology": args.topology,
                "strategy": args.strategy, "config": {"max_agents": args.agents + 1},
                "initial_agents": [{"type": "coder", "count": args.agents, "config": {"executor": "shell"}}],
            })
            if created.status_code != 201:
                raise RuntimeError(f"POST /api/swarms gave {created.status_code}: {created.text[:500]}")
            swarm_id = created.json()["id"]
            while True:
                status = (await http.get(f"/api/swarms/{swarm_id}/status")).json()
                if status["agents"]["total"] >= args.agents and status["status"] == "active":
                    break
                await asyncio.sleep(0.1)

            async def submit_ours(i: int) -> str:
                body = {"data": {"type": "task", "attributes": {
                    "description": f"bench task {i}", "priority": "medium", "requirements": {"command": "true"}},
                    "relationships": {"swarm": {"data": {"type": "swarm", "id": swarm_id}}}}}
                response = await http.post("/api/v2/tasks", json=body)
                if response.status_code != 201:
                    raise RuntimeError(f"POST /api/v2/tasks gave {response.status_code}: {response.text[:500]}")
                return response.json()["data"]["id"]

            async def wait_swarm(total: int) -> None:
                end = time.monotonic() + args.timeout
                while True:
                    tasks = (await http.get(f"/api/swarms/{swarm_id}/status")).json()["tasks"]
                    if tasks["completed"] + tasks["failed"] >= total:
                        if tasks["failed"]:
                            raise RuntimeError(f"{tasks['failed']} tasks failed: {tasks}")
                        return
                    if time.monotonic() > end:
                        raise RuntimeError(f"swarm still busy after {args.timeout}s: {tasks}")
                    await asyncio.sleep(0.5)  # the figures come from close times, not from this poll

            # ---- baseline: one raw workflow per task ----
            def raw_input(task_id: str) -> RawTaskInput:
                return RawTaskInput(
                    task=ExecuteTaskInput(task_id=task_id, agent_id="bench-baseline", executor="shell",
                                          workspace=str(settings.workspaces_dir / "bench-baseline" / task_id),
                                          description="bench task", requirements={"command": "true"},
                                          config={"executor": "shell"}),
                    heartbeat_timeout_s=settings.heartbeat_timeout_s, timeout_s=settings.default_step_timeout_s,
                    max_attempts=settings.task_max_attempts)

            async def submit_base(i: int) -> str:
                task_id = new_id("raw")
                await client.start_workflow(RawTask.run, raw_input(task_id), id=task_id,
                                            task_queue=BASELINE_TASK_QUEUE)
                return task_id

            async def baseline(count: int) -> dict[str, datetime]:
                submitted = await spread(count, submit_base)
                results = await asyncio.wait_for(asyncio.gather(
                    *(client.get_workflow_handle(i).result() for i in submitted)), args.timeout)
                if not all(results):
                    raise RuntimeError("a baseline task failed")
                return submitted

            async def ours(count: int, done_before: int) -> dict[str, datetime]:
                submitted = await spread(count, submit_ours)
                await wait_swarm(done_before + count)
                return submitted

            print(f"warm-up: {args.warmup} tasks per side", file=sys.stderr, flush=True)
            await baseline(args.warmup)
            await ours(args.warmup, 0)
            rounds: list[dict] = []
            done = args.warmup
            for index in range(args.rounds):
                print(f"round {index + 1}/{args.rounds}: {args.tasks} tasks per side", file=sys.stderr, flush=True)
                measured: dict[str, dict] = {}
                # Alternate which side goes first, so drift in the machine's load hits both alike.
                for side in (("baseline", "ours") if index % 2 == 0 else ("ours", "baseline")):
                    if side == "baseline":
                        submitted = await baseline(args.tasks)
                    else:
                        submitted = await ours(args.tasks, done)
                        done += args.tasks
                    measured[side] = figures(submitted, await close_times(client, list(submitted)))
                rounds.append(measured)
            status = (await http.get(f"/api/swarms/{swarm_id}/status")).json()
            members = (await http.get(f"/api/v2/swarms/{swarm_id}/agents", params={"page[size]": 100})).json()
            runs = sum(a["attributes"]["metrics"]["tasksCompleted"] for a in members["data"])
            return {"rounds": rounds, "swarm_status": status, "agent_runs": runs, "submitted": done}
        finally:
            await stack.aclose()

    load_before = os.getloadavg()
    started = time.monotonic()
    try:
        result = asyncio.run(run_bench())
    except BaseException:
        print(f"kept {tmp} (server db, api.log) for a look", file=sys.stderr)
        raise
    if args.keep:
        print(f"kept {tmp}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    perf = result["swarm_status"].get("performance", {})
    lines = [
        f"StellarFlow swarm throughput: {args.tasks} `true` tasks per side and round, {args.rounds} rounds, "
        f"{args.agents} shell agents ({args.topology}/{args.strategy}), {args.submitters} concurrent submitters, "
        f"{args.warmup} warm-up tasks",
        "",
        f"{'round':<6} {'side':<10} {'tasks/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'window s':>9} "
        f"{'ratio':>6}",
    ]
    ratios = []
    for index, measured in enumerate(result["rounds"], 1):
        ratio = measured["ours"]["tasks_per_s"] / measured["baseline"]["tasks_per_s"]
        ratios.append(ratio)
        for side in ("ours", "baseline"):
            f = measured[side]
            lines.append(f"{index:<6} {side:<10} {f['tasks_per_s']:>8.1f} {f['p50_ms']:>8.0f} {f['p99_ms']:>8.0f} "
                         f"{f['max_ms']:>8.0f} {f['window_s']:>9.2f} " + (f"{ratio:>5.2f}x" if side == "ours" else ""))
    ratio = statistics.median(ratios)
    lines += [
        "",
        f"throughput ratio ours/baseline, median of {len(ratios)} rounds: {ratio:.2f}x (target >= {TARGET_RATIO}x: "
        f"{'met' if ratio >= TARGET_RATIO else 'NOT met'})",
        f"exactly once: {result['submitted']} tasks submitted, {result['swarm_status']['tasks']['completed']} "
        f"completed by the swarm's count, {result['agent_runs']} runs by its agents' metrics",
        f"the swarm's own status says: throughput {perf.get('throughput')} tasks/min, efficiency "
        f"{perf.get('efficiency')}, coordination overhead {perf.get('coordination_overhead')}",
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
        f"{load_before[0]:.2f} before / {os.getloadavg()[0]:.2f} after; {time.monotonic() - started:.0f} s in all",
    ]
    print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
