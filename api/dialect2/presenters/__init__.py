"""Dialect 2 (`/api/v2/...`) presenters: pure functions from domain models to JSON:API resources
(`{id, type, attributes, relationships, links}`) and plain `data` objects, which the routes put in
`jsonapi.ok()` / `jsonapi.paged()` envelopes. Fields are camelCase; durations are **milliseconds**, as the spec's
examples are (`executionTime: 7245`, `avgCompletionTime: 2340`).

Every figure is something the platform measured or was told; figures derived from state come from
`core.agents.figures`, so both dialects show the same number. Where a spec field has no honest source it is null
or left out, never a constant — each such place says so in a comment. The choices, in one list:

* agent metrics `memoryUsage` (a share of an unknown limit), `messagesSent`, `coordinationScore`: null.
* task results `agent.performance.efficiency` / `quality` and `documentation`: left out.
* `estimatedTime`: left out when the service has no estimate (no similar finished task).
* `successRate`, averages: null until a task has finished.
"""
