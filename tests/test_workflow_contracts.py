"""The names that cross process boundaries match what the worker really hosts: every workflow and activity name in
core/names.py is registered, every handler name services and workflows send to exists on its workflow. A signal to a
name nobody handles is dropped without an error, so this is checked here rather than discovered in production."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio import activity, workflow

import activities
import workflows
from core import names
from core.agents.contracts import STATUS_QUERY, AgentHandlers, SwarmHandlers, TaskHandlers
from core.neural.contracts import TrainingHandlers
from core.orchestrations.contracts import OrchestrationHandlers
from core.pipelines import contracts as pipeline_contracts

pytestmark = pytest.mark.database("sqlite", reason="names and handlers: no database")

WORKFLOW_NAMES = {value for key, value in vars(names).items() if key.endswith("_WORKFLOW")}
ACTIVITY_NAMES = {value for key, value in vars(names).items()
                  if key.isupper() and not key.endswith("_WORKFLOW") and isinstance(value, str)}


def definition(cls: type) -> Any:
    return workflow._Definition.from_class(cls)


def handlers(cls: type) -> set[str]:
    found = definition(cls)
    return {*found.signals, *found.queries, *found.updates}


def constants(holder: type) -> set[str]:
    return {value for key, value in vars(holder).items() if key.isupper()}


def test_every_workflow_name_is_hosted_by_the_worker() -> None:
    assert {definition(cls).name for cls in workflows.ALL} == WORKFLOW_NAMES


def test_every_activity_name_is_registered_and_nothing_else_is() -> None:
    registered = [activity._Definition.from_callable(fn).name for fn in activities.ALL]
    assert len(registered) == len(set(registered))
    assert set(registered) == ACTIVITY_NAMES


@pytest.mark.parametrize(("workflow_class", "holder"), [
    (workflows.AgentWorkflow, AgentHandlers),
    (workflows.TaskWorkflow, TaskHandlers),
    (workflows.SwarmWorkflow, SwarmHandlers),
    (workflows.OrchestrationWorkflow, OrchestrationHandlers),
    (workflows.TrainingWorkflow, TrainingHandlers),
], ids=["agent", "task", "swarm", "orchestration", "training"])
def test_entity_handler_names_exist_on_their_workflow(workflow_class: type, holder: type) -> None:
    available = handlers(workflow_class)
    assert constants(holder) | {STATUS_QUERY} <= available, constants(holder) - available


def test_pipeline_handler_names_exist() -> None:
    available = handlers(workflows.PipelineWorkflow)
    assert {pipeline_contracts.STATUS_QUERY, pipeline_contracts.DECIDE_APPROVAL_UPDATE} <= available
