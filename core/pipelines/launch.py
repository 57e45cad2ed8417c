"""How a run is started besides its definition and inputs: by what (API, schedule, webhook, re-run), and what the
Temporal UI shows for it (summary and details, the user metadata set at start). Pure; `runs.start_run`, the
schedules and the sub-workflow activity use it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.pipelines.contracts import TriggerInfo
from core.pipelines.models import StepState
from core.settings import Settings


@dataclass
class RunOptions:
    trigger: TriggerInfo | None = None
    run_id: str | None = None  # chosen by the caller (a webhook delivery's runs); default a new id
    rerun_of: str | None = None
    reuse: dict[str, StepState] = field(default_factory=dict)

    @property
    def trigger_name(self) -> str:
        if self.rerun_of:
            return "rerun"
        return self.trigger.type if self.trigger else "api"

    def input_fields(self, owner: str | None, settings: Settings) -> dict[str, Any]:
        """The PipelineInput fields beyond a plain API run's."""
        trigger = self.trigger or (TriggerInfo(type="rerun") if self.rerun_of else None)
        return {"owner": owner, "trigger": trigger, "rerun_of": self.rerun_of, "reuse": self.reuse,
                "max_depth": settings.max_workflow_depth}


def run_metadata(name: str, workflow_id: str, version: int, trigger: str, started_by: str | None, *,
                 rerun_of: str | None = None, parent_run_id: str | None = None,
                 schedule: str | None = None) -> tuple[str, str]:
    """The Temporal UI's summary (one line) and details (markdown) of a run: which definition, which version, what
    started it. Inputs are left out: they are for the run's readers only (docs/access.md)."""
    summary = f"{name} · {workflow_id} v{version} · {trigger}"
    lines = [f"**{name}**", "", f"- definition: `{workflow_id}` version {version}", f"- trigger: {trigger}"]
    if schedule:
        lines.append(f"- schedule: `{schedule}`")
    if started_by:
        lines.append(f"- started by: {started_by}")
    if rerun_of:
        lines.append(f"- re-run of: `{rerun_of}`")
    if parent_run_id:
        lines.append(f"- sub-workflow of: `{parent_run_id}`")
    return summary[:400], "\n".join(lines)
