"""What the agent, task and swarm services share: reading an entity live from its workflow (or its projection once
closed), sending it Updates with Temporal's refusals turned into domain errors, and seeding its projection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WorkflowQueryRejectedError, WorkflowUpdateFailedError
from temporalio.common import QueryRejectCondition
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from core.agents.contracts import STATUS_QUERY
from core.agents.projection import WRITERS
from core.errors import Conflict, NotFound, Unavailable
from core.events.contracts import EntityRecord
from core.events.models import Event
from core.events.store import record

S = TypeVar("S", bound=BaseModel)


def aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


PREFIXES = {"agent": "ag-", "task": "tk-", "swarm": "sw-"}


async def live_state(client: Client, workflow_id: str, result_type: type[S], from_row: Callable[[], S | None],
                     resource: str) -> S:
    """The workflow's own answer while it runs; the projection once it has closed (or when it cannot answer).
    An id of another kind of resource is a 404, not a question to some other workflow."""
    prefix = PREFIXES.get(resource)
    if prefix and not workflow_id.startswith(prefix):
        raise NotFound(resource, workflow_id)
    try:
        return await client.get_workflow_handle(workflow_id).query(
            STATUS_QUERY, result_type=result_type, reject_condition=QueryRejectCondition.NOT_OPEN)
    except WorkflowQueryRejectedError:
        pass
    except ValidationError:  # a workflow of that id that is not one of ours of this kind
        raise NotFound(resource, workflow_id) from None
    except RPCError as err:
        if err.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            row = await asyncio.to_thread(from_row)
            if row is not None:
                return row
            raise Unavailable(f"Temporal did not answer: {err.message}") from None
    row = await asyncio.to_thread(from_row)
    if row is None:
        raise NotFound(resource, workflow_id)
    return row


def rejection(err: Exception) -> str:
    cause = err.cause if isinstance(err, WorkflowUpdateFailedError) else err
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(getattr(cause, "message", None) or cause or err)


UPDATE_ATTEMPTS = 5


async def update(client: Client, workflow_id: str, name: str, arg: Any, result_type: type[S], resource: str) -> S:
    """Send an Update; a refusal by the workflow (its validator) is a 409 with the workflow's reason.

    The server drops an Update whose workflow task did not complete, e.g. when a signal arrived while the workflow
    was closing ("unexpected workflow task failure"); nothing of it was applied, so it is sent again."""
    handle = client.get_workflow_handle(workflow_id)
    for attempt in range(1, UPDATE_ATTEMPTS + 1):
        try:
            if arg is None:
                return await handle.execute_update(name, result_type=result_type)
            return await handle.execute_update(name, arg, result_type=result_type)
        except WorkflowUpdateFailedError as err:
            raise Conflict(rejection(err)) from None
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise Conflict(f"{resource.capitalize()} {workflow_id} is no longer running") from None
            if "workflow task failure" in (err.message or "") and attempt < UPDATE_ATTEMPTS:
                await asyncio.sleep(0.05 * attempt)
                continue
            raise Unavailable(f"Temporal did not accept the request: {err.message}") from None
    raise AssertionError("unreachable")


def seed_projection(kind: str, entity_id: str, snapshot: dict[str, Any], event: str, data: dict[str, Any]) -> None:
    """Write the entity's first projection row before its workflow runs (seq 0), so list views show it at once."""
    record(EntityRecord(kind=kind, id=entity_id, seq=0, snapshot=snapshot,
                        events=[Event(seq=0, type=event, at=datetime.now(UTC), data=data)]), WRITERS[kind])
