"""The dialect-1 list body, shared by every list (core/listing.py has the conventions)."""

from __future__ import annotations

from typing import Any

from core.listing import Page


def paged(name: str, items: list[Any], page: Page) -> dict[str, Any]:
    """`{<name>: [...], "pagination": {page, limit, total, pages}, "nextCursor"}`. `nextCursor` is null on the
    last page; pass it back as `cursor` for the next one (`page` is then null)."""
    request = page.request
    return {name: items,
            "pagination": {"page": None if request.cursor else request.number, "limit": request.size,
                           "total": page.total, "pages": page.page_count},
            "nextCursor": page.next_cursor}
