"""Who an MCP request acts for: the user behind the credential, with the same permission rules as REST.

Every transport ends here: stdio resolves its API key once at start, Streamable HTTP resolves the bearer credential
of each request, and the `/mcp/v1` façade hands over the REST route's principal. Tools then check the permission the
matching REST route needs (`core.auth.permissions`) and pass `caller` to the services, which apply the ownership
rules of `core.access` — so an MCP client can never do more than the same user could over REST.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.access import Caller
from core.auth.authenticate import authenticate
from core.auth.permissions import allows, scope_allows
from core.errors import Forbidden
from core.memory.service import Caller as MemoryCaller
from core.settings import Settings


@dataclass(frozen=True)
class McpIdentity:
    caller: Caller
    tier: str = "free"
    scopes: list[str] | None = None  # OAuth scopes narrowing the role's permissions; None = not narrowed

    def may(self, permission: str) -> bool:
        return allows(self.caller.role, permission) and scope_allows(self.scopes, permission)

    def require(self, permission: str) -> None:
        """403 `FORBIDDEN`, worded like the REST dependency's (`api.common.deps.require`)."""
        if not allows(self.caller.role, permission):
            raise Forbidden(f"Permission {permission!r} is required", permission=permission)
        if not scope_allows(self.scopes, permission):
            raise Forbidden(f"Permission {permission!r} is outside this token's OAuth scope",
                            permission=permission, scopes=self.scopes)

    @property
    def memory_caller(self) -> MemoryCaller:
        """The caller as the memory service sees it (as `api.common.memory.caller_of` builds it)."""
        return MemoryCaller(owner=self.caller.id, tier=self.tier, name=self.caller.username,
                            admin=self.caller.is_admin)


def identify(settings: Settings, credential: str) -> McpIdentity:
    """A JWT access token or an API key (`sf_…`), checked by `core.auth` (revocation is immediate).
    Raises `Unauthorized` otherwise."""
    identity = authenticate(settings, credential)
    user = identity.user
    return McpIdentity(caller=Caller(id=user.id, username=user.username, role=user.role), tier=user.tier,
                       scopes=identity.scopes)
