"""The rules of what may be asked and where a token may go. Pure.

- A repository is `owner/name` on the configured GitHub (`STELLARFLOW_GITHUB_API_URL`, github.com's API by
  default; a GitHub Enterprise server's `https://HOST/api/v3`). Never a URL: the server decides the host.
- The token (`STELLARFLOW_GITHUB_TOKEN`) is sent only to that API and to the clone URL the API answers when it is on
  the same host (or github.com for api.github.com), as an `Authorization` header (git's `http.extraHeader`), never
  in a URL, a log line, an event or a response.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from core.errors import ValidationFailed
from core.sources.git import check_ref

ANALYSIS_TYPES = ("code-quality", "security", "performance")
# The analyzers each phase runs, in order (activities/github.py runs them; core/github/findings.py reads them).
PHASE_TOOLS: dict[str, tuple[str, ...]] = {
    "code-quality": ("ruff", "lizard", "lizard-duplicates"),
    "security": ("bandit", "detect-secrets"),
    "performance": ("lizard-hotspots",),
}
DEPTHS = {"shallow": 1, "full": None}  # `depth` of the spec → git clone --depth (None: the whole history)
ENHANCEMENTS = ("improveDescription", "addTests", "updateDocumentation", "performanceOptimization",
                "securityReview")

_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


def check_repository(repository: str) -> str:
    name = repository.strip()
    if name.endswith(".git"):
        name = name[:-4]
    if not _REPOSITORY.match(name) or name.split("/")[1] in (".", ".."):
        raise ValidationFailed("`repository` is owner/name on the configured GitHub, e.g. octo-org/octo-repo",
                               details=[{"field": "repository", "constraint": "pattern"}])
    return name


def check_analysis_types(types: list[str]) -> list[str]:
    unknown = [t for t in types if t not in ANALYSIS_TYPES]
    if unknown or not types:
        raise ValidationFailed(f"`analysisType` items are {', '.join(ANALYSIS_TYPES)}"
                               + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
                               details=[{"field": "analysisType", "constraint": "enum"}])
    return list(dict.fromkeys(types))


def check_branch(branch: str | None) -> None:
    if branch is not None:
        check_ref(branch, "")


def check_depth(depth: str | int | None) -> str:
    if depth is None:
        return "shallow"
    if str(depth) not in DEPTHS:
        raise ValidationFailed("`depth` is shallow (the branch's last commit) or full (its whole history)",
                               details=[{"field": "depth", "constraint": "enum"}])
    return str(depth)


def token_may_go_to(api_url: str, clone_url: str) -> bool:
    """Whether the clone URL the API answered is the GitHub the token belongs to (same scheme and host, or
    github.com for api.github.com)."""
    api, clone = urlsplit(api_url), urlsplit(clone_url)
    if clone.username or clone.password or clone.scheme != api.scheme:
        return False
    hosts = {api.hostname}
    if api.hostname == "api.github.com":
        hosts.add("github.com")
    return clone.hostname in hosts and (clone.port or None) == (api.port or None)


def compare_url(html_url: str | None, base: str, head: str) -> str | None:
    return f"{html_url.rstrip('/')}/compare/{base}...{head}" if html_url else None
