"""Path-id checks: an id that cannot be one of the resource's is a 404 before any service is asked."""

from __future__ import annotations

import re

from core.errors import NotFound

_SHAPE = re.compile(r"^[a-z]{2}-[0-9A-HJKMNP-TV-Z]{26}$")
PREFIXES = {"agent": "ag", "task": "tk", "swarm": "sw", "operation": "op"}


def checked(resource: str, value: str) -> str:
    """`value` if it can be the id of a `resource` (`<prefix>-<ULID>`), else NotFound (404 RESOURCE_NOT_FOUND).
    No Temporal round trip for an id that cannot exist — and an id of another *kind* (a task id on
    `/agents/{id}`) never reaches the agent's `status` query, whose answer would not be an agent."""
    if not _SHAPE.match(value) or not value.startswith(PREFIXES[resource] + "-"):
        raise NotFound(resource, value[:200])
    return value
