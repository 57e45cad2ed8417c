"""JSON:API helpers of dialect 2 (`/api/v2`): the `{"success": true, "data", "meta", "links"}` envelopes, list
links, resource linkage and relationship objects, and the checks on resource objects a client sends."""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import urlencode

from api.common.dates import now_iso
from api.common.ids import checked
from core.errors import Conflict, ValidationFailed
from core.listing import Page

BASE = "/api/v2"


def ok(data: Any, *, meta: dict[str, Any] | None = None, links: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": True, "data": data, "meta": {"timestamp": now_iso(), **(meta or {})}}
    if links:
        body["links"] = links
    return body


def paged(items: list[Any], page: Page, path: str, extra_query: dict[str, str] | None = None, *,
          included: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A list body: `data`, `meta.pagination`, `links` first/prev/self/next/last (each keeping the request's
    filters, sort and include), and `included` when the request asked for related resources."""
    base = {**page.request.link_query(), **(extra_query or {})}

    def link(number: int) -> str:
        query = {**base, "page[number]": str(number), "page[size]": str(page.request.size)}
        return f"{path}?{urlencode(query, safe='[]-,')}"

    links = {"self": link(page.request.number), "first": link(1)}
    if page.request.number > 1:
        links["prev"] = link(min(page.request.number - 1, page.page_count))
    if page.request.number < page.page_count:
        links["next"] = link(page.request.number + 1)
    links["last"] = link(page.page_count)
    pagination = {"page": page.request.number, "pageSize": page.request.size,
                  "pageCount": page.page_count, "totalCount": page.total}
    body = ok(items, meta={"pagination": pagination}, links=links)
    if included is not None:
        body["included"] = included
    return body


# ---- relationships -----------------------------------------------------------------------------------------


def to_one(kind: str, resource_id: str | None) -> dict[str, Any]:
    """A to-one relationship object: `{"data": {type, id}}`, or `{"data": null}` when there is none."""
    return {"data": {"type": kind, "id": resource_id} if resource_id else None}


def to_many(base: str, name: str, linkage: list[tuple[str, str]] | None, count: int) -> dict[str, Any]:
    """A to-many relationship of the resource at `base`: links (`self` = the relationship, `related` = the
    resources), `meta.count`, and linkage `data` when it is known."""
    body: dict[str, Any] = {"links": {"self": f"{base}/relationships/{name}", "related": f"{base}/{name}"},
                            "meta": {"count": count}}
    if linkage is not None:
        body["data"] = [{"type": kind, "id": item} for kind, item in linkage]
    return body


class Linkage(Protocol):
    """A resource identifier a client sent: `{"type", "id"}`."""

    type: str
    id: str


def linked_id(linkage: Linkage | None, kind: str, field: str) -> str | None:
    """The id a to-one relationship names, or None. A linkage of another type than `kind` is a 400 naming
    `field` (the linkage's path in the body); an id that cannot be a `kind` is a 404."""
    if linkage is None:
        return None
    if linkage.type != kind:
        raise ValidationFailed("Request validation failed", details=[{
            "field": f"{field}.type", "constraint": "const", "value": linkage.type, "message": f"must be {kind!r}"}])
    return checked(kind, linkage.id)


# ---- resource objects --------------------------------------------------------------------------------------


def resource_type(expected: str, given: str) -> None:
    """A resource object of another type than the endpoint's is a 409."""
    if given != expected:
        raise Conflict(f"Resource type {given!r} does not match this endpoint's type {expected!r}",
                       details=[{"field": "data.type", "constraint": "const", "value": given,
                                 "message": f"must be {expected!r}"}])


def resource_id(kind: str, expected: str, given: str | None) -> None:
    """A resource object whose `id` (when given) is not the path's is a 409."""
    if given is not None and given != expected:
        raise Conflict(f"data.id does not match the {kind} in the path", details=[{
            "field": "data.id", "constraint": "const", "value": given, "message": f"must be {expected!r}"}])
