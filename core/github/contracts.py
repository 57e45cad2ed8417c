"""What crosses GitHubAnalysisWorkflow's and PullRequestEnhanceWorkflow's boundaries and their activities'."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.github.models import Checkout, Finding, ReviewComment, ToolRun

ANALYSIS_KIND = "gh-analysis"  # the Recorder's kind and the projection's (core/github/projection.py)
ENHANCE_KIND = "gh-pr"
STATUS_QUERY = "status"


class AnalysisRequest(BaseModel):
    analysis_id: str
    owner: str  # the user id who asked: the reader rule (core/access.py)
    repository: str  # owner/name
    analysis_types: list[str]
    branch: str | None = None  # None: the repository's default branch
    depth: str = "shallow"


class CheckoutRequest(BaseModel):
    """Clone `repository` at `branch` (or the PR head `ref`) into the workspace named by `key`."""

    key: str
    repository: str
    branch: str | None = None
    depth: str = "shallow"
    pull_number: int | None = None  # check out the PR's head (refs/pull/N/head) instead of a branch


class AnalyzerRequest(BaseModel):
    workspace: str
    tool: str
    phase: str
    languages: dict[str, int] = Field(default_factory=dict)
    files: int = 0  # files in the checkout: what a language-agnostic tool (detect-secrets) reads
    only_files: list[str] | None = None  # restrict to these paths (a PR's changed files)


class CleanupRequest(BaseModel):
    workspace: str


class EnhanceRequest(BaseModel):
    enhance_id: str
    owner: str
    repository: str
    pr_number: int
    enhancements: dict[str, bool]
    auto_commit: bool = False
    agent_executor: str | None = None  # llm | agent-cli: what the worker would run the agent parts with


class PullFile(BaseModel):
    filename: str
    status: str
    patch: str | None = None


class PullInfo(BaseModel):
    number: int
    title: str = ""
    body: str | None = None
    head_sha: str
    head_ref: str
    base_ref: str
    head_repository: str | None = None  # owner/name of the head's repository (another one for a fork's PR)
    files: list[PullFile] = Field(default_factory=list)
    html_url: str | None = None


class ReviewRequest(BaseModel):
    repository: str
    pr_number: int
    commit: str
    body: str
    comments: list[ReviewComment] = Field(default_factory=list)


class CoverageRequest(BaseModel):
    workspace: str


class CoverageResult(BaseModel):
    """Line coverage of the repository's Python tests (`coverage run -m pytest`), measured; None when not."""

    percent: float | None = None
    note: str = ""


class PushRequest(BaseModel):
    workspace: str
    repository: str
    branch: str
    message: str
    base: str  # the commit the changes are measured against (the PR's head)
    force: bool = False  # only for our own pr-N-enhanced branch; the PR's branch is only fast-forwarded


class PushResult(BaseModel):
    pushed: bool = False
    commit: str | None = None
    branch: str
    files: list[str] = Field(default_factory=list)
    tests_added: int = 0  # test functions the diff adds (`def test_…`, `it(`, `test(`)


class UpdatePullRequest(BaseModel):
    repository: str
    pr_number: int
    body: str


class ReviewPosted(BaseModel):
    id: int
    url: str | None = None


STATUS_CONTEXT = "stellarflow/security-review"


class StatusRequest(BaseModel):
    """A commit status on `sha`: `success` when the security review found nothing on the changed lines."""

    repository: str
    sha: str
    state: str  # success | failure | error | pending
    description: str
    context: str = STATUS_CONTEXT
    enhance_id: str | None = None  # its API URL becomes the status' target_url when the public URL is known


class StatusPosted(BaseModel):
    id: int | None = None
    state: str
    context: str
    target_url: str | None = None


__all__ = ["ANALYSIS_KIND", "ENHANCE_KIND", "AnalysisRequest", "AnalyzerRequest", "Checkout", "CheckoutRequest",
           "CleanupRequest", "EnhanceRequest", "Finding", "PullFile", "PullInfo", "ReviewPosted", "ReviewRequest",
           "STATUS_CONTEXT", "STATUS_QUERY", "StatusPosted", "StatusRequest", "ToolRun"]
