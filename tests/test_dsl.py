"""The workflow definition language, as a user meets it: what parses, what each mistake reports (with the
step and the YAML line), input resolution, safe templating, and the published JSON Schema.

Pure unit tests: no Temporal server, no network, no processes.
"""

from __future__ import annotations

import json
import pickle
import re
import shlex
import textwrap
from pathlib import Path

import pytest
from jinja2 import TemplateError, UndefinedError
from jinja2.exceptions import SecurityError

from core.dsl import templating
from core.dsl.actions import ACTION_PARAMS, ExecuteCommandParams
from core.dsl.durations import parse_duration
from core.dsl.models import WorkflowDefinition
from core.dsl.schema import DEFAULT_PATH, json_schema, main, render_schema
from core.dsl.validate import (
    DefinitionError,
    Issue,
    format_path,
    load_file,
    parse_definition,
    resolve_inputs,
    validate_files,
)

pytestmark = pytest.mark.database("sqlite", reason="the definition language: no database")

REPO = Path(__file__).resolve().parents[1]

# The request body of `POST /api/v2/workflows` in spec/stellarflow-api.md, verbatim.
SEED_BODY = """
{
  "name": "CI/CD Pipeline",
  "description": "Automated testing and deployment workflow",
  "triggers": [
    {
      "type": "github",
      "event": "push",
      "branches": ["main", "develop"]
    }
  ],
  "steps": [
    {
      "id": "step-1",
      "name": "Run Tests",
      "action": "execute-command",
      "parameters": {
        "command": "npm test",
        "timeout": 300000
      }
    },
    {
      "id": "step-2",
      "name": "Build Application",
      "action": "execute-command",
      "parameters": {
        "command": "npm run build"
      },
      "dependsOn": ["step-1"]
    },
    {
      "id": "step-3",
      "name": "Deploy to Staging",
      "action": "deploy",
      "parameters": {
        "environment": "staging",
        "strategy": "blue-green"
      },
      "dependsOn": ["step-2"]
    }
  ],
  "notifications": {
    "channels": ["email", "slack"],
    "events": ["started", "failed", "completed"]
  }
}
"""


def yaml_text(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def line_of(text: str, needle: str) -> int:
    """1-based line of the only line containing `needle` (so expected lines read from the YAML itself)."""
    hits = [number for number, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


def issues_of(definition: str | dict) -> list[Issue]:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(definition, source="wf.yaml")
    return caught.value.issues


def only(issues: list[Issue], constraint: str) -> Issue:
    found = [issue for issue in issues if issue.constraint == constraint]
    assert len(found) == 1, f"expected one {constraint!r} issue, got {[i.as_detail() for i in issues]}"
    return found[0]


def wf(steps: str, head: str = "") -> str:
    """A definition around an indented `steps:` body (and optional top-level keys before it)."""
    return yaml_text(head) + "name: t\nsteps:\n" + textwrap.indent(yaml_text(steps), "  ")


# ---- the seed and every feature parse ----------------------------------------------------------------


def test_seed_body_from_the_api_spec_is_accepted_as_is() -> None:
    body = json.loads(SEED_BODY)
    defn = parse_definition(body)
    assert defn.name == "CI/CD Pipeline"
    assert [s.id for s in defn.steps] == ["step-1", "step-2", "step-3"]
    assert defn.step("step-3").dependsOn == ["step-2"]
    assert defn.triggers[0].type == "github" and defn.triggers[0].branches == ["main", "develop"]
    assert defn.notifications is not None and defn.notifications.channels == ["email", "slack"]
    # its parameters are valid for their actions; 300000 is milliseconds
    assert ExecuteCommandParams.model_validate(defn.step("step-1").parameters).timeout == 300.0
    # the canonical dump keeps the user's form, and the same body as text (JSON is YAML) parses the same
    assert defn.dump() == body
    assert parse_definition(SEED_BODY) == defn


FULL = yaml_text(
    """
    # yaml-language-server: $schema=../docs/workflow.schema.json
    name: Release
    description: build, test on a matrix, deploy
    triggers:
      - {type: manual}
      - {type: schedule, cron: "0 3 * * *", inputs: {ref: main}}
    inputs:
      target:
        type: choice
        options: [staging, production]
        default: staging
      replicas: {type: number, default: "3"}
      dryRun: {type: boolean, default: "yes"}
      ref: {type: string, required: true, description: git ref}
      note: {type: string}
    env:
      APP: shop
      TARGET: "{{ inputs.target }}"
    steps:
      - id: checkout
        action: execute-command
        parameters:
          command: ["git", "checkout", "{{ inputs.ref }}"]
          timeout: 90s
          env: {GIT_TERMINAL_PROMPT: "0"}
          workingDirectory: src
        retry:
          maxAttempts: 4
          backoff: {initial: 1s, factor: 3, max: 1m}
        timeout: 300000
        outputs:
          sha: "{{ result.stdout | trim }}"
      - id: test
        action: execute-command
        dependsOn: [checkout]
        matrix:
          python: ["3.11", "3.12"]
          os: [linux, mac]
        parameters:
          command: "tox -e py{{ matrix.python }} --os {{ matrix.os }} --sha {{ steps.checkout.outputs.sha }}"
        timeout: 5m
        continueOnError: true
      - id: smoke
        action: http-request
        dependsOn: [test]
        forEach: [eu, us]
        parameters:
          url: "https://{{ item }}.example.com/health"
          expectStatus: [200, 204]
          timeout: "{{ inputs.replicas * 1000 }}"
      - id: per-region
        action: wait
        dependsOn: [smoke]
        forEach: "{{ inputs.target.split(',') }}"
        parameters: {duration: 500ms}
      - id: gate
        name: Approve production
        action: approval
        dependsOn: [per-region]
        if: "inputs.target == 'production' and steps.test.status == 'succeeded'"
        parameters: {message: "Deploy {{ steps.checkout.outputs.sha }}?", timeout: 1h, onTimeout: reject}
      - id: deploy
        action: deploy
        dependsOn: [gate]
        if: "{{ steps.gate.status != 'skipped' }}"
        parameters: {environment: "{{ inputs.target }}", strategy: blue-green, version: "{{ run.id }}"}
      - id: tell
        action: notify
        dependsOn: [deploy]
        parameters: {channels: [slack], message: "{{ steps['per-region'].status }} {{ env.APP }}"}
    notifications: {channels: [webhook], events: [failed]}
    environments:
      staging:
        deployCommand: ./deploy.sh
        healthCheckUrl: "http://localhost:8080/{{ slot }}/health"
        healthCheckTimeout: 1m
    """
)


def test_every_dsl_feature_parses() -> None:
    defn = parse_definition(FULL)
    # inputs of every type: defaults are coerced to the declared type
    assert defn.inputs["target"].default == "staging"
    assert defn.inputs["replicas"].default == 3
    assert defn.inputs["dryRun"].default is True
    assert defn.inputs["ref"].required and defn.inputs["ref"].default is None
    assert defn.env == {"APP": "shop", "TARGET": "{{ inputs.target }}"}
    checkout, test, smoke, per_region, gate, deploy, tell = defn.steps
    # retry -> fields, durations in seconds
    assert checkout.retry is not None and checkout.retry.maxAttempts == 4
    assert (checkout.retry.backoff.initial, checkout.retry.backoff.factor, checkout.retry.backoff.max) == (1, 3, 60)
    assert checkout.timeout == 300.0 and test.timeout == 300.0
    assert checkout.outputs == {"sha": "{{ result.stdout | trim }}"}
    assert test.continueOnError is True and checkout.continueOnError is False
    assert test.matrix == {"python": ["3.11", "3.12"], "os": ["linux", "mac"]}
    assert smoke.forEach == ["eu", "us"]
    assert per_region.forEach == "{{ inputs.target.split(',') }}"
    assert gate.if_ == "inputs.target == 'production' and steps.test.status == 'succeeded'"
    assert gate.name == "Approve production"
    assert deploy.if_ == "{{ steps.gate.status != 'skipped' }}"
    assert tell.dependsOn == ["deploy"]
    assert defn.environments["staging"].healthCheckTimeout == 60.0
    assert [t.type for t in defn.triggers] == ["manual", "schedule"]


def test_a_dump_validates_back_to_the_same_definition() -> None:
    """Runs pin `dump()`; re-parsing it must not turn a 300 s timeout into 0.3 s (durations dump as ms)."""
    defn = parse_definition(FULL)
    dumped = defn.dump()
    assert dumped["steps"][0]["timeout"] == 300000
    assert dumped["steps"][0]["retry"]["backoff"] == {"initial": 1000, "factor": 3.0, "max": 60000}
    again = WorkflowDefinition.model_validate(json.loads(json.dumps(dumped)))
    assert again == defn
    assert again.steps[0].timeout == 300.0


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        (300000, 300.0),
        ("300000", 300.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("500ms", 0.5),
        ("1h30m", 5400.0),
        ("2d", 172800.0),
        (0, 0.0),
        ("1.5s", 1.5),
    ],
)
def test_durations_integer_is_milliseconds_strings_have_units(written: int | str, seconds: float) -> None:
    assert parse_duration(written) == seconds


@pytest.mark.parametrize("bad", ["5x", "", "m5", "-1s", -5, True, "5 parsecs"])
def test_bad_durations_are_refused_with_a_hint(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_a_step_timeout_error_names_step_and_line() -> None:
    text = wf(
        """
        - id: slow
          action: wait
          parameters: {duration: 1s}
          timeout: 5x
        """
    )
    issue = only(issues_of(text), "duration")
    assert (issue.field, issue.step, issue.line) == ("steps[0].timeout", "slow", line_of(text, "timeout: 5x"))
    assert issue.value == "5x"


# ---- structural errors (pydantic) ---------------------------------------------------------------------


def test_unknown_keys_are_errors_with_a_suggestion() -> None:
    text = wf(
        """
        - id: a
          action: wait
          parameters: {duration: 1s}
          dependson: [b]
        """,
        head="descripton: typo\n",
    )
    issues = issues_of(text)
    top = next(i for i in issues if i.field == "descripton")
    assert top.constraint == "extra" and "did you mean 'description'" in top.message and top.line == 1
    step = next(i for i in issues if i.field == "steps[0].dependson")
    assert step.constraint == "extra" and step.step == "a"
    assert "did you mean 'dependsOn'" in step.message
    assert step.line == line_of(text, "dependson:")


def test_missing_required_fields() -> None:
    text = wf(
        """
        - id: a
          parameters: {duration: 1s}
        """
    ).replace("name: t\n", "")
    issues = issues_of(text)
    name = next(i for i in issues if i.field == "name")
    assert name.constraint == "required" and name.message == "`name` is required"
    action = next(i for i in issues if i.field == "steps[0].action")
    assert action.constraint == "required" and action.step == "a"
    assert action.line == line_of(text, "- id: a")  # a missing key is blamed on its step


def test_wrong_types_give_paths_into_the_definition() -> None:
    text = wf(
        """
        - id: a
          action: wait
          parameters: {duration: 1s}
          dependsOn: [x, 5]
          continueOnError: maybe
          forEach: {not: a list}
        """
    )
    issues = issues_of(text)
    by_field = {i.field: i for i in issues}
    assert by_field["steps[0].dependsOn[1]"].constraint == "type"
    assert by_field["steps[0].continueOnError"].constraint == "type"
    assert by_field["steps[0].continueOnError"].value == "maybe"
    # a union (list | string) is reported once, listing the alternatives
    for_each = by_field["steps[0].forEach"]
    assert for_each.constraint == "type" and "a valid list or a valid string" in for_each.message
    assert for_each.line == line_of(text, "forEach:")


def test_invalid_step_id_and_fan_out_conflict() -> None:
    text = wf(
        """
        - id: "has space"
          action: wait
          parameters: {duration: 1s}
        - id: both
          action: wait
          parameters: {duration: 1s}
          forEach: [1]
          matrix: {x: [1]}
        """
    )
    issues = issues_of(text)
    assert only(issues, "pattern").field == "steps[0].id"
    exclusive = only(issues, "exclusive")
    assert exclusive.step == "both" and "either forEach or matrix" in exclusive.message
    assert exclusive.line == line_of(text, "matrix:")


def test_choice_default_must_be_an_option() -> None:
    text = yaml_text(
        """
        name: t
        inputs:
          env:
            type: choice
            options: [staging, production]
            default: qa
        steps:
          - {id: a, action: wait, parameters: {duration: 1s}}
        """
    )
    issue = only(issues_of(text), "enum")
    assert issue.field == "inputs.env"
    assert issue.line == line_of(text, "default: qa")
    assert issue.value == "qa" and "must be one of ['staging', 'production']" in issue.message


def test_number_default_must_be_a_number_and_choice_needs_options() -> None:
    issues = issues_of(
        {
            "name": "t",
            "inputs": {"n": {"type": "number", "default": "many"}, "c": {"type": "choice"}},
            "steps": [{"id": "a", "action": "wait", "parameters": {"duration": 1}}],
        }
    )
    assert only(issues, "type").field == "inputs.n"
    assert only(issues, "required").field == "inputs.c.options"
    assert all(i.line is None for i in issues)  # a dict has no lines


# ---- semantic errors ---------------------------------------------------------------------------------


def test_duplicate_step_ids() -> None:
    text = wf(
        """
        - id: build
          action: wait
          parameters: {duration: 1s}
        - id: build
          action: wait
          parameters: {duration: 2s}
        """
    )
    issue = only(issues_of(text), "duplicate")
    assert (issue.field, issue.step, issue.value) == ("steps[1].id", "build", "build")
    assert issue.line == 6  # the second `- id: build`
    assert "first defined at line 3" in issue.message


def test_unknown_dependency_names_the_step_and_line() -> None:
    text = wf(
        """
        - id: build
          action: wait
          parameters: {duration: 1s}
        - id: ship
          action: wait
          parameters: {duration: 1s}
          dependsOn:
            - build
            - biuld-x
            - tset
        """
    )
    issues = issues_of(text)
    assert [i.constraint for i in issues] == ["unknown_dependency", "unknown_dependency"]
    first, second = issues
    assert (first.field, first.step, first.line) == ("steps[1].dependsOn[1]", "ship", line_of(text, "- biuld-x"))
    assert "unknown step 'biuld-x'" in first.message and "did you mean 'build'" in first.message
    assert second.line == line_of(text, "- tset")


def test_cycle_prints_the_cycle() -> None:
    text = wf(
        """
        - id: a
          action: wait
          parameters: {duration: 1s}
          dependsOn: [c]
        - id: b
          action: wait
          parameters: {duration: 1s}
          dependsOn: [a]
        - id: c
          action: wait
          parameters: {duration: 1s}
          dependsOn: [b]
        - id: d
          action: wait
          parameters: {duration: 1s}
          dependsOn: [a]
        """
    )
    issue = only(issues_of(text), "cycle")
    assert "dependency cycle: a -> c -> b -> a" in issue.message
    assert (issue.field, issue.step, issue.line) == ("steps[0].dependsOn[0]", "a", line_of(text, "dependsOn: [c]"))


def test_a_self_dependency_is_a_cycle() -> None:
    issue = only(issues_of(wf("- {id: me, action: wait, parameters: {duration: 1}, dependsOn: [me]}")), "cycle")
    assert "dependency cycle: me -> me" in issue.message and issue.step == "me"


def test_unknown_action_lists_the_known_ones() -> None:
    text = wf("- {id: a, action: execute, parameters: {command: ls}}")
    issue = only(issues_of(text), "unknown_action")
    assert (issue.field, issue.step, issue.line, issue.value) == ("steps[0].action", "a", 3, "execute")
    for action in ACTION_PARAMS:
        assert action in issue.message


def test_bad_parameters_for_an_action() -> None:
    text = wf(
        """
        - id: run
          action: execute-command
          parameters:
            cmd: make
            timeout: soon
        - id: call
          action: http-request
          parameters:
            url: https://example.com
            method: FETCH
            expectStatus: [ok]
        """
    )
    issues = [i for i in issues_of(text) if i.constraint == "parameters"]
    by_field = {i.field: i for i in issues}
    assert set(by_field) == {
        "steps[0].parameters.command",
        "steps[0].parameters.cmd",
        "steps[0].parameters.timeout",
        "steps[1].parameters.method",
        "steps[1].parameters.expectStatus[0]",
    }
    missing = by_field["steps[0].parameters.command"]
    assert missing.step == "run" and "'command' is required by action 'execute-command'" in missing.message
    assert missing.line == 5  # a missing parameter is blamed on the step's `parameters:` line
    assert by_field["steps[0].parameters.cmd"].line == line_of(text, "cmd: make")
    assert by_field["steps[0].parameters.timeout"].line == line_of(text, "timeout: soon")
    method = by_field["steps[1].parameters.method"]
    assert method.step == "call" and method.value == "FETCH" and method.line == line_of(text, "FETCH")
    assert by_field["steps[1].parameters.expectStatus[0]"].line == line_of(text, "expectStatus")


def test_templated_parameters_skip_type_validation() -> None:
    """Their rendered value is validated at run time, so `timeout: "{{ inputs.t }}"` is fine here."""
    text = wf(
        """
        - id: a
          action: http-request
          parameters:
            url: "{{ inputs.url }}"
            method: "{{ inputs.method }}"
            expectStatus: "{{ inputs.codes }}"
            timeout: "{{ inputs.t }}"
        - id: b
          action: notify
          parameters: {channels: "{{ inputs.channels }}", message: hi}
        """,
        head="inputs: {url: {}, method: {}, codes: {}, t: {}, channels: {}}\n",
    )
    defn = parse_definition(text)
    assert defn.step("a").parameters["timeout"] == "{{ inputs.t }}"


def test_template_syntax_errors_everywhere_they_can_be() -> None:
    text = wf(
        """
        - id: a
          action: execute-command
          parameters:
            command: |
              echo one
              echo {{ inputs.x }
            env:
              X: "{% if %}"
          if: "steps.b.status =="
          outputs:
            y: "{{ result.stdout | }}"
            z: "{{ result.stdout | trimm }}"
          forEach: "{{ [1, 2 }}"
        """,
        head="inputs: {x: {}}\nenv:\n  BAD: '{{ }}'\n",
    )
    issues = issues_of(text)
    found = {i.field: i for i in issues if i.constraint == "template_syntax"}
    assert set(found) == {
        "env.BAD",
        "steps[0].parameters.command",
        "steps[0].parameters.env.X",
        "steps[0].if",
        "steps[0].outputs.y",
        "steps[0].outputs.z",
        "steps[0].forEach",
    }
    assert "No filter named 'trimm'" in found["steps[0].outputs.z"].message  # found by compiling, not parsing
    # inside a `|` block the line is the template's own line, not the `command: |` line
    assert found["steps[0].parameters.command"].line == line_of(text, "echo {{ inputs.x }")
    assert found["steps[0].if"].line == line_of(text, "if: ")
    assert found["env.BAD"].line == line_of(text, "BAD:") and found["env.BAD"].step is None
    assert all(found[f].step == "a" for f in found if f.startswith("steps"))


def test_references_to_unknown_steps_and_inputs() -> None:
    text = wf(
        """
        - id: build
          action: execute-command
          parameters: {command: make}
        - id: ship
          action: execute-command
          dependsOn: [build]
          parameters:
            command: |
              echo {{ inputs.version }}
              echo {{ inputs.verison }}
              echo {{ steps.buidl.outputs.stdout }}
              echo {{ steps['build'].outputs.stdout }}
        """,
        head="inputs: {version: {}}\n",
    )
    issues = issues_of(text)
    assert [i.constraint for i in issues] == ["unknown_reference", "unknown_reference"]
    unknown_input, unknown_step = issues
    assert unknown_input.value == "verison" and "did you mean 'version'" in unknown_input.message
    assert unknown_input.line == line_of(text, "inputs.verison") and unknown_input.step == "ship"
    assert unknown_step.value == "buidl" and unknown_step.line == line_of(text, "steps.buidl")


def test_hyphenated_ids_need_brackets() -> None:
    text = wf(
        """
        - {id: step-1, action: execute-command, parameters: {command: make}}
        - id: step-2
          action: execute-command
          dependsOn: [step-1]
          parameters: {command: "echo {{ steps.step-1.outputs.stdout }}"}
        - id: step-3
          action: execute-command
          dependsOn: [step-1]
          parameters: {command: "echo {{ steps['step-1'].outputs.stdout }}"}
        """
    )
    issue = only(issues_of(text), "unknown_reference")
    assert issue.step == "step-2" and "steps['step-1']" in issue.message


def test_a_reference_must_be_upstream() -> None:
    text = wf(
        """
        - id: a
          action: execute-command
          parameters: {command: make}
        - id: b
          action: execute-command
          dependsOn: [a]
          parameters: {command: "echo {{ steps.a.outputs.stdout }}"}
        - id: c
          action: execute-command
          dependsOn: [b]
          if: "steps.a.status == 'succeeded'"
          parameters: {command: "echo {{ steps.d.outputs.stdout }}"}
        - id: d
          action: execute-command
          parameters: {command: make}
        """
    )
    # c may use a (transitively upstream through b), not d (parallel, may not have run)
    issue = only(issues_of(text), "not_upstream")
    assert (issue.step, issue.value, issue.field) == ("c", "d", "steps[2].parameters.command")
    assert "dependsOn" in issue.message and issue.line == line_of(text, "steps.d.outputs")


def test_variables_have_scopes() -> None:
    text = wf(
        """
        - id: plain
          action: execute-command
          parameters: {command: "echo {{ item }} {{ result }} {{ secrets.X }}"}
        - id: fan
          action: execute-command
          forEach: [1, 2]
          if: "item > 1"
          parameters: {command: "echo {{ item }} {{ index }}"}
          outputs: {n: "{{ result.stdout }}-{{ item }}"}
        - id: grid
          action: execute-command
          matrix: {os: [linux]}
          parameters: {command: "echo {{ matrix.os }} {{ index }} {{ item }}"}
        """,
        head="env: {FROM_STEP: '{{ steps.plain.outputs.stdout }}', SELF: '{{ env.FROM_STEP }}'}\n",
    )
    issues = issues_of(text)
    variables = [(i.step, i.value) for i in issues if i.constraint == "unknown_variable"]
    assert variables == [
        (None, "env"),
        ("plain", "item"),
        ("plain", "result"),
        ("plain", "secrets"),
        ("fan", "item"),
        ("grid", "item"),
    ]
    by_step = {(i.step, i.value): i for i in issues if i.constraint == "unknown_variable"}
    assert "only defined in a step with forEach" in by_step["plain", "item"].message
    assert "only available in a step's `outputs`" in by_step["plain", "result"].message
    expected = "available: artifacts, env, github, inputs, run, steps, trigger, webhook"
    assert expected in by_step["plain", "secrets"].message
    fan_if = by_step["fan", "item"]
    assert fan_if.field == "steps[1].if" and "evaluated once for the whole step" in fan_if.message
    assert "a matrix step has `matrix.<axis>`" in by_step["grid", "item"].message
    assert by_step[None, "env"].field == "env.SELF"
    workflow_env = only(issues, "not_upstream")
    assert workflow_env.field == "env.FROM_STEP" and workflow_env.line == 1


def test_matrix_references_must_name_an_axis() -> None:
    text = wf(
        """
        - id: t
          action: execute-command
          matrix: {py: ["3.11"]}
          parameters: {command: "tox -e {{ matrix.py }} {{ matrix.os }}"}
        """
    )
    issue = only(issues_of(text), "unknown_reference")
    assert issue.value == "os" and "axes: py" in issue.message


def test_schedule_trigger_needs_cron() -> None:
    issue = only(
        issues_of(wf("- {id: a, action: wait, parameters: {duration: 1}}", "triggers: [{type: schedule}]\n")),
        "required",
    )
    assert issue.field == "triggers[0].cron" and issue.line == 1


def test_all_errors_are_reported_together_in_file_order() -> None:
    text = wf(
        """
        - id: a
          action: nope
        - id: a
          action: wait
          parameters: {duration: 1s}
          dependsOn: [ghost]
          retry: {maxAttempts: 0}
        """,
        head="extra: 1\n",
    )
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, source="deploy.yaml")
    error = caught.value
    assert [i.constraint for i in error.issues] == ["extra", "unknown_action", "duplicate", "unknown_dependency", "min"]
    assert [i.line for i in error.issues] == sorted(i.line for i in error.issues if i.line is not None)
    lines = str(error).splitlines()
    assert len(lines) == 5
    assert lines[0] == "deploy.yaml:1: unknown key 'extra'; allowed keys: " + ", ".join(WorkflowDefinition.model_fields)
    assert lines[1].startswith(f"deploy.yaml:{line_of(text, 'action: nope')}: step 'a': unknown action 'nope'")
    assert lines[3] == f"deploy.yaml:{line_of(text, 'ghost')}: step 'a': depends on unknown step 'ghost'"


def test_issue_as_detail_is_the_api_validation_error_shape() -> None:
    issue = only(
        issues_of(wf("- {id: a, action: wait, parameters: {duration: 1s}, dependsOn: [x]}")), "unknown_dependency"
    )
    assert issue.as_detail() == {
        "field": "steps[0].dependsOn[0]",
        "constraint": "unknown_dependency",
        "message": "step 'a': depends on unknown step 'x'",
        "value": "x",
        "line": 3,
        "step": "a",
    }
    assert Issue("name", "Name is required", "required").as_detail() == {
        "field": "name",
        "constraint": "required",
        "message": "Name is required",
    }


def test_definition_error_prints_file_line_step_and_survives_pickling() -> None:
    error = DefinitionError(
        [Issue("steps[0].id", "bad id", "pattern", step="x", line=4), Issue("", "not a mapping", "type")],
        source="a.yaml",
    )
    assert str(error) == "a.yaml:4: step 'x': bad id\na.yaml: not a mapping"
    assert str(DefinitionError([Issue("name", "too long", "max_length", line=2)])) == "line 2: too long"
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert copy.issues == error.issues and copy.source == "a.yaml"
    assert error.details()[0]["step"] == "x"


def test_yaml_problems() -> None:
    bad = "name: t\nsteps:\n  - id: a\n    action: [wait\n"
    issue = only(issues_of(bad), "yaml_syntax")
    assert issue.field == "" and issue.line == 5 and "YAML syntax error" in issue.message
    assert only(issues_of("- just\n- a list\n"), "type").message.endswith("(got list)")
    assert only(issues_of(""), "type").message.endswith("(got empty)")
    twice = "name: t\nsteps: []\nname: u\n"
    duplicate = only(issues_of(twice), "duplicate_key")
    assert duplicate.field == "name" and duplicate.line == 3 and "first on line 1" in duplicate.message


def test_format_path() -> None:
    assert format_path(("steps", 1, "parameters", "command")) == "steps[1].parameters.command"
    assert format_path(("inputs", "env")) == "inputs.env"
    assert format_path(("env", "A.B")) == 'env["A.B"]'
    assert format_path(()) == ""


# ---- files ---------------------------------------------------------------------------------------------


def test_load_file_and_validate_files(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(wf("- {id: a, action: wait, parameters: {duration: 1s}}"))
    bad = tmp_path / "bad.yml"
    bad.write_text(wf("- {id: a, action: wait, parameters: {duration: 1s}, dependsOn: [zz]}"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [\n")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    missing = tmp_path / "missing.yaml"

    assert load_file(good).steps[0].id == "a"
    results = dict(validate_files([good, bad, broken, binary, missing]))
    assert results[good] is None
    assert results[bad] is not None and results[bad].issues[0].constraint == "unknown_dependency"
    assert str(results[bad]).startswith(f"{bad}:3: step 'a':")
    assert results[broken] is not None and results[broken].issues[0].constraint == "yaml_syntax"
    assert results[binary] is not None and results[binary].issues[0].constraint == "file"
    assert results[missing] is not None and results[missing].issues[0].constraint == "file"
    # a directory stands for its YAML files
    assert [p.name for p, _ in validate_files([tmp_path])] == ["bad.yml", "binary.yaml", "broken.yaml", "good.yaml"]


# ---- inputs --------------------------------------------------------------------------------------------

INPUTS = parse_definition(
    {
        "name": "t",
        "inputs": {
            "env": {"type": "choice", "options": ["staging", "production"], "default": "staging"},
            "replicas": {"type": "number", "required": True},
            "force": {"type": "boolean", "default": False},
            "ref": {"type": "string"},
            "level": {"type": "choice", "options": [1, 2, 3]},
        },
        "steps": [{"id": "a", "action": "wait", "parameters": {"duration": 1}}],
    }
)


def test_resolve_inputs_applies_defaults_and_coerces_cli_strings() -> None:
    assert resolve_inputs(INPUTS, {"replicas": "3", "force": "yes", "level": "2"}) == {
        "env": "staging",
        "replicas": 3,
        "force": True,
        "ref": None,
        "level": 2,
    }
    assert resolve_inputs(INPUTS, {"replicas": 2.5, "env": "production", "ref": 42})["ref"] == "42"


def test_resolve_inputs_reports_every_problem() -> None:
    with pytest.raises(DefinitionError) as caught:
        resolve_inputs(INPUTS, {"env": "qa", "force": "perhaps", "replica": 1})
    by_field = {i.field: i for i in caught.value.issues}
    assert {f: i.constraint for f, i in by_field.items()} == {
        "inputs.replica": "unknown_input",
        "inputs.env": "enum",
        "inputs.replicas": "required",
        "inputs.force": "type",
    }
    assert "did you mean 'replicas'" in by_field["inputs.replica"].message
    assert by_field["inputs.env"].value == "qa"
    with pytest.raises(DefinitionError, match="replicas"):
        resolve_inputs(INPUTS, {"replicas": "many"})


# ---- templating ----------------------------------------------------------------------------------------


def test_shell_mode_quotes_every_templated_value() -> None:
    hostile = "a; rm -rf / $(reboot) `id` 'q' \"d\""
    command = templating.render("echo {{ inputs.x }} done", {"inputs": {"x": hostile}}, shell=True)
    assert shlex.split(command) == ["echo", hostile, "done"]  # one word: data never becomes syntax
    assert templating.render("f {{ a }} {{ b }} {{ c }}", {"a": True, "b": None, "c": 7}, shell=True) == "f true '' 7"
    # plain mode (argv lists, env values, URLs) passes values as they are
    assert templating.render(["x", "{{ v }}"], {"v": "a; b"}) == ["x", "a; b"]


def test_the_sandbox_blocks_unsafe_attribute_access() -> None:
    with pytest.raises(SecurityError):
        templating.render("{{ ''.__class__.__mro__ }}", {})
    with pytest.raises(TemplateError):
        templating.evaluate("().__class__.__base__.__subclasses__()", {})
    with pytest.raises(UndefinedError):
        templating.render("{{ inputs.missing }}", {"inputs": {}})


def test_conditions_and_expressions() -> None:
    ctx = {"steps": {"t": {"status": "failed"}}, "inputs": {"n": 3, "targets": ["eu", "us"]}}
    assert templating.evaluate_condition("steps.t.status == 'failed'", ctx) is True
    assert templating.evaluate_condition("{{ inputs.n > 5 }}", ctx) is False
    assert templating.evaluate("{{ inputs.targets }}", ctx) == ["eu", "us"]  # native value, not a string


# ---- schema --------------------------------------------------------------------------------------------


def test_the_published_schema_is_current() -> None:
    assert json.loads(DEFAULT_PATH.read_text()) == json_schema()
    assert DEFAULT_PATH.read_text() == render_schema(), "run: python -m core.dsl.schema"
    assert main(["--check"]) == 0


def test_the_schema_selects_parameters_by_action() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"]
    step = schema["$defs"]["Step"]
    assert step["properties"]["action"]["enum"] == sorted(ACTION_PARAMS)
    branches = {b["if"]["properties"]["action"]["const"]: b["then"] for b in step["allOf"]}
    assert set(branches) == set(ACTION_PARAMS)
    for action, model in ACTION_PARAMS.items():
        ref = branches[action]["properties"]["parameters"]["$ref"]
        assert ref == f"#/$defs/{model.__name__}"
        assert schema["$defs"][model.__name__]["additionalProperties"] is False
    # a templated value is allowed where the parameter wants something else; durations default in ms
    wait_duration = schema["$defs"]["WaitParams"]["properties"]["duration"]
    assert {"$ref": "#/$defs/Template"} in wait_duration["anyOf"]
    assert schema["$defs"]["Backoff"]["properties"]["initial"]["default"] == 1000


def test_main_check_detects_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "schema.json"
    assert main(["--check", str(target)]) == 1
    assert main([str(target)]) == 0
    assert main(["--check", str(target)]) == 0
    assert "up to date" in capsys.readouterr().out


# ---- the reference stays true ----------------------------------------------------------------------------


def test_every_example_in_the_dsl_reference_is_valid() -> None:
    """Full definitions parse as they are; step snippets (`- id: ...`) parse inside a minimal definition."""
    text = (REPO / "docs" / "dsl.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    full = [b for b in blocks if re.search(r"^name:", b, re.M) and re.search(r"^steps:", b, re.M)]
    snippets = [b for b in blocks if b.startswith("- id:")]
    assert len(full) >= 4 and len(snippets) >= 8
    assert len(full) + len(snippets) == len(blocks)
    for block in full:
        parse_definition(block, source="docs/dsl.md")
    for block in snippets:
        parse_definition("name: snippet\nenv: {APP: shop}\nsteps:\n" + textwrap.indent(block, "  "))
