"""GitHub analyses and PR enhancements: start one (a row, then its workflow), read one. Called by every front end.

The row is written before the workflow starts, so the id the 202 answers is readable at once; the workflow then
moves it forward through the record path (core/github/projection.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from core.access import Caller, may_read
from core.db import session_scope
from core.errors import Forbidden, NotFound, Unavailable, ValidationFailed
from core.github import repos
from core.github.contracts import ANALYSIS_KIND, ENHANCE_KIND, AnalysisRequest, EnhanceRequest
from core.github.models import AnalysisState, EnhancementPart, EnhanceState, Phase
from core.github.tables import GitHubJobRow
from core.ids import new_id
from core.names import GITHUB_ANALYSIS_WORKFLOW, PR_ENHANCE_WORKFLOW
from core.settings import Settings


class AnalyzeBody(BaseModel):
    """`POST /api/v2/github/repos/analyze`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    repository: str = Field(max_length=200)
    analysisType: list[str] = Field(default_factory=lambda: list(repos.ANALYSIS_TYPES), max_length=3)  # noqa: N815
    branch: str | None = Field(default=None, max_length=250)
    depth: str | None = Field(default=None, max_length=20)


class EnhanceBody(BaseModel):
    """`POST /api/v2/github/pr/{prNumber}/enhance`."""

    model_config = ConfigDict(extra="forbid")
    repository: str = Field(max_length=200)
    enhancements: dict[str, bool] = Field(default_factory=lambda: {"securityReview": True})
    autoCommit: bool = False  # noqa: N815


def _insert(job_id: str, kind: str, owner: str, repository: str, state: BaseModel) -> None:
    with session_scope() as session:
        session.add(GitHubJobRow(id=job_id, kind=kind, owner=owner, repository=repository,
                                 status=state.status, seq=0, state=state.model_dump(mode="json")))


async def _start(client: Client, settings: Settings, workflow: str, arg: BaseModel, job_id: str,
                 summary: str) -> None:
    try:
        await client.start_workflow(workflow, arg, id=job_id, task_queue=settings.task_queue,
                                    id_conflict_policy=WorkflowIDConflictPolicy.FAIL, static_summary=summary[:400])
    except RPCError as err:
        raise Unavailable(f"Temporal did not accept the workflow: {err.message}") from None


async def start_analysis(client: Client, settings: Settings, body: AnalyzeBody, caller: Caller) -> AnalysisState:
    repository = repos.check_repository(body.repository)
    types = repos.check_analysis_types(body.analysisType)
    repos.check_branch(body.branch)
    depth = repos.check_depth(body.depth)
    analysis_id = new_id("gh-analysis")
    state = AnalysisState(id=analysis_id, owner=caller.id, repository=repository, branch=body.branch, depth=depth,
                          phases=[Phase(name=name) for name in types])
    await asyncio.to_thread(_insert, analysis_id, ANALYSIS_KIND, caller.id, repository, state)
    request = AnalysisRequest(analysis_id=analysis_id, owner=caller.id, repository=repository,
                              analysis_types=types, branch=body.branch, depth=depth)
    await _start(client, settings, GITHUB_ANALYSIS_WORKFLOW, request, analysis_id,
                 f"analyse {repository} ({', '.join(types)})")
    return state


async def start_enhancement(client: Client, settings: Settings, pr_number: int, body: EnhanceBody,
                            caller: Caller) -> EnhanceState:
    repository = repos.check_repository(body.repository)
    unknown = [name for name in body.enhancements if name not in repos.ENHANCEMENTS]
    if unknown:
        raise ValidationFailed(f"unknown enhancements: {', '.join(unknown)} (known: {', '.join(repos.ENHANCEMENTS)})",
                               details=[{"field": "enhancements", "constraint": "enum"}])
    if pr_number < 1:
        raise ValidationFailed("prNumber is a positive integer", details=[{"field": "prNumber"}])
    enhance_id = new_id("gh-pr")
    requested = {name: bool(body.enhancements.get(name, False)) for name in repos.ENHANCEMENTS}
    state = EnhanceState(id=enhance_id, owner=caller.id, repository=repository, pr_number=pr_number,
                         requested=requested, auto_commit=body.autoCommit,
                         parts={name: EnhancementPart(status="pending" if on else "skipped")
                                for name, on in requested.items()})
    await asyncio.to_thread(_insert, enhance_id, ENHANCE_KIND, caller.id, repository, state)
    request = EnhanceRequest(enhance_id=enhance_id, owner=caller.id, repository=repository, pr_number=pr_number,
                             enhancements=requested, auto_commit=body.autoCommit,
                             agent_executor="llm" if settings.llm_base_url
                             else "agent-cli" if settings.agent_cli_command else None)
    await _start(client, settings, PR_ENHANCE_WORKFLOW, request, enhance_id,
                 f"enhance {repository}#{pr_number}")
    return state


def _read(job_id: str, kind: str, caller: Caller) -> dict[str, Any]:
    with session_scope() as session:
        row = session.get(GitHubJobRow, job_id)
        if row is None or row.kind != kind:
            raise NotFound("analysis" if kind == ANALYSIS_KIND else "enhancement", job_id)
        if not may_read(caller, row.owner):
            raise Forbidden(f"{job_id} is another user's")
        return dict(row.state)


def get_analysis(analysis_id: str, caller: Caller) -> AnalysisState:
    """Its findings, like a run's outputs, are for its owner and admins."""
    return AnalysisState.model_validate(_read(analysis_id, ANALYSIS_KIND, caller))


def get_enhancement(enhance_id: str, caller: Caller) -> EnhanceState:
    return EnhanceState.model_validate(_read(enhance_id, ENHANCE_KIND, caller))
