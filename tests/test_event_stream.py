"""The event stream (core/events/stream.py, docs/events.md): commit-ordered ids, resume without gap or duplicate,
concurrent writers, a slow client dropped without stalling others, and two API processes on PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import websockets
from fastapi import FastAPI
from ulid import ULID

from core.settings import get_settings
from core.system.prometheus import REGISTRY
from tests.support import cmd, start, wait_for_run
from tests.ws_support import RawClient, connect, free_port, receive, receive_until, served, write_events

ROOT = Path(__file__).resolve().parents[1]


_app: FastAPI


def fake_run() -> str:
    return f"run-{ULID()}"


@pytest.fixture(scope="module")
async def ws_url(temporal_client, worker, database) -> AsyncIterator[str]:
    from api.main import create_app

    global _app
    settings = get_settings().model_copy(update={"event_client_queue": 30})
    _app = create_app(settings, client=temporal_client)
    async with served(_app) as url:
        yield url


async def subscribed(url: str, token: str, run_id: str, since: int | None = None, **options):
    socket_ = await connect(f"{url}/ws", **options)
    await socket_.send(json.dumps({"type": "auth", "token": token}))
    assert (await receive(socket_))["type"] == "authenticated"
    message = {"type": "subscribe", "channels": ["runs"], "filters": {"runs": [run_id]}}
    if since is not None:
        message["since"] = since
    await socket_.send(json.dumps(message))
    assert (await receive(socket_))["type"] == "subscribed"
    return socket_


async def test_resume_after_a_dropped_connection_has_no_gap_and_no_duplicate(ws_url: str, admin_token: str) -> None:
    run_id = fake_run()
    first = await subscribed(ws_url, admin_token, run_id)
    await write_events(run_id, [("step.started", {"stepId": f"s{i}"}) for i in range(3)])
    got = [await receive(first) for _ in range(3)]
    assert [m["data"]["step_id"] for m in got] == ["s0", "s1", "s2"]
    await first.close()  # dropped; meanwhile the run goes on, among other resources' events
    await write_events(run_id, [("step.started", {"stepId": f"s{i}"}) for i in range(3, 8)], start_seq=4)
    await write_events(fake_run(), [("step.started", {"stepId": "other"})])
    again = await subscribed(ws_url, admin_token, run_id, since=got[-1]["id"])
    await write_events(run_id, [("step.started", {"stepId": f"s{i}"}) for i in range(8, 10)], start_seq=9)
    resumed = [await receive(again) for _ in range(7)]
    assert [m["data"]["step_id"] for m in resumed] == [f"s{i}" for i in range(3, 10)]
    ids = [m["id"] for m in got + resumed]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    with pytest.raises(TimeoutError):  # nothing twice
        await receive(again, timeout=0.5)
    await again.close()


async def test_concurrent_writers_are_delivered_once_in_commit_order(ws_url: str, admin_token: str) -> None:
    run_id = fake_run()
    client = await subscribed(ws_url, admin_token, run_id)
    # eight writers at once, each its own resource under the run (like steps' log lines); 24 events in all, within
    # this app's send queue of 30 even if the hub reads them in one page
    await asyncio.gather(*(write_events(f"{run_id}/s{w}/log", [("step.log", {"line": f"{w}-{i}"}) for i in range(3)])
                           for w in range(8)))
    got = [await receive(client) for _ in range(24)]
    assert sorted(m["data"]["line"] for m in got) == sorted(f"{w}-{i}" for w in range(8) for i in range(3))
    assert [m["id"] for m in got] == sorted({m["id"] for m in got})
    await client.close()


async def test_a_slow_client_is_disconnected_without_stalling_others(ws_url: str, admin_token: str) -> None:
    run_id = fake_run()
    # `slow` never reads after subscribing: its TCP window fills, then its send queue
    slow = await asyncio.to_thread(RawClient, f"{ws_url}/ws")
    slow.send({"type": "auth", "token": admin_token})
    slow.send({"type": "subscribe", "channels": ["runs"], "filters": {"runs": [run_id]}})
    await asyncio.sleep(0.3)
    fast = await subscribed(ws_url, admin_token, run_id)
    hub = _app.state.event_hub
    dropped = hub.dropped
    drops_metric = REGISTRY.get_sample_value("stellarflow_websocket_drops_total") or 0.0
    assert (REGISTRY.get_sample_value("stellarflow_websocket_connections") or 0) >= 2  # /metrics counts them
    line = "x" * 200_000
    seq = received = 0
    while hub.dropped == dropped and seq < 4000:
        await write_events(run_id, [("step.log", {"line": line})] * 10, start_seq=seq + 1)
        seq += 10
        while received < seq:
            await receive(fast)
            received += 1  # the fast client gets every event meanwhile
    assert hub.dropped == dropped + 1
    assert REGISTRY.get_sample_value("stellarflow_websocket_drops_total") == drops_metric + 1
    code, reason = await asyncio.to_thread(slow.close_frame)
    slow.close()
    assert code in (4408, None), (code, reason)  # disconnected: with its reason when the close frame gets through
    if code is not None:
        assert "slow consumer" in reason
    await write_events(run_id, [("step.started", {"stepId": "after"})], start_seq=seq + 1)
    assert (await receive(fast))["data"]["step_id"] == "after"
    await fast.close()


def _reachable(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.database("postgresql", reason="two API processes share the database through PostgreSQL and Redis")
@pytest.mark.parametrize("backend", ["redis", "postgres"])
async def test_a_workers_event_reaches_clients_of_either_api_process(api, admin_token: str, tmp_path: Path,
                                                                    backend: str) -> None:
    """Both API processes are woken by the live backend (Redis pub/sub, or LISTEN/NOTIFY without REDIS_URL): their
    safety poll is pushed out of the way, so only a working notification delivers in time."""
    env = {**os.environ, "STELLARFLOW_API_HOST": "127.0.0.1", "STELLARFLOW_EVENT_SAFETY_POLL_S": "600"}
    if backend == "redis":
        if not _reachable(6379):
            pytest.skip("Redis is not running on 127.0.0.1:6379")
        env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
        os.environ["REDIS_URL"] = env["REDIS_URL"]  # the session's worker publishes after its writes
        from core.settings import reset_settings

        reset_settings()
    ports = [free_port(), free_port()]
    processes = [subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
                                   "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env,
                                  stdout=open(tmp_path / f"api{port}.log", "wb"), stderr=subprocess.STDOUT)
                 for port in ports]
    try:
        for _ in range(200):
            if all(_reachable(p) for p in ports):
                break
            await asyncio.sleep(0.1)
        definition = {"name": "ws two replicas", "steps": [cmd("hello", "echo hi")]}
        clients = []
        for port in ports:
            client = await websockets.connect(f"ws://127.0.0.1:{port}/ws", open_timeout=10)
            await client.send(json.dumps({"type": "auth", "token": admin_token}))
            await receive(client)
            await client.send(json.dumps({"type": "subscribe", "channels": ["runs"]}))
            await receive(client)
            clients.append(client)
        run_id = await start(api, definition)  # the session's worker runs it and writes its events
        await wait_for_run(api, run_id)
        for client in clients:
            message, _ = await receive_until(
                client, lambda m: m.get("type") == "run.succeeded" and m["data"].get("run_id") == run_id,
                timeout=15)
            assert message["id"] > 0
            await client.close()
    finally:
        if backend == "redis":
            from core.settings import reset_settings

            os.environ.pop("REDIS_URL", None)
            reset_settings()
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


def _cli(url: str, token: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "STELLARFLOW_PUBLIC_URL": url.replace("ws://", "http://"), "STELLARFLOW_TOKEN": token,
           "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


async def test_the_cli_tails_from_an_id_and_watches_a_run_with_its_log_lines(ws_url: str, admin_token: str,
                                                                               api) -> None:
    run_id = fake_run()
    client = await subscribed(ws_url, admin_token, run_id)
    await write_events(run_id, [("step.started", {"stepId": f"s{i}"}) for i in range(3)])
    first = await receive(client)
    await client.close()
    tail = await asyncio.to_thread(_cli, ws_url, admin_token, "events", "-c", "runs", "--limit", "2", "--since",
                                   str(first["id"]))
    assert tail.returncode == 0, tail.stderr
    shown = [json.loads(line) for line in tail.stdout.splitlines()]
    assert [m["data"]["step_id"] for m in shown if m["data"].get("run_id") == run_id][:2] == ["s1", "s2"]

    real = await start(api, {"name": f"cli-watch-{ULID()}", "steps": [cmd("hello", "sleep 4")]})
    watching = asyncio.create_task(asyncio.to_thread(_cli, ws_url, admin_token, "runs", "show", real, "--watch"))
    await write_events(f"{real}/hello/log", [("step.log", {"step": "hello", "stream": "stdout", "line": "hi there",
                                                           "attempt": 1})])
    watched = await watching
    assert watched.returncode == 0, watched.stderr
    assert "hello | hi there" in watched.stdout and "succeeded" in watched.stdout


async def test_a_since_older_than_retention_is_told_so(fresh_database_url: str, temporal_client,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Events swept by retention: resuming from before them gets an explicit `gap`, then everything kept."""
    from datetime import UTC, datetime, timedelta

    from api.main import create_app
    from core.auth import sessions
    from core.events.contracts import EntityRecord
    from core.events.models import Event
    from core.events.retention import sweep_old_events
    from core.events.store import record
    from core.settings import reset_settings
    from tests.support import new_user

    monkeypatch.setenv("DATABASE_URL", fresh_database_url)  # an empty log of its own: ids start at 1
    reset_settings()
    try:
        run_id = fake_run()
        old = datetime.now(UTC) - timedelta(days=30)
        events = [Event(seq=i + 1, type="step.started", at=old if i < 3 else datetime.now(UTC),
                        data={"stepId": f"s{i}"}) for i in range(5)]
        await asyncio.to_thread(record, EntityRecord(kind="none", id=run_id, seq=5, snapshot={}, events=events), None)
        assert await asyncio.to_thread(sweep_old_events, 7) == 3
        token = sessions.start_session(get_settings(), new_user("admin")).access_token
        async with served(create_app(get_settings(), client=temporal_client)) as url:
            client = await subscribed(url, token, run_id, since=1)
            gap = await receive(client)
            assert gap["type"] == "gap" and gap["data"]["reason"] == "expired" and gap["data"]["oldest_id"] == 4
            rest = [await receive(client), await receive(client)]
            assert [m["data"]["step_id"] for m in rest] == ["s3", "s4"]
            await client.close()
    finally:
        monkeypatch.undo()
        reset_settings()
