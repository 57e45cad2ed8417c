"""Orchestrations: a phase's files read back from the artifact store for the next phase's workspaces."""

from __future__ import annotations

import asyncio

from temporalio import activity

from core import names
from core.orchestrations.contracts import Handover, HandoverRequest
from core.orchestrations.handover import gather


@activity.defn(name=names.GATHER_HANDOVER)
async def gather_handover(request: HandoverRequest) -> Handover:
    """Read-only, so a retry is harmless."""
    return await asyncio.to_thread(gather, request)
