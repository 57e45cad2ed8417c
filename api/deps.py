"""Dependencies shared by routes: settings, the Temporal client, the caller, list parameters."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import BaseModel
from temporalio.client import Client

from core.errors import Unavailable
from core.listing import PageRequest
from core.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_client(request: Request) -> Client:
    """Connect once, on first use, so the API starts even while Temporal is still coming up."""
    state = request.app.state
    if state.temporal_client is None:
        async with state.temporal_lock:
            if state.temporal_client is None:
                from core.temporal import connect

                try:
                    state.temporal_client = await asyncio.wait_for(connect(state.settings), timeout=10)
                except Exception as err:
                    raise Unavailable(f"Temporal is not reachable at {state.settings.temporal_target}") from err
    return state.temporal_client


class Principal(BaseModel):
    id: str
    username: str
    role: str


def require(permission: str):
    """The authorisation seam: every route names the permission it needs. Until authentication lands the
    caller is the local operator."""

    async def dependency() -> Principal:
        return Principal(id="usr-local", username="local", role="admin")

    dependency.__name__ = f"require_{permission.replace(':', '_')}"
    return dependency


def page_v2(
    request: Request,
    number: Annotated[int, Query(alias="page[number]", ge=1)] = 1,
    size: Annotated[int, Query(alias="page[size]", ge=1)] = 20,
    sort: Annotated[str | None, Query(pattern=r"^[-+]?[A-Za-z]+(,[-+]?[A-Za-z]+)*$")] = None,
) -> PageRequest:
    filters = {
        key[len("filter["):-1]: value
        for key, value in request.query_params.items()
        if key.startswith("filter[") and key.endswith("]")
    }
    return PageRequest(number=number, size=size, sort=sort.split(",") if sort else [], filters=filters)


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ClientDep = Annotated[Client, Depends(get_client)]
PageDep = Annotated[PageRequest, Depends(page_v2)]
