"""Replay every recorded history (`tests/histories/*.json`, written by `make histories`) against today's workflow
code: a change that would make a recorded run take a different path fails here with a non-determinism error,
before it breaks runs in flight. Offline (Temporal's Replayer needs no server) and fast.

Every workflow replays inside Temporal's sandbox, the entity workflows too (AgentWorkflow, TaskWorkflow and
SwarmWorkflow run unsandboxed in production, for speed): the same sandbox runner is passed for sandboxed and
unsandboxed definitions, and it is the strict one (worker.STRICT_PASSTHROUGH), which re-imports the workflows' own
logic (workflows/*, templating, swarm scheduling) instead of sharing it, so a call such as `datetime.now()`,
`random` or file I/O in that code is flagged here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

import workflows
from worker import workflow_runner

pytestmark = pytest.mark.database("sqlite", reason="replays recorded histories: no database")

FOLDER = Path(__file__).parent / "histories"
# `make histories` rewrites the top level; subfolders hold histories kept on purpose (README.md: workflow.patched).
HISTORIES = sorted(FOLDER.rglob("*.json"))


def load(path: Path) -> WorkflowHistory:
    """The recorded history; its workflow id is in the first event (WorkflowExecutionStarted)."""
    data = json.loads(path.read_text())
    started = data["events"][0]["workflowExecutionStartedEventAttributes"]
    return WorkflowHistory.from_json(started["workflowId"], data)


def workflow_type(path: Path) -> str:
    return json.loads(path.read_text())["events"][0]["workflowExecutionStartedEventAttributes"]["workflowType"]["name"]


@pytest.fixture(scope="module")
def replayer() -> Replayer:
    sandbox = workflow_runner(strict=True)  # workflow logic re-imported and checked, data modules shared
    return Replayer(workflows=workflows.ALL, data_converter=pydantic_data_converter,
                    workflow_runner=sandbox, unsandboxed_workflow_runner=sandbox)


@pytest.mark.parametrize("path", HISTORIES, ids=[str(p.relative_to(FOLDER).with_suffix("")) for p in HISTORIES])
async def test_history_replays(replayer: Replayer, path: Path) -> None:
    # Raises (temporalio.workflow.NondeterminismError, or the workflow task's failure) if the code no longer
    # produces the recorded commands.
    await replayer.replay_workflow(load(path))


def test_every_workflow_type_has_a_history() -> None:
    recorded = {workflow_type(path) for path in HISTORIES}
    defined = {getattr(cls, "__temporal_workflow_definition").name for cls in workflows.ALL}  # set by @workflow.defn
    missing = defined - recorded
    assert not missing, f"no recorded history for {sorted(missing)}: run `make histories`"
