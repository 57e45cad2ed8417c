"""First start: an admin user with a random password, and an API key for the local CLI (`<data dir>/cli.key`).

Idempotent: once an active admin exists no other is made, and the key file is written only when it is missing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from core.auth import api_keys, passwords, users
from core.auth.secret import server_secret
from core.datadir import private_dir, secure
from core.db import get_engine
from core.errors import Conflict
from core.settings import Settings

ADMIN_USERNAME = "admin"
log = logging.getLogger("stellarflow.auth")


@dataclass
class BootstrapResult:
    admin: users.UserInfo | None = None  # set only when this call created the admin
    password: str | None = field(default=None, repr=False)  # the admin's password, to show once
    cli_key_file: Path | None = None  # set only when this call wrote the CLI's key


def bootstrap(settings: Settings) -> BootstrapResult:
    secure(settings)  # 0700 data dir, 0600 files, also for an install made before that was enforced
    server_secret(settings)  # generate it here, before the API and the CLI race for it
    get_engine()
    result = BootstrapResult()
    if users.first_admin() is None:  # a fresh database (or one where only self-registered users exist)
        password = passwords.generate()
        username = ADMIN_USERNAME if not users.username_taken(ADMIN_USERNAME) else f"admin-{secrets.token_hex(3)}"
        with contextlib.suppress(Conflict, IntegrityError):  # another `up` on the same database won
            result.admin = users.create_user(username, password, role="admin", tier="enterprise")
            result.password = password
    if not settings.cli_key_file.exists() and (admin := users.first_admin()) is not None:
        new = api_keys.create_key(settings, admin.id, "stellarflow CLI (cli.key)")
        write_secret_file(settings.cli_key_file, new.key)
        result.cli_key_file = settings.cli_key_file
        log.info("wrote the CLI's API key %s to %s", new.info.id, settings.cli_key_file)
    return result


def write_secret_file(path: Path, value: str) -> None:
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (value + "\n").encode())
    finally:
        os.close(fd)
