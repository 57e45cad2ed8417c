"""The data dir's permissions: it holds the server secret (`jwt.secret`), the CLI's admin API key (`cli.key`), the
SQLite database and Temporal's history, so only the server's own user may open it.

The directory is 0700 and those files 0600, whoever creates them first (the API, the worker, `stellarflow up`, a
CLI admin command). An install made before this was enforced is tightened when any of them starts: `secure` is
idempotent and cheap. Workspaces are not here (`Settings.workspaces_dir` is a sibling), so no command ever needs
to be let into this directory.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from core.settings import Settings

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# Everything the server itself keeps here; SQLite's -wal/-shm files hold database pages too.
PRIVATE_FILES = (
    "jwt.secret", "cli.key",
    "stellarflow.db", "stellarflow.db-wal", "stellarflow.db-shm",
    "temporal.db", "temporal.db-wal", "temporal.db-shm", "temporal.log",
)  # fmt: skip


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700, or take group and other access away from an existing one."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> None:
    """Make an existing file 0600 (no-op when missing or already private)."""
    _tighten(path, PRIVATE_FILE)


def create_private_file(path: Path) -> None:
    """Create an empty 0600 file if there is none, so a library that creates it later (SQLite) never picks a
    looser mode; an existing one is tightened."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    private_file(path)


def _tighten(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(os.lstat(path).st_mode)
    except FileNotFoundError:
        return
    if current & ~mode & 0o777 and not path.is_symlink():
        os.chmod(path, current & mode)


def secure(settings: Settings) -> Path:
    """The data dir exists, is 0700, and every file of ours in it is 0600; returns the data dir."""
    data_dir = private_dir(settings.data_dir)
    for name in PRIVATE_FILES:
        private_file(data_dir / name)
    return data_dir
