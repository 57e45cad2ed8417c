"""GitHub analysis and PR enhancement against a local fake GitHub (tests/fakes/github.py: REST + git over smart
HTTP, with a token): a fixture repository with planted issues — a bandit finding, a committed fake secret, a
complex function — each found with file and line, a clean file not flagged, JavaScript reported as not analysed by
the Python-only tools; the token never in a URL, a response or an event; unknown ids 404; a PR security review
posts inline comments on changed lines only."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from core.events.store import list_events
from core.settings import reset_settings
from tests.fakes.github import FakeGitHub
from tests.fakes.http_server import Reply
from tests.fakes.openai_server import CHAT_PATH, FakeOpenAIServer, completion
from tests.support import bearer, poll, settings_changed, token_for

TOKEN = "ghp_fake0123456789abcdefTOKEN"
REPOSITORY = "octo-org/planted"

INSECURE = """import subprocess


def run(command):
    return subprocess.call(command, shell=True)
"""
SECRET_ENV = "REGION=eu-west-1\nAWS_ACCESS_KEY_ID=AKIAZ7QJ3M4XK2PLW8RT\n"
CLEAN = '''def add(a, b):
    """The sum."""
    return a + b
'''
COMPLEX = "def classify(x):\n" + "".join(
    f"    {'if' if i == 0 else 'elif'} x == {i}:\n        return {i * 3}\n" for i in range(14)) + "    return -1\n"
JS = "function greet(name) {\n  return 'hi ' + name;\n}\n"
CLEAN_TEST = "from app.clean import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
AGENT_TESTS = """Here are the tests.

```python path=tests/test_insecure.py
from app.insecure import run


def test_run_succeeds():
    assert run("true") == 0


def test_run_fails():
    assert run("false") == 1
```
"""
DESCRIPTION = "## Summary\n\nAdds a first test of `add`."
PR_ADDITION = "\n\ndef evaluate(expression):\n    return eval(expression)\n"


def git(*args: str, cwd: Path) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def plant_repository(tmp_path: Path) -> Path:
    """`octo-org/planted` as a bare repository under the returned root (main: the planted files; `feature`, PR 7's
    head, appending an eval to app/insecure.py; `tested`, PR 8's, adding a first test)."""
    root = tmp_path / "github"
    bare = root / f"{REPOSITORY}.git"
    bare.mkdir(parents=True)
    git("init", "--bare", "--initial-branch=main", cwd=bare)
    work = tmp_path / "work"
    work.mkdir()
    git("init", "--initial-branch=main", cwd=work)
    for name, text in {"app/insecure.py": INSECURE, "app/clean.py": CLEAN, "app/complex.py": COMPLEX,
                       "config.env": SECRET_ENV, "web/greet.js": JS}.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git("add", ".", cwd=work)
    git("commit", "-m", "planted", cwd=work)
    git("push", str(bare), "main", cwd=work)
    git("checkout", "-b", "feature", cwd=work)
    (work / "app/insecure.py").write_text(INSECURE + PR_ADDITION)
    git("commit", "-am", "add evaluate", cwd=work)
    git("push", str(bare), "feature", cwd=work)
    git("checkout", "-b", "tested", "main", cwd=work)
    (work / "tests").mkdir()
    (work / "tests/test_clean.py").write_text(CLEAN_TEST)
    (work / "app/__init__.py").write_text("")
    git("add", ".", cwd=work)
    git("commit", "-m", "a first test", cwd=work)
    git("push", str(bare), "tested", cwd=work)
    return root


@pytest.fixture
def github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """The fake GitHub serving `octo-org/planted` (plant_repository), with the worker's settings pointing at it."""
    root = plant_repository(tmp_path)
    with FakeGitHub(root, token=TOKEN) as fake:
        fake.add_pull(REPOSITORY, 7, "feature")
        fake.add_pull(REPOSITORY, 8, "tested")
        monkeypatch.setenv("STELLARFLOW_GITHUB_API_URL", fake.url)
        monkeypatch.setenv("STELLARFLOW_GITHUB_TOKEN", TOKEN)
        reset_settings()
        yield fake
    reset_settings()


def _where(findings: list[dict]) -> set[tuple[str, int, str]]:
    return {(f["file"], f["line"], f["tool"]) for f in findings}


async def test_analysis_finds_the_planted_issues(api: httpx.AsyncClient, github: FakeGitHub) -> None:
    started = await api.post("/api/v2/github/repos/analyze", json={
        "repository": REPOSITORY, "analysisType": ["code-quality", "security", "performance"], "branch": "main",
        "depth": "shallow"})
    assert started.status_code == 202, started.text
    data = started.json()["data"]
    analysis_id = data["analysisId"]
    assert analysis_id.startswith("gh-analysis-") and [p["name"] for p in data["phases"]] == [
        "code-quality", "security", "performance"]
    assert started.json()["links"]["results"] == f"/api/v2/github/analysis/{analysis_id}"

    body = await poll(api, f"/api/v2/github/analysis/{analysis_id}",
                      lambda b: b["data"]["status"] in ("completed", "failed"), timeout=120, interval=0.3)
    result = body["data"]
    assert result["status"] == "completed" and result["error"] is None, result
    head = git("rev-parse", "main", cwd=github.bare(REPOSITORY))
    assert result["commit"] == head
    assert result["languages"] == {"JavaScript": 1, "Python": 3}
    phases = {p["name"]: p for p in result["phases"]}
    assert all(p["status"] == "completed" and p["progress"] == 1.0 for p in phases.values()), phases

    security = phases["security"]
    assert ("app/insecure.py", 5, "bandit") in _where(security["findings"])
    assert ("config.env", 2, "detect-secrets") in _where(security["findings"])
    bandit = next(t for t in security["tools"] if t["tool"] == "bandit")
    assert bandit["version"] and bandit["languages"] == ["Python"] and bandit["notAnalysed"] == ["JavaScript"]
    assert bandit["files"] == 3 and next(t for t in security["tools"] if t["tool"] == "detect-secrets")["files"] == 5
    quality = phases["code-quality"]
    assert any(f["file"] == "app/complex.py" and f["line"] == 1 and f["rule"] == "cyclomatic-complexity"
               for f in quality["findings"]), quality["findings"]
    assert phases["performance"]["notMeasured"] and phases["performance"]["measured"]
    everything = [f for p in phases.values() for f in p["findings"]]
    assert not [f for f in everything if f["file"] in ("app/clean.py", "web/greet.js")], everything
    assert result["summary"]["total"] == len(everything) >= 3
    assert all(f["toolVersion"] and f["severity"] in ("low", "medium", "high") for f in everything)

    # progress was recorded phase by phase; the token is nowhere: not in a URL, the answer or an event
    events = await asyncio.to_thread(list_events, analysis_id)
    types = [e.type for e in events]
    assert types[0] == "github.analysis.started" and types[-1] == "github.analysis.completed"
    assert types.count("github.phase.completed") == 3 and types.count("github.tool.completed") == 6
    assert "AKIAZ7QJ3M4XK2PLW8RT" not in json.dumps(body)  # where the secret is, never the secret
    assert TOKEN not in body.__repr__() and TOKEN not in json.dumps([e.model_dump(mode="json") for e in events])
    assert all(TOKEN not in path for _, path, _ in github.requests)
    assert any(auth == f"Bearer {TOKEN}" or auth == f"token {TOKEN}" for _, _, auth in github.requests)

    # another user's analysis is not theirs to read; unknown ids are 404s
    other = await api.get(f"/api/v2/github/analysis/{analysis_id}", headers=bearer(token_for("developer")))
    assert other.status_code == 403 and "AKIA" not in other.text
    assert (await api.get("/api/v2/github/analysis/gh-analysis-01ARZ3NDEKTSV4RRFFQ69G5FAV")).status_code == 404
    assert (await api.get("/api/v2/github/enhancements/gh-pr-01ARZ3NDEKTSV4RRFFQ69G5FAV")).status_code == 404
    assert (await api.post("/api/v2/github/repos/analyze",
                           json={"repository": "https://evil.example/x/y"})).status_code in (400, 422)


async def test_pr_security_review_comments_on_changed_lines_only(api: httpx.AsyncClient,
                                                                  github: FakeGitHub) -> None:
    answered = await api.post("/api/v2/github/pr/7/enhance?wait=true&timeout=90", json={
        "repository": REPOSITORY, "enhancements": {"securityReview": True, "addTests": True}, "autoCommit": False})
    assert answered.status_code == 200, answered.text
    data = answered.json()["data"]
    assert data["prNumber"] == 7 and data["status"] == "completed", data
    security = data["enhancements"]["security"]
    assert security["status"] == "done" and security["issues"] == 1 and security["comments"] == 1, security
    assert data["enhancements"]["tests"]["status"] in ("not_configured", "not_implemented")
    assert data["enhancements"]["description"] == {"status": "skipped"}

    [review] = github.pulls[(REPOSITORY, 7)].reviews
    assert review["commit_id"] == git("rev-parse", "feature", cwd=github.bare(REPOSITORY))
    # eval() is on line 9 of the new file (a line the PR added); shell=True on line 5 is older: not commented
    assert [(c["path"], c["line"], c["side"]) for c in review["comments"]] == [("app/insecure.py", 9, "RIGHT")]
    assert "B307" in review["comments"][0]["body"]
    # and a commit status on the head: a finding on a changed line is a failure (no public URL: no link)
    [status] = github.statuses
    assert (status["sha"], status["state"], status["context"]) == (
        review["commit_id"], "failure", "stellarflow/security-review") and "target_url" not in status
    assert TOKEN not in answered.text
    again = await api.get(answered.json()["links"]["self"])
    assert again.status_code == 200 and again.json()["data"]["enhancements"]["security"]["reviewId"] == review["id"]

    # a repository GitHub does not know: the analysis fails and says why, without the token
    missing = (await api.post("/api/v2/github/repos/analyze", json={"repository": "octo-org/missing"})).json()
    failed = await poll(api, missing["links"]["results"], lambda b: b["data"]["status"] in ("completed", "failed"),
                        timeout=60, interval=0.2)
    assert failed["data"]["status"] == "failed" and "404" in failed["data"]["error"], failed
    assert TOKEN not in json.dumps(failed)


async def test_pr_agent_parts_push_a_branch_with_measured_coverage(app: FastAPI, api: httpx.AsyncClient,
                                                                    github: FakeGitHub,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """With the fake OpenAI server as the llm executor: tests are added on pr-8-enhanced and pushed (a real push to
    the fake), counted from the diff, coverage measured before and after; the description written via the API."""
    with FakeOpenAIServer() as llm:
        llm.route(CHAT_PATH, Reply(200, completion(DESCRIPTION)), Reply(200, completion(AGENT_TESTS)))
        monkeypatch.setenv("STELLARFLOW_LLM_BASE_URL", llm.base_url + "/v1")
        monkeypatch.setenv("STELLARFLOW_LLM_MODEL", "fake-model")
        reset_settings()  # the worker's settings; the API's (which says whether an executor is configured):
        with settings_changed(app, llm_base_url=llm.base_url + "/v1", llm_model="fake-model"):
            answered = await api.post("/api/v2/github/pr/8/enhance?wait=true&timeout=110", json={
                "repository": REPOSITORY, "enhancements": {"addTests": True, "improveDescription": True}})
    assert answered.status_code == 200, answered.text
    data = answered.json()["data"]
    tests = data["enhancements"]["tests"]
    assert data["status"] == "completed" and tests["status"] == "done", data
    assert tests["added"] == 2 and tests["files"] == ["tests/test_insecure.py"]
    assert tests["coverageAfter"] > tests["coverageBefore"] > 0, tests
    assert tests["coverage"] == f"increased from {tests['coverageBefore']:g}% to {tests['coverageAfter']:g}%"
    assert data["enhancements"]["description"]["improved"] is True
    assert github.pulls[(REPOSITORY, 8)].body == DESCRIPTION
    bare = github.bare(REPOSITORY)
    assert data["preview"]["branch"] == "pr-8-enhanced"
    assert data["preview"]["commit"] == git("rev-parse", "pr-8-enhanced", cwd=bare)
    assert data["preview"]["compareUrl"].endswith(f"/{REPOSITORY}/compare/tested...pr-8-enhanced")
    assert "def test_run_fails" in git("show", "pr-8-enhanced:tests/test_insecure.py", cwd=bare)
    assert git("rev-parse", "pr-8-enhanced~1", cwd=bare) == git("rev-parse", "tested", cwd=bare)
    assert TOKEN not in answered.text


@pytest.mark.database("sqlite")
def test_where_the_token_may_go_and_which_lines_a_diff_adds() -> None:
    from core.github.findings import added_lines
    from core.github.repos import check_repository, token_may_go_to

    assert token_may_go_to("https://api.github.com", "https://github.com/o/r.git")
    assert token_may_go_to("https://ghe.example/api/v3", "https://ghe.example/o/r.git")
    assert not token_may_go_to("https://api.github.com", "https://evil.example/o/r.git")
    assert not token_may_go_to("https://api.github.com", "http://github.com/o/r.git")  # no downgrade
    assert not token_may_go_to("http://127.0.0.1:8080", "http://127.0.0.1:9090/o/r.git")
    assert check_repository("octo-org/repo.git") == "octo-org/repo"
    patch = "@@ -3,3 +3,5 @@ def f():\n     a = 1\n-    b = 2\n+    b = 3\n+    c = 4\n     return a\n+# end\n"
    assert added_lines(patch) == {4, 5, 7}
