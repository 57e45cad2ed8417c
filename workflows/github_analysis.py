"""GitHubAnalysisWorkflow: one analysis of a repository (core/github): a checkout, then one phase per requested
analysis type, each running its analyzers one after another (progress = analyzers finished / analyzers of the
phase), then the checkout is removed. Every step is recorded (events `github.*`) with the analysis' snapshot, which
`GET /api/v2/github/analysis/{id}` reads."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from core.github.findings import phase_summary, summarise
from core.github.repos import PHASE_TOOLS
from workflows.recording import Recorder

with workflow.unsafe.imports_passed_through():
    from core.github.contracts import (
        ANALYSIS_KIND,
        STATUS_QUERY,
        AnalysisRequest,
        AnalyzerRequest,
        CheckoutRequest,
        CleanupRequest,
    )
    from core.github.models import AnalysisState, Checkout, Phase, ToolRun
    from core.names import GITHUB_ANALYSIS_WORKFLOW, GITHUB_CHECKOUT, GITHUB_CLEANUP, GITHUB_RUN_ANALYZER

RETRY = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=2))
# What the performance phase measures and does not: only static measures (docs/github.md).
PERFORMANCE_MEASURED = ["complexity hotspots (lizard: cyclomatic complexity)", "very long functions (lizard: NLOC)"]
PERFORMANCE_NOT_MEASURED = [
    "runtime behaviour: no benchmark was run (no benchmark command is defined for an analysis)",
    "nested loops over I/O calls: no maintained static rule for it is wired in",
    "memory use, allocation and query counts: need a running program",
]


def elapsed_ms(since: str | None) -> int | None:
    """Milliseconds from an ISO time this workflow stamped until now (workflow time: replay-safe)."""
    return int((workflow.now() - datetime.fromisoformat(since)).total_seconds() * 1000) if since else None


def error_text(err: BaseException) -> str:
    cause = err.cause if isinstance(err, ActivityError) and err.cause is not None else err
    return str(cause.message if isinstance(cause, ApplicationError) else cause)


@workflow.defn(name=GITHUB_ANALYSIS_WORKFLOW)
class GitHubAnalysisWorkflow:
    def __init__(self) -> None:
        self.state: AnalysisState | None = None

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> dict:
        return self.state.model_dump(mode="json") if self.state else {}

    @workflow.run
    async def run(self, request: AnalysisRequest) -> dict:
        state = self.state = AnalysisState(
            id=request.analysis_id, owner=request.owner, repository=request.repository, branch=request.branch,
            depth=request.depth, status="analyzing", phases=[Phase(name=name) for name in request.analysis_types],
            started_at=workflow.now().isoformat())
        recorder = Recorder(ANALYSIS_KIND, request.analysis_id, self.status)
        recorder.emit("github.analysis.started", {"repository": request.repository,
                                                  "analysisTypes": request.analysis_types})
        await recorder.flush()
        try:
            checkout = await workflow.execute_activity(
                GITHUB_CHECKOUT, CheckoutRequest(key=request.analysis_id, repository=request.repository,
                                                 branch=request.branch, depth=request.depth),
                result_type=Checkout, start_to_close_timeout=timedelta(minutes=15), retry_policy=RETRY)
        except ActivityError as err:
            return await self._fail(recorder, f"checkout failed: {error_text(err)}")
        state.commit, state.branch, state.languages = checkout.commit, checkout.branch, checkout.languages
        state.checkout_ms = checkout.duration_ms
        recorder.emit("github.checkout.completed", {"commit": checkout.commit, "branch": checkout.branch,
                                                    "languages": checkout.languages,
                                                    "durationMs": checkout.duration_ms})
        await recorder.flush()
        try:
            for phase in state.phases:
                await self._phase(recorder, phase, checkout)
        finally:
            await workflow.execute_activity(GITHUB_CLEANUP, CleanupRequest(workspace=checkout.workspace or ""),
                                            start_to_close_timeout=timedelta(minutes=5), retry_policy=RETRY)
        state.summary = phase_summary(state.phases)
        failed = [phase.name for phase in state.phases if phase.status == "failed"]
        state.status = "completed"
        state.error = f"analyzers failed in: {', '.join(failed)}" if failed else None
        self._finish(state)
        recorder.emit("github.analysis.completed", {"summary": state.summary, "commit": state.commit,
                                                    "durationMs": state.duration_ms, "failedPhases": failed})
        await recorder.flush()
        return self.status()

    async def _phase(self, recorder: Recorder, phase: Phase, checkout: Checkout) -> None:
        tools = PHASE_TOOLS[phase.name]
        phase.status, phase.started_at = "in-progress", workflow.now().isoformat()
        recorder.emit("github.phase.started", {"phase": phase.name, "tools": list(tools)})
        await recorder.flush()
        for index, tool in enumerate(tools):
            try:
                run = await workflow.execute_activity(
                    GITHUB_RUN_ANALYZER, AnalyzerRequest(workspace=checkout.workspace or "", tool=tool,
                                                         phase=phase.name, languages=checkout.languages,
                                                         files=checkout.files),
                    result_type=ToolRun, start_to_close_timeout=timedelta(minutes=20), retry_policy=RETRY)
            except ActivityError as err:
                run = ToolRun(tool=tool, phase=phase.name, error=error_text(err))
            phase.tools.append(run)
            phase.progress = round((index + 1) / len(tools), 3)
            recorder.emit("github.tool.completed", {
                "phase": phase.name, "tool": tool, "version": run.version, "findings": len(run.findings),
                "durationMs": run.duration_ms, "error": run.error, "progress": phase.progress})
            await recorder.flush_soon()
        phase.summary = summarise(f for run in phase.tools for f in run.findings)
        covered = {lang for run in phase.tools if not run.error for lang in run.languages}
        phase.not_analysed = sorted(lang for lang in checkout.languages if lang not in covered)
        if phase.name == "performance":
            phase.measured, phase.not_measured = list(PERFORMANCE_MEASURED), list(PERFORMANCE_NOT_MEASURED)
        else:
            phase.measured = [f"{run.tool} {run.version}" for run in phase.tools if not run.error]
            phase.not_measured = [f"{run.tool}: {run.error}" for run in phase.tools if run.error]
        phase.status = "failed" if any(run.error for run in phase.tools) else "completed"
        phase.completed_at = workflow.now().isoformat()
        phase.duration_ms = elapsed_ms(phase.started_at)
        recorder.emit("github.phase.completed", {"phase": phase.name, "status": phase.status,
                                                 "summary": phase.summary, "notAnalysed": phase.not_analysed})
        await recorder.flush()

    def _finish(self, state: AnalysisState) -> None:
        state.completed_at = workflow.now().isoformat()
        state.duration_ms = elapsed_ms(state.started_at)

    async def _fail(self, recorder: Recorder, message: str) -> dict:
        assert self.state is not None
        self.state.status, self.state.error = "failed", message
        for phase in self.state.phases:
            phase.status = "failed" if phase.status == "in-progress" else phase.status
        self._finish(self.state)
        recorder.emit("github.analysis.failed", {"error": message})
        await recorder.flush()
        return self.status()
