"""Artifacts: storing a step's declared files from the run's workspace, and the retention sweep."""

from __future__ import annotations

import asyncio

from temporalio import activity

from activities.environment import invalid_parameters, workspace_for
from core import names
from core.artifacts import service
from core.errors import ValidationFailed
from core.pipelines.contracts import ArtifactRequest, StoredArtifact


@activity.defn(name=names.STORE_ARTIFACTS)
async def store_artifacts(request: ArtifactRequest) -> list[StoredArtifact]:
    """Idempotent: an artifact's id comes from its run, step and path, so a retry stores nothing twice."""
    try:
        return await asyncio.to_thread(service.store_run_artifacts, request, workspace_for(request.run_id))
    except (ValidationFailed, service.ArtifactTooLarge) as err:
        raise invalid_parameters(str(err)) from None


@activity.defn(name=names.SWEEP_EXPIRED_ARTIFACTS)
async def sweep_expired_artifacts() -> int:
    return await asyncio.to_thread(service.sweep_expired)
