"""The one activity that writes a run's events and projection (run as a local activity: it is short
bookkeeping, and a local activity keeps it off the critical path's server round trips)."""

from __future__ import annotations

import asyncio

from temporalio import activity

from core.events import record
from core.models import RecordRequest


@activity.defn(name="record_run")
async def record_run(request: RecordRequest) -> int:
    return await asyncio.to_thread(record, request)
