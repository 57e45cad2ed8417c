"""Roles and the permissions they grant. Admin may do everything; the others get a fixed list."""

from __future__ import annotations

READ = ("swarms:read", "agents:read", "tasks:read", "workflows:read", "memory:read", "neural:read")
WRITE = ("swarms:manage", "agents:create", "tasks:execute", "workflows:run", "memory:write", "neural:train")
ADMIN_ONLY = ("users:manage",)

ROLES: dict[str, tuple[str, ...]] = {
    "admin": WRITE + READ + ADMIN_ONLY,
    "developer": WRITE + READ,
    "viewer": READ,
}
ROLE_NAMES = tuple(ROLES)
TIERS = ("free", "pro", "enterprise")


def permissions_for(role: str) -> list[str]:
    return list(ROLES.get(role, ()))


def allows(role: str, permission: str) -> bool:
    """Admin is allowed everything, including permissions named after this list was written."""
    return role == "admin" or permission in ROLES.get(role, ())


# OAuth scopes (core/auth/oauth.py): what a client may do with a user's permissions, never more than the user has.
SCOPES = {
    "read": "Read workflows, runs and everything else your account can read (the *:read permissions)",
    "write": "Everything your account can do: start, cancel and approve runs, change workflows",
}


def scope_allows(scopes: list[str] | None, permission: str) -> bool:
    """`None` is a first-party credential (login or API key): not narrowed. `read` covers `*:read` only."""
    if scopes is None or "write" in scopes:
        return True
    return "read" in scopes and permission.endswith(":read")


def effective_permissions(role: str, scopes: list[str] | None) -> list[str]:
    return [p for p in permissions_for(role) if scope_allows(scopes, p)]
