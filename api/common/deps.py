"""Dependencies shared by routes: settings, the Temporal client, the caller, list parameters."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from temporalio.client import Client

from core.access import Caller
from core.auth.authenticate import authenticate
from core.auth.permissions import allows, effective_permissions, scope_allows
from core.errors import Forbidden, Unauthorized, Unavailable
from core.listing import (
    DEFAULT_PAGE_SIZE_V1,
    DEFAULT_PAGE_SIZE_V2,
    MAX_PAGE_NUMBER,
    MAX_PAGE_SIZE,
    PageRequest,
    camel,
    snake,
)
from core.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_client(request: Request) -> Client:
    """Connect once, on first use, so the API starts even while Temporal is still coming up."""
    return await app_client(request.app.state)


async def app_client(state: Any) -> Client:
    """The app's Temporal client (`app.state`), connected on first use; for routes and the mounted MCP endpoint."""
    if state.temporal_client is None:
        async with state.temporal_lock:
            if state.temporal_client is None:
                from core.temporal import connect

                try:
                    state.temporal_client = await asyncio.wait_for(connect(state.settings), timeout=10)
                except Exception as err:
                    raise Unavailable(f"Temporal is not reachable at {state.settings.temporal_target}") from err
    return state.temporal_client


class LazyClient:
    """The Temporal client, connected only if a route really needs it (a workflow without schedule triggers is
    stored and read without Temporal)."""

    def __init__(self, request: Request) -> None:
        self.request = request

    async def __call__(self) -> Client:
        return await get_client(self.request)


def lazy_client(request: Request) -> LazyClient:
    return LazyClient(request)


class Principal(BaseModel):
    """The authenticated caller, as routes see it."""

    id: str
    username: str
    role: str
    permissions: list[str] = Field(default_factory=list)
    tier: str = "free"
    method: str = "token"  # "token" (JWT), "oauth" (a JWT issued to an OAuth client) or "api_key"
    session_id: str | None = None
    key_id: str | None = None
    scopes: list[str] | None = None  # OAuth: granted scopes, which narrow `permissions`; None = not narrowed
    client_id: str | None = None  # OAuth: the client acting for the user

    @property
    def caller(self) -> Caller:
        """The caller as services check it (owner, admin, shared-with): every route hands this on."""
        return Caller(id=self.id, username=self.username, role=self.role)


bearer = HTTPBearer(
    auto_error=False, scheme_name="bearerAuth",
    description="A JWT access token (`POST /api/v2/auth/login`, `POST /api/auth/token`) or an API key (`sf_…`).",
)
# Credentials that outlive an OAuth grant (API keys, OAuth clients) are managed with first-party credentials only.
FIRST_PARTY_ONLY = ("/api/auth/keys", "/api/v2/auth/keys", "/api/auth/oauth/")


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """Any valid credential. No, bad, expired or revoked credential → 401 with `WWW-Authenticate: Bearer`."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized("Authentication required: send Authorization: Bearer <token or API key>")
    identity = authenticate(request.app.state.settings, credentials.credentials)
    user = identity.user
    principal = Principal(id=user.id, username=user.username, role=user.role,
                          permissions=effective_permissions(user.role, identity.scopes),
                          tier=user.tier, method=identity.method, session_id=identity.session_id,
                          key_id=identity.key_id, scopes=identity.scopes, client_id=identity.client_id)
    if identity.client_id is not None and request.url.path.startswith(FIRST_PARTY_ONLY):
        raise Forbidden("An OAuth token cannot manage API keys or OAuth clients; sign in directly")
    request.state.principal = principal  # for whatever runs later in this request (logging, audit)
    return principal


current_principal.required_permission = None  # type: ignore[attr-defined]


async def optional_principal(request: Request) -> Principal | None:
    """The caller when a valid bearer credential is sent, else None — never a 401: for public routes (health) that
    show more to some callers. (It reads the header itself, so the route stays unguarded in the OpenAPI document.)"""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return None
    try:
        return await current_principal(
            request, HTTPAuthorizationCredentials(scheme="Bearer", credentials=credential.strip()))
    except (Unauthorized, Forbidden):
        return None


def may(principal: Principal | None, permission: str) -> bool:
    """Whether an optional caller holds `permission` (within their OAuth scope)."""
    return principal is not None and allows(principal.role, permission) and \
        scope_allows(principal.scopes, permission)


def require(permission: str):
    """The authorisation seam: every route names the permission it needs. A valid credential without it → 403.
    (`required_permission` on the dependency lets tests walk the routes and know what each one needs.)"""

    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not allows(principal.role, permission):
            raise Forbidden(f"Permission {permission!r} is required", permission=permission)
        if not scope_allows(principal.scopes, permission):
            raise Forbidden(f"Permission {permission!r} is outside this token's OAuth scope",
                            permission=permission, scopes=principal.scopes)
        return principal

    dependency.__name__ = f"require_{permission.replace(':', '_')}"
    dependency.required_permission = permission  # type: ignore[attr-defined]
    return dependency


_SORT_V2 = r"^[-+]?[A-Za-z]+(,[-+]?[A-Za-z]+)*$"
_SORT_V1 = r"^[-+]?[A-Za-z_]+(,[-+]?[A-Za-z_]+)*$"
_LIST_PARAMS_V1 = {"page", "limit", "sort", "order", "cursor", "include"}


def _names(raw: str | None) -> list[str]:
    return [part for part in raw.split(",") if part] if raw else []


def _documenting(function: Callable[..., PageRequest], names: list[str]) -> Callable[..., PageRequest]:
    """`function` with one optional string query parameter per filter name added to its signature, so the OpenAPI
    document lists the list's filters. The values are read from the query string itself (an unknown filter is a
    400 from core/listing.py, which a declared parameter would hide)."""
    declared = [
        inspect.Parameter(f"filter_{index}", inspect.Parameter.KEYWORD_ONLY, annotation=str | None,
                          default=Query(None, alias=name, max_length=500, description="equality filter"))
        for index, name in enumerate(names)
    ]
    signature = inspect.signature(function)
    function.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD] + declared)
    return function


def list_params_v2(*, include: tuple[str, ...] = (), filters: Iterable[str] = (),
                   default_size: int = DEFAULT_PAGE_SIZE_V2):
    """Dialect 2 list parameters (see core/listing.py). `include` names what this list may include; anything
    else in `include=` → 400 naming `include`. `filters` (the service's `FILTERABLE` names) are documented as
    `filter[name]`."""
    allowed = tuple(sorted(include))
    described = f"Related resources to include, comma-separated: {', '.join(allowed)}" if allowed else \
        "Related resources to include (this list has none)"

    def page_v2(
        request: Request,
        number: Annotated[int, Query(alias="page[number]", ge=1, le=MAX_PAGE_NUMBER)] = 1,
        # (closure values go in Query() defaults: string annotations cannot see them)
        size: int = Query(default_size, alias="page[size]", ge=1, description=f"at most {MAX_PAGE_SIZE}"),
        sort: Annotated[str | None, Query(pattern=_SORT_V2, description="e.g. `-createdAt,name`")] = None,
        include_: str | None = Query(None, alias="include", max_length=200, description=described),
        **_documented: str | None,
    ) -> PageRequest:
        filters = {
            key[len("filter["):-1]: value
            for key, value in request.query_params.items()
            if key.startswith("filter[") and key.endswith("]")
        }
        page = PageRequest(number=number, size=size, sort=_names(sort), filters=filters, include=_names(include_))
        page.check_include(allowed)
        return page

    return _documenting(page_v2, [f"filter[{name}]" for name in dict.fromkeys(filters)])


page_v2 = list_params_v2()


def list_params_v1(*, include: tuple[str, ...] = (), filters: Iterable[str] = (),
                   default_size: int = DEFAULT_PAGE_SIZE_V1):
    """Dialect 1 list parameters (see core/listing.py): `page`, `limit`, `sort`, `order`, `cursor`; every other
    query parameter that the route itself does not declare is an equality filter (`status=active`). `filters`
    (the service's `FILTERABLE` names) are documented in snake_case."""
    filter_names = list(dict.fromkeys(snake(name) for name in filters))
    allowed = tuple(sorted(include))
    described = f"Related resources to include, comma-separated: {', '.join(allowed)}" if allowed else \
        "Related resources to include (this list has none)"

    def page_v1(
        request: Request,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE_NUMBER)] = 1,
        limit: int = Query(default_size, ge=1, description=f"at most {MAX_PAGE_SIZE}"),
        sort: Annotated[str | None, Query(pattern=_SORT_V1, description="e.g. `created_at,name`")] = None,
        order: Annotated[Literal["asc", "desc"], Query(description="for sort keys without `-`/`+`")] = "desc",
        cursor: Annotated[str | None, Query(max_length=2048, description="`nextCursor` of the previous page")] = None,
        include_: str | None = Query(None, alias="include", max_length=200, description=described),
        **_documented: str | None,
    ) -> PageRequest:
        declared = (_LIST_PARAMS_V1 | _declared_query_params(request)) - set(filter_names)
        filters = {camel(key): value for key, value in request.query_params.items() if key not in declared}
        result = PageRequest(number=page, size=limit, sort=[camel(key) for key in _names(sort)], order=order,
                             filters=filters, include=_names(include_), cursor=cursor or None, dialect=1)
        result.check_include(allowed)
        return result

    return _documenting(page_v1, filter_names)


page_v1 = list_params_v1()


def _declared_query_params(request: Request) -> set[str]:
    """The query parameters the matched route declares (its own and its dependencies'), which are not filters."""
    route = request.scope.get("route")
    names: set[str] = set()
    stack = [getattr(route, "dependant", None)]
    while stack:
        dependant = stack.pop()
        if dependant is None:
            continue
        names.update(param.alias for param in getattr(dependant, "query_params", ()))
        stack.extend(getattr(dependant, "dependencies", ()))
    return names


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ClientDep = Annotated[Client, Depends(get_client)]
LazyClientDep = Annotated[LazyClient, Depends(lazy_client)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
PageDep = Annotated[PageRequest, Depends(page_v2)]
PageV1Dep = Annotated[PageRequest, Depends(page_v1)]
