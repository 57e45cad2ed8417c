"""Analyses and PR enhancements in dialect 2's names (camelCase), in the spec's shapes where it gives one."""

from __future__ import annotations

from typing import Any

from api.dialect2.jsonapi import BASE
from core.github.models import AnalysisState, EnhanceState, Finding, Phase, ToolRun


def _finding(finding: Finding) -> dict[str, Any]:
    return {"file": finding.file, "line": finding.line, "endLine": finding.end_line, "rule": finding.rule,
            "severity": finding.severity, "message": finding.message, "tool": finding.tool,
            "toolVersion": finding.tool_version}


def _tool(run: ToolRun) -> dict[str, Any]:
    return {"tool": run.tool, "version": run.version, "status": "failed" if run.error else "completed",
            "error": run.error, "files": run.files, "languages": run.languages, "notAnalysed": run.not_analysed,
            "durationMs": run.duration_ms, "findings": len(run.findings), **run.extra}


def _phase(phase: Phase, *, full: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"name": phase.name, "status": phase.status, "progress": phase.progress}
    if full:
        body.update({
            "summary": phase.summary, "tools": [_tool(run) for run in phase.tools],
            "findings": [_finding(f) for run in phase.tools for f in run.findings],
            "measured": phase.measured, "notMeasured": phase.not_measured, "notAnalysed": phase.not_analysed,
            "startedAt": phase.started_at, "completedAt": phase.completed_at, "durationMs": phase.duration_ms})
    return body


def analysis_links(analysis_id: str) -> dict[str, str]:
    return {"self": f"{BASE}/github/analysis/{analysis_id}", "results": f"{BASE}/github/analysis/{analysis_id}"}


def analysis_accepted(state: AnalysisState) -> dict[str, Any]:
    """The 202's `data`: the workflow is started, every phase still pending."""
    return {"analysisId": state.id, "repository": state.repository, "status": "analyzing",
            "phases": [_phase(phase, full=False) for phase in state.phases]}


def analysis(state: AnalysisState) -> dict[str, Any]:
    return {"analysisId": state.id, "repository": state.repository, "branch": state.branch, "depth": state.depth,
            "status": state.status, "commit": state.commit, "languages": state.languages,
            "phases": [_phase(phase, full=True) for phase in state.phases], "summary": state.summary,
            "error": state.error, "startedAt": state.started_at, "completedAt": state.completed_at,
            "durations": {"checkoutMs": state.checkout_ms, "totalMs": state.duration_ms}}


def enhancement_links(enhance_id: str) -> dict[str, str]:
    return {"self": f"{BASE}/github/enhancements/{enhance_id}"}


def _part(state: EnhanceState, name: str) -> dict[str, Any]:
    part = state.parts.get(name)
    if part is None:
        return {"status": "skipped"}
    body: dict[str, Any] = {"status": part.status}
    if part.message:
        body["message"] = part.message
    if name != "securityReview" and part.detail:
        body.update(part.detail)
    if name == "securityReview" and part.status in ("done", "failed") and part.detail:
        detail = part.detail
        body.update({"issues": detail.get("issues"), "recommendations": detail.get("recommendations"),
                     "comments": detail.get("comments"), "reviewId": detail.get("reviewId"),
                     "reviewUrl": detail.get("reviewUrl"), "tools": detail.get("tools"),
                     "commitStatus": detail.get("commitStatus"),
                     "findings": [_finding(Finding.model_validate(f)) for f in detail.get("findings", [])]})
    return body


def enhancement(state: EnhanceState) -> dict[str, Any]:
    """The spec's shape (`prNumber`, `enhancements.{description, tests, documentation, optimization, security}`,
    `preview`), each part with its `status`; `preview` is null while no branch was pushed."""
    return {"enhancementId": state.id, "repository": state.repository, "prNumber": state.pr_number,
            "status": state.status, "error": state.error, "headSha": state.head_sha,
            "enhancements": {"description": _part(state, "improveDescription"), "tests": _part(state, "addTests"),
                             "documentation": _part(state, "updateDocumentation"),
                             "optimization": _part(state, "performanceOptimization"),
                             "security": _part(state, "securityReview")},
            "preview": state.preview, "autoCommit": state.auto_commit, "startedAt": state.started_at,
            "completedAt": state.completed_at, "durationMs": state.duration_ms}
