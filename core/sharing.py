"""`shared_with`: the users an owner lets read an object's restricted fields and use it (assign tasks to an agent,
submit tasks into a swarm, read a workflow's run logs). Checked when set, so a typo is a 400 rather than a grant
to whoever registers that name later."""

from __future__ import annotations

from core.auth.users import existing_usernames
from core.errors import ValidationFailed

MAX_SHARED = 100


def check_shared_with(names: list[str] | None, field: str = "shared_with") -> list[str] | None:
    """The names as registered, without duplicates; None stays None (unchanged). Unknown users → 400."""
    if names is None:
        return None
    if len(names) > MAX_SHARED:
        raise ValidationFailed("Too many users to share with", details=[{
            "field": field, "constraint": "maxItems", "message": f"at most {MAX_SHARED} usernames"}])
    known = existing_usernames(names)
    unknown = [name for name in names if name.lower() not in known]
    if unknown:
        raise ValidationFailed("Unknown users to share with", details=[{
            "field": field, "constraint": "exists", "value": unknown,
            "message": f"no such user: {', '.join(unknown)}"}])
    return list(dict.fromkeys(known[name.lower()] for name in names))
