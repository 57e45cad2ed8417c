"""Where the CLI finds the API and its credential when run outside the folder `stellarflow up` ran in.

`up` remembers the stack it started in a user config file (`$STELLARFLOW_CONFIG`, else
`$XDG_CONFIG_HOME/stellarflow/config.json`, else `~/.config/stellarflow/config.json`; mode 0600): the API's URL and
the absolute path of the CLI's key file — the path, not the key, so the secret stays in one private file. The client
commands read it only where the environment and the data dir say nothing, so an explicit setting always wins.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

URL_VARIABLES = ("STELLARFLOW_PUBLIC_URL", "STELLARFLOW_API_HOST", "STELLARFLOW_API_PORT")


def config_path() -> Path:
    explicit = os.environ.get("STELLARFLOW_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "stellarflow" / "config.json"


def read() -> dict[str, str]:
    try:
        data = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def remember(url: str, key_file: Path) -> Path | None:
    """Note the stack `up` started; None when the file cannot be written (a read-only home is not an error)."""
    path = config_path()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({**read(), "url": url, "keyFile": str(key_file.resolve())}, out, indent=2)
        os.chmod(path, 0o600)
    except OSError:
        return None
    return path


def api_url(configured: str) -> str:
    """The settings' URL when the environment names one; else the remembered stack's; else the default."""
    if any(os.environ.get(name) for name in URL_VARIABLES):
        return configured
    return read().get("url") or configured


@dataclass
class Credential:
    value: str | None
    looked: list[str] = field(default_factory=list)  # where it looked, in order, for the error message


def credential(data_dir_key: Path) -> Credential:
    """`STELLARFLOW_TOKEN`, else `<data dir>/cli.key`, else the key file the user config names."""
    found = Credential(None)
    token = os.environ.get("STELLARFLOW_TOKEN", "").strip()
    found.looked.append("STELLARFLOW_TOKEN (unset)" if not token else "STELLARFLOW_TOKEN")
    if token:
        found.value = token
        return found
    candidates = [data_dir_key.resolve()]
    remembered = read().get("keyFile")
    if remembered and Path(remembered) not in candidates:
        candidates.append(Path(remembered))
    for path in candidates:
        try:
            value = path.read_text().strip()
        except OSError as error:
            found.looked.append(f"{path} ({error.strerror or 'unreadable'})")
            continue
        if value:
            found.value = value
            return found
        found.looked.append(f"{path} (empty)")
    if not remembered:
        found.looked.append(f"{config_path()} (no stack remembered: `stellarflow up` writes it)")
    return found
