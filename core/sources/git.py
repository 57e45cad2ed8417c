"""The git command lines and environment a sync uses, and the checks on a source's URL. Pure: the activity
(activities/sources.py) runs them through the command runner.

Security: only https, http and (admins only) file URLs; no credentials in the URL (a token is held server-side and
sent as an `Authorization` header through git's `http.extraHeader` config, passed in the environment
(`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`, git's equivalent of `git -c`, invisible in the process
list)); every other transport is disabled (`protocol.allow=never`: no `ext::` helpers), redirects are not followed,
the host's address is checked by the egress policy and pinned (`http.curloptResolve`), and no system or user git
config is read."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

from core.errors import Forbidden, ValidationFailed

SCHEMES = ("https", "http", "file")


def check_url(url: str, *, admin: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValidationFailed("A source URL must be https://, http:// or file://",
                               details=[{"field": "url", "constraint": "scheme"}])
    if parts.username or parts.password:
        raise ValidationFailed("A source URL must not carry credentials: send the token as `token`",
                               details=[{"field": "url", "constraint": "credentials"}])
    if parts.scheme == "file":
        if not admin:
            raise Forbidden("file:// sources read the server's own disk: admins only")
        if not parts.path.startswith("/"):
            raise ValidationFailed("A file:// URL needs an absolute path", details=[{"field": "url"}])
    elif not parts.hostname:
        raise ValidationFailed("A source URL needs a host", details=[{"field": "url", "constraint": "host"}])
    if any(ch in url for ch in "\0\n\r "):
        raise ValidationFailed("A source URL must not contain spaces or control characters",
                               details=[{"field": "url"}])


def check_ref(branch: str, folder: str) -> None:
    if not branch or branch.startswith("-") or ".." in branch or any(c in branch for c in " ~^:?*[\\\0"):
        raise ValidationFailed("Not a valid branch name", details=[{"field": "branch", "constraint": "pattern"}])
    if folder.startswith("/") or ".." in folder.split("/") or "\0" in folder:
        raise ValidationFailed("The folder is a path inside the repository", details=[{"field": "folder"}])


def clone_argv(url: str, branch: str, target: str) -> list[str]:
    return ["git", "clone", "--quiet", "--depth", "1", "--single-branch", "--no-tags", "--branch", branch,
            "--", url, target]


def git_env(url: str, token: str | None, *, home: str, pinned_ip: str | None = None,
            port: int | None = None, global_config: str = "/dev/null") -> dict[str, str]:
    """The environment of every git process of a sync: config given as variables (nothing read from disk)."""
    parts = urlsplit(url)
    config: list[tuple[str, str]] = [
        ("protocol.allow", "never"),
        (f"protocol.{parts.scheme}.allow", "always"),
        ("http.followRedirects", "false"),
        ("credential.helper", ""),
        ("core.hooksPath", "/dev/null"),
    ]
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        config.append(("http.extraHeader", f"Authorization: Basic {basic}"))
    if pinned_ip and parts.hostname and port:
        address = f"[{pinned_ip}]" if ":" in pinned_ip else pinned_ip
        config.append(("http.curloptResolve", f"{parts.hostname}:{port}:{address}"))
    env = {
        "HOME": home, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": global_config,
        "GIT_ASKPASS": "/bin/false", "SSH_ASKPASS": "/bin/false", "GIT_CONFIG_COUNT": str(len(config)),
    }
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def redact(text: str, token: str | None) -> str:
    if token:
        text = text.replace(token, "***")
        text = text.replace(base64.b64encode(f"x-access-token:{token}".encode()).decode(), "***")
    return text


# A file:// clone runs in the sandbox as a uid of its own, which owns no local repository, so git's ownership check
# would refuse every one; `safe.directory` is honoured only in global (not command-line) config. Only admins may name
# a file:// source, and it is bound into the sandbox read-only.
LOCAL_SOURCE_GLOBAL_CONFIG = "[safe]\n\tdirectory = *\n"
