"""Roles and the permissions they grant. Admin may do everything; the others get a fixed list."""

from __future__ import annotations

READ = ("swarms:read", "agents:read", "tasks:read", "workflows:read", "memory:read")
WRITE = ("swarms:manage", "agents:create", "tasks:execute", "workflows:run", "memory:write")
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
