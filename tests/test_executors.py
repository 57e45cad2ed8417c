"""The task executors against real processes, a real HTTP server speaking the OpenAI protocol, a real CLI
program and a real entry point: workspace diffs, test reports, resource usage, progress, cancellation,
rollback, and the errors of an executor that is not configured. Activities run under the SDK's
`ActivityEnvironment` (heartbeats and cancellation as a worker delivers them) or as plain functions."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.executors import execute_task, provision_workspace, rollback_workspace
from activities.executors import llm as llm_module
from activities.executors import progress as progress_module
from activities.executors import results as results_module
from activities.executors.activities import execute
from core.agents.contracts import ExecuteTaskInput, RollbackRequest
from core.agents.models import TaskResult
from core.settings import get_settings, reset_settings
from tests.fakes.http_server import free_port
from tests.fakes.openai_server import FakeOpenAIServer
from tests.processes import wait_running

FAKE_CLI = Path(__file__).resolve().parent / "fakes" / "fake_agent_cli.py"
PY = shlex.quote(sys.executable)
API_KEY = "sk-test-very-secret-key-0123456789"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data dir (so fresh workspaces), and no executor configured unless a test says so."""
    monkeypatch.setenv("STELLARFLOW_DATA_DIR", str(tmp_path / "data"))
    for name in ("LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL", "AGENT_CLI_COMMAND", "AGENT_CLI_ENV",
                 "EXECUTOR_SECRET_ENV"):  # fmt: skip
        monkeypatch.delenv(f"STELLARFLOW_{name}", raising=False)
    reset_settings()
    yield tmp_path / "data"
    reset_settings()


def task(executor: str = "shell", *, requirements: dict[str, Any] | None = None, **fields: Any) -> ExecuteTaskInput:
    fields.setdefault("task_id", f"task-{uuid.uuid4().hex[:10]}")
    fields.setdefault("agent_id", "agent-1")
    fields.setdefault("workspace", "")
    return ExecuteTaskInput(executor=executor, requirements=requirements or {}, **fields)


def workspace_of(inp: ExecuteTaskInput) -> Path:
    return get_settings().workspaces_dir / inp.agent_id / inp.task_id


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


async def wait_for_file(path: Path, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


async def not_configured(inp: ExecuteTaskInput) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        await execute(inp)
    assert info.value.type == "ExecutorNotConfigured"
    assert info.value.non_retryable
    return info.value


# ---- shell: the workspace diff ------------------------------------------------------------------------------


async def test_shell_reports_files_created_changed_and_deleted(data_dir: Path) -> None:
    seed = {"keep.txt": "same\n", "edit.py": "a = 1\n", "gone.md": "# bye\n", "sub/deep.txt": "deep\n"}
    command = (
        "printf 'a = 1\\nb = 2\\n\\nc = 3\\n' > edit.py && rm gone.md && mkdir -p src tests && "
        "printf 'def f():\\n    return 1\\n' > src/mod.py && "
        "printf 'def test_one():\\n    pass\\n\\ndef test_two():\\n    pass\\n' > tests/test_mod.py && "
        "mkdir -p __pycache__ && echo x > __pycache__/noise.pyc && echo done"
    )
    inp = task(requirements={"command": command, "files": seed})
    result = await execute(inp)
    assert result.success and result.exit_code == 0 and result.executor == "shell"
    assert result.output == "done\n"
    assert result.files_created == ["src/mod.py", "tests/test_mod.py"]  # caches are not the task's work
    assert result.files_changed == ["edit.py"]
    assert result.files_deleted == ["gone.md"]
    kinds = {a.path: (a.type, a.size) for a in result.artifacts}
    sizes = {path: len(text) for path, text in tree(workspace_of(inp)).items()}
    assert kinds == {"src/mod.py": ("code", sizes["src/mod.py"]), "tests/test_mod.py": ("test", 51),
                     "edit.py": ("code", sizes["edit.py"])}  # fmt: skip
    # 2 (mod.py) + 4 (test file) + 2 added to edit.py (b = 2, c = 3)
    assert result.lines_of_code == 8
    assert result.tests_written == 2
    assert result.tests_passed is None and result.coverage is None  # no test command: not measured
    assert result.duration_ms > 0
    assert result.tokens is None and result.api_calls is None


async def test_seed_paths_must_stay_inside_the_workspace(data_dir: Path) -> None:
    for bad in ("../outside.txt", "/etc/passwd", "a/../../x"):
        with pytest.raises(ApplicationError) as info:
            await execute(task(requirements={"command": "true", "files": {bad: "x"}}))
        assert info.value.type == "InvalidParameters" and info.value.non_retryable
    assert not any(get_settings().workspaces_dir.rglob("outside.txt"))


async def test_a_failing_command_is_a_failed_result_not_an_exception(data_dir: Path) -> None:
    result = await execute(task(requirements={"command": "echo partial; echo boom >&2; exit 3"}))
    assert not result.success
    assert result.exit_code == 3
    assert result.error == "command exited with code 3"
    assert "partial" in result.output and "boom" in result.output


async def test_timeout_kills_the_command(data_dir: Path) -> None:
    started = time.monotonic()
    result = await execute(task(requirements={"command": "sleep 30"}, timeout_s=0.5))
    assert time.monotonic() - started < 5
    assert not result.success and "timed out after 0.5s" in (result.error or "")


async def test_output_is_capped_to_the_tail(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STELLARFLOW_OUTPUT_TAIL_BYTES", "100")
    reset_settings()
    result = await execute(task(requirements={"command": "seq 1 1000"}))
    assert result.truncated and result.output.endswith("1000\n") and len(result.output) <= 100


async def test_a_retry_starts_from_the_snapshot(data_dir: Path) -> None:
    """Idempotent: a second attempt of the same task sees the seed, not the first attempt's changes."""
    inp = task(requirements={"command": "echo line >> log.txt; cat log.txt | wc -l", "files": {"a.txt": "a"}})
    first = await execute(inp)
    second = await execute(inp)
    assert first.output.startswith("1") and second.output.startswith("1")
    assert second.files_created == ["log.txt"]
    assert "started from the workspace snapshot" in second.output


# ---- shell: tests and coverage ------------------------------------------------------------------------------


CALC = "def add(a, b):\n    return a + b\n\n\ndef unused(x):\n    if x:\n        return 1\n    return 2\n"
TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
NEW_TESTS = (
    "from calc import add\n\n\ndef test_zero():\n    assert add(0, 0) == 0\n\n\n"
    "class TestMore:\n    def test_wrong(self):\n        assert add(1, 1) == 3\n"
)
TEST_COMMAND = (
    f"{PY} -m coverage run -m pytest -q -p no:cacheprovider --junitxml=\"$STELLARFLOW_JUNIT_XML\"; "
    f"{PY} -m coverage json -q -o \"$STELLARFLOW_COVERAGE_JSON\""
)


async def test_test_command_reports_junit_and_coverage(data_dir: Path) -> None:
    inp = task(requirements={
        "command": f"printf {shlex.quote(NEW_TESTS)} > test_more.py",
        "files": {"calc.py": CALC, "test_calc.py": TESTS},
        "test_command": TEST_COMMAND,
    })  # fmt: skip
    result = await execute(inp)
    assert result.success, result.output  # the work decides; a failing test is reported, not fatal
    assert result.files_created == ["test_more.py"]  # the test run's reports and caches are not counted
    assert result.tests_written == 2
    assert (result.tests_passed, result.tests_failed) == (2, 1)
    # calc.py has 7 statements, 5 run (the body of `unused` does not); coverage.py counts the test files too
    assert result.coverage is not None and 0.5 < result.coverage < 1.0
    report = json.loads(next(get_settings().workspaces_dir.rglob("coverage.json")).read_text())
    assert result.coverage == pytest.approx(report["totals"]["percent_covered"] / 100)
    assert "tests: test command succeeded; 2 passed, 1 failed; coverage" in result.output


async def test_require_tests_pass_fails_the_task(data_dir: Path) -> None:
    inp = task(
        requirements={"command": "true", "files": {"calc.py": CALC, "test_calc.py": TESTS.replace("3", "4")}},
        config={"test_command": f"{PY} -m pytest -q -p no:cacheprovider", "require_tests_pass": True},
    )
    result = await execute(inp)
    # no JUnit file here: the counts come from pytest's summary line
    assert (result.tests_passed, result.tests_failed) == (0, 1)
    assert not result.success and result.error is not None and result.error.startswith("tests failed")
    assert result.exit_code == 0


def test_junit_and_coverage_parsers(tmp_path: Path) -> None:
    junit = tmp_path / "j.xml"
    junit.write_text(
        '<testsuites><testsuite name="s"><testcase name="a"/><testcase name="b"><failure/></testcase>'
        '<testcase name="c"><error/></testcase><testcase name="d"><skipped/></testcase></testsuite></testsuites>'
    )
    assert results_module.parse_junit(junit) == (1, 2)
    junit.write_text('<testsuite tests="5" failures="1" errors="0" skipped="1"/>')
    assert results_module.parse_junit(junit) == (3, 1)
    junit.write_text("not xml")
    assert results_module.parse_junit(junit) is None
    cov = tmp_path / "c.json"
    cov.write_text(json.dumps({"totals": {"percent_covered": 87.5}}))
    assert results_module.parse_coverage(cov) == 0.875
    cov.write_text(json.dumps({"total": {"lines": {"pct": 40}}}))
    assert results_module.parse_coverage(cov) == 0.4
    assert results_module.parse_pytest_summary("x\n==== 3 passed, 1 failed, 2 errors in 0.5s ====\n") == (3, 3)


# ---- resource usage, progress, cancellation, rollback --------------------------------------------------------


async def test_resource_usage_of_a_busy_command(data_dir: Path) -> None:
    # `&&` makes the shell fork the busy child and wait for it: its CPU comes back through the shell.
    busy = f"{PY} -c 'b = bytearray(80 * 1024 * 1024)\nx = 0\nfor i in range(4_000_000): x += i' && echo ok"
    result = await execute(task(requirements={"command": busy}))
    assert result.success
    assert result.cpu_time_s is not None and result.cpu_time_s > 0.1
    assert result.memory_peak_mb is not None and result.memory_peak_mb > 60


@workflow.defn(name="ProgressSink", sandboxed=False)
class ProgressSink:
    """Stands in for the TaskWorkflow: collects `progress` signals."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    @workflow.run
    async def run(self) -> list[dict[str, Any]]:
        await workflow.wait_condition(lambda: any(u["progress"] >= 0.9 for u in self.updates))
        return self.updates

    @workflow.signal(name="progress")
    def progress(self, payload: dict[str, Any]) -> None:
        self.updates.append(payload)


async def test_progress_heartbeats_and_signals(data_dir: Path, temporal_client: Client) -> None:
    inp = task(requirements={
        "command": "echo 'progress: 0.25'; sleep 1.2; echo '::progress::50% halfway'; sleep 1.2; "
                   "echo 'progress: 90'; sleep 1.2",
    })  # fmt: skip
    queue = f"executors-{uuid.uuid4().hex[:8]}"
    async with Worker(temporal_client, task_queue=queue, workflows=[ProgressSink],
                      workflow_runner=UnsandboxedWorkflowRunner()):  # fmt: skip
        handle = await temporal_client.start_workflow(ProgressSink.run, id=inp.task_id, task_queue=queue)
        env = ActivityEnvironment(client=temporal_client)
        beats: list[Any] = []
        env.on_heartbeat = lambda *details: beats.append(details[0] if details else None)
        result: TaskResult = await env.run(execute_task, inp)
        signals = await asyncio.wait_for(handle.result(), 10)
    assert result.success
    assert all(isinstance(b, dict) and set(b) == {"progress", "message"} for b in beats)
    seen = [b["progress"] for b in beats]
    assert {0.25, 0.5, 0.9} <= set(seen)
    assert {"progress": 0.5, "message": "halfway"} in beats
    # the first signal (which tells the task it runs, and on which agent) waits half a second, so it carries the
    # latest figure then (0.25); then the latest figure, at most one a second (so under load 0.5 may be overtaken
    # by 0.9 before its turn comes)
    sent = [s["progress"] for s in signals]
    assert sent[0] == 0.25 and sent[-1] == 0.9 and sent == sorted(sent) and len(set(sent)) == len(sent)
    assert all(s["agent_id"] == inp.agent_id for s in signals)


async def test_progress_signal_failures_are_ignored(data_dir: Path, temporal_client: Client) -> None:
    """No workflow has the task's id: the task runs on regardless."""
    env = ActivityEnvironment(client=temporal_client)
    result = await env.run(execute_task, task(requirements={"command": "echo 'progress: 0.5'; sleep 0.3"}))
    assert result.success


def test_progress_lines() -> None:
    parse = progress_module.parse_progress
    assert parse("progress: 0.4") == (0.4, None)
    assert parse("Progress: 40%") == (0.4, None)
    assert parse("::progress::0.4 indexing files") == (0.4, "indexing files")
    assert parse("progress=75") == (0.75, None)
    assert parse("progress: 250%") == (1.0, None)
    assert parse("no progress: here") is None


async def test_cancel_kills_the_process_tree_and_rollback_restores_the_seed(data_dir: Path) -> None:
    seed = {"a.txt": "alpha\n", "dir/b.txt": "beta\n"}
    inp = task(requirements={
        "command": "echo changed > a.txt; rm dir/b.txt; echo new > c.txt; "
                   "sleep 60.201 & echo started > bg.txt; sleep 60.202",
        "files": seed,
    })  # fmt: skip
    workspace = workspace_of(inp)
    env = ActivityEnvironment()
    running = asyncio.ensure_future(env.run(execute_task, inp))
    await wait_for_file(workspace / "bg.txt")
    [bg] = await wait_running("sleep 60.201")  # a host pid: `$!` inside the sandbox is not one
    pgid = os.getpgid(bg)
    assert alive(bg)
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert not alive(bg)
    group = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _pgid(int(p.name)) == pgid]
    assert not [pid for pid in group if alive(pid)]

    request = RollbackRequest(task_id=inp.task_id, agent_id=inp.agent_id)
    assert await ActivityEnvironment().run(rollback_workspace, request) is True
    assert tree(workspace) == seed
    assert await ActivityEnvironment().run(rollback_workspace, request) is False  # idempotent
    nothing = RollbackRequest(task_id="task-never-ran", agent_id=inp.agent_id)
    assert await ActivityEnvironment().run(rollback_workspace, nothing) is False


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


async def test_rollback_after_success_restores_modes_symlinks_and_empty_dirs(data_dir: Path) -> None:
    inp = task(requirements={
        "command": "chmod +x run.sh; ln -s run.sh link; mkdir -p empty/inner; chmod 500 empty; rm -r sub",
        "files": {"run.sh": "echo hi\n", "sub/x.txt": "x"},
    })  # fmt: skip
    result = await execute(inp)
    assert result.files_changed == ["run.sh"] and result.files_created == ["link"]
    assert result.files_deleted == ["sub/x.txt"]
    workspace = workspace_of(inp)
    assert await rollback_workspace(RollbackRequest(task_id=inp.task_id, workspace=str(workspace))) is True
    assert tree(workspace) == {"run.sh": "echo hi\n", "sub/x.txt": "x"}
    assert not os.access(workspace / "run.sh", os.X_OK) and not (workspace / "empty").exists()


async def test_provision_is_idempotent_and_refuses_escapes(data_dir: Path) -> None:
    path = Path(await ActivityEnvironment().run(provision_workspace, "agent-9"))
    assert path == get_settings().workspaces_dir / "agent-9" and path.is_dir()
    assert await provision_workspace("agent-9") == str(path)  # idempotent
    with pytest.raises(ApplicationError):
        await provision_workspace("../escape")


# ---- executors that are not configured -----------------------------------------------------------------------


async def test_unconfigured_executors_fail_clearly(data_dir: Path) -> None:
    assert "requirements.command" in str(await not_configured(task("shell")))
    assert "STELLARFLOW_LLM_BASE_URL" in str(await not_configured(task("llm")))
    assert "STELLARFLOW_AGENT_CLI_COMMAND" in str(await not_configured(task("agent-cli")))
    assert "config.callable" in str(await not_configured(task("python")))
    assert "word-count" in str(await not_configured(task("python", config={"callable": "nope"})))
    assert "one of: shell, llm, agent-cli, python" in str(await not_configured(task("quantum")))
    # nothing was created for them
    workspaces = get_settings().workspaces_dir
    assert not workspaces.exists() or not any(workspaces.rglob("task-*"))


# ---- llm -----------------------------------------------------------------------------------------------------

ANSWER = """Here is the implementation.

```python path=src/app.py
def greet(name):
    return f"hello {name}"
```

And its tests:

```tests/test_app.py
from src.app import greet


def test_greet():
    assert greet("x") == "hello x"
```

```markdown
<!-- file: README.md -->
# App
```

```python
print("no path: not written")
```

```python path=../escape.py
boom
```
"""


@pytest.fixture
def openai(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(ANSWER) as server:
        monkeypatch.setenv("STELLARFLOW_LLM_BASE_URL", server.base_url + "/v1")
        monkeypatch.setenv("STELLARFLOW_LLM_API_KEY", API_KEY)
        monkeypatch.setenv("STELLARFLOW_LLM_MODEL", "fake-model")
        reset_settings()
        yield server


async def test_llm_writes_files_and_records_tokens(openai: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
                                                   ) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    inp = task(
        "llm",
        description="Write a greeting module",
        requirements={"language": "python", "files": {"notes.txt": "existing notes"}},
        config={"temperature": 0.2, "maxTokens": 500},  # the camelCase spelling of max_tokens
        agent_type="coder",
        cognitive_pattern="critical",
        directives=["prefer small functions"],
        context={"style": "pep8"},
    )
    env = ActivityEnvironment()
    beats: list[Any] = []
    env.on_heartbeat = lambda *details: beats.append(details[0])
    result: TaskResult = await env.run(execute_task, inp)

    assert result.success and result.executor == "llm" and result.exit_code is None
    assert result.files_created == ["README.md", "src/app.py", "tests/test_app.py"]
    workspace = workspace_of(inp)
    assert (workspace / "src/app.py").read_text() == 'def greet(name):\n    return f"hello {name}"\n'
    assert (workspace / "README.md").read_text() == "# App\n"
    assert not (workspace.parent / "escape.py").exists()
    assert "leaves the workspace" in result.output or "relative path" in result.output
    assert result.tests_written == 1
    assert result.api_calls == 1
    assert result.tokens is not None and result.tokens.model_dump() == {"prompt": 42, "completion": 17, "total": 59}
    assert result.cpu_time_s is None and result.memory_peak_mb is None  # remote work: not measured
    assert beats and beats[-1]["progress"] == 1.0

    (request,) = openai.chat_requests
    body = request.json()
    assert body["model"] == "fake-model" and body["temperature"] == 0.2 and body["max_tokens"] == 500
    messages = openai.messages()
    assert "Think in a critical way" in messages["system"] and "coder" in messages["system"]
    assert "Write a greeting module" in messages["user"]
    assert "existing notes" in messages["user"] and "prefer small functions" in messages["user"]
    assert '"style": "pep8"' in messages["user"]
    assert request.headers["authorization"] == f"Bearer {API_KEY}"

    assert API_KEY not in result.model_dump_json()
    assert all(API_KEY not in record.getMessage() for record in caplog.records)


async def test_llm_key_is_not_sent_to_a_base_url_the_agent_chose(openai: FakeOpenAIServer,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer("fine") as other:
        result = await execute(task("llm", description="x", config={"base_url": other.base_url, "model": "m2"}))
        assert result.success and result.output == "fine" and result.files_created == []
        (request,) = other.chat_requests
        assert "authorization" not in request.headers
        assert request.json()["model"] == "m2"
    # a key of the agent's own: only from a worker variable the operator listed
    monkeypatch.setenv("STELLARFLOW_EXECUTOR_SECRET_ENV", '["TEAM_LLM_KEY"]')
    monkeypatch.setenv("TEAM_LLM_KEY", "sk-team-key-123")
    reset_settings()
    with FakeOpenAIServer("fine") as other:
        config = {"baseUrl": other.base_url, "model": "m", "apiKeyEnv": "TEAM_LLM_KEY"}
        # ... and only to a base URL the operator allows (STELLARFLOW_LLM_ALLOWED_URLS): nothing is sent otherwise.
        with pytest.raises(ApplicationError) as refused:
            await execute(task("llm", config=config))
        assert refused.value.non_retryable and refused.value.type == "LLMUrlNotAllowed"
        assert "STELLARFLOW_LLM_ALLOWED_URLS" in str(refused.value) and "sk-team-key-123" not in str(refused.value)
        assert other.chat_requests == []
        monkeypatch.setenv("STELLARFLOW_LLM_ALLOWED_URLS", other.base_url + "/v1")
        reset_settings()
        result = await execute(task("llm", config=config))
        assert result.success and "sk-team-key-123" not in result.model_dump_json()
        assert other.chat_requests[0].headers["authorization"] == "Bearer sk-team-key-123"
    assert "does not list" in str(await not_configured(task("llm", config={"api_key_env": "STELLARFLOW_JWT_SECRET"})))
    for spelling in ("api_key", "apiKey"):
        error = await not_configured(task("llm", config={spelling: "sk-x"}))
        assert "api_key_env" in str(error) and "sk-x" not in str(error)


async def test_llm_server_errors_are_retryable_then_succeed(openai: FakeOpenAIServer) -> None:
    openai.fail_then_reply(500, "```ok.txt\nfine\n```\n", usage=None)
    inp = task("llm", description="x")
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(execute_task, inp)
    assert not info.value.non_retryable and info.value.type == "LLMUnavailable"
    assert "500" in str(info.value) and API_KEY not in str(info.value)
    result = await ActivityEnvironment().run(execute_task, inp)  # what Temporal's retry does
    assert result.success and result.files_created == ["ok.txt"] and result.tokens is None
    assert len(openai.chat_requests) == 2


async def test_llm_client_errors_are_not_retryable(openai: FakeOpenAIServer) -> None:
    openai.always(400, f"model not found (key {API_KEY})")
    with pytest.raises(ApplicationError) as info:
        await execute(task("llm", description="x"))
    assert info.value.non_retryable and info.value.type == "LLMRequestRejected"
    assert "400 Bad Request" in str(info.value) and API_KEY not in str(info.value)
    assert "model not found" not in str(info.value)  # the status, never what the server wrote


async def test_llm_unreachable_is_retryable(data_dir: Path) -> None:
    inp = task("llm", description="x", config={"base_url": f"http://127.0.0.1:{free_port()}", "model": "m"})
    with pytest.raises(ApplicationError) as info:
        await execute(inp)
    assert not info.value.non_retryable and "unreachable" in str(info.value)


def test_fenced_block_forms() -> None:
    blocks = llm_module.parse_blocks(
        "```python file=\"a/b.py\"\nA\n```\n"
        "```go main.go\nB\n```\n"
        "```ts:web/x.ts\nC\n```\n"
        "````md\n// path: docs/nested.md\n```inner```\n````\n"
        "~~~\n# file: t.sh\nD\n~~~\n"
        "```python\nno path\n```\n"
        "```open.py\nnever closed\n"
    )
    assert [(b.path, b.text, b.closed) for b in blocks] == [
        ("a/b.py", "A\n", True),
        ("main.go", "B\n", True),
        ("web/x.ts", "C\n", True),
        ("docs/nested.md", "```inner```\n", True),
        ("t.sh", "D\n", True),
        (None, "no path\n", True),
        ("open.py", "never closed\n", False),
    ]


# ---- agent-cli -----------------------------------------------------------------------------------------------


async def test_agent_cli_gets_the_prompt_as_one_literal_argument(data_dir: Path) -> None:
    nasty = "Fix it; touch pwned_semicolon $(touch pwned_subst) `touch pwned_tick` \"quoted\" 'single' {prompt} EXIT=4"
    template = f"{PY} {shlex.quote(str(FAKE_CLI))} --verbose -p {{prompt}}"
    inp = task("agent-cli", description=nasty, config={"command": template}, agent_type="coder",
               cognitive_pattern="divergent")  # fmt: skip
    env = ActivityEnvironment()
    beats: list[Any] = []
    env.on_heartbeat = lambda *details: beats.append(details[0])
    result: TaskResult = await env.run(execute_task, inp)

    workspace = workspace_of(inp)
    received = json.loads((workspace / "cli_argv.json").read_text())
    assert received["argv"][:2] == ["--verbose", "-p"] and len(received["argv"]) == 3
    assert nasty in received["prompt"] and "Think in a divergent way" in received["prompt"]
    assert not list(workspace.glob("pwned*"))  # no shell ever saw the prompt
    assert not result.success and result.exit_code == 4 and result.error is not None
    assert result.files_created == ["cli_argv.json", "hello.py"]
    assert "fake-cli done" in result.output
    assert any(b["progress"] == 0.1 for b in beats)
    assert result.cpu_time_s is not None and result.cpu_time_s > 0


async def test_agent_cli_from_settings_with_usage_and_secret_env(data_dir: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("STELLARFLOW_AGENT_CLI_COMMAND", f"{PY} {shlex.quote(str(FAKE_CLI))} -p {{prompt}}")
    monkeypatch.setenv("STELLARFLOW_AGENT_CLI_ENV", '["FAKE_CLI_KEY"]')
    monkeypatch.setenv("FAKE_CLI_KEY", "cli-secret-value")
    reset_settings()
    result = await execute(task("agent-cli", description="please JSON_USAGE",
                                requirements={"command_note": "echo $FAKE_CLI_KEY"}))  # fmt: skip
    assert result.success and result.exit_code == 0
    assert result.tokens is not None and (result.tokens.prompt, result.tokens.completion) == (120, 30)
    assert "cli-secret-value" not in result.model_dump_json()


# ---- python --------------------------------------------------------------------------------------------------


async def test_python_entry_point_runs_measured(data_dir: Path) -> None:
    inp = task("python", config={"callable": "word-count"},
               requirements={"files": {"a.txt": "one two three", "docs/b.md": "four five"}})  # fmt: skip
    env = ActivityEnvironment()
    beats: list[Any] = []
    env.on_heartbeat = lambda *details: beats.append(details[0])
    result: TaskResult = await env.run(execute_task, inp)
    assert result.success and result.exit_code == 0, result.output
    assert result.output.startswith("5 words in 2 source(s)")
    assert result.files_created == ["word_count.json"]
    assert json.loads((workspace_of(inp) / "word_count.json").read_text())["total"] == 5
    assert result.cpu_time_s is not None and result.cpu_time_s > 0
    assert result.memory_peak_mb is not None and result.memory_peak_mb > 0
    assert beats[-1]["progress"] == 1.0 and any(0 < b["progress"] < 1 for b in beats)


async def test_python_callable_failure_is_reported(data_dir: Path) -> None:
    result = await execute(task("python", config={"callable": "word-count"},
                                requirements={"paths": ["missing.txt"]}))  # fmt: skip
    assert not result.success and result.exit_code == 1
    assert result.error is not None and result.error.startswith("FileNotFoundError")
    assert "Traceback" in result.output
