"""How long does an event take to reach WebSocket clients, with 1 and with 200 of them? (issue 11)

    python bench/events.py [--subscribers 1,200] [--runs 10] [--writes 200] [--json out.json]

One process starts a Temporal dev server, the project's worker and a temp data dir (SQLite, or DATABASE_URL /
REDIS_URL from the environment), and runs the real API under uvicorn in a subprocess, as `stellarflow up` does.
The subscribers are `websockets` clients in this process, all on dialect 1's `/ws`, subscribed to `runs`.

Two figures per subscriber count, each over every (event, client) pair:

* commit → client  – events written through the worker's write path (`core.events.store.record`) from this process,
                     `--interval-ms` apart, timed from just after the commit to the moment each client has parsed
                     the message: what the stream itself adds (the hub's wake-up, one read, the fan-out, the socket).
* workflow → client – real runs (a 5-step chain of `true`); timed from the event's recorded time (`workflow.now()`
                     when the workflow emitted it) to each client's receipt. This includes the workflow's own
                     batching of event writes (PIPELINE_FLUSH_EVERY, 250 ms) and the activity that writes them.

Clients, worker and Temporal share this machine's cores with the API, so heavy fan-out competes with the writer:
the figures are for this machine under that load, not for the API alone.

One function per measurement (`measure_commit_latency`, `measure_workflow_latency`, and cancel latency —
`measure_cancel_latency` from bench/cancel.py, on the same stack: `--cancels N`, 0 to skip).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_P99_MS = 250.0
CANCEL_TARGET_P99_S = 2.0


def pctl(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Subscribers:
    """`n` clients on `/ws`, subscribed to `runs`, each recording (event id, type, data, receipt time)."""

    def __init__(self, url: str, token: str, n: int) -> None:
        self.url, self.token, self.n = url, token, n
        self.sockets: list[Any] = []
        self.received: list[list[tuple[int, dict, float]]] = []
        self.keys: list[set[tuple]] = []  # (type, run id, step id) of what each client got, for `wait_for`
        self.tasks: list[asyncio.Task] = []

    async def __aenter__(self) -> Subscribers:
        import websockets

        for i in range(self.n):
            sock = await websockets.connect(self.url, open_timeout=30, max_size=None, ping_interval=None)
            await sock.send(json.dumps({"type": "auth", "token": self.token}))
            await sock.recv()
            await sock.send(json.dumps({"type": "subscribe", "channels": ["runs"]}))
            await sock.recv()
            self.sockets.append(sock)
            self.received.append([])
            self.keys.append(set())
            self.tasks.append(asyncio.create_task(self._read(sock, self.received[i], self.keys[i])))
        return self

    @staticmethod
    async def _read(sock: Any, into: list, keys: set) -> None:
        with contextlib.suppress(Exception):
            async for raw in sock:
                now = time.time()
                message = json.loads(raw)
                data = message.get("data")
                if isinstance(message.get("id"), int) and isinstance(data, dict):
                    into.append((message["id"], message, now))
                    keys.add((message["type"], data.get("run_id"), data.get("step_id")))

    async def __aexit__(self, *exc: object) -> None:
        for task in self.tasks:
            task.cancel()
        for sock in self.sockets:
            with contextlib.suppress(Exception):
                await sock.close()

    async def wait_for(self, key: tuple, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(key in keys for keys in self.keys):
                return
            await asyncio.sleep(0.02)
        raise TimeoutError("not every subscriber got the event")


async def measure_commit_latency(url: str, token: str, subscribers: int, writes: int, interval_s: float) -> dict:
    """Events written through `core.events.store.record` one at a time, `interval_s` apart, commit → each
    client."""
    from ulid import ULID

    from core.events.contracts import EntityRecord
    from core.events.models import Event
    from core.events.store import record

    run_id = f"run-{ULID()}"
    committed: dict[str, float] = {}
    async with Subscribers(url, token, subscribers) as subs:
        for i in range(writes):
            marker = f"m{i}"
            request = EntityRecord(kind="none", id=run_id, seq=i + 1, snapshot={}, events=[
                Event(seq=i + 1, type="step.started", at=datetime.now(UTC), data={"stepId": marker})])
            await asyncio.to_thread(record, request, None)
            committed[marker] = time.time()
            await asyncio.sleep(interval_s * random.uniform(0.5, 1.5))  # jitter: no phase lock with the poll
        await subs.wait_for(("step.started", run_id, f"m{writes - 1}"))
        samples = [(at - committed[m["data"]["step_id"]]) * 1000 for got in subs.received for _, m, at in got
                   if m["data"].get("run_id") == run_id and m["data"].get("step_id") in committed]
    return _summary(samples, subscribers, writes)


async def measure_workflow_latency(http: Any, url: str, token: str, subscribers: int, runs: int) -> dict:
    """Real runs of a 5-step chain; each run event from its recorded time to each client's receipt."""
    steps = [{"id": f"s{i}", "action": "execute-command", "parameters": {"command": ["true"]},
              **({"dependsOn": [f"s{i - 1}"]} if i else {})} for i in range(5)]
    created = await http.post("/api/v2/workflows", json={"name": f"bench events {subscribers}", "steps": steps})
    created.raise_for_status()
    workflow_id = created.json()["data"]["id"]
    run_ids: list[str] = []
    async with Subscribers(url, token, subscribers) as subs:
        for _ in range(runs):
            started = await http.post(f"/api/v2/workflows/{workflow_id}/runs", json={"inputs": {}})
            started.raise_for_status()
            run_id = started.json()["data"]["id"]
            run_ids.append(run_id)
            waited = await http.get(f"/api/v2/runs/{run_id}", params={"wait": 60})
            assert waited.json()["data"]["status"] == "succeeded", waited.text
            await subs.wait_for(("run.succeeded", run_id, None))
        samples = []
        for got in subs.received:
            for _, m, at in got:
                if m["data"].get("run_id") in run_ids:
                    sent = datetime.fromisoformat(m["data"]["timestamp"]).timestamp()
                    samples.append((at - sent) * 1000)
    return _summary(samples, subscribers, runs)


def _summary(samples: list[float], subscribers: int, count: int) -> dict:
    p50, p99 = pctl(samples, 0.5), pctl(samples, 0.99)
    return {"subscribers": subscribers, "writes_or_runs": count, "samples": len(samples),
            "p50_ms": round(p50, 1) if p50 is not None else None, "p99_ms": round(p99, 1) if p99 is not None else None,
            "max_ms": round(max(samples), 1) if samples else None}


async def run_bench(args: argparse.Namespace, tmp: Path) -> dict:
    import httpx
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from core.auth.bootstrap import bootstrap
    from core.db import get_engine
    from core.settings import get_settings
    from core.temporal import DEV_SERVER_TUNING, SEARCH_ATTRIBUTE_KEYS, temporal_binary
    from worker import build_worker

    settings = get_settings()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(), data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTE_KEYS, dev_server_extra_args=DEV_SERVER_TUNING,
        dev_server_database_filename=str(tmp / "temporal.db"), port=free_port(),
        dev_server_startup_timeout=timedelta(seconds=60))
    stack = contextlib.AsyncExitStack()
    try:
        stack.push_async_callback(env.shutdown)
        get_engine()
        bootstrap(settings)
        token = settings.cli_key_file.read_text().strip()
        worker = build_worker(env.client, settings)
        worker_task = asyncio.create_task(worker.run())

        async def stop_worker() -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.shutdown(), 30)
            await asyncio.gather(worker_task, return_exceptions=True)

        stack.push_async_callback(stop_worker)
        port = free_port()
        log = open(tmp / "api.log", "wb")  # noqa: SIM115 - closed by the exit stack
        stack.callback(log.close)
        target = env.client.service_client.config.target_host
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port",
                                 str(port), "--log-level", "warning"], cwd=ROOT,
                                env={**os.environ, "TEMPORAL_ADDRESS": target}, stdout=log, stderr=subprocess.STDOUT)

        def stop_api() -> None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)

        stack.callback(stop_api)
        http = await stack.enter_async_context(httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=90, headers={"Authorization": f"Bearer {token}"}))
        for _ in range(600):
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/api/v2/system/health")).status_code == 200:
                    break
            await asyncio.sleep(0.1)
        url = f"ws://127.0.0.1:{port}/ws"
        results: dict[str, Any] = {"database": settings.db_url.split(":", 1)[0],
                                   "backend": "redis" if settings.redis_url else
                                   ("postgres" if settings.db_url.startswith("postgresql") else "poll"),
                                   "commit_to_client": [], "workflow_to_client": []}
        for n in args.subscribers:
            results["commit_to_client"].append(
                await measure_commit_latency(url, token, n, args.writes, args.interval_ms / 1000))
            results["workflow_to_client"].append(await measure_workflow_latency(http, url, token, n, args.runs))
        if args.cancels:
            from cancel import measure_cancel_latency  # bench/cancel.py: the same stack, cancels through the API

            results["cancel"] = await measure_cancel_latency(http, cancels=args.cancels,
                                                             log=lambda line: print(line, file=sys.stderr))
        return results
    finally:
        await stack.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", default="1,200", help="comma-separated subscriber counts")
    parser.add_argument("--writes", type=int, default=100, help="events written per count (commit → client)")
    parser.add_argument("--runs", type=int, default=5, help="runs per count (workflow → client)")
    parser.add_argument("--interval-ms", type=float, default=100.0,
                        help="mean time between two writes (commit → client), jittered ±50 %%: 200 clients × 10 "
                             "events/s = 2,000 messages/s")
    parser.add_argument("--cancels", type=int, default=20,
                        help="cancel latency: this many cancels of a running task and of a run (0: skip)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.subscribers = [int(x) for x in args.subscribers.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="stellarflow-bench-events-"))
    (tmp / "definitions").mkdir()
    os.environ["STELLARFLOW_DATA_DIR"] = str(tmp / "data")
    os.environ["STELLARFLOW_DEFINITIONS_DIR"] = str(tmp / "definitions")
    os.environ.pop("TEMPORAL_ADDRESS", None)
    sys.path.insert(0, str(ROOT))
    results = asyncio.run(run_bench(args, tmp))
    print(f"event stream latency (database {results['database']}, live backend {results['backend']}, "
          f"writes {args.interval_ms:g} ms apart)")
    for name in ("commit_to_client", "workflow_to_client"):
        for row in results[name]:
            verdict = "" if row["p99_ms"] is None else (" ✓" if row["p99_ms"] <= TARGET_P99_MS else " ✗")
            print(f"  {name:<19} {row['subscribers']:>4} subscribers: p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms"
                  f" (max {row['max_ms']}, {row['samples']} samples; target p99 ≤ {TARGET_P99_MS:g} ms){verdict}")
    for kind, measured in (results.get("cancel") or {}).items():
        done = measured["summary"]["done"]
        verdict = " ✓" if done["p99"] <= CANCEL_TARGET_P99_S else " ✗"
        print(f"  cancel {kind:<13} done (process gone and state reported): p50 {done['p50']:.2f} s, "
              f"p99 {done['p99']:.2f} s (target p99 ≤ {CANCEL_TARGET_P99_S:g} s){verdict}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
