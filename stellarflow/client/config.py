"""Where a client finds the API and its credential when the caller names neither, in the CLI's order, so that
`StellarFlow()` works wherever `stellarflow` commands work:

* the URL: `STELLARFLOW_URL`, else `STELLARFLOW_PUBLIC_URL` (the server's own setting), else the stack
  `stellarflow up` remembered in the user config file, else http://127.0.0.1:8000;
* the credential: `STELLARFLOW_TOKEN`, else `STELLARFLOW_API_KEY`, else the key file that the user config names.

The user config is `$STELLARFLOW_CONFIG`, else `$XDG_CONFIG_HOME/stellarflow/config.json`, else
`~/.config/stellarflow/config.json` (written by `up`: `{"url", "keyFile"}`, mode 0600; cli/profile.py). It is read
here on its own, since the SDK imports nothing from the server's packages.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000"


def _user_config() -> dict[str, str]:
    explicit = os.environ.get("STELLARFLOW_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
    else:
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        path = Path(base).expanduser() / "stellarflow" / "config.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def base_url(given: str | None) -> str:
    return (given or os.environ.get("STELLARFLOW_URL") or os.environ.get("STELLARFLOW_PUBLIC_URL")
            or _user_config().get("url") or DEFAULT_URL)


def credential(token: str | None, api_key: str | None) -> str | None:
    if token and api_key:
        raise ValueError("pass token or api_key, not both")
    found = token or api_key or os.environ.get("STELLARFLOW_TOKEN") or os.environ.get("STELLARFLOW_API_KEY")
    if found:
        return found.strip()
    key_file = _user_config().get("keyFile")
    if key_file:
        try:
            return Path(key_file).read_text().strip() or None
        except OSError:
            return None
    return None
