"""Webhook triggers: GitHub deliveries signed exactly as GitHub signs them (HMAC-SHA256 of the raw body in
X-Hub-Signature-256), good, bad, missing and replayed; the filter tables; generic signed webhooks; the delivery
log."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from core.dsl.models import Trigger
from core.webhooks.filters import accepts, glob_match, included
from core.webhooks.github import sign
from tests.support import cmd, settings_changed, token_for, wait_for_run

SECRET = "global-github-secret-0123456789"


def delivery(event: str, payload: dict, secret: str | None = SECRET, *, delivery_id: str | None = None,
             signature: str | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json", "x-github-event": event,
               "x-github-delivery": delivery_id or str(uuid.uuid4())}
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    elif secret is not None:
        headers["x-hub-signature-256"] = sign(secret.encode(), body)
    return body, headers


def push(ref: str = "refs/heads/main", files: list[str] | None = None, repo: str = "acme/shop") -> dict:
    return {"ref": ref, "after": "a" * 40,
            "repository": {"full_name": repo, "clone_url": f"https://github.com/{repo}.git"},
            "sender": {"login": "octocat"},
            "commits": [{"added": files or ["src/app.py"], "modified": [], "removed": []}]}


@pytest.fixture
def github_secret(app):
    from pydantic import SecretStr

    with settings_changed(app, github_webhook_secret=SecretStr(SECRET)):
        yield


async def test_signatures_good_bad_missing_and_replayed(api: httpx.AsyncClient, anon_api: httpx.AsyncClient,
                                                        github_secret: None) -> None:
    created = await api.post("/api/v2/workflows", json={
        "name": "on push", "triggers": [{"type": "github", "event": "push", "branches": ["main"],
                                         "repository": "acme/shop"}],
        "steps": [cmd("show", 'echo "{{ github.ref }} {{ github.sha }} {{ github.repository }} '
                              '{{ github.event.sender.login }} {{ trigger.type }}"')]})
    workflow_id = created.json()["data"]["id"]
    body, headers = delivery("push", push())
    response = await anon_api.post("/api/v2/webhooks/github", content=body, headers=headers)
    assert response.status_code == 202, response.text
    data = response.json()["data"]
    assert workflow_id in data["matched"] and len(data["runs"]) >= 1
    runs = [(await api.get(f"/api/v2/runs/{run_id}")).json()["data"] for run_id in data["runs"]]
    ours = await wait_for_run(api, next(r["id"] for r in runs if r["workflowId"] == workflow_id))
    assert ours["status"] == "succeeded"
    assert ours["steps"][0]["outputs"]["stdout"].strip() == f"refs/heads/main {'a' * 40} acme/shop octocat github"
    assert ours["trigger"] == {"type": "github", "delivery": headers["x-github-delivery"], "event": "push"}

    # the same delivery again (GitHub's "Redeliver"): nothing new, the first runs answered
    again = await anon_api.post("/api/v2/webhooks/github", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["data"]["duplicate"] is True
    assert again.json()["data"]["runs"] == data["runs"]

    # a wrong secret, a tampered body, no signature: 401 and nothing recorded
    before = (await api.get("/api/v2/webhooks/deliveries", params={"page[size]": 100})).json()["meta"]
    for bad_body, bad_headers in [delivery("push", push(), "wrong-secret-0123456789abc"),
                                  (body + b" ", headers | {"x-github-delivery": "tampered"}),
                                  delivery("push", push(), None),
                                  delivery("push", push(), signature="sha256=" + "0" * 64)]:
        refused = await anon_api.post("/api/v2/webhooks/github", content=bad_body, headers=bad_headers)
        assert refused.status_code == 401, refused.text
    after = (await api.get("/api/v2/webhooks/deliveries", params={"page[size]": 100})).json()["meta"]
    assert after["pagination"]["totalCount"] == before["pagination"]["totalCount"]


async def test_ping_filters_and_the_delivery_log(api: httpx.AsyncClient, anon_api: httpx.AsyncClient,
                                                 github_secret: None) -> None:
    body, headers = delivery("ping", {"zen": "Keep it logically awesome.", "hook_id": 1})
    pong = await anon_api.post("/api/v2/webhooks/github", content=body, headers=headers)
    assert pong.status_code == 200 and pong.json()["data"]["status"] == "ignored"
    created = await api.post("/api/v2/workflows", json={
        "name": "docs only", "triggers": [{"type": "github", "event": "push", "paths": ["docs/**"],
                                           "repository": "acme/docs-only"}], "steps": [cmd("a", "true")]})
    workflow_id = created.json()["data"]["id"]
    body, headers = delivery("push", push(files=["src/x.py"], repo="acme/docs-only"))
    skipped = (await anon_api.post("/api/v2/webhooks/github", content=body, headers=headers)).json()["data"]
    assert workflow_id not in skipped["matched"]
    assert "no changed file matches paths" in skipped["details"]["notMatched"][workflow_id]
    listed = (await api.get("/api/v2/webhooks/deliveries", params={"page[size]": 100})).json()["data"]
    assert any(item["deliveryId"] == headers["x-github-delivery"] for item in listed)
    # others see the deliveries that concerned their workflows only
    developer = (await api.get("/api/v2/webhooks/deliveries",
                               headers={"Authorization": f"Bearer {token_for('viewer')}"})).json()["data"]
    assert all(item["deliveryId"] != headers["x-github-delivery"] for item in developer)


async def test_a_trigger_with_its_own_secret(api: httpx.AsyncClient, anon_api: httpx.AsyncClient) -> None:
    own = "per-workflow-secret-abcdefgh"
    assert (await api.put("/api/v2/webhooks/secrets/shop-hook", json={"value": own})).status_code == 200
    listed = (await api.get("/api/v2/webhooks/secrets")).json()["data"]
    assert any(s["name"] == "shop-hook" for s in listed) and own not in json.dumps(listed)
    created = await api.post("/api/v2/workflows", json={
        "name": "pr", "inputs": {"label": {"type": "string", "default": "x"}},
        "triggers": [{"type": "github", "event": "pull_request", "secret": "shop-hook", "branches": ["main"],
                      "repository": "acme/pr"}],
        "steps": [cmd("pr", 'echo "{{ github.number }} {{ github.head_ref }}->{{ github.base_ref }}"')]})
    assert created.status_code == 201, created.text
    pr = {"action": "opened", "number": 7, "repository": {"full_name": "acme/pr"},
          "pull_request": {"number": 7, "head": {"ref": "feature", "sha": "b" * 40}, "base": {"ref": "main"}}}
    body, headers = delivery("pull_request", pr, own)
    started = await anon_api.post("/api/v2/webhooks/github", content=body, headers=headers)
    assert started.status_code == 202, started.text
    run = await wait_for_run(api, started.json()["data"]["runs"][0])
    assert run["steps"][0]["outputs"]["stdout"].strip() == "7 feature->main"
    closed = {**pr, "action": "closed"}
    body, headers = delivery("pull_request", closed, own)
    assert (await anon_api.post("/api/v2/webhooks/github", content=body,
                                headers=headers)).json()["data"]["status"] == "no_match"


async def test_generic_webhooks(api: httpx.AsyncClient, anon_api: httpx.AsyncClient) -> None:
    secret = "generic-secret-0123456789"
    await api.put("/api/v2/webhooks/secrets/deploy-hook", json={"value": secret})
    created = await api.post("/api/v2/workflows", json={
        "name": "hooked", "inputs": {"env": {"type": "string", "default": "dev"}},
        "triggers": [{"type": "webhook", "secret": "deploy-hook"}],
        "steps": [cmd("show", 'echo "{{ inputs.env }} {{ webhook.payload.reason }}"')]})
    workflow_id = created.json()["data"]["id"]
    body = json.dumps({"inputs": {"env": "prod"}, "reason": "release"}).encode()
    signed = {"content-type": "application/json", "x-hub-signature-256": sign(secret.encode(), body)}
    response = await anon_api.post(f"/api/v2/webhooks/{workflow_id}", content=body, headers=signed)
    assert response.status_code == 202, response.text
    run = await wait_for_run(api, response.json()["data"]["runs"][0])
    assert run["steps"][0]["outputs"]["stdout"].strip() == "prod release"
    assert (await anon_api.post(f"/api/v2/webhooks/{workflow_id}", content=body,
                                headers=signed)).json()["data"]["duplicate"] is True
    assert (await anon_api.post(f"/api/v2/webhooks/{workflow_id}", content=body,
                                headers={"x-hub-signature-256": sign(b"nope-nope-nope-nope", body)})).status_code == 401
    assert (await anon_api.post(f"/api/v2/webhooks/{workflow_id}", content=body)).status_code == 401
    assert (await anon_api.post("/api/v2/webhooks/wf-none", content=body, headers=signed)).status_code == 401
    unsigned = await api.post("/api/v2/workflows", json={"name": "open", "triggers": [{"type": "webhook"}],
                                                         "steps": [cmd("a", "true")]})
    assert unsigned.status_code == 400 and "secret" in unsigned.text


@pytest.mark.parametrize(("pattern", "value", "expected"), [
    ("main", "main", True), ("main", "mainline", False), ("releases/*", "releases/v1", True),
    ("releases/*", "releases/v1/hotfix", False), ("releases/**", "releases/v1/hotfix", True),
    ("feature-?", "feature-a", True), ("feature-?", "feature-ab", False), ("v[12].*", "v2.0", True),
    ("v[12].*", "v3.0", False), ("**.py", "src/app.py", True), ("*.py", "src/app.py", False),
    ("docs/**", "docs/a/b.md", True), ("v1+", "v111", True),
])
def test_glob_semantics(pattern: str, value: str, expected: bool) -> None:
    assert glob_match(value, pattern) is expected


def test_negation_patterns_last_match_wins() -> None:
    patterns = ["releases/**", "!releases/**-alpha"]
    assert included("releases/v1", patterns) and not included("releases/v1-alpha", patterns)
    assert included("releases/v1-alpha", [*patterns, "releases/v1-alpha"])


def _trigger(**fields) -> Trigger:
    return Trigger.model_validate({"type": "github", **fields})


@pytest.mark.parametrize(("fields", "ref", "files", "expected"), [
    ({"event": "push"}, "refs/heads/anything", None, True),
    ({"event": "push", "branches": ["main"]}, "refs/heads/main", None, True),
    ({"event": "push", "branches": ["main"]}, "refs/heads/dev", None, False),
    ({"event": "push", "branches": ["main"]}, "refs/tags/v1", None, False),  # branch filters only: no tags
    ({"event": "push", "branches-ignore": ["wip/**"]}, "refs/heads/wip/a/b", None, False),
    ({"event": "push", "branches-ignore": ["wip/**"]}, "refs/heads/main", None, True),
    ({"event": "push", "tags": ["v*"]}, "refs/tags/v1.2", None, True),
    ({"event": "push", "tags": ["v*"]}, "refs/heads/main", None, False),  # tag filters only: no branches
    ({"event": "push", "tags-ignore": ["*-rc"]}, "refs/tags/v1-rc", None, False),
    ({"event": "push", "paths": ["src/**"]}, "refs/heads/main", ["src/a.py", "README.md"], True),
    ({"event": "push", "paths": ["src/**"]}, "refs/heads/main", ["README.md"], False),
    ({"event": "push", "paths-ignore": ["docs/**"]}, "refs/heads/main", ["docs/a.md"], False),
    ({"event": "push", "paths-ignore": ["docs/**"]}, "refs/heads/main", ["docs/a.md", "src/b.py"], True),
    ({"event": "push", "branches": ["main"], "paths": ["!**.md", "**"]}, "refs/heads/main", ["a.md"], True),
    ({"event": "pull_request"}, "refs/heads/main", None, False),  # another event
])
def test_push_filter_table(fields: dict, ref: str, files: list[str] | None, expected: bool) -> None:
    payload = {"ref": ref, "commits": [{"added": files or [], "modified": [], "removed": []}] if files else []}
    assert accepts(_trigger(**fields), "push", payload)[0] is expected


@pytest.mark.parametrize(("fields", "action", "base", "expected"), [
    ({}, "opened", "main", True), ({}, "synchronize", "main", True), ({}, "reopened", "dev", True),
    ({}, "closed", "main", False), ({"types": ["closed"]}, "closed", "main", True),
    ({"branches": ["main"]}, "opened", "dev", False), ({"branches-ignore": ["dev"]}, "opened", "dev", False),
])
def test_pull_request_filter_table(fields: dict, action: str, base: str, expected: bool) -> None:
    payload = {"action": action, "pull_request": {"base": {"ref": base}, "head": {"ref": "x"}}}
    assert accepts(_trigger(event="pull_request", **fields), "pull_request", payload)[0] is expected


def test_release_and_dispatch_filters() -> None:
    release = {"action": "published", "release": {"tag_name": "v2.0"}}
    assert accepts(_trigger(event="release", types=["published"], tags=["v2.*"]), "release", release)[0]
    assert not accepts(_trigger(event="release", types=["created"]), "release", release)[0]
    dispatch = {"ref": "refs/heads/main", "inputs": {"x": "1"}}
    assert accepts(_trigger(event="workflow_dispatch", branches=["main"]), "workflow_dispatch", dispatch)[0]
    assert not accepts(_trigger(event="workflow_dispatch", branches=["dev"]), "workflow_dispatch", dispatch)[0]
