"""The platform's own activities: one host sample plus the metrics retention prune, and building a diagnostic
bundle. Both idempotent enough to retry: a retried sample adds one more sample of the same minute (averaged in),
a retried bundle overwrites the report's bytes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio import activity

from core import names
from core.settings import get_settings
from core.system import diagnostics, host, metrics
from core.system.contracts import DiagnosticsRequest, DiagnosticsResult, MetricsSampleResult


def _sample_and_prune() -> MetricsSampleResult:
    settings = get_settings()
    sample = host.sample()
    metrics.record_sample(sample)
    pruned = metrics.prune(datetime.now(UTC) - timedelta(seconds=settings.metrics_retention_s))
    return MetricsSampleResult(host=sample.host, cpu=sample.cpu, memory=sample.memory, disk=sample.disk,
                               pruned=pruned)


@activity.defn(name=names.SAMPLE_HOST_METRICS)
async def sample_host_metrics() -> MetricsSampleResult:
    return await asyncio.to_thread(_sample_and_prune)


@activity.defn(name=names.BUILD_DIAGNOSTICS)
async def build_diagnostics(request: DiagnosticsRequest) -> DiagnosticsResult:
    return await diagnostics.generate(activity.client(), get_settings(), request)
