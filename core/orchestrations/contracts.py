"""What crosses OrchestrationWorkflow's boundary: its input, its handler names, the cancel request, and the
handover activity's request and answer. Services and the workflow use these names, never string literals."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, Field

from core.orchestrations.models import OrchestrationSpec, OrchestrationState, PhaseState, SlotPlan

STATUS_QUERY: Final = "status"


class OrchestrationHandlers:
    CANCEL: Final = "cancel"  # Update: stop every running task, skip the phases left, release spawned agents


class OrchestrationInput(BaseModel):
    spec: OrchestrationSpec
    plan: list[list[SlotPlan]]  # per phase, per agent slot: who runs it (decided at submit, from the swarm)
    phases: list[PhaseState]  # as planned (slots, estimates), all pending
    heartbeat_timeout_s: float = 30.0
    task_timeout_s: float = 3600.0


class CancelRequest(BaseModel):
    by: str | None = None
    reason: str | None = None


class HandoverFile(BaseModel):
    path: str
    artifact_id: str


class HandoverRequest(BaseModel):
    """The files a phase produced (stored as its tasks' artifacts), to seed the next phase's workspaces."""

    orchestration_id: str
    files: list[HandoverFile] = Field(default_factory=list)
    max_bytes: int = 512 * 1024


class Handover(BaseModel):
    files: dict[str, str] = Field(default_factory=dict, description="relative path -> text")
    skipped: list[str] = Field(default_factory=list, description="binary, too large or expired: listed, not copied")


__all__ = ["STATUS_QUERY", "CancelRequest", "Handover", "HandoverFile", "HandoverRequest", "OrchestrationHandlers",
           "OrchestrationInput", "OrchestrationState"]
