"""Dialect 1 (`/api/...`, the claude-flow spec) presenters: pure functions from domain models to plain snake_case
JSON bodies. Durations are **seconds**, as the spec's examples are (`duration: 300`, `average_time: 120`,
`estimated_duration: 1800`).

Every figure is something the platform measured or was told; figures derived from state come from
`core.agents.figures`, so both dialects show the same number. Where a spec field has no honest source it is null
or left out, never a constant — each such place says so in a comment. The choices, in one list:

* agent `resource_usage.cpu` / health `cpu_usage`: the CPU share of the agent's last task (CPU seconds / wall
  seconds), null before it has finished one with measured CPU; `memory`: that task's peak RSS in MB.
* swarm `resource_usage.cpu`, `.memory`, `.network`: null (nothing samples a swarm's live resource use); the
  measured `agent_busy_s` (seconds agents spent on the swarm's tasks) is given instead.
* `estimated_duration`: left out when the service has no estimate (no similar finished task).
* `success_rate`, averages: null until a task has finished.
"""
