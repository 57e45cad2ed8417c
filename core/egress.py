"""Where outbound requests may go: the address policy behind `activities/egress.py`, and the LLM base-URL allowlist.

Pure logic (no I/O), so the worker's guarded client and the API's create-time checks read the same rules.

**Addresses.** An outbound request from a worker (http-request steps, notifications, deploy health checks, the LLM
executor, and every later outbound client) may reach only *global* unicast addresses. Refused unless the operator
allowlists them (`STELLARFLOW_EGRESS_ALLOW`): loopback, private (RFC 1918), carrier-grade NAT (100.64/10),
link-local (169.254/16, fe80::/10, where cloud metadata services live), unique-local (fc00::/7), multicast,
unspecified, reserved and documentation ranges, and the well-known metadata addresses that are otherwise public
(Azure's 168.63.129.16). IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, 6to4 `2002::/16`,
NAT64 `64:ff9b::/96`, Teredo) are judged by the IPv4 address they carry.

**The allowlist.** Entries are IP addresses, networks in CIDR form, or host names. An address or network allows
every resolved address inside it, whatever name led there; a host name allows that name (exactly, case-insensitive)
whatever it resolves to — so list a name only when its DNS is the operator's own.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "STELLARFLOW_EGRESS_ALLOW"
LLM_ALLOW_SETTING = "STELLARFLOW_LLM_ALLOWED_URLS"

# Metadata endpoints of cloud providers that are not covered by the ranges below (the link-local and unique-local
# ones — AWS, GCP, Azure IMDS at 169.254.169.254, ECS at 169.254.170.2, AWS IPv6 at fd00:ec2::254 — already are).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("168.63.129.16", "100.100.100.200", "192.0.0.192", "169.254.169.254")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the forms that carry one."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address; the server's is public by construction
    return None


def refusal_reason(ip: IPAddress) -> str | None:
    """Why `ip` is internal ("loopback", "link-local (cloud metadata)", ...), or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "a scoped (link-local) address"
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            reason = refusal_reason(embedded)
            return f"{reason} (inside an IPv6 address)" if reason else None
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv6Address) and ip in ipaddress.ip_network("fc00::/7"):
        return "a unique-local address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved or non-global address"
    return None


def parse_ip(host: str) -> IPAddress | None:
    """`host` as an IP address in its standard spelling (brackets allowed), else None. Other spellings (decimal,
    hex, octal, shortened IPv4) are not addresses here: they are resolved like names, which turns them into one."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class EgressPolicy:
    """The operator's allowlist, parsed once."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> EgressPolicy:
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            if entry.startswith("[") and "]" in entry:
                entry = entry[1 : entry.index("]")]
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def host_allowed(self, host: str) -> bool:
        """A host name the operator listed: every address it resolves to is allowed."""
        return host.lower().rstrip(".") in self.hosts

    def address_allowed(self, ip: IPAddress) -> bool:
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.scope_id:
                candidates = [ipaddress.IPv6Address(str(ip).split("%", 1)[0])]
            embedded = _embedded_ipv4(candidates[0])
            if embedded is not None:
                candidates.append(embedded)
        return any(c.version == net.version and c in net for c in candidates for net in self.networks)

    def check(self, host: str, ip: IPAddress) -> str | None:
        """None when `host` (resolved to `ip`) may be reached, else why not."""
        if self.host_allowed(host) or self.address_allowed(ip):
            return None
        return refusal_reason(ip)


# ---- LLM base URLs ----------------------------------------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_base_url(url: str) -> str:
    """`https://host/v1/` and `https://host` name the same OpenAI-compatible server."""
    url = url.strip().rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _origin_and_path(url: str) -> tuple[str, str, int, str] | None:
    try:
        parts = urlsplit(normalize_base_url(url))
        scheme = parts.scheme.lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        return None
    return scheme, parts.hostname.lower().rstrip("."), port, parts.path.rstrip("/")


def url_in_list(url: str, entries: Iterable[str]) -> bool:
    """Whether `url` is one of `entries` or below one: same scheme, host and port (default ports made explicit),
    and a path equal to the entry's or under it on a `/` boundary. `https://llm.example.com` allows
    `https://llm.example.com/v1` but not `https://llm.example.com.evil.net` nor `http://llm.example.com`."""
    target = _origin_and_path(url)
    if target is None:
        return False
    for entry in entries:
        allowed = _origin_and_path(entry)
        if allowed is None or allowed[:3] != target[:3]:
            continue
        if not allowed[3] or target[3] == allowed[3] or target[3].startswith(allowed[3] + "/"):
            return True
    return False


def llm_base_url_allowed(url: str, *, operator_url: str | None, allowed: Iterable[str]) -> bool:
    """An agent's LLM base URL is acceptable when it is the operator's own (`STELLARFLOW_LLM_BASE_URL`) or listed
    in `STELLARFLOW_LLM_ALLOWED_URLS`. Only such a URL ever receives a key from the worker."""
    entries = [*allowed, *([operator_url] if operator_url else [])]
    return url_in_list(url, entries)
