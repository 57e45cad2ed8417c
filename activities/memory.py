"""Shared-memory side effects: the `memory-store` / `memory-read` DSL actions and the TTL sweep.

All of them go through `core.memory.service`, the one store the API uses too. Database work runs in a thread so
the worker's event loop stays free.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from temporalio import activity

from activities.environment import current_attempt, invalid_parameters, parse_params, step_failed
from core import names
from core.dsl.actions import MemoryReadParams, MemoryStoreParams
from core.errors import DomainError, NotFound, PayloadTooLarge, ValidationFailed
from core.memory.service import SYSTEM_OWNER, Caller, service_for
from core.pipelines.contracts import ActionRequest, ActionResult


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _caller(req: ActionRequest) -> Caller:
    """Pipelines write as the `system` owner (no user's quota); the author names the run and step, which makes a
    retried store of the same value a no-op."""
    return Caller(owner=SYSTEM_OWNER, tier=None, name=f"run:{req.run_id}:{req.instance or req.step_id}")


def _refused(req: ActionRequest, err: DomainError) -> Exception:
    if isinstance(err, ValidationFailed | PayloadTooLarge):
        fields = [d.get("field") for d in err.details if isinstance(d, dict)] if isinstance(err.details, list) else []
        where = f" ({', '.join(str(f) for f in fields if f)})" if fields else ""
        return invalid_parameters(f"invalid parameters for {req.action}: {err.message}{where}")
    return step_failed(f"{req.action}: {err.message}", {"error": err.message, "code": err.code}, req)


def perform_memory_store(req: ActionRequest) -> ActionResult:
    params = parse_params(req, MemoryStoreParams)
    try:
        entry = service_for().store(_caller(req), params.namespace, params.key, params.value, tags=params.tags,
                                    ttl=params.ttl, access_level=params.accessLevel, dedupe=True)
    except DomainError as err:
        raise _refused(req, err) from None
    outputs: dict[str, Any] = {"id": entry.id, "namespace": entry.namespace, "key": entry.key,
                               "version": entry.version, "size": entry.size, "expiresAt": iso(entry.expires_at)}
    return ActionResult(outputs=outputs, attempt=current_attempt())


def perform_memory_read(req: ActionRequest) -> ActionResult:
    params = parse_params(req, MemoryReadParams)
    try:
        entry = service_for().get(_caller(req), params.namespace, params.key, version=params.version)
    except NotFound:
        if params.required:
            where = f"{params.namespace}/{params.key}" + (f"@{params.version}" if params.version else "")
            raise step_failed(f"memory-read: no entry {where} (missing or expired)",
                              {"found": False, "namespace": params.namespace, "key": params.key}, req) from None
        return ActionResult(outputs={"found": False, "namespace": params.namespace, "key": params.key,
                                     "value": None, "version": None}, attempt=current_attempt())
    except DomainError as err:
        raise _refused(req, err) from None
    return ActionResult(outputs={"found": True, "namespace": entry.namespace, "key": entry.key, "value": entry.value,
                                 "version": entry.version, "tags": entry.tags, "updatedAt": iso(entry.updated_at)},
                        attempt=current_attempt())


@activity.defn(name=names.MEMORY_STORE)
async def memory_store(req: ActionRequest) -> ActionResult:
    return await asyncio.to_thread(perform_memory_store, req)


@activity.defn(name=names.MEMORY_READ)
async def memory_read(req: ActionRequest) -> ActionResult:
    return await asyncio.to_thread(perform_memory_read, req)


@activity.defn(name=names.SWEEP_EXPIRED_MEMORY)
async def sweep_expired_memory() -> int:
    """Delete expired entries and write a `memory.expired` event for each; returns how many. Events older than
    the event retention are swept here too (core/events/retention.py), so they need no schedule of their own."""
    from core.events.retention import sweep_old_events

    await asyncio.to_thread(sweep_old_events)
    return len(await asyncio.to_thread(service_for().sweep_expired))
