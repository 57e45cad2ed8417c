"""GitHub App authentication against the fake GitHub (tests/fakes/github.py with a `FakeApp`: the App's JWT is
verified with RS256 against the public key of a throwaway RSA key made here; it issues installation tokens that
its REST and git endpoints then accept, only for the repositories and permission they were made for).

An analysis cloned over git smart HTTP with an installation token (installation looked up per repository, key in
the environment, a stale `STELLARFLOW_GITHUB_TOKEN` set too: the App wins) and PR security reviews (key from a
file, installation id configured) posting commit statuses — `failure` with a finding on a changed line, `success`
without, and a refused status reported without failing the review. The key, the JWTs and the tokens appear in no
URL, response, event, workflow history or log line."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from temporalio.client import Client

from core.events.store import list_events
from core.settings import reset_settings
from tests.fakes.github import FakeApp, FakeGitHub
from tests.support import poll
from tests.test_github import REPOSITORY, git, plant_repository

APP_ID = "31337"
INSTALLATION = 4242
STALE_TOKEN = "ghp_staleTokenTheAppMustWinOver0123"  # noqa: S105 - a fake
PUBLIC_URL = "https://stellarflow.example"


@dataclass
class AppGitHub:
    fake: FakeGitHub
    private_key: str

    def secrets(self) -> list[str]:
        """Everything that must not leak: the key's lines, every JWT and installation token the fake saw or issued,
        and the stale token."""
        lines = [line for line in self.private_key.splitlines() if "-----" not in line and len(line) >= 16]
        tokens = [issued.token for issued in self.fake.issued]
        basics = [base64.b64encode(f"x-access-token:{t}".encode()).decode() for t in tokens]
        return [*lines, *self.fake.jwts, *tokens, *basics, STALE_TOKEN]


def rsa_key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption()).decode()
    public = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@pytest.fixture
def app_github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppGitHub]:
    """`octo-org/planted` (tests/test_github.py) plus `docs` (PR 9: a README only), served by a fake GitHub that
    knows only the App (no static token); the worker configured as that App, with a stale token set too."""
    root = plant_repository(tmp_path)
    work = tmp_path / "work"
    git("checkout", "-b", "docs", "main", cwd=work)
    (work / "README.md").write_text("# planted\n\nA repository with planted issues.\n")
    git("add", "README.md", cwd=work)
    git("commit", "-m", "a readme", cwd=work)
    git("push", str(root / f"{REPOSITORY}.git"), "docs", cwd=work)
    private, public = rsa_key_pair()
    app = FakeApp(APP_ID, public, installation_id=INSTALLATION, repositories=(REPOSITORY,))
    with FakeGitHub(root, app=app) as fake:
        fake.add_pull(REPOSITORY, 7, "feature")
        fake.add_pull(REPOSITORY, 9, "docs")
        monkeypatch.setenv("STELLARFLOW_GITHUB_API_URL", fake.url)
        monkeypatch.setenv("STELLARFLOW_GITHUB_TOKEN", STALE_TOKEN)
        monkeypatch.setenv("STELLARFLOW_GITHUB_APP_ID", APP_ID)
        reset_settings()
        yield AppGitHub(fake, private)
    reset_settings()


def finished(body: dict) -> bool:
    return body["data"]["status"] in ("completed", "failed")


def assert_nothing_leaks(where: str, text: str, secrets: list[str]) -> None:
    leaked = [s[:8] + "…" for s in secrets if s in text]
    assert not leaked, f"{where} holds secrets: {leaked}"


async def history_json(client: Client, workflow_id: str) -> str:
    return (await client.get_workflow_handle(workflow_id).fetch_history()).to_json()


async def test_an_analysis_as_a_github_app(api: httpx.AsyncClient, app_github: AppGitHub, temporal_client: Client,
                                           monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = app_github.fake
    monkeypatch.setenv("STELLARFLOW_GITHUB_APP_PRIVATE_KEY", app_github.private_key.replace("\n", "\\n"))  # one line
    reset_settings()
    started = await api.post("/api/v2/github/repos/analyze", json={"repository": REPOSITORY,
                                                                   "analysisType": ["security"]})
    assert started.status_code == 202, started.text
    analysis_id = started.json()["data"]["analysisId"]
    body = await poll(api, f"/api/v2/github/analysis/{analysis_id}", finished, timeout=120, interval=0.3)
    result = body["data"]
    assert result["status"] == "completed" and result["error"] is None, result
    assert result["commit"] == git("rev-parse", "main", cwd=fake.bare(REPOSITORY))
    [security] = result["phases"]
    assert ("app/insecure.py", 5, "bandit") in {(f["file"], f["line"], f["tool"]) for f in security["findings"]}

    # the installation was looked up as the App (a verified JWT), then tokens limited to this repository were issued:
    # one for githubkit's REST calls, one for git with `contents: read` only
    lookups = [auth for method, path, auth in fake.requests
               if (method, path) == ("GET", f"/repos/{REPOSITORY}/installation")]
    assert lookups and all(auth in {f"Bearer {jwt}" for jwt in fake.jwts} for auth in lookups), lookups
    git_tokens = [t for t in fake.issued if t.permissions == {"contents": "read"}]
    rest_tokens = [t for t in fake.issued if not t.permissions]
    assert git_tokens and rest_tokens and all(t.repositories == ["planted"] for t in fake.issued)
    clones = [auth for _, path, auth in fake.requests if ".git/" in path]
    wanted = {"Basic " + base64.b64encode(f"x-access-token:{t.token}".encode()).decode() for t in git_tokens}
    assert clones and set(clones) <= wanted, clones  # cloned over smart HTTP with the installation token
    rest = [auth for _, path, auth in fake.requests if path.startswith(f"/repos/{REPOSITORY}")
            and not path.endswith("/installation") and ".git/" not in path]
    assert rest and all(auth == f"token {rest_tokens[0].token}" for auth in rest), rest
    assert all(STALE_TOKEN not in (auth or "") for _, _, auth in fake.requests)  # the App took precedence

    secrets = app_github.secrets()
    events = await asyncio.to_thread(list_events, analysis_id)
    assert_nothing_leaks("the answer", json.dumps(body), secrets)
    assert_nothing_leaks("the events", json.dumps([e.model_dump(mode="json") for e in events]), secrets)
    assert_nothing_leaks("the history", await history_json(temporal_client, analysis_id), secrets)
    assert_nothing_leaks("the URLs", " ".join(path for _, path, _ in fake.requests), secrets)
    assert_nothing_leaks("the logs", caplog.text, secrets)


async def enhance(api: httpx.AsyncClient, number: int) -> dict:
    answered = await api.post(f"/api/v2/github/pr/{number}/enhance?wait=true&timeout=90", json={
        "repository": REPOSITORY, "enhancements": {"securityReview": True}})
    assert answered.status_code == 200, answered.text
    data = answered.json()["data"]
    assert data["status"] == "completed", data
    return data


async def test_pr_security_reviews_as_a_github_app_post_commit_statuses(
        api: httpx.AsyncClient, app_github: AppGitHub, temporal_client: Client, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = app_github.fake
    key_file = tmp_path / "app.pem"
    key_file.write_text(app_github.private_key)
    key_file.chmod(0o600)
    monkeypatch.setenv("STELLARFLOW_GITHUB_APP_PRIVATE_KEY_FILE", str(key_file))
    monkeypatch.setenv("STELLARFLOW_GITHUB_APP_INSTALLATION_ID", str(INSTALLATION))
    monkeypatch.setenv("STELLARFLOW_PUBLIC_URL", PUBLIC_URL)
    reset_settings()
    bare = fake.bare(REPOSITORY)

    # PR 7 adds an eval(): one issue on a changed line → a review comment and a `failure` status on its head
    flagged = await enhance(api, 7)
    security = flagged["enhancements"]["security"]
    assert security["status"] == "done" and security["issues"] == 1 and security["comments"] == 1, security
    [review] = fake.pulls[(REPOSITORY, 7)].reviews
    assert [(c["path"], c["line"]) for c in review["comments"]] == [("app/insecure.py", 9)]
    [status] = fake.statuses
    assert status["sha"] == git("rev-parse", "feature", cwd=bare) == flagged["headSha"]
    assert status["state"] == "failure" and status["context"] == "stellarflow/security-review"
    assert status["description"] == "1 issue(s), 0 recommendation(s) on changed lines"
    assert status["target_url"] == f"{PUBLIC_URL}/api/v2/github/enhancements/{flagged['enhancementId']}"
    outcome = await temporal_client.get_workflow_handle(flagged["enhancementId"]).result()
    assert outcome["parts"]["securityReview"]["detail"]["commitStatus"] == {
        "state": "failure", "context": "stellarflow/security-review", "posted": True, "error": None,
        "description": status["description"], "targetUrl": status["target_url"]}
    assert security["commitStatus"] == outcome["parts"]["securityReview"]["detail"]["commitStatus"]  # the API says it
    # the configured installation: never looked up
    assert not [p for _, p, _ in fake.requests if p.endswith("/installation")]

    # PR 9 only adds a README: nothing on its changed lines → `success`
    clean = await enhance(api, 9)
    assert clean["enhancements"]["security"]["issues"] == 0 and clean["enhancements"]["security"]["status"] == "done"
    assert fake.statuses[-1]["state"] == "success" and fake.statuses[-1]["sha"] == git("rev-parse", "docs", cwd=bare)

    # a status GitHub refuses is reported, not fatal: the review is posted and the enhancement completes
    fake.refuse_statuses = True
    refused = await enhance(api, 9)
    part = refused["enhancements"]["security"]
    assert part["status"] == "done" and part["reviewId"] == 2, part
    assert "commit status not posted" in part["message"] and "403" in part["message"], part
    assert part["commitStatus"]["posted"] is False and "403" in part["commitStatus"]["error"], part
    assert len(fake.statuses) == 2
    events = await asyncio.to_thread(list_events, refused["enhancementId"])
    [posted] = [e.data for e in events if e.type == "github.status.posted"]
    assert posted["posted"] is False and "403" in posted["error"]

    secrets = app_github.secrets()
    assert fake.issued and fake.jwts
    for data in (flagged, clean, refused):
        assert_nothing_leaks("the answer", json.dumps(data), secrets)
        assert_nothing_leaks("the history", await history_json(temporal_client, data["enhancementId"]), secrets)
        events = await asyncio.to_thread(list_events, data["enhancementId"])
        assert_nothing_leaks("the events", json.dumps([e.model_dump(mode="json") for e in events]), secrets)
    assert_nothing_leaks("the URLs", " ".join(path for _, path, _ in fake.requests), secrets)
    assert_nothing_leaks("the logs", caplog.text, secrets)


async def test_a_repository_the_app_is_not_installed_on(api: httpx.AsyncClient, app_github: AppGitHub,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The installation lookup answers 404: the analysis fails saying so, and no token is issued."""
    monkeypatch.setenv("STELLARFLOW_GITHUB_APP_PRIVATE_KEY", app_github.private_key)
    reset_settings()
    started = (await api.post("/api/v2/github/repos/analyze", json={"repository": "octo-org/elsewhere"})).json()
    failed = (await poll(api, started["links"]["results"], finished, timeout=60, interval=0.2))["data"]
    assert failed["status"] == "failed" and f"App {APP_ID} is not installed on octo-org/elsewhere" in failed["error"]
    assert "404" in failed["error"], failed
    assert not app_github.fake.issued
    assert_nothing_leaks("the answer", json.dumps(failed), app_github.secrets())


@pytest.mark.database("sqlite", reason="settings and pure functions only")
def test_app_settings_redaction_and_status_states(tmp_path: Path) -> None:
    from temporalio.exceptions import ApplicationError

    from activities import github_auth
    from core.settings import Settings
    from workflows.github_pr import commit_status

    private, _ = rsa_key_pair()
    one_line = Settings(github_app_id=APP_ID, github_app_private_key=private.replace("\n", "\\n"),
                        github_token=STALE_TOKEN)
    found = github_auth.app(one_line)
    assert found is not None and found.private_key == private and found.app_id == APP_ID
    assert github_auth.app(Settings(github_token=STALE_TOKEN)) is None  # the token alone: no App
    for half in (Settings(github_app_id=APP_ID), Settings(github_app_private_key=private),
                 Settings(github_app_id=APP_ID, github_app_private_key_file=tmp_path / "missing.pem")):
        with pytest.raises(ApplicationError) as refused:
            github_auth.app(half)
        assert refused.value.non_retryable and private.splitlines()[1] not in str(refused.value)
    installation = "ghs_installationTokenXYZ0123456789"
    leaked = (f"fatal: {installation} {base64.b64encode(f'x-access-token:{installation}'.encode()).decode()} "
              f"{STALE_TOKEN} {private.splitlines()[3]}")
    redacted = github_auth.redact_all(leaked, one_line, installation)
    assert installation not in redacted and STALE_TOKEN not in redacted and private.splitlines()[3] not in redacted
    assert redacted.startswith("fatal: ***")
    assert repr(one_line).count(private.splitlines()[1]) == 0
    # diagnostics and /api/system/config redact the key too, line by line, inline or from its file
    from core.system.redact import REDACTED, redact_text, secret_values
    key_file = tmp_path / "app.pem"
    key_file.write_text(private)
    for settings in (one_line, Settings(github_app_id=APP_ID, github_app_private_key_file=key_file)):
        log_tail = f"worker: could not sign with {private.splitlines()[2]}"
        assert redact_text(log_tail, secret_values(settings)) == f"worker: could not sign with {REDACTED}"

    assert commit_status(0, 0, []) == ("success", "0 issue(s), 0 recommendation(s) on changed lines")
    assert commit_status(1, 2, [])[0] == "failure" and commit_status(0, 1, [])[0] == "failure"
    assert commit_status(0, 0, ["bandit"]) == (
        "error", "not fully reviewed (bandit failed); 0 issue(s), 0 recommendation(s) on changed lines")
