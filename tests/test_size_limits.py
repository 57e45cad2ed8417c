"""Size limits: request bodies (api/common/bodylimit.py, STELLARFLOW_MAX_REQUEST_BYTES), the OAuth form (16 KiB,
capped while it streams), workflow definitions (size, steps, nesting: core/dsl/validate.py) and the progress parser
(linear in a line's length: activities/executors/progress.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from activities.executors.progress import Progress, parse_progress
from core.dsl.validate import DefinitionError, DefinitionLimits, load_file, parse_definition
from tests.support import client_for, token_for

LIMIT = 1024 * 1024  # the default STELLARFLOW_MAX_REQUEST_BYTES, which the session app uses


async def chunks(total: int, size: int = 64 * 1024, pulled: list[int] | None = None) -> AsyncIterator[bytes]:
    """A body without Content-Length (chunked), `total` bytes in `size` pieces; `pulled` counts pieces taken."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        if pulled is not None:
            pulled.append(piece)
        yield b"x" * piece


# ---- the request-body cap -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "dialect"), [("/api/v2/workflows", 2), ("/api/memory", 1)])
async def test_a_declared_oversized_body_is_refused_unread(api: httpx.AsyncClient, path: str, dialect: int) -> None:
    response = await api.post(path, content=b"{" + b" " * LIMIT + b"}", headers={"content-type": "application/json"})
    assert response.status_code == 413
    body = response.json()
    if dialect == 2:
        assert body["success"] is False and body["error"]["code"] == "PAYLOAD_TOO_LARGE"
        assert body["error"]["details"] == {"limit": LIMIT}
    else:
        assert body["error"]["code"] == "PAYLOAD_TOO_LARGE" and body["error"]["details"] == {"limit": LIMIT}
        assert body["request_id"] == response.headers["x-request-id"]
    assert "STELLARFLOW_MAX_REQUEST_BYTES" in body["error"]["message"]
    assert response.headers["x-content-type-options"] == "nosniff"  # still inside the request-context middleware


@pytest.mark.parametrize(("path", "dialect"), [("/api/v2/workflows", 2), ("/api/memory", 1)])
async def test_a_streamed_body_is_cut_off_at_the_cap(api: httpx.AsyncClient, path: str, dialect: int) -> None:
    """No Content-Length: the body is counted as it arrives, and reading stops just past the cap."""
    pulled: list[int] = []
    response = await api.post(path, content=chunks(8 * LIMIT, pulled=pulled),
                              headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert LIMIT < sum(pulled) <= LIMIT + 64 * 1024  # not one piece more than needed to know


async def test_the_cap_runs_before_the_rate_limiter(app: FastAPI) -> None:
    """A declared oversize body is refused before any token lookup or count; a streamed one is counted (the limiter
    runs before anything reads a body) and then refused."""
    async with client_for(app, token_for("developer", tier="free")) as free:
        declared = await free.post("/api/v2/workflows", content=b"x" * (LIMIT + 1),
                                   headers={"content-type": "application/json"})
        assert declared.status_code == 413 and "x-ratelimit-limit" not in declared.headers
        streamed = await free.post("/api/v2/workflows", content=chunks(LIMIT + 1),
                                   headers={"content-type": "application/json"})
        assert streamed.status_code == 413 and "x-ratelimit-limit" in streamed.headers


async def test_the_cap_itself_is_allowed_and_idempotent_posts_are_capped_too(api: httpx.AsyncClient) -> None:
    exactly = await api.post("/api/v2/workflows", content=b"x" * LIMIT, headers={"content-type": "application/json"})
    assert exactly.status_code == 400  # read in full (and not JSON): the cap is inclusive
    keyed = await api.post("/api/v2/workflows", content=chunks(2 * LIMIT),
                           headers={"content-type": "application/json", "Idempotency-Key": "size-limit-1"})
    assert keyed.status_code == 413  # the idempotency middleware reads the body first, and stops at the cap too


async def test_a_smaller_cap_is_configurable(app: FastAPI) -> None:
    from api.main import create_app
    from core.settings import get_settings

    small = create_app(get_settings().model_copy(update={"max_request_bytes": 4096}), client=app.state.temporal_client)
    async with client_for(small, token_for("admin")) as client:
        response = await client.post("/api/v2/workflows", json={"name": "x" * 5000, "steps": []})
        assert response.status_code == 413 and response.json()["error"]["details"] == {"limit": 4096}
        assert (await client.post("/api/v2/workflows", json={"steps": []})).status_code == 400


async def test_the_openapi_document_names_the_413(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert "413" in paths["/api/v2/workflows"]["post"]["responses"]
    assert "413" in paths["/api/auth/oauth/token"]["post"]["responses"]
    assert "413" not in paths["/api/v2/workflows"]["get"]["responses"]


# ---- the OAuth form ---------------------------------------------------------------------------------------------


async def test_the_oauth_form_is_capped_while_it_streams(anon_api: httpx.AsyncClient) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    declared = await anon_api.post("/api/auth/oauth/token", content=b"grant_type=" + b"x" * 16 * 1024, headers=form)
    assert declared.status_code == 413 and declared.json()["error"] == "invalid_request"
    pulled: list[int] = []
    streamed = await anon_api.post("/api/auth/oauth/token", content=chunks(512 * 1024, 1024, pulled), headers=form)
    assert streamed.status_code == 413 and streamed.json()["error"] == "invalid_request"
    assert sum(pulled) <= 17 * 1024  # read up to the 16 KiB cap, not the half megabyte sent
    page = await anon_api.post("/api/auth/oauth/authorize", content=chunks(64 * 1024, 1024), headers=form)
    assert page.status_code == 413 and "text/html" in page.headers["content-type"]


# ---- workflow definitions ---------------------------------------------------------------------------------------


def _steps(count: int) -> list[dict]:
    return [{"id": f"s{i}", "action": "wait", "parameters": {"duration": "1ms"}} for i in range(count)]


def test_definition_caps_name_the_setting() -> None:
    limits = DefinitionLimits(max_bytes=4096, max_steps=3, max_depth=6)
    with pytest.raises(DefinitionError) as info:
        parse_definition({"name": "many", "steps": _steps(4)}, limits=limits)
    (issue,) = info.value.issues
    assert issue.constraint == "max_steps" and "STELLARFLOW_MAX_DEFINITION_STEPS" in issue.message
    parse_definition({"name": "enough", "steps": _steps(3)}, limits=limits)

    deep: dict = {"leaf": 1}
    for _ in range(6):
        deep = {"nested": deep}
    with pytest.raises(DefinitionError) as info:
        parse_definition({"name": "deep", "steps": [{**_steps(1)[0], "parameters": deep}]}, limits=limits)
    assert info.value.issues[0].constraint == "max_depth"
    assert "STELLARFLOW_MAX_DEFINITION_DEPTH" in str(info.value)

    text = "name: big\nsteps:\n" + "".join(f"  - {{id: s{i}, action: wait, parameters: {{duration: 1ms}}}}\n"
                                           for i in range(3)) + "# " + "x" * 4096 + "\n"
    with pytest.raises(DefinitionError) as info:
        parse_definition(text, source="big.yaml", limits=limits)
    assert info.value.issues[0].constraint == "max_size" and "STELLARFLOW_MAX_DEFINITION_BYTES" in str(info.value)


def test_a_billion_laughs_is_refused_without_being_expanded() -> None:
    """Aliases cost nothing to load but expand when serialised (the content hash): counted expanded, refused."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 10) + "]")
    text = ("name: laughs\n" + "\n".join(lines)
            + "\nsteps:\n  - id: s\n    action: wait\n    parameters: {duration: 1ms, bomb: *a9}\n")
    started = time.perf_counter()
    with pytest.raises(DefinitionError) as info:
        parse_definition(text, limits=DefinitionLimits())
    assert info.value.issues[0].constraint == "max_size"
    assert time.perf_counter() - started < 5  # a generous bound: expanded, this is 10^10 strings


def test_yaml_nested_past_any_stack_is_a_depth_error() -> None:
    text = "name: deep\nsteps: " + "[" * 50_000 + "]" * 50_000 + "\n"
    with pytest.raises(DefinitionError) as info:
        parse_definition(text)
    assert info.value.issues[0].constraint == "max_depth"


def test_an_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("name: huge\n# " + "x" * (300 * 1024) + "\nsteps: []\n")
    with pytest.raises(DefinitionError) as info:
        load_file(path)
    assert info.value.issues[0].constraint == "max_size" and str(path) in str(info.value)


async def test_the_api_refuses_definitions_over_the_caps(api: httpx.AsyncClient) -> None:
    many = await api.post("/api/v2/workflows", json={"name": "many", "steps": _steps(501)})
    assert many.status_code == 400
    (detail,) = many.json()["error"]["details"]
    assert detail["constraint"] == "max_steps" and detail["field"] == "steps"
    nested: dict = {"v": 1}
    for _ in range(40):
        nested = {"n": nested}
    deep = await api.post("/api/v2/workflows", json={"name": "deep", "steps": [{**_steps(1)[0], "parameters": nested}]})
    assert deep.status_code == 400 and deep.json()["error"]["details"][0]["constraint"] == "max_depth"
    big = await api.post("/api/v2/workflows", json={"name": "big", "description": "x" * (300 * 1024),
                                                    "steps": _steps(1)})
    assert big.status_code == 400 and big.json()["error"]["details"][0]["constraint"] == "max_size"


# ---- the progress parser ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("line", [
    "progress: 1 " + " " * (1 << 20) + "x",  # the old regex's worst case: a long run of spaces before more text
    "progress: 5 " + "a " * (1 << 19),
    "progress: " + "1" * (1 << 20),
    "::progress::" + " " * (1 << 20) + "1",
    " " * (1 << 20),
    "progress" + " " * (1 << 20) + ":" + "9" * 100 + "%x",
])
def test_a_one_mebibyte_line_is_parsed_in_linear_time(line: str) -> None:
    """parse_progress is linear by construction (no backtracking: see its docstring); the bound here is only a
    guard, 1 s for 1 MiB, where the old expression took 3.7 s for 32 KiB."""
    started = time.perf_counter()
    parse_progress(line)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(("line", "expected"), [
    ("progress: 0.4", (0.4, None)),
    ("progress: 40%", (0.4, None)),
    ("progress=40", (0.4, None)),
    ("::progress::0.4 building the index", (0.4, "building the index")),
    ("  PROGRESS : 12 % done  ", (0.12, "done")),
    ("progress: 150", (1.0, None)),
    ("progress: 40 %x", (0.4, "%x")),
    ("progress: 40abc", None),
    ("progressive: 4", None),
    ("progress:", None),
    ("x progress: 1", None),
])
def test_progress_lines(line: str, expected: tuple[float, str | None] | None) -> None:
    assert parse_progress(line) == expected


def test_feeding_a_huge_unterminated_line_keeps_a_bounded_tail() -> None:
    progress = Progress("tk-size")
    progress.feed(1, b"y" * (4 << 20))
    progress.feed(1, b"\nprogress: 50% halfway\n")
    assert progress.progress == 0.5 and progress.message == "halfway"
    assert all(len(buffer) <= 8192 for buffer in progress._partial.values())
