"""execute-command against real processes: what a command sees, where it runs, what it returns, and that
timeouts and cancellations leave no process behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError

import activities.command as command_module
from activities.command import run_command
from core.dsl.templating import render
from core.pipelines.contracts import ActionRequest
from core.settings import get_settings, reset_settings
from tests.processes import pids_running, wait_running

pytestmark = pytest.mark.database("sqlite", reason="the command activity on its own: no database")

ROOT = Path(__file__).resolve().parents[1]
TAIL = 1024


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data dir (so fresh workspaces) and a small output tail, for this test only."""
    monkeypatch.setenv("STELLARFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STELLARFLOW_OUTPUT_TAIL_BYTES", str(TAIL))
    reset_settings()
    yield tmp_path / "data"
    reset_settings()


def make_request(parameters: dict[str, Any], *, run_id: str = "run-1", **fields: Any) -> ActionRequest:
    return ActionRequest(run_id=run_id, step_id="step", action="execute-command", parameters=parameters, **fields)


async def failure_of(req: ActionRequest) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        await run_command(req)
    return info.value


def alive(pid: int) -> bool:
    """Running, not a zombie: orphans reparented to a non-reaping init stay zombies but are dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


async def wait_gone(pid: int, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        await asyncio.sleep(0.02)
    return False


async def wait_for_file(path: Path, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


async def test_shell_string_runs_under_sh(data_dir: Path) -> None:
    result = await run_command(make_request({"command": "echo $((1 + 2)) | tr 3 x; echo oops >&2"}))
    assert result.outputs["stdout"] == "x\n"
    assert result.outputs["stderr"] == "oops\n"
    assert result.outputs["exitCode"] == 0
    assert result.outputs["truncated"] is False
    assert isinstance(result.outputs["durationMs"], int)
    assert result.attempt == 1


async def test_argv_list_is_not_shell_syntax(data_dir: Path) -> None:
    argv = ["printf", "%s|", "a b", "$HOME", "; echo injected", "`id`"]
    result = await run_command(make_request({"command": argv}))
    assert result.outputs["stdout"] == "a b|$HOME|; echo injected|`id`|"


async def test_templated_value_stays_data_in_a_shell_string(data_dir: Path) -> None:
    """The workflow renders shell strings with shell-quoting; the quoted value must reach the command as
    one literal argument, never as syntax."""
    evil = 'x\'; touch pwned; echo "$(touch pwned2)" `touch pwned3` $HOME'
    command = render("printf '%s' {{ value }}", {"value": evil}, shell=True)
    result = await run_command(make_request({"command": command}))
    assert result.outputs["stdout"] == evil
    workspace = get_settings().workspaces_dir / "run-1"
    assert not any(workspace.glob("pwned*"))


async def test_environment_is_an_allowlist(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STELLARFLOW_TEST_SECRET", "hunter2-do-not-leak")
    monkeypatch.setenv("DATABASE_URL", get_settings().db_url)  # the real secret-bearing name, harmless value
    monkeypatch.setenv("LC_TESTVALUE", "kept")
    req = make_request(
        {"command": ["env"], "env": {"FROM_PARAMS": "p", "SHARED": "params wins"}},
        env={"FROM_DEFINITION": "d", "SHARED": "definition"},
    )
    result = await run_command(req)
    seen = dict(line.split("=", 1) for line in result.outputs["stdout"].splitlines() if "=" in line)
    assert "STELLARFLOW_TEST_SECRET" not in seen
    assert "DATABASE_URL" not in seen
    assert "hunter2-do-not-leak" not in result.outputs["stdout"]
    assert seen["LC_TESTVALUE"] == "kept"
    assert seen["PATH"].split(os.pathsep)[0] == str(Path(sys.prefix) / "bin")
    assert seen["FROM_DEFINITION"] == "d"
    assert seen["FROM_PARAMS"] == "p"
    assert seen["SHARED"] == "params wins"
    workspace = get_settings().workspaces_dir / "run-1"
    assert seen["STELLARFLOW_RUN_ID"] == "run-1"
    assert seen["STELLARFLOW_STEP_ID"] == "step"
    assert seen["STELLARFLOW_WORKSPACE"] == str(workspace)
    assert seen["STELLARFLOW_OUTPUT"]


async def test_venv_tools_are_on_path(data_dir: Path) -> None:
    result = await run_command(make_request({"command": "command -v ruff"}))
    assert result.outputs["stdout"].strip() == str(Path(sys.prefix) / "bin" / "ruff")


async def test_each_run_has_its_own_workspace(data_dir: Path) -> None:
    first = await run_command(make_request({"command": "pwd; echo data > artifact.txt"}, run_id="run-a"))
    workspace_a = get_settings().workspaces_dir / "run-a"
    assert first.outputs["stdout"].strip() == str(workspace_a)
    assert (workspace_a / "artifact.txt").read_text() == "data\n"

    again = await run_command(make_request({"command": "cat artifact.txt"}, run_id="run-a"))
    assert again.outputs["stdout"] == "data\n"
    other = await failure_of(make_request({"command": "cat artifact.txt"}, run_id="run-b"))
    assert other.details[0]["exitCode"] != 0

    nested = await run_command(make_request({"command": "pwd", "workingDirectory": "src/app"}, run_id="run-a"))
    assert nested.outputs["stdout"].strip() == str(workspace_a / "src" / "app")


@pytest.mark.parametrize("where", ["..", "../run-b", "a/../../x", "/etc", "link/inside"])
async def test_working_directory_cannot_leave_the_workspace(data_dir: Path, tmp_path: Path, where: str) -> None:
    workspace = get_settings().workspaces_dir / "run-a"
    workspace.mkdir(parents=True)
    (workspace / "link").symlink_to(tmp_path)
    err = await failure_of(make_request({"command": "pwd", "workingDirectory": where}, run_id="run-a"))
    assert err.type == "InvalidParameters"
    assert err.non_retryable
    assert "workingDirectory" in err.message


async def test_run_id_cannot_name_another_directory(data_dir: Path) -> None:
    err = await failure_of(make_request({"command": "true"}, run_id="../escape"))
    assert err.type == "InvalidParameters"


async def test_output_file_lines_become_outputs(data_dir: Path) -> None:
    script = (
        'echo "version=1.2.3" >> "$STELLARFLOW_OUTPUT"\n'
        'echo "url=http://x/?a=b" >> "$STELLARFLOW_OUTPUT"\n'
        'echo "stdout=hijacked" >> "$STELLARFLOW_OUTPUT"\n'
        'printf "notes<<EOF\\nline one\\nline two\\nEOF\\n" >> "$STELLARFLOW_OUTPUT"\n'
        "echo real"
    )
    result = await run_command(make_request({"command": script}))
    assert result.outputs["version"] == "1.2.3"
    assert result.outputs["url"] == "http://x/?a=b"
    assert result.outputs["notes"] == "line one\nline two"
    assert result.outputs["stdout"] == "real\n"
    assert any("stdout" in warning for warning in result.warnings)


async def test_output_is_a_bounded_tail_of_both_streams(data_dir: Path) -> None:
    """200 KB on each stream, interleaved: more than a pipe buffer, so both must drain concurrently."""
    code = (
        "import sys\n"
        "for i in range(200):\n"
        "    sys.stdout.write('o' * 1023 + '\\n'); sys.stderr.write('e' * 1023 + '\\n')\n"
        "sys.stdout.write('END-OUT'); sys.stderr.write('END-ERR')\n"
    )
    result = await run_command(make_request({"command": [sys.executable, "-c", code]}))
    out = result.outputs
    assert out["stdoutBytes"] == 200 * 1024 + len("END-OUT")
    assert out["stderrBytes"] == 200 * 1024 + len("END-ERR")
    assert len(out["stdout"].encode()) == TAIL and out["stdout"].endswith("END-OUT")
    assert len(out["stderr"].encode()) == TAIL and out["stderr"].endswith("END-ERR")
    assert out["truncated"] is True


@pytest.mark.parametrize("retry_failures", [False, True])
async def test_non_zero_exit_fails_the_step(data_dir: Path, retry_failures: bool) -> None:
    err = await failure_of(
        make_request({"command": "echo partial; echo broken >&2; exit 3"}, retry_failures=retry_failures)
    )
    assert err.type == "StepFailed"
    assert err.message == "command exited with code 3"
    outputs = err.details[0]
    assert outputs["exitCode"] == 3
    assert outputs["stdout"] == "partial\n"
    assert outputs["stderr"] == "broken\n"
    assert err.details[1] == {"attempt": 1}
    assert err.non_retryable is (not retry_failures)


async def test_missing_program_fails_cleanly(data_dir: Path) -> None:
    err = await failure_of(make_request({"command": ["definitely-not-a-program-xyz"]}))
    assert err.type == "StepFailed"
    assert err.details[0]["exitCode"] == 127
    assert "could not start" in err.message


async def test_invalid_parameters_do_not_echo_values(data_dir: Path) -> None:
    err = await failure_of(make_request({"command": "true", "bogus": "s3cret-value"}))
    assert err.type == "InvalidParameters" and err.non_retryable
    assert "bogus" in err.message and "s3cret-value" not in err.message
    err = await failure_of(make_request({"command": []}))
    assert err.type == "InvalidParameters"


async def test_timeout_kills_the_whole_process_group(data_dir: Path) -> None:
    script = "sleep 30.101 & echo started; wait"
    started = time.monotonic()
    task = asyncio.create_task(failure_of(make_request({"command": script, "timeout": "700ms"})))
    processes = [*await wait_running("sleep 30.101"), *await wait_running(f"/bin/sh -c {script}")]
    err = await task
    assert time.monotonic() - started < 3.0
    assert err.type == "StepFailed"
    assert err.message == "command timed out after 0.7s"
    assert err.details[0]["timedOut"] is True
    assert err.details[0]["stdout"] == "started\n"
    for pid in processes:
        assert await wait_gone(pid), f"{pid} survived the timeout"


async def test_timeout_escalates_to_sigkill(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A group that ignores SIGTERM is SIGKILLed after the grace period (shortened here)."""
    monkeypatch.setattr(command_module, "KILL_GRACE_S", 0.3)
    script = "trap '' TERM; sleep 30.102 & wait"
    task = asyncio.create_task(failure_of(make_request({"command": script, "timeout": "300ms"})))
    processes = await wait_running("sleep 30.102")
    err = await task
    assert err.details[0]["timedOut"] is True
    for pid in processes:
        assert await wait_gone(pid)


async def test_sigterm_comes_first_and_the_command_may_clean_up(data_dir: Path) -> None:
    """The grace period is real inside the sandbox too: the command gets SIGTERM (bwrap, which would take the
    whole sandbox down at once, does not) and its trap runs before the step ends."""
    script = "trap 'echo cleaned > cleanup.txt; exit 0' TERM; echo ready; sleep 30.103 & wait"
    err = await failure_of(make_request({"command": script, "timeout": "500ms"}))
    assert err.details[0]["timedOut"] is True
    assert (get_settings().workspaces_dir / "run-1" / "cleanup.txt").read_text() == "cleaned\n"
    assert not pids_running("sleep 30.103")


async def test_cancellation_kills_the_whole_process_group(data_dir: Path) -> None:
    script = "sleep 30.104 & wait"
    task = asyncio.create_task(run_command(make_request({"command": script})))
    grandchild = await wait_running("sleep 30.104")
    shell = await wait_running(f"/bin/sh -c {script}")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for pid in [*grandchild, *shell]:
        assert await wait_gone(pid)


async def test_cancellation_while_spawning_kills_the_group(data_dir: Path) -> None:
    """Cancelled before the spawn finished (the process already runs): no waiting on a grandchild."""
    marker = "31.4159"
    task = asyncio.create_task(run_command(make_request({"command": f"sleep {marker} & wait"})))
    await asyncio.sleep(0)  # the task runs up to its first suspension: inside the spawn
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 3.0
    deadline = time.monotonic() + 3.0
    while (survivors := pids_running(f"sleep {marker}")) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert not survivors


async def test_command_dies_with_its_worker(data_dir: Path) -> None:
    """A worker killed with SIGKILL (no cleanup possible) takes its command with it: bwrap dies with its parent
    (PR_SET_PDEATHSIG), and with it the sandbox's PID namespace, background processes included."""
    script = (
        "import asyncio\n"
        "from activities.command import run_command\n"
        "from core.pipelines.contracts import ActionRequest\n"
        "asyncio.run(run_command(ActionRequest(run_id='r', step_id='s', action='execute-command',\n"
        "    parameters={'command': 'sleep 30.105 & exec sleep 30.106'})))\n"
    )
    worker = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=dict(os.environ))
    try:
        children = [*await wait_running("sleep 30.105", 15), *await wait_running("sleep 30.106", 15)]
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=5)
        for child in children:
            assert await wait_gone(child)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
