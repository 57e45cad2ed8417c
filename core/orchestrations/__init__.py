"""Orchestrations: a task run in phases by several agents (`POST /api/v2/tasks/orchestrate`), as an
OrchestrationWorkflow (docs/orchestrations.md)."""
