"""How the worker's event loop learns that a subprocess ended, without a thread per subprocess.

Python 3.11's default (`ThreadedChildWatcher`) starts a thread for every subprocess to block in `waitpid`:
about 0.8 ms per command here, a third of what the sandbox adds to a step (docs/benchmarks.md). A pidfd (Linux
5.3+) becomes readable when its process ends, so the event loop that spawned it can wait for it like for any
file descriptor. This is Python 3.12's own default (`asyncio.unix_events._PidfdChildWatcher`), backported: it
works with whichever loop is running, reaps only the pids it was given, and is installed once per process.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
from typing import Any

log = logging.getLogger("stellarflow.activities")


class PidfdChildWatcher(asyncio.AbstractChildWatcher):
    """Loop-agnostic, like 3.12's: `add_child_handler` uses the running loop, so any loop may spawn."""

    def add_child_handler(self, pid: int, callback: Any, *args: Any) -> None:
        loop = asyncio.get_running_loop()
        pidfd = os.pidfd_open(pid)
        loop._add_reader(pidfd, self._do_wait, pid, pidfd, callback, args)  # type: ignore[attr-defined]

    def _do_wait(self, pid: int, pidfd: int, callback: Any, args: tuple[Any, ...]) -> None:
        asyncio.get_running_loop()._remove_reader(pidfd)  # type: ignore[attr-defined]
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:  # reaped elsewhere
            returncode = 255
            log.warning("child process %d exit status already read: reporting 255", pid)
        else:
            returncode = os.waitstatus_to_exitcode(status)
        os.close(pidfd)
        callback(pid, returncode, *args)

    def remove_child_handler(self, pid: int) -> bool:
        return False  # nothing is kept per pid: the reader goes away with its first wake-up

    def attach_loop(self, loop: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def is_active(self) -> bool:
        return True

    def __enter__(self) -> PidfdChildWatcher:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


@functools.cache
def install() -> None:
    """Use pidfds on Python 3.11 when the kernel has them (3.12+ already does; older kernels keep the default)."""
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return
    asyncio.get_event_loop_policy().set_child_watcher(PidfdChildWatcher())
