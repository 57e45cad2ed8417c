"""Live log lines: what a step's command prints, line by line, appended to the event log while it runs, so a run's
stream (WebSocket, `--watch`) can show it before the step ends.

The contract readers rely on (docs/dsl.md "Live log lines"):
* resource id `f"{run_id}/{step_id}/log"` (a fan-out instance's step id is `build[0]`), type `step.log`;
* seq = `attempt * SEQ_PER_ATTEMPT + n`, n = 1, 2, … the line's number within the attempt, across stdout and
  stderr in the order they were read, so a retried attempt never collides with the one before and readers sort by
  seq; a deploy's rollback command continues the numbering of its deploy command (same step, same attempt);
* data `{"step", "stream": "stdout" | "stderr", "line", "attempt"}`; a line longer than MAX_LINE_BYTES is cut there
  (`"cut": true`); after MAX_LINES lines one marker `{..., "truncated": true}` and nothing more.

Costs: nothing at all for a command that prints nothing (no task, no write). Otherwise lines are batched — written
every FLUSH_EVERY_S or every BATCH_LINES lines, whichever comes first — one write in flight at a time, off the
event loop (`asyncio.to_thread`), through `core.events.store.record` (an upsert on (resource id, seq): a retried
write appends nothing twice). A failed write is logged and dropped: the step never fails for its log. The step's
outputs (`stdout`, `stderr`: bounded tails) are unchanged and remain the durable record of what it printed.

Secrets: the lines are the command's own output, the same bytes as its `stdout`/`stderr` outputs, and fall under
the same rule (docs/security.md): a restricted field, shown only to whoever may read the run's logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from core.events.contracts import EntityRecord
from core.events.models import Event

log = logging.getLogger("stellarflow.log_lines")

EVENT_TYPE = "step.log"
SEQ_PER_ATTEMPT = 1_000_000
MAX_LINES = 10_000  # per step and attempt; well below SEQ_PER_ATTEMPT
MAX_LINE_BYTES = 4096
BATCH_LINES = 100  # a write starts once this many lines wait
MAX_BATCH = 1000  # lines per write at most (one statement)
FLUSH_EVERY_S = 0.2
CLOSE_TIMEOUT_S = 5.0  # the last write may hold the step's end this long at most
STREAMS = {1: "stdout", 2: "stderr"}

Writer = Callable[[EntityRecord], object]


def resource_id(run_id: str, step_id: str) -> str:
    return f"{run_id}/{step_id}/log"


def first_seq(attempt: int) -> int:
    """The seq of an attempt's first line."""
    return attempt * SEQ_PER_ATTEMPT + 1


def _record(request: EntityRecord) -> object:
    from core.events.store import record

    return record(request, None)


# Lines numbered so far per (resource, attempt) in this process: a deploy step's rollback command continues after its
# deploy command. Bounded: only the most recent steps are remembered, and an attempt only ever runs in one process.
_numbered: OrderedDict[tuple[str, int], int] = OrderedDict()
_REMEMBERED = 1024


class StepLog:
    """Feed it a process's output (`feed` is `run_process`'s `on_output`), then `await close()` once it ended."""

    def __init__(self, run_id: str, step_id: str, attempt: int, *, writer: Writer = _record) -> None:
        self.step_id = step_id
        self.attempt = attempt
        self.resource = resource_id(run_id, step_id)
        self.writer = writer
        self.count = _numbered.get((self.resource, attempt), 0)  # lines numbered (kept or marker) so far
        self.truncated = self.count > MAX_LINES
        self._partial: dict[int, bytearray] = {}
        self._cut: dict[int, bool] = {}  # a line already cut at MAX_LINE_BYTES: drop the rest of it
        self._pending: list[Event] = []
        self._wake: asyncio.Event | None = None
        self._pump: asyncio.Task[None] | None = None
        self._closing = False
        self.failed_writes = 0

    # ---- input (synchronous: called from the subprocess protocol's callback) ----------------------------------

    def feed(self, fd: int, chunk: bytes) -> None:
        if self.truncated or not chunk:
            return
        buffer = self._partial.setdefault(fd, bytearray())
        start = 0
        while start < len(chunk):
            end = chunk.find(b"\n", start)
            if end < 0:
                self._append_partial(fd, buffer, chunk[start:])
                break
            self._append_partial(fd, buffer, chunk[start:end])
            if self._cut.pop(fd, False):
                buffer.clear()  # its first MAX_LINE_BYTES were already emitted
            else:
                self._line(fd, bytes(buffer))
                buffer.clear()
            start = end + 1

    def _append_partial(self, fd: int, buffer: bytearray, piece: bytes) -> None:
        if self._cut.get(fd):
            return
        buffer += piece
        if len(buffer) > MAX_LINE_BYTES:
            self._line(fd, bytes(buffer[:MAX_LINE_BYTES]), cut=True)
            buffer.clear()
            self._cut[fd] = True

    def _line(self, fd: int, raw: bytes, *, cut: bool = False) -> None:
        if self.truncated:
            return
        text = raw.decode("utf-8", errors="replace").rstrip("\r").replace("\0", "\ufffd")  # PostgreSQL refuses NUL
        data: dict[str, object] = {"step": self.step_id, "stream": STREAMS.get(fd, str(fd)), "line": text,
                                   "attempt": self.attempt}
        if cut:
            data["cut"] = True
        if self.count >= MAX_LINES:
            data["line"] = (f"[stellarflow] log lines truncated: only the first {MAX_LINES} lines are kept here "
                            "(the step's stdout and stderr outputs keep the end)")
            data["truncated"] = True
            self.truncated = True
        self.count += 1
        self._remember()
        self._pending.append(Event(seq=self.attempt * SEQ_PER_ATTEMPT + self.count, type=EVENT_TYPE,
                                   at=datetime.now(UTC), data=data))
        if self._pump is None:
            self._wake = asyncio.Event()
            self._pump = asyncio.get_running_loop().create_task(self._run())
        elif len(self._pending) >= BATCH_LINES and self._wake is not None:
            self._wake.set()

    def _remember(self) -> None:
        key = (self.resource, self.attempt)
        _numbered[key] = self.count
        _numbered.move_to_end(key)
        while len(_numbered) > _REMEMBERED:
            _numbered.popitem(last=False)

    # ---- output ------------------------------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_EVERY_S)
            self._wake.clear()
            await self._write()
            if self._pending and (self._closing or len(self._pending) >= BATCH_LINES):
                self._wake.set()  # more waited meanwhile: go again at once
            elif self._closing:
                return

    async def _write(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        request = EntityRecord(kind="log", id=self.resource, seq=batch[-1].seq, snapshot={}, events=batch)
        try:
            await asyncio.to_thread(self.writer, request)
        except Exception as err:  # noqa: BLE001 - a step never fails for its log
            self.failed_writes += 1
            if self.failed_writes == 1:
                log.warning("log lines of %s not written (%s); the step goes on", self.resource, type(err).__name__)

    async def close(self) -> None:
        """Emit a last line without a newline, write what is pending, and stop. Bounded by CLOSE_TIMEOUT_S; never
        raises (a cancellation of the caller still goes through)."""
        for fd, buffer in self._partial.items():
            if buffer and not self._cut.get(fd):
                self._line(fd, bytes(buffer))
            buffer.clear()
        if self._pump is None:
            return
        self._closing = True
        assert self._wake is not None
        self._wake.set()
        done, _ = await asyncio.wait([self._pump], timeout=CLOSE_TIMEOUT_S)
        if not done:
            self._pump.cancel()
            log.warning("log lines of %s: the last write took over %ss; left behind", self.resource, CLOSE_TIMEOUT_S)
