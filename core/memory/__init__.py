"""Shared memory: one durable store of namespaced, versioned, searchable JSON entries (see docs/memory.md).

`core.memory.service` holds every operation once; the REST dialects, the DSL actions, the sweep workflow and the
LLM executor's `read_context` all call it. Importing this package is cheap: the tables register themselves with
`core.db` (imported at the bottom of that module), the service is imported where it is used.
"""
