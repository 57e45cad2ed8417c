"""What the GitHub routes answer (`/api/v2/github`, docs/github.md), as api/dialect2/presenters/github.py builds it:
repository analyses and pull-request enhancements. Their request bodies are core.github.service's."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.dialect2.schemas.documents import Document, _Open

PhaseStatus = Literal["pending", "in-progress", "completed", "failed"]


class AnalysisFinding(_Open):
    """One thing an analyzer reported, at a place in the checkout (paths relative to its root)."""

    file: str = Field(examples=["src/app.py"])
    line: int | None
    endLine: int | None
    rule: str = Field(examples=["B105"])
    severity: Literal["low", "medium", "high"]
    message: str
    tool: str = Field(examples=["bandit"])
    toolVersion: str


class ToolReport(_Open):
    """One analyzer's run: what it covered, how long it took, how many findings (listed in the phase's
    `findings`). Tool-specific measures (e.g. a duplicate rate) are further fields."""

    tool: str
    version: str | None
    status: Literal["completed", "failed"]
    error: str | None
    files: int = Field(description="Files the tool looked at")
    languages: list[str] = Field(description="The languages it analysed")
    notAnalysed: list[str] = Field(description="Languages present that it cannot analyse")
    durationMs: int | None
    findings: int


class AnalysisPhase(_Open):
    """One `analysisType`. The 202 carries `name`, `status` and `progress` only."""

    name: str = Field(examples=["code-quality"])
    status: PhaseStatus
    progress: float = Field(description="Its tools that have finished (0–1)", examples=[0.15])
    summary: dict[str, int] | None = Field(default=None, description="Findings by severity, and `total`")
    tools: list[ToolReport] | None = None
    findings: list[AnalysisFinding] | None = None
    measured: list[str] | None = None
    notMeasured: list[str] | None = None
    notAnalysed: list[str] | None = Field(default=None, description="Languages no tool of the phase covered")
    startedAt: str | None = None
    completedAt: str | None = None
    durationMs: int | None = None


class AnalysisAccepted(_Open):
    """The 202 of `POST /api/v2/github/repos/analyze`: the workflow started, every phase still pending."""

    analysisId: str = Field(examples=["gh-analysis-01J00000000000000000000000"])
    repository: str = Field(examples=["stellarflow/api-project"])
    status: Literal["analyzing"]
    phases: list[AnalysisPhase]


class AnalysisDurations(_Open):
    checkoutMs: int | None
    totalMs: int | None


class Analysis(_Open):
    """`GET /api/v2/github/analysis/{id}`."""

    analysisId: str
    repository: str
    branch: str | None
    depth: str = Field(examples=["shallow"])
    status: Literal["queued", "analyzing", "completed", "failed"]
    commit: str | None = Field(description="The commit analysed")
    languages: dict[str, int] = Field(description="Language → files of it in the checkout")
    phases: list[AnalysisPhase]
    summary: dict[str, int] = Field(description="Findings by severity, and `total`")
    error: str | None
    startedAt: str | None
    completedAt: str | None
    durations: AnalysisDurations


class AnalysisLinks(_Open):
    self: str
    results: str = Field(examples=["/api/v2/github/analysis/gh-analysis-01J00000000000000000000000"])


class AnalysisAcceptedDocument(Document[AnalysisAccepted]):
    links: AnalysisLinks  # type: ignore[assignment]


class AnalysisDocument(Document[Analysis]):
    links: AnalysisLinks  # type: ignore[assignment]


class ReviewTool(_Open):
    """An analyzer the security review ran over the changed files."""

    tool: str = Field(examples=["bandit"])
    version: str | None
    files: int
    error: str | None
    durationMs: int | None


class CommitStatus(_Open):
    """What the security review reported on the PR's head commit (`POST /repos/{o}/{r}/statuses/{sha}`)."""

    state: Literal["success", "failure", "error", "pending"]
    context: str = Field(examples=["stellarflow/security-review"])
    description: str
    posted: bool = Field(description="False when GitHub refused it (`error` says why); the review stands")
    targetUrl: str | None = None
    error: str | None = None


class EnhancementPart(_Open):
    """One enhancement's outcome. `status`: skipped (not requested), running, done, failed, not_configured (no
    agent executor; `message` says how to configure one). An agent-driven part, once done: the files it changed,
    its duration and executor, and per part `added`/`coverage…` (tests), `improvements` (optimization),
    `improved`/`changes` (description). The security review: its counts, the review posted, the tools and the
    findings on the changed lines."""

    status: str = Field(examples=["done"])
    message: str | None = None
    files: list[str] | None = None
    durationMs: int | None = None
    executor: str | None = None
    added: int | None = Field(default=None, description="Test functions the changes add")
    coverageBefore: float | None = Field(default=None, description="Line coverage before, %")
    coverageAfter: float | None = Field(default=None, description="Line coverage after, %")
    coverage: str | None = Field(default=None, examples=["increased from 78% to 91%"])
    improvements: int | None = None
    estimatedGain: str | None = Field(default=None, description="Always null: nothing measures it")
    improved: bool | None = None
    changes: str | None = None
    issues: int | None = Field(default=None, description="High and medium findings")
    recommendations: int | None = Field(default=None, description="Low findings")
    comments: int | None = Field(default=None, description="Inline comments posted")
    reviewId: int | None = None
    reviewUrl: str | None = None
    tools: list[ReviewTool] | None = None
    commitStatus: CommitStatus | None = Field(default=None, description="The status posted on the PR's head commit")
    findings: list[AnalysisFinding] | None = None


class Enhancements(_Open):
    description: EnhancementPart
    tests: EnhancementPart
    documentation: EnhancementPart
    optimization: EnhancementPart
    security: EnhancementPart


class EnhancementPreview(_Open):
    branch: str = Field(examples=["pr-123-enhanced"])
    commit: str | None = None
    compareUrl: str | None = None


class Enhancement(_Open):
    """A PR enhancement (`gh-pr-…`)."""

    enhancementId: str
    repository: str
    prNumber: int = Field(examples=[123])
    status: Literal["queued", "running", "completed", "failed"]
    error: str | None
    headSha: str | None
    enhancements: Enhancements
    preview: EnhancementPreview | None = Field(description="The branch the changes were pushed to; null while none was")
    autoCommit: bool
    startedAt: str | None
    completedAt: str | None
    durationMs: int | None


class EnhancementLinks(_Open):
    self: str = Field(examples=["/api/v2/github/enhancements/gh-pr-01J00000000000000000000000"])


class EnhancementDocument(Document[Enhancement]):
    links: EnhancementLinks  # type: ignore[assignment]
