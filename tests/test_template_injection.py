"""Templated values never reach a shell as code (core/dsl/shell.py, core/dsl/templating.render_shell): a shell
command gets a reference to an environment variable where each `{{ … }}` stood, and the value travels in the
process's environment. Every payload below tries to create a marker file; the marker must never exist, and the
value must arrive verbatim.

Three levels: the rendered commands run by real shells (dash as /bin/sh, and bash); validation, which refuses the
contexts that cannot be made safe with a message showing the safe form; and whole runs through the API, with the
payload arriving as a run input, as a previous step's stdout and as an http-request body."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from core.dsl.templating import ShellTemplateError, render_shell
from core.dsl.validate import DefinitionError, parse_definition
from tests.fakes.http_server import FakeHTTPServer, Reply
from tests.support import run_to_end, step_of

SHELLS = [shell for shell in ("/bin/sh", shutil.which("bash")) if shell]


def payloads(marker: Path) -> list[str]:
    m = str(marker)
    return [
        f"$(touch {m})",
        f"`touch {m}`",
        f"; touch {m}",
        f"&& touch {m}",
        f"|| touch {m}",
        f"| touch {m}",
        f"\ntouch {m}\n",
        f"' ; touch {m} ; echo '",
        f'" ; touch {m} ; echo "',
        f"\"$(touch {m})\"'$(touch {m})'",
        "$((1+1)) ${HOME} $HOME * ~ {a,b} \\ \\\\n",
        f"a[$(touch {m})]",  # an arithmetic payload, were the value ever evaluated as one
        f"EOF\ntouch {m}\nEOF",  # a here-document terminator inside the value
    ]


def run(shell: str, script: str, values: dict[str, str], cwd: Path) -> str:
    done = subprocess.run([shell, "-c", script], env={"PATH": os.environ["PATH"], **values}, cwd=cwd,
                          capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    return done.stdout


# (template, what the command prints for value v)
FORMS = [
    ("printf '%s' {{ x }}", lambda v: v),
    ('printf \'%s\' "{{ x }}"', lambda v: v),
    ('printf \'%s\' "pre-{{ x }}-post"', lambda v: f"pre-{v}-post"),
    ("printf '%s' pre-{{ x }}-post", lambda v: f"pre-{v}-post"),
    ('printf \'%s\' "$(printf \'%s\' {{ x }})"', lambda v: v.rstrip("\n")),
    ('v={{ x }}; printf \'%s\' "$v"', lambda v: v),
    ("cat <<EOF\n{{ x }}\nEOF", lambda v: v + "\n"),
    ("cat <<-EOF\n\t[{{ x }}]\n\tEOF", lambda v: f"[{v}]\n"),
    ('printf \'%s|\' {{ x }} "{{ x }}"  # {{ x }}', lambda v: f"{v}|{v}|"),
]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(("template", "expected"), FORMS, ids=[form for form, _ in FORMS])
def test_values_arrive_verbatim_and_never_run(tmp_path: Path, shell: str, template: str, expected) -> None:
    marker = tmp_path / "pwned"
    for value in payloads(marker):
        script, values = render_shell(template, {"x": value})
        assert value not in script  # only references are written into the shell text
        assert run(shell, script, values, tmp_path) == expected(value), (template, value)
        assert not marker.exists(), (template, value, script)


def test_values_of_any_type_and_loops() -> None:
    script, values = render_shell("echo {{ n }} {{ b }} {{ none }}{% for i in items %} {{ i }}{% endfor %}",
                                  {"n": 3, "b": True, "none": None, "items": ["a b", "$(id)"]})
    assert script == 'echo "${SF_1}" "${SF_2}" "${SF_3}" "${SF_4}" "${SF_5}"'
    assert values == {"SF_1": "3", "SF_2": "true", "SF_3": "", "SF_4": "a b", "SF_5": "$(id)"}
    assert render_shell("echo plain", {}) == ("echo plain", {})


@pytest.mark.parametrize("template", [
    "echo '{{ x }}'",  # single quotes
    "echo 'a {{ x }} b'",
    "echo $'{{ x }}'",  # ANSI-C quotes
    "echo `echo {{ x }}`",  # backticks
    "echo ${Y:-{{ x }}}",  # a parameter expansion
    "echo $(( {{ x }} + 1 ))",  # arithmetic
    "(( {{ x }} > 1 )) && echo big",
    "echo \\{{ x }}",  # after a backslash
    "cat <<'EOF'\n{{ x }}\nEOF",  # a quoted here-document
    'sh -c "echo {{ x }}"',  # code for another program
    "bash -ec 'echo {{ x }}'",
    'sh -c "$(printf %s {{ x }})"',
    'python3 -c "print({{ x }})"',
    "eval echo {{ x }}",
    "ssh -p 2222 deploy@host systemctl restart {{ x }}",
    "{% filter upper %}echo {{ x }}{% endfilter %}",  # output that bypasses the references
])
def test_contexts_that_cannot_be_made_safe_are_refused(template: str) -> None:
    with pytest.raises(ShellTemplateError):
        render_shell(template, {"x": "$(id)"})


def test_a_context_that_appears_only_after_rendering_is_refused_at_run_time() -> None:
    """Validation reads the template; a `{% if %}` can still put a value in quotes at run time."""
    template = "{% if quote %}echo '{% else %}echo {% endif %}{{ x }}{% if quote %}'{% endif %}"
    assert render_shell(template, {"x": "v", "quote": False})[0] == 'echo "${SF_1}"'
    with pytest.raises(ShellTemplateError, match="single quotes"):
        render_shell(template, {"x": "v", "quote": True})


def test_the_values_of_positional_arguments_are_data() -> None:
    """`sh -c 'script' sh {{ x }}` is the safe form for another shell: the value is "$1", never script text."""
    script, values = render_shell("sh -c 'printf %s \"$1\"' sh {{ x }}", {"x": "$(id)"})
    assert script == "sh -c 'printf %s \"$1\"' sh \"${SF_1}\""


# ---- validation --------------------------------------------------------------------------------------------------


def _definition(command: str | list[str]) -> str:
    import json

    return "\n".join([
        "name: injection",
        "inputs:",
        "  x: {type: string}",
        "steps:",
        "  - id: first",
        "    action: execute-command",
        "    parameters:",
        "      command: |",
        "        echo first",
        "        true",
        "  - id: build",
        "    action: execute-command",
        "    parameters:",
        *(["      command: |", *(f"        {line}" for line in command.splitlines())] if isinstance(command, str)
          else [f"      command: {json.dumps(command)}"]),
    ])


@pytest.mark.parametrize(("command", "says"), [
    ("echo ok\necho 'hello {{ inputs.x }}'", "inside single quotes"),
    ("echo `cat {{ inputs.x }}`", "use $(…) instead"),
    ("cat <<'EOF'\n{{ inputs.x }}\nEOF", "unquoted delimiter"),
    ('bash -c "deploy {{ inputs.x }}"', "the script of `bash -c`"),
    ("eval {{ inputs.x }}", "`eval`"),
    (["sh", "-c", "echo {{ inputs.x }}"], "the script of `sh -c`"),
])
def test_validation_refuses_unsafe_contexts_with_the_safe_form(command: str | list[str], says: str) -> None:
    with pytest.raises(DefinitionError) as info:
        parse_definition(_definition(command), source="injection.yaml")
    (issue,) = info.value.issues
    assert issue.step == "build" and issue.constraint == "shell_template"
    assert says in issue.message
    assert "{{ inputs.x }}" in issue.message  # the safe form is spelled out with the author's own expression
    if command == "echo ok\necho 'hello {{ inputs.x }}'":
        assert issue.line == 16  # the YAML line of the offending command line
        assert "(line 2)" in issue.message
        assert "`echo \"text: {{ inputs.x }}\"`" in issue.message
    assert str(info.value).startswith(f"injection.yaml:{issue.line}: step 'build': ")


@pytest.mark.parametrize("command", [
    'echo "hello {{ inputs.x }}" {{ inputs.x }}',
    "cat <<EOF\n{{ inputs.x }}\nEOF",
    "sh -c 'echo \"$1\"' sh {{ inputs.x }}",
    "python -m pytest -c {{ inputs.x }}",  # pytest's -c, not python's
    ["sh", "-c", 'echo "$1"', "sh", "{{ inputs.x }}"],
    "echo 'literal' {{ inputs.x }} 'quotes are fine around other text'",
])
def test_validation_accepts_the_safe_forms(command: str | list[str]) -> None:
    parse_definition(_definition(command))


# ---- whole runs ----------------------------------------------------------------------------------------------------


def _capture(step_id: str, template: str, out: str, **extra: object) -> dict:
    """A step that writes what `template` prints to `out` in the workspace, and prints it too."""
    return {"id": step_id, "action": "execute-command", **extra,
            "parameters": {"command": f"{template} > {out}; cat {out}"}}


async def test_run_inputs_arrive_verbatim(api: httpx.AsyncClient, tmp_path: Path) -> None:
    marker = tmp_path / "pwned-by-input"
    definition = {"name": "input injection", "inputs": {"x": {"type": "string"}}, "steps": [
        _capture("bare", "printf '%s' {{ inputs.x }}", "bare.txt"),
        _capture("double", "printf '%s' \"<{{ inputs.x }}>\"", "double.txt"),
    ]}
    for value in payloads(marker):
        run = await run_to_end(api, definition, {"x": value})
        assert run["status"] == "succeeded", (value, run)
        assert step_of(run, "bare")["outputs"]["stdout"] == value
        assert step_of(run, "double")["outputs"]["stdout"] == f"<{value}>"
        assert not marker.exists(), value


async def test_step_outputs_arrive_verbatim(api: httpx.AsyncClient, tmp_path: Path) -> None:
    """A previous step's stdout, and what an http-request step fetched, are data for the next command too."""
    marker = tmp_path / "pwned-by-output"
    hostile = f"$(touch {marker})`touch {marker}`; touch {marker} && touch {marker} | touch {marker}'\""
    with FakeHTTPServer() as server:
        server.route("/payload", Reply(200, hostile))
        run = await run_to_end(api, {"name": "output injection", "steps": [
            {"id": "emit", "action": "execute-command",
             "parameters": {"command": "printf '%s' \"$HOSTILE\"", "env": {"HOSTILE": hostile}}},
            {"id": "fetch", "action": "http-request", "parameters": {"url": server.url("/payload")}},
            _capture("from_stdout", "printf '%s' \"{{ steps.emit.outputs.stdout }}\"", "a.txt", dependsOn=["emit"]),
            _capture("from_body", "printf '%s' {{ steps.fetch.outputs.body }}", "b.txt", dependsOn=["fetch"]),
        ]})
    assert run["status"] == "succeeded", run
    assert step_of(run, "emit")["outputs"]["stdout"] == hostile
    assert step_of(run, "from_stdout")["outputs"]["stdout"] == hostile
    assert step_of(run, "from_body")["outputs"]["stdout"] == hostile
    assert not marker.exists()


async def test_deploy_values_are_data(api: httpx.AsyncClient, tmp_path: Path) -> None:
    """A deploy's templated parameters (its version) reach the deploy command as $DEPLOY_VERSION only."""
    marker = tmp_path / "pwned-by-deploy"
    value = f"$(touch {marker}); touch {marker}"
    run = await run_to_end(api, {
        "name": "deploy injection", "inputs": {"v": {"type": "string"}},
        "environments": {f"inj-{tmp_path.name}": {"deployCommand": "printf '%s' \"$DEPLOY_VERSION\""}},
        "steps": [{"id": "ship", "action": "deploy",
                   "parameters": {"environment": f"inj-{tmp_path.name}", "version": "{{ inputs.v }}"}}],
    }, {"v": value})
    assert run["status"] == "succeeded", run
    assert step_of(run, "ship")["outputs"]["stdout"] == value
    assert not marker.exists()


async def test_the_api_refuses_an_unsafe_definition(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v2/workflows", json={
        "name": "unsafe", "inputs": {"x": {"type": "string"}},
        "steps": [{"id": "s", "action": "execute-command", "parameters": {"command": "echo '{{ inputs.x }}'"}}],
    })
    assert response.status_code == 400, response.text
    (detail,) = response.json()["error"]["details"]
    assert detail["constraint"] == "shell_template" and detail["field"] == "steps[0].parameters.command"
    assert "double quotes" in detail["message"]
