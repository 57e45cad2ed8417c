"""The list conventions every list endpoint shares (core/listing.py, api/common/deps.py), in both dialects: page sizes
and their bounds (400 naming the parameter), multi-key sorting, filters, `include`, links, and dialect 1's cursor walk.

Runs are written straight into the `runs` projection (finished ones, so nothing asks Temporal about them): the
list endpoints read only that table, and the test controls creation times exactly (ties included)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from ulid import ULID

from core.db import session_scope, utcnow
from core.ids import new_id
from core.pipelines.tables import RunRow
from tests.support import cmd


async def _workflow(api: httpx.AsyncClient, name: str | None = None) -> str:
    created = await api.post("/api/v2/workflows", json={"name": name or f"list-{ULID()}", "steps": [cmd("a", "true")]})
    assert created.status_code == 201, created.text
    return created.json()["data"]["id"]


def _runs(workflow_id: str, specs: list[tuple[str, int]]) -> list[str]:
    """One finished run per (status, seconds after a fixed base); equal seconds make equal `created_at`s."""
    base = utcnow() - timedelta(days=1)
    ids = []
    with session_scope() as session:
        for status, offset in specs:
            run_id = new_id("run")
            session.add(RunRow(id=run_id, workflow_id=workflow_id, version=1, status=status,
                               created_at=base + timedelta(seconds=offset)))
            ids.append(run_id)
    return ids


def _field(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    return response.json()["error"]["details"][0]["field"]


# ---- dialect 2 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("params", "field"), [
    ({"page[size]": 101}, "page[size]"), ({"page[size]": 0}, "page[size]"), ({"page[number]": 0}, "page[number]"),
    ({"sort": "-colour"}, "sort"), ({"sort": "created_at"}, "sort"), ({"filter[colour]": "red"}, "filter[colour]"),
    ({"include": "agents"}, "include"),
])
async def test_v2_bounds_are_400_naming_the_parameter(api: httpx.AsyncClient, params: dict, field: str) -> None:
    response = await api.get("/api/v2/workflows", params=params)
    assert _field(response) == field
    assert response.json()["success"] is False


async def test_v2_page_size_100_is_the_maximum(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/v2/workflows", params={"page[size]": 100})).json()
    assert body["meta"]["pagination"]["pageSize"] == 100


async def test_v2_pages_links_filters_and_multi_key_sort(api: httpx.AsyncClient) -> None:
    wf = await _workflow(api)
    # status asc, then newest first; two runs share a second, so only the id orders them.
    _runs(wf, [("succeeded", 1), ("failed", 2), ("succeeded", 3), ("failed", 4), ("succeeded", 3),
               ("cancelled", 5), ("failed", 6)])
    path = f"/api/v2/workflows/{wf}/runs"
    everything = (await api.get(path, params={"sort": "status,-createdAt", "page[size]": 100})).json()["data"]
    keys = [(r["status"], r["createdAt"]) for r in everything]
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)
    for status in ("cancelled", "failed", "succeeded"):
        times = [k[1] for k in keys if k[0] == status]
        assert times == sorted(times, reverse=True)

    pages, url = [], f"{path}?sort=status,-createdAt&filter[status]=succeeded&page[size]=2"
    while url:
        body = (await api.get(url)).json()
        pages.append(body)
        url = body["links"].get("next")
    assert [len(p["data"]) for p in pages] == [2, 1]
    assert [r["id"] for p in pages for r in p["data"]] == [r["id"] for r in everything if r["status"] == "succeeded"]
    first, last = pages[0]["links"], pages[1]["links"]
    assert set(first) == {"self", "first", "next", "last"} and set(last) == {"self", "first", "prev", "last"}
    for link in (*first.values(), *last.values()):
        assert "filter[status]=succeeded" in link and "sort=status,-createdAt" in link and "page[size]=2" in link
    assert "page[number]=1" in last["prev"] and "page[number]=2" in first["last"]
    assert pages[0]["meta"]["pagination"] == {"page": 1, "pageSize": 2, "pageCount": 2, "totalCount": 3}


async def test_v2_include(api: httpx.AsyncClient) -> None:
    wf = await _workflow(api)
    _runs(wf, [("succeeded", 1), ("failed", 2)])
    body = (await api.get("/api/v2/runs", params={"filter[workflowId]": wf, "include": "workflow"})).json()
    assert len(body["data"]) == 2
    assert [w["id"] for w in body["included"]] == [wf]
    assert "include=workflow" in body["links"]["self"]
    assert "included" not in (await api.get("/api/v2/runs", params={"filter[workflowId]": wf})).json()
    assert _field(await api.get("/api/v2/runs", params={"include": "workflow,agents"})) == "include"


# ---- dialect 1 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 101}, "limit"), ({"limit": 0}, "limit"), ({"page": 0}, "page"), ({"order": "sideways"}, "order"),
    ({"sort": "colour"}, "sort"), ({"colour": "red"}, "colour"), ({"cursor": "not-a-cursor"}, "cursor"),
    ({"include": "agents"}, "include"),
])
async def test_v1_bounds_are_400_naming_the_parameter(api: httpx.AsyncClient, params: dict, field: str) -> None:
    response = await api.get("/api/runs", params=params)
    assert _field(response) == field
    assert set(response.json()) == {"error", "request_id"}


async def test_v1_lists_page_sort_and_filter(api: httpx.AsyncClient) -> None:
    name = f"list-v1-{ULID()}"
    wf = await _workflow(api, name)
    ids = _runs(wf, [("succeeded", 1), ("failed", 2), ("succeeded", 3), ("failed", 4), ("succeeded", 5)])
    body = (await api.get("/api/runs", params={"workflow_id": wf, "limit": 2})).json()
    assert body["pagination"] == {"page": 1, "limit": 2, "total": 5, "pages": 3}
    assert body["nextCursor"]
    assert [r["workflow_id"] for r in body["runs"]] == [wf, wf]
    times = [r["created_at"] for r in body["runs"]]
    assert times == sorted(times, reverse=True)  # default: created_at, desc

    sorted_runs = (await api.get("/api/runs", params={"workflow_id": wf, "sort": "status,-created_at",
                                                       "order": "asc"})).json()["runs"]
    assert [r["id"] for r in sorted_runs] == [ids[3], ids[1], ids[4], ids[2], ids[0]]
    oldest_first = (await api.get("/api/runs", params={"workflow_id": wf, "order": "asc"})).json()["runs"]
    assert [r["created_at"] for r in oldest_first] == sorted(r["created_at"] for r in oldest_first)

    failed = (await api.get("/api/runs", params={"workflow_id": wf, "status": "failed", "page": 1})).json()
    assert [r["status"] for r in failed["runs"]] == ["failed", "failed"] and failed["nextCursor"] is None
    second = (await api.get("/api/runs", params={"workflow_id": wf, "limit": 2, "page": 2})).json()
    assert second["pagination"]["page"] == 2 and len(second["runs"]) == 2

    workflows = (await api.get("/api/workflows", params={"name": name})).json()
    assert [w["id"] for w in workflows["workflows"]] == [wf]
    assert {"content_hash", "created_at", "stats"} <= set(workflows["workflows"][0])


@pytest.mark.parametrize("order", ["desc", "asc"])
async def test_v1_cursor_walk_visits_every_item_once_despite_inserts(api: httpx.AsyncClient, order: str) -> None:
    wf = await _workflow(api)
    # Ties on created_at across page boundaries: only the id tiebreaker keeps the walk exact.
    original = _runs(wf, [("succeeded", s) for s in (1, 2, 2, 2, 3, 4, 4, 5, 6, 6, 6, 7, 8)])
    seen: list[str] = []
    params = {"workflow_id": wf, "limit": 3, "order": order}
    cursor, pages = None, 0
    while True:
        body = (await api.get("/api/runs", params={**params, **({"cursor": cursor} if cursor else {})})).json()
        seen += [r["id"] for r in body["runs"]]
        pages += 1
        if pages == 2:  # new runs arrive mid-walk: older than everything, newer than everything, and a tie
            _runs(wf, [("failed", -5), ("failed", 50), ("failed", 4)])
        if pages > 1:
            assert body["pagination"]["page"] is None  # a cursor page has no number
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "an item was visited twice"
    assert set(original) <= set(seen), "an item was skipped"


async def test_v1_cursor_belongs_to_its_sort(api: httpx.AsyncClient) -> None:
    wf = await _workflow(api)
    _runs(wf, [("succeeded", 1), ("succeeded", 2), ("failed", 3)])
    cursor = (await api.get("/api/runs", params={"workflow_id": wf, "limit": 1})).json()["nextCursor"]
    assert _field(await api.get("/api/runs", params={"workflow_id": wf, "cursor": cursor, "order": "asc"})) == \
        "cursor"
    assert _field(await api.get("/api/runs", params={"workflow_id": wf, "cursor": cursor, "page": 2})) == "page"
    follow = await api.get("/api/runs", params={"workflow_id": wf, "limit": 1, "cursor": cursor})
    assert follow.status_code == 200 and follow.json()["pagination"]["page"] is None
