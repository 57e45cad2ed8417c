"""Who may do what to an object: the one read rule and the one write rule every service applies (docs/access.md).

Every object has an owner (a user id; `system` for definitions loaded from files; None for objects made before
owners were recorded). Writes — change, control, cancel, assign, delete — need the owner or an admin; an object
without an owner, or owned by the system, is changed by admins only. Everyone signed in sees an object's metadata;
its restricted fields (configs, results, outputs, logs) are for the owner, admins and the users it is shared with
(`shared_with`, usernames, compared case-insensitively). A reader not entitled to them gets a copy in which those
fields are emptied and named in `redacted`, which each dialect renders as `null`.

Pure: no database, no Temporal, so every service, front end and the workflows' contracts can use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr

from core.errors import Forbidden

SYSTEM_OWNER = "system"  # owner of definitions loaded from the definitions folder (and of pipelines' memory)
ADMIN_ROLE = "admin"


class Caller(BaseModel):
    """The user a service acts for: what every permission check needs, nothing more."""

    model_config = ConfigDict(frozen=True)
    id: str
    username: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN_ROLE


# The server itself (loading definitions at start-up): it may change what the system owns.
SYSTEM = Caller(id=SYSTEM_OWNER, username=SYSTEM_OWNER, role=ADMIN_ROLE)


def owns(caller: Caller, owner: str | None) -> bool:
    return owner is not None and owner == caller.id


def may_write(caller: Caller, owner: str | None) -> bool:
    """The owner or an admin. No owner (made before owners were recorded) or the system: admins only."""
    return caller.is_admin or owns(caller, owner)


def shared_with_caller(caller: Caller, shared_with: Iterable[str] | None) -> bool:
    name = caller.username.lower()
    return any(name == entry.lower() for entry in shared_with or ())


def may_read(caller: Caller, owner: str | None, shared_with: Iterable[str] | None = None) -> bool:
    """Entitled to an object's restricted fields: its owner, an admin, or a user it is shared with."""
    return may_write(caller, owner) or shared_with_caller(caller, shared_with)


def require_write(caller: Caller, owner: str | None, resource: str, resource_id: str, action: str = "change") -> None:
    """403 unless the caller may write: the object is visible to everyone, so its existence is no secret."""
    if not may_write(caller, owner):
        raise Forbidden(f"Only the {resource}'s owner or an admin may {action} it", resource=resource, id=resource_id)


def require_use(caller: Caller, owner: str | None, shared_with: Iterable[str] | None, resource: str,
                resource_id: str, action: str) -> None:
    """403 unless the caller owns the object, is an admin, or it is shared with them (assigning a task to an agent,
    submitting one into a swarm)."""
    if not may_read(caller, owner, shared_with):
        raise Forbidden(f"The {resource} is not yours and not shared with you: you may not {action}",
                        resource=resource, id=resource_id)


class Redactable(BaseModel):
    """A model of which a reader may get a copy with restricted fields withheld. `redacted` names them (empty for
    an entitled reader); it is not part of the model's data, so workflows and the database never see it."""

    _redacted: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @property
    def redacted(self) -> frozenset[str]:
        return self._redacted

    def withheld(self, names: Iterable[str], **update: Any) -> Self:
        """A copy with `update` applied and `names` marked as withheld."""
        copy = self.model_copy(update=update)
        copy._redacted = frozenset(names)
        return copy
