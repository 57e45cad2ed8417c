"""Cancel latency: how long from the API call until the process is gone and the new state is reported.

    python bench/cancel.py [--cancels 20] [--kinds task,run] [--root DIR] [--json out.json]

A stack like `stellarflow up`'s, started here in a temp data dir: a Temporal dev server (SQLite file, the project's
DEV_SERVER_TUNING and search attributes), `python -m worker` and the API under uvicorn, each in its own process,
with the default settings (heartbeat timeout 30 s). `--root` runs another checkout's worker and API (to measure
the code before a change: `--root /work/main`).

For each cancel a command `sleep 60.<n>` runs — a task on a shell agent (`DELETE /api/tasks/{id}`), or a run's only
step (`POST /api/v2/runs/{id}/cancel`) — and once its process has been seen in /proc and has run for a while
(`--settle`, 1–3 s, drawn at random: a cancel lands anywhere in the heartbeat cycle, never only just after the
first heartbeat, which the SDK sends at once) the clock starts:

* answer   – the API call returned (a task's DELETE answers with the final state; a run's cancel answers 202);
* gone     – the command's process no longer exists (watched in /proc every 5 ms while the call runs);
* reported – the API reports the new state (`cancelled`): the DELETE's own answer for a task, a GET of the run
             (polled every 10 ms) for a run;
* done     – the later of gone and reported: what a user waits for.

It prints p50/p99/max of each, per kind, against the 2 s target for `done` p99. `measure_cancel_latency` is the
measurement alone, for a stack someone else started (bench/events.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_P99_S = 2.0
TERMINAL_RUN = {"succeeded", "failed", "cancelled"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _pids(cmdline: str) -> list[int]:
    """Host pids running exactly `cmdline` (a sandboxed command's own pids are not host pids)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if args == cmdline and state not in {"Z", "X"}:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}


async def _until(predicate: Callable[[], bool], what: str, timeout: float = 60.0, every: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


async def _poll_json(http: httpx.AsyncClient, url: str, predicate: Callable[[dict], bool], timeout: float = 60.0,
                     every: float = 0.05) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        response = await http.get(url)
        response.raise_for_status()
        body = response.json()
        if predicate(body):
            return body
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} never matched: {body}")
        await asyncio.sleep(every)


async def _timed_cancel(pid: int, cancel: Callable[[], Awaitable[tuple[float, float]]]) -> dict[str, float]:
    """Start the clock, call `cancel` (which returns (answered, reported), in seconds after it was called), and
    watch the process meanwhile."""
    started = time.monotonic()
    gone_at: list[float] = []

    async def watch() -> None:
        while _alive(pid):
            await asyncio.sleep(0.005)
        gone_at.append(time.monotonic() - started)

    watcher = asyncio.create_task(watch())
    answer_s, reported_s = await cancel()
    await asyncio.wait_for(watcher, 30)
    return {"answer": answer_s, "gone": gone_at[0], "reported": reported_s,
            "done": max(gone_at[0], reported_s)}


async def measure_cancel_latency(http: httpx.AsyncClient, *, cancels: int = 20,
                                 kinds: tuple[str, ...] = ("task", "run"), warmup: int = 2,
                                 settle: tuple[float, float] = (1.0, 3.0),
                                 log: Callable[[str], None] = print) -> dict[str, dict]:
    """Cancel `cancels` running `sleep` commands of each kind through the API `http` points at (signed in, with a
    worker running) and return {kind: {"samples": [...], "summary": {metric: {p50, p99, max}}}}; prints as it goes.
    `warmup` cancels per kind come first and are not counted; each cancel comes `settle` (a range, seconds) after
    its process was seen."""
    results: dict[str, dict] = {}
    draw = random.Random(11)

    async def settled(command: str) -> int:
        await _until(lambda: bool(_pids(command)), f"{command} to start")
        [pid] = _pids(command)
        await asyncio.sleep(draw.uniform(*settle))
        return pid

    seq = [int(time.time()) % 100_000]

    def marker() -> str:
        seq[0] += 1
        return f"sleep 60.{seq[0]}"

    async def task_cancel(agent_id: str) -> dict[str, float]:
        command = marker()
        created = await http.post("/api/tasks", json={"description": "cancel bench", "type": "bench",
                                                      "requirements": {"command": command}})
        created.raise_for_status()
        task_id = created.json()["id"]
        (await http.post(f"/api/tasks/{task_id}/assign", json={"agent_id": agent_id})).raise_for_status()
        pid = await settled(command)

        async def cancel() -> tuple[float, float]:
            t0 = time.monotonic()
            response = await http.delete(f"/api/tasks/{task_id}")
            answered = time.monotonic() - t0
            if response.status_code != 200 or response.json().get("status") != "cancelled":
                raise RuntimeError(f"DELETE /api/tasks/{task_id}: {response.status_code} {response.text[:300]}")
            return answered, answered

        return await _timed_cancel(pid, cancel)

    async def run_cancel(workflow_id: str) -> dict[str, float]:
        command = marker()
        inputs = {"seconds": command.split()[1]}
        started = await http.post(f"/api/v2/workflows/{workflow_id}/runs", json={"inputs": inputs})
        started.raise_for_status()
        run_id = started.json()["data"]["id"]
        pid = await settled(command)

        async def cancel() -> tuple[float, float]:
            t0 = time.monotonic()
            response = await http.post(f"/api/v2/runs/{run_id}/cancel")
            answered = time.monotonic() - t0
            if response.status_code != 202:
                raise RuntimeError(f"cancel {run_id}: {response.status_code} {response.text[:300]}")
            await _poll_json(http, f"/api/v2/runs/{run_id}", lambda b: b["data"]["status"] in TERMINAL_RUN,
                             every=0.01)
            reported = time.monotonic() - t0
            run = (await http.get(f"/api/v2/runs/{run_id}")).json()["data"]
            if run["status"] != "cancelled":
                raise RuntimeError(f"run {run_id} ended {run['status']}")
            return answered, reported

        return await _timed_cancel(pid, cancel)

    for kind in kinds:
        if kind == "task":
            created = await http.post("/api/agents", json={"type": "tester", "config": {"executor": "shell"}})
            created.raise_for_status()
            agent_id = created.json()["id"]
            await _poll_json(http, f"/api/agents/{agent_id}", lambda b: b["status"] == "idle")
            # after a cancel the agent rolls the workspace back and is idle again before the next one
            one = lambda agent_id=agent_id: task_cancel(agent_id)  # noqa: E731
        elif kind == "run":
            created = await http.post("/api/v2/workflows", json={
                "name": "cancel bench", "inputs": {"seconds": {"type": "string", "required": True}},
                "steps": [{"id": "hang", "action": "execute-command",
                           "parameters": {"command": ["sleep", "{{ inputs.seconds }}"]}}]})
            created.raise_for_status()
            workflow_id = created.json()["data"]["id"]
            one = lambda workflow_id=workflow_id: run_cancel(workflow_id)  # noqa: E731
        else:
            raise ValueError(f"unknown kind {kind!r}")
        samples = []
        for i in range(warmup + cancels):
            sample = await one()
            if i >= warmup:
                samples.append(sample)
                log(f"{kind:4} #{len(samples):2}: answer {sample['answer']:.3f}s  gone {sample['gone']:.3f}s  "
                    f"reported {sample['reported']:.3f}s  done {sample['done']:.3f}s")
        summary = {metric: {"p50": statistics.median([s[metric] for s in samples]),
                            "p99": _percentile([s[metric] for s in samples], 0.99),
                            "max": max(s[metric] for s in samples)}
                   for metric in ("answer", "gone", "reported", "done")}
        results[kind] = {"samples": samples, "summary": summary}
        log(f"{kind}: " + "  ".join(f"{m} p50 {v['p50']:.3f}s p99 {v['p99']:.3f}s" for m, v in summary.items()))
    return results


def _main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cancels", type=int, default=20, help="measured cancels per kind")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured cancels per kind first")
    parser.add_argument("--kinds", default="task,run", help="comma-separated: task, run")
    parser.add_argument("--settle", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"),
                        help="seconds the command runs before it is cancelled (drawn uniformly)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose worker and API run")
    parser.add_argument("--json", type=Path, help="also write samples and summary here")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="stellarflow-cancel-bench-"))
    os.environ["STELLARFLOW_DATA_DIR"] = str(tmp / "data")
    os.environ["STELLARFLOW_MANAGE_SCHEDULES"] = "false"
    for name in ("DATABASE_URL", "STELLARFLOW_DATABASE_URL", "TEMPORAL_ADDRESS", "STELLARFLOW_TEMPORAL_ADDRESS",
                 "STELLARFLOW_HEARTBEAT_TIMEOUT_S"):
        os.environ.pop(name, None)

    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from core.auth.bootstrap import bootstrap
    from core.db import get_engine
    from core.settings import get_settings, reset_settings
    from core.temporal import DEV_SERVER_TUNING, SEARCH_ATTRIBUTE_KEYS, temporal_binary

    reset_settings()
    settings = get_settings()

    async def run() -> dict:
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_binary(), data_converter=pydantic_data_converter,
            search_attributes=SEARCH_ATTRIBUTE_KEYS, dev_server_extra_args=DEV_SERVER_TUNING,
            dev_server_database_filename=str(tmp / "temporal.db"), port=_free_port(),
            dev_server_startup_timeout=timedelta(seconds=60),
        )
        procs: list[subprocess.Popen] = []
        try:
            target = env.client.service_client.config.target_host
            get_engine()
            bootstrap(settings)
            headers = {"Authorization": f"Bearer {settings.cli_key_file.read_text().strip()}"}
            child_env = {**os.environ, "TEMPORAL_ADDRESS": target, "PYTHONPATH": str(args.root)}
            python = args.root / ".venv" / "bin" / "python"
            python = python if python.exists() else Path(sys.executable)
            port = _free_port()
            for name, argv in (("worker", [str(python), "-m", "worker"]),
                               ("api", [str(python), "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
                                        "--port", str(port), "--log-level", "warning"])):
                out = open(tmp / f"{name}.log", "wb")  # noqa: SIM115 - the process keeps it
                procs.append(subprocess.Popen(argv, cwd=args.root, env=child_env, stdout=out,
                                              stderr=subprocess.STDOUT, start_new_session=True))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as http:
                deadline = time.monotonic() + 60
                while True:
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get("/api/v2/system/health")).status_code == 200:
                            break
                    if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                        raise RuntimeError(f"the stack did not come up; see {tmp}")
                    await asyncio.sleep(0.1)
                kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
                print(f"root {args.root}; {args.cancels} cancels per kind after {args.warmup} warm-up; "
                      f"heartbeat timeout {settings.heartbeat_timeout_s:g}s")
                return await measure_cancel_latency(http, cancels=args.cancels, kinds=kinds, warmup=args.warmup,
                                                    settle=tuple(args.settle))
        finally:
            for proc in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 15)
            for proc in procs:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
            await env.shutdown()

    results = asyncio.run(run())
    worst = max(r["summary"]["done"]["p99"] for r in results.values())
    print(f"cancel done p99 (worst kind) {worst:.3f}s against the {TARGET_P99_S:g}s target: "
          f"{'met' if worst <= TARGET_P99_S else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if worst <= TARGET_P99_S else 1


if __name__ == "__main__":
    sys.exit(_main())
