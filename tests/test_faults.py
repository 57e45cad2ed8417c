"""The fault campaign: the multi-process shape of a deployment, on this machine, under load and under faults.

Topology (all real processes): a Temporal dev server on a SQLite file, 2 API processes (uvicorn) and 2 workers
(`python -m worker`) sharing one PostgreSQL database (a schema of this test's own) and Redis (the rate limiter's
storage, through a TCP proxy this test owns, so "Redis goes away" never touches the machine's Redis).

Load: `RUNS` runs of a 5-step definition, started concurrently through both APIs, each with an Idempotency-Key;
some are sent twice on purpose (to the other API). Clients retry by the documented rules (docs/deploy.md, "Clients
and retries"): on a connection failure or timeout, against the other API; on 409, 429 and 503 after `Retry-After`;
always with the same Idempotency-Key and body. A 500 is never retried: it is a bug, counted as leaked.

Faults, during the load: SIGKILL a worker (restarted 2 s later, as `stellarflow up` or an orchestrator would);
SIGKILL an API (restarted later; its clients retry against the other); stop the Temporal dev server and start it
again on the same database file; drop Redis for 10 s.

Then: every run completes; each step ran to completion exactly once (marker files the steps write; a completion
that its worker did not live to report is named separately, as Temporal's at-least-once window); the projection
and Temporal's visibility agree both ways; no Idempotency-Key started two runs; no 5xx reached a client that
retried by the rules. The figures are printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from core.temporal import DEV_SERVER_TUNING, search_attribute_args, temporal_binary
from tests.processes import WorkerProcess

pytestmark = pytest.mark.database("postgresql", reason="the deployment shape under test shares PostgreSQL")

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("STELLARFLOW_FAULT_RUNS", "200"))
STEPS = 5
STEP_SLEEP_S = 0.4
START_SPREAD_S = 24.0  # the starts are spread over this long, so the faults land among them
REDIS_DROP_S = 10.0
HEARTBEAT_TIMEOUT_S = 10
CAMPAIGN_BUDGET_S = 300
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_problem() -> str | None:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            if not sock.recv(16).startswith(b"+PONG"):
                return "Redis did not answer PING"
    except OSError as err:
        return f"Redis is unreachable at {REDIS_HOST}:{REDIS_PORT}: {err}"
    return None


class RedisProxy:
    """A TCP proxy in front of Redis that can be dropped: every connection cut and new ones refused, then back."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.server: asyncio.base_events.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(REDIS_HOST, REDIS_PORT)
        except OSError:
            writer.close()
            return
        self.links |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            with contextlib.suppress(Exception):
                sink.close()

        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.links -= {writer, up_writer}

    async def drop(self) -> None:
        assert self.server is not None
        self.server.close()
        for link in list(self.links):
            with contextlib.suppress(Exception):
                link.transport.abort()
        self.links.clear()
        await self.server.wait_closed()

    async def stop(self) -> None:
        await self.drop()


class ApiProcess(WorkerProcess):
    """uvicorn api.main:app in its own process group (the WorkerProcess helper, with another command line)."""

    def __init__(self, env: dict[str, str], log: Path, port: int) -> None:
        self.port = port
        self.log = log
        self._out = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning", "--timeout-keep-alive", "30"],
            cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)


class TemporalServer:
    def __init__(self, db_file: Path, port: int, log: Path) -> None:
        self.db_file, self.port, self.log = db_file, port, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        out = open(self.log, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [temporal_binary(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port),
             "--headless", "--db-filename", str(self.db_file), "--log-level", "warn", *DEV_SERVER_TUNING,
             *search_attribute_args()],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)

    def listening(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
            return True
        return False


@dataclass
class Request:
    """One logical start: a tag (the run's input and marker-file name) and its Idempotency-Key."""

    tag: str
    key: str
    sends: int = 0
    statuses: Counter = field(default_factory=Counter)
    run_ids: set[str] = field(default_factory=set)
    done_at: float | None = None
    first_failed_at: float | None = None


@dataclass
class Figures:
    started_at: float = field(default_factory=time.monotonic)
    statuses: Counter = field(default_factory=Counter)
    transport_errors: int = 0
    retries: int = 0
    duplicates_sent: int = 0
    replayed: int = 0
    faults: list[tuple[str, float]] = field(default_factory=list)
    recovery: dict[str, float] = field(default_factory=dict)

    def at(self) -> float:
        return time.monotonic() - self.started_at


def _definition(marks: Path) -> dict:
    def step(index: int) -> dict:
        name = f"s{index}"
        command = (f'echo "$(date +%s.%N) $PPID" >> "$MARKS/{{{{ inputs.tag }}}}.{name}.start"; '
                   f'sleep {STEP_SLEEP_S}; echo "$(date +%s.%N) $PPID" >> "$MARKS/{{{{ inputs.tag }}}}.{name}.done"')
        body: dict = {"id": name, "action": "execute-command",
                      "parameters": {"command": command, "env": {"MARKS": str(marks)}}}
        return body | ({"dependsOn": [f"s{index - 1}"]} if index > 1 else {})

    return {"name": "fault campaign", "inputs": {"tag": {"type": "string", "required": True}},
            "steps": [step(i) for i in range(1, STEPS + 1)]}


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def _retry_after(response: httpx.Response, default: float = 1.0) -> None:
    with contextlib.suppress(ValueError, TypeError):
        default = float(response.headers.get("retry-after", default))
    await asyncio.sleep(min(default, 5.0) * random.uniform(0.5, 1.0))


async def test_fault_campaign(database, tmp_path: Path, fresh_database_url: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    problem = _redis_problem()
    if problem:
        pytest.skip(f"the fault campaign needs Redis: {problem}")
    began = time.monotonic()
    marks = tmp_path / "marks"
    marks.mkdir()
    figures = Figures()
    temporal_port = _free_port()
    server = TemporalServer(tmp_path / "temporal.db", temporal_port, tmp_path / "temporal.log")
    redis = RedisProxy()
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STELLARFLOW_")},
        "STELLARFLOW_DATA_DIR": str(tmp_path / "data"),
        "STELLARFLOW_DEFINITIONS_DIR": str(tmp_path / "definitions"),
        "STELLARFLOW_EGRESS_ALLOW": "127.0.0.1",
        "DATABASE_URL": fresh_database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
        "STELLARFLOW_RATE_LIMIT_KEY_PREFIX": f"stellarflow-faults-{uuid.uuid4().hex[:8]}",
        "STELLARFLOW_RATE_LIMIT_TIERS": json.dumps({"pro": {"per_minute": 100000, "per_hour": 1000000,
                                                            "burst": 100000}}),
        "STELLARFLOW_JWT_SECRET": "fault-campaign-" + uuid.uuid4().hex,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "STELLARFLOW_TASK_QUEUE": queue,
        # Above the Temporal restart's outage (a few seconds here): a step heartbeating through it is not given up
        # on. The worker kill costs this much before its steps run elsewhere.
        "STELLARFLOW_HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S),
        "STELLARFLOW_MANAGE_SCHEDULES": "false",
        # The campaign is about durability, not isolation (tests/test_sandbox.py): its steps write their marks with
        # the worker's pid ($PPID) to a shared directory, which a sandbox would hide from them.
        "STELLARFLOW_SANDBOX": "none",
        "STELLARFLOW_ALLOW_UNSANDBOXED": "true",
    }
    (tmp_path / "definitions").mkdir()
    apis: list[ApiProcess] = []
    workers: list[WorkerProcess] = []
    try:
        server.start()
        await redis.start()
        deadline = time.monotonic() + 30
        while not server.listening():
            assert time.monotonic() < deadline, server.log.read_text()[-2000:]
            await asyncio.sleep(0.1)
        # The schema and the campaign's user first, as `stellarflow bootstrap` would, before the processes race.
        token = await asyncio.to_thread(_prepare, env)
        ports = [_free_port(), _free_port()]
        apis = [ApiProcess(env, tmp_path / f"api-{i}.log", port) for i, port in enumerate(ports)]
        workers = [WorkerProcess(env, tmp_path / f"worker-{i}.log") for i in range(2)]
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base in bases:
            await _healthy(base, 60, apis)
        client = await Client.connect(env["TEMPORAL_ADDRESS"], data_converter=pydantic_data_converter)

        async with httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {token}"}) as http:
            created = await http.post(f"{bases[0]}/api/v2/workflows", json=_definition(marks))
            assert created.status_code == 201, created.text
            workflow_id = created.json()["data"]["id"]
            requests = [Request(tag=f"t{i:03d}", key=str(uuid.uuid4())) for i in range(RUNS)]
            figures.started_at = time.monotonic()

            load = asyncio.create_task(_load(http, bases, workflow_id, requests, figures))
            faults = asyncio.create_task(_faults(figures, workers, apis, server, redis, env, tmp_path, bases,
                                                 requests))
            await asyncio.wait_for(asyncio.gather(load, faults), CAMPAIGN_BUDGET_S)

            # Every run completes.
            run_ids = {next(iter(r.run_ids)) for r in requests if r.run_ids}
            finished = await _all_finished(http, bases, run_ids, CAMPAIGN_BUDGET_S - (time.monotonic() - began),
                                           workers, apis)
            everything_done = figures.at()
            statuses = Counter(finished.values())

            report = await _verify(requests, run_ids, finished, marks, figures, workers, client, workflow_id,
                                   fresh_database_url)
        with capsys.disabled():  # the figures belong in CI's log, not only in a failure's
            print(_report(figures, requests, statuses, report, everything_done, time.monotonic() - began))
        _assert(requests, statuses, report, figures)
    finally:
        for process in [*apis, *workers]:
            process.stop()
        server.stop(signal.SIGKILL)
        await redis.stop()


def _prepare(env: dict[str, str]) -> str:
    """Migrate the campaign's database and make its user (Pro tier: rate-limited, so Redis is in the path)."""
    code = (
        "from core.db import get_engine; get_engine()\n"
        "from core.auth import users, sessions\n"
        "from core.settings import get_settings\n"
        "u = users.create_user('faults', 'SecureP@ssw0rd!', role='developer', tier='pro')\n"
        "print(sessions.start_session(get_settings(), u).access_token)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


async def _healthy(base: str, timeout: float, processes: list) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{base}/api/health")).status_code < 500:
                    return
            if time.monotonic() > deadline:
                logs = "\n---\n".join(p.output() for p in processes)
                pytest.fail(f"{base} not healthy after {timeout}s:\n{logs}")
            await asyncio.sleep(0.1)


async def _send(http: httpx.AsyncClient, bases: list[str], workflow_id: str, request: Request, figures: Figures,
                first: int, *, duplicate: bool = False) -> None:
    """One logical request to the end, by the documented retry rules."""
    which = first
    deadline = time.monotonic() + 200
    while True:
        request.sends += 1
        base = bases[which % len(bases)]
        try:
            response = await http.post(f"{base}/api/v2/workflows/{workflow_id}/runs",
                                       json={"inputs": {"tag": request.tag}},
                                       headers={"Idempotency-Key": request.key})
        except httpx.TransportError:
            figures.transport_errors += 1
            figures.retries += 1
            request.first_failed_at = request.first_failed_at or figures.at()
            which += 1  # the other API
            await asyncio.sleep(0.2)
            continue
        finally:
            assert time.monotonic() < deadline, f"{request.tag} never got an answer"
        figures.statuses[response.status_code] += 1
        request.statuses[response.status_code] += 1
        if response.status_code == 202:
            request.run_ids.add(response.json()["data"]["id"])
            request.done_at = figures.at()
            if response.headers.get("idempotent-replayed") == "true":
                figures.replayed += 1
            return
        if response.status_code in (409, 429, 503):
            figures.retries += 1
            request.first_failed_at = request.first_failed_at or figures.at()
            await _retry_after(response)
            continue
        return  # anything else (a 500 above all) is final and counted


async def _load(http: httpx.AsyncClient, bases: list[str], workflow_id: str, requests: list[Request],
                figures: Figures) -> None:
    gap = START_SPREAD_S / len(requests)
    tasks = []
    rng = random.Random(15)
    for index, request in enumerate(requests):
        tasks.append(asyncio.create_task(_send(http, bases, workflow_id, request, figures, index)))
        if rng.random() < 0.2:  # the same request again, to the other API, a moment later (a client's retry)
            figures.duplicates_sent += 1

            async def again(request: Request = request, index: int = index) -> None:
                await asyncio.sleep(rng.uniform(0.05, 1.5))
                await _send(http, bases, workflow_id, request, figures, index + 1, duplicate=True)

            tasks.append(asyncio.create_task(again()))
        await asyncio.sleep(gap)
    await asyncio.gather(*tasks)


async def _faults(figures: Figures, workers: list[WorkerProcess], apis: list[ApiProcess], server: TemporalServer,
                  redis: RedisProxy, env: dict[str, str], tmp_path: Path, bases: list[str],
                  requests: list[Request]) -> None:
    # 1. A worker dies (SIGKILL) and comes back 2 s later.
    await asyncio.sleep(3)
    killed_worker = workers[0].proc.pid
    figures.faults.append((f"SIGKILL worker (pid {killed_worker})", figures.at()))
    figures.recovery["worker_killed_at"] = figures.at()
    figures.recovery["worker_killed_wall"] = time.time()
    figures.recovery["worker_pid"] = killed_worker
    workers[0].kill()
    await asyncio.sleep(2)
    workers[0] = WorkerProcess(env, tmp_path / "worker-0b.log")

    # 2. An API dies (SIGKILL); its clients retry against the other; it is back 5 s later.
    await asyncio.sleep(2)
    figures.faults.append((f"SIGKILL API (port {apis[0].port})", figures.at()))
    api_killed = figures.at()
    apis[0].kill()
    await asyncio.sleep(5)
    apis[0] = ApiProcess(env, tmp_path / "api-0b.log", apis[0].port)
    await _healthy(bases[0], 60, apis)
    figures.recovery["api_back"] = figures.at() - api_killed

    # 3. The Temporal dev server stops and starts again on the same database file.
    await asyncio.sleep(1)
    stopped = figures.at()
    figures.recovery["temporal_stopped_wall"] = time.time()
    figures.faults.append(("stop Temporal dev server", stopped))
    server.stop(signal.SIGTERM)
    await asyncio.sleep(3)
    server.start()
    deadline = time.monotonic() + 60
    while not server.listening():
        assert time.monotonic() < deadline, server.log.read_text()[-2000:]
        await asyncio.sleep(0.1)
    figures.faults.append(("Temporal dev server back", figures.at()))
    figures.recovery["temporal_stopped_at"] = stopped
    figures.recovery["temporal_back_at"] = figures.at()
    figures.recovery["temporal_back_wall"] = time.time()

    # 4. Redis goes away for 10 s (the rate limiter fails open).
    await asyncio.sleep(1)
    dropped = figures.at()
    figures.faults.append((f"drop Redis for {REDIS_DROP_S:g} s", dropped))
    before = sum(figures.statuses.values())
    await redis.drop()
    await asyncio.sleep(REDIS_DROP_S)
    await redis.start()
    figures.recovery["answers_while_redis_down"] = sum(figures.statuses.values()) - before
    figures.faults.append(("Redis back", figures.at()))


async def _all_finished(http: httpx.AsyncClient, bases: list[str], run_ids: set[str], timeout: float,
                        workers: list[WorkerProcess], apis: list[ApiProcess]) -> dict[str, str]:
    finished: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    pending = set(run_ids)
    while pending:
        for run_id in list(pending):
            with contextlib.suppress(httpx.TransportError):
                response = await http.get(f"{bases[len(finished) % 2]}/api/v2/runs/{run_id}")
                body = response.json()["data"] if response.status_code == 200 else {}
                if body.get("status") in ("succeeded", "failed", "cancelled"):
                    finished[run_id] = body["status"]
                    if body["status"] != "succeeded":
                        print(f"run {run_id} {body['status']}: {body.get('error')}; steps "
                              f"{[(st['id'], st['status'], st.get('error')) for st in body.get('steps', [])]}")
                    pending.discard(run_id)
        if pending and time.monotonic() > deadline:
            logs = "\n---\n".join(p.output()[-1500:] for p in [*workers, *apis])
            pytest.fail(f"{len(pending)} runs did not finish, e.g. {sorted(pending)[:3]}:\n{logs}")
        if pending:
            await asyncio.sleep(0.5)
    return finished


@dataclass
class Verification:
    completions: Counter  # (tag, step) -> completions
    attempts: Counter  # (tag, step) -> starts
    unacknowledged: list[tuple[str, str]]  # completions nobody could report: worker killed, or server down
    interrupted_done: list[float]  # when the steps the worker kill interrupted completed on a live worker
    temporal: dict[str, str]
    projection: dict[str, str]
    per_key_runs: dict[str, int]
    last_completion: float
    samples: list[str] = field(default_factory=list)  # marker lines of steps that completed more than once


async def _verify(requests: list[Request], run_ids: set[str], finished: dict[str, str], marks: Path,
                  figures: Figures, workers: list[WorkerProcess], client: Client, workflow_id: str,
                  database_url: str) -> Verification:
    completions: Counter = Counter()
    attempts: Counter = Counter()
    unacknowledged: list[tuple[str, str]] = []
    interrupted_done: list[float] = []
    samples: list[str] = []
    last = 0.0
    killed_pid = str(figures.recovery.get("worker_pid"))
    killed_wall = figures.recovery["worker_killed_wall"]
    server_down = (figures.recovery["temporal_stopped_wall"], figures.recovery["temporal_back_wall"])
    for request in requests:
        for index in range(1, STEPS + 1):
            step = f"s{index}"
            done = _lines(marks / f"{request.tag}.{step}.done")
            completions[request.tag, step] = len(done)
            attempts[request.tag, step] = len(_lines(marks / f"{request.tag}.{step}.start"))
            if done:
                last = max(last, float(done[-1].split()[0]))
            # Its first completion ran on the killed worker, in the last moments before the kill: the worker died
            # before Temporal heard of it, so Temporal ran the step again (at-least-once).
            if (len(done) == 2 and done[0].split()[1] == killed_pid
                    and 0 <= killed_wall - float(done[0].split()[0]) < 2.0):
                unacknowledged.append((request.tag, step))
            # Or it completed while the Temporal server was down: the worker could not report it, the server timed
            # the attempt out (heartbeat timeout) and ran the step again (at-least-once, the same window).
            elif len(done) == 2 and server_down[0] - 1.0 <= float(done[0].split()[0]) <= server_down[1] + 1.0:
                unacknowledged.append((request.tag, step))
            elif len(done) > 1 and len(samples) < 5:
                samples.append(f"{request.tag}.{step}: starts {_lines(marks / f'{request.tag}.{step}.start')} "
                               f"dones {done}")
            started = _lines(marks / f"{request.tag}.{step}.start")
            if len(started) > 1 and started[0].split()[1] == killed_pid and done:
                interrupted_done.append(float(done[-1].split()[0]))
    # Temporal's own visibility, and the projection, for this definition.
    temporal: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while True:
        temporal = {w.id: w.status.name async for w in client.list_workflows(
            f"StellarflowWorkflowId = '{workflow_id}'")}
        if len(temporal) >= len(run_ids) and all(s != "RUNNING" for s in temporal.values()):
            break
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    engine = create_engine(database_url)
    with engine.connect() as connection:
        projection = dict(connection.execute(text("SELECT id, status FROM runs WHERE workflow_id = :w"),
                                             {"w": workflow_id}).all())
    engine.dispose()
    return Verification(completions, attempts, unacknowledged, interrupted_done, temporal, projection,
                        {r.key: len(r.run_ids) for r in requests}, last, samples)


def _report(figures: Figures, requests: list[Request], statuses: Counter, v: Verification, done_at: float,
            total_s: float) -> str:
    stopped = figures.recovery["temporal_stopped_at"]
    after_temporal = [r.done_at for r in requests if r.done_at and r.done_at > stopped]
    killed_wall = figures.recovery["worker_killed_wall"]
    recovered = (max(v.interrupted_done) - killed_wall) if v.interrupted_done else float("nan")
    temporal_down = figures.recovery["temporal_back_at"] - figures.recovery["temporal_stopped_at"]
    first_after = (min(after_temporal) - figures.recovery["temporal_stopped_at"]) if after_temporal else float("nan")
    reattempted = sum(1 for key, n in v.attempts.items() if n > 1)
    retried_requests = [r for r in requests if r.first_failed_at is not None and r.done_at is not None]
    waits = sorted(r.done_at - r.first_failed_at for r in retried_requests)
    lines = [
        "",
        "fault campaign",
        "  topology: Temporal dev server (SQLite file), 2 APIs, 2 workers, PostgreSQL, Redis (through a proxy)",
        f"  load: {len(requests)} runs of a {STEPS}-step definition over {START_SPREAD_S:g} s through both APIs, "
        f"{figures.duplicates_sent} sent twice on purpose; {sum(r.sends for r in requests)} HTTP sends in all",
        "  faults:",
        *[f"    t={at:6.1f} s  {what}" for what, at in figures.faults],
        f"  answers: {dict(sorted(figures.statuses.items()))}; transport errors {figures.transport_errors}; "
        f"retries {figures.retries}; replayed answers {figures.replayed}",
        f"  runs: {dict(statuses)} of {len(requests)}; all finished at t={done_at:.1f} s (wall {total_s:.1f} s)",
        f"  steps: {sum(v.completions.values())} completions of {len(requests) * STEPS} steps; "
        f"{reattempted} steps started more than once (interrupted by the worker kill); "
        f"{len(v.unacknowledged)} completed twice because their worker died, or the Temporal server was down, "
        f"before the first was reported",
        f"  projection vs Temporal: {len(v.projection)} rows, {len(v.temporal)} workflows; "
        f"{len(set(v.projection) ^ set(v.temporal))} ids on one side only",
        f"  keys: {sum(1 for n in v.per_key_runs.values() if n == 1)} keys -> exactly one run, "
        f"{sum(1 for n in v.per_key_runs.values() if n > 1)} -> more",
        "  time to recover:",
        f"    worker SIGKILL: {len(v.interrupted_done)} steps it was running re-ran elsewhere, the last done "
        f"{recovered:.1f} s after the kill (heartbeat timeout {HEARTBEAT_TIMEOUT_S} s, then the retry)",
        f"    API SIGKILL: back and healthy after {figures.recovery.get('api_back', float('nan')):.1f} s (5 s of it "
        f"on purpose); clients that hit a failure got their answer after median "
        f"{waits[len(waits) // 2] if waits else 0:.1f} s, at most {waits[-1] if waits else 0:.1f} s",
        f"    Temporal restart: listening again {temporal_down:.1f} s after the stop; the first 202 after the stop "
        f"came {first_after:.1f} s after it",
        f"    Redis drop: {figures.recovery.get('answers_while_redis_down', 0)} answers while it was down, "
        f"none of them 5xx",
    ]
    return "\n".join(lines)


def _assert(requests: list[Request], statuses: Counter, v: Verification, figures: Figures) -> None:
    # No 5xx reached a client that retried by the rules: every logical request ended in a 202, and no 500 at all.
    assert figures.statuses.get(500, 0) == 0, figures.statuses
    unanswered = [r.tag for r in requests if 202 not in r.statuses]
    assert not unanswered, f"requests without a 202: {unanswered[:10]}"
    # No Idempotency-Key started two runs.
    assert all(n == 1 for n in v.per_key_runs.values()), {k: n for k, n in v.per_key_runs.items() if n != 1}
    assert len({next(iter(r.run_ids)) for r in requests}) == len(requests)
    # Each step ran to completion exactly once, first (it says more than whether runs succeeded).
    wrong = {key: n for key, n in v.completions.items() if n != 1 and key not in v.unacknowledged}
    assert not wrong, f"steps not completed exactly once: {dict(list(wrong.items())[:10])}; {v.samples}"
    # Every run completed.
    assert statuses == Counter({"succeeded": len(requests)}), statuses
    # Each step ran to completion exactly once (but for the at-least-once window, named separately).
    wrong = {key: n for key, n in v.completions.items() if n != 1 and key not in v.unacknowledged}
    assert not wrong, f"steps not completed exactly once: {dict(list(wrong.items())[:10])}; {v.samples}"
    # The projection and Temporal's visibility agree, both ways.
    assert set(v.projection) == set(v.temporal), (set(v.projection) ^ set(v.temporal))
    assert len(v.temporal) == len(requests), len(v.temporal)
    disagree = {i: (v.projection[i], v.temporal[i]) for i in v.projection
                if (v.projection[i], v.temporal[i]) != ("succeeded", "COMPLETED")}
    assert not disagree, disagree
