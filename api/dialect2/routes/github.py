"""Dialect 2: GitHub repository analyses and pull-request enhancements (`/api/v2/github`, docs/github.md)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from api.common.deps import ClientDep, Principal, SettingsDep, require
from api.common.openapi import returns
from api.dialect2.jsonapi import ok
from api.dialect2.presenters import github as present
from api.dialect2.schemas.envelopes import UNAVAILABLE, headed
from api.dialect2.schemas.github import AnalysisAcceptedDocument, AnalysisDocument, EnhancementDocument
from core.github import service
from core.github.service import AnalyzeBody, EnhanceBody

router = APIRouter(prefix="/api/v2/github", tags=["github"])
WAIT_MAX_S = 120.0


@router.post("/repos/analyze", **headed(returns(AnalysisAcceptedDocument, 202, "Analysis started: results at "
                                                                             "`links.results`",
                                                unavailable=UNAVAILABLE), "Location"))
async def analyze(body: AnalyzeBody, client: ClientDep, settings: SettingsDep,
                  principal: Annotated[Principal, Depends(require("workflows:run"))]) -> JSONResponse:
    """Start a GitHubAnalysisWorkflow (id `gh-analysis-…`) on `repository` (owner/name on the server's GitHub):
    one phase per `analysisType` (code-quality, security, performance), on `branch` (default: the repository's
    default branch), `depth` shallow (default) or full. Results at `links.results`."""
    state = await service.start_analysis(client, settings, body, principal.caller)
    return JSONResponse(ok(present.analysis_accepted(state), links=present.analysis_links(state.id)),
                        status_code=202, headers={"Location": present.analysis_links(state.id)["self"]})


@router.get("/analysis/{analysis_id}", **returns(AnalysisDocument))
async def get_analysis(analysis_id: str,
                       principal: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    """Per phase: status, progress, each analyzer (version, files, languages not analysed, duration) and the
    findings (file, line, rule, severity, message, tool and version), summary counts; the commit analysed."""
    state = await asyncio.to_thread(service.get_analysis, analysis_id, principal.caller)
    return ok(present.analysis(state), links=present.analysis_links(analysis_id))


@router.post("/pr/{pr_number}/enhance", **headed(returns(
    EnhancementDocument, 202, "Enhancement started (or, with `wait=true`, still running at `timeout`)",
    responses={200: {"model": EnhancementDocument, "description": "With `wait=true`: it ended within `timeout`"}},
    unavailable=UNAVAILABLE),
    "Location"))
async def enhance(body: EnhanceBody, client: ClientDep, settings: SettingsDep,
                  principal: Annotated[Principal, Depends(require("workflows:run"))],
                  pr_number: Annotated[int, Path(ge=1, le=10**9)],
                  wait: Annotated[bool, Query()] = False,
                  timeout: Annotated[float, Query(gt=0, le=WAIT_MAX_S)] = 60.0) -> JSONResponse:
    """Start a PullRequestEnhanceWorkflow (id `gh-pr-…`): 202 with its id, or with `wait=true` 200 and the
    result when it ends within `timeout` seconds (else 202). `securityReview` posts a review with inline comments
    on the changed lines; the agent-driven parts run on the server's agent executor, their changes pushed to
    `pr-N-enhanced` (`preview`), or answer `not_configured` without one."""
    state = await service.start_enhancement(client, settings, pr_number, body, principal.caller)
    links = present.enhancement_links(state.id)
    if wait:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = await asyncio.to_thread(service.get_enhancement, state.id, principal.caller)
            if current.status in ("completed", "failed"):
                return JSONResponse(ok(present.enhancement(current), links=links), status_code=200)
            await asyncio.sleep(0.25)
    return JSONResponse(ok(present.enhancement(state), links=links), status_code=202,
                        headers={"Location": links["self"]})


@router.get("/enhancements/{enhance_id}", **returns(EnhancementDocument))
async def get_enhancement(enhance_id: str,
                          principal: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    state = await asyncio.to_thread(service.get_enhancement, enhance_id, principal.caller)
    return ok(present.enhancement(state), links=present.enhancement_links(enhance_id))
