"""SyncSourceWorkflow: one sync of a git source of definitions (core/sources): clone, validate, apply — in the
`sync_source` activity, retried if the worker is lost. Started by the source's Temporal Schedule, by a GitHub push
to its branch, or on request (`POST /api/v2/sources/{id}/sync`)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.names import SYNC_SOURCE, SYNC_SOURCE_WORKFLOW
    from core.sources.contracts import SyncRequest, SyncResult


@workflow.defn(name=SYNC_SOURCE_WORKFLOW)
class SyncSourceWorkflow:
    @workflow.run
    async def run(self, request: SyncRequest) -> SyncResult:
        return await workflow.execute_activity(
            SYNC_SOURCE, request, result_type=SyncResult, start_to_close_timeout=timedelta(minutes=20),
            retry_policy=RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=2)))
