"""Where a chain's time goes, read from the Temporal server's own history of one run.

For every activity step of a run, the history holds when the server scheduled it, when a worker picked it up, and
when its result came back; between one step's result and the next step's schedule lies a workflow task (the server
hands the worker the result, the workflow decides, the worker answers with the next command) — plus any local
activity the workflow ran in that task. Those timestamps split each step into:

* `queue`     – activity scheduled → started (matching and the worker's poll);
* `activity`  – started → completed (the activity function itself: sandbox, spawn, capture, result);
* `turn`      – completed → the next activity scheduled (the workflow's turn: server → worker → server), of which
  `wft_queue` is workflow task scheduled → started and `wft_work` started → completed (the worker's processing,
  including local activities it waited for);

and counts the bytes that travel per step (activity input and result payloads) and the local-activity markers.
"""

from __future__ import annotations

import statistics
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

_SCHEDULED = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
_STARTED = EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
_COMPLETED = EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
_WFT_SCHEDULED = EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
_WFT_STARTED = EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
_WFT_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
_MARKER = EventType.EVENT_TYPE_MARKER_RECORDED
FIELDS = ("queue", "activity", "turn", "wft_queue", "wft_work", "input_bytes", "result_bytes")


def _ms(event: Any) -> float:
    return event.event_time.seconds * 1000 + event.event_time.nanos / 1e6


def _payload_bytes(payloads: Any) -> int:
    return sum(len(p.data) + sum(len(k) + len(v) for k, v in p.metadata.items()) for p in payloads.payloads)


async def chain_breakdown(client: Client, workflow_id: str) -> dict[str, float]:
    """Per-step medians (ms, bytes) of a chain run, plus `markers` (local-activity markers in the whole run),
    `history_events` and `first_schedule` (workflow start → first activity scheduled)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    events = list(history.events)
    steps: dict[int, dict[str, Any]] = {}
    order: list[int] = []
    for event in events:
        if event.event_type == _SCHEDULED:
            steps[event.event_id] = {"scheduled": _ms(event), "input_bytes": _payload_bytes(
                event.activity_task_scheduled_event_attributes.input)}
            order.append(event.event_id)
        elif event.event_type == _STARTED:
            steps[event.activity_task_started_event_attributes.scheduled_event_id]["started"] = _ms(event)
        elif event.event_type == _COMPLETED:
            attrs = event.activity_task_completed_event_attributes
            step = steps[attrs.scheduled_event_id]
            step["completed"], step["completed_id"] = _ms(event), event.event_id
            step["result_bytes"] = _payload_bytes(attrs.result)
    samples: dict[str, list[float]] = {name: [] for name in FIELDS}
    for index, scheduled_id in enumerate(order):
        step = steps[scheduled_id]
        if "completed" not in step:
            continue
        samples["queue"].append(step["started"] - step["scheduled"])
        samples["activity"].append(step["completed"] - step["started"])
        samples["input_bytes"].append(step["input_bytes"])
        samples["result_bytes"].append(step["result_bytes"])
        if index + 1 < len(order):
            samples["turn"].append(steps[order[index + 1]]["scheduled"] - step["completed"])
            # the workflow task(s) between this result and the next schedule
            between = [e for e in events if step["completed_id"] < e.event_id < order[index + 1]]
            wft_scheduled = [_ms(e) for e in between if e.event_type == _WFT_SCHEDULED]
            wft_started = [_ms(e) for e in between if e.event_type == _WFT_STARTED]
            wft_completed = [_ms(e) for e in between if e.event_type == _WFT_COMPLETED]
            if wft_scheduled and wft_started and wft_completed:
                samples["wft_queue"].append(wft_started[0] - wft_scheduled[0])
                samples["wft_work"].append(wft_completed[-1] - wft_started[0])
    result = {name: statistics.median(values) for name, values in samples.items() if values}
    result["markers"] = sum(1 for e in events if e.event_type == _MARKER)
    result["history_events"] = len(events)
    if order:
        result["first_schedule"] = steps[order[0]]["scheduled"] - _ms(events[0])
        last = steps[order[-1]]
        if "completed" in last:
            result["last_to_close"] = _ms(events[-1]) - last["completed"]
    return result
