"""The one way a workflow records what happened: `Recorder`, used by every workflow that keeps a projection.

Events are numbered by the workflow (so deterministic, and a retried write is recognised), batched, and written
together with the workflow's snapshot by the `record` local activity — at most every `flush_every` while work goes
on, at once at milestones (a busy workflow's next milestone usually comes first, so the timer is then cancelled
before it costs a workflow task). A local activity holds back the workflow task it runs in, so writing on every
change would put a database write between each step and the next; batching took a 20-step pipeline chain from
1.9× to 1.2× of a hand-written workflow (docs/benchmarks.md).

Signals to other workflows go out through the same local activity, at once: that costs no server round trip,
where a signal sent from workflow code costs a workflow task to acknowledge. See `signal` for when a signal must
instead wait until the workflow task that decided it is durable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.events.contracts import EntityRecord, OutgoingSignal
    from core.events.models import Event
    from core.names import LEGACY_RECORD_ENTITY, LEGACY_RECORD_RUN, RECORD
    from core.pipelines.contracts import LegacyRunRecord
    from core.pipelines.models import RunState

ENTITY_FLUSH_EVERY = timedelta(seconds=1)
PIPELINE_FLUSH_EVERY = timedelta(milliseconds=250)
# Runs that started before every workflow recorded through the one `record` activity call the activity their
# history names (`record_run` or `record_entity`); `workflow.patched` tells the two apart. Deprecate the patch
# (`workflow.deprecate_patch`) and drop the legacy path once no such run is open.
ONE_RECORD_ACTIVITY = "one-record-activity"
WRITE_TIMEOUT = timedelta(seconds=30)
WRITE_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10))


class Recorder:
    """Batches one workflow's events, snapshot, ended operations and outgoing signals into `record` writes.

    `kind` picks the projection (`run`, `agent`, `task`, `swarm`); `snapshot` returns the projection's copy of the
    state; `seq` is where the event counter starts (a continued entity carries it over)."""

    def __init__(self, kind: str, entity_id: str, snapshot: Callable[[], dict[str, Any]], seq: int = 0, *,
                 durable_signals: bool = False, flush_every: timedelta = ENTITY_FLUSH_EVERY) -> None:
        self.kind = kind
        self.entity_id = entity_id
        self.snapshot = snapshot
        self.seq = seq
        self.durable_signals = durable_signals
        self.flush_every = flush_every
        self.commands: set[asyncio.Task[None]] = set()
        self.unrecorded: list[Event] = []
        self.operations: list[dict[str, Any]] = []
        self.outgoing: list[OutgoingSignal] = []
        self.flushing = False
        self.lock = asyncio.Lock()  # created inside the workflow's own (deterministic) event loop
        self.pump: asyncio.Task[None] | None = None
        self.last_flush: datetime | None = None
        self.timer: asyncio.Task[None] | None = None
        self.dirty = False
        self._current: bool | None = None  # whether this run records through `record` (see ONE_RECORD_ACTIVITY)

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        self.seq += 1
        self.unrecorded.append(Event(seq=self.seq, type=kind, at=workflow.now(), data=data))

    def signal(self, workflow_id: str, name: str, arg: Any = None) -> None:
        """Send `name` to another workflow. A *fact* (this task finished, this task wants a swarm) goes with the next
        flush's local activity, at once: sent twice on a retry, it is still true. A *decision* (this agent gets
        that task) must not leave before it is durable — a workflow task that fails after its local activity ran
        is retried with more history and may decide otherwise — so a recorder created with `durable_signals`
        sends them as signal commands, which the server carries out only once the workflow task completed."""
        if hasattr(arg, "model_dump"):
            arg = arg.model_dump(mode="json")
        if self.durable_signals:
            handle = workflow.get_external_workflow_handle(workflow_id)
            self.commands.add(asyncio.create_task(self._command(handle, name, arg)))
            return
        self.outgoing.append(OutgoingSignal(workflow_id=workflow_id, signal=name, arg=arg))

    async def _command(self, handle: Any, name: str, arg: Any) -> None:
        try:
            await (handle.signal(name) if arg is None else handle.signal(name, arg))
        except Exception as err:  # noqa: BLE001 - a closed target is not this workflow's failure
            workflow.logger.info("signal %s not delivered: %s", name, err)

    async def settle(self) -> None:
        """Wait until every signal sent as a command was delivered or refused (before completing or continuing
        as new, which would otherwise drop the ones not yet issued)."""
        await self.flush()
        while self.commands:
            pending = list(self.commands)
            self.commands.clear()
            await asyncio.gather(*pending)

    def start_pump(self) -> None:
        """Send queued signals as soon as they are queued, whatever the workflow's main loop is waiting for
        (a signal handler that queues one cannot await the send itself)."""

        async def pump() -> None:
            while True:
                await workflow.wait_condition(lambda: bool(self.outgoing) and not self.flushing)
                await self.flush()

        self.pump = asyncio.create_task(pump())

    def touch(self) -> None:
        """The snapshot changed without an event worth logging (e.g. a queue grew): write it with the next flush."""
        self.dirty = True

    def end_operation(self, operation_id: str | None, status: str = "succeeded", result: dict | None = None,
                      error: str | None = None) -> None:
        if operation_id:
            self.operations.append({"id": operation_id, "status": status, "result": result or {}, "error": error})

    async def flush_soon(self) -> None:
        """Write now if the last write is older than `flush_every`, else once that much time has passed."""
        if self.outgoing:
            await self.flush()
            return
        if not (self.unrecorded or self.dirty or self.operations):
            return
        now = workflow.now()
        if self.last_flush is None or now - self.last_flush >= self.flush_every:
            await self.flush()
        elif self.timer is None or self.timer.done():
            self.timer = asyncio.create_task(self._deferred(self.flush_every - (now - self.last_flush)))

    async def _deferred(self, delay: timedelta) -> None:
        await workflow.sleep(max(delay, timedelta(milliseconds=1)))
        self.timer = None
        await self.flush()

    async def flush(self) -> None:
        """Write what is pending. One write at a time, so signals leave in the order they were queued, and a flush
        that finds nothing left to write still returns only after the write in flight has landed (the workflow may
        end next)."""
        async with self._serialized():
            self.flushing = True
            try:
                await self._flush()
            finally:
                self.flushing = False

    def _serialized(self) -> AbstractAsyncContextManager[Any]:
        # Pipeline runs from before the one record activity wrote without the lock; their histories hold writes
        # that overlapped, so they keep doing so.
        if self.kind == "run" and not self._records_through_one_activity():
            return nullcontext()
        return self.lock

    async def _flush(self) -> None:
        if self.timer is not None and not self.timer.done():
            self.timer.cancel()  # this write covers what the timer was waiting to write
            self.timer = None
        if not (self.unrecorded or self.dirty or self.operations or self.outgoing):
            return
        events, self.unrecorded = self.unrecorded, []
        operations, self.operations = self.operations, []
        outgoing, self.outgoing = self.outgoing, []
        if events or self.dirty or operations:
            self.last_flush = workflow.now()
            # The snapshot is stamped with the newest seq; a change without events gets a seq of its own, since
            # snapshots are ordered by seq and only a newer one replaces the projection.
            if not events:
                self.seq += 1
                events = [Event(seq=self.seq, type=f"{self.kind}.updated", at=workflow.now(), data={})]
        self.dirty = False
        await self._write(EntityRecord(kind=self.kind, id=self.entity_id, seq=self.seq,
                                       snapshot=self.snapshot() if events else {}, events=events,
                                       operations=operations, signals=outgoing))

    async def _write(self, request: EntityRecord) -> None:
        if self._records_through_one_activity():
            name, arg = RECORD, request
        elif self.kind == "run":
            name = LEGACY_RECORD_RUN
            arg = LegacyRunRecord(run=RunState.model_validate(request.snapshot), seq=request.seq,
                                  events=request.events)
        else:
            name, arg = LEGACY_RECORD_ENTITY, request
        await workflow.execute_local_activity(name, arg, result_type=int, start_to_close_timeout=WRITE_TIMEOUT,
                                              retry_policy=WRITE_RETRY)

    def _records_through_one_activity(self) -> bool:
        if self._current is None:
            self._current = workflow.patched(ONE_RECORD_ACTIVITY)
        return self._current
