"""Definitions synced from git: a local bare repository over file:// and over HTTP (`git http-backend` as a local
fake with a token): a push updates a definition (recording its commit), a bad file leaves the old version and is
reported with file and line, the token never appears in a URL, a response or the sync's record."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.fakes.git_http import GitHttpServer
from tests.support import token_for

GOOD = "name: {name}\nsteps:\n  - id: hello\n    action: execute-command\n    parameters:\n      command: echo {word}\n"
BAD = "name: broken\nsteps:\n  - id: hello\n    action: execute-comand\n"


def git(*args: str, cwd: Path) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    """(a bare repository, a working clone of it with `definitions/` committed on main)."""
    bare = tmp_path / "served" / "defs.git"
    bare.mkdir(parents=True)
    git("init", "--bare", "--initial-branch=main", cwd=bare)
    work = tmp_path / "work"
    work.mkdir()
    git("init", "--initial-branch=main", cwd=work)
    (work / "definitions").mkdir()
    prefix = tmp_path.name[-8:].lower().replace("_", "-")
    (work / "definitions" / f"synced-{prefix}.yaml").write_text(GOOD.format(name="synced", word="one"))
    git("add", ".", cwd=work)
    git("commit", "-m", "first", cwd=work)
    git("remote", "add", "origin", str(bare), cwd=work)
    git("push", "origin", "main", cwd=work)
    return bare, work


async def _synced(api: httpx.AsyncClient, source_id: str, commit: str) -> dict:
    for _ in range(300):
        body = (await api.get(f"/api/v2/sources/{source_id}")).json()["data"]
        if body["status"] in ("ok", "ok-with-errors", "failed") and body["lastResult"].get("commit") == commit:
            return body
        if body["status"] == "failed":
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(body)


def _commit(work: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (work / "definitions" / name).write_text(text)
    git("add", ".", cwd=work)
    git("commit", "-m", message, cwd=work)
    git("push", "origin", "main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


async def test_sync_from_a_file_url(api: httpx.AsyncClient, repo: tuple[Path, Path]) -> None:
    bare, work = repo
    name = next((work / "definitions").glob("*.yaml")).stem
    first = git("rev-parse", "HEAD", cwd=work)
    created = await api.post("/api/v2/sources", json={"name": "local", "url": f"file://{bare}", "interval": 0})
    assert created.status_code == 201, created.text
    source_id = created.json()["data"]["id"]
    synced = await _synced(api, source_id, first)
    assert synced["status"] == "ok" and synced["lastResult"]["created"] == [name], synced
    workflow = (await api.get(f"/api/v2/workflows/{name}")).json()["data"]
    assert workflow["commit"] == first and workflow["version"] == 1
    assert workflow["source"] == f"git:{source_id}:definitions/{name}.yaml"

    # a push changes the definition and adds a broken file: the good one is versioned, the bad one reported
    second = _commit(work, {f"{name}.yaml": GOOD.format(name="synced", word="two"), "broken.yaml": BAD}, "second")
    assert (await api.post(f"/api/v2/sources/{source_id}/sync")).status_code == 202
    synced = await _synced(api, source_id, second)
    assert synced["status"] == "ok-with-errors" and synced["lastResult"]["versioned"] == [name]
    error = synced["lastResult"]["errors"][0]
    assert error["file"] == "definitions/broken.yaml" and error["line"] == 4 and "execute-comand" in error["message"]
    workflow = (await api.get(f"/api/v2/workflows/{name}")).json()["data"]
    assert workflow["version"] == 2 and workflow["commit"] == second
    assert workflow["definition"]["steps"][0]["parameters"]["command"] == "echo two"
    assert (await api.get("/api/v2/workflows/broken")).status_code == 404

    # breaking the good file keeps its current version
    third = _commit(work, {f"{name}.yaml": BAD}, "third")
    await api.post(f"/api/v2/sources/{source_id}/sync")
    synced = await _synced(api, source_id, third)
    assert (await api.get(f"/api/v2/workflows/{name}")).json()["data"]["version"] == 2
    assert {e["file"] for e in synced["lastResult"]["errors"]} == {"definitions/broken.yaml",
                                                                    f"definitions/{name}.yaml"}


async def test_file_urls_are_for_admins_and_urls_carry_no_credentials(api: httpx.AsyncClient) -> None:
    developer = {"Authorization": f"Bearer {token_for('developer')}"}
    assert (await api.post("/api/v2/sources", json={"name": "x", "url": "file:///etc"},
                           headers=developer)).status_code == 403
    for url in ("https://user:pw@github.com/a/b.git", "ext::sh -c id", "ssh://github.com/a/b", "git://x/y"):
        response = await api.post("/api/v2/sources", json={"name": "x", "url": url})
        assert response.status_code == 400, (url, response.text)
    internal = await api.post("/api/v2/sources", json={"name": "x", "url": "http://10.1.2.3/repo.git"})
    assert internal.status_code == 400 and "STELLARFLOW_EGRESS_ALLOW" in internal.text


async def test_sync_over_http_with_a_token_and_a_push_webhook(api: httpx.AsyncClient, anon_api: httpx.AsyncClient,
                                                              repo: tuple[Path, Path], app) -> None:
    from pydantic import SecretStr

    from core.webhooks.github import sign
    from tests.support import settings_changed

    bare, work = repo
    name = next((work / "definitions").glob("*.yaml")).stem
    token = "ghp_testtoken_0123456789abcdef"
    with GitHttpServer(bare.parent, token=token) as server:
        url = f"{server.url}/defs.git"
        created = await api.post("/api/v2/sources", json={"name": "over http", "url": url, "token": token,
                                                          "interval": 0})
        assert created.status_code == 201, created.text
        data = created.json()["data"]
        assert data["hasToken"] is True and token not in created.text
        source_id = data["id"]
        first = git("rev-parse", "HEAD", cwd=work)
        synced = await _synced(api, source_id, first)
        assert synced["status"] == "ok", synced
        assert all(token not in path for path, _ in server.requests)
        assert any(auth and auth.startswith("Basic ") for _, auth in server.requests)
        assert token not in json.dumps(synced)

        # a GitHub push to the source's branch syncs it
        second = _commit(work, {f"{name}.yaml": GOOD.format(name="synced", word="pushed")}, "pushed")
        secret = "global-github-secret-0123456789"
        payload = {"ref": "refs/heads/main", "after": second, "repository": {"full_name": "local/defs",
                   "clone_url": url}, "commits": []}
        body = json.dumps(payload).encode()
        with settings_changed(app, github_webhook_secret=SecretStr(secret)):
            response = await anon_api.post("/api/v2/webhooks/github", content=body, headers={
                "x-github-event": "push", "x-github-delivery": f"push-{second}",
                "x-hub-signature-256": sign(secret.encode(), body), "content-type": "application/json"})
        assert response.status_code == 202, response.text
        assert response.json()["data"]["syncs"] == [source_id]
        synced = await _synced(api, source_id, second)
        assert (await api.get(f"/api/v2/workflows/{name}")).json()["data"]["commit"] == second

    # a wrong token: the sync fails, and says so without the token
    with GitHttpServer(bare.parent, token="another-token-zzzzzzzzzz") as server:
        created = await api.post("/api/v2/sources", json={"name": "denied", "url": f"{server.url}/defs.git",
                                                          "token": token, "interval": 0})
        source_id = created.json()["data"]["id"]
        for _ in range(300):
            body = (await api.get(f"/api/v2/sources/{source_id}")).json()["data"]
            if body["status"] == "failed":
                break
            await asyncio.sleep(0.1)
        assert body["status"] == "failed" and "git clone failed" in body["lastResult"]["error"]
        assert token not in json.dumps(body)
