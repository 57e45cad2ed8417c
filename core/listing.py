"""List conventions shared by every list endpoint, in both dialects.

Dialect 2 (`/api/v2/...`, `api.common.deps.page_v2` / `list_params_v2`): `page[number]`, `page[size]` (at most 100),
`filter[x]=v`, `sort=-createdAt,name`, `include=a,b` (only what the route allows); the body carries
`meta.pagination` and `links` first/prev/self/next/last (`api.dialect2.jsonapi.paged`).

Dialect 1 (`/api/...`, `api.common.deps.page_v1`): `page`, `limit` (at most 100), `sort=created_at,name`,
`order=asc|desc` (for keys without their own `-`/`+`), every other query parameter the route does not declare is
a filter (`status=active`), and cursor pagination: `cursor` → `nextCursor` (`api.dialect1.presenters.lists.paged`).

Both build a `PageRequest`; a service turns it into rows with `paginate()`, which

* applies equality filters from the service's `filterable` map (an unknown one → 400 naming the parameter),
* orders by the requested keys (an unknown one → 400 naming `sort`) and then by the primary key, so the order is
  total and pages never overlap,
* pages by offset, or — given a cursor — by keyset: only rows strictly after the cursor's (sort values…, id).
  A cursor walk visits every row that existed when it started exactly once however many rows are inserted or
  deleted meanwhile, and page 1000 costs what page 1 does. Sort columns used with cursors must be NOT NULL.

Cursors are opaque to clients (URL-safe base64 of JSON: the sort they belong to and the last row's sort values
and id). They hold only values the caller has already seen, so they are not signed; a mangled one is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import and_, false, func, or_
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from core.errors import ValidationFailed

T = TypeVar("T")
U = TypeVar("U")
MAX_PAGE_SIZE = 100
MAX_PAGE_NUMBER = 1_000_000_000  # keeps the row offset (page × size) inside a 64-bit integer, which databases require
_INT64 = 2**63
DEFAULT_PAGE_SIZE_V1 = 50  # the dialect-1 spec's default `limit`
DEFAULT_PAGE_SIZE_V2 = 20  # the dialect-2 spec's default `page[size]`

_V1_PARAMS = {"number": "page", "size": "limit", "sort": "sort", "order": "order", "cursor": "cursor",
              "include": "include"}
_V2_PARAMS = {"number": "page[number]", "size": "page[size]", "sort": "sort", "order": "sort", "cursor": "cursor",
              "include": "include"}


def camel(name: str) -> str:
    """`created_at` → `createdAt` (dialect 1 names fields in snake_case; services key them in camelCase)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def invalid(field: str, constraint: str, message: str, value: Any = None) -> ValidationFailed:
    """The 400 every list parameter problem becomes, naming the query parameter as the caller spelled it."""
    detail: dict[str, Any] = {"field": field, "constraint": constraint, "message": message}
    if value is not None:
        detail["value"] = value
    return ValidationFailed("Request validation failed", details=[detail])


class PageRequest(BaseModel):
    number: int = Field(default=1, ge=1, le=MAX_PAGE_NUMBER)
    size: int = Field(default=DEFAULT_PAGE_SIZE_V2, ge=1)
    sort: list[str] = Field(default_factory=list)  # camelCase keys, "-" for descending: "-createdAt", "name"
    order: Literal["asc", "desc"] | None = None  # dialect 1: the direction of keys that carry no sign
    filters: dict[str, str] = Field(default_factory=dict)  # camelCase field → value
    include: list[str] = Field(default_factory=list)
    cursor: str | None = None  # dialect 1 keyset pagination; when given, `number` is not used
    dialect: Literal[1, 2] = 2

    def model_post_init(self, _context: Any) -> None:
        if self.size > MAX_PAGE_SIZE:
            raise invalid(self.param("size"), "max", f"Must not exceed {MAX_PAGE_SIZE}", self.size)
        if self.cursor is not None and self.number != 1:
            raise invalid(self.param("number"), "exclusive",
                          f"Use either {self.param('number')} or {self.param('cursor')}, not both", self.number)

    def param(self, kind: str, name: str = "") -> str:
        """The query parameter a 400 names, spelled as this request's dialect spells it."""
        if kind == "filter":
            return snake(name) if self.dialect == 1 else f"filter[{name}]"
        return (_V1_PARAMS if self.dialect == 1 else _V2_PARAMS)[kind]

    def field_name(self, name: str) -> str:
        return snake(name) if self.dialect == 1 else name

    def keys(self, default: str) -> list[tuple[str, bool]]:
        """(field, descending) for each requested sort key, or for `default` when none was requested."""
        if not self.sort:
            name = default.lstrip("+-")
            descending = default.startswith("-") if self.order is None else self.order == "desc"
            return [(name, descending)]
        keys = []
        for key in self.sort:
            if key[:1] in ("-", "+"):
                keys.append((key[1:], key[0] == "-"))
            else:
                keys.append((key, self.order == "desc"))
        return keys

    def link_query(self) -> dict[str, str]:
        """Dialect 2: the query parameters (besides the page ones) that links must carry to stay on this list."""
        query = {f"filter[{k}]": v for k, v in self.filters.items()}
        if self.sort:
            query["sort"] = ",".join(self.sort)
        if self.include:
            query["include"] = ",".join(self.include)
        return query

    def check_include(self, allowed: set[str] | frozenset[str] | tuple[str, ...]) -> None:
        for name in self.include:
            if name not in allowed:
                hint = f"use one of {sorted(allowed)}" if allowed else "this list has nothing to include"
                raise invalid("include", "enum", f"Cannot include {name!r}; {hint}", name)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    request: PageRequest
    next_cursor: str | None = None  # set when rows follow the last item

    @property
    def page_count(self) -> int:
        return max(1, math.ceil(self.total / self.request.size))

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        return Page(items=[convert(item) for item in self.items], total=self.total, request=self.request,
                    next_cursor=self.next_cursor)


def paginate(
    session: Session,
    query: SelectOfScalar,
    page: PageRequest,
    *,
    sortable: Mapping[str, Any],
    default: str,
    id_column: Any,
    filterable: Mapping[str, Any] | None = None,
) -> Page[Any]:
    """Filter, count, order and cut one page of `query` (a `select(Row)`), as the module docstring describes."""
    filterable = filterable or {}
    for name, value in page.filters.items():
        column = filterable.get(name)
        if column is None:
            hint = f"use one of {sorted(page.field_name(n) for n in filterable)}" if filterable else \
                "this list has no filters"
            raise invalid(page.param("filter", name), "enum",
                          f"Cannot filter by {page.field_name(name)!r}; {hint}", value)
        query = query.where(column == _coerce(page, name, column, value))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()

    keys: list[tuple[Any, bool]] = []
    for name, descending in page.keys(default):
        column = sortable.get(name)
        if column is None:
            raise invalid(page.param("sort"), "enum", f"Cannot sort by {page.field_name(name)!r}; use one of "
                          f"{sorted(page.field_name(n) for n in sortable)}", page.field_name(name))
        keys.append((column, descending))
    keys.append((id_column, keys[0][1]))  # the tiebreaker that makes the order total
    signature = [f"{column.key}:{'desc' if descending else 'asc'}" for column, descending in keys]

    ordered = query.order_by(*[column.desc() if descending else column.asc() for column, descending in keys])
    if page.cursor is not None:
        ordered = ordered.where(_after(keys, _decode_cursor(page, signature, keys)))
    else:
        ordered = ordered.offset((page.number - 1) * page.size)
    rows = list(session.exec(ordered.limit(page.size + 1)).all())
    more = len(rows) > page.size
    rows = rows[: page.size]
    next_cursor = _encode_cursor(signature, [getattr(rows[-1], c.key) for c, _ in keys]) if more and rows else None
    return Page(items=rows, total=total, request=page, next_cursor=next_cursor)


# ---- internals ---------------------------------------------------------------------------------------


def _coerce(page: PageRequest, name: str, column: Any, value: str) -> Any:
    try:
        kind = column.type.python_type
    except (AttributeError, NotImplementedError):
        return value
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            return value.lower() in ("true", "1")
        if kind is int:
            number = int(value)
            if abs(number) >= _INT64:
                raise ValueError(value)
            return number
        if kind is float:
            return float(value)
    except ValueError:
        raise invalid(page.param("filter", name), "type", f"Must be a {kind.__name__}", value) from None
    return value


def _after(keys: list[tuple[Any, bool]], values: list[Any]) -> Any:
    """Rows strictly after `values` in the order `keys` defines: (k1 > v1) or (k1 = v1 and k2 > v2) or …"""
    clauses = []
    for i, (column, descending) in enumerate(keys):
        equal = [keys[j][0] == values[j] for j in range(i)]
        beyond = column < values[i] if descending else column > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses) if clauses else false()


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"dt"} and isinstance(value["dt"], str):
        return datetime.fromisoformat(value["dt"])
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ValueError("unexpected cursor value")


def _encode_cursor(signature: list[str], values: list[Any]) -> str:
    raw = json.dumps({"k": signature, "v": [_encode_value(v) for v in values]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(page: PageRequest, signature: list[str], keys: list[tuple[Any, bool]]) -> list[Any]:
    field = page.param("cursor")
    token = page.cursor or ""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(data, dict) or not isinstance(data.get("v"), list) or not isinstance(data.get("k"), list):
            raise ValueError("not a cursor")
        values = [_decode_value(v) for v in data["v"]]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid(field, "format", "Not a cursor this API issued; start again without one") from None
    if data["k"] != signature or len(values) != len(signature):
        raise invalid(field, "mismatch",
                      "This cursor belongs to another sort order; repeat the request's sort and order with it")
    for (column, _), value in zip(keys, values, strict=True):
        if not _fits(column, value):
            raise invalid(field, "format", "Not a cursor this API issued; start again without one")
    return values


def _fits(column: Any, value: Any) -> bool:
    """Whether a decoded cursor value may be compared with `column` (a tampered one must be a 400, not a 500)."""
    if value is None:
        return False
    try:
        kind = column.type.python_type
    except (AttributeError, NotImplementedError):
        return True
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) < _INT64
    return isinstance(value, kind)
