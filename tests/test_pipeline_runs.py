"""PipelineWorkflow semantics, driven through the public API against the real dev server and worker:
the DAG, conditions, failure handling, retries, timeouts, outputs, templating, fan-out, durable waits."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from core.settings import get_settings
from tests.support import cmd, run_to_end, step_of


def _wait_for_file(name: str) -> str:
    """Shell snippet: wait up to 5 s for a file, else fail — proves two steps ran at the same time."""
    return f'for i in $(seq 100); do [ -f "$M/{name}" ] && exit 0; sleep 0.05; done; exit 1'


def _workspace(run: dict) -> Path:
    """The run's workspace: where its (sandboxed) commands can write, so where the tests' marker files are."""
    return get_settings().workspaces_dir / run["id"]


async def test_ready_steps_run_in_parallel(api: httpx.AsyncClient) -> None:
    env = {"M": "."}  # the run's workspace, shared by its steps
    run = await run_to_end(api, {
        "name": "parallel",
        "steps": [
            {"id": "a", "action": "execute-command",
             "parameters": {"command": f'touch "$M/a"; {_wait_for_file("b")}', "env": env}},
            {"id": "b", "action": "execute-command",
             "parameters": {"command": f'touch "$M/b"; {_wait_for_file("a")}', "env": env}},
            cmd("join", "echo joined", dependsOn=["a", "b"]),
        ],
    })
    assert run["status"] == "succeeded", run
    assert [s["status"] for s in run["steps"]] == ["succeeded"] * 3
    join = step_of(run, "join")
    assert join["startedAt"] >= max(step_of(run, "a")["endedAt"], step_of(run, "b")["endedAt"])


async def test_failed_step_skips_dependents_and_fails_the_run(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {
        "name": "failure",
        "steps": [
            cmd("build", "echo building; exit 3"),
            cmd("deploy", "echo never", dependsOn=["build"]),
            cmd("after-deploy", "echo never", dependsOn=["deploy"]),
            cmd("independent", "echo fine"),
        ],
    })
    assert run["status"] == "failed"
    assert "build" in run["error"]
    build = step_of(run, "build")
    assert build["status"] == "failed"
    assert build["outputs"]["exitCode"] == 3
    assert build["outputs"]["stdout"] == "building\n"
    assert "exited with code 3" in build["error"]
    assert build["attempts"] == 1  # a failing command is not retried without a `retry` policy
    assert step_of(run, "deploy")["status"] == "skipped"
    assert step_of(run, "deploy")["reason"] == "dependency build failed"
    assert step_of(run, "after-deploy")["status"] == "skipped"
    assert step_of(run, "independent")["status"] == "succeeded"
    assert run["summary"] == {"failed": 1, "skipped": 2, "succeeded": 1}


async def test_continue_on_error_and_if_on_upstream_status(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {
        "name": "opt-in",
        "steps": [
            cmd("flaky-lint", "exit 1", continueOnError=True),
            cmd("test", "echo tests ran", dependsOn=["flaky-lint"]),
            cmd("deploy", "exit 7", dependsOn=["test"]),
            cmd("cleanup", "echo cleaning up after {{ steps.deploy.status }}", dependsOn=["deploy"],
                **{"if": "{{ steps.deploy.status == 'failed' }}"}),
            cmd("celebrate", "echo yay", dependsOn=["deploy"], **{"if": "steps.deploy.status == 'succeeded'"}),
        ],
    })
    assert step_of(run, "flaky-lint")["status"] == "failed"
    assert step_of(run, "test")["status"] == "succeeded"
    assert step_of(run, "cleanup")["status"] == "succeeded"
    assert step_of(run, "cleanup")["outputs"]["stdout"] == "cleaning up after failed\n"
    assert step_of(run, "celebrate")["status"] == "skipped"
    assert "condition is false" in step_of(run, "celebrate")["reason"]
    # The tolerated failure does not fail the run; the deploy failure does.
    assert run["status"] == "failed"
    assert run["error"] == "step(s) failed: deploy"


async def test_only_tolerated_failures_means_success(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {"name": "tolerated", "steps": [cmd("optional", "exit 1", continueOnError=True)]})
    assert run["status"] == "succeeded"
    assert step_of(run, "optional")["status"] == "failed"


async def test_retry_policy_retries_until_success(api: httpx.AsyncClient) -> None:
    script = 'echo x >> count; [ "$(wc -l < count)" -ge 3 ]'
    run = await run_to_end(api, {
        "name": "retry",
        "steps": [cmd("flaky", script, retry={"maxAttempts": 4, "backoff": {"initial": 100, "factor": 1.5}})],
    })
    assert run["status"] == "succeeded", run
    assert step_of(run, "flaky")["attempts"] == 3
    assert (_workspace(run) / "count").read_text().count("x") == 3


async def test_retry_policy_gives_up_after_max_attempts(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {
        "name": "retry-exhausted",
        "steps": [cmd("broken", "echo x >> count; exit 2",
                      retry={"maxAttempts": 2, "backoff": {"initial": "100ms"}})],
    })
    broken = step_of(run, "broken")
    assert run["status"] == "failed"
    assert broken["attempts"] == 2
    assert (_workspace(run) / "count").read_text().count("x") == 2
    assert broken["outputs"]["exitCode"] == 2


async def test_step_timeout_kills_the_command(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {"name": "timeout", "steps": [cmd("slow", "sleep 30", timeout="1s")]})
    slow = step_of(run, "slow")
    assert slow["status"] == "failed"
    assert "timed out" in slow["error"]


async def test_outputs_flow_between_steps(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {
        "name": "outputs",
        "steps": [
            {**cmd("version", 'echo "1.2.3"; echo "sha=abc123" >> "$STELLARFLOW_OUTPUT"'),
             "outputs": {"version": "{{ result.stdout | trim }}",
                         "tag": "v{{ result.stdout | trim }}-{{ result.sha }}"}},
            cmd("use", "echo {{ steps.version.outputs.tag }} {{ steps.version.outputs.sha }}", dependsOn=["version"]),
        ],
    })
    assert run["status"] == "succeeded", run
    version = step_of(run, "version")["outputs"]
    assert version["version"] == "1.2.3"
    assert version["sha"] == "abc123"
    assert version["tag"] == "v1.2.3-abc123"
    assert step_of(run, "use")["outputs"]["stdout"] == "v1.2.3-abc123 abc123\n"


async def test_inputs_env_and_run_context(api: httpx.AsyncClient) -> None:
    definition = {
        "name": "context",
        "inputs": {
            "who": {"type": "string", "required": True},
            "count": {"type": "number", "default": 2},
            "loud": {"type": "boolean", "default": False},
            "tier": {"type": "choice", "options": ["dev", "prod"], "default": "dev"},
        },
        "env": {"GREETING": "hello {{ inputs.who }}", "TIER": "{{ inputs.tier }}"},
        "steps": [
            cmd("show", 'echo "$GREETING/$TIER/{{ inputs.count * 2 }}/{{ inputs.loud }}/{{ env.TIER }}"; '
                        'echo "$STELLARFLOW_RUN_ID"; echo {{ run.id }}'),
        ],
    }
    run = await run_to_end(api, definition, {"who": "ada", "count": "21", "loud": "true"})
    assert run["status"] == "succeeded", run
    assert run["inputs"] == {"who": "ada", "count": 21, "loud": True, "tier": "dev"}
    lines = step_of(run, "show")["outputs"]["stdout"].splitlines()
    assert lines[0] == "hello ada/dev/42/true/dev"  # booleans reach a shell as true/false
    assert lines[1] == lines[2] == run["id"]


async def test_templated_values_never_become_shell_syntax(api: httpx.AsyncClient) -> None:
    hostile = 'x"; touch pwned; echo "$(touch pwned2)'  # relative: the run's workspace is where it could write
    run = await run_to_end(api, {
        "name": "quoting",
        "inputs": {"title": {"type": "string"}},
        "steps": [cmd("echo", "echo {{ inputs.title }}")],
    }, {"title": hostile})
    assert run["status"] == "succeeded", run
    assert step_of(run, "echo")["outputs"]["stdout"] == hostile + "\n"
    assert not list(_workspace(run).glob("pwned*"))


async def test_for_each_and_matrix_fan_out(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {
        "name": "fan-out",
        "inputs": {"targets": {"type": "string", "default": "a,b,c"}},
        "steps": [
            {**cmd("each", "echo item={{ item }} index={{ index }}"), "forEach": "{{ inputs.targets.split(',') }}"},
            {**cmd("literal", ["echo", "{{ item }}"]), "forEach": [1, 2]},
            {**cmd("grid", "echo {{ matrix.os }}-{{ matrix.py }}"),
             "matrix": {"os": ["linux", "mac"], "py": [3.11, 3.12]}},
            cmd("join", "echo {{ steps.each.outputs.results | length }} {{ steps.grid.outputs.results | length }}",
                dependsOn=["each", "grid"]),
        ],
    })
    assert run["status"] == "succeeded", run
    each = step_of(run, "each")
    assert [i["outputs"]["stdout"] for i in each["instances"]] == [
        "item=a index=0\n", "item=b index=1\n", "item=c index=2\n"]
    assert [i["id"] for i in each["instances"]] == ["each[0]", "each[1]", "each[2]"]
    grid = sorted(r["stdout"] for r in step_of(run, "grid")["outputs"]["results"])
    assert grid == ["linux-3.11\n", "linux-3.12\n", "mac-3.11\n", "mac-3.12\n"]
    assert step_of(run, "join")["outputs"].get("stdout") == "3 4\n", step_of(run, "join")


async def test_fan_out_instance_failure_fails_the_step(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {
        "name": "fan-out-failure",
        "steps": [{**cmd("each", "test {{ item }} != bad"), "forEach": ["ok", "bad", "fine"]}],
    })
    each = step_of(run, "each")
    assert each["status"] == "failed"
    assert [i["status"] for i in each["instances"]] == ["succeeded", "failed", "succeeded"]
    assert "1 of 3 instances failed" in each["error"]


async def test_wait_is_a_durable_timer(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {
        "name": "wait",
        "steps": [{"id": "pause", "action": "wait", "parameters": {"duration": "300ms"}},
                  cmd("after", "echo done", dependsOn=["pause"])],
    })
    assert run["status"] == "succeeded"
    assert step_of(run, "pause")["outputs"] == {"waitedMs": 300}


async def test_runtime_template_error_fails_the_step_clearly(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {
        "name": "runtime-template",
        "inputs": {"data": {"type": "string", "default": "x"}},
        "steps": [cmd("bad", "echo {{ inputs.data.missing_attribute }}")],
    })
    bad = step_of(run, "bad")
    assert bad["status"] == "failed"
    assert "template error" in bad["error"]


async def test_working_directory_is_a_per_run_workspace(api: httpx.AsyncClient) -> None:
    definition = {"name": "workspace", "steps": [
        cmd("write", "mkdir -p sub && echo $STELLARFLOW_RUN_ID > sub/id && pwd"),
        cmd("read", ["cat", "id"], dependsOn=["write"]),
    ]}
    definition["steps"][1]["parameters"]["workingDirectory"] = "sub"
    first = await run_to_end(api, definition)
    second = await run_to_end(api, definition)
    for run in (first, second):
        assert run["status"] == "succeeded", run
        assert step_of(run, "read")["outputs"]["stdout"].strip() == run["id"]
        workspace = step_of(run, "write")["outputs"]["stdout"].strip()
        assert workspace.endswith(run["id"])
        assert os.path.isdir(workspace)
    assert step_of(first, "write")["outputs"]["stdout"] != step_of(second, "write")["outputs"]["stdout"]


async def test_deploy_to_unconfigured_environment_fails_at_run_time(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {
        "name": "unconfigured-deploy",
        "steps": [{"id": "deploy", "action": "deploy",
                   "parameters": {"environment": "staging", "strategy": "blue-green"}}],
    })
    deploy = step_of(run, "deploy")
    assert run["status"] == "failed"
    assert "staging" in deploy["error"] and "not configured" in deploy["error"]
    assert deploy["attempts"] == 1


async def test_blue_green_deploy_alternates_slots(api: httpx.AsyncClient, tmp_path: Path) -> None:
    environment = f"bg-{tmp_path.name}"
    definition = {
        "name": "blue-green",
        "environments": {environment: {"deployCommand": 'echo "$DEPLOY_SLOT" >> deploys'}},
        "steps": [{"id": "deploy", "action": "deploy",
                   "parameters": {"environment": environment, "strategy": "blue-green", "version": "1"}}],
    }
    first = await run_to_end(api, definition)
    second = await run_to_end(api, definition)
    assert step_of(first, "deploy")["outputs"]["slot"] == "blue"
    assert step_of(second, "deploy")["outputs"]["slot"] == "green"
    assert step_of(second, "deploy")["outputs"]["previousSlot"] == "blue"
    assert [(_workspace(run) / "deploys").read_text() for run in (first, second)] == ["blue\n", "green\n"]


async def test_unconfigured_notification_channels_are_warnings(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {
        "name": "notify-nowhere",
        "notifications": {"channels": ["email", "slack"], "events": ["started", "completed"]},
        "steps": [cmd("ok", "true")],
    })
    assert run["status"] == "succeeded"
    logs = (await api.get(f"/api/v2/runs/{run['id']}/logs")).json()["data"]
    warnings = [e for e in logs["events"] if e["type"] == "notification.warning"]
    assert {(w["data"]["event"], w["data"]["channel"]) for w in warnings} == {
        ("started", "email"), ("started", "slack"), ("completed", "email"), ("completed", "slack")}
    assert all("not configured" in w["data"]["detail"] for w in warnings)


async def test_local_steps_run_in_the_worker_with_the_same_semantics(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {
        "name": "local steps",
        "steps": [
            {**cmd("first", 'echo "v=7" >> "$STELLARFLOW_OUTPUT"; echo one'), "local": True},
            {**cmd("flaky", 'echo x >> count; [ "$(wc -l < count)" -ge 2 ]'), "local": True,
             "dependsOn": ["first"], "retry": {"maxAttempts": 3, "backoff": {"initial": 50}}},
            {**cmd("use", "echo {{ steps.first.outputs.v }}"), "local": True, "dependsOn": ["flaky"]},
            {**cmd("slow", "sleep 5"), "local": True, "timeout": "500ms"},
        ],
    })
    assert step_of(run, "first")["outputs"]["stdout"] == "one\n"
    assert step_of(run, "flaky")["attempts"] == 2
    assert step_of(run, "use")["outputs"]["stdout"] == "7\n"
    assert step_of(run, "slow")["status"] == "failed" and "timed out" in step_of(run, "slow")["error"], run
    assert run["status"] == "failed"


async def test_local_is_only_for_short_commands_and_requests(api: httpx.AsyncClient) -> None:
    for step in ({"id": "d", "action": "deploy", "parameters": {"environment": "x"}, "local": True},
                 {**cmd("long", "true"), "local": True, "timeout": "5m"}):
        response = await api.post("/api/v2/workflows", json={"name": "bad local", "steps": [step]})
        assert response.status_code == 400, response.text
        assert "local" in response.json()["error"]["details"][0]["message"]
