"""What is running: the package's version from its installed metadata (pyproject's `version`), not a constant."""

from __future__ import annotations

import platform
from functools import lru_cache
from importlib import metadata


@lru_cache(maxsize=1)
def package_version() -> str:
    try:
        return metadata.version("stellarflow")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def versions() -> dict[str, str | None]:
    """Our version and the ones that decide behaviour: Python, the Temporal SDK, FastAPI, SQLAlchemy."""
    found: dict[str, str | None] = {"stellarflow": package_version(), "python": platform.python_version()}
    for name in ("temporalio", "fastapi", "sqlalchemy", "pydantic"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found
