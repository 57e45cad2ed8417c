"""What crosses ReconcileWorkflow's boundary: the request (the daily schedule sends none: everything)."""

from __future__ import annotations

from pydantic import BaseModel


class ReconcileRequest(BaseModel):
    dry_run: bool = False
    kinds: list[str] | None = None  # run, agent, task, swarm; None: all
    only: list[str] | None = None  # these resource ids only (a workflow id each); None: every workflow
