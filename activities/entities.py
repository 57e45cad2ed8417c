"""The one activity that writes an agent's, task's or swarm's events and projection, then delivers the signals
the entity sends to other entities. It runs as a local activity: bookkeeping and messaging then cost the sending
workflow no server round trip (a signal sent from workflow code costs two history events and one more workflow
task to acknowledge it)."""

from __future__ import annotations

import asyncio
import logging

from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from core.agents.projection import record
from core.agents.state import EntityRecord

log = logging.getLogger("stellarflow.entities")


@activity.defn(name="record_entity")
async def record_entity(request: EntityRecord) -> int:
    fresh = await asyncio.to_thread(record, request) if (request.events or request.operations) else 0
    if request.signals:
        client = activity.client()
        for outgoing in request.signals:  # in order: a receiver sees one sender's signals as they were sent
            handle = client.get_workflow_handle(outgoing.workflow_id)
            try:
                if outgoing.arg is None:
                    await handle.signal(outgoing.signal)
                else:
                    await handle.signal(outgoing.signal, outgoing.arg)
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise  # retried by the local activity's policy; receivers ignore what they already had
                log.info("%s: %s not delivered to %s (closed or unknown)", request.id, outgoing.signal,
                         outgoing.workflow_id)
    return fresh
