"""docker-compose.yml, the Dockerfile and .env.example, checked statically: there is no Docker engine on the machines
the suite runs on, so this is what keeps the deployment honest (docs/deploy.md).

What is checked: every long-running service has a health check and a restart policy, and every one-shot job is
waited for; `depends_on` always waits for health or completion; every image is pinned; the Dockerfile's bases are
pinned and it runs as a non-root user with bubblewrap installed; every setting the app reads (derived from
`core.settings.Settings`) is set by the compose file or documented in .env.example, and every `${VAR}` the compose
file uses is documented there too; each `stellarflow …` command line parses with the real CLI; no secret is
written into the compose file; the search attributes registered are the app's; the API and workers scale out.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from typer.testing import CliRunner

from cli import app as cli_app
from core.settings import SEARCH_ATTRIBUTES, Settings

pytestmark = pytest.mark.database("sqlite", reason="static checks of the compose file: no database")

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

SECRET_NAME = re.compile(r"PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|WEBHOOK_URL")
REFERENCE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*(?::?[?-][^}]*)?\}$")  # ${VAR}, ${VAR:-default}, ${VAR:?message}


# ---- helpers --------------------------------------------------------------------------------------------------


def _environment(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's environment as a mapping (compose allows a mapping or a list of NAME=value)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return {item.partition("=")[0]: (item.partition("=")[2] if "=" in item else None) for item in env}
    return {name: None if value is None else str(value) for name, value in env.items()}


def _ours() -> dict[str, dict[str, Any]]:
    """Services that run the StellarFlow image (built from ./Dockerfile)."""
    return {name: service for name, service in SERVICES.items() if "build" in service}


def _one_shots() -> set[str]:
    """Jobs that others wait for to finish: anything depended on with `service_completed_successfully`."""
    return {
        target
        for service in SERVICES.values()
        for target, rule in (service.get("depends_on") or {}).items()
        if isinstance(rule, dict) and rule.get("condition") == "service_completed_successfully"
    }


def _long_running() -> dict[str, dict[str, Any]]:
    return {name: service for name, service in SERVICES.items() if name not in _one_shots()}


def _resolve_defaults(text: str) -> str:
    """`${VAR:-default}` → default (what compose uses with an empty .env), `${VAR}` → ''."""
    return re.sub(r"\$\{[A-Z0-9_]+(?::?-([^}]*))?\}", lambda match: match.group(1) or "", text)


def _pinned(reference: str) -> bool:
    """`name:tag` with a version of at least two parts (`16.15`, `1.32.0`, `3.11.13-slim-bookworm`), or a digest."""
    name, _, digest = reference.partition("@")
    if digest:
        return re.fullmatch(r"sha256:[0-9a-f]{64}", digest) is not None
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.split(":", 1)[1]
    return tag != "latest" and re.match(r"v?\d+\.\d+", tag) is not None


def _setting_names() -> dict[str, list[str]]:
    """Every setting and the environment names it is read from, first the one to document."""
    prefix = Settings.model_config.get("env_prefix", "")
    names: dict[str, list[str]] = {}
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names[field] = [choice for choice in alias.choices if isinstance(choice, str)]
        elif isinstance(alias, str):
            names[field] = [alias]
        else:
            names[field] = [f"{prefix}{field}".upper()]
    return names


def _documented_lines() -> set[str]:
    """Variables .env.example gives a line of their own, set or commented out (`NAME=…` or `# NAME=…`)."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE, flags=re.MULTILINE))


def _config(name: str) -> str:
    return COMPOSE["configs"][name]["content"]


# ---- services: health, restarts, start order -----------------------------------------------------------------


def test_every_long_running_service_has_a_health_check_and_comes_back() -> None:
    assert {"postgres", "temporal", "temporal-ui", "redis", "api", "worker", "proxy"} <= set(_long_running())
    for name, service in _long_running().items():
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, f"{name}: health check must say CMD or CMD-SHELL"
        assert service.get("restart") in {"always", "unless-stopped"}, f"{name} is not restarted when it dies"


def test_one_shot_jobs_run_to_completion_and_are_not_restarted() -> None:
    assert _one_shots() == {"temporal-schema", "temporal-setup", "bootstrap"}
    for name in _one_shots():
        assert SERVICES[name].get("restart", "no") == "no", f"{name} would loop"


def test_depends_on_waits_for_health_or_completion() -> None:
    for name, service in SERVICES.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on must be the long form, with conditions"
        for target, rule in depends_on.items():
            assert target in SERVICES, f"{name} depends on unknown {target}"
            condition = (rule or {}).get("condition")
            if condition == "service_healthy":
                assert SERVICES[target].get("healthcheck"), f"{name} waits for {target}'s health, which it lacks"
            else:
                assert condition == "service_completed_successfully", f"{name} → {target}: {condition!r}"
    # The app starts only once its database and Temporal are prepared.
    for name in ("api", "worker"):
        waits = SERVICES[name]["depends_on"]
        assert waits["bootstrap"]["condition"] == "service_completed_successfully"
        assert waits["temporal-setup"]["condition"] == "service_completed_successfully"


# ---- images -----------------------------------------------------------------------------------------------------


def test_every_image_is_pinned() -> None:
    for name, service in SERVICES.items():
        assert "image" in service, f"{name} names no image"
        image = _resolve_defaults(service["image"])
        assert _pinned(image), f"{name}: image {image!r} is not pinned to a version"
    for name in _ours():
        assert _resolve_defaults(SERVICES[name]["image"]) == f"stellarflow:{VERSION}", "tag = pyproject version"
        assert SERVICES[name]["build"]["dockerfile"] == "Dockerfile"
    tags = {_resolve_defaults(SERVICES[name]["image"]).split(":")[1] for name in
            ("temporal", "temporal-schema", "temporal-setup")}
    assert len(tags) == 1, f"Temporal server and admin-tools must be the same version: {tags}"


def test_pinning_rule() -> None:
    assert _pinned("postgres:16.15") and _pinned("temporalio/server:1.32.0") and _pinned("nginx:1.28.0-alpine")
    assert _pinned("registry.example:5000/stellarflow:0.1.0") and _pinned("redis@sha256:" + "0" * 64)
    for loose in ("postgres", "postgres:latest", "postgres:16", "redis:alpine", "registry.example:5000/app"):
        assert not _pinned(loose), loose


def test_dockerfile_pins_its_bases_runs_as_non_root_and_carries_bubblewrap() -> None:
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    stages: set[str] = set()
    bases = []
    for match in re.finditer(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", text, re.MULTILINE | re.I):
        if match.group(1) not in stages:
            bases.append(match.group(1))
        if match.group(2):
            stages.add(match.group(2))
    assert len(bases) >= 2, "multi-stage: a build stage and a runtime stage"
    for base in bases:
        assert _pinned(base), f"base image {base!r} is not pinned"
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"root", "0"}, "the image must end as a non-root user"
    assert re.search(r"apt-get install[^\n]*\bbubblewrap\b", text), "bubblewrap is installed for the sandbox"
    assert re.search(r'^ENTRYPOINT \[.*"stellarflow"\]', text, re.MULTILINE)
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("**")] == "**", "the build context is deny-by-default"
    assert not any(line.startswith(("!.env", "!.stellarflow", "!.git")) for line in ignored)


# ---- settings and variables -------------------------------------------------------------------------------------


def test_every_setting_the_app_reads_is_set_here_or_documented() -> None:
    set_here = {variable for service in _ours().values() for variable in _environment(service)}
    lines = _documented_lines()
    mentioned = set(re.findall(r"\b[A-Z][A-Z0-9_]{2,}\b", ENV_EXAMPLE))
    missing = []
    for field, names in _setting_names().items():
        first, *aliases = names
        if first not in set_here | lines:
            missing.append(f"{first} ({field})")
        missing += [f"{alias} ({field}, alias)" for alias in aliases if alias not in set_here | mentioned]
    assert not missing, f"set these in docker-compose.yml or document them in .env.example: {missing}"


def test_passed_through_settings_are_documented() -> None:
    """A name without a value takes its value from .env: the operator must be able to find it there."""
    lines = _documented_lines()
    for name, service in _ours().items():
        for variable, value in _environment(service).items():
            if value is None:
                assert variable in lines, f"{name} passes {variable} through, but .env.example does not list it"


def test_every_compose_variable_is_documented() -> None:
    text = COMPOSE_TEXT.replace("$$", "")  # `$$` is a literal dollar, for the containers' shells
    assert not re.findall(r"\$(?!\{)[A-Za-z_]", text), "use ${VAR}, or $$ for a literal dollar"
    variables = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    assert {"POSTGRES_PASSWORD", "STELLARFLOW_JWT_SECRET"} <= variables
    undocumented = variables - _documented_lines()
    assert not undocumented, f"document these in .env.example: {sorted(undocumented)}"


def test_no_secret_is_written_into_the_compose_file() -> None:
    for name, service in SERVICES.items():
        for variable, value in _environment(service).items():
            if SECRET_NAME.search(variable) and value is not None:
                assert REFERENCE.match(value), f"{name}: {variable} must come from .env, as ${{{variable}}}"
        for argument in [*(service.get("command") or []), *(service.get("entrypoint") or [])]:
            assert not re.search(r"(?i)(--?(password|pw|token|secret)\b|requirepass)", str(argument)), name
    for user, password in re.findall(r"://([^/@\s:]+):([^@\s]+)@", COMPOSE_TEXT):
        assert password.startswith("${"), f"the password of {user} in a URL must come from .env"
    for variable, value in re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE, flags=re.MULTILINE):
        if SECRET_NAME.search(variable):
            assert value == "", f".env.example must leave {variable} empty"


# ---- command lines ------------------------------------------------------------------------------------------------


def _stellarflow_commands() -> dict[str, list[str]]:
    """Every `stellarflow …` the compose file runs: our services' commands (the image's entrypoint is `stellarflow`)
    and any health check that calls it."""
    commands = {}
    for name, service in _ours().items():
        assert "entrypoint" not in service, f"{name}: keep the image's entrypoint (tini -- stellarflow)"
        command = service["command"]
        commands[name] = command if isinstance(command, list) else shlex.split(command)
        test = service.get("healthcheck", {}).get("test", [])
        words = shlex.split(test[1]) if test[:1] == ["CMD-SHELL"] else test[1:]
        if words[:1] == ["stellarflow"]:
            commands[f"{name} health check"] = words[1:]
    return commands


@pytest.mark.parametrize("name", sorted(_stellarflow_commands()))
def test_command_lines_match_the_cli(name: str) -> None:
    """`--help` after the arguments: click parses them all first, so an unknown command or option fails (exit 2)
    and nothing runs."""
    arguments = _stellarflow_commands()[name]
    result = CliRunner().invoke(cli_app, [*arguments, "--help"])
    assert result.exit_code == 0, f"`stellarflow {' '.join(arguments)}` does not parse:\n{result.output}"


def test_the_commands_are_the_ones_each_service_needs() -> None:
    commands = _stellarflow_commands()
    assert commands["bootstrap"] == ["bootstrap"]
    assert commands["worker"] == ["worker"]
    assert commands["api"][0] == "api"


# ---- Temporal, scaling, exposure -------------------------------------------------------------------------------


def test_the_app_search_attributes_are_registered() -> None:
    script = _config("temporal-setup")
    registered = dict(re.findall(r"--name\s+(\w+)\s+--type\s+(\w+)", script))
    assert registered == SEARCH_ATTRIBUTES
    assert "search-attribute create" in script and "namespace create" in script
    assert "update-schema" in _config("temporal-schema")


def test_api_and_workers_scale_out_behind_one_port() -> None:
    api, worker, proxy = SERVICES["api"], SERVICES["worker"], SERVICES["proxy"]
    assert api["deploy"]["replicas"] >= 2 and worker["deploy"]["replicas"] >= 2
    assert "ports" not in api and "container_name" not in api and "container_name" not in worker
    assert len(proxy["ports"]) == 1
    port = api["command"][api["command"].index("--port") + 1]
    nginx = _config("proxy-config")
    assert re.search(rf"server api:{port} resolve", nginx), "the proxy balances over every api replica"
    assert "X-Forwarded-For $$remote_addr" in nginx, "the client address must not be forgeable"
    assert f"127.0.0.1:{port}/api/health" in " ".join(api["healthcheck"]["test"])
    workspaces = worker["environment"]["STELLARFLOW_WORKSPACES_DIR"]
    assert f"workspaces:{workspaces}" in worker["volumes"], "every replica sees every run's workspace"
    assert any(v.endswith(":/var/lib/stellarflow") for v in worker["volumes"]), "and every local artifact"


def test_only_the_proxy_is_published_beyond_this_host() -> None:
    for name, service in SERVICES.items():
        for mapping in service.get("ports", []):
            if name != "proxy":
                assert _resolve_defaults(str(mapping)).startswith("127.0.0.1:"), f"{name} is published: {mapping}"


def test_the_worker_container_can_run_bubblewrap() -> None:
    worker = SERVICES["worker"]
    assert _environment(worker)["STELLARFLOW_SANDBOX"] == "${STELLARFLOW_SANDBOX:-bwrap}"
    options = set(worker["security_opt"])
    assert {"seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"} <= options
    assert "no-new-privileges:true" in options
