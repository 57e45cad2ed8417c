"""Dialect 2 (`/api/v2`): `{"success": true, "data", "meta", "links"}` envelopes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from core.auth.api_keys import ApiKeyInfo
from core.auth.sessions import TokenPair
from core.auth.users import UserInfo
from core.events.models import Event
from core.listing import Page
from core.pipelines.definitions import WorkflowInfo
from core.pipelines.runs import RunInfo, ui_link
from core.settings import Settings


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ok(data: Any, *, meta: dict[str, Any] | None = None, links: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": True, "data": data, "meta": {"timestamp": now_iso(), **(meta or {})}}
    if links:
        body["links"] = links
    return body


def paged(items: list[Any], page: Page, path: str, extra_query: dict[str, str] | None = None, *,
          included: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A list body: `data`, `meta.pagination`, `links` first/prev/self/next/last (each keeping the request's
    filters, sort and include), and `included` when the request asked for related resources."""
    base = {**page.request.link_query(), **(extra_query or {})}

    def link(number: int) -> str:
        query = {**base, "page[number]": str(number), "page[size]": str(page.request.size)}
        return f"{path}?{urlencode(query, safe='[]-,')}"

    links = {"self": link(page.request.number), "first": link(1)}
    if page.request.number > 1:
        links["prev"] = link(min(page.request.number - 1, page.page_count))
    if page.request.number < page.page_count:
        links["next"] = link(page.request.number + 1)
    links["last"] = link(page.page_count)
    pagination = {"page": page.request.number, "pageSize": page.request.size,
                  "pageCount": page.page_count, "totalCount": page.total}
    body = ok(items, meta={"pagination": pagination}, links=links)
    if included is not None:
        body["included"] = included
    return body


def workflow(info: WorkflowInfo, *, with_definition: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": info.id,
        "name": info.name,
        "description": info.description,
        "status": info.status,
        "version": info.version,
        "contentHash": info.contentHash,
        "source": info.source,
        "createdAt": iso(info.createdAt),
        "updatedAt": iso(info.updatedAt),
        "nextRun": iso(info.nextRun),
        "stats": info.stats.model_dump(),
        "links": {"self": f"/api/v2/workflows/{info.id}", "runs": f"/api/v2/workflows/{info.id}/runs"},
    }
    if with_definition:
        body["definition"] = info.definition
    return body


def run(info: RunInfo, settings: Settings, *, with_steps: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": info.id,
        "workflowId": info.workflowId,
        "version": info.version,
        "status": info.status.value,
        "inputs": info.inputs,
        "createdAt": iso(info.createdAt),
        "startedAt": iso(info.startedAt),
        "endedAt": iso(info.endedAt),
        "durationMs": info.duration_ms,
        "error": info.error,
        "summary": info.summary,
        "links": run_links(info.id, info.workflowId, settings),
    }
    if with_steps:
        body["steps"] = [step.model_dump(mode="json", exclude_none=True) for step in info.steps]
    return body


def run_links(run_id: str, workflow_id: str, settings: Settings) -> dict[str, str]:
    return {
        "self": f"/api/v2/runs/{run_id}",
        "workflow": f"/api/v2/workflows/{workflow_id}",
        "events": f"/api/v2/runs/{run_id}/logs",
        "logs": f"/api/v2/runs/{run_id}/logs",
        "cancel": f"/api/v2/runs/{run_id}/cancel",
        "temporalUi": ui_link(settings, run_id),
    }


def event(item: Event) -> dict[str, Any]:
    return {"seq": item.seq, "type": item.type, "at": iso(item.at), "data": item.data}


def logs(info: RunInfo, events: list[Event]) -> dict[str, Any]:
    steps = []
    for step in info.steps:
        for unit in step.instances or [step]:
            entry = {"stepId": unit.id, "status": unit.status.value, "attempts": unit.attempts}
            for key in ("exitCode", "stdout", "stderr", "truncated"):
                if key in unit.outputs:
                    entry[key] = unit.outputs[key]
            if unit.error:
                entry["error"] = unit.error
            steps.append(entry)
    return {"runId": info.id, "status": info.status.value, "steps": steps, "events": [event(e) for e in events]}


# ---- auth --------------------------------------------------------------------------------------------


def user(info: UserInfo) -> dict[str, Any]:
    return {"id": info.id, "username": info.username, "email": info.email, "fullName": info.fullName,
            "role": info.role, "createdAt": iso(info.createdAt)}


def token_pair(pair: TokenPair, *, with_user: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"accessToken": pair.access_token, "refreshToken": pair.refresh_token,
                            "tokenType": "Bearer", "expiresIn": pair.expires_in}
    if with_user:
        body["user"] = {"id": pair.user.id, "username": pair.user.username, "role": pair.user.role,
                        "permissions": pair.user.permissions}
    return body


def api_key(info: ApiKeyInfo, *, key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": info.id, "name": info.name, "prefix": info.prefix,
                            "createdAt": iso(info.createdAt), "lastUsedAt": iso(info.lastUsedAt),
                            "expiresAt": iso(info.expiresAt), "links": {"self": f"/api/v2/auth/keys/{info.id}"}}
    if key is not None:
        body["key"] = key  # shown once, at creation
    return body
