"""Users: create (self-registration, bootstrap, `stellarflow users create`), look up, and present safely."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core.auth import passwords
from core.auth.permissions import ROLE_NAMES, TIERS, permissions_for
from core.auth.tables import UserRow
from core.db import session_scope
from core.errors import Conflict, Forbidden, ValidationFailed
from core.ids import new_id
from core.settings import Settings

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
log = logging.getLogger("stellarflow.auth")


class UserExists(Conflict):
    code = "AUTH_USER_EXISTS"


class RegistrationClosed(Forbidden):
    """Self-registration is off (the default): accounts come from an admin (`stellarflow users create`)."""

    code = "REGISTRATION_CLOSED"


class UserInfo(BaseModel):
    """What may be shown of a user: never the password hash."""

    id: str
    username: str
    email: str | None
    fullName: str | None
    role: str
    tier: str
    disabled: bool
    createdAt: datetime

    @property
    def permissions(self) -> list[str]:
        return permissions_for(self.role)


def info(row: UserRow) -> UserInfo:
    return UserInfo(id=row.id, username=row.username, email=row.email, fullName=row.full_name, role=row.role,
                    tier=row.tier, disabled=row.disabled, createdAt=row.created_at)


def invalid_field(field: str, constraint: str, message: str) -> ValidationFailed:
    return ValidationFailed("Request validation failed",
                            details=[{"field": field, "constraint": constraint, "message": message}])


def create_user(username: str, password: str, *, email: str | None = None, full_name: str | None = None,
                role: str = "developer", tier: str = "free") -> UserInfo:
    if not USERNAME.match(username):
        raise invalid_field("username", "pattern",
                       "3-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit")
    if email is not None and not EMAIL.match(email):
        raise invalid_field("email", "format", "Must be an e-mail address")
    if role not in ROLE_NAMES:
        raise invalid_field("role", "enum", f"Must be one of {list(ROLE_NAMES)}")
    if tier not in TIERS:
        raise invalid_field("tier", "enum", f"Must be one of {list(TIERS)}")
    passwords.check_strength(password)
    email_key = email.lower() if email else None
    with session_scope() as session:
        _refuse_taken(session, username, email_key)
    row = UserRow(id=new_id("usr"), username=username, username_key=username.lower(), email=email_key,
                  full_name=full_name, password_hash=passwords.hash_password(password), role=role, tier=tier)
    try:
        with session_scope() as session:
            session.add(row)
    except IntegrityError:
        with session_scope() as session:  # lost a race with an identical registration
            _refuse_taken(session, username, email_key)
        raise
    log.info("created user %s (role %s, tier %s)", row.id, role, tier)
    return info(row)


def register(settings: Settings, username: str, password: str, *, email: str | None = None,
             full_name: str | None = None) -> UserInfo:
    """Self-registration (role `developer`, tier `free`), only when the operator opened it
    (`STELLARFLOW_ALLOW_REGISTRATION=true`): an open door would hand anyone a developer account."""
    if not settings.allow_registration:
        raise RegistrationClosed("Self-registration is disabled on this server; ask an admin for an account")
    return create_user(username, password, email=email, full_name=full_name)


def existing_usernames(names: list[str]) -> dict[str, str]:
    """{lower-cased name: the username as registered} for those of `names` that are users."""
    keys = {name.lower() for name in names}
    if not keys:
        return {}
    with session_scope() as session:
        rows = session.exec(select(UserRow.username_key, UserRow.username)
                            .where(UserRow.username_key.in_(keys))).all()  # type: ignore[attr-defined]
        return {key: name for key, name in rows}


def _refuse_taken(session: Session, username: str, email_key: str | None) -> None:
    if session.exec(select(UserRow.id).where(UserRow.username_key == username.lower())).first():
        raise UserExists("Username already exists", field="username")
    if email_key and session.exec(select(UserRow.id).where(UserRow.email == email_key)).first():
        raise UserExists("Email already exists", field="email")


def find_for_login(session: Session, identifier: str) -> UserRow | None:
    """By username, or by e-mail address (dialect 1's example signs in with one)."""
    key = identifier.lower()
    column = UserRow.email if "@" in key else UserRow.username_key
    return session.exec(select(UserRow).where(column == key)).first()


def get_row(session: Session, user_id: str) -> UserRow | None:
    return session.get(UserRow, user_id)


def username_taken(username: str) -> bool:
    with session_scope() as session:
        return session.exec(select(UserRow.id).where(UserRow.username_key == username.lower())).first() is not None


def count_users() -> int:
    with session_scope() as session:
        return session.exec(select(func.count()).select_from(UserRow)).one()


def first_admin() -> UserInfo | None:
    with session_scope() as session:
        row = session.exec(
            select(UserRow).where(UserRow.role == "admin", UserRow.disabled == False)  # noqa: E712
            .order_by(UserRow.created_at)  # type: ignore[arg-type]
        ).first()
        return info(row) if row else None

