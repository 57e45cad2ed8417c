"""Who a run started by the system on a workflow's behalf (a schedule, a webhook, a sync) belongs to: the
workflow's owner, as a caller (`system` for definitions loaded from files)."""

from __future__ import annotations

from core.access import SYSTEM, SYSTEM_OWNER, Caller
from core.auth.users import get_row
from core.db import session_scope


def owner_caller(owner: str | None) -> Caller:
    """The owner as a Caller; `system` (or no owner, or a user since deleted) acts as the system."""
    if owner is None or owner == SYSTEM_OWNER:
        return SYSTEM
    with session_scope() as session:
        row = get_row(session, owner)
        if row is None:
            return SYSTEM
        return Caller(id=row.id, username=row.username, role=row.role)
