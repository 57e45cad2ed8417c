"""The one activity that writes the read model: a workflow's new events and its projection row (through the
writer of its kind), the 202 operations the write ends, then the signals the workflow sends to other workflows.

It runs as a local activity: bookkeeping and messaging then cost the sending workflow no server round trip (a
signal sent from workflow code costs two history events and one more workflow task to acknowledge it). The write
is keyed by (resource id, seq), so a retry changes nothing; a retried send may repeat a signal, so receivers
ignore repeats.
"""

from __future__ import annotations

import asyncio
import logging

from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from core.agents.projection import AGENT_PROJECTION, SWARM_PROJECTION, TASK_PROJECTION
from core.events.contracts import EntityRecord
from core.events.store import ProjectionWriter
from core.events.store import record as write
from core.github.projection import ANALYSIS_PROJECTION, ENHANCE_PROJECTION
from core.names import LEGACY_RECORD_ENTITY, LEGACY_RECORD_RUN, RECORD
from core.neural.projection import TRAINING_PROJECTION
from core.orchestrations.projection import ORCHESTRATION_PROJECTION
from core.pipelines.contracts import LegacyRunRecord
from core.pipelines.projection import RUN_PROJECTION

log = logging.getLogger("stellarflow.record")

WRITERS: dict[str, ProjectionWriter] = {
    writer.kind: writer for writer in (RUN_PROJECTION, AGENT_PROJECTION, TASK_PROJECTION, SWARM_PROJECTION,
                                      ORCHESTRATION_PROJECTION, TRAINING_PROJECTION, ANALYSIS_PROJECTION,
                                      ENHANCE_PROJECTION)
}


async def _record(request: EntityRecord) -> int:
    writer = WRITERS[request.kind]
    fresh = await asyncio.to_thread(write, request, writer) if (request.events or request.operations
                                                                or request.snapshot) else 0
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


@activity.defn(name=RECORD)
async def record(request: EntityRecord) -> int:
    """Returns how many of the events were new."""
    return await _record(request)


@activity.defn(name=LEGACY_RECORD_ENTITY)
async def record_entity(request: EntityRecord) -> int:
    """`record` under the name agents, tasks and swarms used before there was one record activity."""
    return await _record(request)


@activity.defn(name=LEGACY_RECORD_RUN)
async def record_run(request: LegacyRunRecord) -> int:
    """`record` under the name and payload pipeline runs used before there was one record activity."""
    run = request.run
    return await _record(EntityRecord(kind=RUN_PROJECTION.kind, id=run.id, seq=request.seq,
                                      snapshot=run.model_dump(mode="json"), events=request.events))
