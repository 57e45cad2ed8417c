"""The operator's user administration (`stellarflow users list|set-role|reset-password|disable|enable`): changes to
another user's account, which no API route makes. Beside `users` (accounts) and `sessions` (sign-ins), since a
password reset touches both."""

from __future__ import annotations

import logging

from sqlmodel import select

from core.auth import passwords
from core.auth.permissions import ROLE_NAMES
from core.auth.sessions import revoke_all
from core.auth.tables import UserRow
from core.auth.users import UserInfo, info, invalid_field
from core.db import session_scope, utcnow
from core.errors import NotFound

log = logging.getLogger(__name__)

def list_users() -> list[UserInfo]:
    with session_scope() as session:
        rows = session.exec(select(UserRow).order_by(UserRow.created_at)).all()  # type: ignore[arg-type]
        return [info(row) for row in rows]


def _change(username: str, **values: object) -> UserInfo:
    with session_scope() as session:
        row = session.exec(select(UserRow).where(UserRow.username_key == username.lower())).first()
        if row is None:
            raise NotFound("user", username)
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        session.add(row)
        session.flush()
        return info(row)


def set_role(username: str, role: str) -> UserInfo:
    if role not in ROLE_NAMES:
        raise invalid_field("role", "enum", f"Must be one of {list(ROLE_NAMES)}")
    changed = _change(username, role=role)
    log.info("user %s now has role %s", changed.id, role)
    return changed


def reset_password(username: str, password: str) -> UserInfo:
    """A new password, and every session of the old one ends (whoever knew it is signed out)."""
    passwords.check_strength(password)
    changed = _change(username, password_hash=passwords.hash_password(password))
    revoke_all(changed.id, "password reset")
    log.info("reset the password of user %s", changed.id)
    return changed


def set_disabled(username: str, disabled: bool) -> UserInfo:
    """A disabled user can neither sign in nor use a token or API key it holds (checked on every request)."""
    changed = _change(username, disabled=disabled)
    log.info("user %s %s", changed.id, "disabled" if disabled else "enabled")
    return changed
