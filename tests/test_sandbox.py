"""Escape attempts against the sandbox (activities/sandbox.py), with real processes and real bubblewrap: from an
`execute-command` step and from a shell-executor task, a command tries to read the server's secrets, the database,
the worker's environment and another run's files, to write outside its workspace, to fork and allocate without
bound, and to reach the network when its step said `network: none`. Every attempt must fail, and ordinary work
(files in the workspace, step outputs, measured figures) must go on working."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import stat
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError

from activities import sandbox as sandbox_module
from activities.command import run_command
from activities.executors.activities import execute
from activities.sandbox import preflight, uid_for
from core.agents.contracts import ExecuteTaskInput
from core.agents.models import TaskResult
from core.auth.bootstrap import bootstrap
from core.datadir import secure
from core.dsl.validate import DefinitionError, parse_definition
from core.pipelines.contracts import ActionRequest
from core.settings import get_settings, reset_settings

PY = sys.executable
WORKER_SECRET = "worker-env-secret-4f0c2b9e"  # in the worker's own environment, never allowlisted

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not get_settings().sandbox_mode == "bwrap",
                                reason="the escape tests need bubblewrap and a root worker")  # fmt: skip


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, fully bootstrapped data dir: server secret, CLI key and database all really there (a SQLite file
    on both halves of the suite: what is tested is that its bytes stay out of reach, not the database's kind)."""
    monkeypatch.setenv("STELLARFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("STELLARFLOW_WORKER_SECRET_FOR_TEST", WORKER_SECRET)
    for name in ("SANDBOX", "ALLOW_UNSANDBOXED", "SANDBOX_NETWORK", "AGENT_CLI_COMMAND"):
        monkeypatch.delenv(f"STELLARFLOW_{name}", raising=False)
    reset_settings()
    try:
        bootstrap(get_settings())
        data = tmp_path / "data"
        assert {"jwt.secret", "cli.key", "stellarflow.db"} <= {p.name for p in data.iterdir()}
        yield data
    finally:
        monkeypatch.undo()
        reset_settings()


def secrets_of(data_dir: Path) -> list[str]:
    """What must never show up in a command's output: the secret, the key, and bytes of the database."""
    database = (data_dir / "stellarflow.db").read_bytes()
    return [(data_dir / "jwt.secret").read_text().strip(), (data_dir / "cli.key").read_text().strip(),
            database[:16].decode("latin-1"), WORKER_SECRET]  # fmt: skip


def step(command: str | list[str], *, run_id: str = "run-sandbox", sandbox: dict[str, Any] | None = None,
         **parameters: Any) -> ActionRequest:  # fmt: skip
    return ActionRequest(run_id=run_id, step_id="step", action="execute-command",
                         parameters={"command": command, **parameters}, sandbox=sandbox)  # fmt: skip


async def outcome(req: ActionRequest) -> dict[str, Any]:
    """The step's outputs, whether it succeeded or failed."""
    try:
        return (await run_command(req)).outputs
    except ApplicationError as err:
        assert err.type == "StepFailed", err
        return err.details[0]


async def task_result(command: str, *, config: dict[str, Any] | None = None, **requirements: Any) -> TaskResult:
    inp = ExecuteTaskInput(executor="shell", task_id=f"task-{uuid.uuid4().hex[:8]}", agent_id="agent-sb",
                           requirements={"command": command, **requirements}, config=config or {},
                           workspace="")  # fmt: skip
    return await execute(inp)


def attempts(data_dir: Path, other_workspace: Path) -> str:
    """One shell script trying every read and write the sandbox must stop; it reports `<target> <exit code>`."""
    db = data_dir / "stellarflow.db"
    reads = [data_dir / "jwt.secret", data_dir / "cli.key", db, Path(f"{db}-wal"),
             Path(f"/proc/{os.getpid()}/environ"), other_workspace / "private.txt"]  # fmt: skip
    writes = [data_dir / "pwned", Path("/etc/pwned"), Path("/usr/pwned"), other_workspace / "pwned",
              other_workspace.parent / "pwned"]  # fmt: skip
    lines = [f"cat {path} >/dev/null 2>&1; echo read {path} $?; cat {path} 2>/dev/null" for path in reads]
    lines += [f"echo x > {path} 2>/dev/null; echo write {path} $?" for path in writes]
    lines += ["cat /proc/*/environ 2>/dev/null", f"ls {data_dir} {other_workspace.parent} 2>&1", "true"]
    return "\n".join(lines)


def assert_all_refused(output: str, data_dir: Path, other_workspace: Path) -> None:
    for secret in secrets_of(data_dir):
        assert secret not in output, f"leaked {secret!r}"
    results = [line.split() for line in output.splitlines() if line.startswith(("read ", "write "))]
    assert len(results) == 11, output
    assert all(code != "0" for _what, _path, code in results), output
    for path in (data_dir / "pwned", Path("/etc/pwned"), Path("/usr/pwned"), other_workspace / "pwned",
                 other_workspace.parent / "pwned"):  # fmt: skip
        assert not path.exists(), path
    assert (other_workspace / "private.txt").read_text() == "other run's data\n"


# ---- escapes from an execute-command step ---------------------------------------------------------------------


async def test_a_step_cannot_read_secrets_other_runs_or_the_worker(data_dir: Path) -> None:
    other = await run_command(step("echo \"other run's data\" > private.txt", run_id="run-other"))
    assert other.outputs["exitCode"] == 0
    other_workspace = get_settings().workspaces_dir / "run-other"
    outputs = await outcome(step(attempts(data_dir, other_workspace)))
    assert_all_refused(outputs["stdout"] + outputs["stderr"], data_dir, other_workspace)


async def test_a_step_runs_unprivileged_alone_and_sees_only_its_workspace(data_dir: Path) -> None:
    host_tmp = Path("/tmp") / f"host-only-{uuid.uuid4().hex}"
    host_tmp.touch()
    script = ("id -u; id -G; grep NoNewPrivs /proc/self/status; ls /proc | grep -c '^[0-9]'; ls -A /tmp | xargs; "
              "cat /etc/shadow >/dev/null 2>&1 || echo no-shadow; echo $HOME; "
              'echo "answer=42" >> "$STELLARFLOW_OUTPUT"; echo made > made.txt')  # fmt: skip
    result = await run_command(step(script))
    uid, groups, no_new_privs, processes, tmp_listing, shadow, home = result.outputs["stdout"].splitlines()[:7]
    workspace = get_settings().workspaces_dir / "run-sandbox"
    assert int(uid) == uid_for(workspace, get_settings()) and int(uid) >= get_settings().sandbox_uid_base
    assert groups == uid  # no supplementary groups: nothing of root's
    assert no_new_privs.split() == ["NoNewPrivs:", "1"]  # setuid programs (su, sudo...) gain nothing
    assert int(processes) <= 4  # its own PID namespace: bwrap's init, the shell, ls, grep
    assert host_tmp.name not in tmp_listing  # a private /tmp
    host_tmp.unlink()
    assert shadow == "no-shadow" and home == "/tmp"
    assert result.outputs["answer"] == "42"  # step outputs still work
    made = workspace / "made.txt"
    assert made.read_text() == "made\n" and made.stat().st_uid == int(uid)
    assert stat.S_IMODE(workspace.stat().st_mode) == 0o700


async def test_dev_offers_only_what_any_unprivileged_user_may_use(data_dir: Path, monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:  # fmt: skip
    host_shm = Path("/dev/shm") / f"host-only-{uuid.uuid4().hex}"
    host_shm.touch()
    script = ("echo x > /dev/null && echo null-ok; head -c 4 /dev/urandom | wc -c; touch /dev/planted 2>/dev/null "
              "|| echo no-create; ls -A /dev/pts | wc -l; ls -A /dev/shm; touch /dev/shm/mine && echo shm-ok; "
              f"{PY} -c \"import os; os.open('/dev/ptmx', os.O_RDWR)\" 2>/dev/null || echo no-pty; ls /dev | wc -l")
    try:
        lines = (await run_command(step(script))).outputs["stdout"].splitlines()
        assert lines[:7] == ["null-ok", "4", "no-create", "0", "shm-ok", "no-pty", lines[6]], lines
        assert not Path("/dev/planted").exists() and not Path("/dev/shm/mine").exists()
        monkeypatch.setenv("STELLARFLOW_SANDBOX_PRIVATE_DEV", "true")  # bwrap's own minimal /dev
        reset_settings()
        private = (await run_command(step(script))).outputs["stdout"].splitlines()
        assert private[:2] == ["null-ok", "4"] and int(private[-1]) < 20 < int(lines[-1]), (private, lines)
    finally:
        host_shm.unlink()


async def test_a_missing_working_directory_belongs_to_the_step(data_dir: Path) -> None:
    result = await run_command(step("pwd; touch here", workingDirectory="build/out"))
    workspace = get_settings().workspaces_dir / "run-sandbox"
    assert result.outputs["stdout"].strip() == str(workspace / "build" / "out")
    assert (workspace / "build" / "out" / "here").stat().st_uid == uid_for(workspace, get_settings())


async def test_a_fork_bomb_is_stopped_by_the_process_limit(data_dir: Path) -> None:
    """First a bounded one (forks until the kernel refuses, at most 2,000): it must hit the limit; then the
    classic shell bomb, under a short timeout, while the test counts the sandbox user's processes on the host."""
    counting = (
        "import os, time\n"
        "children = 0\n"
        "for _ in range(2000):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError as err:\n"
        "        print('refused after', children, err.strerror); break\n"
        "    if pid == 0:\n"
        "        time.sleep(30); os._exit(0)\n"
        "    children += 1\n"
    )
    limits = {"limits": {"processes": 40}}
    result = await run_command(step([PY, "-c", counting], sandbox=limits))
    words = result.outputs["stdout"].split()
    assert words[:2] == ["refused", "after"] and int(words[2]) < 40, result.outputs

    uid = uid_for(get_settings().workspaces_dir / "run-sandbox", get_settings())
    peak = 0

    async def count() -> None:
        nonlocal peak
        while True:
            peak = max(peak, await asyncio.to_thread(processes_of, uid))
            await asyncio.sleep(0.02)

    counter = asyncio.create_task(count())
    try:
        bomb = await outcome(step("b() { b | b & }; b; sleep 2", sandbox=limits, timeout="4s"))
    finally:
        counter.cancel()
    assert bomb["exitCode"] == 0 or bomb.get("timedOut"), bomb
    assert "Cannot fork" in bomb["stderr"]
    assert 0 < peak <= 40, peak
    assert processes_of(uid) == 0  # and nothing of it outlived the step


def processes_of(uid: int) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            line = next((line for line in status.splitlines() if line.startswith("Uid:")), "")
            if line.split()[1:2] == [str(uid)] and "\nState:\tZ" not in status:
                count += 1
    return count


async def test_a_memory_hog_is_stopped_by_the_memory_limit(data_dir: Path) -> None:
    hog = [PY, "-c", "b = bytearray(1024 * 1024 * 1024); print('allocated', len(b))"]
    limited = await outcome(step(hog, sandbox={"limits": {"memoryMB": 256}}))
    assert limited["exitCode"] != 0 and "MemoryError" in limited["stderr"], limited
    unlimited = await run_command(step(hog))  # the default (8 GiB of address space) lets it through
    assert unlimited.outputs["stdout"].startswith("allocated")


async def test_cpu_time_and_file_size_limits(data_dir: Path) -> None:
    spin = await outcome(step([PY, "-c", "while True: pass"], sandbox={"limits": {"cpuSeconds": 1}}, timeout="20s"))
    assert spin["exitCode"] == 128 + signal.SIGXCPU and not spin.get("timedOut"), spin  # as bwrap reports a signal
    assert spin["durationMs"] < 10_000
    big = await outcome(step("head -c 3000000 /dev/zero > big.bin", sandbox={"limits": {"fileSizeMB": 1}}))
    assert big["exitCode"] != 0
    assert (get_settings().workspaces_dir / "run-sandbox" / "big.bin").stat().st_size <= 1024 * 1024


async def test_network_none_means_no_network_and_the_default_has_it(data_dir: Path) -> None:
    connections = 0

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.write(b"hello\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    probe = [PY, "-c", f"import socket; s = socket.create_connection(('127.0.0.1', {port}), timeout=3); "
                       "print(s.recv(16).decode().strip())"]  # fmt: skip
    shell_probe = shlex.join(probe)
    try:
        isolated = await outcome(step(probe, sandbox={"network": "none"}))
        assert isolated["exitCode"] != 0 and "ConnectionRefused" in isolated["stderr"], isolated
        assert connections == 0
        connected = await run_command(step(probe))
        assert connected.outputs["stdout"] == "hello\n" and connections == 1

        task = await task_result(shell_probe, config={"sandbox": {"network": "none"}})
        assert not task.success and connections == 1
        loosened = await task_result(shell_probe, config={"sandbox": {"network": "none"}},
                                     sandbox={"network": "on"})  # a task cannot give back what its agent took
        assert not loosened.success and connections == 1
        assert (await task_result(shell_probe)).success and connections == 2
    finally:
        server.close()
        await server.wait_closed()


async def test_limits_above_the_operators_maximum_are_refused(data_dir: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:  # fmt: skip
    with pytest.raises(ApplicationError) as info:
        await run_command(step("true", sandbox={"limits": {"memoryMB": 10_000_000}}))
    assert info.value.type == "InvalidParameters" and info.value.non_retryable
    assert "memoryMB" in info.value.message and "65536" in info.value.message
    with pytest.raises(ApplicationError) as info:
        await task_result("true", config={"sandbox": {"limits": {"processes": 100_000}}})
    assert info.value.type == "InvalidParameters" and "config.sandbox.limits.processes" in info.value.message

    monkeypatch.setenv("STELLARFLOW_SANDBOX_NETWORK", "none")
    reset_settings()
    with pytest.raises(ApplicationError) as info:
        await run_command(step("true", sandbox={"network": "on"}))
    assert "STELLARFLOW_SANDBOX_NETWORK=none" in info.value.message


def test_a_definition_asking_more_than_the_server_allows_is_refused_when_saved(monkeypatch: pytest.MonkeyPatch
                                                                                ) -> None:  # fmt: skip
    def definition(sandbox: dict[str, Any]) -> dict[str, Any]:
        return {"name": "greedy", "steps": [{"id": "build", "action": "execute-command",
                                             "parameters": {"command": "make"}, "sandbox": sandbox}]}  # fmt: skip

    parsed = parse_definition(definition({"network": "none", "limits": {"cpuSeconds": 60, "memoryMB": 512}}))
    assert parsed.steps[0].sandbox is not None and parsed.steps[0].sandbox.limits.memory_mb == 512
    with pytest.raises(DefinitionError) as info:
        parse_definition(definition({"limits": {"memoryMB": 10_000_000, "processes": 4}}))
    [issue] = info.value.issues
    assert issue.field == "steps[0].sandbox.limits.memoryMB" and "65536" in issue.message
    with pytest.raises(DefinitionError):
        parse_definition(definition({"limits": {"threads": 4}}))  # a typo is not silently ignored
    monkeypatch.setenv("STELLARFLOW_SANDBOX_NETWORK", "none")
    reset_settings()
    try:
        with pytest.raises(DefinitionError, match="STELLARFLOW_SANDBOX_NETWORK=none"):
            parse_definition(definition({"network": "on"}))
    finally:
        monkeypatch.delenv("STELLARFLOW_SANDBOX_NETWORK")
        reset_settings()


# ---- escapes from a shell-executor task -----------------------------------------------------------------------


async def test_a_shell_task_cannot_read_secrets_other_workspaces_or_the_worker(data_dir: Path) -> None:
    other = await task_result("echo \"other run's data\" > private.txt")
    assert other.success
    [other_workspace] = [p.parent for p in get_settings().workspaces_dir.glob("agent-sb/*/private.txt")]
    result = await task_result(attempts(data_dir, other_workspace))
    assert_all_refused(result.output, data_dir, other_workspace)


async def test_a_shell_task_is_limited_and_still_measured(data_dir: Path) -> None:
    hog = f"{PY} -c 'b = bytearray(1024 * 1024 * 1024)'"
    limited = await task_result(hog, config={"sandbox": {"limits": {"memoryMB": 300}}})
    assert not limited.success and "MemoryError" in limited.output
    busy = f"{PY} -c 'b = bytearray(80 * 1024 * 1024)\nx = 0\nfor i in range(3_000_000): x += i' && echo ok"
    measured = await task_result(busy, sandbox={"limits": {"memoryMB": 1024}})
    assert measured.success and measured.files_created == []
    assert measured.cpu_time_s is not None and measured.cpu_time_s > 0.1
    assert measured.memory_peak_mb is not None and 80 < measured.memory_peak_mb < 200  # the task, not bwrap


async def test_the_worker_reads_no_report_through_a_planted_symlink(data_dir: Path, tmp_path: Path) -> None:
    """The worker reads the test command's reports as root: a report path the command replaced by a symlink to a
    file only root may read must not be followed."""
    private = tmp_path / "root-only.json"
    private.write_text('{"totals": {"percent_covered": 42.0}}')
    private.chmod(0o600)
    planted = f'ln -sf {private} "$STELLARFLOW_COVERAGE_JSON"; ln -sf {private} "$STELLARFLOW_JUNIT_XML"'
    result = await task_result("true", test_command=planted)
    assert result.success and result.coverage is None


# ---- without a sandbox ----------------------------------------------------------------------------------------


async def test_without_a_sandbox_untrusted_work_is_refused(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STELLARFLOW_SANDBOX", "none")
    reset_settings()
    for attempt in (run_command(step("id")), task_result("id")):
        with pytest.raises(ApplicationError) as info:
            await attempt
        assert info.value.type == "SandboxUnavailable" and info.value.non_retryable
        assert "STELLARFLOW_ALLOW_UNSANDBOXED" in info.value.message
    assert not (get_settings().workspaces_dir / "agent-sb").exists()  # refused before touching the disk
    assert "refuses" in preflight()

    monkeypatch.setenv("STELLARFLOW_ALLOW_UNSANDBOXED", "true")
    reset_settings()
    assert (await run_command(step("id -u"))).outputs["stdout"] == "0\n"  # the operator's explicit choice
    assert "UNSANDBOXED" in preflight()


async def test_bwrap_configured_but_missing_fails_clearly(data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:  # fmt: skip
    monkeypatch.setenv("STELLARFLOW_SANDBOX", "bwrap")
    monkeypatch.setenv("PATH", str(tmp_path))
    reset_settings()
    with pytest.raises(ApplicationError) as info:
        await run_command(step("true"))
    assert info.value.type == "SandboxUnavailable" and "bwrap" in info.value.message
    with pytest.raises(RuntimeError, match="not on PATH"):
        preflight()


async def test_without_the_helper_setpriv_and_prlimit_do_the_same(data_dir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(sandbox_module, "helper_path", lambda: None)
    script = "id -u; grep NoNewPrivs /proc/self/status; grep 'Max processes' /proc/self/limits | awk '{print $3}'; pwd"
    result = await run_command(step(script, sandbox={"limits": {"processes": 33}}, workingDirectory="sub"))
    uid, no_new_privs, processes, cwd = result.outputs["stdout"].splitlines()
    workspace = get_settings().workspaces_dir / "run-sandbox"
    assert int(uid) == uid_for(workspace, get_settings())
    assert no_new_privs.split()[-1] == "1" and processes == "33" and cwd == str(workspace / "sub")
    assert "bubblewrap" in preflight() and "setpriv" in preflight()


def test_stellarflow_up_says_how_user_code_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:  # fmt: skip
    from cli.supervisor import _sandbox_line

    for name in ("SANDBOX", "ALLOW_UNSANDBOXED"):
        monkeypatch.delenv(f"STELLARFLOW_{name}", raising=False)
    reset_settings()
    assert _sandbox_line(get_settings()) and "sandboxed (bubblewrap)" in capsys.readouterr().out
    monkeypatch.setenv("STELLARFLOW_SANDBOX", "none")
    reset_settings()
    assert _sandbox_line(get_settings()) and "will refuse commands" in capsys.readouterr().err
    monkeypatch.setenv("STELLARFLOW_ALLOW_UNSANDBOXED", "true")
    reset_settings()
    assert _sandbox_line(get_settings()) and "warning: no sandbox" in capsys.readouterr().err
    monkeypatch.setenv("STELLARFLOW_SANDBOX", "bwrap")
    monkeypatch.setenv("PATH", str(tmp_path))
    reset_settings()
    assert not _sandbox_line(get_settings()) and "bwrap` is not on PATH" in capsys.readouterr().err
    reset_settings()


# ---- the data dir ---------------------------------------------------------------------------------------------


def test_data_dir_is_private_and_an_old_one_is_tightened(data_dir: Path) -> None:
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for name in ("jwt.secret", "cli.key", "stellarflow.db"):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
    os.chmod(data_dir, 0o755)
    os.chmod(data_dir / "cli.key", 0o644)
    os.chmod(data_dir / "stellarflow.db", 0o664)
    secure(get_settings())
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "cli.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / "stellarflow.db").stat().st_mode) == 0o600
    workspaces = get_settings().workspaces_dir
    assert not workspaces.is_relative_to(data_dir) and workspaces.name == "data-workspaces"


def test_a_checkout_under_tmp_is_bound_back_and_secrets_inside_it_stay_masked(tmp_path: Path) -> None:
    """The sandbox's /tmp is private, so a checkout (its venv, the helper) under /tmp is bound back read-only — and
    a data dir inside that checkout is masked after the bind, so the bind does not reveal it."""
    from activities.sandbox import _mask_plan

    checkout = tmp_path / "checkout"
    (checkout / ".stellarflow").mkdir(parents=True)
    (checkout / ".env").write_text("SECRET=1")
    args, roots, _ = _mask_plan(hidden=(checkout / ".stellarflow", checkout / ".env", tmp_path / "elsewhere"),
                                closed=(), reopened=(checkout,))
    joined = " ".join(args)
    bind = joined.index(f"--ro-bind {checkout} {checkout}")
    assert joined.index(f"--tmpfs {checkout / '.stellarflow'}") > bind
    assert joined.index(f"--ro-bind /dev/null {checkout / '.env'}") > bind
    assert str(tmp_path / "elsewhere") not in joined  # under the private /tmp and not bound back: invisible anyway
    assert str(checkout / ".stellarflow") in roots
