"""The server secret: signs JWTs and keys the HMAC of API keys.

`STELLARFLOW_JWT_SECRET` when set; otherwise generated once into `<data dir>/jwt.secret` with 0600 permissions
(created atomically, so the API and the CLI racing on a fresh data dir agree on one value).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from pathlib import Path

from core.datadir import private_dir, private_file
from core.settings import Settings

SECRET_FILE = "jwt.secret"
MIN_SECRET_LENGTH = 32
log = logging.getLogger("stellarflow.auth")
_cache: dict[Path, bytes] = {}
_lock = threading.Lock()


class SecretError(RuntimeError):
    pass


def server_secret(settings: Settings) -> bytes:
    if settings.jwt_secret is not None:
        value = settings.jwt_secret.get_secret_value()
        if len(value) < MIN_SECRET_LENGTH:
            raise SecretError(f"STELLARFLOW_JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters")
        return value.encode()
    path = _resolved(settings.data_dir)
    with _lock:
        if path not in _cache:
            _cache[path] = _load_or_create(path)
        return _cache[path]


_paths: dict[Path, Path] = {}


def _resolved(data_dir: Path) -> Path:
    """`<data dir>/jwt.secret`, resolved once per data dir (resolving costs file-system calls on every request)."""
    found = _paths.get(data_dir)
    if found is None:
        found = _paths[data_dir] = (data_dir / SECRET_FILE).resolve()
    return found


def _load_or_create(path: Path) -> bytes:
    private_dir(path.parent)  # 0700: the data dir (core/datadir.py)
    if not path.exists():
        temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_urlsafe(48).encode())
        finally:
            os.close(fd)
        try:
            os.link(temp, path)  # atomic, and fails if another process got there first: theirs wins
            log.info("generated a server secret in %s", path)
        except FileExistsError:
            pass
        finally:
            temp.unlink(missing_ok=True)
    private_file(path)
    value = path.read_bytes().strip()
    if len(value) < MIN_SECRET_LENGTH:
        raise SecretError(f"{path} holds a secret shorter than {MIN_SECRET_LENGTH} characters")
    return value


def derived_key(settings: Settings, purpose: str) -> bytes:
    """A key for one purpose, so the JWT key and the API-key HMAC key are never the same bytes."""
    return hmac.new(server_secret(settings), f"stellarflow:{purpose}".encode(), hashlib.sha256).digest()
