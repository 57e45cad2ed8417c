"""Syncing a git source: clone its branch with the git CLI through the command runner (activities/command.py), then
apply the checkout (core/sources/service.py) and reconcile the schedules of the workflows it changed."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from temporalio import activity

from activities import sandbox as sandboxing
from activities.command import run_process
from activities.egress import EgressRefused, resolve_checked
from activities.environment import base_environment
from core import names
from core.schedules.service import reconcile
from core.settings import get_settings
from core.sources import git
from core.sources.contracts import SyncRequest, SyncResult
from core.sources.service import apply_checkout, record_result, sync_target

CLONE_TIMEOUT_S = 600.0


@activity.defn(name=names.SYNC_SOURCE)
async def sync_source(request: SyncRequest) -> SyncResult:
    settings = get_settings()
    source, token = await asyncio.to_thread(sync_target, request.source_id, settings)
    scratch = Path(tempfile.mkdtemp(prefix="stellarflow-source-"))
    try:
        result = await _sync(source, token, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    await asyncio.to_thread(record_result, result)
    for workflow_id in [*result.created, *result.versioned, *result.deleted]:
        await reconcile(activity.client(), settings, workflow_id)
    return result


async def _sync(source, token: str | None, scratch: Path) -> SyncResult:  # type: ignore[no-untyped-def]
    parts = urlsplit(source.url)
    pinned, port = None, None
    if parts.scheme in ("http", "https"):
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            pinned = str(await resolve_checked(parts.hostname or "", port))
        except (EgressRefused, OSError) as err:
            return SyncResult(source_id=source.id, error=str(err))
    home = scratch / "home"
    home.mkdir()
    global_config = "/dev/null"
    if parts.scheme == "file":
        global_config = str(scratch / "gitconfig")
        Path(global_config).write_text(git.LOCAL_SOURCE_GLOBAL_CONFIG)
    env = {**base_environment(), **git.git_env(source.url, token, home=str(home), pinned_ip=pinned, port=port,
                                                global_config=global_config)}
    checkout = scratch / "checkout"
    # git talks to a server a user named: it runs in the sandbox like any user command (a local repository an admin
    # named with file:// is bound in read-only, since the sandbox's /tmp and masked paths would hide it).
    sandbox = sandboxing.for_workspace(scratch)
    if sandbox is not None:
        sandbox.hand_over(scratch, recursive=True)
        if parts.scheme == "file":
            sandbox = sandbox.with_readable(Path(unquote(parts.path)).resolve())
    outcome = await run_process(git.clone_argv(source.url, source.branch, str(checkout)), cwd=scratch, env=env,
                                timeout_s=CLONE_TIMEOUT_S, tail_bytes=8192, sandbox=sandbox)
    if not outcome.ok:
        detail = git.redact((outcome.stderr or outcome.failure_message("git clone")).strip(), token)
        return SyncResult(source_id=source.id, error=f"git clone failed: {detail[-2000:]}")
    head = await run_process(["git", "rev-parse", "HEAD"], cwd=checkout, env=env, timeout_s=60, tail_bytes=4096,
                             sandbox=sandbox)
    if not head.ok:
        return SyncResult(source_id=source.id, error="git rev-parse failed")
    return await asyncio.to_thread(apply_checkout, source, checkout, head.stdout.strip())
