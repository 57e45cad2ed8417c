"""Task progress: parsed from the task's output, sent as activity heartbeats and as a `progress` signal.

Heartbeats carry `{"progress": 0..1, "message": str}` every HEARTBEAT_INTERVAL_S (0.5 s) whatever the executor
is doing (copying a workspace, waiting for an LLM, running tests): they are how Temporal notices a dead worker
and how it delivers a cancellation. The `progress` signal goes to the workflow whose id is the task id (the
TaskWorkflow), at most once a second and only when the figure changed; a task run outside such a workflow
has no one to signal, so every failure of it is ignored.

Progress lines, one per line on stdout or stderr (case-insensitive), optionally followed by a message:
    progress: 0.4        progress: 40%        progress=40        ::progress::0.4 building the index
A bare number above 1 is read as a percentage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from datetime import timedelta
from types import TracebackType
from typing import Any

from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from activities.environment import HEARTBEAT_INTERVAL_S, heartbeat
from core.agents.contracts import TaskHandlers

log = logging.getLogger("stellarflow.executors")

SIGNAL_NAME = TaskHandlers.PROGRESS
SIGNAL_MIN_INTERVAL_S = 1.0
# The first signal (which also tells the TaskWorkflow that it runs, and where) waits this long: a task that is
# over by then is reported once, by its agent, with its real start time — not by a signal per state change.
FIRST_SIGNAL_AFTER_S = 0.5
MAX_MESSAGE = 200
_LINE_BUFFER = 8192

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_MAX_NUMBER = 64  # characters of a figure that are read; longer ones are absurd, and only their size matters


def parse_progress(line: str) -> tuple[float, str | None] | None:
    """(fraction, message) from a progress line, else None.

    Linear in the line's length, by construction: a fixed prefix, one anchored run of digits, then plain string
    operations (`strip`, slicing), none of which backtracks. (A single regular expression for the whole line took
    3.7 s on a 32 KiB line: optional whitespace around a lazy message makes a run of spaces quadratic, on the
    worker's event loop.)"""
    text = line.strip()
    head = text[:12].lower()
    if head.startswith("::progress::"):
        rest = text[12:].lstrip()
    elif head.startswith("progress"):
        rest = text[8:].lstrip()
        if not rest or rest[0] not in ":=":
            return None
        rest = rest[1:].lstrip()
    else:
        return None
    number = _NUMBER.match(rest)
    if number is None:
        return None
    value = float(number.group()[:_MAX_NUMBER])
    after = rest[number.end() :]
    percent = after.lstrip().startswith("%")
    remainder = after.lstrip()[1:] if percent else after
    if remainder and not remainder[0].isspace():
        if not percent or not after[:1].isspace():
            return None
        percent, remainder = False, after  # "40 %x": not a percent sign but the start of a message, as before
    if percent or value > 1:
        value /= 100
    return min(max(value, 0.0), 1.0), remainder.strip() or None


class Progress:
    """Use as `async with Progress(task_id) as progress:`; it heartbeats in the background until the block
    ends (or is cancelled). `feed` is the `on_output` hook of `run_process`."""

    def __init__(self, task_id: str, message: str = "starting", agent_id: str | None = None) -> None:
        self.task_id = task_id
        self.agent_id = agent_id  # sent with the signal: the first one tells the task which agent started it
        self.progress = 0.0
        self.message = message
        self.updates: list[tuple[float, str]] = []  # every distinct figure, for tests and logs
        self._partial: dict[int, bytearray] = {}
        self._pulse: asyncio.Task[None] | None = None
        self._signal_task: asyncio.Task[None] | None = None
        self._signalled: float | None = None
        self._signalled_at = 0.0
        self._signals_off = not activity.in_activity()
        self._began = time.monotonic()

    # ---- state
    def details(self) -> dict[str, Any]:
        return {"progress": round(self.progress, 4), "message": self.message}

    def set(self, progress: float | None = None, message: str | None = None, *, final: bool = False) -> None:
        """A new figure is heartbeaten at once (the SDK batches heartbeats, so this is cheap); a new message
        alone waits for the next pulse. The `final` figure (the task is done) is heartbeaten but not signalled:
        the agent's report of the task's end carries it, and a signal racing that report would only add a
        `task.progress` event just before `task.completed`."""
        before = self.progress
        if progress is not None:
            self.progress = min(max(float(progress), 0.0), 1.0)
        if message is not None:
            self.message = message.strip()[:MAX_MESSAGE]
        if not self.updates or self.updates[-1] != (self.progress, self.message):
            self.updates.append((self.progress, self.message))
        if self.progress != before:
            heartbeat(self.details())
        if final:
            self._signals_off = True
            return
        self._maybe_signal()

    def feed(self, fd: int, chunk: bytes) -> None:
        """Split a process's output into lines; progress lines move the figure, other lines become the
        message (the latest output line says what the task is doing)."""
        buffer = self._partial.setdefault(fd, bytearray())
        buffer += chunk
        *lines, rest = bytes(buffer).split(b"\n")
        buffer[:] = rest[-_LINE_BUFFER:]
        for raw in lines:
            line = raw.decode("utf-8", errors="replace").rstrip("\r")
            parsed = parse_progress(line)
            if parsed is not None:
                self.set(parsed[0], parsed[1])
            elif line.strip() and fd == 1:
                self.set(message=line)

    # ---- heartbeats and signals
    def beat(self) -> None:
        heartbeat(self.details())
        self._maybe_signal()

    async def _run_pulse(self) -> None:
        while True:
            self.beat()
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)

    def _maybe_signal(self) -> None:
        if self._signals_off or self.progress == self._signalled:
            return
        if self._signal_task is not None and not self._signal_task.done():
            return
        if time.monotonic() - self._signalled_at < SIGNAL_MIN_INTERVAL_S:
            return  # the pulse comes back within a second and sends the latest figure then
        if time.monotonic() - self._began < FIRST_SIGNAL_AFTER_S:
            return  # likewise
        if not activity.in_activity():  # a callback that lost the activity's context: the pulse has it
            return
        try:
            client = activity.client()
        except RuntimeError:  # a `def` activity, or a test harness without a client
            self._signals_off = True
            return
        payload = {**self.details(), "agent_id": self.agent_id} if self.agent_id else self.details()
        self._signalled, self._signalled_at = self.progress, time.monotonic()
        self._signal_task = asyncio.get_running_loop().create_task(self._send(client, payload))

    async def _send(self, client: Any, payload: dict[str, Any]) -> None:
        try:
            handle = client.get_workflow_handle(self.task_id)
            await handle.signal(SIGNAL_NAME, payload, rpc_timeout=timedelta(seconds=2))
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                self._signals_off = True  # no workflow of that id: stop trying
            log.debug("progress signal for %s not delivered: %s", self.task_id, err.status)
        except Exception as err:  # noqa: BLE001 - progress is best effort; the task must not fail for it
            log.debug("progress signal for %s not delivered: %s", self.task_id, type(err).__name__)

    # ---- lifecycle
    async def __aenter__(self) -> Progress:
        self._pulse = asyncio.get_running_loop().create_task(self._run_pulse())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for task in (self._pulse, self._signal_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
