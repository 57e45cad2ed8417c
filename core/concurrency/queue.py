"""The decisions of a concurrency group, as pure functions of its state: who holds it, who waits, in which order,
and whom to tell what. `ConcurrencyGroupWorkflow` applies them and sends the updates."""

from __future__ import annotations

from core.concurrency.contracts import GroupState, LockRequest, LockUpdate

Outbox = list[tuple[LockRequest, LockUpdate]]


def acquire(state: GroupState, request: LockRequest) -> tuple[Outbox, list[LockRequest]]:
    """Queue a request (a repeated one is answered again, not queued twice). Returns the updates to send and the
    requests to cancel (cancelInProgress: the holder and everyone waiting are superseded)."""
    state.group = state.group or request.group
    known = [r for r in ([state.holder] if state.holder else []) + state.queue if r.key == request.key]
    if known:
        return _positions(state, only=request.key), []
    superseded: list[LockRequest] = []
    out: Outbox = []
    if request.cancel_in_progress:
        for victim in ([state.holder] if state.holder else []) + list(state.queue):
            if victim.key not in state.preempted:
                state.preempted.append(victim.key)
                superseded.append(victim)
                out.append((victim, LockUpdate(key=victim.key, state="preempted", by=request.key)))
        # Waiting ones leave the queue at once; the holder keeps the lock until it has stopped and released.
        state.queue = []
    state.queue.append(request)
    out += grant_next(state)
    return out, superseded


def release(state: GroupState, key: str) -> Outbox:
    """The holder is done (or a waiting one gave up): the next in line gets the lock."""
    if key in state.preempted:
        state.preempted.remove(key)
    if state.holder is not None and state.holder.key == key:
        state.holder = None
    state.queue = [r for r in state.queue if r.key != key]
    return grant_next(state)


def drop_closed(state: GroupState, open_holders: set[str]) -> Outbox:
    """Forget requests whose run is gone (terminated by hand, so it never released)."""
    out: Outbox = []
    if state.holder is not None and state.holder.holder not in open_holders:
        out += release(state, state.holder.key)
    for waiting in [r for r in state.queue if r.holder not in open_holders]:
        out += release(state, waiting.key)
    return out


def grant_next(state: GroupState) -> Outbox:
    out: Outbox = []
    if state.holder is None and state.queue:
        state.holder = state.queue.pop(0)
        state.granted_total += 1
        out.append((state.holder, LockUpdate(key=state.holder.key, state="granted")))
    return out + _positions(state)


def _positions(state: GroupState, only: str | None = None) -> Outbox:
    out: Outbox = []
    if state.holder is not None and only == state.holder.key:
        out.append((state.holder, LockUpdate(key=state.holder.key, state="granted")))
    for index, waiting in enumerate(state.queue, 1):
        if only is None or waiting.key == only:
            out.append((waiting, LockUpdate(key=waiting.key, state="queued", position=index)))
    return out


def idle(state: GroupState) -> bool:
    return state.holder is None and not state.queue
