"""Keeping child processes alive: what `stellarflow up` does with its worker(s) and API.

A worker or the API that exits while the stack is up is restarted after a backoff (1 s, doubling to at most 30 s;
back to 1 s once a process has stayed up for `stable_after_s`), and a line says which one exited, how (exit code or
signal) and when it comes back. Two things stop the stack instead:

- an *essential* child exits: the embedded Temporal dev server, without which nothing else can work;
- a crash loop: one child exited `max_crashes` times within `window_s` (default 5 times in 60 s), which a restart
  will not fix (a bad setting, a port taken by someone else).

Pure policy (`RestartPolicy`) and process handling (`Supervisor`) are apart, so the policy is tested on its own and
the supervisor against real processes.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RestartPolicy:
    initial_s: float = 1.0
    factor: float = 2.0
    max_s: float = 30.0
    max_crashes: int = 5
    window_s: float = 60.0
    stable_after_s: float = 30.0

    def delay(self, consecutive: int) -> float:
        """The wait before restart number `consecutive` (1, 2, …) of a child that keeps exiting."""
        return min(self.max_s, self.initial_s * self.factor ** max(0, consecutive - 1))

    def crash_looping(self, exits: deque[float], now: float) -> bool:
        while exits and now - exits[0] > self.window_s:
            exits.popleft()
        return len(exits) >= self.max_crashes


def describe_exit(returncode: int) -> str:
    """`exit code 3`, or `signal SIGKILL` for a process a signal ended."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


@dataclass
class Child:
    """One supervised process. `start` makes a fresh Popen each time (same command line and environment)."""

    name: str
    start: Callable[[], subprocess.Popen]
    essential: bool = False
    stop_signal: int = signal.SIGINT
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    consecutive: int = 0  # restarts since it last stayed up for stable_after_s
    restarts: int = 0
    exits: deque[float] = field(default_factory=deque)
    restart_at: float | None = None

    def launch(self, now: float) -> None:
        self.proc = self.start()
        self.started_at = now
        self.restart_at = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None


class StackStopped(Exception):
    """The stack must stop: an essential child died, or a child is crash-looping. The message says which."""


class Supervisor:
    def __init__(self, policy: RestartPolicy | None = None, say: Callable[[str], Any] = print,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy or RestartPolicy()
        self.say = say
        self.clock = clock
        self.children: list[Child] = []

    def add(self, child: Child) -> Child:
        self.children.append(child)
        child.launch(self.clock())
        return child

    def check(self) -> None:
        """Look at every child once: note exits, schedule and carry out restarts. Raises StackStopped when the stack
        must stop."""
        now = self.clock()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.launch(now)
                    child.restarts += 1
                    self.say(f"{child.name} restarted (pid {child.pid}, restart {child.restarts})")
                continue
            if child.proc is None or child.proc.poll() is None:
                continue
            how = describe_exit(child.proc.returncode)
            if child.essential:
                raise StackStopped(f"{child.name} exited ({how}); stopping the stack")
            if now - child.started_at >= self.policy.stable_after_s:
                child.consecutive = 0
            child.exits.append(now)
            if self.policy.crash_looping(child.exits, now):
                raise StackStopped(f"{child.name} exited ({how}) {len(child.exits)} times within "
                                   f"{self.policy.window_s:g} s: crash loop, stopping the stack")
            child.consecutive += 1
            wait = self.policy.delay(child.consecutive)
            child.restart_at = now + wait
            self.say(f"{child.name} exited ({how}); restarting in {wait:g} s")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop every child, newest first: its stop signal, then SIGKILL after `timeout_s`."""
        for child in reversed(self.children):
            child.restart_at = None
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(child.stop_signal)
        deadline = self.clock() + timeout_s
        for child in reversed(self.children):
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
