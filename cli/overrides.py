"""Command-line flags that override settings, shared by the commands that start processes or open the database."""

from __future__ import annotations

import os
from typing import Any


def apply_overrides(**values: Any) -> None:
    """Flags win over the environment; exporting them makes child processes read the same settings."""
    for name, value in values.items():
        if value is not None:
            os.environ[f"STELLARFLOW_{name.upper()}"] = str(value)
    from core.settings import reset_settings

    reset_settings()
