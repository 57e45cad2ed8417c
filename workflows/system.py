"""The platform's own workflows: `MetricsSampleWorkflow` (started every minute by a Temporal Schedule,
`core.system.schedule`: one host sample, and the retention prune) and `DiagnosticsWorkflow` (one diagnostic bundle,
started by `POST /api/system/diagnostics`). Each is one activity; the result is the workflow's, so the Temporal UI
shows what each did."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.names import BUILD_DIAGNOSTICS, DIAGNOSTICS_WORKFLOW, METRICS_SAMPLE_WORKFLOW, SAMPLE_HOST_METRICS
    from core.system.contracts import DiagnosticsRequest, DiagnosticsResult, MetricsSampleResult


@workflow.defn(name=METRICS_SAMPLE_WORKFLOW)
class MetricsSampleWorkflow:
    @workflow.run
    async def run(self) -> MetricsSampleResult:
        # A sample is worth taking only now: no long retries (the next minute's run takes the next one).
        return await workflow.execute_activity(
            SAMPLE_HOST_METRICS, result_type=MetricsSampleResult, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=2, initial_interval=timedelta(seconds=1)))


@workflow.defn(name=DIAGNOSTICS_WORKFLOW)
class DiagnosticsWorkflow:
    @workflow.run
    async def run(self, request: DiagnosticsRequest) -> DiagnosticsResult:
        return await workflow.execute_activity(
            BUILD_DIAGNOSTICS, request, result_type=DiagnosticsResult, start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=2)))
