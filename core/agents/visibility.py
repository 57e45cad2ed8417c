"""What a reader sees of an agent or a task (docs/access.md): everyone signed in sees the metadata; an agent's
config and a task's requirements, result, error and progress message are for the owner, admins and the users it
is shared with. Everyone, the owner included, sees `requirements.env` values as `***` and the value of any
secret-looking config key (stored before such keys were refused) as `***`.

Every read service passes its answer through here, so both dialects, the CLI and later front ends show the same."""

from __future__ import annotations

from typing import Any

from core.access import Caller, may_read
from core.agents.config_rules import mask_secrets
from core.agents.state import AgentState, TaskState

AGENT_WITHHELD = ("config",)
TASK_WITHHELD = ("requirements", "result", "error", "progress_message")
MASK = "***"


def mask_env(requirements: dict[str, Any]) -> dict[str, Any]:
    """`requirements` with every `env` value replaced by `***` (and secret-looking keys masked)."""
    masked = mask_secrets(requirements)
    env = masked.get("env")
    if isinstance(env, dict):
        masked["env"] = {name: MASK for name in env}
    return masked


def agent_view(state: AgentState, caller: Caller) -> AgentState:
    spec = state.spec
    if may_read(caller, spec.owner, spec.shared_with):
        return state.withheld((), spec=spec.model_copy(update={"config": mask_secrets(spec.config),
                                                               "metadata": mask_secrets(spec.metadata)}))
    return state.withheld(AGENT_WITHHELD, spec=spec.model_copy(update={"config": {},
                                                                       "metadata": mask_secrets(spec.metadata)}))


def task_view(state: TaskState, caller: Caller) -> TaskState:
    spec = state.spec
    if may_read(caller, spec.owner, spec.shared_with):
        return state.withheld((), spec=spec.model_copy(update={"requirements": mask_env(spec.requirements),
                                                               "metadata": mask_secrets(spec.metadata)}))
    return state.withheld(TASK_WITHHELD, spec=spec.model_copy(update={"requirements": {},
                                                                      "metadata": mask_secrets(spec.metadata)}),
                          result=None, error=None, progress_message=None)
