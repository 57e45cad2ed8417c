"""GitHub Actions' filter semantics, as pure functions: which events of which branches, tags and paths a
`{type: github}` trigger accepts.

Patterns are globs: `*` matches anything but `/`, `**` anything, `?` one character other than `/`, `[abc]` and
`[a-z]` a character class, `+` one or more of the preceding character; a pattern starting with `!` excludes what it
matches, and later patterns override earlier ones (`[main, 'releases/**', '!releases/**-alpha']`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

DEFAULT_PR_TYPES = ("opened", "synchronize", "reopened")


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "+":
            out.append("+")
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                out.append("[" + pattern[index + 1:end].replace("\\", "\\\\") + "]")
                index = end
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("^" + "".join(out) + "$")


def glob_match(value: str, pattern: str) -> bool:
    return _regex(pattern).match(value) is not None


def included(value: str, patterns: Iterable[str]) -> bool:
    """Whether `value` passes a list of patterns with `!` exclusions (the last matching pattern decides)."""
    verdict = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if glob_match(value, pattern[1:]):
                verdict = False
        elif glob_match(value, pattern):
            verdict = True
    return verdict


def ref_parts(ref: str | None) -> tuple[str | None, str | None]:
    """(branch, tag) of a git ref."""
    if not ref:
        return None, None
    if ref.startswith("refs/heads/"):
        return ref[len("refs/heads/"):], None
    if ref.startswith("refs/tags/"):
        return None, ref[len("refs/tags/"):]
    return ref, None


def changed_files(payload: dict[str, Any]) -> list[str] | None:
    """The files a push changed (added, modified, removed, over all its commits); None when the payload does not
    say (a pull_request payload carries no file list)."""
    commits = payload.get("commits")
    if not isinstance(commits, list):
        return None
    files: dict[str, None] = {}
    for commit in commits:
        if isinstance(commit, dict):
            for key in ("added", "modified", "removed"):
                for name in commit.get(key) or []:
                    if isinstance(name, str):
                        files.setdefault(name, None)
    return list(files)


def _branch_filter(branch: str | None, include: list[str], exclude: list[str]) -> tuple[bool, str]:
    if branch is None:
        return False, "not a branch"
    if include and not included(branch, include):
        return False, f"branch {branch!r} is not in branches"
    if exclude and included(branch, exclude):
        return False, f"branch {branch!r} is in branches-ignore"
    return True, ""


def _paths_filter(files: list[str] | None, include: list[str], exclude: list[str]) -> tuple[bool, str]:
    if files is None or not (include or exclude):
        return True, ""  # nothing to judge by (pull_request payloads list no files): not filtered
    if include and not any(included(name, include) for name in files):
        return False, "no changed file matches paths"
    if exclude and files and all(included(name, exclude) for name in files):
        return False, "every changed file matches paths-ignore"
    return True, ""


def accepts(trigger: Any, event: str, payload: dict[str, Any]) -> tuple[bool, str]:
    """Whether a github trigger (core.dsl.models.Trigger) fires for this event; when not, why (for the delivery
    record)."""
    if trigger.event != event:
        return False, f"listens to {trigger.event}, not {event}"
    repository = (payload.get("repository") or {}).get("full_name") if isinstance(payload, dict) else None
    if trigger.repository and (repository or "").lower() != trigger.repository.lower():
        return False, f"repository {repository!r} is not {trigger.repository!r}"
    action = payload.get("action")
    if event == "pull_request":
        types = trigger.types or list(DEFAULT_PR_TYPES)
        if action not in types:
            return False, f"pull_request action {action!r} is not in {types}"
        base = ((payload.get("pull_request") or {}).get("base") or {}).get("ref")
        ok, why = _branch_filter(base, trigger.branches, trigger.branches_ignore)
        if not ok:
            return False, why.replace("branch", "base branch", 1)
        return True, ""
    if event == "release":
        if trigger.types and action not in trigger.types:
            return False, f"release action {action!r} is not in {trigger.types}"
        tag = (payload.get("release") or {}).get("tag_name")
        if (trigger.tags or trigger.tags_ignore) and tag is not None:
            if trigger.tags and not included(tag, trigger.tags):
                return False, f"tag {tag!r} is not in tags"
            if trigger.tags_ignore and included(tag, trigger.tags_ignore):
                return False, f"tag {tag!r} is in tags-ignore"
        return True, ""
    if event == "workflow_dispatch":
        branch, _ = ref_parts(payload.get("ref"))
        if trigger.branches or trigger.branches_ignore:
            return _branch_filter(branch, trigger.branches, trigger.branches_ignore)
        return True, ""
    # push
    if payload.get("deleted"):
        return False, "the push deleted the ref"
    branch, tag = ref_parts(payload.get("ref"))
    branch_filters = bool(trigger.branches or trigger.branches_ignore)
    tag_filters = bool(trigger.tags or trigger.tags_ignore)
    if tag is not None:
        if branch_filters and not tag_filters:
            return False, f"tag {tag!r} pushed; the trigger filters branches only"
        if trigger.tags and not included(tag, trigger.tags):
            return False, f"tag {tag!r} is not in tags"
        if trigger.tags_ignore and included(tag, trigger.tags_ignore):
            return False, f"tag {tag!r} is in tags-ignore"
    else:
        if tag_filters and not branch_filters:
            return False, f"branch {branch!r} pushed; the trigger filters tags only"
        if branch_filters:
            ok, why = _branch_filter(branch, trigger.branches, trigger.branches_ignore)
            if not ok:
                return False, why
    return _paths_filter(changed_files(payload), trigger.paths, trigger.paths_ignore)
