"""Who the workers are on GitHub: a GitHub App's installation, or the server's token, or nobody.

- **GitHub App** (`STELLARFLOW_GITHUB_APP_ID` with `STELLARFLOW_GITHUB_APP_PRIVATE_KEY` or `…_PRIVATE_KEY_FILE`):
  REST calls use githubkit's own App auth (`AppInstallationAuthStrategy`: a JWT signed with the private key buys an
  installation access token, which githubkit caches until it expires). The installation is
  `STELLARFLOW_GITHUB_APP_INSTALLATION_ID`, or the one installed on the repository (`GET
  /repos/{owner}/{repo}/installation`, as the App). git gets an installation token of its own, created for that one
  repository with only the `contents` permission it needs (read to clone, write to push). The App takes precedence
  over `STELLARFLOW_GITHUB_TOKEN` when both are set.
- **Token** (`STELLARFLOW_GITHUB_TOKEN`): the same token for REST and git.
- **Neither**: anonymous REST, no header for git (public repositories only).

Every request goes through the egress guard (`GuardedTransport`), the token-creating ones too. The private key, the
JWTs and the tokens stay in this process: callers send them only as headers and redact them (`redact`) from any
text they record.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from githubkit import (
    AppAuthStrategy,
    AppInstallationAuthStrategy,
    BaseAuthStrategy,
    GitHub,
    TokenAuthStrategy,
    UnauthAuthStrategy,
)
from githubkit.cache import MemCacheStrategy
from githubkit.exception import RequestFailed
from temporalio.exceptions import ApplicationError

from activities.egress import GuardedTransport
from core.settings import Settings
from core.sources import git

INSTALLATION_TTL_S = 300.0  # how long a looked-up installation id is reused before asking GitHub again
_installations: dict[tuple[str, str, str], tuple[float, int]] = {}
# githubkit caches JWTs and installation tokens under the App's id only; one cache per (API, App, key) keeps a
# token of one GitHub (or one key) from being offered to another.
_caches: dict[tuple[str, str, str], MemCacheStrategy] = {}


@dataclass(frozen=True)
class App:
    app_id: str
    private_key: str

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.private_key.encode()).hexdigest()


def app(settings: Settings) -> App | None:
    """The GitHub App the workers act as, or None when none is configured. Half a configuration (an id without a
    key, a key without an id, an unreadable key file) is an error: falling back to the token would act as someone
    else than the operator meant."""
    key_file = settings.github_app_private_key_file
    if settings.github_app_id is None and settings.github_app_private_key is None and key_file is None:
        return None
    if settings.github_app_private_key is not None:
        key = settings.github_app_private_key.get_secret_value()
    elif key_file is not None:
        try:
            key = key_file.read_text()
        except OSError as err:
            raise ApplicationError(f"STELLARFLOW_GITHUB_APP_PRIVATE_KEY_FILE cannot be read: {err.strerror}",
                                   type="GitHubAppNotConfigured", non_retryable=True) from None
    else:
        key = ""
    if "\n" not in key.strip():  # a PEM written on one line of an env file, with literal \n
        key = key.replace("\\n", "\n")
    if not settings.github_app_id or "PRIVATE KEY-----" not in key:
        raise ApplicationError("GitHub App authentication needs both STELLARFLOW_GITHUB_APP_ID and a PEM private key "
                               "(STELLARFLOW_GITHUB_APP_PRIVATE_KEY or STELLARFLOW_GITHUB_APP_PRIVATE_KEY_FILE)",
                               type="GitHubAppNotConfigured", non_retryable=True)
    return App(settings.github_app_id.strip(), key)


def _github(settings: Settings, auth: BaseAuthStrategy, found: App | None = None) -> GitHub:
    cache = None
    if found is not None:
        cache = _caches.setdefault((settings.github_api_url, found.app_id, found.fingerprint), MemCacheStrategy())
    return GitHub(auth, base_url=settings.github_api_url.rstrip("/") + "/", async_transport=GuardedTransport(),
                  follow_redirects=False, http_cache=False, auto_retry=False, timeout=30.0, cache_strategy=cache)


def _static_token(settings: Settings) -> str | None:
    return settings.github_token.get_secret_value() if settings.github_token else None


async def installation_id(settings: Settings, found: App, repository: str) -> int:
    """The configured installation, else the App's installation on `repository` (asked as the App, reused for a
    few minutes)."""
    if settings.github_app_installation_id is not None:
        return settings.github_app_installation_id
    key = (settings.github_api_url, found.app_id, repository)
    cached = _installations.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    owner, name = repository.split("/", 1)
    try:
        async with _github(settings, AppAuthStrategy(found.app_id, found.private_key), found) as gh:
            answer = (await gh.arequest("GET", f"/repos/{owner}/{name}/installation")).json()
    except RequestFailed as err:
        if err.response.status_code != 404:
            raise
        raise ApplicationError(f"the GitHub App {found.app_id} is not installed on {repository} (GitHub answered "
                               "404 to GET /repos/{owner}/{repo}/installation)", type="GitHubError",
                               non_retryable=True) from None
    number = int(answer["id"])
    _installations[key] = (time.monotonic() + INSTALLATION_TTL_S, number)
    return number


async def client(settings: Settings, repository: str) -> GitHub:
    """A githubkit client acting for `repository`: as the App's installation (its token limited to that
    repository), else with the token, else anonymously."""
    found = app(settings)
    if found is not None:
        installation = await installation_id(settings, found, repository)
        auth = AppInstallationAuthStrategy(found.app_id, found.private_key, installation,
                                           repositories=[repository.split("/", 1)[1]])
        return _github(settings, auth, found)
    token = _static_token(settings)
    return _github(settings, TokenAuthStrategy(token) if token else UnauthAuthStrategy())


async def git_token(settings: Settings, repository: str, *, write: bool = False) -> str | None:
    """The token git sends (as `x-access-token`): with an App, a fresh installation token for this repository
    only, with `contents: read` (or `write` to push); else the server's token; else None."""
    found = app(settings)
    if found is None:
        return _static_token(settings)
    installation = await installation_id(settings, found, repository)
    body = {"repositories": [repository.split("/", 1)[1]], "permissions": {"contents": "write" if write else "read"}}
    async with _github(settings, AppAuthStrategy(found.app_id, found.private_key), found) as gh:
        answer = (await gh.arequest("POST", f"/app/installations/{installation}/access_tokens", json=body)).json()
    return str(answer["token"])


def secrets(settings: Settings) -> list[str]:
    """What must never be recorded: the token, and the App's private key line by line (an error quoting part of
    it is redacted too)."""
    found: list[str] = []
    if token := _static_token(settings):
        found.append(token)
    key = settings.github_app_private_key.get_secret_value() if settings.github_app_private_key else ""
    if not key and settings.github_app_private_key_file is not None:
        try:
            key = settings.github_app_private_key_file.read_text()
        except OSError:
            key = ""
    found.extend(line.strip() for line in key.replace("\\n", "\n").splitlines()
                 if len(line.strip()) >= 16 and "-----" not in line)
    return found


def redact(text: str, *tokens: str | None) -> str:
    """`text` without the given tokens (also as git's Basic credentials) nor the configured secrets."""
    for token in tokens:
        text = git.redact(text, token)
    return text


def redact_all(text: str, settings: Settings, *tokens: str | None) -> str:
    return redact(text, *tokens, *secrets(settings))
