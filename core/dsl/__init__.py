"""The YAML workflow definition language: models, actions, durations, templating and validation."""

from core.dsl.actions import ACTION_PARAMS, WORKFLOW_NATIVE_ACTIONS
from core.dsl.durations import parse_duration
from core.dsl.models import InputSpec, Step, WorkflowDefinition, coerce_input

__all__ = [
    "ACTION_PARAMS",
    "WORKFLOW_NATIVE_ACTIONS",
    "InputSpec",
    "Step",
    "WorkflowDefinition",
    "coerce_input",
    "parse_duration",
]
