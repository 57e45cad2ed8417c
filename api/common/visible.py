"""Rendering what a service withheld from the caller (core/access.py, docs/access.md): both dialects show a
withheld field as `null` — present, so a client can tell "not yours" from "not there", never a made-up value — and
list the withheld fields' names in `redacted` (dialect 1) or `meta.redacted` (dialect 2)."""

from __future__ import annotations

from typing import Any

from core.access import Redactable


def shown(model: Redactable, name: str, value: Any) -> Any:
    """`value`, or None when the service withheld the field `name` from this caller."""
    return None if name in model.redacted else value


def withheld(model: Redactable, names: dict[str, str]) -> list[str]:
    """The dialect's names (`names`: domain name → dialect name) of the fields withheld from this caller."""
    return [spelled for name, spelled in names.items() if name in model.redacted]
