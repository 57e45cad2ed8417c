"""ConcurrencyGroupWorkflow: the lock of one concurrency group (core/concurrency). Runs ask it with
signal-with-start (`request_lock`), it answers each asking run (or step) with a `concurrency_update` signal —
queued at position n, granted, or preempted — and grants the next in line when the holder releases. With
`cancelInProgress`, a newcomer supersedes the holder and everyone waiting: whole runs are cancelled through
Temporal, steps are told to stop. A holder that disappears without releasing (terminated by hand) is noticed by a
periodic liveness check. The workflow ends when nobody holds or waits, and continues as new when its history grows.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from core.concurrency import queue

with workflow.unsafe.imports_passed_through():
    from core.concurrency.contracts import (
        ACQUIRE_SIGNAL,
        LIVENESS_CHECK_S,
        RELEASE_SIGNAL,
        STATUS_QUERY,
        GroupState,
        LockRelease,
        LockRequest,
        LockUpdate,
    )
    from core.names import CONCURRENCY_GROUP_WORKFLOW, OPEN_WORKFLOWS
    from core.pipelines.contracts import CONCURRENCY_UPDATE_SIGNAL

IDLE_GRACE = timedelta(seconds=2)  # an idle group lingers this long for the next request before it ends


@workflow.defn(name=CONCURRENCY_GROUP_WORKFLOW)
class ConcurrencyGroupWorkflow:
    @workflow.init
    def __init__(self, state: GroupState | None = None) -> None:
        self.state = state or GroupState()
        self.outbox: queue.Outbox = []
        self.cancels: list[LockRequest] = []

    @workflow.signal(name=ACQUIRE_SIGNAL)
    def acquire(self, request: LockRequest) -> None:
        out, superseded = queue.acquire(self.state, request)
        whole_runs = {victim.key for victim in superseded if victim.run_level}
        # A superseded run is cancelled through Temporal (it releases on its way out); a step is told to stop.
        self.outbox += [(r, u) for r, u in out if not (u.state == "preempted" and r.key in whole_runs)]
        self.cancels += [victim for victim in superseded if victim.run_level]

    @workflow.signal(name=RELEASE_SIGNAL)
    def release(self, release: LockRelease) -> None:
        self.outbox += queue.release(self.state, release.key)

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> GroupState:
        return self.state

    @workflow.run
    async def run(self, state: GroupState | None = None) -> GroupState:
        while True:
            await self._deliver()
            if queue.idle(self.state):
                try:
                    await workflow.wait_condition(lambda: bool(self.outbox) or not queue.idle(self.state),
                                                  timeout=IDLE_GRACE)
                except TimeoutError:
                    if queue.idle(self.state) and not self.outbox:
                        break
                continue
            try:
                await workflow.wait_condition(lambda: bool(self.outbox) or bool(self.cancels),
                                              timeout=timedelta(seconds=LIVENESS_CHECK_S))
            except TimeoutError:
                await self._drop_closed()
            if workflow.info().is_continue_as_new_suggested() and not self.outbox and not self.cancels:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self.state)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state

    async def _deliver(self) -> None:
        """Send what was decided: updates to the asking runs, cancellations to superseded runs."""
        while self.outbox or self.cancels:
            outbox, self.outbox = self.outbox, []
            cancels, self.cancels = self.cancels, []
            results = await asyncio.gather(*(self._send(request, update) for request, update in outbox),
                                           *(self._cancel(request) for request in cancels))
            for (request, update), delivered in zip(outbox, results, strict=False):
                if not delivered and update.state == "granted":
                    self.outbox += queue.release(self.state, request.key)  # the run is gone: next in line

    async def _send(self, request: LockRequest, update: LockUpdate) -> bool:
        try:
            await workflow.get_external_workflow_handle(request.holder).signal(CONCURRENCY_UPDATE_SIGNAL, update)
            return True
        except Exception as err:  # noqa: BLE001 - a closed run cannot be told anything
            workflow.logger.info("concurrency %s: %s not delivered to %s: %s", self.state.group, update.state,
                                 request.holder, err)
            return False

    async def _cancel(self, request: LockRequest) -> bool:
        try:
            await workflow.get_external_workflow_handle(request.holder).cancel()
            return True
        except Exception as err:  # noqa: BLE001
            workflow.logger.info("concurrency %s: could not cancel %s: %s", self.state.group, request.holder, err)
            return False

    async def _drop_closed(self) -> None:
        holders = sorted({r.holder for r in ([self.state.holder] if self.state.holder else []) + self.state.queue})
        if not holders:
            return
        open_now: list[str] = await workflow.execute_activity(
            OPEN_WORKFLOWS, holders, result_type=list[str], start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=3))
        self.outbox += queue.drop_closed(self.state, set(open_now))
