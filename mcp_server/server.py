"""The StellarFlow MCP server: one object holding the tools, resources and prompts, served by the official SDK's
low-level `mcp.server.Server` over stdio (`stellarflow mcp`) and Streamable HTTP (`/mcp` in the API), and called
directly by the `/mcp/v1/*` REST façade.

The low-level server rather than `MCPServer` (FastMCP's successor in mcp 2): the tools' input schemas are our own
pydantic models (with the spec's `maxAgents` alias), a failing tool answers a tool error carrying our error code
and details, and the façade calls the very same methods the MCP handlers call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from core.errors import DomainError, NotFound, Unauthorized
from core.settings import Settings
from mcp_server import prompts, resources
from mcp_server.identity import McpIdentity
from mcp_server.outputs import OUTPUTS
from mcp_server.tools import TOOLS, ClientFactory, ToolContext

log = logging.getLogger("stellarflow.mcp")

NAME = "stellarflow"
VERSION = "0.1.0"
INSTRUCTIONS = ("StellarFlow: durable workflows and AI-agent swarms on Temporal. Tools act as the signed-in user, "
                "with the same permissions as the REST API. Long work (swarm_init, workflow_run, orchestrate, "
                "github_analyze, github_pr_enhance, neural_train) answers with an id "
                "and a `resource` URI to read (or a *_status tool to call) until it is done.")
IDENTITY_STATE = "mcp_identity"  # where the HTTP transport leaves the caller (the ASGI scope's state)

# JSON-RPC codes for resource and prompt errors (tools answer tool errors instead): MCP's "resource not found",
# and the standard invalid-params and internal-error codes; `data` carries our code.
RESOURCE_NOT_FOUND = -32002
INVALID_PARAMS = -32602
FORBIDDEN = -32003
INTERNAL_ERROR = -32603


def error_body(err: DomainError) -> dict[str, Any]:
    """Our error, as both dialects name it: `code`, `message`, `details`."""
    body: dict[str, Any] = {"code": err.code, "message": err.message}
    if err.details is not None:
        body["details"] = err.details
    elif err.extra:
        body["details"] = {key: value for key, value in err.extra.items() if value is not None}
    return body


def _validation(err: ValidationError) -> DomainError:
    from core.errors import ValidationFailed

    return ValidationFailed("Tool arguments are invalid", details=[
        {"field": ".".join(str(part) for part in issue["loc"]) or "(arguments)", "constraint": issue["type"],
         "message": issue["msg"]} for issue in err.errors(include_url=False, include_input=False)])


def _summary(name: str, result: dict[str, Any]) -> str:
    """A sentence for `content`, as the claude-flow spec's `tools/call` example answers."""
    if name == "swarm_init":
        return f"Swarm initialized successfully with {result.get('topology')} topology: {result.get('swarm_id')}"
    if name == "workflow_run":
        return f"Run {result.get('run_id')} started; read {result.get('resource')} for its status"
    if name == "agent_spawn":
        return f"Agent {result.get('agent_id')} spawned"
    if name == "task_create":
        return f"Task {result.get('task_id')} created"
    started = {"orchestrate": "orchestration_id", "github_analyze": "analysis_id",
               "github_pr_enhance": "enhancement_id", "neural_train": "training_id"}.get(name)
    if started:
        return f"{result.get(started)} started; read {result.get('resource')} for its status"
    return f"{name} succeeded"


class StellarFlowMCP:
    """`settings` is called per request (an app's settings may change); `client` connects to Temporal on first use.
    `identify` answers the caller of a single-user transport (stdio), checking its credential on every request
    as REST does, so a revoked key or a changed role applies at once; HTTP requests carry their own caller."""

    def __init__(self, settings: Callable[[], Settings], client: ClientFactory,
                 identify: Callable[[], McpIdentity] | None = None, *, started: float | None = None) -> None:
        self.settings = settings
        self.client = client
        self.started = time.monotonic() if started is None else started
        self.identify = identify  # stdio: checks the process's credential again (revocation, role changes)
        self.server = self._build()

    def context(self, identity: McpIdentity) -> ToolContext:
        return ToolContext(identity=identity, settings=self.settings(), client=self.client, started=self.started)

    # ---- what every front end calls ------------------------------------------------------------------------

    def tools(self) -> list[types.Tool]:
        return [types.Tool(name=spec.name, description=spec.description, input_schema=spec.input_schema(),
                           output_schema=OUTPUTS[spec.name],
                           annotations=types.ToolAnnotations(read_only_hint=spec.read_only))
                for spec in TOOLS.values()]

    async def call_tool(self, identity: McpIdentity, name: str, arguments: dict[str, Any] | None, *,
                        raise_errors: bool = False) -> types.CallToolResult:
        """A result, or a tool error (`is_error`) whose structured content is `{"error": {code, message,
        details}}` — or, with `raise_errors` (the REST façade, which answers with the error's HTTP status), the
        DomainError itself. An unknown tool is a NotFound for the caller's protocol to answer."""
        spec = TOOLS.get(name)
        if spec is None:
            raise NotFound("tool", name[:200])
        try:
            if spec.permission is not None:
                identity.require(spec.permission)
            try:
                body = spec.input.model_validate(arguments or {})
            except ValidationError as err:
                raise _validation(err) from None
            result = await spec.handler(self.context(identity), body)
        except DomainError as err:
            if raise_errors:
                raise
            error = error_body(err)
            return types.CallToolResult(
                content=[types.TextContent(text=f"{err.code}: {err.message}"),
                         types.TextContent(text=json.dumps({"error": error}, default=str))],
                structured_content={"error": error}, is_error=True)
        except Exception:
            if raise_errors:
                raise
            log.exception("tool %s failed", name)
            error = {"code": "INTERNAL_ERROR", "message": "The tool failed unexpectedly; the server logged why"}
            return types.CallToolResult(content=[types.TextContent(text=f"INTERNAL_ERROR: {error['message']}")],
                                        structured_content={"error": error}, is_error=True)
        return types.CallToolResult(content=[types.TextContent(text=_summary(name, result)),
                                             types.TextContent(text=json.dumps(result, default=str))],
                                    structured_content=result)

    def resource_templates(self) -> list[types.ResourceTemplate]:
        return [types.ResourceTemplate(uri_template=t.uri_template, name=t.name, description=t.description,
                                       mime_type="application/json") for t in resources.TEMPLATES]

    async def resources(self, identity: McpIdentity) -> list[types.Resource]:
        return [types.Resource(uri=item["uri"], name=item["name"], description=item["description"],
                               mime_type="application/json")
                for item in await resources.listing(self.context(identity))]

    async def read_resource(self, identity: McpIdentity, uri: str) -> types.ReadResourceResult:
        """Raises our DomainError (NotFound, Forbidden, …) for the front end to answer in its own terms."""
        text = await resources.read(self.context(identity), uri)
        return types.ReadResourceResult(contents=[types.TextResourceContents(uri=uri, mime_type="application/json",
                                                                             text=text)])

    def prompts(self) -> list[types.Prompt]:
        return [types.Prompt(name=spec.name, title=spec.title, description=spec.description,
                             arguments=[types.PromptArgument(name=a.name, description=a.description,
                                                             required=a.required) for a in spec.arguments])
                for spec in prompts.PROMPTS.values()]

    def get_prompt(self, name: str, arguments: dict[str, str] | None) -> types.GetPromptResult:
        description, text = prompts.render(self.settings(), name, arguments)
        return types.GetPromptResult(description=description, messages=[
            types.PromptMessage(role="user", content=types.TextContent(text=text))])

    # ---- the MCP protocol handlers -------------------------------------------------------------------------

    async def identity_of(self, ctx: ServerRequestContext[Any, Any]) -> McpIdentity:
        scope = getattr(ctx.request, "scope", None)
        if scope is not None:
            found = scope.get("state", {}).get(IDENTITY_STATE)
            if found is not None:
                return found
        if self.identify is not None:
            try:
                return await asyncio.to_thread(self.identify)
            except Unauthorized as err:
                raise MCPError(INVALID_PARAMS, err.message, data=error_body(err)) from None
        raise MCPError(INVALID_PARAMS, "Authentication required", data={"code": Unauthorized.code})

    @staticmethod
    def protocol_error(err: DomainError) -> MCPError:
        code = {404: RESOURCE_NOT_FOUND, 403: FORBIDDEN, 400: INVALID_PARAMS}.get(err.status, INTERNAL_ERROR)
        return MCPError(code, err.message, data=error_body(err))

    def _build(self) -> Server[Any]:
        async def list_tools(ctx: ServerRequestContext[Any, Any], params: Any) -> types.ListToolsResult:
            return types.ListToolsResult(tools=self.tools())

        async def call_tool(ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) \
                -> types.CallToolResult:
            try:
                return await self.call_tool(await self.identity_of(ctx), params.name, params.arguments)
            except DomainError as err:  # an unknown tool
                raise MCPError(INVALID_PARAMS, err.message, data=error_body(err)) from None

        async def list_resources(ctx: ServerRequestContext[Any, Any], params: Any) -> types.ListResourcesResult:
            try:
                return types.ListResourcesResult(resources=await self.resources(await self.identity_of(ctx)))
            except DomainError as err:
                raise self.protocol_error(err) from None

        async def list_templates(ctx: ServerRequestContext[Any, Any], params: Any) \
                -> types.ListResourceTemplatesResult:
            return types.ListResourceTemplatesResult(resource_templates=self.resource_templates())

        async def read_resource(ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams) \
                -> types.ReadResourceResult:
            try:
                return await self.read_resource(await self.identity_of(ctx), str(params.uri))
            except DomainError as err:
                raise self.protocol_error(err) from None

        async def list_prompts(ctx: ServerRequestContext[Any, Any], params: Any) -> types.ListPromptsResult:
            return types.ListPromptsResult(prompts=self.prompts())

        async def get_prompt(ctx: ServerRequestContext[Any, Any], params: types.GetPromptRequestParams) \
                -> types.GetPromptResult:
            await self.identity_of(ctx)  # signed in, like every other request
            try:
                return self.get_prompt(params.name, params.arguments)
            except DomainError as err:
                raise self.protocol_error(err) from None

        return Server(NAME, version=VERSION, title="StellarFlow", instructions=INSTRUCTIONS,
                      on_list_tools=list_tools, on_call_tool=call_tool, on_list_resources=list_resources,
                      on_list_resource_templates=list_templates, on_read_resource=read_resource,
                      on_list_prompts=list_prompts, on_get_prompt=get_prompt)
