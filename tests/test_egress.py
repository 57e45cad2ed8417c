"""SSRF: every outbound client of the worker (http-request, notifications, deploy health checks, the LLM executor)
goes through the egress guard (activities/egress.py, core/egress.py), which refuses internal addresses after DNS
resolution unless the operator allowlists them, connects to the address it checked, and checks every redirect hop.

The suite allowlists 127.0.0.1 for its fakes (tests/conftest.py); every test here that proves a refusal clears
that allowlist first, so the fakes on 127.0.0.1 are exactly what must not be reached."""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities import egress
from activities.deploy import _health_check
from activities.egress import EgressRefused, guarded_client, resolve_checked
from activities.executors.activities import execute
from activities.http_request import perform_http_request
from activities.notifications import run_notify
from core.agents.contracts import ExecuteTaskInput
from core.egress import EgressPolicy, llm_base_url_allowed, refusal_reason, url_in_list
from core.pipelines.contracts import ActionRequest
from core.settings import reset_settings
from tests.fakes.http_server import FakeHTTPServer, Reply
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.smtp import FakeSMTPServer
from tests.support import run_to_end, step_of

INTERNAL = [
    "127.0.0.1", "127.8.9.10", "::1", "0.0.0.0", "::",  # loopback, unspecified
    "10.1.2.3", "172.16.0.1", "172.31.255.254", "192.168.1.1", "100.64.0.1",  # private, carrier-grade NAT
    "169.254.169.254", "169.254.170.2", "fe80::1",  # link-local: cloud metadata lives here
    "fc00::1", "fd00:ec2::254",  # unique-local (AWS IMDS over IPv6)
    "168.63.129.16", "100.100.100.200",  # metadata addresses outside those ranges (Azure, Alibaba)
    "224.0.0.1", "ff02::1", "255.255.255.255", "240.0.0.1",  # multicast, broadcast, reserved
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",  # IPv4-mapped IPv6
    "64:ff9b::a9fe:a9fe", "2002:7f00:1::1",  # NAT64 and 6to4 forms of 169.254.169.254 and 127.0.0.1
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.fixture
def no_allowlist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """An operator who allowlisted nothing: the fakes on 127.0.0.1 are internal addresses like any other."""
    monkeypatch.setenv("STELLARFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STELLARFLOW_EGRESS_ALLOW", "")
    reset_settings()
    yield monkeypatch
    reset_settings()


@pytest.fixture
def server(no_allowlist: pytest.MonkeyPatch) -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer() as fake:
        yield fake


# ---- the policy ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_addresses_are_refused(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert refusal_reason(ip) is not None
    assert EgressPolicy().check("example.com", ip) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_the_allowlist_takes_addresses_networks_and_names() -> None:
    rules = EgressPolicy.from_entries(["127.0.0.1", "10.0.0.0/8", "[fd00::1]", "Internal.Example.", " "])
    assert rules.check("x", ipaddress.ip_address("127.0.0.1")) is None
    assert rules.check("x", ipaddress.ip_address("::ffff:127.0.0.1")) is None  # the same address, mapped
    assert rules.check("x", ipaddress.ip_address("127.0.0.2")) is not None  # an address is not its network
    assert rules.check("x", ipaddress.ip_address("10.200.0.1")) is None
    assert rules.check("x", ipaddress.ip_address("fd00::1")) is None
    assert rules.check("x", ipaddress.ip_address("169.254.169.254")) is not None
    # A listed name is trusted whatever it resolves to; any other name is judged by its addresses.
    assert rules.check("internal.example", ipaddress.ip_address("192.168.0.9")) is None
    assert rules.check("other.example", ipaddress.ip_address("192.168.0.9")) is not None


def test_llm_base_urls_match_on_origin_and_path_boundaries() -> None:
    entries = ["https://llm.example.com", "http://10.0.0.5:8080/openai/"]
    assert url_in_list("https://llm.example.com/v1", entries)
    assert url_in_list("https://LLM.example.com:443/", entries)
    assert url_in_list("http://10.0.0.5:8080/openai/v1", entries)
    assert url_in_list("http://10.0.0.5:8080/openai/team-a", entries)
    for refused in ("https://llm.example.com.evil.net", "http://llm.example.com", "https://llm.example.com:8443",
                    "http://10.0.0.5:8080/openai-evil", "http://10.0.0.5:8080/", "https://user@llm.example.com",
                    "https://llm.example.com/?x=1", "ftp://llm.example.com", "not a url"):
        assert not url_in_list(refused, entries), refused
    assert llm_base_url_allowed("http://127.0.0.1:9/v1", operator_url="http://127.0.0.1:9", allowed=[])
    assert not llm_base_url_allowed("http://127.0.0.1:10", operator_url="http://127.0.0.1:9", allowed=[])


# ---- resolution: names and odd spellings are judged by the address they reach --------------------------------


@pytest.mark.parametrize("host", [
    "localhost",  # a DNS name that resolves to 127.0.0.1
    "2130706433", "0x7f000001", "017700000001", "0x7f.0.0.1", "127.1",  # decimal, hex, octal, short IPv4
    "[::1]", "::ffff:127.0.0.1", "0", "169.254.169.254",
])
async def test_every_spelling_of_an_internal_address_is_refused(host: str) -> None:
    with pytest.raises(EgressRefused) as info:
        await resolve_checked(host, 80, EgressPolicy())
    assert "STELLARFLOW_EGRESS_ALLOW" in str(info.value)
    if host == "localhost":
        assert "resolves to a loopback address" in str(info.value)
        assert "127.0.0.1" not in str(info.value)  # a name's internal address is not disclosed


async def test_a_name_with_any_internal_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every resolved address is checked, not just the first: a name that also points inside is refused."""

    async def two_answers(host: str, port: int) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    monkeypatch.setattr(egress, "lookup", two_answers)
    with pytest.raises(EgressRefused, match="private"):
        await resolve_checked("mixed.example", 443, EgressPolicy())


# ---- the http-request action ------------------------------------------------------------------------------------


def call(url: str, **parameters: Any) -> ActionRequest:
    return ActionRequest(run_id="run-egress", step_id="call", action="http-request",
                         parameters={"url": url, **parameters}, retry_failures=True)


@pytest.mark.parametrize("template", [
    "http://127.0.0.1:{port}/x", "http://localhost:{port}/x", "http://2130706433:{port}/x",
    "http://0x7f000001:{port}/x", "http://017700000001:{port}/x", "http://127.1:{port}/x",
    "http://[::1]:{port}/x", "http://[::ffff:127.0.0.1]:{port}/x", "http://0:{port}/x",
])
async def test_http_request_never_reaches_a_loopback_service(server: FakeHTTPServer, template: str) -> None:
    with pytest.raises(ApplicationError) as info:
        await perform_http_request(call(template.format(port=server.port)))
    error = info.value
    assert error.type == "EgressRefused" and error.non_retryable  # even though the step allows retries
    assert "STELLARFLOW_EGRESS_ALLOW" in str(error)
    assert server.requests == []


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00:ec2::254]/latest/meta-data/", "http://10.0.0.1/", "http://192.168.0.1/admin",
    "http://172.17.0.1:2375/containers/json", "http://[fe80::1]/",
])
async def test_http_request_refuses_metadata_and_private_ranges(no_allowlist: pytest.MonkeyPatch, url: str) -> None:
    with pytest.raises(ApplicationError) as info:
        await perform_http_request(call(url + "?token=s3cret"))
    assert info.value.type == "EgressRefused"
    assert "s3cret" not in str(info.value)  # the query (where tokens travel) is never in a message


async def test_the_octal_dotted_form_is_refused_as_an_invalid_url(server: FakeHTTPServer) -> None:
    with pytest.raises(ApplicationError) as info:
        await perform_http_request(call(f"http://0177.0.0.1:{server.port}/x"))
    assert info.value.non_retryable and server.requests == []


async def test_an_allowlisted_address_is_reachable(server: FakeHTTPServer, no_allowlist: pytest.MonkeyPatch) -> None:
    no_allowlist.setenv("STELLARFLOW_EGRESS_ALLOW", "127.0.0.0/8")
    reset_settings()
    result = await perform_http_request(call(f"http://localhost:{server.port}/ok"))
    assert result.outputs["status"] == 200
    (seen,) = server.requests
    assert seen.headers["host"] == f"localhost:{server.port}"  # the name, although the address was dialled


async def test_redirects_are_not_followed_by_the_action(server: FakeHTTPServer, no_allowlist: pytest.MonkeyPatch
                                                        ) -> None:  # fmt: skip
    no_allowlist.setenv("STELLARFLOW_EGRESS_ALLOW", "127.0.0.1")
    reset_settings()
    server.route("/go", Reply(302, b"", headers={"Location": "http://169.254.169.254/latest/meta-data/"}))
    result = await perform_http_request(call(server.url("/go"), expectStatus=[302]))
    assert result.outputs["status"] == 302
    assert [r.path for r in server.requests] == ["/go"]


# ---- the client itself: redirect hops, pinning -------------------------------------------------------------------


async def test_every_redirect_hop_is_checked(server: FakeHTTPServer) -> None:
    rules = EgressPolicy.from_entries(["127.0.0.1"])
    for target in (f"http://127.0.0.2:{server.port}/inner", "http://169.254.169.254/latest/meta-data/",
                   f"http://[::1]:{server.port}/inner", f"http://2130706434:{server.port}/inner"):
        server.route("/hop", Reply(302, b"", headers={"Location": target}))
        async with guarded_client(rules=rules, follow_redirects=True, timeout=5) as client:
            with pytest.raises(EgressRefused):
                await client.get(server.url("/hop"))
    assert {r.path for r in server.requests} == {"/hop"}
    # An allowed hop is followed.
    server.route("/hop", Reply(302, b"", headers={"Location": server.url("/landed")}))
    async with guarded_client(rules=rules, follow_redirects=True, timeout=5) as client:
        assert (await client.get(server.url("/hop"))).status_code == 200
    assert server.requests[-1].path == "/landed"


async def test_the_connection_goes_to_the_address_that_was_checked(server: FakeHTTPServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the name is resolved once, checked, and that very address is dialled. A resolver that
    answers differently the second time (here: an internal address) is never asked again; and the name itself is
    not resolvable by the system, so a client that re-resolved at connect time would fail."""
    answers = ["127.0.0.1", "10.0.0.1"]
    asked: list[str] = []

    async def rebinding(host: str, port: int) -> list[tuple[Any, ...]]:
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[min(len(asked), 2) - 1], port))]

    monkeypatch.setattr(egress, "lookup", rebinding)
    rules = EgressPolicy.from_entries(["127.0.0.1"])
    async with guarded_client(rules=rules, timeout=5) as client:
        response = await client.get(f"http://rebind.stellarflow.invalid:{server.port}/pinned")
    assert response.status_code == 200 and asked == ["rebind.stellarflow.invalid"]
    assert server.requests[-1].headers["host"] == f"rebind.stellarflow.invalid:{server.port}"
    async with guarded_client(rules=rules, timeout=5) as client:  # the second answer is internal: refused
        with pytest.raises(EgressRefused):
            await client.get(f"http://rebind.stellarflow.invalid:{server.port}/pinned")
    assert len(server.requests) == 1


async def test_https_is_dialled_by_address_but_verified_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pinned request carries the host name as Host header and TLS server name (so the certificate is checked
    against the name), and the caller's request keeps its URL."""
    seen: list[httpx.Request] = []

    async def capture(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async def public(host: str, port: int) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", capture)
    monkeypatch.setattr(egress, "lookup", public)
    async with guarded_client(rules=EgressPolicy()) as client:
        response = await client.get("https://api.example.com/v1/x?y=1")
    (pinned,) = seen
    assert (pinned.url.scheme, pinned.url.host, pinned.url.port) == ("https", "93.184.216.34", None)
    assert pinned.url.raw_path == b"/v1/x?y=1"
    assert pinned.headers["host"] == "api.example.com"
    assert pinned.extensions["sni_hostname"] == "api.example.com"
    assert response.request.url.host == "api.example.com"


async def test_a_relative_redirect_stays_on_the_host_name(server: FakeHTTPServer) -> None:
    server.route("/hop", Reply(302, b"", headers={"Location": "/landed"}))
    async with guarded_client(rules=EgressPolicy.from_entries(["127.0.0.1"]), follow_redirects=True,
                              timeout=5) as client:
        response = await client.get(f"http://localhost:{server.port}/hop")
    assert response.status_code == 200 and str(response.url) == f"http://localhost:{server.port}/landed"
    assert [r.headers["host"] for r in server.requests] == [f"localhost:{server.port}"] * 2


def test_the_guarded_client_takes_no_transport_or_proxy() -> None:
    for option in ("transport", "mounts", "proxy", "trust_env"):
        with pytest.raises(TypeError):
            guarded_client(**{option: None})


# ---- notifications, deploy health checks, the LLM executor ------------------------------------------------------


async def test_notifications_to_internal_addresses_are_refused(no_allowlist: pytest.MonkeyPatch) -> None:
    with FakeHTTPServer() as hook, FakeSMTPServer() as smtp:
        no_allowlist.setenv("STELLARFLOW_SLACK_WEBHOOK_URL", "http://169.254.169.254/services/T0/B0/s3cret")
        no_allowlist.setenv("STELLARFLOW_WEBHOOK_URL", f"http://localhost:{hook.port}/hook?token=s3cret")
        no_allowlist.setenv("STELLARFLOW_SMTP_HOST", "localhost")  # resolves to the fake's 127.0.0.1
        no_allowlist.setenv("STELLARFLOW_SMTP_PORT", str(smtp.port))
        no_allowlist.setenv("STELLARFLOW_SMTP_TO", json.dumps(["ops@example.com"]))
        reset_settings()
        req = ActionRequest(run_id="run-egress", step_id="tell", action="notify",
                            parameters={"channels": ["slack", "webhook", "email"], "message": "hello"})
        with pytest.raises(ApplicationError) as info:
            await run_notify(req)
        outputs = info.value.details[0]
        assert sorted(outputs["failed"]) == ["email", "slack", "webhook"]
        for result in outputs["results"]:
            assert "STELLARFLOW_EGRESS_ALLOW" in result["detail"] and "s3cret" not in result["detail"]
        assert hook.requests == [] and smtp.messages == []


async def test_deploy_health_checks_to_internal_addresses_fail_at_once(server: FakeHTTPServer) -> None:
    outcome = await _health_check(server.url("/health"), timeout_s=30)
    assert outcome["healthy"] is False and outcome["healthChecks"] == 1  # no point polling a refusal
    assert "STELLARFLOW_EGRESS_ALLOW" in outcome["healthError"]
    assert server.requests == []


async def test_the_llm_executor_cannot_reach_internal_addresses(no_allowlist: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer("never") as llm:
        for base in (f"http://localhost:{llm.port}/v1", "http://169.254.169.254/v1"):
            inp = ExecuteTaskInput(executor="llm", task_id="tk-egress", agent_id="ag-egress", workspace="",
                                   description="x", config={"base_url": base, "model": "m"})
            with pytest.raises(ApplicationError) as info:
                await execute(inp)
            assert info.value.type == "EgressRefused" and info.value.non_retryable
        assert llm.requests == []


# ---- end to end: a run's http-request step ---------------------------------------------------------------------


async def test_a_run_cannot_fetch_cloud_metadata(api: httpx.AsyncClient) -> None:
    run = await run_to_end(api, {"name": "ssrf", "steps": [
        {"id": "steal", "action": "http-request", "retry": {"maxAttempts": 3, "backoff": {"initial": "10ms"}},
         "parameters": {"url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"}},
    ]})
    step = step_of(run, "steal")
    assert run["status"] == "failed" and step["status"] == "failed"
    assert "STELLARFLOW_EGRESS_ALLOW" in step["error"] and step["attempts"] == 1
