"""What crosses the boundary of a concurrency group's workflow (`ConcurrencyGroupWorkflow`)."""

from __future__ import annotations

import hashlib
import re
from typing import Final, Literal

from pydantic import BaseModel, Field

ACQUIRE_SIGNAL: Final = "acquire"
RELEASE_SIGNAL: Final = "release"
STATUS_QUERY: Final = "status"
# How often the group checks that its holder and waiters still exist (a run terminated by hand never releases).
LIVENESS_CHECK_S: Final = 30.0

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def group_workflow_id(owner: str | None, group: str) -> str:
    """The lock's workflow id. Groups are per workflow owner (like GitHub's per repository): another user's runs
    can neither queue behind yours nor cancel them with `cancelInProgress`."""
    scope = owner or "none"
    readable = _SAFE.sub("_", group)[:80]
    digest = hashlib.sha256(f"{scope}\0{group}".encode()).hexdigest()[:12]
    return f"concurrency-{_SAFE.sub('_', scope)[:40]}-{readable}-{digest}"


class LockRequest(BaseModel):
    """One run (or one step of a run) asking for its group."""

    group_id: str  # the lock workflow's id
    group: str  # as rendered, for people
    holder: str  # the asking run's workflow id
    key: str  # `<run id>` for a whole run, `<run id>/<step id>` for a step
    run_level: bool = True
    cancel_in_progress: bool = False


class LockRelease(BaseModel):
    key: str


class LockUpdate(BaseModel):
    """The group's answer to one request: `queued` (with the position, 1 = next), `granted`, or `preempted` (a newer
    request with cancelInProgress superseded it: give the lock back)."""

    key: str
    state: Literal["queued", "granted", "preempted"]
    position: int = 0
    by: str | None = None  # preempted: the key that superseded it


class GroupState(BaseModel):
    group: str = ""
    holder: LockRequest | None = None
    queue: list[LockRequest] = Field(default_factory=list)
    preempted: list[str] = Field(default_factory=list)  # keys told to give the lock back, not yet released
    granted_total: int = 0
