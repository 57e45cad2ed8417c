"""The live event stream of one API replica (docs/events.md): one reader fans the event log out to every subscriber.

Why one reader: 200 WebSocket clients must not mean 200 queries every 100 ms. The hub keeps a cursor (the highest id
it has delivered), reads `id > cursor` in pages when woken, and offers each event to every subscriber's bounded
queue. What wakes it depends on the deployment:

* `redis` (REDIS_URL set): the writers publish the new highest id after commit (`core.events.ordering.published`);
* `postgres`: `LISTEN stellarflow_events`, the `pg_notify` the writers send in their transaction;
* `poll` (SQLite): a timer every `event_poll_interval_s` (0.1 s).

With `redis` and `postgres` the hub still polls every `event_safety_poll_s`, so a lost notification (a reconnect)
delays events, never loses them. Ids are commit-ordered (`core.events.ordering`), so `id > cursor` misses nothing.

A subscriber resumes from `since`: it is registered first (so live events queue up), then reads the log from
`since` up to the hub's cursor at registration, then drains its queue, skipping what it has already had — every
event after `since` exactly once, in order. A subscriber whose queue overflows (a client that does not read) is
dropped with a reason and counted in `EventHub.dropped`; it never slows the others or grows memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from core.events.models import StoredEvent
from core.events.ordering import CHANNEL
from core.events.store import events_after, id_range

log = logging.getLogger("stellarflow.events.stream")

PAGE = 500
Filter = Callable[[StoredEvent], bool]


class SlowConsumer(Exception):
    """The subscriber's queue overflowed: it is disconnected (close code 4408 on the WebSocket)."""




class Subscription:
    def __init__(self, hub: EventHub, wants: Filter, maxsize: int, resource: str | None = None) -> None:
        self.hub = hub
        self.resource = resource  # catch up through this resource's index rather than the whole log
        self.wants = wants
        self.queue: asyncio.Queue[StoredEvent | None] = asyncio.Queue(maxsize)
        self.start = hub.cursor  # events after this come through the queue
        self.last = 0  # the highest id handed to the consumer
        self.reason: str | None = None
        self.on_overflow: Callable[[], None] | None = None  # the consumer may be stuck in a send: tell it now

    def offer(self, event: StoredEvent) -> None:
        if self.reason is not None or not self.wants(event):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.reason = f"send queue overflow ({self.queue.maxsize} events): the client reads too slowly"
            self.hub.dropped += 1
            self.hub.unsubscribe(self)
            while not self.queue.empty():  # free the memory now, and leave room for the stop mark
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            if self.on_overflow is not None:
                self.on_overflow()

    async def events(self, since: int | None) -> AsyncIterator[StoredEvent]:
        """Every wanted event after `since` (None: only live ones), once, in id order; raises SlowConsumer."""
        if since is not None and since < self.start:
            cursor = since
            while cursor < self.start:
                page = await asyncio.to_thread(events_after, cursor, limit=PAGE, resource=self.resource)
                page = [e for e in page if e.id <= self.start]
                if not page:
                    break
                for event in page:
                    cursor = event.id
                    if self.wants(event):
                        self.last = event.id
                        yield event
            self.last = max(self.last, self.start)
        else:
            self.last = max(self.start, since or 0)
        while True:
            event = await self.queue.get()
            if event is None:
                raise SlowConsumer(self.reason or "disconnected")
            if event.id <= self.last:
                continue
            self.last = event.id
            yield event

    def close(self) -> None:
        self.hub.unsubscribe(self)


class EventHub:
    """One per API replica (`api.common.ws.hub`): started on the first subscription, stopped with the app."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.cursor = 0
        self.subscribers: set[Subscription] = set()
        self.dropped = 0  # subscribers disconnected for overflowing their queue (exported as a metric later)
        self.delivered = 0  # events read and fanned out by this hub
        self.backend = self._choose_backend()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._started = asyncio.Lock()
        self._running = False

    def _choose_backend(self) -> str:
        if self.settings.redis_url:
            return "redis"
        if self.settings.db_url.startswith("postgresql"):
            return "postgres"
        return "poll"

    @property
    def interval(self) -> float:
        return self.settings.event_poll_interval_s if self.backend == "poll" else self.settings.event_safety_poll_s

    async def start(self) -> None:
        async with self._started:
            if self._running:
                return
            _, newest = await asyncio.to_thread(id_range)
            self.cursor = newest or 0
            self._tasks.append(asyncio.create_task(self._read(), name="event-hub-reader"))
            if self.backend == "postgres":
                self._tasks.append(asyncio.create_task(self._listen_postgres(), name="event-hub-listen"))
            elif self.backend == "redis":
                self._tasks.append(asyncio.create_task(self._listen_redis(), name="event-hub-redis"))
            self._running = True

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._running = False

    def subscribe(self, wants: Filter, maxsize: int | None = None, resource: str | None = None) -> Subscription:
        subscription = Subscription(self, wants, maxsize or self.settings.event_client_queue, resource)
        self.subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscribers.discard(subscription)

    async def expired(self, since: int) -> int | None:
        """The oldest kept id when events after `since` may have been deleted by retention, else None."""
        oldest, _ = await asyncio.to_thread(id_range)
        if oldest is not None and since + 1 < oldest and since < self.cursor:
            return oldest
        return None

    def wake(self) -> None:
        self._wake.set()

    async def _read(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            self._wake.clear()
            try:
                while True:
                    page = await asyncio.to_thread(events_after, self.cursor, limit=PAGE)
                    for event in page:
                        self.cursor = event.id
                        self.delivered += 1
                        for subscription in list(self.subscribers):
                            subscription.offer(event)
                    if len(page) < PAGE:
                        break
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database may blink; the next round tries again
                log.exception("event hub could not read the event log")
                await asyncio.sleep(1)

    async def _listen_postgres(self) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(self.settings.db_url)
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.wake()  # anything committed while we were not listening
                    async for _ in conn.notifies():
                        self.wake()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - reconnect; the safety poll covers the gap
                log.warning("event hub lost its LISTEN connection (%s); reconnecting", err)
                await asyncio.sleep(1)

    async def _listen_redis(self) -> None:
        import redis.asyncio as redis

        while True:
            client = redis.Redis.from_url(self.settings.redis_url)
            try:
                pubsub = client.pubsub()
                await pubsub.subscribe(CHANNEL)
                self.wake()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.wake()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - reconnect; the safety poll covers the gap
                log.warning("event hub lost its Redis subscription (%s); reconnecting", err)
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()
