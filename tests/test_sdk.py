"""The Python SDK (stellarflow/client, docs/sdk.md) against the real app: one end-to-end test per resource, errors,
pagination in both dialects, the automatic Idempotency-Key, retries on 429/503 (against a tiny local server that
answers 429 then 201: tests/fakes/http_server.py), the sync client over a live uvicorn, and the spec's Python example
(tests/examples/spec_python_example.py) run as a script against that live API.

The orchestration and training streams (`orchestrations.stream`, `neural.stream_training`) are followed to their
terminal event over the live uvicorn; the dialect-1 streams (`swarms.stream_progress`, `tasks.stream`) are not
tested here. The spec example's streaming part runs only when the app has a `/ws` route."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from ulid import ULID

from stellarflow.client import (
    INVALID_REQUEST,
    AsyncStellarFlow,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    StellarFlow,
    Unauthorized,
    ValidationError,
)
from tests.fakes.github import FakeGitHub
from tests.fakes.http_server import FakeHTTPServer, Reply, free_port
from tests.support import PASSWORD, client_for, new_user, token_for
from tests.test_github import REPOSITORY, github  # noqa: F401  (the fake GitHub fixture)
from tests.test_neural import samples

pytestmark = pytest.mark.database(
    "sqlite", reason="an HTTP client: the database paths it reaches are the API tests', which run on both")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "tests" / "examples" / "spec_python_example.py"


@asynccontextmanager
async def _sdk(app: FastAPI, token: str | None) -> AsyncIterator[AsyncStellarFlow]:
    """The SDK on the app in-process (the fixtures' ASGI client, from an address of its own)."""
    async with client_for(app, token) as http:
        yield AsyncStellarFlow(http_client=http, token=token)


@pytest.fixture
async def sdk(app: FastAPI) -> AsyncIterator[AsyncStellarFlow]:
    async with _sdk(app, token_for("developer")) as client:
        yield client


@pytest.fixture
async def live(app: FastAPI) -> AsyncIterator[str]:
    """The same app served by uvicorn on a free port, on the test's event loop (so it shares the Temporal client)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


# ---- one test per resource ------------------------------------------------------------------------------------


async def test_agents(sdk: AsyncStellarFlow) -> None:
    agent = await sdk.agents.create(type="tester", name=f"sdk-{ULID()}", capabilities=["testing"],
                                    config={"executor": "shell"}, metadata={"team": "sdk"})
    assert agent.id.startswith("ag-") and agent.type == "tester" and agent.capabilities == ["testing"]
    fetched = await sdk.agents.get(agent.id)
    assert fetched.name == agent.name and fetched.metadata == {"team": "sdk"}
    updated = await sdk.agents.update(agent.id, name="renamed", metadata={"sprint": 1})
    assert updated.name == "renamed" and updated.metadata == {"team": "sdk", "sprint": 1}
    health = await sdk.agents.health(agent.id)
    assert health.agent_id == agent.id
    assert agent.id in [a.id async for a in sdk.agents.list(type="tester")]
    ended = await sdk.agents.terminate(agent.id)
    assert ended.agent_id == agent.id and ended.final_status == "terminated"


async def test_tasks_run_on_an_agent_and_report_a_result(sdk: AsyncStellarFlow) -> None:
    agent = await sdk.agents.create(type="tester", config={"executor": "shell"})
    task = await sdk.tasks.create(type="sdk", description="say hi", priority="high",
                                  requirements={"command": "echo hi-from-sdk"})
    assert task.status in ("pending", "queued") and task.priority == "high"
    updated = await sdk.tasks.update(task.id, metadata={"checked": True})
    assert updated.metadata == {"checked": True}
    assignment = await sdk.tasks.assign(task.id, agent.id)
    assert assignment.task_id == task.id and assignment.agent_id == agent.id and assignment.queue_position == 0
    done = await sdk.tasks.wait(task.id, timeout=60, interval=0.2)
    assert done.status == "completed", done
    result = await sdk.tasks.get_result(task.id)
    assert result.success is True and result.executor == "shell"
    assert "hi-from-sdk" in result.output["text"]
    await sdk.agents.terminate(agent.id)


async def test_swarms_take_the_specs_agents_list(sdk: AsyncStellarFlow) -> None:
    swarm = await sdk.swarms.create(name=f"sdk-{ULID()}", topology="mesh", objective="check the SDK",
                                    agents=[{"type": "tester", "count": 2}], agent_config={"executor": "shell"})
    assert swarm.id.startswith("sw-") and swarm.topology == "mesh"
    deadline = time.monotonic() + 30
    while len([a async for a in sdk.agents.list(swarm_id=swarm.id)]) < 2:
        assert time.monotonic() < deadline, "the swarm never spawned the agents it was given as `agents`"
        await asyncio.sleep(0.2)
    status = await sdk.swarms.status(swarm.id)
    assert status.id == swarm.id and status.topology == "mesh"
    assert swarm.id in [s.id async for s in sdk.swarms.list(topology="mesh")]
    with pytest.raises(ValidationError) as both:
        await sdk.swarms.create(name="both", agents=[{"type": "tester"}], initial_agents=[{"type": "tester"}])
    assert [d["field"] for d in both.value.details] == ["agents"]
    await sdk.swarms.stop(swarm.id)
    await sdk.swarms.delete(swarm.id)


async def test_memory(sdk: AsyncStellarFlow) -> None:
    namespace, key = f"sdk-{str(ULID()).lower()}", "project_context"
    stored = await sdk.memory.store(key, {"name": "E-commerce", "stack": ["python"]}, namespace=namespace,
                                    ttl=3600, tags=["sdk"])
    assert stored.version == 1 and stored.namespace == namespace and stored.ttl == 3600
    again = await sdk.memory.update(key, {"stack": ["python", "postgres"]}, namespace=namespace, merge=True)
    assert again.version == 2 and again.value == {"name": "E-commerce", "stack": ["python", "postgres"]}
    assert (await sdk.memory.get(key, namespace=namespace, version=1)).value["stack"] == ["python"]
    hits = await sdk.memory.query("commerce", namespace=namespace)
    assert [h.key for h in hits] == [key]
    assert (await sdk.memory.stats()).total_entries >= 1
    deleted = await sdk.memory.delete(key, namespace=namespace)
    assert deleted.deleted and deleted.keys == [key]
    with pytest.raises(NotFound):
        await sdk.memory.get(key, namespace=namespace)


async def test_workflows_apply_and_runs_wait(sdk: AsyncStellarFlow, tmp_path: Path) -> None:
    name = f"sdk-{ULID()}"
    definition = {"name": name, "steps": [{"id": "hello", "action": "execute-command",
                                           "parameters": {"command": "echo hello"}}]}
    workflow_id = name.lower()
    first = await sdk.workflows.apply(definition)
    assert first.id == workflow_id and first.version == 1
    assert (await sdk.workflows.apply(definition)).version == 1  # unchanged: no new version
    source = tmp_path / f"{workflow_id}.yaml"
    source.write_text(f"name: {name}\nsteps:\n  - id: hello\n    action: execute-command\n"
                      f"    parameters:\n      command: echo changed\n")
    changed = await sdk.workflows.apply(source)
    assert changed.id == workflow_id and changed.version == 2
    assert (await sdk.workflows.get(workflow_id)).version == 2
    assert workflow_id in [w.id async for w in sdk.workflows.list(name=name)]

    started = [await sdk.runs.start(workflow_id) for _ in range(2)]
    assert all(run.workflow_id == workflow_id for run in started)
    finished = await sdk.runs.wait(started[0].id, timeout=60)
    assert finished.status == "succeeded" and finished.step("hello").status == "succeeded"
    logs = await sdk.runs.logs(started[0].id)
    assert "changed" in logs.steps[0].stdout
    await sdk.runs.wait(started[1].id, timeout=60)
    # Dialect 2's pagination (links.next), one run per page.
    paginator = sdk.runs.list(workflow_id=workflow_id, page_size=1)
    pages = [page async for page in paginator.apages()]
    assert len(pages) == 2 and {r.id for p in pages for r in p.items} == {r.id for r in started}
    await sdk.workflows.delete(workflow_id)
    with pytest.raises(NotFound):
        await sdk.workflows.get(workflow_id)


async def _until_end(stream: AsyncIterator, timeout: float = 90) -> list:
    async def collect() -> list:
        return [event async for event in stream]

    return await asyncio.wait_for(collect(), timeout)


async def test_orchestrations_create_stream_wait_and_cancel(live: str, app: FastAPI) -> None:
    async with AsyncStellarFlow(live, token=token_for("developer")) as client:
        phases = [{"name": "build", "agents": ["coder"], "duration": 120,
                   "requirements": {"command": "echo built > out.txt"}},
                  {"name": "check", "agents": ["tester"], "duration": 120, "requirements": {"command": "cat out.txt"}}]
        created = await client.orchestrations.create("build, then check", phases, strategy="sequential",
                                                     agent_config={"executor": "shell"})
        assert created.id.startswith("orch-") and [p["name"] for p in created.phases] == ["build", "check"]
        events = await _until_end(client.orchestrations.stream(created.id, since="0"))
        types = [event.type for event in events]
        assert "orchestration.started" in types and types.count("orchestration.phase_started") == 2, types
        assert types[-2:] == ["orchestration.status", "orchestration.completed"], types
        assert events[-1].data["status"] == "completed" and events[-1].data["orchestrationId"] == created.id
        # another user does not get `orchestration.completed` (it carries the error): the stream ends on the
        # terminal status, after settling
        async with AsyncStellarFlow(live, token=token_for(user=new_user("developer"))) as other:
            seen = await _until_end(other.orchestrations.stream(created.id, since="0"), timeout=30)
        assert seen[-1].type == "orchestration.status" and seen[-1].data["status"] == "completed"
        assert "orchestration.completed" not in [event.type for event in seen]
        done = await client.orchestrations.wait(created.id, timeout=60, interval=0.2)
        assert done.done and done.status == "completed" and done.progress == 1.0
        assert "built" in done.phases[1]["tasks"][0]["output"]  # the first phase's file was handed on

        waiting = await client.orchestrations.create("wait", [{"name": "wait", "agents": ["tester"],
                                                               "requirements": {"command": "sleep 60"}}],
                                                     agent_config={"executor": "shell"})
        deadline = time.monotonic() + 60
        while (await client.orchestrations.get(waiting.id)).phases[0]["tasks"][0]["status"] != "running":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        cancelled = await client.orchestrations.cancel(waiting.id)
        assert cancelled.status == "cancelled" and (await client.orchestrations.get(waiting.id)).done
        with pytest.raises(Conflict):
            await client.orchestrations.cancel(waiting.id)
        with pytest.raises(NotFound):
            await client.orchestrations.get("orch-" + "0" * 26)


async def test_github_analyze_and_enhance_a_pr(sdk: AsyncStellarFlow, github: FakeGitHub) -> None:  # noqa: F811
    started = await sdk.github.analyze(REPOSITORY, analysis_types=["security"], branch="main")
    assert started.id.startswith("gh-analysis-") and [p["name"] for p in started.phases] == ["security"]
    analysis = await sdk.github.wait_analysis(started.id, timeout=120, interval=0.3)
    assert analysis.status == "completed" and analysis.commit, analysis
    assert ("app/insecure.py", 5, "bandit") in {(f["file"], f["line"], f["tool"]) for f in analysis.findings}
    assert (await sdk.github.get_analysis(started.id)).summary == analysis.summary

    enhanced = await sdk.github.enhance_pr(REPOSITORY, 7, enhancements={"securityReview": True}, wait=90)
    assert enhanced.pr_number == 7 and enhanced.status == "completed", enhanced
    security = enhanced.enhancements["security"]
    assert security["status"] == "done" and security["comments"] == 1
    assert len(github.pulls[(REPOSITORY, 7)].reviews) == 1
    assert (await sdk.github.get_enhancement(enhanced.id)).enhancements["security"]["reviewId"] == \
        security["reviewId"]
    with pytest.raises(ValidationError):
        await sdk.github.analyze("https://evil.example/x/y")


async def test_neural_train_stream_wait_and_predict(live: str, app: FastAPI) -> None:
    async with AsyncStellarFlow(live, token=token_for("developer")) as client:
        started = await client.neural.train("coordination", samples(200), validation_split=0.25, epochs=20,
                                            learning_rate=0.01)
        assert started.id.startswith("train-") and started.status == "training" and started.total_epochs == 20
        events = await _until_end(client.neural.stream_training(started.id, since="0"))
        epochs = [event.data["epoch"] for event in events if event.type == "training.progress"]
        assert epochs == sorted(epochs) and epochs[-1] == 20 and events[-1].type == "training.completed"
        trained = await client.neural.wait_training(started.id, timeout=60)
        assert trained.done and trained.status == "completed" and trained.model["version"] == "1"
        assert trained.model_id == started.model_id and trained.held_out_metrics
        predicted = await client.neural.predict(trained.model_id, {"load": 0.8, "agents": 0.5, "color": "red"})
        assert predicted.prediction["strategy"] == "wide" and predicted.model_info["version"] == "1"
        assert abs(sum(predicted.probabilities["strategy"].values()) - 1) < 1e-6
        with pytest.raises(NotFound):
            await client.neural.get_training("train-" + "0" * 26)
    async with AsyncStellarFlow(live, token=token_for("viewer")) as viewer:
        with pytest.raises(Forbidden):
            await viewer.neural.train("coordination", samples(20))


async def test_auth_and_keys(app: FastAPI) -> None:
    user = new_user("developer")
    async with _sdk(app, None) as client:
        pair = await client.auth.login(user.username, PASSWORD)
        assert pair.user is not None and pair.user.username == user.username
        me = await client.auth.me()  # the client kept the token
        assert me.id == user.id and me.auth_method == "token"
        key = await client.keys.create("sdk-test")
        assert key.key and key.key.startswith("sf_")
        assert key.id in [k.id for k in await client.keys.list()]
    async with _sdk(app, key.key) as keyed:
        assert (await keyed.auth.me()).auth_method == "api_key"
        await keyed.keys.revoke(key.id)
        with pytest.raises(Unauthorized) as revoked:
            await keyed.auth.me()
        assert revoked.value.status == 401 and revoked.value.code == "UNAUTHORIZED"


# ---- errors, pagination, idempotency -----------------------------------------------------------------------------


async def test_errors_carry_code_message_details_and_request_id(sdk: AsyncStellarFlow, app: FastAPI) -> None:
    with pytest.raises(NotFound) as missing:
        await sdk.agents.get("ag-01J00000000000000000000000")
    error = missing.value
    assert error.status == 404 and error.code == "RESOURCE_NOT_FOUND" and error.message
    assert error.details == {"agent_id": "ag-01J00000000000000000000000"} and error.request_id

    with pytest.raises(ValidationError) as invalid:
        await sdk.tasks.create(description="x", priority="urgent")
    error = invalid.value
    # On the wire VALIDATION_ERROR, naming the field; the spec's SDK name INVALID_REQUEST answers too.
    assert error.code == "VALIDATION_ERROR" and error.is_invalid_request and INVALID_REQUEST in error.codes
    assert [d["field"] for d in error.details] == ["priority"] and error.request_id

    with pytest.raises(ValidationError) as dialect2:  # dialect 2's body, its request id from the header
        await sdk.workflows.create({"name": "no steps"})
    assert dialect2.value.code == "VALIDATION_ERROR" and dialect2.value.request_id

    async with _sdk(app, token_for("viewer")) as viewer:
        with pytest.raises(Forbidden) as refused:
            await viewer.agents.create(type="tester")
        assert refused.value.code == "FORBIDDEN" and refused.value.status == 403


async def test_dialect1_lists_page_by_cursor(sdk: AsyncStellarFlow) -> None:
    kind = f"sdk-page-{ULID()}"
    made = [(await sdk.tasks.create(type=kind, description=f"t{i}")).id for i in range(5)]
    paginator = sdk.tasks.list(type=kind, limit=2)
    pages = [page async for page in paginator.apages()]
    assert [len(p.items) for p in pages] == [2, 2, 1] and pages[0].total == 5
    assert pages[0].cursor and pages[-1].cursor is None
    assert sorted([t.id async for t in sdk.tasks.list(type=kind, limit=2)]) == sorted(made)
    for task_id in made:
        await sdk.tasks.cancel(task_id)


async def test_creating_posts_carry_an_idempotency_key_and_replay(app: FastAPI) -> None:
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    async with _sdk(app, token_for("developer")) as client:
        client._transport.http.event_hooks["request"].append(record)
        agent = await client.agents.create(type="tester")
        await client.agents.get(agent.id)
        task = await client.tasks.create(description="idempotent")
        await client.tasks.cancel(task.id)
        # The same key twice (a retry after a lost answer): the same agent, not a second one.
        key = f"sdk-{ULID()}"
        once = await client.agents.create(type="tester", name="once", idempotency_key=key)
        twice = await client.agents.create(type="tester", name="once", idempotency_key=key)
        assert once.id == twice.id
    keys = [(r.method, r.url.path, r.headers.get("idempotency-key")) for r in sent]
    assert keys[0][:2] == ("POST", "/api/agents") and keys[0][2]
    assert keys[1] == ("GET", f"/api/agents/{agent.id}", None)
    assert keys[2][:2] == ("POST", "/api/tasks") and keys[2][2] and keys[2][2] != keys[0][2]
    assert keys[3] == ("DELETE", f"/api/tasks/{task.id}", None)
    assert keys[4][2] == keys[5][2] == key


# ---- retries -----------------------------------------------------------------------------------------------------

LIMITED = {"error": {"code": "RATE_LIMITED", "message": "Too many requests"}, "request_id": "req-1"}
AGENT = {"id": "ag-1", "type": "tester", "status": "idle", "name": "a"}


def test_429_is_retried_after_retry_after_with_the_same_key() -> None:
    with FakeHTTPServer() as server:
        server.route("/api/agents", Reply(429, LIMITED, {"Retry-After": "1"}), Reply(201, AGENT))
        with StellarFlow(server.base_url, token="t") as client:
            began = time.monotonic()
            agent = client.agents.create(type="tester")
            waited = time.monotonic() - began
        attempts = server.requests_to("/api/agents")
    assert agent.id == "ag-1" and len(attempts) == 2
    assert waited >= 1.0  # Retry-After honoured
    key = attempts[0].headers["idempotency-key"]
    assert key and attempts[1].headers["idempotency-key"] == key
    assert attempts[0].headers["authorization"] == "Bearer t"


def test_retries_are_bounded_and_unsafe_requests_are_not_repeated_on_503() -> None:
    unavailable = {"error": {"code": "SERVICE_UNAVAILABLE", "message": "Temporal is unreachable"}}
    with FakeHTTPServer() as server:
        server.route("/api/agents", Reply(429, LIMITED, {"Retry-After": "3600"}))
        server.route("/api/tasks/t-1/assign", Reply(503, unavailable, {"Retry-After": "0"}))
        server.route("/api/tasks/t-1", Reply(503, unavailable, {"Retry-After": "0"}),
                     Reply(200, {"id": "t-1", "status": "queued"}))
        with StellarFlow(server.base_url, max_retries=2, max_retry_wait=0.05) as client:
            began = time.monotonic()
            with pytest.raises(RateLimited) as limited:
                client.agents.create(type="tester")
            assert time.monotonic() - began < 5  # an hour's Retry-After was capped at max_retry_wait
            assert limited.value.retry_after == 3600 and limited.value.request_id == "req-1"
            with pytest.raises(ServiceUnavailable):
                client.tasks.assign("t-1", "ag-1")  # a POST without a key: a 503 may have done it, no repeat
            assert client.tasks.get("t-1").status == "queued"  # a GET is repeated
        assert len(server.requests_to("/api/agents")) == 3  # the first try and two retries
        assert len(server.requests_to("/api/tasks/t-1/assign")) == 1
        assert len(server.requests_to("/api/tasks/t-1")) == 2


def test_the_async_clients_type_declarations_are_current() -> None:
    """stellarflow/client/aio.py (what a type checker sees of AsyncStellarFlow's resources) is generated from the
    resources; regenerate with `python -m stellarflow.client._generate` after changing one."""
    from stellarflow.client import _generate

    assert _generate.TARGET.read_text() == _generate.render()


def test_without_arguments_the_client_finds_the_stack_up_remembered(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "cli.key"
    key_file.write_text("sf_from_the_key_file\n")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"url": "http://127.0.0.1:9", "keyFile": str(key_file)}))
    monkeypatch.setenv("STELLARFLOW_CONFIG", str(config))
    for name in ("STELLARFLOW_URL", "STELLARFLOW_PUBLIC_URL", "STELLARFLOW_TOKEN", "STELLARFLOW_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with StellarFlow() as client:
        assert client.base_url.rstrip("/") == "http://127.0.0.1:9" and client.token == "sf_from_the_key_file"
    monkeypatch.setenv("STELLARFLOW_URL", "http://127.0.0.1:10")
    monkeypatch.setenv("STELLARFLOW_TOKEN", "from-the-environment")
    with StellarFlow() as client:  # the environment wins over the remembered stack
        assert client.base_url.rstrip("/") == "http://127.0.0.1:10" and client.token == "from-the-environment"


# ---- the sync client and the spec's example, against a live API -------------------------------------------------


async def test_the_sync_client_over_http(live: str) -> None:
    token = token_for("developer")

    def use() -> tuple[str, list[str], str]:
        with StellarFlow(live, token=token) as client:
            agent = client.agents.create(type="tester", config={"executor": "shell"})
            listed = [a.id for a in client.agents.list(limit=1, type="tester")]
            name = f"sdk-sync-{ULID()}"
            client.workflows.apply({"name": name, "steps": [{"id": "a", "action": "execute-command",
                                                             "parameters": {"command": "true"}}]})
            run = client.runs.wait(client.runs.start(name.lower()).id, timeout=60)
            streamed = [event.type for event in client.runs.stream(run.id, since="0")]  # the sync stream loop
            assert streamed[-1] == "run.succeeded", streamed
            with pytest.raises(NotFound):
                client.runs.get("run-does-not-exist")
            return agent.id, listed, run.status

    agent_id, listed, status = await asyncio.to_thread(use)
    assert agent_id in listed and status == "succeeded"


def _has_stream_server(app: FastAPI) -> bool:
    return any(getattr(route, "path", None) == "/ws" for route in app.routes)


async def _finish_the_examples_swarm(app: FastAPI, owner: str) -> None:
    """With the stream on, the example waits for its swarm's progress to reach 1.0; a swarm without tasks stays at
    0, so once the swarm exists this gives it one task that its `tester` agent finishes. (Unexercised until the
    WebSocket server is merged: that is when this path runs.)"""
    async with _sdk(app, token_for("admin")) as client:
        deadline = time.monotonic() + 60
        while True:
            found = [s async for s in client.swarms.list(sort="-created_at") if s.owner == owner]
            if found:
                break
            assert time.monotonic() < deadline, "the example never created its swarm"
            await asyncio.sleep(0.2)
        await client.tasks.create(description="finish", swarm_id=found[0].id,
                                  requirements={"command": "true", "agent_type": "tester"})


async def test_the_specs_python_example_runs(live: str, app: FastAPI, tmp_path: Path) -> None:
    """claude-flow-api.md § Code Examples, Python: only the import, base URL and key changed."""
    user = new_user("developer")
    async with _sdk(app, token_for(user=user)) as client:
        key = (await client.keys.create("spec-example")).key
    script = EXAMPLE.read_text()
    streaming = _has_stream_server(app)
    if not streaming:  # the WebSocket server is on another branch: stop before the stream
        script = script.split("    # Monitor swarm progress\n")[0] + "\nasyncio.run(main())\n"
    path = tmp_path / "example.py"
    path.write_text(script)
    env = {**os.environ, "STELLARFLOW_URL": live, "STELLARFLOW_API_KEY": key or "", "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(sys.executable, str(path), env=env, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    feeder = asyncio.create_task(_finish_the_examples_swarm(app, user.id)) if streaming else None
    out, err = await asyncio.wait_for(process.communicate(), 120)
    if feeder is not None:
        await asyncio.wait_for(feeder, 10)
    assert process.returncode == 0, err.decode()[-3000:]
    assert "Task completed: " in out.decode()
    async with _sdk(app, token_for(user=user)) as client:  # what the example made is really there
        swarms = [s async for s in client.swarms.list() if s.owner == user.id]
        assert [s.name for s in swarms] == ["ML Pipeline Development"]
        agents = [a async for a in client.agents.list(type="coder") if a.owner == user.id]
        assert [a.name for a in agents] == ["Python Expert"]
        for swarm in swarms:
            await client.swarms.stop(swarm.id)
