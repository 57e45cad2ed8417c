"""Secrets out of everything the platform tells about itself (`/api/system/config`, diagnostic bundles, their log
tails): by name (a setting or key that looks like a secret), by value (every secret this process holds, wherever it
appears in text) and by shape (bearer tokens, API keys, passwords in URLs).
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from core.settings import Settings

REDACTED = "[REDACTED]"
SECRET_NAME = re.compile(r"secret|password|passwd|token|api_?key|private_?key|credential|webhook_url|authorization",
                         re.IGNORECASE)
_SHAPES = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + REDACTED),
    (re.compile(r"\bsf(?:cs)?_[A-Za-z0-9_-]{16,}"), REDACTED),  # our API keys and OAuth client secrets
    (re.compile(r"(?i)((?:password|passwd|secret|token|api_?key)[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;]+"),
     r"\1" + REDACTED),
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), r"\1" + REDACTED + "@"),  # scheme://user:password@host
]
_MIN_SECRET = 6  # shorter values would redact ordinary words


def url_without_password(url: str | None) -> str | None:
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", f":{REDACTED}@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def secret_values(settings: Settings) -> list[str]:
    """Every secret value this process knows: secret settings, URL passwords, the server secret, and the worker
    variables the settings name as secrets (an agent CLI's key...)."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, str) and SECRET_NAME.search(name):
            found.append(value)
    for url in (settings.database_url, settings.redis_url and str(settings.redis_url)):
        if url and urlsplit(url).password:
            found.append(urlsplit(url).password or "")
    secret_file = settings.data_dir / "jwt.secret"
    try:
        found.append(secret_file.read_text().strip())
    except OSError:
        pass
    for variable in (*settings.agent_cli_env, *settings.executor_secret_env):
        found.append(os.environ.get(variable, ""))
    found.extend(_app_key_parts(settings))
    return sorted({value for value in found if value and len(value) >= _MIN_SECRET}, key=len, reverse=True)


def _app_key_parts(settings: Settings) -> list[str]:
    """The GitHub App's private key (inline or from its file), whole and line by line: a log tail may hold one
    line of it."""
    key = settings.github_app_private_key.get_secret_value() if settings.github_app_private_key else ""
    if not key and settings.github_app_private_key_file is not None:
        try:
            key = settings.github_app_private_key_file.read_text()
        except OSError:
            return []
    key = key.replace("\\n", "\n")
    return [key.strip(), *(line.strip() for line in key.splitlines() if "-----" not in line)]


def redact_text(text: str, secrets: list[str]) -> str:
    for value in secrets:
        text = text.replace(value, REDACTED)
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any, secrets: list[str], *, name: str = "") -> Any:
    """A JSON-like value with secret-named keys blanked and secret values removed from every string."""
    if name and SECRET_NAME.search(name) and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, dict):
        return {key: redact_value(item, secrets, name=str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_value(item, secrets) for item in value]
    if isinstance(value, str):
        return redact_text(value, secrets)
    return value
