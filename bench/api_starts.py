"""Start throughput: `POST /api/v2/workflows/{id}/runs` against raw `client.start_workflow`, same server, one run.

    python bench/api_starts.py [--starts 600] [--concurrency 16] [--rounds 3] [--steps 3] [--database-url URL]
                               [--redis-url URL] [--profile out.prof] [--json out.json]

One Temporal dev server (SQLite file, the project's DEV_SERVER_TUNING and search attributes), started here; the API
under uvicorn in its own process, as `stellarflow up` runs it, on SQLite in a temp data dir (or --database-url). No
worker polls: the runs are only started, so what is measured is the start path alone, the same for both sides.

Three variants, interleaved round by round so drift hits all of them:

* raw      – `client.start_workflow(PipelineWorkflow, PipelineInput(...))` with the same input, id scheme, task queue
             and search attributes as the API's start, from this process, `--concurrency` callers;
* api      – the same number of `POST /api/v2/workflows/{id}/runs` over keep-alive HTTP, `--concurrency` clients,
             signed in as a Pro-tier user (so the rate limiter counts every request; its limits are raised here so
             it never refuses);
* api+key  – the same with an `Idempotency-Key` on every request, as a retrying client sends them.

For each: starts/s over the round (wall clock from first request to last answer), p50 and p99 latency; then the
ratio of the medians api/raw and api+key/raw against the 0.9 target. Every answer must be a 202. `--profile` runs
the API under cProfile (one process) and writes the stats when it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET = 0.9


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _server_process(target: str):
    """The dev server process listening on `target` (host:port), for its CPU time."""
    import psutil

    port = int(target.rsplit(":", 1)[1])
    for connection in psutil.net_connections("tcp"):
        if connection.status == "LISTEN" and connection.laddr.port == port and connection.pid:
            return psutil.Process(connection.pid)
    return None


async def _processes(pool, kind: str, args: argparse.Namespace, base: dict) -> tuple[float, list[float]]:
    """A round split over `args.clients` load-generating processes that start together."""
    loop = asyncio.get_running_loop()
    share, extra = divmod(args.starts, args.clients)
    per_process = max(1, args.concurrency // args.clients)
    start_at = time.time() + 3.0
    specs = [{**base, "kind": kind, "n": share + (1 if i < extra else 0), "concurrency": per_process,
              "start_at": start_at} for i in range(args.clients)]
    outcomes = await asyncio.gather(*(loop.run_in_executor(pool, _client_round, spec) for spec in specs))
    began = min(o[0] for o in outcomes)
    ended = max(o[1] for o in outcomes)
    return args.starts / (ended - began), [latency for o in outcomes for latency in o[2]]


async def _drive(n: int, concurrency: int, one) -> tuple[float, list[float]]:
    """`n` calls of `one(i)` from `concurrency` callers; (starts per second, latencies in ms)."""
    latencies: list[float] = []
    counter = iter(range(n))

    async def caller() -> None:
        for i in counter:
            began = time.perf_counter()
            await one(i)
            latencies.append((time.perf_counter() - began) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return n / (time.perf_counter() - began), latencies


def _client_round(spec: dict) -> tuple[float, float, list[float]]:
    """One load-generating process's share of a round: (first send, last answer, latencies in ms). Runs in a process
    of its own, so the client side (httpx is pure Python) is never what limits the rate."""
    return asyncio.run(_client_round_async(spec))


async def _client_round_async(spec: dict) -> tuple[float, float, list[float]]:
    import httpx
    from temporalio.client import Client
    from temporalio.common import SearchAttributePair, TypedSearchAttributes
    from temporalio.contrib.pydantic import pydantic_data_converter

    from core.ids import new_id
    from core.pipelines.contracts import PipelineInput
    from core.pipelines.models import RunStarter
    from core.temporal import SA_STATUS, SA_VERSION, SA_WORKFLOW_ID

    kind = spec["kind"]
    if kind == "raw":
        client = await Client.connect(spec["target"], data_converter=pydantic_data_converter)
        starter = RunStarter(**spec["starter"])

        async def one() -> None:
            run_id = new_id("run")
            await client.start_workflow(
                "PipelineWorkflow",
                PipelineInput(run_id=run_id, workflow_id=spec["workflow_id"], version=spec["version"],
                              definition=spec["definition"], inputs={}, heartbeat_timeout_s=30.0,
                              default_timeout_s=3600.0, link=f"http://127.0.0.1:8233/workflows/{run_id}",
                              started_by=starter),
                id=run_id, task_queue="stellarflow",
                search_attributes=TypedSearchAttributes([
                    SearchAttributePair(SA_WORKFLOW_ID, spec["workflow_id"]),
                    SearchAttributePair(SA_VERSION, spec["version"]), SearchAttributePair(SA_STATUS, "running")]))
    else:
        limits = httpx.Limits(max_connections=spec["concurrency"], max_keepalive_connections=spec["concurrency"])
        http = httpx.AsyncClient(base_url=spec["base_url"], timeout=60, limits=limits,
                                 headers={"Authorization": f"Bearer {spec['token']}"})
        url = f"/api/v2/workflows/{spec['workflow_id']}/runs"

        async def one() -> None:
            headers = {"Idempotency-Key": uuid.uuid4().hex} if kind == "api+key" else None
            response = await http.post(url, json={}, headers=headers)
            if response.status_code != 202:
                raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

        # open the connections before the clock starts
        await asyncio.gather(*(http.get("/api/health") for _ in range(spec["concurrency"])))
    await asyncio.sleep(max(0.0, spec["start_at"] - time.time()))
    began = time.time()
    _rate, latencies = await _drive(spec["n"], spec["concurrency"], lambda _i: one())
    return began, time.time(), latencies


async def main(args: argparse.Namespace) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="stellarflow-bench-starts-"))
    os.environ["STELLARFLOW_DATA_DIR"] = str(tmp / "data")
    os.environ["STELLARFLOW_DEFINITIONS_DIR"] = str(tmp / "definitions")
    os.environ["STELLARFLOW_RATE_LIMIT_TIERS"] = json.dumps({"pro": {"per_minute": 10_000_000, "per_hour": 10_000_000,
                                                                     "burst": 10_000_000}})
    (tmp / "definitions").mkdir()
    for name in ("TEMPORAL_ADDRESS", "REDIS_URL", "DATABASE_URL"):
        os.environ.pop(name, None)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    if args.redis_url:
        os.environ["REDIS_URL"] = args.redis_url

    import httpx
    from temporalio.common import SearchAttributePair, TypedSearchAttributes
    from temporalio.testing import WorkflowEnvironment

    from core.auth import sessions, users
    from core.db import get_engine
    from core.ids import new_id
    from core.names import PIPELINE_WORKFLOW
    from core.pipelines.contracts import PipelineInput
    from core.pipelines.models import RunStarter, RunStatus
    from core.settings import get_settings, reset_settings
    from core.temporal import (
        DEV_SERVER_TUNING,
        SA_STATUS,
        SA_VERSION,
        SA_WORKFLOW_ID,
        SEARCH_ATTRIBUTE_KEYS,
        temporal_binary,
    )

    reset_settings()
    settings = get_settings()
    from temporalio.contrib.pydantic import pydantic_data_converter

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(), data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTE_KEYS,
        dev_server_extra_args=[*DEV_SERVER_TUNING], dev_server_database_filename=str(tmp / "temporal.db"))
    client = env.client
    target = client.service_client.config.target_host
    get_engine()  # migrate before the API process starts
    user = users.create_user(f"bench-{uuid.uuid4().hex[:8]}", "SecureP@ssw0rd!", email=None, role="developer",
                             tier="pro")
    token = sessions.start_session(settings, user).access_token
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning", "--no-access-log", "--timeout-keep-alive", "120"]
    if args.profile:
        command = [sys.executable, "-m", "cProfile", "-o", args.profile, *command[1:]]
    log = open(tmp / "api.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "TEMPORAL_ADDRESS": target}, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    results: dict[str, list[dict]] = {"raw": [], "api": [], "api+key": []}
    try:
        limits = httpx.Limits(max_connections=args.concurrency * 2, max_keepalive_connections=args.concurrency * 2)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits,
                                     headers={"Authorization": f"Bearer {token}"}) as http:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/api/v2/system/health")).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the API did not start; see {tmp / 'api.log'}")
                await asyncio.sleep(0.1)
            steps = [{"id": f"s{i}", "action": "execute-command", "parameters": {"command": "true"},
                      **({"dependsOn": [f"s{i - 1}"]} if i else {})} for i in range(args.steps)]
            created = await http.post("/api/v2/workflows", json={"name": "bench starts", "steps": steps})
            assert created.status_code == 201, created.text
            workflow_id = created.json()["data"]["id"]
            version = created.json()["data"]["version"]
            from core.pipelines.definitions import get_definition

            _, definition = get_definition(workflow_id)
            dumped = definition.dump()
            starter = RunStarter(id=user.id, username=user.username)

            async def raw(_i: int) -> None:
                run_id = new_id("run")
                await client.start_workflow(
                    PIPELINE_WORKFLOW,
                    PipelineInput(run_id=run_id, workflow_id=workflow_id, version=version, definition=dumped,
                                  inputs={}, heartbeat_timeout_s=settings.heartbeat_timeout_s,
                                  default_timeout_s=settings.default_step_timeout_s,
                                  link=f"{settings.ui_url}/namespaces/default/workflows/{run_id}", started_by=starter),
                    id=run_id, task_queue=settings.task_queue,
                    search_attributes=TypedSearchAttributes([
                        SearchAttributePair(SA_WORKFLOW_ID, workflow_id), SearchAttributePair(SA_VERSION, version),
                        SearchAttributePair(SA_STATUS, RunStatus.running.value)]))

            async def api(_i: int, key: bool = False) -> None:
                headers = {"Idempotency-Key": uuid.uuid4().hex} if key else None
                response = await http.post(f"/api/v2/workflows/{workflow_id}/runs", json={}, headers=headers)
                if response.status_code != 202:
                    raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

            async def api_key(i: int) -> None:
                await api(i, key=True)

            variants = {"raw": raw, "api": api, "api+key": api_key}
            for one in variants.values():  # warm-up: connections, caches, the server's first shards
                await _drive(min(50, args.starts), args.concurrency, one)
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(args.clients, mp_context=multiprocessing.get_context("spawn"))
            base_spec = {"target": target, "base_url": f"http://127.0.0.1:{port}", "token": token,
                         "workflow_id": workflow_id, "version": version, "definition": dumped,
                         "starter": starter.model_dump()}
            import psutil

            api_process = psutil.Process(proc.pid)
            me = psutil.Process()
            server_process = _server_process(target)

            def cpu(process) -> float:
                if process is None:
                    return float("nan")
                times = process.cpu_times()
                return times.user + times.system

            others = {proc.pid, server_process.pid if server_process else -1}
            for number in range(1, args.rounds + 1):
                for name in variants:
                    api_before, server_before, me_before = cpu(api_process), cpu(server_process), cpu(me)
                    children_before = sum(cpu(c) for c in me.children(recursive=True) if c.pid not in others)
                    rate, latencies = await _processes(pool, name, args, base_spec)
                    children_after = sum(cpu(c) for c in me.children(recursive=True) if c.pid not in others)
                    client_ms = (cpu(me) - me_before + children_after - children_before) * 1000 / args.starts
                    api_ms = (cpu(api_process) - api_before) * 1000 / args.starts
                    server_ms = (cpu(server_process) - server_before) * 1000 / args.starts
                    results[name].append({"rate": rate, "p50": _percentile(latencies, 0.5),
                                          "p99": _percentile(latencies, 0.99), "api_cpu_ms": api_ms,
                                          "server_cpu_ms": server_ms})
                    print(f"round {number} {name:8} {rate:7.1f} starts/s  p50 {_percentile(latencies, 0.5):6.1f} ms"
                          f"  p99 {_percentile(latencies, 0.99):6.1f} ms  CPU per start: API {api_ms:5.2f} ms, "
                          f"Temporal {server_ms:5.2f} ms, client {client_ms:5.2f} ms", flush=True)
            pool.shutdown()
    finally:
        proc.send_signal(2)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        await env.shutdown()

    summary: dict = {"starts": args.starts, "concurrency": args.concurrency, "rounds": args.rounds,
                     "steps": args.steps, "database": "postgresql" if args.database_url else "sqlite",
                     "redis": bool(args.redis_url), "variants": {}}
    for name, rounds in results.items():
        summary["variants"][name] = {key: statistics.median(r[key] for r in rounds)
                                     for key in ("rate", "p50", "p99", "api_cpu_ms", "server_cpu_ms")}
    raw_rate = summary["variants"]["raw"]["rate"]
    print(f"\n{args.starts} starts x {args.rounds} rounds, {args.concurrency} concurrent, {args.steps}-step "
          f"definition, {summary['database']}{' + redis' if args.redis_url else ''}; medians:")
    for name, figures in summary["variants"].items():
        ratio = figures["rate"] / raw_rate
        summary["variants"][name]["ratio"] = ratio
        verdict = "" if name == "raw" else f"  ({'meets' if ratio >= TARGET else 'below'} the {TARGET}x target)"
        print(f"  {name:8} {figures['rate']:7.1f} starts/s  p50 {figures['p50']:6.1f} ms  p99 {figures['p99']:6.1f} ms"
              f"  API CPU {figures['api_cpu_ms']:5.2f} ms/start  {ratio:.2f}x raw{verdict}")
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=32, help="callers in all, split over --clients")
    parser.add_argument("--clients", type=int, default=4, help="load-generating processes per variant")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--profile", default=None, help="cProfile the API process into this file")
    parser.add_argument("--json", default=None)
    arguments = parser.parse_args()
    outcome = asyncio.run(main(arguments))
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(outcome, indent=2))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
