"""PipelineWorkflow: one run of a pinned workflow definition, executed as a DAG.

Orchestration only: rendering templates and evaluating conditions are pure functions of the run's state, and
every side effect (commands, HTTP, deploys, notifications, the event log) happens in an activity. Events are
batched per workflow activation and written by one local activity, so bookkeeping adds no server round trip.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, ChildWorkflowError, RetryState
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

from core.dsl.templating import (
    ShellTemplateError,
    TemplateError,
    argv_template_problems,
    evaluate,
    evaluate_condition,
    is_template,
    render,
    render_shell,
)
from core.pipelines import approvals
from workflows.recording import PIPELINE_FLUSH_EVERY, Recorder

with workflow.unsafe.imports_passed_through():
    from core import names
    from core.concurrency.contracts import RELEASE_SIGNAL, LockRelease, LockRequest, LockUpdate, group_workflow_id
    from core.dsl.actions import ACTION_PARAMS, ApprovalParams, RunWorkflowParams, WaitParams
    from core.dsl.durations import parse_duration
    from core.dsl.models import LOCAL_STEP_MAX_S, Concurrency, Step, WorkflowDefinition
    from core.names import PIPELINE_WORKFLOW
    from core.pipelines.contracts import (
        CONCURRENCY_UPDATE_SIGNAL,
        RUN_FAILED_TYPE,
        ActionRequest,
        ActionResult,
        ApprovalDecision,
        ArtifactRequest,
        ChannelOutcome,
        ChildRunPlan,
        ChildRunRequest,
        NotificationRequest,
        PipelineInput,
        StoredArtifact,
        TriggerInfo,
    )
    from core.pipelines.models import TERMINAL_STEP, RunState, RunStatus, StepState, StepStatus
    from core.temporal import SA_STATUS, child_search_attributes

# Activity name per action; `wait` and `approval` are carried out by the workflow itself.
ACTIVITY_FOR_ACTION = {
    "execute-command": names.EXECUTE_COMMAND,
    "http-request": names.HTTP_REQUEST,
    "deploy": names.DEPLOY,
    "notify": names.NOTIFY,
    "memory-store": names.MEMORY_STORE,
    "memory-read": names.MEMORY_READ,
}
HEARTBEATING = {names.EXECUTE_COMMAND, names.DEPLOY}
NON_RETRYABLE = ["InvalidParameters", "EnvironmentNotConfigured", "StepFailed"]
# Runs that started before templated values of shell commands were passed as variables (`SF_1`…) keep quoting them
# in place (`render(..., shell=True)`): their histories hold the commands that way.
TEMPLATE_VALUES_AS_ENV = "template-values-as-env"
# Runs that started before a failed run ended its workflow with a failure return their final state instead (the
# Temporal UI showed them as Completed); their histories say so.
FAILED_RUNS_FAIL = "failed-runs-fail"
LOCK_REQUEST_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10))


class Superseded(Exception):
    """A newer request of the step's concurrency group (cancelInProgress) took its place."""


class StepFailure(Exception):
    """A step ended in failure; carries what the step produced before failing."""

    def __init__(self, message: str, outputs: dict[str, Any] | None = None, attempts: int | None = None):
        super().__init__(message)
        self.outputs = outputs or {}
        self.attempts = attempts


@workflow.defn(name=PIPELINE_WORKFLOW, sandboxed=False)
class PipelineWorkflow:
    @workflow.init
    def __init__(self, inp: PipelineInput) -> None:
        self.inp = inp
        self.defn = WorkflowDefinition.model_validate(inp.definition)
        # A run started by a Temporal Schedule gets its id from the schedule (`<schedule's id>-<time>`).
        self.run_id = inp.run_id or workflow.info().workflow_id
        self.trigger = inp.trigger or TriggerInfo()
        self.link = inp.link or (f"{inp.ui_base}{self.run_id}" if inp.ui_base else None)
        self.state = RunState(
            id=self.run_id,
            workflowId=inp.workflow_id,
            version=inp.version,
            startedBy=inp.started_by,
            inputs=inp.inputs,
            steps=[StepState(id=s.id, name=s.name, action=s.action) for s in self.defn.steps],
            trigger=self.trigger.summary() if inp.trigger is not None else None,
            rerunOf=inp.rerun_of,
            parentRunId=inp.parent_run_id,
        )
        self.rec = Recorder("run", self.run_id, lambda: self.state.model_dump(mode="json"),
                            flush_every=PIPELINE_FLUSH_EVERY)
        self.decisions: dict[str, ApprovalDecision] = {}
        self.env: dict[str, str] = {}
        self.started_note: asyncio.Task[None] | None = None
        # concurrency groups: what each key (the run, or run/step) asked, what the group answered
        self.locks: dict[str, LockRequest] = {}
        self.lock_updates: dict[str, LockUpdate] = {}
        self.lock_tasks: dict[str, asyncio.Task[None]] = {}
        self.superseded: set[str] = set()
        self.releases: list[asyncio.Task[None]] = []

    # ---- public surface -----------------------------------------------------------------------------

    @workflow.query
    def status(self) -> RunState:
        return self.state

    @workflow.signal(name=CONCURRENCY_UPDATE_SIGNAL)
    def concurrency_update(self, update: LockUpdate) -> None:
        """The concurrency group's answer: queued at a position, granted, or preempted (superseded)."""
        if update.key not in self.locks:
            return
        self.lock_updates[update.key] = update
        target = self.state.concurrency if update.key == self.run_id else None
        if target is None and "/" in update.key:
            try:
                target = self.state.step(update.key.split("/", 1)[1]).concurrency
            except KeyError:
                target = None
        if target is not None and target.get("state") != "released":
            target["state"] = {"granted": "holding", "preempted": "superseded"}.get(update.state, update.state)
            target["position"] = update.position if update.state == "queued" else None
        if update.state == "preempted":
            self.superseded.add(update.key)
            task = self.lock_tasks.get(update.key)
            if task is not None and not task.done():
                task.cancel()
        self.rec.touch()

    @workflow.update
    async def decide_approval(self, decision: ApprovalDecision) -> StepState:
        self.decisions[decision.step_id] = decision
        step = self.state.step(decision.step_id)
        await workflow.wait_condition(lambda: step.status in TERMINAL_STEP)
        return step

    @decide_approval.validator
    def _validate_decision(self, decision: ApprovalDecision) -> None:
        try:
            step = self.state.step(decision.step_id)
        except KeyError:
            raise ValueError(f"run has no step {decision.step_id!r}") from None
        if step.action != "approval":
            raise ValueError(f"step {decision.step_id!r} is not an approval step")
        if not step.approval or step.approval.get("status") != "waiting" or decision.step_id in self.decisions:
            raise ValueError(f"step {decision.step_id!r} is not waiting for approval (status {step.status})")
        # The authority on who may decide: whatever front end sent the Update, these rules hold.
        starter = self.inp.started_by
        reason = approvals.refusal(
            approvers=step.approval.get("approvers") or [], allow_self=bool(step.approval.get("allowSelfApproval")),
            starter_id=starter.id if starter else None, approved=decision.approved, decider_id=decision.by_id,
            decider_username=decision.by, decider_role=decision.by_role)
        if reason is not None:
            raise ApplicationError(reason, type=approvals.FORBIDDEN_TYPE, non_retryable=True)

    @workflow.run
    async def run(self, inp: PipelineInput) -> RunState:
        self.state.status = RunStatus.running
        self.state.startedAt = workflow.now()
        # The API wrote the pending projection row already; the first events can wait for the first batch.
        self.rec.last_flush = self.state.startedAt
        started: dict[str, Any] = {"workflowId": inp.workflow_id, "version": inp.version}
        if inp.started_by is not None:
            started["startedBy"] = inp.started_by.model_dump()
        if inp.trigger is not None:
            started["trigger"] = self.trigger.summary()
        if inp.rerun_of:
            started["rerunOf"] = inp.rerun_of
        if inp.parent_run_id:
            started["parentRunId"] = inp.parent_run_id
        self._emit("run.started", started)
        self.started_note = self._notify_async("started")
        try:
            if inp.rerun_of and inp.reuse:
                await self._prepare_rerun_workspace()
            self.env = {k: str(v) for k, v in render(self.defn.env, self._base_context()).items()}
            if self.defn.concurrency is not None:
                await self._hold_run_group(self.defn.concurrency)
            await self._execute_dag()
        except TemplateError as err:
            outcome: tuple[RunStatus, str | None] = (RunStatus.failed, f"env template error: {err}")
        except Superseded:
            outcome = (RunStatus.cancelled, "superseded in its concurrency group (cancelInProgress)")
        except asyncio.CancelledError:
            await self._cancel_everything()
            raise
        except Exception as err:  # a bug must not leave the run silently stuck
            outcome = (RunStatus.failed, f"internal error: {type(err).__name__}: {err}")
        else:
            failed = [
                s.id
                for s in self.state.steps
                if s.status == StepStatus.failed and not self.defn.step(s.id).continueOnError
            ]
            superseded = [s.id for s in self.state.steps if s.status == StepStatus.cancelled]
            if failed:
                outcome = (RunStatus.failed, f"step(s) failed: {', '.join(failed)}")
            elif superseded:
                outcome = (RunStatus.cancelled, f"step(s) superseded in their concurrency group: "
                                                f"{', '.join(superseded)}")
            else:
                outcome = (RunStatus.succeeded, None)
        await self._conclude(*outcome)
        # The Temporal UI, its filters and `temporal workflow describe` show a failed run as failed only when the
        # workflow ends with a failure; the details carry the final state (a parent run reads its outputs there).
        if self.state.status != RunStatus.succeeded and workflow.patched(FAILED_RUNS_FAIL):
            kind = RUN_FAILED_TYPE if self.state.status == RunStatus.failed else "RunCancelled"
            raise ApplicationError(self.state.error or f"run {self.state.status.value}",
                                   self.state.model_dump(mode="json"), type=kind, non_retryable=True)
        return self.state

    async def _conclude(self, status: RunStatus, error: str | None) -> None:
        """Send the final notifications, then publish the final state: a run reads as finished only once
        everything it does is done and recorded."""
        # Every step must end in a final state; anything else is a bug, reported as such and never a success.
        for state in self.state.steps:
            if state.status not in TERMINAL_STEP:
                self._fail_now(state, f"internal error: step left {state.status.value} when the run ended")
                status, error = RunStatus.failed, error or "internal error: a step did not finish"
        if self.started_note is not None:
            await self.started_note
        for key in list(self.locks):
            self._release(key)
        if self.releases:
            await workflow.wait(list(self.releases))
        event = {RunStatus.succeeded: "completed"}.get(status, "failed")
        note = self._notify_async(event, status, error)
        if note is not None:
            await note
        self._finish(status, error)
        await self._flush()

    # ---- DAG scheduling -----------------------------------------------------------------------------

    async def _execute_dag(self) -> None:
        running: dict[str, asyncio.Task[None]] = {}
        try:
            while True:
                self._schedule_ready(running)
                await self._flush_soon()
                if not running:
                    break
                await workflow.wait(list(running.values()), return_when=asyncio.FIRST_COMPLETED)
                for step_id in [sid for sid, task in running.items() if task.done()]:
                    running.pop(step_id).result()
        except asyncio.CancelledError:
            for task in running.values():
                task.cancel()
            if running:
                await workflow.wait(list(running.values()))
            raise

    def _schedule_ready(self, running: dict[str, asyncio.Task[None]]) -> None:
        """Start every step whose dependencies are finished; skipping one may free others, so repeat."""
        changed = True
        while changed:
            changed = False
            for step in self.defn.steps:
                state = self.state.step(step.id)
                if state.status != StepStatus.pending or step.id in running:
                    continue
                deps = [self.state.step(d) for d in step.dependsOn]
                if any(d.status not in TERMINAL_STEP for d in deps):
                    continue
                if step.id in self.inp.reuse:
                    self._reuse(self.inp.reuse[step.id], state)
                    changed = True
                    continue
                try:
                    reason = self._skip_reason(step, deps)
                except TemplateError as err:
                    self._fail_now(state, f"`if` could not be evaluated: {err}")
                    changed = True
                    continue
                if reason is not None:
                    state.status = StepStatus.skipped
                    state.reason = reason
                    state.endedAt = workflow.now()
                    self._emit("step.skipped", {"stepId": step.id, "reason": reason})
                    changed = True
                    continue
                state.status = StepStatus.running
                state.startedAt = workflow.now()
                self._emit("step.started", {"stepId": step.id, "action": step.action})
                running[step.id] = asyncio.create_task(self._run_step(step, state))

    def _reuse(self, recorded: StepState, state: StepState) -> None:
        """A re-run's step that succeeded before the chosen point: its recorded outputs, not a new execution."""
        state.status, state.outputs, state.attempts = StepStatus.succeeded, recorded.outputs, recorded.attempts
        state.instances, state.artifacts = recorded.instances, recorded.artifacts
        state.reusedFrom = recorded.reusedFrom or self.inp.rerun_of
        state.startedAt = state.endedAt = workflow.now()
        self._emit("step.reused", {"stepId": state.id, "from": state.reusedFrom})

    def _skip_reason(self, step: Step, deps: list[StepState]) -> str | None:
        if step.if_ is not None:
            if evaluate_condition(step.if_, self._context()):
                return None
            return f"condition is false: {step.if_}"
        for dep in deps:
            if dep.status == StepStatus.succeeded:
                continue
            if dep.status == StepStatus.failed and self.defn.step(dep.id).continueOnError:
                continue
            return f"dependency {dep.id} {dep.status.value}"
        return None

    # ---- one step -----------------------------------------------------------------------------------

    async def _run_step(self, step: Step, state: StepState) -> None:
        if step.concurrency is None:
            await self._run_step_body(step, state)
            return
        key = f"{self.run_id}/{step.id}"
        try:
            group = str(render(step.concurrency.group, self._context()))
        except TemplateError as err:
            self._fail_now(state, f"concurrency group template error: {err}")
            return
        body = asyncio.create_task(self._locked_step(step, state, key, group, step.concurrency))
        self.lock_tasks[key] = body
        try:
            await body
        except (asyncio.CancelledError, Superseded):
            if key not in self.superseded:
                raise
            state.status, state.endedAt = StepStatus.cancelled, workflow.now()
            state.reason = f"superseded in concurrency group {group!r} (cancelInProgress)"
            self._emit("step.cancelled", {"stepId": step.id, "reason": state.reason})
        finally:
            self._release(key)

    async def _locked_step(self, step: Step, state: StepState, key: str, group: str, spec: Concurrency) -> None:
        state.concurrency = {"group": group, "state": "queued", "position": None}
        await self._acquire(key, group, spec, run_level=False)
        await self._run_step_body(step, state)

    async def _run_step_body(self, step: Step, state: StepState) -> None:
        try:
            if step.forEach is not None or step.matrix is not None:
                await self._run_fan_out(step, state)
            else:
                state.outputs, state.attempts = await self._run_instance(step, self._context(), state)
            state.status = StepStatus.succeeded
        except StepFailure as failure:
            state.status = StepStatus.failed
            state.error = str(failure)
            state.outputs = failure.outputs
            if failure.attempts is not None:
                state.attempts = failure.attempts
        except asyncio.CancelledError:
            state.status = StepStatus.cancelled
            state.reason = "run cancelled"
            state.endedAt = workflow.now()
            self._emit("step.cancelled", {"stepId": step.id})
            raise
        state.endedAt = workflow.now()
        data: dict[str, Any] = {"stepId": step.id, "attempts": state.attempts}
        if state.error:
            data["error"] = state.error
        self._emit(f"step.{state.status.value}", data)

    async def _run_fan_out(self, step: Step, state: StepState) -> None:
        context = self._context()
        items = self._fan_out_items(step, context)
        instances = [
            StepState(id=f"{step.id}[{index}]", name=step.name, action=step.action) for index in range(len(items))
        ]
        state.instances = instances

        async def one(index: int, item: Any, inst: StepState) -> None:
            inst.status, inst.startedAt = StepStatus.running, workflow.now()
            scoped = {**context, "index": index}
            scoped["matrix" if step.matrix is not None else "item"] = item
            try:
                inst.outputs, inst.attempts = await self._run_instance(step, scoped, inst)
                inst.status = StepStatus.succeeded
            except StepFailure as failure:
                inst.status, inst.error, inst.outputs = StepStatus.failed, str(failure), failure.outputs
                inst.attempts = failure.attempts or inst.attempts
            except asyncio.CancelledError:
                inst.status = StepStatus.cancelled
                raise
            finally:
                inst.endedAt = workflow.now()

        pairs = enumerate(zip(items, instances, strict=True))
        tasks = [asyncio.create_task(one(i, item, inst)) for i, (item, inst) in pairs]
        try:
            if tasks:
                await workflow.wait(tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await workflow.wait(tasks)
            raise
        state.attempts = max((inst.attempts for inst in instances), default=0)
        state.outputs = {"results": [inst.outputs for inst in instances]}
        if step.artifacts is not None:
            state.artifacts = {f"{index}/{name}": item for index, inst in enumerate(instances)
                               for name, item in (inst.artifacts or {}).items()}
        failed = [inst.id for inst in instances if inst.status == StepStatus.failed]
        if failed:
            raise StepFailure(f"{len(failed)} of {len(instances)} instances failed: {', '.join(failed)}",
                              state.outputs, state.attempts)

    def _fan_out_items(self, step: Step, context: dict[str, Any]) -> list[Any]:
        if step.matrix is not None:
            axes = list(step.matrix.items())
            names = [name for name, _ in axes]
            return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*[v for _, v in axes])]
        if isinstance(step.forEach, str):
            try:
                value = evaluate(step.forEach, context)
            except TemplateError as err:
                raise StepFailure(f"forEach could not be evaluated: {err}") from None
            if isinstance(value, dict):
                return list(value.items())
            if not isinstance(value, list | tuple):
                raise StepFailure(f"forEach must give a list, got {type(value).__name__}")
            return list(value)
        return list(step.forEach or [])

    async def _run_instance(self, step: Step, context: dict[str, Any], state: StepState) -> tuple[dict, int]:
        """Run one (instance of a) step; returns (outputs, attempts) or raises StepFailure."""
        values: dict[str, str] = {}
        try:
            params = render(step.parameters, context)
            if step.action == "execute-command" and "command" in params:
                params["command"], values = self._command(step.parameters.get("command"), params.get("command"),
                                                          context)
        except TemplateError as err:
            raise StepFailure(f"parameter template error: {err}") from None

        try:
            if step.action == "wait":
                wait = self._params(WaitParams, params)
                await workflow.sleep(timedelta(seconds=wait.duration))
                outputs, attempts = {"waitedMs": int(wait.duration * 1000)}, 1
            elif step.action == "approval":
                outputs, attempts = await self._await_approval(step, state, self._params(ApprovalParams, params)), 1
            elif step.action == "run-workflow":
                outputs, attempts = await self._run_child(state, self._params(RunWorkflowParams, params)), 1
            else:
                outputs, attempts = await self._run_activity(step, params, state, values)
        except StepFailure:
            if step.artifacts is not None and step.artifacts.when == "always":
                await self._store_artifacts(step, state)
            raise

        if step.outputs:
            try:
                named = render(step.outputs, {**context, "result": outputs})
            except TemplateError as err:
                raise StepFailure(f"outputs template error: {err}", outputs, attempts) from None
            outputs = {**outputs, **named}
        if step.artifacts is not None:
            await self._store_artifacts(step, state)
        return outputs, attempts

    async def _store_artifacts(self, step: Step, state: StepState) -> None:
        """Keep the files the step declared (`artifacts:`), in the artifact store (activities/artifacts.py)."""
        assert step.artifacts is not None
        instance = state.id[len(step.id):] or None
        request = ArtifactRequest(run_id=self.run_id, workflow_id=self.inp.workflow_id, step_id=step.id,
                                  instance=instance, paths=step.artifacts.paths, retention_s=step.artifacts.retention,
                                  owner=self.inp.started_by.id if self.inp.started_by else None)
        try:
            stored: list[StoredArtifact] = await workflow.execute_activity(
                names.STORE_ARTIFACTS, request, result_type=list[StoredArtifact],
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=RetryPolicy(maximum_attempts=3, non_retryable_error_types=NON_RETRYABLE))
        except ActivityError as err:
            raise StepFailure(f"artifacts: {getattr(err.cause, 'message', None) or err.cause or err}") from None
        state.artifacts = {item.name: item.model_dump(exclude={"name"}) for item in stored}
        if not stored:
            self._emit("step.warning", {"stepId": state.id, "warning": "no file matched the step's artifacts"})

    async def _run_child(self, state: StepState, params: RunWorkflowParams) -> dict[str, Any]:
        """A run-workflow step: a child PipelineWorkflow of the named workflow (its pinned version), awaited.
        Cancelling this run cancels it (the child's cancellation completes first); closing this run any other way
        asks for its cancellation too (parent close policy)."""
        request = ChildRunRequest(
            parent_run_id=self.run_id, parent_workflow_id=self.inp.workflow_id, step_id=state.id,
            workflow=params.workflow, inputs=params.inputs, started_by=self.inp.started_by,
            depth=self.inp.depth + 1, max_depth=self.inp.max_depth, heartbeat_timeout_s=self.inp.heartbeat_timeout_s,
            default_timeout_s=self.inp.default_timeout_s)
        try:
            plan: ChildRunPlan = await workflow.execute_activity(
                names.RESOLVE_CHILD_RUN, request, result_type=ChildRunPlan,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=5, non_retryable_error_types=NON_RETRYABLE))
        except ActivityError as err:
            raise StepFailure(getattr(err.cause, "message", None) or str(err.cause or err)) from None
        child = plan.input
        state.childRunId = child.run_id
        self._emit("step.child_started", {"stepId": state.id, "runId": child.run_id, "workflowId": child.workflow_id,
                                          "version": child.version})
        await self._flush()
        try:
            result: RunState = await workflow.execute_child_workflow(
                names.PIPELINE_WORKFLOW, child, id=child.run_id, result_type=RunState,
                parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL,
                search_attributes=child_search_attributes(child.workflow_id, child.version, "parent"),
                static_summary=plan.summary, static_details=plan.details)
        except ChildWorkflowError as err:
            cause = err.cause
            if isinstance(cause, CancelledError):
                raise StepFailure(f"sub-workflow run {child.run_id} was cancelled",
                                  {"runId": child.run_id, "status": "cancelled"}) from None
            details = list(cause.details or []) if isinstance(cause, ApplicationError) else []
            final = RunState.model_validate(details[0]) if details and isinstance(details[0], dict) else None
            outputs = self._child_outputs(child.run_id, final) if final else {"runId": child.run_id}
            message = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
            raise StepFailure(f"sub-workflow run {child.run_id} failed: {message}", outputs) from None
        return self._child_outputs(child.run_id, result)

    @staticmethod
    def _child_outputs(run_id: str, result: RunState) -> dict[str, Any]:
        return {"runId": run_id, "workflowId": result.workflowId, "version": result.version,
                "status": result.status.value, "steps": {s.id: s.outputs for s in result.steps}}

    @staticmethod
    def _command(source: Any, rendered: Any, context: dict[str, Any]) -> tuple[Any, dict[str, str]]:
        """An execute-command step's command and the values its shell text refers to: a templated shell string
        gets references (`"${SF_1}"`) and the values go to the process's environment; a templated argv list is
        passed as rendered, unless a templated element is code for the program it runs (`sh -c`)."""
        if isinstance(source, str) and is_template(source):
            if workflow.patched(TEMPLATE_VALUES_AS_ENV):
                return render_shell(source, context)
            return render(source, context, shell=True), {}
        if isinstance(source, list) and any(isinstance(item, str) and is_template(item) for item in source):
            problems = argv_template_problems(source)
            if problems and workflow.patched(TEMPLATE_VALUES_AS_ENV):
                raise ShellTemplateError(f"command[{problems[0][0]}]: {problems[0][1]}")
        return rendered, {}

    @staticmethod
    def _params(model: type[BaseModel], params: dict[str, Any]) -> Any:
        try:
            return model.model_validate(params)
        except Exception as err:
            raise StepFailure(f"invalid parameters: {err}") from None

    async def _run_activity(self, step: Step, params: dict[str, Any], state: StepState,
                            template_env: dict[str, str] | None = None) -> tuple[dict, int]:
        if step.action not in ACTIVITY_FOR_ACTION or step.action not in ACTION_PARAMS:
            raise StepFailure(f"unknown action {step.action!r}")
        name = ACTIVITY_FOR_ACTION[step.action]
        timeout_s = step.timeout
        if timeout_s is None and params.get("timeout") is not None:
            try:
                timeout_s = parse_duration(params["timeout"])
            except ValueError as err:
                raise StepFailure(f"invalid parameters: timeout: {err}") from None
        timeout_s = timeout_s or (LOCAL_STEP_MAX_S if step.local else self.inp.default_timeout_s)
        if step.local:
            timeout_s = min(timeout_s, LOCAL_STEP_MAX_S)
        request = ActionRequest(
            run_id=self.run_id,
            step_id=state.id,
            action=step.action,
            parameters=params,
            env=self.env,
            template_env=template_env or {},
            timeout_s=timeout_s,
            retry_failures=step.retry is not None,
            environments={k: v.model_dump(mode="json") for k, v in self.defn.environments.items()},
            sandbox=step.sandbox.model_dump(mode="json", by_alias=True, exclude_none=True) if step.sandbox else None,
        )
        if step.retry is not None:
            backoff = step.retry.backoff
            policy = RetryPolicy(
                maximum_attempts=step.retry.maxAttempts,
                initial_interval=timedelta(seconds=max(backoff.initial, 0.001)),
                backoff_coefficient=backoff.factor,
                maximum_interval=timedelta(seconds=backoff.max) if backoff.max else None,
                non_retryable_error_types=["InvalidParameters", "EnvironmentNotConfigured"],
            )
        else:
            # A failing command is not retried by default; a lost worker or a timeout still is.
            policy = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1),
                                 non_retryable_error_types=NON_RETRYABLE)
        try:
            if step.local:
                result: ActionResult = await workflow.execute_local_activity(
                    name,
                    request,
                    result_type=ActionResult,
                    start_to_close_timeout=timedelta(seconds=timeout_s + 5),
                    retry_policy=policy,
                    cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                )
            else:
                result = await workflow.execute_activity(
                    name,
                    request,
                    result_type=ActionResult,
                    start_to_close_timeout=timedelta(seconds=timeout_s + 30),
                    heartbeat_timeout=(
                        timedelta(seconds=self.inp.heartbeat_timeout_s) if name in HEARTBEATING else None
                    ),
                    retry_policy=policy,
                    cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                )
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):  # we asked for it: the run is being cancelled
                raise asyncio.CancelledError() from None
            raise self._failure_from(err.cause or err, err.retry_state, policy) from None
        except ApplicationError as err:  # a local activity's non-retryable failure arrives unwrapped
            raise self._failure_from(err, None, policy) from None
        return result.outputs, result.attempt

    @staticmethod
    def _failure_from(cause: BaseException, retry_state: RetryState | None, policy: RetryPolicy) -> StepFailure:
        """The attempt count comes from the activity itself (details[1]) when it reported one; when the
        server gave up on retries it is the policy's maximum."""
        attempts = policy.maximum_attempts if retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED else 1
        if isinstance(cause, ApplicationError):
            details = list(cause.details or [])
            outputs = details[0] if details and isinstance(details[0], dict) else {}
            if len(details) > 1 and isinstance(details[1], dict) and isinstance(details[1].get("attempt"), int):
                attempts = details[1]["attempt"]
            return StepFailure(cause.message, outputs, attempts)
        if isinstance(cause, ActivityTimeoutError):
            kind = cause.type.name.lower() if cause.type else "timeout"
            return StepFailure(f"activity timed out ({kind}) after {attempts} attempt(s)", {}, attempts)
        if isinstance(cause, CancelledError):
            return StepFailure("activity was cancelled", {}, attempts)
        return StepFailure(str(cause), {}, attempts)

    async def _await_approval(self, step: Step, state: StepState, params: ApprovalParams) -> dict[str, Any]:
        # Who may decide comes from the definition as written: a template (which validation refuses anyway) would
        # let a run's inputs choose its own approvers.
        for name in ApprovalParams.LITERAL & set(step.parameters):
            raw = step.parameters[name]
            if any(isinstance(text, str) and is_template(text) for text in (raw if isinstance(raw, list) else [raw])):
                raise StepFailure(f"invalid parameters: {name} must be written out, not templated")
        rules = {"approvers": params.approvers, "allowSelfApproval": params.allowSelfApproval}
        state.approval = {"status": "waiting", "message": params.message, **rules}
        self._emit("step.waiting_approval", {"stepId": step.id, "message": params.message, **rules})
        await self._flush()
        try:
            await workflow.wait_condition(
                lambda: step.id in self.decisions,
                timeout=timedelta(seconds=params.timeout) if params.timeout else None,
            )
            decision = self.decisions[step.id]
        except TimeoutError:
            decision = ApprovalDecision(
                step_id=step.id, approved=params.onTimeout == "approve", by="timeout", comment="approval timed out"
            )
        state.approval = {
            "status": "approved" if decision.approved else "rejected",
            "message": params.message,
            "by": decision.by,
            "byId": decision.by_id,
            "byRole": decision.by_role,
            "comment": decision.comment,
            "at": workflow.now().isoformat(),
            **rules,
        }
        self._emit("step.approval_decided", {"stepId": step.id, **state.approval})
        outputs = {"approved": decision.approved, "by": decision.by, "comment": decision.comment}
        if not decision.approved:
            raise StepFailure(f"rejected by {decision.by or 'unknown'}" + (f": {decision.comment}"
                              if decision.comment else ""), outputs, 1)
        return outputs

    # ---- run-level helpers --------------------------------------------------------------------------

    def _base_context(self) -> dict[str, Any]:
        return {
            "inputs": self.inp.inputs,
            "run": {"id": self.run_id, "workflowId": self.inp.workflow_id, "version": self.inp.version},
            "env": {},
            "trigger": self.trigger.summary(),
            "github": self.trigger.github,
            "webhook": {"payload": self.trigger.payload, "delivery": self.trigger.delivery},
        }

    def _context(self) -> dict[str, Any]:
        return {
            **self._base_context(),
            "env": self.env,
            "steps": {s.id: {"status": s.status.value, "outputs": s.outputs} for s in self.state.steps},
            "artifacts": {s.id: {name: item.get("url") for name, item in s.artifacts.items()}
                          for s in self.state.steps if s.artifacts},
        }

    # ---- concurrency groups -------------------------------------------------------------------------

    async def _hold_run_group(self, spec: Concurrency) -> None:
        """Wait until the run holds its group (queued meanwhile: status pending, `concurrency.position`)."""
        group = str(render(spec.group, self._base_context()))
        self.state.concurrency = {"group": group, "state": "queued", "position": None}
        self.state.status = RunStatus.pending
        await self._acquire(self.run_id, group, spec, run_level=True)
        self.state.status = RunStatus.running
        self._emit("run.concurrency_acquired", {"group": group})

    async def _acquire(self, key: str, group: str, spec: Concurrency, *, run_level: bool) -> None:
        request = LockRequest(group_id=group_workflow_id(self.inp.owner, group), group=group, holder=self.run_id,
                              key=key, run_level=run_level, cancel_in_progress=spec.cancelInProgress)
        self.locks[key] = request
        self._emit("concurrency.requested", {"key": key, "group": group})
        await workflow.execute_activity(names.REQUEST_LOCK, request, start_to_close_timeout=timedelta(seconds=30),
                                        retry_policy=LOCK_REQUEST_RETRY)
        await self._flush()
        await workflow.wait_condition(
            lambda: self.lock_updates.get(key) is not None and self.lock_updates[key].state != "queued")
        if self.lock_updates[key].state == "preempted":
            raise Superseded(key)

    def _release(self, key: str) -> None:
        """Give the group back (or leave its queue): a signal to the group's workflow, awaited before the run
        ends."""
        request = self.locks.pop(key, None)
        if request is None:
            return
        target = self.state.concurrency if key == self.run_id else None
        if target is None and "/" in key:
            target = self.state.step(key.split("/", 1)[1]).concurrency
        if target is not None:
            target.update(state="released", position=None)
        handle = workflow.get_external_workflow_handle(request.group_id)

        async def send() -> None:
            try:
                await handle.signal(RELEASE_SIGNAL, LockRelease(key=key))
            except Exception as err:  # noqa: BLE001 - a group that is gone holds nothing of ours
                workflow.logger.info("concurrency group %s: release not delivered: %s", request.group_id, err)

        self.releases.append(asyncio.create_task(send()))

    async def _prepare_rerun_workspace(self) -> None:
        """A re-run starts from a copy of the original run's workspace, so what reused steps built is there."""
        await workflow.execute_activity(names.PREPARE_RERUN_WORKSPACE, args=[self.inp.rerun_of, self.run_id],
                                        start_to_close_timeout=timedelta(minutes=10),
                                        retry_policy=RetryPolicy(maximum_attempts=3))

    def _fail_now(self, state: StepState, message: str) -> None:
        state.status, state.error = StepStatus.failed, message
        state.startedAt = state.startedAt or workflow.now()
        state.endedAt = workflow.now()
        self._emit("step.failed", {"stepId": state.id, "error": message})

    def _finish(self, status: RunStatus, error: str | None) -> None:
        self.state.status, self.state.error, self.state.endedAt = status, error, workflow.now()
        data: dict[str, Any] = {"status": status.value, "summary": self.summary()}
        if error:
            data["error"] = error
        self._emit(f"run.{status.value}", data)
        workflow.upsert_search_attributes([SA_STATUS.value_set(status.value)])

    def summary(self) -> dict[str, int]:
        counts = {status.value: 0 for status in StepStatus}
        for step in self.state.steps:
            counts[step.status.value] += 1
        return counts

    async def _cancel_everything(self) -> None:
        for step in self.state.steps:
            if step.status in (StepStatus.pending, StepStatus.running):
                step.status, step.reason, step.endedAt = StepStatus.cancelled, "run cancelled", workflow.now()
                self._emit("step.cancelled", {"stepId": step.id})
        await self._conclude(RunStatus.cancelled, "run cancelled")

    def _notify_async(
        self, event: str, status: RunStatus | None = None, error: str | None = None
    ) -> asyncio.Task[None] | None:
        """Send run notifications without holding up the steps; a failing channel is only a warning."""
        config = self.defn.notifications
        if config is None or event not in config.events or not config.channels:
            return None
        request = NotificationRequest(
            run_id=self.run_id,
            workflow_id=self.inp.workflow_id,
            workflow_name=self.defn.name,
            event=event,
            channels=list(config.channels),
            status=(status or self.state.status).value,
            message=f"{self.defn.name}: run {self.run_id} {event}" + (f" ({error})" if error else ""),
            link=self.link,
        )

        async def send() -> None:
            try:
                outcomes: list[ChannelOutcome] = await workflow.execute_activity(
                    names.SEND_NOTIFICATIONS,
                    request,
                    result_type=list[ChannelOutcome],
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=RetryPolicy(maximum_attempts=3),
                )
            except ActivityError as err:
                outcomes = [ChannelOutcome(channel=c, ok=False, detail=str(err.cause or err)) for c in config.channels]
            for outcome in outcomes:
                if not outcome.ok:
                    self._emit("notification.warning",
                               {"event": event, "channel": outcome.channel, "detail": outcome.detail})
                else:
                    self._emit("notification.sent", {"event": event, "channel": outcome.channel})

        return asyncio.create_task(send())

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        self.rec.emit(kind, data)

    async def _flush_soon(self) -> None:
        """Milestones (start, approval waits, the end) flush at once; in between, events are batched and the
        projection lags by at most PIPELINE_FLUSH_EVERY."""
        await self.rec.flush_soon()

    async def _flush(self) -> None:
        await self.rec.flush()
