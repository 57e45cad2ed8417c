"""Idempotency-Key on every creating POST (api/idempotency.py, core/idempotency/store.py): replay, reuse with another
body, scoping per caller, failures not kept, in-flight duplicates, 24 h expiry, encryption at rest."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import select
from ulid import ULID

from core.db import session_scope, utcnow
from core.idempotency import store as idempotency
from core.idempotency.tables import IdempotencyRow
from core.settings import get_settings
from tests.support import PASSWORD, client_for, cmd, shared_user, token_for, wait_for_run


def _key() -> str:
    return f"idem-{ULID()}"


def _definition(name: str) -> dict:
    return {"name": name, "steps": [cmd("a", "true")]}


async def _me(client: httpx.AsyncClient) -> str:
    return (await client.get("/api/v2/auth/me")).json()["data"]["id"]


def _slot(user_id: str, path: str, key: str) -> idempotency.Slot:
    return idempotency.slot(get_settings(), f"user:{user_id}", "POST", path, key)


def _body_hash(body: dict) -> str:
    return idempotency.fingerprint(b"", json.dumps(body).encode(), "application/json")


async def _count(api: httpx.AsyncClient, name: str) -> int:
    listed = await api.get("/api/v2/workflows", params={"filter[name]": name})
    return listed.json()["meta"]["pagination"]["totalCount"]


async def test_a_retry_gets_the_first_response_back(api: httpx.AsyncClient) -> None:
    key, name = _key(), f"idem-{ULID()}"
    first = await api.post("/api/v2/workflows", json=_definition(name), headers={"Idempotency-Key": key})
    # The same JSON, spelled differently (key order, spacing), is the same request.
    again = await api.post("/api/v2/workflows", content=json.dumps(_definition(name), indent=2).encode(),
                           headers={"Idempotency-Key": key, "Content-Type": "application/json"})
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["x-request-id"] != first.headers["x-request-id"]  # a new request, with its own id
    assert again.headers["x-content-type-options"] == "nosniff"
    assert await _count(api, name) == 1


async def test_the_same_key_with_another_body_is_422_in_each_dialect(api: httpx.AsyncClient) -> None:
    key = _key()
    assert (await api.post("/api/v2/workflows", json=_definition("a"), headers={"Idempotency-Key": key})
            ).status_code == 201
    reused = await api.post("/api/v2/workflows", json=_definition("b"), headers={"Idempotency-Key": key})
    assert reused.status_code == 422
    body = reused.json()
    assert body["success"] is False
    assert body["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert body["error"]["details"][0]["field"] == "Idempotency-Key"

    assert (await api.post("/api/auth/keys", json={"name": "one"}, headers={"Idempotency-Key": key})
            ).status_code == 201  # another path: another key
    reused_v1 = await api.post("/api/auth/keys", json={"name": "two"}, headers={"Idempotency-Key": key})
    assert reused_v1.status_code == 422
    assert reused_v1.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert reused_v1.json()["request_id"] == reused_v1.headers["x-request-id"]


async def test_keys_are_scoped_per_caller(app: FastAPI, api: httpx.AsyncClient) -> None:
    key = _key()
    mine = await api.post("/api/v2/auth/keys", json={"name": "ci"}, headers={"Idempotency-Key": key})
    assert mine.status_code == 201
    # Another of my sessions is still me: the same key gives me my response (the secret is mine).
    async with client_for(app, token_for("admin")) as other_session:
        replay = await other_session.post("/api/v2/auth/keys", json={"name": "ci"}, headers={"Idempotency-Key": key})
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["data"]["key"] == mine.json()["data"]["key"]
    # Someone else with the same key and body gets their own key, never mine.
    async with client_for(app, token_for("developer")) as developer:
        theirs = await developer.post("/api/v2/auth/keys", json={"name": "ci"}, headers={"Idempotency-Key": key})
        assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
        assert theirs.json()["data"]["key"] != mine.json()["data"]["key"]
        await developer.delete(f"/api/v2/auth/keys/{theirs.json()['data']['id']}")
    await api.delete(f"/api/v2/auth/keys/{mine.json()['data']['id']}")


async def test_register_is_scoped_by_client_address(open_app: FastAPI) -> None:
    app = open_app  # registration is off by default
    name = f"reg{str(ULID()).lower()}"
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    key = _key()
    async with client_for(app) as anon:
        first = await anon.post("/api/v2/auth/register", json=body, headers={"Idempotency-Key": key})
        again = await anon.post("/api/v2/auth/register", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    async with client_for(app) as elsewhere:  # another address: not a retry of that request
        other = await elsewhere.post("/api/v2/auth/register", json=body, headers={"Idempotency-Key": key})
    assert other.status_code == 409 and other.json()["error"]["code"] == "AUTH_USER_EXISTS"


async def test_a_failed_request_is_not_kept(api: httpx.AsyncClient) -> None:
    key, name = _key(), f"idem-{ULID()}"
    bad = await api.post("/api/v2/workflows", json={"name": name, "steps": []}, headers={"Idempotency-Key": key})
    assert bad.status_code == 400
    fixed = await api.post("/api/v2/workflows", json=_definition(name), headers={"Idempotency-Key": key})
    assert fixed.status_code == 201 and "idempotent-replayed" not in fixed.headers


async def test_a_duplicate_while_the_first_is_in_flight_is_409(api: httpx.AsyncClient) -> None:
    key, body = _key(), _definition(f"idem-{ULID()}")
    target = _slot(await _me(api), "/api/v2/workflows", key)
    claimed = idempotency.claim(target, _body_hash(body))  # as if the first request were still running
    assert claimed.kind == "claimed"
    duplicate = await api.post("/api/v2/workflows", json=body, headers={"Idempotency-Key": key})
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "CONFLICT" and duplicate.headers["retry-after"] == "1"
    idempotency.release(target, claimed.owner)
    assert (await api.post("/api/v2/workflows", json=body, headers={"Idempotency-Key": key})).status_code == 201


async def test_concurrent_starts_of_a_run_make_one_run(api: httpx.AsyncClient) -> None:
    wf = (await api.post("/api/v2/workflows", json=_definition("concurrent"))).json()["data"]
    path, headers = f"/api/v2/workflows/{wf['id']}/runs", {"Idempotency-Key": _key()}
    responses = await asyncio.gather(*[api.post(path, json={"inputs": {}}, headers=headers) for _ in range(4)])
    assert {r.status_code for r in responses} <= {202, 409}, [r.text for r in responses]
    run_ids = {r.json()["data"]["id"] for r in responses if r.status_code == 202}
    assert len(run_ids) == 1
    late = await api.post(path, json={"inputs": {}}, headers=headers)
    assert late.status_code == 202 and late.json()["data"]["id"] in run_ids
    assert (await api.get(path)).json()["meta"]["pagination"]["totalCount"] == 1
    await wait_for_run(api, run_ids.pop())


async def test_an_abandoned_claim_is_taken_over_after_its_lease(api: httpx.AsyncClient) -> None:
    key, body = _key(), _definition(f"idem-{ULID()}")
    target = _slot(await _me(api), "/api/v2/workflows", key)
    crashed = idempotency.claim(target, _body_hash(body), now=utcnow() - idempotency.LEASE - timedelta(seconds=1))
    assert crashed.kind == "claimed"
    assert (await api.post("/api/v2/workflows", json=body, headers={"Idempotency-Key": key})).status_code == 201


async def test_keys_expire_after_24_hours(api: httpx.AsyncClient) -> None:
    key = _key()
    assert (await api.post("/api/v2/workflows", json=_definition("day-1"), headers={"Idempotency-Key": key})
            ).status_code == 201
    target = _slot(await _me(api), "/api/v2/workflows", key)
    with session_scope() as session:
        row = session.get(IdempotencyRow, target.id)
        row.created_at = utcnow() - idempotency.TTL - timedelta(minutes=1)
        session.add(row)
    # Expired: the key is free again, even for another body.
    later = await api.post("/api/v2/workflows", json=_definition("day-2"), headers={"Idempotency-Key": key})
    assert later.status_code == 201 and "idempotent-replayed" not in later.headers
    # And the sweep deletes expired rows.
    with session_scope() as session:
        row = session.get(IdempotencyRow, target.id)
        row.created_at = utcnow() - idempotency.TTL - timedelta(minutes=1)
        session.add(row)
    assert idempotency.sweep(force=True) >= 1
    with session_scope() as session:
        assert session.get(IdempotencyRow, target.id) is None


async def test_stored_responses_are_encrypted_and_keys_not_stored(api: httpx.AsyncClient) -> None:
    key = f"secret-looking-{ULID()}"
    created = await api.post("/api/auth/keys", json={"name": "at-rest"}, headers={"Idempotency-Key": key})
    secret = created.json()["key"]
    with session_scope() as session:
        rows = session.exec(select(IdempotencyRow)).all()
    dump = json.dumps([row.model_dump(mode="json") for row in rows])
    assert secret not in dump and secret[:12] not in dump
    assert key not in dump and "at-rest" not in dump
    await api.delete(f"/api/auth/keys/{created.json()['id']}")


async def test_posts_that_create_nothing_ignore_the_header(app: FastAPI) -> None:
    user = shared_user("viewer")
    async with client_for(app) as anon:
        logins = [await anon.post("/api/v2/auth/login", json={"username": user.username, "password": PASSWORD},
                                  headers={"Idempotency-Key": "same"}) for _ in range(2)]
    assert [r.status_code for r in logins] == [200, 200]
    assert logins[0].json()["data"]["accessToken"] != logins[1].json()["data"]["accessToken"]
    assert all("idempotent-replayed" not in r.headers for r in logins)


async def test_bodies_that_are_not_json_objects_are_fingerprinted_too(api: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": _key(), "Content-Type": "application/json"}
    for body in (b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe", b"not json"):  # nested too deep, not UTF-8, not JSON
        response = await api.post("/api/v2/workflows", content=body, headers=headers)
        assert response.status_code == 400, response.text


@pytest.mark.parametrize("key", ["", "x" * 256, "with space"])
async def test_a_malformed_key_is_400(api: httpx.AsyncClient, key: str) -> None:
    response = await api.post("/api/v2/workflows", json=_definition("bad-key"), headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "Idempotency-Key"


def test_the_schema_documents_the_header_on_creating_operations_only(app: FastAPI) -> None:
    documented = {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    }
    assert {("POST", "/api/v2/workflows"), ("POST", "/api/v2/workflows/{workflow_id}/runs"),
            ("POST", "/api/v2/auth/keys"), ("POST", "/api/auth/keys"), ("POST", "/api/v2/auth/register")} <= documented
    assert not documented & {("POST", "/api/v2/auth/login"), ("POST", "/api/auth/token"),
                             ("POST", "/api/v2/auth/refresh"), ("POST", "/api/v2/auth/logout")}
    assert all(method == "POST" for method, _ in documented)


async def test_a_keyed_start_derives_its_run_id_so_a_retry_after_a_lost_answer_finds_the_same_run(
        api: httpx.AsyncClient, temporal_client) -> None:
    """The first attempt started the run but its answer never arrived (a killed API; a Temporal restart): its claim
    is gone, so the retry runs the route again — and lands on the same workflow, not a second run."""
    from core.idempotency import store

    created = await api.post("/api/v2/workflows", json={"name": "keyed", "steps": [
        {"id": "a", "action": "execute-command", "parameters": {"command": "true"}}]})
    url = f"/api/v2/workflows/{created.json()['data']['id']}/runs"
    first = await api.post(url, json={}, headers={"Idempotency-Key": "lost-answer-1"})
    assert first.status_code == 202, first.text
    run_id = first.json()["data"]["id"]
    with store.session_scope() as session:  # as if the first request's process had died before storing its answer
        session.exec(store.delete(store.IdempotencyRow))
    again = await api.post(url, json={}, headers={"Idempotency-Key": "lost-answer-1"})
    assert again.status_code == 202, again.text
    assert again.json()["data"]["id"] == run_id and again.headers.get("idempotent-replayed") is None
    other = await api.post(url, json={}, headers={"Idempotency-Key": "lost-answer-2"})
    assert other.json()["data"]["id"] != run_id
    await wait_for_run(api, run_id)
    with store.session_scope() as session:
        session.exec(store.delete(store.IdempotencyRow))
    after_end = await api.post(url, json={}, headers={"Idempotency-Key": "lost-answer-1"})
    assert after_end.status_code == 202 and after_end.json()["data"]["id"] == run_id  # finished: still that run
    listed = [w async for w in temporal_client.list_workflows(f"WorkflowId = '{run_id}'")]
    assert len(listed) <= 1  # visibility may lag; never two executions


async def test_a_claim_whose_process_died_is_taken_over_after_the_lease() -> None:
    from datetime import timedelta

    from core.idempotency import store
    from core.settings import get_settings

    target = store.slot(get_settings(), "user:lease", "POST", "/x", "k")
    first = store.claim(target, "h")
    assert first.kind == "claimed" and store.renew(target, first.owner)
    assert store.claim(target, "h").kind == "in_flight"
    later = store.utcnow() + store.LEASE + timedelta(seconds=1)
    assert store.claim(target, "h", now=later).kind == "claimed"  # nobody renewed it: taken over
    assert not store.renew(target, first.owner)  # the first owner lost it
