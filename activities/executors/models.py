"""Small contracts of the executor activities beyond `core.agents.models` (which holds `ExecuteTaskInput` and
`TaskResult`), plus the error every executor raises when the worker lacks what a task needs."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

NOT_CONFIGURED = "ExecutorNotConfigured"


class RollbackRequest(BaseModel):
    """Which task workspace to roll back. `workspace` is the one `execute_task` used; when empty, the default
    `<workspaces>/<agent_id>/<task_id>` is meant, which needs `agent_id`."""

    task_id: str
    workspace: str = ""
    agent_id: str | None = None


def not_configured(message: str) -> ApplicationError:
    """The task needs something the worker or the agent does not have (an LLM endpoint, a CLI template, a
    registered callable, a command). Retrying cannot help until an operator changes configuration, so it is
    non-retryable; the message names the setting to change."""
    return ApplicationError(message, type=NOT_CONFIGURED, non_retryable=True)
