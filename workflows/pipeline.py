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
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, RetryState
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

from core.dsl.templating import TemplateError, evaluate, evaluate_condition, render
from workflows.recording import PIPELINE_FLUSH_EVERY, Recorder

with workflow.unsafe.imports_passed_through():
    from core import names
    from core.dsl.actions import ACTION_PARAMS, ApprovalParams, WaitParams
    from core.dsl.durations import parse_duration
    from core.dsl.models import LOCAL_STEP_MAX_S, Step, WorkflowDefinition
    from core.names import PIPELINE_WORKFLOW
    from core.pipelines.contracts import (
        ActionRequest,
        ActionResult,
        ApprovalDecision,
        ChannelOutcome,
        NotificationRequest,
        PipelineInput,
    )
    from core.pipelines.models import TERMINAL_STEP, RunState, RunStatus, StepState, StepStatus
    from core.temporal import SA_STATUS

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


class StepFailure(Exception):
    """A step ended in failure; carries what the step produced before failing."""

    def __init__(self, message: str, outputs: dict[str, Any] | None = None, attempts: int | None = None):
        super().__init__(message)
        self.outputs = outputs or {}
        self.attempts = attempts


@workflow.defn(name=PIPELINE_WORKFLOW)
class PipelineWorkflow:
    @workflow.init
    def __init__(self, inp: PipelineInput) -> None:
        self.inp = inp
        self.defn = WorkflowDefinition.model_validate(inp.definition)
        self.state = RunState(
            id=inp.run_id,
            workflowId=inp.workflow_id,
            version=inp.version,
            inputs=inp.inputs,
            steps=[StepState(id=s.id, name=s.name, action=s.action) for s in self.defn.steps],
        )
        self.rec = Recorder("run", inp.run_id, lambda: self.state.model_dump(mode="json"),
                            flush_every=PIPELINE_FLUSH_EVERY)
        self.decisions: dict[str, ApprovalDecision] = {}
        self.env: dict[str, str] = {}
        self.started_note: asyncio.Task[None] | None = None

    # ---- public surface -----------------------------------------------------------------------------

    @workflow.query
    def status(self) -> RunState:
        return self.state

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

    @workflow.run
    async def run(self, inp: PipelineInput) -> RunState:
        self.state.status = RunStatus.running
        self.state.startedAt = workflow.now()
        # The API wrote the pending projection row already; the first events can wait for the first batch.
        self.rec.last_flush = self.state.startedAt
        self._emit("run.started", {"workflowId": inp.workflow_id, "version": inp.version})
        self.started_note = self._notify_async("started")
        try:
            self.env = {k: str(v) for k, v in render(self.defn.env, self._base_context()).items()}
            await self._execute_dag()
        except TemplateError as err:
            outcome: tuple[RunStatus, str | None] = (RunStatus.failed, f"env template error: {err}")
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
            outcome = (RunStatus.failed, f"step(s) failed: {', '.join(failed)}") if failed else (
                RunStatus.succeeded, None)
        await self._conclude(*outcome)
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
        try:
            params = render(step.parameters, context)
            if step.action == "execute-command" and isinstance(step.parameters.get("command"), str):
                params["command"] = render(step.parameters["command"], context, shell=True)
        except TemplateError as err:
            raise StepFailure(f"parameter template error: {err}") from None

        if step.action == "wait":
            wait = self._params(WaitParams, params)
            await workflow.sleep(timedelta(seconds=wait.duration))
            outputs, attempts = {"waitedMs": int(wait.duration * 1000)}, 1
        elif step.action == "approval":
            outputs, attempts = await self._await_approval(step, state, self._params(ApprovalParams, params)), 1
        else:
            outputs, attempts = await self._run_activity(step, params, state)

        if step.outputs:
            try:
                named = render(step.outputs, {**context, "result": outputs})
            except TemplateError as err:
                raise StepFailure(f"outputs template error: {err}", outputs, attempts) from None
            outputs = {**outputs, **named}
        return outputs, attempts

    @staticmethod
    def _params(model: type[BaseModel], params: dict[str, Any]) -> Any:
        try:
            return model.model_validate(params)
        except Exception as err:
            raise StepFailure(f"invalid parameters: {err}") from None

    async def _run_activity(self, step: Step, params: dict[str, Any], state: StepState) -> tuple[dict, int]:
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
            run_id=self.inp.run_id,
            step_id=state.id,
            action=step.action,
            parameters=params,
            env=self.env,
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
        state.approval = {"status": "waiting", "message": params.message}
        self._emit("step.waiting_approval", {"stepId": step.id, "message": params.message})
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
            "comment": decision.comment,
            "at": workflow.now().isoformat(),
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
            "run": {"id": self.inp.run_id, "workflowId": self.inp.workflow_id, "version": self.inp.version},
            "env": {},
        }

    def _context(self) -> dict[str, Any]:
        return {
            **self._base_context(),
            "env": self.env,
            "steps": {s.id: {"status": s.status.value, "outputs": s.outputs} for s in self.state.steps},
        }

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
            run_id=self.inp.run_id,
            workflow_id=self.inp.workflow_id,
            workflow_name=self.defn.name,
            event=event,
            channels=list(config.channels),
            status=(status or self.state.status).value,
            message=f"{self.defn.name}: run {self.inp.run_id} {event}" + (f" ({error})" if error else ""),
            link=self.inp.link,
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
