"""GitHub's side effects: REST calls through githubkit (credentials and base URL from the server's settings:
activities/github_auth.py — a GitHub App's installation or the token; every connection through the egress guard), a
shallow checkout with the git CLI inside the sandbox (the token as an `http.extraHeader`, exactly as git sources
do: core/sources/git.py), and the analyzers run inside the sandbox on that checkout (`python -m
ruff|lizard|bandit|detect_secrets` from the worker's own environment, no network).

Tokens and the App's key never leave these functions except as request headers: errors are redacted, and nothing
returned (which lands in Temporal's history, events and responses) carries them."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from githubkit.exception import RequestFailed
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import github_auth as auth
from activities import sandbox as sandboxing
from activities.command import run_process
from activities.egress import EgressRefused, resolve_checked
from activities.environment import base_environment
from core import names
from core.github import findings as normalise
from core.github import repos
from core.github.contracts import (
    AnalyzerRequest,
    CheckoutRequest,
    CleanupRequest,
    CoverageRequest,
    CoverageResult,
    PullFile,
    PullInfo,
    PushRequest,
    PushResult,
    ReviewPosted,
    ReviewRequest,
    StatusPosted,
    StatusRequest,
    UpdatePullRequest,
)
from core.github.models import Checkout, Finding, ToolRun
from core.settings import Settings, get_settings
from core.sources import git

GIT_TIMEOUT_S = 600.0
OUTPUT_BYTES = 32 * 1024 * 1024
PACKAGES = {"ruff": "ruff", "lizard": "lizard", "lizard-duplicates": "lizard", "lizard-hotspots": "lizard",
            "bandit": "bandit", "detect-secrets": "detect-secrets"}
EXCLUDED = (".git", "node_modules", ".venv", "venv", "__pycache__")


def _failure(err: Exception, what: str, settings: Settings) -> ApplicationError:
    """A GitHub error as a message safe to record: status and GitHub's message, redacted, never the headers."""
    if isinstance(err, ApplicationError):  # already worded (a half-configured App)
        return err
    if isinstance(err, RequestFailed):
        status = err.response.status_code
        try:
            message = str(err.response.json().get("message", ""))
        except ValueError:
            message = ""
        text = auth.redact_all(f"{what}: GitHub answered {status} {message}".strip(), settings)
        # 4xx will not get better by retrying (a missing repository, no access, an invalid review)
        return ApplicationError(text, type="GitHubError", non_retryable=400 <= status < 500 and status != 429)
    if isinstance(err, EgressRefused):
        return ApplicationError(f"{what}: {err}", type="EgressRefused", non_retryable=True)
    return ApplicationError(auth.redact_all(f"{what}: {type(err).__name__}: {err}", settings), type="GitHubError")


async def _call(settings: Settings, repository: str, method: str, path: str, what: str, *,
                params: dict | None = None, json: dict | None = None) -> Any:
    """One REST call acting for `repository` (as the App's installation on it, or with the token)."""
    try:
        async with await auth.client(settings, repository) as gh:
            return (await gh.arequest(method, path, params=params, json=json)).json()
    except Exception as err:  # noqa: BLE001 - every failure redacted
        raise _failure(err, what, settings) from None


async def _get(settings: Settings, repository: str, path: str, what: str, params: dict | None = None) -> Any:
    return await _call(settings, repository, "GET", path, what, params=params)


async def _git_token(settings: Settings, repository: str, *, write: bool = False) -> str | None:
    try:
        return await auth.git_token(settings, repository, write=write)
    except Exception as err:  # noqa: BLE001 - every failure redacted
        raise _failure(err, f"getting a token for git on {repository}", settings) from None


def _workspace(settings: Settings, key: str) -> Path:
    return settings.workspaces_dir / "github" / key


# ---- checkout --------------------------------------------------------------------------------------------------


@activity.defn(name=names.GITHUB_CHECKOUT)
async def github_checkout(request: CheckoutRequest) -> Checkout:
    """Clone the repository's branch (or a PR's head) into a workspace of its own, shallow unless `depth` is full.
    The clone URL is the one GitHub answers; the token goes with it only when it is GitHub's own host."""
    settings = get_settings()
    started = time.monotonic()
    owner, name = request.repository.split("/", 1)
    info = await _get(settings, request.repository, f"/repos/{owner}/{name}", f"reading {request.repository}")
    clone_url = str(info.get("clone_url") or "")
    branch = request.branch or str(info.get("default_branch") or "main")
    refspec = f"refs/pull/{request.pull_number}/head" if request.pull_number else f"refs/heads/{branch}"
    token = (await _git_token(settings, request.repository)
             if repos.token_may_go_to(settings.github_api_url, clone_url) else None)
    parts = urlsplit(clone_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ApplicationError(f"GitHub answered a clone URL this worker does not fetch from ({parts.scheme}://)",
                               non_retryable=True)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        pinned = str(await resolve_checked(parts.hostname, port))
    except (EgressRefused, OSError) as err:
        raise ApplicationError(f"cloning {request.repository}: {err}", non_retryable=True) from None
    workspace = _workspace(settings, request.key)
    shutil.rmtree(workspace, ignore_errors=True)  # a retried attempt starts over
    (workspace / "home").mkdir(parents=True)
    env = {**base_environment(), **git.git_env(clone_url, token, home=str(workspace / "home"), pinned_ip=pinned,
                                                port=port)}
    sandbox = sandboxing.for_workspace(workspace)
    if sandbox is not None:
        sandbox.hand_over(workspace, recursive=True)
    checkout = workspace / "checkout"
    depth = repos.DEPTHS[request.depth]
    fetch = ["git", "-C", str(checkout), "fetch", "--quiet", "--no-tags", *([f"--depth={depth}"] if depth else []),
             "--", clone_url, refspec]
    for argv in (["git", "init", "--quiet", str(checkout)], fetch,
                 ["git", "-C", str(checkout), "checkout", "--quiet", "--detach", "FETCH_HEAD"]):
        outcome = await run_process(argv, cwd=workspace, env=env, timeout_s=GIT_TIMEOUT_S, tail_bytes=8192,
                                    sandbox=sandbox)
        if not outcome.ok:
            detail = auth.redact_all((outcome.stderr or outcome.failure_message(argv[3])).strip(), settings, token)
            raise ApplicationError(f"git {argv[3] if argv[1] == '-C' else argv[1]} failed: {detail[-2000:]}",
                                   type="GitFailed", non_retryable=True)
    head = await run_process(["git", "-C", str(checkout), "rev-parse", "HEAD"], cwd=workspace, env=env,
                             timeout_s=60, tail_bytes=4096, sandbox=sandbox)
    files = await asyncio.to_thread(normalise.source_files, str(checkout))
    return Checkout(workspace=str(workspace), commit=head.stdout.strip() if head.ok else None, branch=branch,
                    languages=normalise.count_languages(files), files=len(files),
                    duration_ms=int((time.monotonic() - started) * 1000))


@activity.defn(name=names.GITHUB_CLEANUP)
async def github_cleanup(request: CleanupRequest) -> None:
    settings = get_settings()
    workspace = Path(request.workspace).resolve()
    root = (settings.workspaces_dir / "github").resolve()
    if workspace.parent == root:  # only a workspace this module made
        await asyncio.to_thread(shutil.rmtree, workspace, True)


# ---- analyzers -------------------------------------------------------------------------------------------------


def _version(tool: str) -> str | None:
    try:
        return version(PACKAGES[tool])
    except PackageNotFoundError:
        return None


def _argv(tool: str, targets: list[str]) -> list[str]:
    python = sys.executable
    if tool == "ruff":
        return [python, "-m", "ruff", "check", "--output-format", "json", "--no-cache", "--exit-zero", "--", *targets]
    if tool == "bandit":
        return [python, "-m", "bandit", "-r", "-f", "json", "-q", "--exit-zero",
                "-x", ",".join(f"./{d}" for d in EXCLUDED), *targets]
    if tool == "detect-secrets":
        return [python, "-m", "detect_secrets", "scan", "--all-files", "--exclude-files", r"(^|/)\.git/", *targets]
    excludes = [arg for d in EXCLUDED for arg in ("-x", f"./{d}/*")]
    if tool == "lizard-duplicates":
        return [python, "-m", "lizard", "-Eduplicate", *excludes, *targets]
    return [python, "-m", "lizard", "--csv", *excludes, *targets]  # lizard, lizard-hotspots


def _parse(tool: str, output: str, root: str, tool_version: str) -> tuple[list[Finding], dict[str, Any]]:
    if tool == "ruff":
        return normalise.ruff(output, root, tool_version), {}
    if tool == "bandit":
        errors = normalise.bandit_errors(output)
        return normalise.bandit(output, root, tool_version), ({"errors": errors[:20]} if errors else {})
    if tool == "detect-secrets":
        return normalise.detect_secrets(output, root, tool_version), {}
    if tool == "lizard-duplicates":
        found, rate = normalise.duplicates(output, root, tool_version)
        return found, {"duplicateRatePercent": rate, "minDuplicateTokens": normalise.DUPLICATE_MIN_TOKENS}
    functions = normalise.lizard_functions(output, root)
    if tool == "lizard-hotspots":
        return normalise.hotspots(functions, tool_version), {"functions": len(functions)}
    return normalise.complexity(functions, tool_version), {"functions": len(functions)}


@activity.defn(name=names.GITHUB_RUN_ANALYZER)
async def github_run_analyzer(request: AnalyzerRequest) -> ToolRun:
    """One analyzer over the checkout, sandboxed without network. A tool that fails is reported as failed (with
    its error), never as clean."""
    settings = get_settings()
    workspace = Path(request.workspace)
    checkout = workspace / "checkout"
    tool_version = _version(request.tool) or "unknown"
    covered, not_covered = normalise.coverage(request.tool, request.languages)
    run = ToolRun(tool=request.tool, version=tool_version, phase=request.phase, languages=covered,
                  not_analysed=not_covered)
    cover = normalise.COVERS.get(request.tool)
    if request.only_files is not None:
        targets = [f for f in request.only_files if (checkout / f).is_file()
                   and (cover is None or normalise.language_of(f) in cover)]
        run.files = len(targets)
        if not targets:
            run.duration_ms = 0
            return run
    else:
        targets = ["."]
        run.files = (request.files if cover is None
                     else sum(n for lang, n in request.languages.items() if lang in cover))
        if cover is not None and not covered:
            run.duration_ms = 0  # nothing here in a language the tool reads: not run, and `languages` says so
            return run
    sandbox = sandboxing.for_workspace(workspace, spec={"network": "none"}, where="analyzer")
    started = time.monotonic()
    outcome = await run_process(_argv(request.tool, targets), cwd=checkout, env=base_environment(),
                                timeout_s=settings.github_tool_timeout_s, tail_bytes=OUTPUT_BYTES, sandbox=sandbox)
    run.duration_ms = int((time.monotonic() - started) * 1000)
    if outcome.stdout_bytes > OUTPUT_BYTES:
        run.error = f"{request.tool}'s report is larger than {OUTPUT_BYTES // (1024 * 1024)} MiB: not read"
        return run
    if not outcome.ok and not (request.tool.startswith("lizard") and outcome.exit_code == 1):
        run.error = (outcome.stderr or outcome.failure_message(request.tool)).strip()[-2000:]
        return run
    try:
        run.findings, run.extra = _parse(request.tool, outcome.stdout, str(checkout), tool_version)
    except (ValueError, KeyError) as err:
        run.error = f"could not read {request.tool}'s output: {err}"
    return run


# ---- pull requests ---------------------------------------------------------------------------------------------


@activity.defn(name=names.GITHUB_FETCH_PULL)
async def github_fetch_pull(request: CheckoutRequest) -> PullInfo:
    """The PR, and its files with their patches (every page)."""
    settings = get_settings()
    owner, name = request.repository.split("/", 1)
    number = request.pull_number
    pull = await _get(settings, request.repository, f"/repos/{owner}/{name}/pulls/{number}",
                      f"reading {request.repository}#{number}")
    files: list[PullFile] = []
    for page in range(1, 31):  # GitHub lists at most 3,000 files of a PR
        batch = await _get(settings, request.repository, f"/repos/{owner}/{name}/pulls/{number}/files",
                           f"listing the files of {request.repository}#{number}", {"per_page": 100, "page": page})
        files.extend(PullFile(filename=f["filename"], status=f.get("status", "modified"), patch=f.get("patch"))
                     for f in batch)
        if len(batch) < 100:
            break
    return PullInfo(number=int(pull["number"]), title=pull.get("title") or "", body=pull.get("body"),
                    head_sha=pull["head"]["sha"], head_ref=pull["head"]["ref"], base_ref=pull["base"]["ref"],
                    head_repository=(pull["head"].get("repo") or {}).get("full_name"),
                    files=files, html_url=(pull.get("base", {}).get("repo") or {}).get("html_url"))


@activity.defn(name=names.GITHUB_POST_REVIEW)
async def github_post_review(request: ReviewRequest) -> ReviewPosted:
    """A `COMMENT` review at the PR's head commit, its comments on lines of the diff's new side."""
    settings = get_settings()
    owner, name = request.repository.split("/", 1)
    body = {"commit_id": request.commit, "body": request.body, "event": "COMMENT",
            "comments": [{"path": c.path, "line": c.line, "side": "RIGHT", "body": c.body}
                         for c in request.comments]}
    answer = await _call(settings, request.repository, "POST",
                         f"/repos/{owner}/{name}/pulls/{request.pr_number}/reviews",
                         f"posting a review on {request.repository}#{request.pr_number}", json=body)
    return ReviewPosted(id=int(answer["id"]), url=answer.get("html_url"))


@activity.defn(name=names.GITHUB_POST_STATUS)
async def github_post_status(request: StatusRequest) -> StatusPosted:
    """A commit status on the PR's head (`stellarflow/security-review`), linking to the enhancement's API URL when
    the server's public URL is known (`STELLARFLOW_PUBLIC_URL`)."""
    settings = get_settings()
    owner, name = request.repository.split("/", 1)
    body: dict[str, Any] = {"state": request.state, "context": request.context,
                            "description": request.description[:140]}
    target = (f"{settings.public_url.rstrip('/')}/api/v2/github/enhancements/{request.enhance_id}"
              if settings.public_url and request.enhance_id else None)
    if target:
        body["target_url"] = target
    answer = await _call(settings, request.repository, "POST", f"/repos/{owner}/{name}/statuses/{request.sha}",
                         f"posting a commit status on {request.repository}@{request.sha[:12]}", json=body)
    return StatusPosted(id=answer.get("id"), state=request.state, context=request.context, target_url=target)


# ---- agent-driven enhancements: coverage, the branch, the description -----------------------------------------


def _agent_checkout(workspace: Path) -> Path:
    return workspace / "checkout"


@activity.defn(name=names.GITHUB_COVERAGE)
async def github_coverage(request: CoverageRequest) -> CoverageResult:
    """The repository's Python tests under coverage (`python -m coverage run -m pytest`, the worker's own
    interpreter), in the sandbox without network; the total line coverage, or None with why not."""
    workspace = Path(request.workspace)
    checkout = _agent_checkout(workspace)
    files = await asyncio.to_thread(normalise.source_files, str(checkout))
    if "Python" not in normalise.count_languages(files):
        return CoverageResult(note="no Python files: no test command is known for this repository's languages")
    data = workspace / "coverage.data"
    data.unlink(missing_ok=True)
    sandbox = sandboxing.for_workspace(workspace, spec={"network": "none"}, where="coverage")
    env = {**base_environment(), "PYTHONDONTWRITEBYTECODE": "1"}
    python = sys.executable
    ran = await run_process([python, "-m", "coverage", "run", f"--data-file={data}", "--source=.", "-m", "pytest", "-q",
                             "-p", "no:cacheprovider"], cwd=checkout, env=env, timeout_s=get_settings().
                            github_tool_timeout_s, tail_bytes=65536, sandbox=sandbox)
    if ran.exit_code not in (0, 1):  # 1: some tests failed, still measured; 5: no tests collected
        return CoverageResult(note=f"pytest under coverage exited {ran.exit_code}: {ran.stdout[-300:].strip()}")
    report = await run_process([python, "-m", "coverage", "report", f"--data-file={data}", "--format=total",
                                "--precision=1"], cwd=checkout, env=env, timeout_s=120, tail_bytes=4096,
                               sandbox=sandbox)
    try:
        return CoverageResult(percent=float(report.stdout.strip()), note="python -m coverage run -m pytest")
    except ValueError:
        return CoverageResult(note=f"coverage report failed: {(report.stderr or report.stdout)[-300:].strip()}")


GIT_INIT_CONFIG = ("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
                   "\tlogallrefupdates = true\n")


def _reset_git_dir(git_dir: Path) -> None:
    if git_dir.is_symlink() or not git_dir.is_dir():
        raise ApplicationError("the checkout's .git is no longer a directory: not pushing", non_retryable=True)
    config = git_dir / "config"
    config.unlink(missing_ok=True)
    config.write_text(GIT_INIT_CONFIG)
    shutil.rmtree(git_dir / "hooks", ignore_errors=True)
    for name in ("info/attributes", "commondir", "objects/info/alternates"):
        (git_dir / name).unlink(missing_ok=True)


@activity.defn(name=names.GITHUB_PUSH)
async def github_push(request: PushRequest) -> PushResult:
    """Commit what the agents changed in the checkout and push it to `branch` (forced: the branch is ours), with
    the token as a header. Nothing changed: nothing pushed."""
    settings = get_settings()
    workspace = Path(request.workspace)
    checkout = _agent_checkout(workspace)
    owner, name = request.repository.split("/", 1)
    info = await _get(settings, request.repository, f"/repos/{owner}/{name}", f"reading {request.repository}")
    clone_url = str(info.get("clone_url") or "")
    if not repos.token_may_go_to(settings.github_api_url, clone_url):
        raise ApplicationError("GitHub answered a clone URL on another host: not pushing there", non_retryable=True)
    token = await _git_token(settings, request.repository, write=True)
    parts = urlsplit(clone_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        pinned = str(await resolve_checked(parts.hostname or "", port))
    except (EgressRefused, OSError) as err:
        raise ApplicationError(f"pushing to {request.repository}: {err}", non_retryable=True) from None
    # An agent ran in this checkout (agent-cli runs commands there): its .git/config could name commands git would
    # run while pushing with the token in its environment (core.fsmonitor, core.sshCommand, …). Back to what
    # `git init` wrote, and no hooks, before git touches it again.
    await asyncio.to_thread(_reset_git_dir, checkout / ".git")
    identity = {"GIT_AUTHOR_NAME": "StellarFlow", "GIT_AUTHOR_EMAIL": "stellarflow@users.noreply.github.com",
                "GIT_COMMITTER_NAME": "StellarFlow", "GIT_COMMITTER_EMAIL": "stellarflow@users.noreply.github.com"}
    env = {**base_environment(), **identity, **git.git_env(clone_url, token, home=str(workspace / "home"),
                                                           pinned_ip=pinned, port=port)}
    sandbox = sandboxing.for_workspace(workspace)
    if sandbox is not None:
        sandbox.hand_over(checkout, recursive=True)

    async def run(*args: str, tail: int = 65536) -> Any:
        return await run_process(["git", "-C", str(checkout), *args], cwd=workspace, env=env, timeout_s=GIT_TIMEOUT_S,
                                 tail_bytes=tail, sandbox=sandbox)

    await run("add", "-A")
    staged = await run("diff", "--cached", "--name-only")
    files = [line for line in staged.stdout.splitlines() if line.strip()]
    if not files:
        return PushResult(branch=request.branch)
    diff = await run("diff", "--cached", "--unified=0", tail=OUTPUT_BYTES)
    committed = await run("commit", "--quiet", "--no-verify", "-m", request.message)
    if not committed.ok:
        raise ApplicationError(f"git commit failed: {committed.stderr[-1000:]}", non_retryable=True)
    pushed = await run("push", "--quiet", *(["--force"] if request.force else []), "--", clone_url,
                       f"HEAD:refs/heads/{request.branch}")
    if not pushed.ok:
        raise ApplicationError(f"git push failed: {auth.redact_all(pushed.stderr, settings, token)[-1000:]}",
                               type="GitFailed")
    head = await run("rev-parse", "HEAD")
    return PushResult(pushed=True, commit=head.stdout.strip(), branch=request.branch, files=files,
                      tests_added=normalise.tests_added(diff.stdout))


@activity.defn(name=names.GITHUB_UPDATE_PULL)
async def github_update_pull(request: UpdatePullRequest) -> None:
    settings = get_settings()
    owner, name = request.repository.split("/", 1)
    await _call(settings, request.repository, "PATCH", f"/repos/{owner}/{name}/pulls/{request.pr_number}",
                f"updating {request.repository}#{request.pr_number}", json={"body": request.body})
