"""What the long-lived entity workflows (AgentWorkflow, SwarmWorkflow) share: when to continue as new, and how.

An agent or a swarm lives until it is terminated, so its history would grow without bound. Each continues as new
when Temporal suggests it or its history passed the input's `history_limit` (tests set a small one), carrying its
state — counters, queue, event seq — into the new run. (TaskWorkflow ends with its task, so it never needs to.)
"""

from __future__ import annotations

from typing import Any, Protocol

from temporalio import workflow

from workflows.recording import Recorder


class _Carried(Protocol):
    seq: int


class _Input(Protocol):
    history_limit: int | None

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any: ...


def history_full(limit: int | None) -> bool:
    """Time to continue as new: Temporal suggests it, or the history passed `limit` events."""
    info = workflow.info()
    return info.is_continue_as_new_suggested() or (limit is not None and info.get_current_history_length() > limit)


class ContinuesAsNew:
    """Mixin for an entity workflow with `_input` (carrying `history_limit`; `state` is the field its state goes in),
    `_state` (with `seq`) and `_recorder`. Subclasses say when they must not continue as new right now."""

    @property
    def _input(self) -> _Input:
        raise NotImplementedError

    @property
    def _state(self) -> _Carried:
        raise NotImplementedError

    @property
    def _recorder(self) -> Recorder:
        raise NotImplementedError

    def _ending(self) -> bool:
        """The entity is ending (terminate, delete): it must end, not continue as new."""
        raise NotImplementedError

    def _work_pending(self) -> bool:
        """Work arrived that this run must do before it continues as new (or the new run would not look at it)."""
        return False

    def _history_full(self) -> bool:
        return history_full(self._input.history_limit)

    async def _continue_as_new(self) -> None:
        """Settle what was sent, wait for running handlers, then continue as new with the state — unless the entity
        is ending or work arrived meanwhile, in which case this returns and the caller's loop goes on (and calls
        this again on a later pass)."""
        await self._recorder.settle()
        # An Update that ends the entity waits for the main loop, so it must not be waited for here.
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() or self._ending())
        if self._ending() or self._work_pending():
            return
        self._state.seq = self._recorder.seq
        workflow.continue_as_new(self._input.model_copy(update={"state": self._state}))
