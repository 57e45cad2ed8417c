"""The read cache: decoded values of recently read or written entries, per process.

Every read still asks the database for the entry's metadata (one indexed lookup of small columns: version, owner,
access level, expiry, counters); the cache answers only when its copy has the same row and version. So it never
serves a stale value, even when another process (an API replica, a worker's `memory-store` step) wrote the key:
what it saves is fetching and decoding the value, which is most of a read's cost for large values. Hits and misses
are counted here and shown by `GET /api/memory/stats` (this process's numbers).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Cached:
    pk: int
    version: int
    value: Any
    tags: tuple[str, ...]
    size: int


class ReadCache:
    def __init__(self, max_entries: int = 10_000, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[tuple[str, str], Cached] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, namespace: str, key: str) -> Cached | None:
        with self._lock:
            item = self._items.get((namespace, key))
            if item is not None:
                self._items.move_to_end((namespace, key))
            return item

    def count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def put(self, namespace: str, key: str, item: Cached) -> None:
        if self.max_entries <= 0 or item.size > self.max_bytes // 8:
            self.invalidate(namespace, key)
            return
        with self._lock:
            old = self._items.pop((namespace, key), None)
            if old is not None:
                self._bytes -= old.size
            self._items[(namespace, key)] = item
            self._bytes += item.size
            while self._items and (len(self._items) > self.max_entries or self._bytes > self.max_bytes):
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.size

    def invalidate(self, namespace: str, key: str) -> None:
        with self._lock:
            old = self._items.pop((namespace, key), None)
            if old is not None:
                self._bytes -= old.size

    def invalidate_children(self, namespace: str, key: str) -> None:
        prefix = key + "/"
        with self._lock:
            for name in [k for k in self._items if k[0] == namespace and k[1].startswith(prefix)]:
                self._bytes -= self._items.pop(name).size

    def __len__(self) -> int:
        return len(self._items)
