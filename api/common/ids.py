"""What the agent, task and swarm routers of both dialects share: path-id checks and request value types."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator

from core.errors import NotFound

T = TypeVar("T")

_SHAPE = re.compile(r"^[a-z]{2}-[0-9A-HJKMNP-TV-Z]{26}$")
PREFIXES = {"agent": "ag", "task": "tk", "swarm": "sw", "operation": "op"}
CONFLICT = {409: {"description": "The resource's state does not allow this (CONFLICT)"}}


def checked(resource: str, value: str) -> str:
    """`value` if it can be the id of a `resource` (`<prefix>-<ULID>`), else NotFound (404 RESOURCE_NOT_FOUND).
    No Temporal round trip for an id that cannot exist — and an id of another *kind* (a task id on
    `/agents/{id}`) never reaches the agent's `status` query, whose answer would not be an agent."""
    if not _SHAPE.match(value) or not value.startswith(PREFIXES[resource] + "-"):
        raise NotFound(resource, value[:200])
    return value


def _utc(moment: datetime) -> datetime:
    """A time without an offset is UTC; every time is stored in UTC. The workflows compare deadlines with their
    own (aware) clock, so a naive one must not get through; an offset that leaves the calendar is a 400."""
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (OverflowError, ValueError) as err:
        raise ValueError(f"not a representable UTC time: {err}") from None


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


def drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
