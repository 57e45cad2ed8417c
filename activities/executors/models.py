"""The error every executor raises when the worker lacks what a task needs. (The executor contract itself,
`ExecuteTaskInput`, `RollbackRequest` and `TaskResult`, is in `core.agents`.)"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

NOT_CONFIGURED = "ExecutorNotConfigured"


def not_configured(message: str) -> ApplicationError:
    """The task needs something the worker or the agent does not have (an LLM endpoint, a CLI template, a
    registered callable, a command). Retrying cannot help until an operator changes configuration, so it is
    non-retryable; the message names the setting to change."""
    return ApplicationError(message, type=NOT_CONFIGURED, non_retryable=True)
