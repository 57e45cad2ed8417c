"""What an agent's config may hold (core/agents/config_rules.py), checked at create and update in both dialects:
no secret by value in any casing or depth, LLM endpoints only from the operator's list, agent-CLI commands from
admins (or an operator-defined agent type) only; and `requirements.env` values never shown back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from activities.executors import agent_cli
from core.agents.config_rules import base_url_allowed, looks_secret, mask_secrets, secret_keys
from core.agents.contracts import ExecuteTaskInput
from core.agents.types import AgentType
from core.settings import Settings, get_settings
from tests.support import client_for, settings_changed, token_for

LLM = "http://llm.internal:8080"


@pytest.fixture
async def developer(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, token_for("developer")) as client:
        yield client


def _error_fields(response: httpx.Response) -> list[str]:
    return [detail["field"] for detail in response.json()["error"]["details"]]


# ---- secrets by value --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["apiKey", "api_key", "API-KEY", "Api Key", "APIKEY", "token", "Token",
                                 "accessToken", "access_token", "refresh-token", "githubToken", "password",
                                 "PASSWORD", "db_passwd", "secret", "clientSecret", "client_secret",
                                 "privateKey", "aws_access_key_id", "credentials", "Authorization", "bearer"])
def test_secret_looking_keys(key: str) -> None:
    assert looks_secret(key)


@pytest.mark.parametrize("key", ["api_key_env", "apiKeyEnv", "pass_env", "password_env", "max_tokens",
                                 "maxTokens", "tokens", "model", "temperature", "base_url", "executor", "keys",
                                 "token_budget", "cognitivePattern"])
def test_ordinary_keys(key: str) -> None:
    assert not looks_secret(key)


def test_secrets_are_found_at_any_depth_and_masked() -> None:
    config = {"model": "m", "auth": {"headers": [{"X-Api-Key": "k"}], "Bearer": "t"}, "api_key_env": "LLM_KEY"}
    assert secret_keys(config, "config") == ["config.auth.headers[0].X-Api-Key", "config.auth.Bearer"]
    assert mask_secrets(config) == {"model": "m", "auth": {"headers": [{"X-Api-Key": "***"}], "Bearer": "***"},
                                    "api_key_env": "LLM_KEY"}


@pytest.mark.parametrize("key", ["apiKey", "API-KEY", "accessToken", "password"])
async def test_a_secret_in_an_agent_config_is_refused_in_both_dialects(developer: httpx.AsyncClient,
                                                                        key: str) -> None:
    v1 = await developer.post("/api/agents", json={"type": "coder", "config": {"executor": "shell",
                                                                               "nested": {key: "x"}}})
    assert v1.status_code == 400 and _error_fields(v1) == [f"config.nested.{key}"]
    assert "x" not in str(v1.json()["error"]["details"][0].get("value", ""))
    v2 = await developer.post("/api/v2/agents", json={"data": {"type": "agent", "attributes": {
        "agentType": "coder", "configuration": {key: "x"}}}})
    assert v2.status_code == 400 and _error_fields(v2) == [f"data.attributes.configuration.{key}"]
    meta = await developer.post("/api/agents", json={"type": "coder", "metadata": {"owner": {key: "x"}}})
    assert meta.status_code == 400 and _error_fields(meta) == [f"metadata.owner.{key}"]


async def test_a_secret_is_refused_on_update_and_in_a_swarms_agent_configs(developer: httpx.AsyncClient) -> None:
    created = await developer.post("/api/agents", json={"type": "coder", "config": {"executor": "shell",
                                                                                    "api_key_env": "LLM_KEY"}})
    assert created.status_code == 201, created.text
    agent = created.json()["id"]
    try:
        updated = await developer.put(f"/api/agents/{agent}", json={"config": {"Api_Key": "x"}})
        assert updated.status_code == 400 and _error_fields(updated) == ["config.Api_Key"]
    finally:
        await developer.delete(f"/api/agents/{agent}")
    swarm = await developer.post("/api/swarms", json={"name": "s", "agent_config": {"token": "x"}})
    assert swarm.status_code == 400 and _error_fields(swarm) == ["agent_config.token"]
    group = await developer.post("/api/v2/swarms", json={"data": {"type": "swarm", "attributes": {
        "name": "s", "initialAgents": [{"type": "coder", "config": {"clientSecret": "x"}}]}}})
    assert group.status_code == 400
    assert _error_fields(group) == ["data.attributes.initialAgents.0.config.clientSecret"]


async def test_requirements_env_values_are_never_shown(developer: httpx.AsyncClient) -> None:
    body = {"description": "env", "requirements": {"command": "true", "env": {"DEPLOY_TOKEN": "s3cret-value"}}}
    v1 = await developer.post("/api/tasks", json=body)
    assert v1.status_code == 201 and "s3cret-value" not in v1.text
    task = v1.json()["id"]
    detail = await developer.get(f"/api/tasks/{task}")
    assert detail.json()["requirements"]["env"] == {"DEPLOY_TOKEN": "***"} and "s3cret-value" not in detail.text
    v2 = await developer.post("/api/v2/tasks", json={"data": {"type": "task", "attributes": body}})
    assert v2.status_code == 201 and v2.json()["data"]["attributes"]["requirements"]["env"] == {"DEPLOY_TOKEN": "***"}
    for url in (f"/api/v2/tasks/{v2.json()['data']['id']}", "/api/tasks?limit=100"):
        assert "s3cret-value" not in (await developer.get(url)).text
    await developer.delete(f"/api/tasks/{task}")
    await developer.delete(f"/api/tasks/{v2.json()['data']['id']}")


# ---- LLM endpoints -------------------------------------------------------------------------------------------


def test_base_url_allowlist_matching() -> None:
    settings = Settings(llm_allowed_urls=[LLM, "https://api.example.com/openai"], llm_base_url="http://local:11434/v1")
    for url in (LLM, LLM + "/", LLM + "/v1", "http://LLM.internal:8080/v1/", "https://api.example.com/openai/v1",
                "https://api.example.com:443/openai", "http://local:11434"):
        assert base_url_allowed(url, settings), url
    for url in ("http://llm.internal:8081", "https://llm.internal:8080", "http://llm.internal:8080.evil.com",
                "http://evil.com@llm.internal:8080", "http://user@llm.internal:8080", "https://api.example.com",
                "https://api.example.com/openaix", "ftp://llm.internal:8080", "not a url", "http://169.254.169.254"):
        assert not base_url_allowed(url, settings), url
    assert not base_url_allowed(LLM, Settings())  # an empty list allows nothing (but the worker's own)


async def test_an_llm_base_url_outside_the_operators_list_is_refused(app: FastAPI,
                                                                    developer: httpx.AsyncClient) -> None:
    config = {"executor": "llm", "model": "m", "base_url": "http://169.254.169.254/latest"}
    refused = await developer.post("/api/agents", json={"type": "coder", "config": config})
    assert refused.status_code == 400 and _error_fields(refused) == ["config.base_url"]
    assert "STELLARFLOW_LLM_ALLOWED_URLS" in refused.json()["error"]["details"][0]["message"]
    camel = await developer.post("/api/v2/agents", json={"data": {"type": "agent", "attributes": {
        "agentType": "coder", "configuration": {"executor": "llm", "baseUrl": "http://10.0.0.5"}}}})
    assert camel.status_code == 400 and _error_fields(camel) == ["data.attributes.configuration.baseUrl"]
    with settings_changed(app, llm_allowed_urls=[LLM]):
        allowed = await developer.post("/api/agents", json={"type": "coder", "config": {**config,
                                                                                        "base_url": LLM + "/v1"}})
        assert allowed.status_code == 201, allowed.text
        agent = allowed.json()["id"]
        moved = await developer.put(f"/api/agents/{agent}", json={"config": {"base_url": "http://elsewhere:1"}})
        assert moved.status_code == 400 and _error_fields(moved) == ["config.base_url"]
        await developer.delete(f"/api/agents/{agent}")


# ---- agent-CLI commands ------------------------------------------------------------------------------------------


async def test_an_agent_cli_command_is_an_admins_to_set(api: httpx.AsyncClient, developer: httpx.AsyncClient) -> None:
    config = {"executor": "agent-cli", "command": "cat /etc/passwd {prompt}"}
    refused = await developer.post("/api/agents", json={"type": "coder", "config": config})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
    assert _error_fields(refused) == ["config.command"]
    v2 = await developer.post("/api/v2/agents", json={"data": {"type": "agent", "attributes": {
        "agentType": "coder", "configuration": config}}})
    assert v2.status_code == 403 and _error_fields(v2) == ["data.attributes.configuration.command"]
    swarm = await developer.post("/api/swarms", json={"name": "s", "agent_config": config})
    assert swarm.status_code == 403 and _error_fields(swarm) == ["agent_config.command"]

    plain = await developer.post("/api/agents", json={"type": "coder", "config": {"executor": "agent-cli"}})
    assert plain.status_code == 201  # the operator's template: fine for anyone
    agent = plain.json()["id"]
    sneaked = await developer.put(f"/api/agents/{agent}", json={"config": {"command": ["sh", "-c", "id"]}})
    assert sneaked.status_code == 403 and _error_fields(sneaked) == ["config.command"]
    by_admin = await api.put(f"/api/agents/{agent}", json={"config": {"command": "my-cli -p {prompt}"}})
    assert by_admin.status_code == 200 and by_admin.json()["config"]["command"] == "my-cli -p {prompt}"
    renamed = await developer.put(f"/api/agents/{agent}", json={"name": "still mine"})
    assert renamed.status_code == 200  # the admin's command stays; the owner changes other things
    await developer.delete(f"/api/agents/{agent}")

    created = await api.post("/api/agents", json={"type": "coder", "config": config})
    assert created.status_code == 201, created.text
    await api.delete(f"/api/agents/{created.json()['id']}")


async def test_an_operator_defined_agent_type_carries_its_command(app: FastAPI,
                                                                  developer: httpx.AsyncClient) -> None:
    kinds = {"auditor": AgentType(capabilities=["security-audit"], executor="agent-cli",
                                  command="audit-cli --prompt {prompt}")}
    with settings_changed(app, agent_types=kinds):
        created = await developer.post("/api/agents", json={"type": "auditor"})
        assert created.status_code == 201, created.text
        assert created.json()["executor"] == "agent-cli" and created.json()["config"] == {}
        await developer.delete(f"/api/agents/{created.json()['id']}")
    settings = get_settings().model_copy(update={"agent_types": kinds,
                                                 "agent_cli_command": "default-cli {prompt}"})
    task = ExecuteTaskInput(task_id="tk-1", agent_id="ag-1", executor="agent-cli", workspace="/tmp/w",
                            agent_type="auditor")
    assert agent_cli.plan(task, settings).template == ["audit-cli", "--prompt", "{prompt}"]
    other = task.model_copy(update={"agent_type": "coder"})
    assert agent_cli.plan(other, settings).template == ["default-cli", "{prompt}"]
