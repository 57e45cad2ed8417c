"""Projection writes taken off the request path: `submit` queues an `EntityRecord`, a background thread writes what
has queued up in one transaction (`core.events.store.record_many`) at most `interval` later.

What uses it: starting a run writes the run's first, pending projection row — only so that lists show the run at
once; the run's workflow writes its row itself on its first flush (`record` upserts by seq), so a queued write lost
with its process costs nothing but that moment of visibility (and `stellarflow reconcile` would find it anyway).
Batching turns one write transaction per start into one per batch, and the request no longer waits for it.

Reads in this process see what it queued: `flush()` writes the queue now, on the caller's thread (readers call it
when a row is missing, and lists call it before they read; it returns at once when nothing is queued).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time

from core.events.contracts import EntityRecord
from core.events.store import ProjectionWriter, record_many

log = logging.getLogger("stellarflow.events")


class PendingWrites:
    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self._queue: list[tuple[EntityRecord, ProjectionWriter]] = []
        self._lock = threading.Lock()  # guards the queue
        self._writing = threading.Lock()  # one write at a time, so a flush returns after the batch in flight landed
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, request: EntityRecord, writer: ProjectionWriter) -> None:
        with self._lock:
            self._queue.append((request, writer))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="stellarflow-pending-writes", daemon=True)
                self._thread.start()
        self._wake.set()

    def flush(self) -> None:
        with self._writing:
            with self._lock:
                batch, self._queue = self._queue, []
            if batch:
                self._write(batch)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            time.sleep(self.interval_s)  # let a burst gather into one transaction
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the workflows write these rows too; never kill the thread
                log.exception("could not write queued projection rows")

    @staticmethod
    def _write(batch: list[tuple[EntityRecord, ProjectionWriter]]) -> None:
        by_writer: dict[int, tuple[ProjectionWriter, list[EntityRecord]]] = {}
        for request, writer in batch:
            by_writer.setdefault(id(writer), (writer, []))[1].append(request)
        for writer, requests in by_writer.values():
            record_many(requests, writer)


PENDING = PendingWrites()
atexit.register(PENDING.flush)
