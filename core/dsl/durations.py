"""Durations as users write them: an integer is milliseconds (the seed's `timeout: 300000`), and strings
such as `500ms`, `90s`, `5m`, `1h30m` or `2d` are accepted too. Internally every duration is seconds; a dump
(`model_dump`, JSON) writes milliseconds back, so dumping and re-validating gives the same value."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
DURATION_PATTERN = r"^\s*(\d+(\.\d+)?(ms|s|m|h|d)\s*)+$"


def parse_duration(value: Any) -> float:
    """Return seconds. Raises ValueError with a message meant for the user."""
    if isinstance(value, bool):
        raise ValueError("duration must be milliseconds (integer) or a string like '90s' or '5m'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("duration must not be negative")
        return float(value) / 1000.0
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        if text.isdigit():
            return int(text) / 1000.0
        pos, total = 0, 0.0
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos == len(text) and text:
            return total
    raise ValueError(f"invalid duration {value!r}: use milliseconds (300000) or a string like '90s', '5m', '1h'")


def duration_to_ms(seconds: float) -> int | float:
    """Serialize a duration back into the DSL's own unit, milliseconds, so that a dump validates to the
    same value again: a pinned `dump()` re-parsed by a workflow must not turn 300 s into 0.3 s."""
    ms = seconds * 1000.0
    nearest = round(ms)
    return int(nearest) if abs(ms - nearest) < 1e-6 else ms


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(duration_to_ms),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "integer", "minimum": 0, "description": "milliseconds"},
                {"type": "string", "pattern": DURATION_PATTERN, "description": "e.g. 500ms, 90s, 5m, 1h"},
            ]
        }
    ),
]
