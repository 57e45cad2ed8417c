"""Per-task workspaces: where a task runs, what it started from, what it changed, and how to undo it.

Layout under `<workspaces dir>/<agent_id>/` (the agent's directory, `provision_workspace`; `Settings.workspaces_dir`):

    <task_id>/           the task's workspace: the process's cwd, where an LLM's files are written
    <task_id>.before/    an exact copy taken after seeding, before any work: the diff's "before" and the
                         rollback source (kept with the workspace: nothing deletes an agent's directory yet)
    <task_id>.reports/   our own scratch (test reports, the python executor's input/result), outside the
                         workspace so it never shows up in the task's diff
    <task_id>.pgid       the process group of the running task, so a retry can reap a dead attempt's orphans

The snapshot is a copy, not a list of hashes, because a rollback must restore content, not only detect
change. It is made under a temporary name and renamed, so "the snapshot exists" means "it is complete": an
attempt that finds one is a retry, and starts from the snapshot rather than from a half-done workspace.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from activities.environment import invalid_parameters
from core.agents.models import Artifact
from core.settings import get_settings

SNAPSHOT_SUFFIX = ".before"
REPORTS_SUFFIX = ".reports"
GROUP_SUFFIX = ".pgid"

# Not reported as created/changed: caches that tools write as a side effect of running (pytest, Python,
# linters) and version-control internals. They are still restored exactly by a rollback.
IGNORED_DIRS = frozenset({".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hg", ".svn"})
IGNORED_FILES = frozenset({".coverage"})

MAX_TEXT_BYTES = 2 << 20  # larger files are not line-counted or parsed for tests

CODE_EXT = frozenset({
    ".py", ".pyi", ".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".go", ".rs", ".java", ".kt", ".kts", ".scala",
    ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".cs", ".rb", ".php", ".swift", ".m", ".sh", ".bash", ".zsh",
    ".ps1", ".lua", ".pl", ".r", ".jl", ".dart", ".ex", ".exs", ".erl", ".hs", ".ml", ".clj", ".sql", ".vue",
    ".svelte", ".html", ".css", ".scss", ".tf",
})  # fmt: skip
DOC_EXT = frozenset({".md", ".rst", ".txt", ".adoc", ".org", ".tex"})
DATA_EXT = frozenset({".json", ".yaml", ".yml", ".toml", ".csv", ".tsv", ".xml", ".ini", ".cfg", ".env", ".jsonl"})
TEST_DIRS = frozenset({"test", "tests", "__tests__", "spec", "specs"})


# ---- where ------------------------------------------------------------------------------------------------


def _component(value: str, what: str) -> str:
    """An id used as one directory name. Refused rather than sanitised, so two ids never share a directory;
    a leading dot is refused too, so an id cannot name our hidden siblings."""
    if not value or value.startswith(".") or "/" in value or "\\" in value or "\0" in value:
        raise invalid_parameters(f"{what} {value!r} cannot name a workspace directory")
    return value


def agent_dir(agent_id: str) -> Path:
    return get_settings().workspaces_dir / _component(agent_id, "agent id")


def provision(agent_id: str) -> Path:
    """The agent's directory, created if missing (idempotent)."""
    path = agent_dir(agent_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def task_workspace(workspace: str | None, agent_id: str | None, task_id: str) -> Path:
    """The workspace a task runs in: the one given (it must lie inside the workspaces directory, because a
    rollback deletes whatever is in it), else `<workspaces>/<agent_id>/<task_id>`."""
    root = get_settings().workspaces_dir
    if workspace:
        path = Path(workspace)
        if not path.is_absolute():
            path = root / path
        path = Path(os.path.normpath(path))
        if not path.is_relative_to(root) or path == root or path.name.startswith("."):
            raise invalid_parameters(f"workspace {workspace!r} must be a directory inside {root}")
        return path
    if not agent_id:
        raise invalid_parameters("a task workspace needs either `workspace` or `agent_id`")
    return agent_dir(agent_id) / _component(task_id, "task id")


def sibling(workspace: Path, suffix: str) -> Path:
    return workspace.with_name(workspace.name + suffix)


def safe_path(workspace: Path, relative: str) -> Path:
    """`relative` as a path inside `workspace`, or ValueError saying why not. Checked lexically and again
    after resolving the parent, so neither `..` nor a symlink planted in the workspace leads outside; a
    symlink as the target itself is refused (writing through it would write elsewhere)."""
    if not isinstance(relative, str) or not relative.strip() or "\0" in relative:
        raise ValueError(f"{relative!r} is not a file path")
    pure = PurePosixPath(relative.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or pure.parts[-1] in {".", ".."}:
        raise ValueError(f"{relative!r} must be a relative path inside the workspace")
    target = workspace.joinpath(*pure.parts)
    root = workspace.resolve()
    parent = target.parent
    existing = parent
    while not existing.exists() and existing != workspace:
        existing = existing.parent
    if not existing.resolve().is_relative_to(root):  # checked before mkdir creates anything out there
        raise ValueError(f"{relative!r} leaves the workspace")
    parent.mkdir(parents=True, exist_ok=True)
    if not parent.resolve().is_relative_to(root):
        raise ValueError(f"{relative!r} leaves the workspace")
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise ValueError(f"{relative!r} is not a regular file")
    return target


def relpath(workspace: Path, path: Path) -> str:
    return path.relative_to(workspace).as_posix()


# ---- seeding, snapshot, rollback -----------------------------------------------------------------------------


def _special(path: str) -> bool:
    """FIFOs, sockets, devices: never copied (copying a FIFO would block) nor reported."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return True
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode))


def _skip_special(directory: str, names: list[str]) -> list[str]:
    return [name for name in names if _special(os.path.join(directory, name))]


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=True, ignore=_skip_special, dirs_exist_ok=True)


def force_rmtree(path: Path) -> None:
    """Remove a tree even when the task made parts of it read-only."""

    def unlock(func: Callable[..., Any], failed: str, _exc: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(failed), 0o700)
            if not os.path.islink(failed):
                os.chmod(failed, 0o700)
        func(failed)

    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, onerror=unlock)


def _clear(directory: Path) -> None:
    for child in list(directory.iterdir()) if directory.is_dir() else []:
        force_rmtree(child)


def seed(workspace: Path, files: Mapping[str, Any]) -> None:
    """Write `requirements.files` ({relative path: text}) into the workspace. Every path is checked first,
    so a bad one leaves nothing half-written."""
    if not isinstance(files, Mapping):
        raise invalid_parameters("requirements.files must be a map of relative path to text")
    for rel, text in files.items():
        if not isinstance(text, str):
            raise invalid_parameters(f"requirements.files[{rel!r}] must be text")
    targets = []
    for rel, text in files.items():
        try:
            targets.append((safe_path(workspace, rel), text))
        except ValueError as err:
            raise invalid_parameters(f"requirements.files: {err}") from None
    for target, text in targets:
        target.write_text(text, encoding="utf-8")


def prepare(workspace: Path, files: Mapping[str, Any]) -> bool:
    """Make the workspace ready and take the "before" snapshot. On a retry (the snapshot already exists)
    the workspace is reset to the snapshot instead, so every attempt starts from the same state. Returns True
    on a retry."""
    snapshot = sibling(workspace, SNAPSHOT_SUFFIX)
    if snapshot.is_dir():
        restore(workspace)
        return True
    workspace.mkdir(parents=True, exist_ok=True)
    seed(workspace, files)
    partial = sibling(workspace, SNAPSHOT_SUFFIX + ".partial")
    force_rmtree(partial)
    _copy_tree(workspace, partial)
    partial.rename(snapshot)
    return False


def restore(workspace: Path) -> bool:
    """Put the snapshot back exactly (contents, modes, symlinks, empty directories; caches included). Returns
    whether anything had to change: False without a snapshot or when the workspace already equals it."""
    snapshot = sibling(workspace, SNAPSHOT_SUFFIX)
    if not snapshot.is_dir():
        return False
    if workspace.is_dir() and identical(snapshot, workspace):
        return False
    if workspace.is_symlink() or (workspace.exists() and not workspace.is_dir()):
        force_rmtree(workspace)
    workspace.mkdir(parents=True, exist_ok=True)
    _clear(workspace)
    _copy_tree(snapshot, workspace)
    return True


# ---- comparing trees --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    kind: str  # "file", "link", "dir"
    size: int = 0
    executable: bool = False
    target: str = ""  # symlink target


def scan(root: Path, *, ignore: bool) -> dict[str, Entry]:
    """Every file, symlink and (when not ignoring) directory below `root`, by POSIX relative path. Symlinks
    are recorded, never followed."""
    entries: dict[str, Entry] = {}
    if not root.is_dir():
        return entries
    for directory, dirnames, filenames in os.walk(root):
        base = Path(directory)
        keep = []
        for name in dirnames:
            path = base / name
            rel = relpath(root, path)
            if path.is_symlink():
                entries[rel] = Entry("link", target=os.readlink(path))
            elif not (ignore and name in IGNORED_DIRS):
                keep.append(name)
                if not ignore:
                    entries[rel] = Entry("dir")
        dirnames[:] = keep
        for name in filenames:
            path = base / name
            if ignore and name in IGNORED_FILES:
                continue
            try:
                info = path.lstat()
            except OSError:
                continue
            rel = relpath(root, path)
            if stat.S_ISLNK(info.st_mode):
                entries[rel] = Entry("link", target=os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                entries[rel] = Entry("file", info.st_size, bool(info.st_mode & stat.S_IXUSR))
    return entries


def _same(before_root: Path, after_root: Path, rel: str, old: Entry, new: Entry) -> bool:
    if old != new:
        return False
    if old.kind != "file":
        return True
    try:
        return filecmp.cmp(before_root / rel, after_root / rel, shallow=False)
    except OSError:
        return False


@dataclass
class Diff:
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.created or self.changed or self.deleted)


def diff(before_root: Path, after_root: Path, *, ignore: bool = True) -> Diff:
    """Files (and symlinks) created, changed — content, executable bit or link target — and deleted."""
    before, after = scan(before_root, ignore=ignore), scan(after_root, ignore=ignore)
    result = Diff()
    for rel in sorted(before.keys() | after.keys()):
        old, new = before.get(rel), after.get(rel)
        if old is None and new is not None:
            result.created.append(rel)
        elif new is None:
            result.deleted.append(rel)
        elif new is not None and not _same(before_root, after_root, rel, old, new):
            result.changed.append(rel)
    return result


def identical(before_root: Path, after_root: Path) -> bool:
    return diff(before_root, after_root, ignore=False).empty


# ---- describing what changed --------------------------------------------------------------------------------


def is_test_file(rel: str) -> bool:
    """Test files by the usual conventions: `test_x.py`, `x_test.go`, `x.test.ts`, `x.spec.js`, `XTest.java`,
    `conftest.py`, or anything under a `test/`, `tests/`, `__tests__/` or `spec/` directory."""
    path = PurePosixPath(rel)
    name = path.name
    stem = name.split(".", 1)[0]
    lower = stem.lower()
    return (
        lower.startswith("test_") or lower == "test" or lower.endswith("_test") or lower.endswith("_spec")
        or ".test." in name or ".spec." in name or stem.endswith(("Test", "Tests")) or name == "conftest.py"
        or any(part in TEST_DIRS for part in path.parts[:-1])
    )  # fmt: skip


def artifact_type(rel: str) -> str:
    """"test", "code", "doc", "data" or "file", from the name alone."""
    suffix = PurePosixPath(rel).suffix.lower()
    if is_test_file(rel) and (suffix in CODE_EXT or not suffix):
        return "test"
    if suffix in CODE_EXT:
        return "code"
    if suffix in DOC_EXT:
        return "doc"
    if suffix in DATA_EXT:
        return "data"
    return "file"


def read_text(path: Path) -> str | None:
    """The file as UTF-8 text, or None for binary, undecodable, unreadable or very large files."""
    try:
        if path.is_symlink() or path.stat().st_size > MAX_TEXT_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _nonblank(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def added_lines(old: str | None, new: str) -> int:
    """Non-blank lines of `new` that `old` did not have (a multiset difference: linear, order-blind)."""
    if old is None:
        return len(_nonblank(new))
    return sum((Counter(_nonblank(new)) - Counter(_nonblank(old))).values())


def describe(workspace: Path, snapshot: Path, changes: Diff) -> tuple[list[Artifact], int]:
    """Artifacts (created and changed files, with their size) and lines of code: the non-blank lines of
    created text files plus the non-blank lines added to changed text files."""
    artifacts: list[Artifact] = []
    lines = 0
    for rel in [*changes.created, *changes.changed]:
        path = workspace / rel
        if path.is_symlink() or not path.is_file():
            continue
        artifacts.append(Artifact(type=artifact_type(rel), path=rel, size=path.stat().st_size))
        text = read_text(path)
        if text is not None:
            old = read_text(snapshot / rel) if rel in changes.changed else None
            lines += added_lines(old, text)
    return artifacts, lines


def written_test_files(changes: Diff) -> Iterable[str]:
    return [rel for rel in [*changes.created, *changes.changed] if artifact_type(rel) == "test"]
