"""Each operation once; REST dialects, the CLI and (later) WebSocket and MCP front ends call these."""
