"""`/mcp/v1/*` bodies: the MCP server's own results (the MCP SDK's types, camelCase as MCP spells them, fields
without a value left out), as api/dialect1/routes/mcp.py hands them on."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from api.dialect1.schemas.responses.common import Open


class ServerInfo(Open):
    name: str = Field(examples=["stellarflow"])
    version: str


class InitializeResult(Open):
    protocolVersion: str = Field(description="the version the client asked for, else the server's")
    capabilities: dict[str, bool]
    serverInfo: ServerInfo
    instructions: str | None = None


class ToolV1(Open):
    name: str = Field(examples=["swarm_init"])
    title: str | None = None
    description: str | None = None
    inputSchema: dict[str, Any] = Field(description="JSON Schema of `arguments`")
    outputSchema: dict[str, Any] | None = Field(default=None, description="JSON Schema of `metadata`")
    annotations: dict[str, Any] | None = None


class ToolList(Open):
    tools: list[ToolV1]


class ContentBlock(Open):
    """MCP content: `{type: "text", text}` (this server's tools answer text), or an image, audio or resource."""

    type: str = Field(examples=["text"])
    text: str | None = None


class ToolCallResult(Open):
    content: list[ContentBlock] = Field(description="a sentence, then the result as JSON text")
    metadata: dict[str, Any] | None = Field(description="the structured result")
    isError: bool


class ResourceV1(Open):
    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mimeType: str | None = None


class ResourceTemplateV1(Open):
    uriTemplate: str = Field(examples=["stellarflow://runs/{run_id}"])
    name: str
    title: str | None = None
    description: str | None = None
    mimeType: str | None = None


class ResourceList(Open):
    resources: list[ResourceV1]
    resourceTemplates: list[ResourceTemplateV1]


class ResourceContents(Open):
    uri: str
    mimeType: str | None = None
    text: str | None = None
    blob: str | None = Field(default=None, description="base64")


class ResourceRead(Open):
    contents: list[ResourceContents]


class PromptArgument(Open):
    name: str
    description: str | None = None
    required: bool | None = None


class PromptV1(Open):
    name: str = Field(examples=["plan_swarm"])
    title: str | None = None
    description: str | None = None
    arguments: list[PromptArgument] | None = None


class PromptList(Open):
    prompts: list[PromptV1]


class PromptMessage(Open):
    role: str = Field(description="user or assistant")
    content: ContentBlock


class PromptResult(Open):
    description: str | None = None
    messages: list[PromptMessage]
