"""Service results as structured tool content: plain JSON, with `redacted` naming what the service withheld from
this caller (`core.access`: those fields are null or empty, as in both REST dialects)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from core.access import Redactable
from core.events.models import Event
from core.github.models import AnalysisState, EnhanceState
from core.listing import Page
from core.neural.models import TrainingState
from core.orchestrations.models import OrchestrationState
from core.pipelines.definitions import WorkflowInfo
from core.pipelines.runs import RunInfo


def dump(model: BaseModel) -> dict[str, Any]:
    body = model.model_dump(mode="json")
    if isinstance(model, Redactable):
        body["redacted"] = sorted(model.redacted)
    return body


def page_of(name: str, items: list[Any], page: Page) -> dict[str, Any]:
    """Dialect 1's list shape: `{<name>: [...], pagination: {page, limit, total, pages}}`."""
    request = page.request
    return {name: items, "pagination": {"page": request.number, "limit": request.size, "total": page.total,
                                        "pages": page.page_count}}


def workflow_item(info: WorkflowInfo) -> dict[str, Any]:
    """A definition as a list item: metadata and step ids, not the whole definition (read the resource for it)."""
    body = info.model_dump(mode="json", exclude={"definition"})
    body["steps"] = [step.get("id") for step in info.definition.get("steps", []) if isinstance(step, dict)]
    body["resource"] = f"stellarflow://workflows/{info.id}"
    return body


def run_body(info: RunInfo) -> dict[str, Any]:
    return {**dump(info), "summary": info.summary, "duration_ms": info.duration_ms,
            "resource": f"stellarflow://runs/{info.id}", "logs": f"stellarflow://runs/{info.id}/logs"}


def run_logs_body(info: RunInfo, events: list[Event] | None) -> dict[str, Any]:
    """Each step's (and fan-out instance's) output, and the run's events; for a caller not entitled to them the
    events are null and the steps carry no output."""
    steps = []
    for step in info.steps:
        for unit in step.instances or [step]:
            entry: dict[str, Any] = {"step_id": unit.id, "status": unit.status.value, "attempts": unit.attempts}
            if events is not None:
                for key in ("exitCode", "stdout", "stderr", "truncated"):
                    if key in unit.outputs:
                        entry[key] = unit.outputs[key]
                if unit.error:
                    entry["error"] = unit.error
            steps.append(entry)
    return {"run_id": info.id, "status": info.status.value, "steps": steps,
            "events": None if events is None else [event.model_dump(mode="json") for event in events],
            "redacted": [] if events is not None else ["events", "outputs"]}


def orchestration_body(state: OrchestrationState) -> dict[str, Any]:
    """The state (withheld fields named in `redacted`) with its progress, a computed figure, and where to poll."""
    return {**dump(state), "progress": state.progress, "resource": f"stellarflow://orchestrations/{state.spec.id}"}


def analysis_body(state: AnalysisState) -> dict[str, Any]:
    return {**dump(state), "resource": f"stellarflow://github/analysis/{state.id}"}


def enhancement_body(state: EnhanceState) -> dict[str, Any]:
    return {**dump(state), "resource": f"stellarflow://github/enhancements/{state.id}"}


def training_body(state: TrainingState) -> dict[str, Any]:
    return {**dump(state), "resource": f"stellarflow://training/{state.id}"}
