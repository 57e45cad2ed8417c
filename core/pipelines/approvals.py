"""Who may decide an approval step (docs/dsl.md, docs/access.md). Pure logic: the API's service checks it for a
clear 403, and PipelineWorkflow's `decide_approval` validator checks it again as the authority, so no front end can
get around it.

* `approvers`: usernames and/or roles written `role:<name>` (`["alice", "role:admin"]`). Empty: anyone who may
  run workflows. Usernames compare case-insensitively. Admins are approvers only when listed (by name or
  `role:admin`): an approval is a second pair of eyes, not a permission.
* The run's starter may not *approve* their own run unless the step sets `allowSelfApproval: true`; rejecting it
  (stopping one's own run) is always allowed to a starter who is an approver.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ROLE_PREFIX = "role:"
# The roles of core.auth.permissions (kept equal by tests/test_approvals.py; workflows may not import core.auth).
ROLES = ("admin", "developer", "viewer")
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")
FORBIDDEN_TYPE = "ApprovalForbidden"  # the ApplicationError type the workflow's validator refuses with


def approver_problem(entry: str) -> str | None:
    """Why `entry` is not a valid approver (a username or `role:<role>`), or None."""
    if entry.startswith(ROLE_PREFIX):
        role = entry[len(ROLE_PREFIX):]
        return None if role in ROLES else f"unknown role {role!r} in {entry!r}; roles: {', '.join(ROLES)}"
    if _USERNAME.match(entry):
        return None
    return f"{entry!r} is neither a username nor role:<role> (e.g. role:admin)"


def is_approver(approvers: Iterable[str], username: str, role: str) -> bool:
    """Whether a user is among `approvers` (an empty list lets anyone decide)."""
    entries = list(approvers)
    if not entries:
        return True
    name = username.lower()
    return any(entry == f"{ROLE_PREFIX}{role}" if entry.startswith(ROLE_PREFIX) else entry.lower() == name
               for entry in entries)


def refusal(*, approvers: Iterable[str], allow_self: bool, starter_id: str | None, approved: bool,
            decider_id: str | None, decider_username: str | None, decider_role: str | None) -> str | None:
    """Why this user may not decide this step, or None when they may."""
    if decider_id is None or decider_username is None or decider_role is None:
        return "the decision does not name who decides"
    if approved and starter_id is not None and decider_id == starter_id and not allow_self:
        return "you started this run: its approval must come from someone else (the step does not set " \
               "allowSelfApproval)"
    if not is_approver(approvers, decider_username, decider_role):
        return f"{decider_username} is not among this step's approvers ({', '.join(approvers)})"
    return None
