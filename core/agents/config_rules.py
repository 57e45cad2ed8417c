"""What an agent's config may hold, checked when it is created or changed (agents, a swarm's `agent_config` and
`initial_agents[].config`), so a bad config is a clear 400/403 at the API rather than a surprise on a worker:

* **No secrets by value.** Configs and metadata are shown back by the API, so a key that looks like a secret
  (`apiKey`, `api_key`, `API-KEY`, `token`, `accessToken`, `password`, `client_secret`, … in any casing and
  separator, at any depth) is refused; a worker secret is named instead (`api_key_env`, `pass_env`).
* **LLM endpoints from the operator's list.** An LLM `base_url` must be one of `STELLARFLOW_LLM_ALLOWED_URLS` (or
  the worker's own `STELLARFLOW_LLM_BASE_URL`): a key named by `api_key_env` is only ever sent to those.
* **Agent-CLI commands from admins.** A `command` in an agent's config overrides the operator's agent-CLI
  template; only an admin may set one. Operator-defined agent types may carry their own (`core.agents.types`).
"""

from __future__ import annotations

import re
from typing import Any

from core.access import Caller
from core.egress import llm_base_url_allowed
from core.errors import Forbidden, ValidationFailed
from core.settings import Settings

# Words that make a key look like it holds a secret once lower-cased with separators removed.
_SECRET_WORDS = ("password", "passwd", "passphrase", "secret", "apikey", "accesskey", "privatekey", "credential",
                 "authorization", "cookie", "sessionid")
_SECRET_EXACT = frozenset({"bearer", "pat", "jwt"})
_SEPARATORS = re.compile(r"[^a-z0-9]")


def normal_key(key: str) -> str:
    """`API-KEY`, `api_key`, `apiKey` and `Api Key` all become `apikey`."""
    return _SEPARATORS.sub("", key.lower())


def looks_secret(key: str) -> bool:
    """A key that names a secret value. Keys ending in `env` name an environment variable (`api_key_env`,
    `pass_env`): they hold a name, not a secret, and are allowed."""
    name = normal_key(key)
    if not name or name.endswith("env"):
        return False
    return name in _SECRET_EXACT or name.endswith("token") or any(word in name for word in _SECRET_WORDS)


def secret_keys(value: Any, path: str) -> list[str]:
    """Dotted paths of every secret-looking key in `value`, at any depth (`config.auth.accessToken`)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if looks_secret(str(key)):
                found.append(here)
            found.extend(secret_keys(item, here))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(secret_keys(item, f"{path}[{index}]"))
    return found


def refuse_secrets(value: Any, field: str) -> None:
    """400 naming every secret-looking key under `field`."""
    found = secret_keys(value, field)
    if found:
        raise ValidationFailed("Secrets do not belong here: the API shows it back", details=[{
            "field": name, "constraint": "forbidden",
            "message": "looks like a secret; put it in a worker environment variable and name that variable "
                       "(e.g. api_key_env) instead"} for name in found])


def mask_secrets(value: Any) -> Any:
    """A copy with the value under every secret-looking key replaced by `***` (objects stored before the refusal)."""
    if isinstance(value, dict):
        return {key: "***" if looks_secret(str(key)) else mask_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_secrets(item) for item in value]
    return value


def base_url_allowed(url: str, settings: Settings) -> bool:
    """Whether `url` is one of the operator's LLM endpoints — the same rule the LLM executor applies when it runs
    the task (`core.egress.llm_base_url_allowed`), so an agent accepted here is never refused there."""
    return llm_base_url_allowed(url, operator_url=settings.llm_base_url, allowed=settings.llm_allowed_urls)


def _value(config: dict[str, Any], key: str) -> tuple[str, Any] | None:
    """(the key as spelled, its value) for `key` in snake_case or camelCase, as the executors read it."""
    head, *rest = key.split("_")
    for spelled in (key, head + "".join(part.capitalize() for part in rest)):
        if config.get(spelled) is not None:
            return spelled, config[spelled]
    return None


def check_base_url(config: dict[str, Any], settings: Settings, field: str) -> None:
    found = _value(config, "base_url")
    if found is None:
        return
    key, url = found
    if not isinstance(url, str) or not base_url_allowed(url, settings):
        raise ValidationFailed("LLM base URL is not allowed", details=[{
            "field": f"{field}.{key}", "constraint": "allowlist",
            "message": "must be one of the operator's LLM endpoints (STELLARFLOW_LLM_ALLOWED_URLS)",
            "allowed": [*settings.llm_allowed_urls, *([settings.llm_base_url] if settings.llm_base_url else [])]}])


def check_command(config: dict[str, Any], caller: Caller, field: str) -> None:
    """An agent-CLI `command` override is an admin's decision (it decides what runs with the CLI's secrets)."""
    if "command" in config and config["command"] is not None and not caller.is_admin:
        raise Forbidden("Only an admin may set an agent's command", details=[{
            "field": f"{field}.command", "constraint": "admin_only",
            "message": "agent-CLI agents run the operator's command template (STELLARFLOW_AGENT_CLI_COMMAND or "
                       "the agent type's own); ask an admin to set a per-agent command"}])


def check_agent_config(config: dict[str, Any], metadata: dict[str, Any] | None, settings: Settings, caller: Caller,
                       *, field: str = "config", metadata_field: str = "metadata") -> None:
    """Every rule above, for one agent's config and metadata (field names as the caller will see them)."""
    refuse_secrets(config, field)
    if metadata:
        refuse_secrets(metadata, metadata_field)
    check_base_url(config, settings, field)
    check_command(config, caller, field)
