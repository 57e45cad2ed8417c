"""`/mcp/v1/*` (claude-flow-api.md § MCP Protocol): the MCP server's methods as plain JSON POSTs, for clients
that speak REST rather than MCP. A thin façade over the very server `/mcp` serves (`request.app.state.mcp`, see
api/mcp.py): the same tools, input schemas, resources and prompts, the same caller rules (each tool checks the
permission its REST route needs). `tools/call` answers the spec's `content` + `metadata` (the structured
result); a failing tool answers the dialect's error body with the error's own status (403, 404, 409, …)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.common.deps import PrincipalDep
from api.common.openapi import CONFLICT, returns
from api.dialect1.schemas.responses import mcp as out
from api.dialect1.schemas.responses.common import error
from mcp_server.identity import McpIdentity

if TYPE_CHECKING:
    from mcp_server.server import StellarFlowMCP

router = APIRouter(prefix="/mcp/v1", tags=["MCP (REST façade)"])


class InitializeBody(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "protocolVersion": "2024.11.5", "capabilities": {"tools": True, "resources": True, "prompts": True},
        "clientInfo": {"name": "claude-code", "version": "1.0.0"}}]})
    protocolVersion: str | None = Field(default=None, max_length=50)
    capabilities: dict[str, Any] = Field(default_factory=dict)
    clientInfo: dict[str, Any] = Field(default_factory=dict)


class CallBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "swarm_init", "arguments": {"topology": "mesh", "maxAgents": 10}}]})
    name: str = Field(min_length=1, max_length=100)
    arguments: dict[str, Any] = Field(default_factory=dict)


class ReadBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"uri": "stellarflow://runs/run-…"}]})
    uri: str = Field(min_length=1, max_length=2048)


class PromptBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "plan_swarm", "arguments": {"objective": "Build a REST API with tests"}}]})
    name: str = Field(min_length=1, max_length=100)
    arguments: dict[str, str] = Field(default_factory=dict)


def _server(request: Request) -> StellarFlowMCP:
    """The server `/mcp` serves (api/mcp.py), loaded with the MCP SDK on first use."""
    return request.app.state.mcp.server()


def _identity(principal: Any) -> McpIdentity:
    return McpIdentity(caller=principal.caller, tier=principal.tier, scopes=principal.scopes)


def _wire(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"result_type"})


@router.post("/initialize", **returns(out.InitializeResult))
def initialize(body: InitializeBody, request: Request, _: PrincipalDep) -> dict:
    """The spec's handshake: the protocol version the client asked for, what this server offers, who it is."""
    server = _server(request)
    return {"protocolVersion": body.protocolVersion or "2025-11-25",
            "capabilities": {"tools": True, "resources": True, "prompts": True},
            "serverInfo": {"name": server.server.name, "version": server.server.version},
            "instructions": server.server.instructions}


@router.post("/tools/list", **returns(out.ToolList))
def list_tools(request: Request, _: PrincipalDep) -> dict:
    return {"tools": [_wire(tool) for tool in _server(request).tools()]}


@router.post("/tools/call", **returns(out.ToolCallResult, responses={
    **CONFLICT, 404: error("No such tool, or the resource the tool names does not exist"),
    503: error("Temporal is unavailable (SERVICE_UNAVAILABLE)")}))
async def call_tool(body: CallBody, request: Request, principal: PrincipalDep) -> dict:
    """`content` (a sentence, then the result as JSON text) and `metadata` (the structured result)."""
    result = await _server(request).call_tool(_identity(principal), body.name, body.arguments, raise_errors=True)
    return {"content": [_wire(block) for block in result.content], "metadata": result.structured_content,
            "isError": result.is_error}


@router.post("/resources/list", **returns(out.ResourceList))
async def list_resources(request: Request, principal: PrincipalDep) -> dict:
    """Concrete resources you can read, and the templates they follow."""
    server = _server(request)
    return {"resources": [_wire(item) for item in await server.resources(_identity(principal))],
            "resourceTemplates": [_wire(item) for item in server.resource_templates()]}


@router.post("/resources/read", **returns(out.ResourceRead, responses={
    404: error("No resource at this URI, or not visible to you"),
    503: error("Temporal is unavailable (SERVICE_UNAVAILABLE)")}))
async def read_resource(body: ReadBody, request: Request, principal: PrincipalDep) -> dict:
    return _wire(await _server(request).read_resource(_identity(principal), body.uri))


@router.post("/prompts/list", **returns(out.PromptList))
def list_prompts(request: Request, _: PrincipalDep) -> dict:
    return {"prompts": [_wire(prompt) for prompt in _server(request).prompts()]}


@router.post("/prompts/get", **returns(out.PromptResult, responses={
    404: error("No such prompt")}))
def get_prompt(body: PromptBody, request: Request, _: PrincipalDep) -> dict:
    return _wire(_server(request).get_prompt(body.name, body.arguments))
