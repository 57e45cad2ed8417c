"""A worker killed mid-run resumes the run: the durability promise, against the real dev server.

The worker runs as a separate process on a dedicated task queue (the session's in-process worker polls
`stellarflow`, so it never sees this run). It is SIGKILLed while step 3 of a 5-step chain is running; a new
worker process takes over. Marker files the commands write in the run's workspace (the only place a sandboxed
command can write) prove what ran how often.

Where the ~17 s go (measured): the heartbeat timeout (2 s) and the retry backoff (1 s) before attempt 2 of
step 3 starts on the new worker, the step itself (STEP3_SLEEP_S), then the SDK's sticky-queue
schedule-to-start timeout (10 s): the next workflow task first goes to the dead worker's sticky queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from core.events.store import list_events
from core.pipelines.definitions import put_workflow
from core.pipelines.models import RunStatus, StepStatus
from core.pipelines.runs import get_run_row, start_run
from core.settings import get_settings
from tests.processes import WorkerProcess, pids_running
from tests.processes import lines as _lines
from tests.processes import running as _running
from tests.processes import wait_for as _wait_for
from tests.support import SERVICE
from workflows.pipeline import PipelineWorkflow

ROOT = Path(__file__).resolve().parents[1]
STEP3_SLEEP_S = 2  # long enough to kill the worker while step 3 runs, short enough for a fast test
TEST_BUDGET_S = 45  # a hang guard, not a benchmark: the test takes 17-22 s here, even next to other suites


BACKGROUND = "sleep 60.301"  # step 3's background job, found on the host by its arguments
FOREGROUND = f"sleep {STEP3_SLEEP_S}.001"


def _definition(local: bool = False) -> dict:
    def step(index: int, command: str) -> dict:
        body: dict = {"id": f"step{index}", "action": "execute-command", "parameters": {"command": command}}
        if local:
            body["local"] = True
        if index > 1:
            body["dependsOn"] = [f"step{index - 1}"]
        return body

    return {
        "name": "Worker crash",
        "steps": [
            step(1, "echo ran >> step1"),
            step(2, "echo ran >> step2"),
            step(3, f"echo started >> step3.started; {BACKGROUND} & {FOREGROUND}; echo ran >> step3"),
            step(4, "echo ran >> step4"),
            step(5, "echo ran >> step5"),
        ],
    }


async def test_killed_worker_resumes_run(temporal_env: WorkflowEnvironment, tmp_path: Path) -> None:
    await _killed_worker_resumes_run(temporal_env, tmp_path, local=False)


@pytest.mark.database("sqlite", reason="the fast path's durability does not depend on the database: the test above "
                                       "covers both")
async def test_killed_worker_resumes_a_run_of_local_steps(temporal_env: WorkflowEnvironment, tmp_path: Path) -> None:
    """With `local: true` (the fast path) the steps run inside the workflow task: those that finished in the task
    the crash interrupted had no recorded result yet, so they run again on the new worker (at least once, as the
    DSL documents); the run still finishes once, with one event per transition."""
    await _killed_worker_resumes_run(temporal_env, tmp_path, local=True)


async def _killed_worker_resumes_run(temporal_env: WorkflowEnvironment, tmp_path: Path, *, local: bool) -> None:
    began = time.monotonic()
    queue = f"crash-{uuid.uuid4().hex[:10]}"
    worker_env = {
        **os.environ,
        "STELLARFLOW_TASK_QUEUE": queue,
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "STELLARFLOW_TEMPORAL_NAMESPACE": temporal_env.client.namespace,
        "STELLARFLOW_DATA_DIR": os.environ["STELLARFLOW_DATA_DIR"],
        "STELLARFLOW_HEARTBEAT_TIMEOUT_S": "2",
        "STELLARFLOW_MANAGE_SCHEDULES": "false",  # its own task queue: leave the session's schedules alone
    }
    settings = get_settings().model_copy(update={"task_queue": queue, "heartbeat_timeout_s": 2})
    workflow_id = f"worker-crash-{uuid.uuid4().hex[:8]}"
    put_workflow(workflow_id, _definition(local), caller=SERVICE)

    workers: list[WorkerProcess] = []
    first_attempt: list[int] = []
    try:
        workers.append(WorkerProcess(worker_env, tmp_path / "worker-1.log"))
        run, created = await start_run(temporal_env.client, settings, workflow_id, caller=SERVICE)
        assert created
        mark = get_settings().workspaces_dir / run.id

        started = mark / "step3.started"
        both = lambda: [*pids_running(BACKGROUND), *pids_running(FOREGROUND)]  # noqa: E731 - host pids, not `$$`
        await _wait_for(lambda: len(_lines(started)) >= 1 and len(both()) == 2, "step 3 to start", 20, workers)
        first_attempt = both()
        assert _lines(mark / "step1") == ["ran"] and _lines(mark / "step2") == ["ran"]
        assert not (mark / "step3").exists()

        workers[0].kill()
        assert workers[0].proc.returncode == -signal.SIGKILL
        # The command runs in its own session, so killing the worker's group does not reach it; bwrap's death
        # signal does, and with bwrap the sandbox's PID namespace goes: the first attempt's foreground and
        # background processes die with the worker.
        await _wait_for(lambda: not any(_running(pid) for pid in first_attempt),
                        "the orphaned step-3 processes to die", 3, [])  # fmt: skip

        workers.append(WorkerProcess(worker_env, tmp_path / "worker-2.log"))
        remaining = TEST_BUDGET_S - (time.monotonic() - began)
        await _wait_for(
            lambda: get_run_row(run.id).status in (RunStatus.succeeded, RunStatus.failed, RunStatus.cancelled),
            f"run {run.id} to finish",
            remaining,
            workers,
        )
        final = get_run_row(run.id)
        assert final.status == RunStatus.succeeded, final
        assert final.error is None
        # A sandbox ends with its command: the successful attempt's background job did not outlive its step.
        assert pids_running(BACKGROUND) == []

        steps = {step.id: step for step in final.steps}
        assert all(step.status == StepStatus.succeeded for step in steps.values()), final.steps
        assert _lines(mark / "step3") == ["ran"], "only the second attempt of step 3 may finish"
        assert len(_lines(started)) == 2, _lines(started)
        if local:
            # Steps 1 and 2 finished before the crash, in the task it lost: run again, once; 4 and 5 once.
            assert _lines(mark / "step1") == ["ran", "ran"] and _lines(mark / "step2") == ["ran", "ran"]
            assert _lines(mark / "step4") == ["ran"] and _lines(mark / "step5") == ["ran"]
        else:
            # Completed steps are not run again after a crash; the interrupted one is, exactly once more.
            for index in (1, 2, 4, 5):
                assert _lines(mark / f"step{index}") == ["ran"], f"step{index} ran {_lines(mark / f'step{index}')}"
            assert steps["step3"].attempts == 2, steps["step3"]
            assert all(steps[f"step{i}"].attempts == 1 for i in (1, 2, 4, 5)), final.steps

        # The event log survived the crash whole: contiguous seqs, each transition exactly once.
        events = list_events(run.id)
        assert [event.seq for event in events] == list(range(1, len(events) + 1))
        types = [event.type for event in events]
        assert types[0] == "run.started" and types[-1] == "run.succeeded", types
        assert types.count("run.started") == 1 and types.count("run.succeeded") == 1, types
        for index in range(1, 6):
            started_events = [e for e in events if e.type == "step.started" and e.data["stepId"] == f"step{index}"]
            done_events = [e for e in events if e.type == "step.succeeded" and e.data["stepId"] == f"step{index}"]
            assert len(started_events) == 1 and len(done_events) == 1, types
        if not local:
            assert [e.data["attempts"] for e in events if e.type == "step.succeeded"] == [1, 1, 2, 1, 1]

        # The run also finished in Temporal, with the same state.
        handle = temporal_env.client.get_workflow_handle_for(PipelineWorkflow.run, run.id)
        result = await asyncio.wait_for(handle.result(), timeout=5)
        assert result.status == RunStatus.succeeded
    finally:
        for worker in workers:
            worker.stop()
        for pid in [*first_attempt, *pids_running(BACKGROUND)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

