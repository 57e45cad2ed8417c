"""When a rate may be shown: the one rule for every "per minute" or "per second" figure (swarm throughput, and
any other rate a front end reports).

A rate measured over a moment is not a rate: one 58 ms task "is" 1,034 tasks a minute. So a rate is shown only
when it was measured over at least `MIN_RATE_WINDOW_S` seconds AND counts at least `MIN_RATE_EVENTS` events;
otherwise it is None (null), and the window it would have been measured over is reported beside it so a reader
sees why. Both bounds: a long window with one event is an anecdote, ten events within a second are a burst.
With ten events the count's own noise (Poisson, about ±1/√10) is already near a third of the figure, so this is
the least that can honestly be called a rate. Pure: no clock, no I/O.
"""

from __future__ import annotations

MIN_RATE_WINDOW_S = 60.0
MIN_RATE_EVENTS = 10


def rate(events: int, window_s: float | None, *, per_s: float = 60.0, digits: int = 3) -> float | None:
    """`events` per `per_s` seconds (per minute by default) over `window_s`, or None when the window is shorter
    than MIN_RATE_WINDOW_S, the count is below MIN_RATE_EVENTS, or there is no window at all."""
    if window_s is None or window_s < MIN_RATE_WINDOW_S or events < MIN_RATE_EVENTS:
        return None
    return round(events / window_s * per_s, digits)
