"""Warm sandboxes (activities/warm_sandboxes.py): a run's next step finds its sandbox started, and sees exactly what
a cold one would — its own PID namespace, /tmp and environment, the run's workspace, the sandbox's uid — while
a sandbox nobody takes is killed."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from activities import warm_sandboxes
from activities.command import run_command
from activities.sandbox import helper_path
from core.settings import get_settings, reset_settings
from tests.test_action_execute_command import failure_of, make_request

pytestmark = [
    pytest.mark.database("sqlite", reason="the command activity on its own: no database"),
    pytest.mark.skipif(warm_sandboxes.wait_path() is None or helper_path() is None or os.geteuid() != 0,
                       reason="needs `make` (stellarflow-sandbox-exec and -wait) and root for the sandbox's uid"),
]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("STELLARFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("STELLARFLOW_SANDBOX_PREWARM", raising=False)
    reset_settings()
    assert get_settings().sandbox_mode == "bwrap"
    yield tmp_path / "data"
    reset_settings()


def _ready(run_id: str) -> warm_sandboxes.Warm:
    """The sandbox the run's last step started for its next one (bubblewrap may still be setting it up)."""
    [warm] = [w for w in warm_sandboxes._ready.values() if w.base.workspace.name == run_id]
    return warm


async def _shell(script: str, *, run_id: str = "run-warm1", env: dict[str, str] | None = None) -> dict:
    result = await run_command(make_request({"command": script}, run_id=run_id, env=env or {}))
    await asyncio.sleep(0.01)  # the next sandbox starts once the step's result is on its way
    return result.outputs


async def test_the_next_step_runs_in_a_sandbox_started_ahead_and_sees_what_a_cold_one_sees(data_dir: Path) -> None:
    first = await _shell("echo mine > /tmp/private; echo ran > marker; sleep 30 & id -u; echo $FIRST_ONLY",
                         env={"FIRST_ONLY": "one"})
    _ready("run-warm1")
    taken = warm_sandboxes.counts["taken"]
    failure = await failure_of(make_request(
        {"command": 'echo "tmp:$(ls -A /tmp | tr "\\n" " ")"; cat marker; ls /proc | grep -c "^[0-9]"; id -u; '
                    'echo "[$FIRST_ONLY]" $SECOND; echo answer=42 >> "$STELLARFLOW_OUTPUT"; pwd; echo oops >&2; '
                    'exit 3'},
        run_id="run-warm1", env={"SECOND": "two"}))
    assert warm_sandboxes.counts["taken"] == taken + 1, "the second step did not use the warm sandbox"
    outputs = failure.details[0]
    lines = outputs["stdout"].splitlines()
    workspace = get_settings().workspaces_dir / "run-warm1"
    # its own /tmp (the first step's file is not there; a checkout or data dir under /tmp is bound back in, as for
    # any sandbox), the run's workspace, only its own processes (its init, sh, ls, grep: the first step's
    # background sleep is gone), the same uid, its own environment and no other step's, its own output file,
    # its exit code and stderr
    assert lines[0].startswith("tmp:") and "private" not in lines[0], lines
    assert lines[1] == "ran", lines
    assert int(lines[2]) <= 5, lines
    assert lines[3] == first["stdout"].splitlines()[0] != "0", (lines, first["stdout"])
    assert lines[4] == "[] two", lines
    assert lines[5] == str(workspace), lines
    assert outputs["exitCode"] == 3 and outputs["stderr"] == "oops\n"
    assert outputs.get("answer") == "42", outputs


async def test_a_warm_sandbox_nobody_takes_is_killed(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warm_sandboxes, "IDLE_S", 0.3)
    await _shell("true", run_id="run-warm2")
    warm = _ready("run-warm2")
    pid, output = warm.transport.get_pid(), warm.output
    assert output.exists()
    deadline = time.monotonic() + 5
    while (Path(f"/proc/{pid}").exists() or output.exists()) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists() and not output.exists()
    assert warm.base not in warm_sandboxes._ready


async def test_switched_off_every_step_starts_cold(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STELLARFLOW_SANDBOX_PREWARM", "false")
    reset_settings()
    started = warm_sandboxes.counts["started"]
    await _shell("true", run_id="run-warm3")
    await asyncio.sleep(0.1)
    assert warm_sandboxes.counts["started"] == started
    assert not any(w.base.workspace.name == "run-warm3" for w in warm_sandboxes._ready.values())


async def test_with_the_most_ready_the_oldest_makes_way(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warm_sandboxes, "MAX_WARM", 2)
    for run_id in ("run-warm4", "run-warm5", "run-warm6"):
        await _shell("true", run_id=run_id)
    ready = {w.base.workspace.name for w in warm_sandboxes._ready.values()}
    assert {"run-warm5", "run-warm6"} <= ready and "run-warm4" not in ready and len(warm_sandboxes._ready) <= 2
