"""The one guarded way out: every outbound connection a worker makes on behalf of a definition or an agent.

`guarded_client()` is an `httpx.AsyncClient` whose transport, for *every* request it sends — the first one and each
redirect hop, if a caller follows redirects — resolves the host, checks every address it resolves to against the
policy in `core/egress.py` (internal addresses refused unless `STELLARFLOW_EGRESS_ALLOW` lists them), and then
connects to the address it checked: the request's URL is rewritten to that IP while the `Host` header and the TLS
server name (SNI, and so certificate verification) keep the original host. A DNS answer that changes between the
check and the connection (DNS rebinding) therefore cannot move the connection anywhere the check did not approve.
Proxies from the environment are ignored (`trust_env=False`): a proxy would resolve the name itself.

`smtp_connection()` does the same for SMTP: the check, then a connection to the checked address, with the host name
kept for EHLO and STARTTLS.

A refusal raises `EgressRefused`, whose message names the host, the kind of address and the setting to change,
never a path or query (where webhook URLs keep their secret) and never the resolved address of a name (which would
let a caller map internal DNS).
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
from typing import Any

import httpx

from core.egress import ALLOW_SETTING, EgressPolicy, IPAddress, parse_ip
from core.settings import Settings, get_settings

RESOLVE_TIMEOUT_S = 10.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


class EgressRefused(Exception):
    """The destination is an internal address the operator did not allowlist. The message is safe to show."""

    def __init__(self, host: str, reason: str, *, literal: bool) -> None:
        self.host = host
        self.reason = reason
        shown = f"{host} ({reason})" if literal else f"{host}: it resolves to {reason}"
        super().__init__(
            f"refused to connect to {shown}; internal addresses are reachable from workflows and agents only when "
            f"the operator lists them in {ALLOW_SETTING}"
        )


def policy(settings: Settings | None = None) -> EgressPolicy:
    return EgressPolicy.from_entries((settings or get_settings()).egress_allow)


def _addresses(infos: list[tuple[Any, ...]]) -> list[IPAddress]:
    found: list[IPAddress] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        text = sockaddr[0]
        if family == socket.AF_INET6 and len(sockaddr) >= 4 and sockaddr[3]:
            text = f"{text.split('%', 1)[0]}%{sockaddr[3]}"
        ip = parse_ip(text)
        if ip is not None and ip not in found:
            found.append(ip)
    return found


def _checked(host: str, infos: list[tuple[Any, ...]], rules: EgressPolicy) -> IPAddress:
    """The address to connect to: the first one resolved, once *every* resolved address passed the check (a name
    that resolves to a public and a private address is refused rather than tried in some order)."""
    addresses = _addresses(infos)
    if not addresses:
        raise OSError(f"{host} did not resolve to an IP address")
    literal = parse_ip(host) is not None
    for ip in addresses:
        reason = rules.check(host, ip)
        if reason is not None:
            raise EgressRefused(host, reason, literal=literal)
    return addresses[0]


async def resolve_checked(host: str, port: int, rules: EgressPolicy | None = None) -> IPAddress:
    """Resolve `host` and check every address it has; returns the one to connect to, or raises EgressRefused
    (or OSError when it does not resolve). IP literals in any spelling the resolver accepts (decimal `2130706433`,
    hex `0x7f.1`, octal `0177.0.0.1`) come out as the address they mean and are checked as such."""
    rules = rules or policy()
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    infos = await asyncio.wait_for(lookup(name, port), RESOLVE_TIMEOUT_S)
    return _checked(name, infos, rules)


async def lookup(host: str, port: int) -> list[tuple[Any, ...]]:
    """The resolver (the system's, off the event loop). One call per request: the connection uses its answer."""
    return await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)


def resolve_checked_sync(host: str, port: int, rules: EgressPolicy | None = None) -> IPAddress:
    """`resolve_checked` for threads (SMTP)."""
    rules = rules or policy()
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return _checked(name, socket.getaddrinfo(name, port, type=socket.SOCK_STREAM), rules)


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks and pins the destination of every request (see the module docstring)."""

    def __init__(self, rules: EgressPolicy | None = None, **transport_options: Any) -> None:
        self.rules = rules
        self._options = transport_options
        # One connection pool per (scheme, host, port, address): a pool is keyed by the address it dials, and a TLS
        # connection verified for one host name must never carry a request for another name at the same address.
        self._inner: dict[tuple[str, str, int, str], httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"only http and https are allowed, not {scheme!r}", request=request)
        host = url.host
        if not host:
            raise httpx.LocalProtocolError("the URL has no host", request=request)
        port = url.port or _DEFAULT_PORTS[scheme]
        try:
            ip = await resolve_checked(host, port, self.rules or policy())
        except EgressRefused:
            raise
        except (OSError, TimeoutError) as err:
            raise httpx.ConnectError(f"could not resolve {host}", request=request) from err
        # Connect to the checked address; the Host header (set when the request was built) and the TLS server name
        # stay the original host, so virtual hosting and certificate checks work as if the name had been dialled.
        # The caller's request is left as it was (a redirect is resolved against its URL, not the address).
        address = str(ip).split("%", 1)[0]
        extensions = dict(request.extensions)
        if scheme == "https" and parse_ip(host) is None:
            extensions["sni_hostname"] = host
        pinned = httpx.Request(request.method, url.copy_with(host=address), headers=request.headers,
                               stream=request.stream, extensions=extensions)
        key = (scheme, host.lower(), port, address)
        inner = self._inner.get(key)
        if inner is None:
            inner = self._inner[key] = httpx.AsyncHTTPTransport(**self._options)
        return await inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        for inner in self._inner.values():
            await inner.aclose()
        self._inner.clear()


def guarded_client(*, rules: EgressPolicy | None = None, **options: Any) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` that can only reach what the egress policy allows. Takes the usual client options
    (timeout, follow_redirects, headers, ...) but no transport, mounts or proxy of its own."""
    for forbidden in ("transport", "mounts", "proxy", "proxies", "trust_env"):
        if forbidden in options:
            raise TypeError(f"guarded_client() does not take {forbidden!r}")
    return httpx.AsyncClient(transport=GuardedTransport(rules), trust_env=False, **options)


class _PinnedSMTP(smtplib.SMTP):
    """smtplib's client, connected to an address checked beforehand; `_host` (EHLO, STARTTLS's server name) stays
    the configured name."""

    def __init__(self, address: str, **options: Any) -> None:
        self._address = address
        super().__init__(**options)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((self._address, port), timeout, self.source_address)


def smtp_connection(host: str, port: int, *, timeout: float, rules: EgressPolicy | None = None) -> smtplib.SMTP:
    """A connected SMTP client (use it as a context manager), after the same check as HTTP. Blocking: call it in
    a thread."""
    ip = resolve_checked_sync(host, port, rules)
    client = _PinnedSMTP(str(ip).split("%", 1)[0], timeout=timeout)
    client._host = host  # what smtplib would have kept had it dialled the name: EHLO and STARTTLS use it
    try:
        client.connect(host, port)
    except BaseException:
        client.close()
        raise
    return client
