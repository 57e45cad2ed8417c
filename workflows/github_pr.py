"""PullRequestEnhanceWorkflow: one enhancement of a pull request (core/github). Fetch the PR and its files, and
for `securityReview` check out its head, run the security analyzers on the changed files, keep the findings on
changed lines only, and post them as one review with inline comments. The agent-driven parts (description, tests,
documentation, performance) answer `not_configured` without an agent executor, and `not_implemented` with one
(docs/github.md says what is missing)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from core.github.findings import added_lines, on_changed_lines
from workflows.github_analysis import RETRY, elapsed_ms, error_text
from workflows.recording import Recorder

with workflow.unsafe.imports_passed_through():
    from core.github.contracts import (
        ENHANCE_KIND,
        STATUS_QUERY,
        AnalyzerRequest,
        CheckoutRequest,
        CleanupRequest,
        EnhanceRequest,
        PullInfo,
        ReviewPosted,
        ReviewRequest,
    )
    from core.github.models import Checkout, EnhancementPart, EnhanceState, Finding, ReviewComment, ToolRun
    from core.names import (
        GITHUB_CHECKOUT,
        GITHUB_CLEANUP,
        GITHUB_FETCH_PULL,
        GITHUB_POST_REVIEW,
        GITHUB_RUN_ANALYZER,
        PR_ENHANCE_WORKFLOW,
    )

SECURITY_TOOLS = ("bandit", "detect-secrets")
AGENT_PARTS = ("improveDescription", "addTests", "updateDocumentation", "performanceOptimization")
HOW_TO_CONFIGURE = ("Performed by an agent executor working in the checkout: configure one on the workers with "
                    "STELLARFLOW_LLM_BASE_URL and STELLARFLOW_LLM_MODEL (an OpenAI-compatible API) or "
                    "STELLARFLOW_AGENT_CLI_COMMAND (docs/executors.md).")
NOT_IMPLEMENTED = ("An agent executor is configured, but agent-driven PR enhancements (commits to pr-N-enhanced, "
                   "coverage before and after) are not implemented yet; nothing was changed (docs/github.md).")


def comment_body(finding: Finding) -> str:
    return (f"**{finding.severity}** · `{finding.rule}` ({finding.tool} {finding.tool_version})\n\n"
            f"{finding.message}")


@workflow.defn(name=PR_ENHANCE_WORKFLOW)
class PullRequestEnhanceWorkflow:
    def __init__(self) -> None:
        self.state: EnhanceState | None = None

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> dict:
        return self.state.model_dump(mode="json") if self.state else {}

    @workflow.run
    async def run(self, request: EnhanceRequest) -> dict:
        state = self.state = EnhanceState(
            id=request.enhance_id, owner=request.owner, repository=request.repository, pr_number=request.pr_number,
            status="running", requested=request.enhancements, auto_commit=request.auto_commit,
            parts={name: EnhancementPart(status="pending" if on else "skipped")
                   for name, on in request.enhancements.items()},
            started_at=workflow.now().isoformat())
        recorder = Recorder(ENHANCE_KIND, request.enhance_id, self.status)
        recorder.emit("github.enhancement.started", {"repository": request.repository, "pr": request.pr_number})
        await recorder.flush()
        target = CheckoutRequest(key=request.enhance_id, repository=request.repository,
                                 pull_number=request.pr_number)
        try:
            pull = await workflow.execute_activity(GITHUB_FETCH_PULL, target, result_type=PullInfo,
                                                   start_to_close_timeout=timedelta(minutes=5), retry_policy=RETRY)
        except ActivityError as err:
            return await self._end(recorder, f"reading the pull request failed: {error_text(err)}")
        state.head_sha, state.head_ref, state.base_ref = pull.head_sha, pull.head_ref, pull.base_ref
        recorder.emit("github.pull.fetched", {"head": pull.head_sha, "files": len(pull.files)})
        for name in AGENT_PARTS:
            if request.enhancements.get(name):
                state.parts[name] = (EnhancementPart(status="not_configured", message=HOW_TO_CONFIGURE)
                                     if request.agent_executor is None
                                     else EnhancementPart(status="not_implemented", message=NOT_IMPLEMENTED))
        if request.enhancements.get("securityReview"):
            await self._security_review(recorder, request, pull)
        return await self._end(recorder, None)

    async def _security_review(self, recorder: Recorder, request: EnhanceRequest, pull: PullInfo) -> None:
        assert self.state is not None
        part = self.state.parts["securityReview"] = EnhancementPart(status="running")
        await recorder.flush()
        changed = {f.filename: added_lines(f.patch) for f in pull.files if f.status != "removed"}
        try:
            checkout = await workflow.execute_activity(
                GITHUB_CHECKOUT, CheckoutRequest(key=request.enhance_id, repository=request.repository,
                                                 pull_number=request.pr_number),
                result_type=Checkout, start_to_close_timeout=timedelta(minutes=15), retry_policy=RETRY)
        except ActivityError as err:
            self.state.parts["securityReview"] = EnhancementPart(status="failed", message=error_text(err))
            return
        findings: list[Finding] = []
        tools: list[dict] = []
        try:
            for tool in SECURITY_TOOLS:
                run = await workflow.execute_activity(
                    GITHUB_RUN_ANALYZER, AnalyzerRequest(workspace=checkout.workspace or "", tool=tool,
                                                         phase="security", languages=checkout.languages,
                                                         only_files=sorted(changed)),
                    result_type=ToolRun, start_to_close_timeout=timedelta(minutes=20), retry_policy=RETRY)
                tools.append({"tool": tool, "version": run.version, "files": run.files, "error": run.error,
                              "durationMs": run.duration_ms})
                findings.extend(on_changed_lines(run.findings, changed))
        finally:
            await workflow.execute_activity(GITHUB_CLEANUP, CleanupRequest(workspace=checkout.workspace or ""),
                                            start_to_close_timeout=timedelta(minutes=5), retry_policy=RETRY)
        issues = [f for f in findings if f.severity in ("high", "medium")]
        recommendations = [f for f in findings if f.severity == "low"]
        failed = [t["tool"] for t in tools if t["error"]]
        body = (f"StellarFlow security review of {pull.head_sha[:12]}: {len(issues)} issue(s) and "
                f"{len(recommendations)} recommendation(s) on the lines this pull request changes "
                f"({', '.join(str(t['tool']) + ' ' + str(t['version']) for t in tools)})."
                + (f" Not reviewed: {', '.join(failed)} failed." if failed else ""))
        comments = [ReviewComment(path=f.file, line=f.line or 0, body=comment_body(f)) for f in findings]
        try:
            posted = await workflow.execute_activity(
                GITHUB_POST_REVIEW, ReviewRequest(repository=request.repository, pr_number=request.pr_number,
                                                  commit=pull.head_sha, body=body, comments=comments),
                result_type=ReviewPosted, start_to_close_timeout=timedelta(minutes=5), retry_policy=RETRY)
        except ActivityError as err:
            self.state.parts["securityReview"] = EnhancementPart(status="failed", message=error_text(err))
            return
        self.state.review_id, self.state.review_url = posted.id, posted.url
        part = EnhancementPart(status="failed" if failed else "done", detail={
            "issues": len(issues), "recommendations": len(recommendations), "comments": len(comments),
            "reviewId": posted.id, "reviewUrl": posted.url, "tools": tools,
            "findings": [f.model_dump(mode="json") for f in findings]},
            message=f"analyzers failed: {', '.join(failed)}" if failed else None)
        self.state.parts["securityReview"] = part
        recorder.emit("github.review.posted", {"reviewId": posted.id, "comments": len(comments),
                                               "issues": len(issues), "recommendations": len(recommendations)})

    async def _end(self, recorder: Recorder, error: str | None) -> dict:
        assert self.state is not None
        state = self.state
        state.status, state.error = ("failed", error) if error else ("completed", None)
        state.completed_at = workflow.now().isoformat()
        state.duration_ms = elapsed_ms(state.started_at)
        recorder.emit("github.enhancement.failed" if error else "github.enhancement.completed",
                      {"error": error, "durationMs": state.duration_ms})
        await recorder.flush()
        return self.status()
