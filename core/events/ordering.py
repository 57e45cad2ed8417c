"""Commit-ordered event ids, and the announcement that wakes the stream hubs (docs/events.md).

Why a lock: PostgreSQL draws ids from a sequence when a row is inserted, not when it commits, so two concurrent
writers can commit ids 8 then 7; a reader that had already seen 8 would skip 7 forever when it catches up with
`id > 8`. Every transaction that inserts events therefore takes one transaction-scoped advisory lock first: ids are
drawn and committed one writer at a time, so ids are in commit order. SQLite serialises writes by itself.

Why an announcement: API replicas deliver events live. On PostgreSQL a write sends `pg_notify` with its highest id
(delivered to listeners at commit, never for a rolled back write); with REDIS_URL set it is also published on a
Redis channel after commit. Either only wakes a hub, which then reads the table: a lost announcement delays an event
until the hub's next safety poll, it never loses one.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.engine import Connection

from core.events.tables import EventRow

log = logging.getLogger("stellarflow.events")

EVENTS_LOCK_KEY = 0x5354_4C46_4556  # "STLFEV": the advisory lock every event insert takes on PostgreSQL
CHANNEL = "stellarflow_events"  # the PostgreSQL NOTIFY channel and the Redis pub/sub channel


def lock_events(conn: Connection) -> None:
    """Take the events lock for the rest of this transaction (PostgreSQL; nothing to do on SQLite)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENTS_LOCK_KEY})


def announce(conn: Connection) -> int | None:
    """The highest event id, as this transaction sees it (its own rows included), sent with `pg_notify` on
    PostgreSQL (delivered at commit). Returns it, for `published` to send to Redis after commit."""
    newest = conn.execute(text("SELECT max(id) FROM events")).scalar()
    if newest is not None and conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": str(newest)})
    return newest


_redis_lock = threading.Lock()
_redis: dict[str, Any] = {}


def published(newest: int | None) -> None:
    """After commit: tell the hubs through Redis (when REDIS_URL is set) that events up to `newest` are readable.
    Best effort: a failure is logged, the hubs' safety poll still finds the rows."""
    if newest is None:
        return
    from core.settings import get_settings

    url = get_settings().redis_url
    if not url:
        return
    try:
        with _redis_lock:
            client = _redis.get(url)
            if client is None:
                import redis

                client = _redis[url] = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        client.publish(CHANNEL, str(newest))
    except Exception as err:  # noqa: BLE001 - announcing is an optimisation; the rows are committed
        log.warning("could not publish event %s to Redis: %s", newest, err)


def _orm_insert(_mapper: Any, connection: Connection, _target: Any) -> None:
    """Events written through the ORM (`session.add(EventRow(...))`, e.g. memory's expiry events) take the lock
    too, so they keep the commit order; they are announced by the hubs' safety poll."""
    lock_events(connection)


sa_event.listen(EventRow, "before_insert", _orm_insert)
