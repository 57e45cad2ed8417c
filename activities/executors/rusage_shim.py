"""Runs a command as its child and records the kernel's exact resource usage of it (`wait4` + RUSAGE_CHILDREN).

Usage: `python -I -S rusage_shim.py <usage.json> -- argv...`. Sampling with psutil misses processes that
end between two samples, and the top process of a task is reaped by the worker (whose own rusage mixes all
tasks); this shim, the command's parent, gets the precise CPU time of the command and every descendant it
waited for, and the largest RSS any of them reached. Standard library only, started isolated and without
`site` so it costs a few milliseconds.

It ignores SIGTERM/SIGINT/SIGHUP (the process-group signal reaches the command directly, and the shim must
outlive it to record its usage; SIGKILL after the grace period still ends it), resets them to the default in
the child before exec, and exits the way the command did: same code, or killed by the same signal.
"""

import json
import os
import resource
import signal
import sys

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def main() -> int:
    usage_path = sys.argv[1]
    argv = sys.argv[sys.argv.index("--") + 1 :]
    for sig in FORWARDED:
        signal.signal(sig, signal.SIG_IGN)
    pid = os.fork()
    if pid == 0:
        for sig in FORWARDED:
            signal.signal(sig, signal.SIG_DFL)
        try:
            os.execvp(argv[0], argv)
        except OSError as err:
            os.write(2, f"could not start {argv[0]!r}: {err.strerror}\n".encode())
            os._exit(127 if isinstance(err, FileNotFoundError) else 126)
    _, status, _ = os.wait4(pid, 0)
    while True:  # reap anything else that was ours, so its time is counted too
        try:
            other, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if other == 0:
            break
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    # A child's peak RSS includes the forked copy of this shim before exec: a peak no higher than the shim's
    # own says nothing about the command.
    own_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(usage_path, "w") as handle:
        json.dump({"cpu_s": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss, "shim_maxrss_kb": own_kb},
                  handle)  # fmt: skip
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig in FORWARDED:
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
