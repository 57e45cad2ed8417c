"""Validation of names, JSON encoding and size, the flattened text the search indexes, and RFC 7386 merge patch.

Names are restricted so they are safe in URLs and logs and unambiguous in hierarchies: a key may hold `/` to make
children (`project/api/auth`), which `DELETE …?cascade=true` removes with their parent.
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.errors import PayloadTooLarge, ValidationFailed

NAMESPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@-]*(/[A-Za-z0-9_][A-Za-z0-9_.:@-]*)*$")
KEY_MAX = 255
TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$")
TAGS_MAX = 32
TTL_MAX = 10 * 365 * 24 * 3600  # ten years: longer is a typo, and keeps expiry dates representable
ACCESS_LEVELS = ("private", "shared", "public")
PREVIEW_CHARS = 160


def invalid(field: str, constraint: str, message: str, value: Any = None) -> ValidationFailed:
    detail: dict[str, Any] = {"field": field, "constraint": constraint, "message": message}
    if isinstance(value, str | int | float | bool) and len(str(value)) < 300:
        detail["value"] = value
    return ValidationFailed(f"Invalid {field}: {message}", details=[detail])


def check_namespace(namespace: str, field: str = "namespace") -> str:
    if not isinstance(namespace, str) or not NAMESPACE_RE.match(namespace):
        raise invalid(field, "pattern", "Use 1-64 letters, digits, '_', '.' or '-', starting with a letter or "
                      "digit", namespace)
    return namespace


def check_key(key: str, field: str = "key") -> str:
    if not isinstance(key, str) or len(key) > KEY_MAX or not KEY_RE.match(key):
        raise invalid(field, "pattern", f"Use at most {KEY_MAX} letters, digits and '_', '.', ':', '@', '-'; '/' "
                      "separates path segments (no empty segment, no leading or trailing '/')", key)
    return key


def check_tags(tags: list[str] | None, field: str = "tags") -> list[str]:
    if tags is None:
        return []
    if len(tags) > TAGS_MAX:
        raise invalid(field, "maxItems", f"At most {TAGS_MAX} tags")
    for index, tag in enumerate(tags):
        if not isinstance(tag, str) or not TAG_RE.match(tag):
            raise invalid(f"{field}[{index}]", "pattern", "Use 1-64 letters, digits, '_', '.', ':', '/' or '-', "
                          "starting with a letter or digit", tag)
    return list(dict.fromkeys(tags))  # unique, in the order given


def check_ttl(ttl: int | None, field: str = "ttl") -> int | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int):
        raise invalid(field, "type", "Must be a whole number of seconds")
    if ttl < 0:
        raise invalid(field, "min", "Must not be negative (seconds until the entry expires; omit it to keep the "
                      "entry until deleted)", ttl)
    if ttl > TTL_MAX:
        raise invalid(field, "max", f"Must not exceed {TTL_MAX} seconds", ttl)
    return ttl


def check_access_level(level: str, field: str = "access_level") -> str:
    if level not in ACCESS_LEVELS:
        raise invalid(field, "enum", f"Must be one of {', '.join(ACCESS_LEVELS)}", level)
    return level


def encode(value: Any, max_bytes: int) -> tuple[str, int]:
    """Compact JSON text of `value` and its size in bytes; over `max_bytes` → 413."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as err:
        raise invalid("value", "type", f"Must be JSON: {err}") from None
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise PayloadTooLarge(f"Memory value is {size} bytes; the limit is {max_bytes} bytes",
                              details={"field": "value", "size": size, "limit": max_bytes})
    return text, size


def flatten(value: Any, limit: int) -> str:
    """The value as searchable text: `path: scalar` pairs joined by ", " (lists of scalars as one pair), e.g.
    `database: PostgreSQL, cache: Redis, tech_stack: Node.js React`. Object keys are indexed too, so a search
    for `database` finds values that have one. Cut at `limit` characters."""
    parts: list[str] = []
    size = 0

    def add(text: str) -> bool:
        nonlocal size
        parts.append(text)
        size += len(text) + 2
        return size < limit

    def scalar(item: Any) -> str:
        if isinstance(item, str):
            return item
        return json.dumps(item)

    def walk(node: Any, path: str) -> bool:
        if isinstance(node, dict):
            if not node and path:
                return add(f"{path}: {{}}")
            for name, child in node.items():
                if not walk(child, f"{path}.{name}" if path else str(name)):
                    return False
            return True
        if isinstance(node, list):
            if all(not isinstance(item, dict | list) for item in node):
                joined = " ".join(scalar(item) for item in node)
                return add(f"{path}: {joined}" if path else joined)
            for index, child in enumerate(node):
                if not walk(child, f"{path}[{index}]" if path else f"[{index}]"):
                    return False
            return True
        return add(f"{path}: {scalar(node)}" if path else scalar(node))

    walk(value, "")
    return ", ".join(parts)[:limit]


def preview(search_text: str, chars: int = PREVIEW_CHARS) -> str:
    if len(search_text) <= chars:
        return search_text
    cut = search_text[:chars].rsplit(" ", 1)[0] or search_text[:chars]
    return cut.rstrip(", ") + "..."


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON Merge Patch: objects merge recursively, `null` removes a member, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result
