"""StellarFlow's MCP server (Model Context Protocol), a front end like `api` and `cli`: tools, resources and
prompts over the core services, with the same permissions as REST (docs/mcp.md).

- `server.StellarFlowMCP`: the tools, resources and prompts, and the SDK's low-level `Server` serving them;
- `http.McpHttpEndpoint`: Streamable HTTP, mounted by the API at `/mcp`;
- `stdio.serve`: stdio for `stellarflow mcp`;
- `identity`, `inputs`, `tools`, `resources`, `prompts`, `present`: who calls, arguments, what each does.

It uses core services and contracts only: never `activities`, `workflows`, `worker`, `api` or `cli`.
"""
