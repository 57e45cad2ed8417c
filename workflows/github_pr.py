"""PullRequestEnhanceWorkflow: one enhancement of a pull request (core/github). Fetch the PR and its files, and
for `securityReview` check out its head, run the security analyzers on the changed files, keep the findings on
changed lines only, and post them as one review with inline comments. The agent-driven parts (description, tests,
documentation, performance) run as tasks of the configured agent executor (llm or agent-cli) in a checkout of the
PR's head, their changes pushed to `pr-N-enhanced` with coverage measured before and after; without an executor
they answer `not_configured` with how to configure one."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from core.github.findings import added_lines, on_changed_lines
from core.github.repos import compare_url
from workflows.github_analysis import RETRY, elapsed_ms, error_text
from workflows.recording import Recorder

with workflow.unsafe.imports_passed_through():
    from core.agents.contracts import ExecuteTaskInput
    from core.agents.models import TaskResult
    from core.github.contracts import (
        ENHANCE_KIND,
        STATUS_CONTEXT,
        STATUS_QUERY,
        AnalyzerRequest,
        CheckoutRequest,
        CleanupRequest,
        CoverageRequest,
        CoverageResult,
        EnhanceRequest,
        PullInfo,
        PushRequest,
        PushResult,
        ReviewPosted,
        ReviewRequest,
        StatusPosted,
        StatusRequest,
        UpdatePullRequest,
    )
    from core.github.models import Checkout, EnhancementPart, EnhanceState, Finding, ReviewComment, ToolRun
    from core.names import (
        EXECUTE_TASK,
        GITHUB_CHECKOUT,
        GITHUB_CLEANUP,
        GITHUB_COVERAGE,
        GITHUB_FETCH_PULL,
        GITHUB_POST_REVIEW,
        GITHUB_POST_STATUS,
        GITHUB_PUSH,
        GITHUB_RUN_ANALYZER,
        GITHUB_UPDATE_PULL,
        PR_ENHANCE_WORKFLOW,
    )

SECURITY_TOOLS = ("bandit", "detect-secrets")
AGENT_PARTS = ("improveDescription", "addTests", "updateDocumentation", "performanceOptimization")
HOW_TO_CONFIGURE = ("Performed by an agent executor working in the checkout: configure one on the workers with "
                    "STELLARFLOW_LLM_BASE_URL and STELLARFLOW_LLM_MODEL (an OpenAI-compatible API) or "
                    "STELLARFLOW_AGENT_CLI_COMMAND (docs/executors.md).")

PROMPTS = {
    "addTests": "Add unit tests for the changes of this pull request. Write each new or changed test file as a "
                "fenced code block whose info string names its path (```python path=tests/test_x.py).",
    "updateDocumentation": "Update the documentation (README, docs/) for the changes of this pull request. Write "
                           "each changed file whole as a fenced block naming its path.",
    "performanceOptimization": "Improve the performance of the code this pull request changes without changing "
                               "behaviour. Write each changed file whole as a fenced block naming its path.",
    "improveDescription": "Write a clear pull-request description (summary, implementation notes, impact) for "
                          "this pull request. Answer with the description only, in Markdown, without code fences.",
}
PATCH_CONTEXT_CHARS = 20000


def agent_prompt(part: str, pull: PullInfo) -> str:
    patches = "\n\n".join(f"--- {f.filename} ({f.status})\n{f.patch or ''}" for f in pull.files)
    return (f"{PROMPTS[part]}\n\nPull request #{pull.number}: {pull.title}\n\n{pull.body or ''}\n\n"
            f"Changes:\n{patches[:PATCH_CONTEXT_CHARS]}")


def description_text(output: str | None) -> str:
    """The agent's answer without the executor's own `[stellarflow]` notes."""
    return "\n".join(line for line in (output or "").splitlines() if not line.startswith("[stellarflow]")).strip()


def coverage_change(before: CoverageResult | None, after: CoverageResult | None) -> str | None:
    if before is None or after is None or before.percent is None or after.percent is None:
        return None
    if after.percent == before.percent:
        return f"unchanged at {before.percent:g}%"
    verb = "increased" if after.percent > before.percent else "decreased"
    return f"{verb} from {before.percent:g}% to {after.percent:g}%"


def commit_status(issues: int, recommendations: int, failed: list[str]) -> tuple[str, str]:
    """The security review's commit status: `success` with no finding on the changed lines, `failure` with any,
    `error` when an analyzer failed (nothing found is then not the same as clean)."""
    counts = f"{issues} issue(s), {recommendations} recommendation(s) on changed lines"
    if failed:
        return "error", f"not fully reviewed ({', '.join(failed)} failed); {counts}"
    return ("failure" if issues or recommendations else "success"), counts


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
        agent_parts = [name for name in AGENT_PARTS if request.enhancements.get(name)]
        if request.agent_executor is None:
            for name in agent_parts:
                state.parts[name] = EnhancementPart(status="not_configured", message=HOW_TO_CONFIGURE)
        if request.enhancements.get("securityReview"):
            await self._security_review(recorder, request, pull)
        if request.agent_executor is not None and agent_parts:
            try:
                await self._agent_parts(recorder, request, pull, agent_parts)
            except ActivityError as err:
                for name in agent_parts:
                    if state.parts[name].status == "running":
                        state.parts[name] = EnhancementPart(status="failed", message=error_text(err))
                return await self._end(recorder, f"the agent-driven enhancements failed: {error_text(err)}")
        return await self._end(recorder, None)

    async def _agent_parts(self, recorder: Recorder, request: EnhanceRequest, pull: PullInfo,
                           parts: list[str]) -> None:
        """Each requested part is one task of the agent executor in one checkout of the PR's head; then the changes
        are committed and pushed to `pr-N-enhanced` (the PR's own branch with `autoCommit`), coverage is measured
        before and after, and an improved description is written through the API."""
        assert self.state is not None and request.agent_executor is not None
        state = self.state
        for name in parts:
            state.parts[name] = EnhancementPart(status="running")
        await recorder.flush()
        try:
            checkout = await workflow.execute_activity(
                GITHUB_CHECKOUT, CheckoutRequest(key=f"{request.enhance_id}-agent", repository=request.repository,
                                                 pull_number=request.pr_number),
                result_type=Checkout, start_to_close_timeout=timedelta(minutes=15), retry_policy=RETRY)
        except ActivityError as err:
            for name in parts:
                state.parts[name] = EnhancementPart(status="failed", message=error_text(err))
            return
        workspace = checkout.workspace or ""
        try:
            before = None
            if "addTests" in parts:
                before = await workflow.execute_activity(
                    GITHUB_COVERAGE, CoverageRequest(workspace=workspace), result_type=CoverageResult,
                    start_to_close_timeout=timedelta(minutes=30), retry_policy=RETRY)
            results: dict[str, TaskResult] = {}
            for name in parts:
                task = ExecuteTaskInput(
                    task_id=f"{request.enhance_id}-{name}", agent_id=request.enhance_id,
                    executor=request.agent_executor, workspace=f"{workspace}/checkout",
                    description=agent_prompt(name, pull), owner=request.owner)
                try:
                    results[name] = await workflow.execute_activity(
                        EXECUTE_TASK, task, result_type=TaskResult, start_to_close_timeout=timedelta(hours=1),
                        heartbeat_timeout=timedelta(minutes=2), retry_policy=RetryPolicy(maximum_attempts=1))
                except ActivityError as err:
                    state.parts[name] = EnhancementPart(status="failed", message=error_text(err))
                    continue
                if not results[name].success:
                    state.parts[name] = EnhancementPart(status="failed", message=results[name].error)
                recorder.emit("github.agent.completed", {"part": name, "success": results[name].success,
                                                         "durationMs": results[name].duration_ms})
                await recorder.flush_soon()
            after = None
            if "addTests" in parts and results.get("addTests") is not None and results["addTests"].success:
                after = await workflow.execute_activity(
                    GITHUB_COVERAGE, CoverageRequest(workspace=workspace), result_type=CoverageResult,
                    start_to_close_timeout=timedelta(minutes=30), retry_policy=RETRY)
            # autoCommit fast-forwards the PR's own branch, when it lives in this repository (a fork's is not ours)
            own_branch = request.auto_commit and pull.head_repository == request.repository
            branch = pull.head_ref if own_branch else f"pr-{request.pr_number}-enhanced"
            push = await workflow.execute_activity(
                GITHUB_PUSH, PushRequest(workspace=workspace, repository=request.repository, branch=branch,
                                         base=pull.head_sha, force=not own_branch,
                                         message=f"StellarFlow: {', '.join(parts)} for #{request.pr_number}"),
                result_type=PushResult, start_to_close_timeout=timedelta(minutes=15), retry_policy=RETRY)
            if push.pushed:
                state.preview = {"branch": branch, "commit": push.commit,
                                 "compareUrl": compare_url(pull.html_url, pull.head_ref, branch)
                                 if branch != pull.head_ref else None}
                recorder.emit("github.branch.pushed", {"branch": branch, "commit": push.commit,
                                                       "files": len(push.files)})
            description = results.get("improveDescription")
            if description is not None and description.success and description_text(description.output):
                await workflow.execute_activity(
                    GITHUB_UPDATE_PULL, UpdatePullRequest(repository=request.repository, pr_number=request.pr_number,
                                                          body=description_text(description.output)),
                    start_to_close_timeout=timedelta(minutes=5), retry_policy=RETRY)
        finally:
            await workflow.execute_activity(GITHUB_CLEANUP, CleanupRequest(workspace=workspace),
                                            start_to_close_timeout=timedelta(minutes=5), retry_policy=RETRY)
        for name, result in results.items():
            if not result.success:
                continue
            changed = [*result.files_created, *result.files_changed]
            detail: dict = {"files": changed, "durationMs": result.duration_ms, "executor": result.executor}
            if name == "addTests":
                detail.update({"added": push.tests_added, "coverageBefore": before.percent if before else None,
                               "coverageAfter": after.percent if after else None,
                               "coverage": coverage_change(before, after)})
            elif name == "performanceOptimization":
                detail.update({"improvements": len(changed), "estimatedGain": None})
            elif name == "improveDescription":
                detail.update({"improved": bool(description_text(result.output)),
                               "changes": "the pull request's description was rewritten by the agent"})
            state.parts[name] = EnhancementPart(status="done", detail=detail)

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
        state, description = commit_status(len(issues), len(recommendations), failed)
        status = {"state": state, "context": STATUS_CONTEXT, "description": description, "posted": False,
                  "targetUrl": None, "error": None}
        try:
            answer = await workflow.execute_activity(
                GITHUB_POST_STATUS, StatusRequest(repository=request.repository, sha=pull.head_sha, state=state,
                                                  description=description, enhance_id=request.enhance_id),
                result_type=StatusPosted, start_to_close_timeout=timedelta(minutes=5), retry_policy=RETRY)
            status.update(posted=True, targetUrl=answer.target_url)
        except ActivityError as err:  # the review stands; the missing status is reported, not fatal
            status["error"] = error_text(err)
            part.message = "; ".join(m for m in (part.message, f"commit status not posted: {status['error']}") if m)
        part.detail["commitStatus"] = status
        recorder.emit("github.status.posted", {"state": state, "context": STATUS_CONTEXT,
                                               "posted": status["posted"], "error": status["error"]})

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
