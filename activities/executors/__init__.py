"""Executors of agent tasks (`shell`, `llm`, `agent-cli`, `python`) and the activities that run them; see
docs/executors.md. `ALL` is what the worker registers."""

from activities.executors.activities import (
    ALL,
    execute_task,
    provision_workspace,
    rollback_workspace,
)

__all__ = ["ALL", "execute_task", "provision_workspace", "rollback_workspace"]
