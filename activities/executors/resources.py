"""CPU time and peak memory of a task's processes, sampled with psutil while they run.

The task's processes are its process group (`run_process` starts every command in a session of its own, and
that group is also what a cancellation kills). Every sample reads, for each member, its own CPU time, the CPU
time of the children it has already reaped, its parent and its RSS:

- **memory_peak_mb**: the largest sum of RSS over the group seen in any sample. Shared pages are counted in
  every process, so this is an upper bound of the real footprint; a spike shorter than the sampling interval
  (50 ms at first, then 200 ms) can be missed.
- **cpu_time_s**: user + system time of every process seen, plus the reaped-children time each one reports,
  minus the share of it that belongs to children we had already counted ourselves. So a short-lived child
  that was never sampled still counts once its parent waits for it. Not counted: the time after the last
  sample of the top process (it is reaped by the worker, whose rusage mixes all tasks) and processes that
  left the group (`setsid`).

Both stay None when no sample could be taken (a command that ended within a few milliseconds).

Our own processes in the group are not the task's: bubblewrap's two (the group leader outside the sandbox and the
sandbox's init; `sandbox.HELPER_NAMES`) count for nothing, and the rusage shim counts only for the children it
reaped (the task's command), never for its own CPU and memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from dataclasses import dataclass, field

import psutil

from activities.sandbox import HELPER_NAMES

FIRST_INTERVALS_S = (0.0, 0.05, 0.05, 0.1, 0.1)
INTERVAL_S = 0.2


@dataclass
class _Seen:
    own: float = 0.0
    children: float = 0.0
    ppid: int = 0
    round: int = 0
    shim: bool = False


@dataclass
class Usage:
    cpu_time_s: float | None = None
    memory_peak_mb: float | None = None

    def merged(self, cpu_s: float, max_rss_bytes: int) -> Usage:
        """Combine with the kernel's figures for the command's waited-for tree (`rusage_shim.py`): each figure
        is the larger of the two, since each source can only miss things (the samples miss short processes,
        the kernel misses processes left running in the background and sums no RSS)."""
        memory = max(max_rss_bytes / (1024 * 1024), self.memory_peak_mb or 0.0)
        return Usage(
            cpu_time_s=round(max(cpu_s, self.cpu_time_s or 0.0), 3),
            memory_peak_mb=round(memory, 2) if memory > 0 else None,
        )


@dataclass
class ResourceMonitor:
    """`skip_leader`: the command runs under `rusage_shim.py`, a helper of ours, whose own CPU and memory are not
    the task's (the children time it reports is: that is the task's command). The shim is the group leader, or
    in a sandbox the first process below bubblewrap's."""

    skip_leader: bool = False
    shim_marker: str | None = None  # an argument only the shim's command line has (its script's path)
    helper_names: frozenset[str] = HELPER_NAMES
    shim_pid: int | None = None
    pgid: int | None = None
    rounds: int = 0
    peak_rss: int = 0
    seen: dict[int, _Seen] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)  # a sampling thread may outlive `stop`

    def start(self, pgid: int) -> None:
        """Begin sampling the group (the `on_start` hook of `run_process`)."""
        self.pgid = pgid
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _members(self) -> list[int]:
        members = []
        for pid in psutil.pids():
            with contextlib.suppress(OSError):
                if os.getpgid(pid) == self.pgid:
                    members.append(pid)
        return members

    def sample(self) -> None:
        """One round. Runs in a thread: reading every process's group is a few milliseconds of system calls
        that the worker's event loop should not wait for."""
        with self._lock:
            self._sample()

    def _sample(self) -> None:
        self.rounds += 1
        rss = 0
        sampled = False
        found = []
        for pid in self._members():
            try:
                proc = psutil.Process(pid)
                with proc.oneshot():
                    if proc.status() == psutil.STATUS_ZOMBIE:
                        continue
                    found.append((proc, proc.name(), proc.ppid(), proc.cpu_times(), proc.memory_info().rss))
            except (psutil.Error, OSError):
                continue
        helpers = {proc.pid for proc, name, *_ in found if name in self.helper_names}
        for proc, _name, ppid, times, memory in found:
            pid = proc.pid
            if pid in helpers:
                continue
            shim = self.skip_leader and (pid == self.pgid or self._is_shim(proc, ppid in helpers))
            sampled = sampled or not shim
            rss += 0 if shim else memory
            self.seen[pid] = _Seen(
                own=0.0 if shim else times.user + times.system,
                children=getattr(times, "children_user", 0.0) + getattr(times, "children_system", 0.0),
                ppid=ppid,
                round=self.rounds,
                shim=shim,
            )
        if sampled:
            self.peak_rss = max(self.peak_rss, rss)

    def _is_shim(self, proc: psutil.Process, below_helper: bool) -> bool:
        """In a sandbox the shim is bubblewrap's child; so are orphans the sandbox's init adopted, which are the
        task's: told apart by the shim's command line, once."""
        if self.shim_pid is None and below_helper and self.shim_marker is not None:
            with contextlib.suppress(psutil.Error, OSError):
                if self.shim_marker in proc.cmdline():
                    self.shim_pid = proc.pid
        return proc.pid == self.shim_pid

    async def _run(self) -> None:
        intervals = iter(FIRST_INTERVALS_S)
        while True:
            await asyncio.sleep(next(intervals, INTERVAL_S))
            await asyncio.to_thread(self.sample)

    def usage(self) -> Usage:
        with self._lock:
            return self._usage()

    def _usage(self) -> Usage:
        if not self.seen or (self.skip_leader and all(info.shim for info in self.seen.values())):
            return Usage()  # nothing but our shim was ever seen
        total = 0.0
        for pid, info in self.seen.items():
            counted_children = sum(
                child.own for child in self.seen.values() if child.ppid == pid and child.round < info.round
            )
            total += info.own + max(info.children - counted_children, 0.0)
        return Usage(cpu_time_s=round(total, 3), memory_peak_mb=round(self.peak_rss / (1024 * 1024), 2))

    async def stop(self) -> Usage:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return self.usage()
