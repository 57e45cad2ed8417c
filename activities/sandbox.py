"""Where user-supplied code runs: inside bubblewrap (`bwrap`), never directly on the worker.

Every process a user can choose — `execute-command` steps, deploy and rollback commands, the shell, agent-cli and
python executors, `test_command`, and the analyzers of later issues — is started through `Sandbox.argv`, which
wraps it like this (docs/sandbox.md explains each part):

    bwrap --ro-bind / / --dev-bind /dev /dev --tmpfs /dev/pts --proc /proc --unshare-pid --unshare-ipc --die-with-parent
          --perms 1777 --size <memory> --tmpfs /tmp   --perms 1777 --size <memory> --tmpfs /dev/shm
          [--unshare-net]
          --tmpfs <data dir> --tmpfs <workspaces dir> [--tmpfs <hidden> | --ro-bind /dev/null <hidden file>]...
          --perms 0755 --dir <parents>... --bind <workspace> <workspace> [--bind <extra> <extra>]...
          --chdir / [--cap-drop ALL --cap-add CAP_SETUID --cap-add CAP_SETGID]
          -- stellarflow-sandbox-exec <uid> <gid> <cpu s> <address space> <processes> <file size> <cwd> -- <command>

Why this shape:
- The whole system read-only rather than a list of system directories: tools, interpreters and the venv work
  unchanged wherever they are installed; what must stay secret is masked explicitly (the data dir with the
  server's secrets and database, every workspace, the worker's `.env`, `STELLARFLOW_SANDBOX_HIDE`), and
  everything else is guarded by file permissions, because the command does not run as root (next point).
- A uid of its own per workspace (`uid_for`) when the worker is root: root-only files stay unreadable, setuid
  programs gain nothing (no_new_privs), and the process limit (RLIMIT_NPROC, counted per uid) bounds this
  workspace's processes only.
- A PID namespace whose init dies with bwrap (`--die-with-parent`) and bwrap itself in the process group
  `run_process` kills: the worker's `/proc/<pid>/environ` is unreachable, and nothing the command started — not
  even a process that left the group — outlives the command, a cancellation or the worker.
- Limits are rlimits set by `stellarflow-sandbox-exec` (activities/sandbox_exec.c, built by the Makefile), in
  the same exec that drops the uid; without that binary `setpriv ... -- prlimit ... --` does the same with two
  more execs (docs/benchmarks.md has what each costs).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

from activities.environment import invalid_parameters
from core.dsl.models import SandboxLimits, SandboxSpec
from core.settings import Settings, get_settings

HELPER = "stellarflow-sandbox-exec"
HELPER_NAMES = frozenset({"bwrap"})  # our own processes in a sandbox's process group (not the task's usage)
SANDBOX_HOME = "/tmp"  # HOME and TMPDIR inside: private, writable, gone with the sandbox
OUTPUTS_DIR = ".outputs"  # under the workspaces dir: one file per step for `$STELLARFLOW_OUTPUT`
MiB = 1024 * 1024


# ---- errors ---------------------------------------------------------------------------------------------------


def unavailable(message: str) -> ApplicationError:
    """The worker cannot or will not run user code as configured: retrying on this worker would not help."""
    return ApplicationError(message, type="SandboxUnavailable", non_retryable=True)


# ---- the policy -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Effective limits of one sandbox: the operator's defaults, or what the step or agent asked for within the
    operator's maxima."""

    cpu_s: int
    memory_mb: int
    processes: int
    file_size_mb: int


@dataclass(frozen=True)
class Sandbox:
    """What one sandboxed command may see and use. Built by `for_workspace`; `argv` turns a command into the
    bubblewrap command line, `environment` adjusts its variables, `hand_over` gives paths to its uid."""

    bwrap: str
    workspace: Path
    limits: Limits
    writable: tuple[Path, ...] = ()  # read-write besides the workspace (reports dir, the step's output file)
    readable: tuple[Path, ...] = ()  # read-only inside although masked or private there (e.g. a local git repo in /tmp)
    network: bool = True
    uid: int | None = None  # None: keep the worker's uid (it is not root)
    hidden: tuple[Path, ...] = ()  # masked: directories become empty, files read as empty
    helper: str | None = None  # stellarflow-sandbox-exec, when built
    private_dev: bool = False  # bwrap's minimal /dev rather than the host's (see `_dev`)

    def argv(self, command: list[str], cwd: Path | None = None) -> list[str]:
        """The full command line. `cwd` (default: the workspace) must lie inside the workspace; it is created
        inside the sandbox, as the sandbox's user, if it does not exist yet."""
        cwd = cwd or self.workspace
        size = str(self.limits.memory_mb * MiB)
        args = [
            self.bwrap, "--ro-bind", "/", "/", *self._dev(), "--proc", "/proc",
            "--unshare-pid", "--unshare-ipc", "--die-with-parent",
            "--perms", "1777", "--size", size, "--tmpfs", "/tmp",
            "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm",
        ]  # fmt: skip
        if not self.network:
            args.append("--unshare-net")
        if os.geteuid() != 0:
            args += ["--unshare-user", "--disable-userns"]  # an unprivileged bwrap needs a user namespace
        masks, roots, made = _masks(self.hidden, self.uid is not None)
        args += masks
        made = set(made)
        for path in (self.workspace, *self.writable):
            for parent in _parents_below(str(path), roots):
                if parent not in made:
                    made.add(parent)
                    args += ["--perms", "0755", "--dir", parent]
            args += ["--bind", str(path), str(path)]
        for path in self.readable:
            for parent in _parents_below(str(path), roots):
                if parent not in made:
                    made.add(parent)
                    args += ["--perms", "0755", "--dir", parent]
            args += ["--ro-bind", str(path), str(path)]
        args += ["--chdir", "/"]  # bwrap has given up its capabilities by then; the uid we drop to changes into cwd
        if self.uid is not None:
            args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        return [*args, "--", *self._drop(cwd), *command]

    def _dev(self) -> list[str]:
        """/dev. With a uid of its own, the host's device nodes serve as they are — the command may open only what
        any unprivileged user may (null, zero, random, tty...; /dev/kmsg stays closed under dmesg_restrict) — with
        pseudo-terminals taken away (an empty /dev/pts: no host ptys to exhaust) and a private /dev/shm (below):
        0.3 ms cheaper per command than bwrap's own minimal /dev (`--dev`, a tmpfs and a bind per node), which a
        worker without a uid of its own always gets, and an operator can ask for (`sandbox_private_dev`)."""
        if self.uid is None or self.private_dev:
            return ["--dev", "/dev"]
        return ["--dev-bind", "/dev", "/dev", "--tmpfs", "/dev/pts", *_host_dev_masks()]

    def _drop(self, cwd: Path) -> list[str]:
        """Limits, uid and working directory, applied inside the sandbox right before the command."""
        limits = self.limits
        values = [str(limits.cpu_s), str(limits.memory_mb * MiB), str(limits.processes),
                  str(limits.file_size_mb * MiB)]  # fmt: skip
        workdir = str(cwd)
        if self.helper is not None:
            ids = ["-", "-"] if self.uid is None else [str(self.uid), str(self.uid)]
            return [self.helper, *ids, *values, workdir, "--"]
        cpu, memory, processes, file_size = values
        prefix = []
        if self.uid is not None:
            prefix = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--no-new-privs",
                      "--"]  # fmt: skip
        prefix += ["prlimit", f"--cpu={cpu}:{int(cpu) + 1}", f"--as={memory}", f"--nproc={processes}",
                   f"--fsize={file_size}", "--"]  # fmt: skip
        return [*prefix, "/bin/sh", "-c", 'mkdir -p -- "$0" && cd -- "$0" && exec "$@"', workdir]

    def environment(self, env: Mapping[str, str]) -> dict[str, str]:
        """The command's variables as it should see them inside: HOME and TMPDIR point at its private /tmp (the
        worker's home is not its to read, and is not writable by its uid)."""
        return {**env, "HOME": SANDBOX_HOME, "TMPDIR": SANDBOX_HOME}

    def hand_over(self, path: Path, *, recursive: bool = False) -> None:
        """Make `path` (and with `recursive`, everything below it) belong to the sandbox's uid, so the command can
        write where the worker created or restored files. Never follows a symlink, also not in the middle of the
        walk (`os.fwalk`), so a link planted by an earlier command cannot redirect a chown of the worker's."""
        if self.uid is not None:
            give(path, self.uid, recursive=recursive)

    def with_writable(self, *paths: Path) -> Sandbox:
        return replace(self, writable=(*self.writable, *paths))

    def with_readable(self, *paths: Path) -> Sandbox:
        return replace(self, readable=(*self.readable, *paths))


def give(path: Path, uid: int, *, recursive: bool = False) -> None:
    """chown `path` (and with `recursive`, everything below it) to `uid`, never following a symlink."""
    with contextlib.suppress(FileNotFoundError):
        if os.lstat(path).st_uid != uid:
            os.chown(path, uid, uid, follow_symlinks=False)
        if not recursive or not path.is_dir() or path.is_symlink():
            return
        for _top, dirs, files, top_fd in os.fwalk(path, follow_symlinks=False):
            for name in (*dirs, *files):
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(name, dir_fd=top_fd, follow_symlinks=False).st_uid != uid:
                        os.chown(name, uid, uid, dir_fd=top_fd, follow_symlinks=False)


def _outermost(paths: Iterable[Path], roots: list[Path]) -> list[Path]:
    """Masks that are not already inside another mask or a private tmpfs, outermost first."""
    kept: list[Path] = []
    for path in sorted(set(paths), key=lambda p: len(p.parts)):
        if not any(path == other or path.is_relative_to(other) for other in [*roots, *kept]):
            kept.append(path)
    return kept


def _parents_below(path: str, roots: tuple[str, ...]) -> list[str]:
    """The directories between the deepest tmpfs above `path` and `path`: bwrap would create them 0700 (so the
    sandbox's uid could not reach its own workspace by its absolute path); they are made 0755 instead. Plain
    strings: this runs for every command."""
    above = [root for root in roots if path.startswith(root + "/")]
    if not above:
        return []
    base = max(above, key=len)
    parents = []
    parent = os.path.dirname(path)
    while len(parent) > len(base):
        parents.append(parent)
        parent = os.path.dirname(parent)
    return parents[::-1]


@functools.lru_cache(maxsize=32)
def _masks(hidden: tuple[Path, ...], other_uid: bool) -> tuple[list[str], tuple[str, ...], tuple[str, ...]]:
    """The part of the command line that is the same for every command of this worker: what is masked and what
    of the worker's own installation is bound back (`_out_of_reach`). Returns (arguments, tmpfs mount points,
    directories already created), cached: the paths are fixed by the settings."""
    closed, reopened = _out_of_reach(other_uid)
    return _mask_plan(hidden, closed, reopened)


def _mask_plan(hidden: tuple[Path, ...], closed: tuple[Path, ...],
               reopened: tuple[Path, ...]) -> tuple[list[str], tuple[str, ...], tuple[str, ...]]:
    """In this order, since a later mount wins: closed directories become empty tmpfs; the worker's own files are
    bound back read-only (also from under the private /tmp and /dev/shm, where a checkout may live); then the
    masks, so a secret inside a bound-back path (a data dir inside the checkout) stays hidden."""
    args: list[str] = []
    roots = [Path("/tmp"), Path("/dev/shm")]
    for path in _outermost(closed, roots):
        if path.is_dir():
            args += ["--tmpfs", str(path)]
            roots.append(path)
    made: list[str] = []
    private = tuple(str(root) for root in roots)
    for path in reopened:
        for parent in _parents_below(str(path), private):
            if parent not in made:
                made.append(parent)
                args += ["--perms", "0755", "--dir", parent]
        args += ["--ro-bind", str(path), str(path)]
    for path in _outermost(hidden, []):
        inside_reopened = any(path == back or path.is_relative_to(back) for back in reopened)
        if not inside_reopened and any(path == root or path.is_relative_to(root) for root in roots):
            continue  # already invisible: under a private tmpfs, and nothing bound it back
        if path.is_dir():
            args += ["--tmpfs", str(path)]
            roots.append(path)
        elif path.exists():
            args += ["--ro-bind", "/dev/null", str(path)]
    return args, tuple(str(root) for root in roots), tuple(made)


@functools.lru_cache(maxsize=1)
def _host_dev_masks() -> tuple[str, ...]:
    """Writable shared filesystems under the host's /dev besides /dev/shm: a POSIX message-queue filesystem is
    world-writable (1777) and shared with the host, so it gets an empty tmpfs too."""
    return tuple(arg for path in ("/dev/mqueue",) if os.path.ismount(path) for arg in ("--tmpfs", path))


@functools.lru_cache(maxsize=1)
def _out_of_reach(other_uid: bool) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """What the sandbox needs of the worker's own installation — the interpreter (e.g. under /root/.pyenv), the
    venv with `stellarflow-sandbox-exec`, this project's code (the rusage shim, the python executor's runner) —
    and could not reach: because it lies under /tmp or /dev/shm, which the sandbox replaces with private ones (a
    checkout in /tmp), or, when commands run as another uid, because a directory on the way is closed to other
    users (/root is 0700). Returns (closed ancestors, needed paths): each closed ancestor becomes an empty tmpfs,
    which also hides the rest of it, and the needed paths are bound back read-only."""
    needed = {
        Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent,
        Path(__file__).resolve().parents[1],
    }  # fmt: skip
    private = (Path("/tmp"), Path("/dev/shm"))
    closed: set[Path] = set()
    reopened: set[Path] = {path for path in needed
                           if any(path == root or path.is_relative_to(root) for root in private)}
    for path in needed if other_uid else ():
        for ancestor in reversed(path.parents):
            try:
                open_to_others = os.stat(ancestor).st_mode & stat.S_IXOTH
            except OSError:
                break
            if not open_to_others:
                closed.add(ancestor)
                reopened.add(path)
                break
    return tuple(sorted(closed)), tuple(_outermost(reopened, []))


# ---- building one ---------------------------------------------------------------------------------------------


def uid_for(workspace: Path, settings: Settings) -> int | None:
    """The uid a workspace's commands run as: fixed per workspace (every step of a run and every tool sees the
    same owner of its files), spread over `sandbox_uid_count` uids so concurrent workspaces rarely share one (if
    they do, they share only the process limit: each sees no other workspace and no other process). None when
    the worker is not root: it cannot change uids, and its own uid is not privileged."""
    if os.geteuid() != 0:
        return None
    return settings.sandbox_uid_base + zlib.crc32(str(workspace).encode()) % settings.sandbox_uid_count


def hidden_paths(settings: Settings) -> tuple[Path, ...]:
    """What no sandbox may see: the data dir (server secret, CLI key, database, Temporal's history), every
    workspace (each sandbox gets its own bound back), the `.env` the settings were read from, and the operator's
    `STELLARFLOW_SANDBOX_HIDE`."""
    return _hidden(settings.data_dir, settings.workspaces_dir, tuple(settings.sandbox_hide), os.getcwd())


@functools.lru_cache(maxsize=32)
def _hidden(data_dir: Path, workspaces: Path, extra: tuple[Path, ...], cwd: str) -> tuple[Path, ...]:
    return tuple([data_dir.resolve(), workspaces, Path(cwd, ".env").resolve(), *(p.resolve() for p in extra)])


def bwrap_path() -> str | None:
    return _which("bwrap", os.environ.get("PATH", os.defpath))


@functools.lru_cache(maxsize=8)
def _which(program: str, path: str) -> str | None:
    return shutil.which(program, path=path)


def effective_limits(spec: SandboxSpec, settings: Settings, where: str) -> Limits:
    """The spec's limits over the operator's defaults. A value above the operator's maximum is refused (not
    clamped): a step that needs more should fail at once with a message saying so, not later and obscurely."""
    for key, value, name in spec.limits.above(settings.sandbox_maxima):
        raise invalid_parameters(
            f"{where}.limits.{key}: {value} is above the maximum of {settings.sandbox_maxima[name]} this server "
            f"allows (STELLARFLOW_SANDBOX_MAX_{name.upper()})"
        )
    values = {name: getattr(spec.limits, field) for field, name in SandboxLimits.SETTINGS.items()}
    return Limits(**{name: getattr(settings, f"sandbox_{name}") if value is None else value
                     for name, value in values.items()})  # fmt: skip


def parse_spec(value: Any, where: str) -> SandboxSpec:
    """A step's `sandbox:` or an agent's `config.sandbox` as a spec; a malformed one is refused by name."""
    if value is None:
        return SandboxSpec()
    if isinstance(value, SandboxSpec):
        return value
    try:
        return SandboxSpec.model_validate(value)
    except ValidationError as err:
        problems = "; ".join(
            f"{where}.{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise invalid_parameters(problems) from None


def for_workspace(
    workspace: Path,
    *,
    spec: SandboxSpec | Mapping[str, Any] | None = None,
    writable: Iterable[Path] = (),
    where: str = "sandbox",
    settings: Settings | None = None,
) -> Sandbox | None:
    """The sandbox for commands in `workspace`, or None when the operator chose to run them unsandboxed
    (`STELLARFLOW_SANDBOX=none` and `STELLARFLOW_ALLOW_UNSANDBOXED=true`). Raises SandboxUnavailable when user
    code must not run here, InvalidParameters when the spec asks for more than the operator allows."""
    settings = settings or get_settings()
    parsed = parse_spec(spec, where)
    if settings.sandbox_mode == "none":
        if settings.allow_unsandboxed:
            return None
        raise unavailable(
            "this worker runs no commands or executors: STELLARFLOW_SANDBOX is none (bubblewrap is not installed or "
            "was turned off) and the operator has not allowed unsandboxed execution "
            "(STELLARFLOW_ALLOW_UNSANDBOXED=true); install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)"
        )
    bwrap = bwrap_path()
    if bwrap is None:
        raise unavailable("STELLARFLOW_SANDBOX is bwrap but `bwrap` is not on PATH: install bubblewrap "
                          "(Debian/Ubuntu: apt-get install bubblewrap) or set STELLARFLOW_SANDBOX=none")  # fmt: skip
    network = parsed.network or settings.sandbox_network
    if network == "on" and settings.sandbox_network == "none":
        raise invalid_parameters(f"{where}.network: on is not allowed: this server runs every sandbox without "
                                 f"network (STELLARFLOW_SANDBOX_NETWORK=none)")  # fmt: skip
    workspace = workspace.resolve()
    return Sandbox(
        bwrap=bwrap,
        workspace=workspace,
        writable=tuple(Path(path) for path in writable),
        network=network == "on",
        limits=effective_limits(parsed, settings, where),
        uid=uid_for(workspace, settings),
        hidden=hidden_paths(settings),
        helper=helper_path(),
        private_dev=settings.sandbox_private_dev,
    )


@functools.lru_cache(maxsize=1)
def helper_path() -> str | None:
    """`stellarflow-sandbox-exec` next to the worker's interpreter, if the Makefile built it."""
    candidate = Path(sys.prefix) / "bin" / HELPER
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


# ---- files shared with a sandbox --------------------------------------------------------------------------------


def output_file(sandbox: Sandbox | None) -> Path:
    """A fresh, empty file for a step's `$STELLARFLOW_OUTPUT`. It lives among the workspaces (masked inside every
    sandbox) and only the step's own sandbox gets it bound back (`with_writable`), owned by its uid."""
    directory = get_settings().workspaces_dir / OUTPUTS_DIR
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="step-", suffix=".env", dir=directory)
    try:
        if sandbox is not None and sandbox.uid is not None:
            os.fchown(fd, sandbox.uid, sandbox.uid)
    finally:
        os.close(fd)
    return Path(name)


def read_back(path: Path, limit: int) -> bytes | None:
    """At most `limit` bytes of a file a sandboxed command could write or replace. The worker reads as root, so
    it never follows a symlink there and reads only regular files (a FIFO would block it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with open(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return handle.read(limit)


# ---- worker start ----------------------------------------------------------------------------------------------


def preflight(settings: Settings | None = None) -> str:
    """Check at worker start that user code can run as configured, and say how. Raises RuntimeError with what to
    do when `STELLARFLOW_SANDBOX=bwrap` cannot work here (bwrap missing, or refusing to start)."""
    settings = settings or get_settings()
    if settings.sandbox_mode == "none":
        if settings.allow_unsandboxed:
            return "sandbox: none — commands and executors run UNSANDBOXED (STELLARFLOW_ALLOW_UNSANDBOXED=true)"
        return "sandbox: none — this worker refuses commands and executors (install bubblewrap)"
    if bwrap_path() is None:
        raise RuntimeError("STELLARFLOW_SANDBOX=bwrap but `bwrap` is not on PATH: install bubblewrap "
                           "(Debian/Ubuntu: apt-get install bubblewrap) or set STELLARFLOW_SANDBOX=none")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="stellarflow-preflight-") as scratch:
        workspace = Path(scratch)
        sandbox = for_workspace(workspace, settings=settings)
        assert sandbox is not None
        sandbox.hand_over(workspace)
        probe = subprocess.run(
            sandbox.argv(["/bin/sh", "-c", "id -u && touch ok"]), env=sandbox.environment(os.environ),
            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if probe.returncode != 0 or not (workspace / "ok").exists():
            raise RuntimeError(f"bubblewrap cannot start a sandbox here (exit {probe.returncode}): "
                               f"{probe.stderr.strip()[-500:]}")  # fmt: skip
    uid = "the worker's own uid" if sandbox.uid is None else f"uids {settings.sandbox_uid_base}+"
    drop = "stellarflow-sandbox-exec" if sandbox.helper else "setpriv + prlimit (build the helper: make)"
    return f"sandbox: bubblewrap, commands run as {uid}, limits applied by {drop}"
