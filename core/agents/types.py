"""The agent-type registry: default capabilities and default executor per type, extensible from settings
(`STELLARFLOW_AGENT_TYPES`, JSON: `{"security-auditor": {"capabilities": [...], "executor": "agent-cli"}}`).

An operator-defined type may carry an agent-CLI `command` template: its agents run that instead of
`STELLARFLOW_AGENT_CLI_COMMAND`. Only an admin may give a single agent a command of its own
(`core.agents.config_rules`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.errors import ValidationFailed


class AgentType(BaseModel):
    capabilities: list[str] = Field(default_factory=list)
    executor: str = "llm"
    description: str = ""
    command: str | list[str] | None = None  # agent-CLI template for agents of this type (operator-defined only)


BUILTIN: dict[str, AgentType] = {
    "coordinator": AgentType(capabilities=["planning", "decomposition", "delegation"], executor="shell",
                             description="decomposes work and assigns it (hierarchical swarms)"),
    "researcher": AgentType(capabilities=["research", "analysis", "summarization"]),
    "coder": AgentType(capabilities=["code_generation", "refactoring", "debugging"]),
    "analyst": AgentType(capabilities=["analysis", "data_analysis", "reporting"]),
    "architect": AgentType(capabilities=["system_design", "api-design", "architecture"]),
    "tester": AgentType(capabilities=["testing", "test_generation", "qa"], executor="shell"),
    "reviewer": AgentType(capabilities=["code_review", "quality", "security-audit"]),
    "optimizer": AgentType(capabilities=["optimization", "profiling", "performance"]),
    "documenter": AgentType(capabilities=["documentation", "writing"]),
    "monitor": AgentType(capabilities=["monitoring", "alerting", "health_checks"], executor="shell"),
    "specialist": AgentType(capabilities=["domain_expertise"]),
    "backend-dev": AgentType(capabilities=["code_generation", "api-design", "databases", "backend"]),
    "ml-developer": AgentType(capabilities=["machine_learning", "training", "data_analysis"], executor="python"),
    "data-engineer": AgentType(capabilities=["etl", "databases", "data_pipelines"], executor="shell"),
    "devops": AgentType(capabilities=["deployment", "ci_cd", "infrastructure"], executor="shell"),
}


def registry(extra: dict[str, AgentType] | None = None) -> dict[str, AgentType]:
    return {**BUILTIN, **(extra or {})}


def resolve(type_name: str, extra: dict[str, AgentType] | None = None, *, field: str = "type") -> AgentType:
    """The type's defaults; an unknown type is a 400 that lists the valid ones."""
    types = registry(extra)
    if type_name not in types:
        valid = sorted(types)
        raise ValidationFailed(
            f"Unknown agent type {type_name!r}",
            details=[{"field": field, "constraint": "enum", "value": type_name, "allowed": valid,
                      "message": f"must be one of: {', '.join(valid)}"}],
        )
    return types[type_name]
