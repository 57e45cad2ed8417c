"""What an analysis and a PR enhancement look like to a reader: findings, tool runs, phases, the whole state.

These are the projections' snapshots too (core/github/projection.py), so the workflow builds them and the API
presents them; plain data, no logic."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

PhaseStatus = Literal["pending", "in-progress", "completed", "failed"]
Severity = Literal["low", "medium", "high"]


class Finding(BaseModel):
    """One thing a tool reported, at a place in the checkout (paths relative to its root)."""

    file: str
    line: int | None = None
    end_line: int | None = None
    rule: str
    severity: Severity
    message: str
    tool: str
    tool_version: str


class ToolRun(BaseModel):
    """One analyzer's run over the checkout: what it covered, how long it took, what it found."""

    tool: str
    version: str | None = None
    phase: str
    findings: list[Finding] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)  # the languages it analysed (files of them were present)
    not_analysed: list[str] = Field(default_factory=list)  # present in the repository, outside the tool's reach
    files: int = 0  # files the tool looked at
    duration_ms: int | None = None
    error: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)  # tool-specific measures, e.g. duplicate rate


class Phase(BaseModel):
    name: str
    status: PhaseStatus = "pending"
    progress: float = 0.0  # tools finished / tools of the phase
    tools: list[ToolRun] = Field(default_factory=list)
    summary: dict[str, int] = Field(default_factory=dict)  # findings by severity, plus `total`
    measured: list[str] = Field(default_factory=list)
    not_measured: list[str] = Field(default_factory=list)
    not_analysed: list[str] = Field(default_factory=list)  # languages no tool of the phase covered
    started_at: str | None = None
    completed_at: str | None = None
    duration_ms: int | None = None


class Checkout(BaseModel):
    """A shallow clone in a workspace the analyzers then read."""

    workspace: str | None = None
    commit: str | None = None
    branch: str | None = None
    languages: dict[str, int] = Field(default_factory=dict)  # language → files
    files: int = 0  # every file of the checkout (outside .git and dependency folders)
    duration_ms: int | None = None
    error: str | None = None


class AnalysisState(BaseModel):
    id: str
    owner: str
    repository: str
    branch: str | None = None
    depth: str = "shallow"
    status: Literal["queued", "analyzing", "completed", "failed"] = "queued"
    phases: list[Phase] = Field(default_factory=list)
    commit: str | None = None
    languages: dict[str, int] = Field(default_factory=dict)
    summary: dict[str, int] = Field(default_factory=dict)
    error: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    checkout_ms: int | None = None
    duration_ms: int | None = None


class ReviewComment(BaseModel):
    path: str
    line: int
    body: str


class EnhancementPart(BaseModel):
    """One requested enhancement's outcome. `status`: done, skipped (not requested), not_configured, failed."""

    status: str
    detail: dict[str, Any] = Field(default_factory=dict)
    message: str | None = None


class EnhanceState(BaseModel):
    id: str
    owner: str
    repository: str
    pr_number: int
    status: Literal["queued", "running", "completed", "failed"] = "queued"
    requested: dict[str, bool] = Field(default_factory=dict)
    auto_commit: bool = False
    head_sha: str | None = None
    head_ref: str | None = None
    base_ref: str | None = None
    parts: dict[str, EnhancementPart] = Field(default_factory=dict)
    review_id: int | None = None
    review_url: str | None = None
    preview: dict[str, Any] | None = None  # {branch, commit, compareUrl} once changes were pushed
    error: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    duration_ms: int | None = None
