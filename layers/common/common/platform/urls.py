"""Where outbound requests may go: the URL policy of webhook endpoints (and of any other URL the product posts
to), checked when a URL is given, and the address check the outbound engine makes at every delivery.

On deployed stages a URL is HTTPS, carries no user name or password, is at most MAX_URL_LENGTH characters,
and names a host that is public: not an IP literal of a loopback, private, link-local, cloud metadata,
shared, multicast or reserved range, not `localhost`, not a single-label name. A name that passes can still
resolve to such an address (or be made to resolve to one later: DNS rebinding), so `public_addresses`
resolves the host at each delivery and refuses it when any of its addresses is not public; the engine then
connects to an address it returned, never resolving again. The local stack's policy (`Webhooks` settings,
never set by infra) allows loopback addresses and plain http, so its tests can run receivers on the machine.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from common.platform.errors import invalid
from common.platform.settings import Webhooks, get_settings

MAX_URL_LENGTH = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# The instance metadata services a function could reach if it ran on such compute (EC2's IMDS on IPv4 and
# IPv6, ECS's task metadata and credentials): inside the link-local and unique-local ranges refused anyway,
# named so that a refusal says what the address is.
METADATA_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("169.254.169.254/32", "169.254.170.2/32", "fd00:ec2::254/128")
)
# Ranges refused whatever Python's own tables say (they differ between versions): carrier-grade NAT (shared
# address space, also Alibaba Cloud's metadata at 100.100.100.200), "this network", and the IPv4 class E.
_ALWAYS_REFUSED = tuple(ipaddress.ip_network(n) for n in ("100.64.0.0/10", "0.0.0.0/8", "240.0.0.0/4"))
# IPv6 prefixes that carry an IPv4 address in their low 32 bits (NAT64's well-known prefix, RFC 6052).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOOPBACK_NAMES = re.compile(r"^(?:.+\.)?localhost$")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_VISIBLE_ASCII = re.compile(r"^[\x21-\x7e]*$")


@dataclass(frozen=True)
class OutboundPolicy:
    """Where outbound requests may go. `allow_loopback` (the local stack only): loopback addresses and plain
    http too."""

    allow_loopback: bool = False

    @property
    def schemes(self) -> tuple[str, ...]:
        return ("https", "http") if self.allow_loopback else ("https",)

    @classmethod
    def from_settings(cls) -> OutboundPolicy:
        return cls(allow_loopback=get_settings(Webhooks).outbound_allow_loopback)


DEPLOYED = OutboundPolicy()
LOCAL = OutboundPolicy(allow_loopback=True)


class AddressRefused(Exception):
    """The host resolves to an address outbound requests may not go to (or to none): nothing is sent."""


class NameNotResolved(AddressRefused):
    """The host name has no address (unknown, or DNS failed)."""


def check_endpoint_url(url: str, policy: OutboundPolicy, *, field: str = "body.url") -> str:
    """The URL, if outbound requests may go to it under `policy`; else 422 naming `field`, saying why."""
    problem = url_problem(url, policy)
    if problem:
        raise invalid(field, problem)
    return url


def url_problem(url: str, policy: OutboundPolicy) -> str | None:
    """Why outbound requests may not go to `url` under `policy`, or None when they may."""
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH:,} characters"
    if not _VISIBLE_ASCII.match(url):
        return (
            "must be ASCII without spaces or control characters (percent-encode other characters; an "
            "internationalised domain name goes in its xn-- form)"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is not a valid URL (its host or port cannot be read)"
    if parts.scheme.lower() not in policy.schemes:
        return "must be an https:// URL" if not policy.allow_loopback else "must be an http:// or https:// URL"
    if not parts.hostname:
        return "must name a host"
    if "@" in parts.netloc:
        return "must not carry a user name or password (put credentials in the path or rely on the signature)"
    if parts.fragment or url.endswith("#"):
        return "must not have a fragment (#...): it is never sent"
    if port == 0:
        return "must not name port 0"
    return host_problem(parts.hostname, policy)


def host_problem(host: str, policy: OutboundPolicy) -> str | None:
    """Why a URL's host (as urlsplit reads it: lower-cased, without brackets) is refused, or None."""
    if ":" in host:
        if "%" in host:
            return "has an IPv6 address with a zone id (only a link-local address has one)"
        try:
            return address_problem(ipaddress.IPv6Address(host), policy)
        except ValueError:
            return "has an IPv6 address that cannot be read"
    name = host.removesuffix(".")
    labels = name.split(".")
    if labels[-1].isdigit() or _ipv4_in_any_form(name) is not None:
        # 10.1, 0x7f.1 and 2130706433 all reach an IPv4 address: only the dotted quad is unambiguous.
        try:
            address = ipaddress.IPv4Address(name)
        except ValueError:
            return "has an IPv4 address that is not four decimal numbers (write it as a.b.c.d)"
        return address_problem(address, policy)
    if not all(_LABEL.match(label) for label in labels) or len(name) > 253:
        return "has a host name that is not a valid DNS name"
    if _LOOPBACK_NAMES.match(name):
        return None if policy.allow_loopback else "must not name localhost"
    if len(labels) < 2 and not policy.allow_loopback:
        return "must name a fully qualified host (a single-label name resolves inside a network)"
    return None


def address_problem(address: IPAddress, policy: OutboundPolicy) -> str | None:
    """Why outbound requests may not go to `address` (an IP literal, or one a name resolved to), or None."""
    embedded = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    if embedded is not None:
        return address_problem(embedded, policy)
    if address.is_loopback:
        return None if policy.allow_loopback else "is a loopback address"
    if any(address in network for network in METADATA_NETWORKS):
        return "is a cloud metadata address"
    if address.is_link_local:
        return "is a link-local address"
    if address.is_multicast:
        return "is a multicast address"
    if address.is_unspecified or address.is_reserved or any(address in n for n in _ALWAYS_REFUSED):
        return "is a reserved address"
    if address.is_private or not address.is_global:
        return "is a private (non-public) address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, Teredo's client, NAT64), if any: a request
    to it reaches that IPv4 address, which is checked instead."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _ipv4_in_any_form(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host stands for when the C library reads it as one (decimal, octal or hex parts,
    fewer than four parts): how an HTTP client would connect to it."""
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


Resolver = Callable[..., Sequence[tuple[Any, ...]]]


def public_addresses(host: str, port: int, policy: OutboundPolicy, *, resolve: Resolver | None = None) -> list[str]:
    """The addresses `host` resolves to (getaddrinfo, IPv4 and IPv6), in the resolver's order, when every one
    of them is allowed under `policy`: a name with one private address among public ones is refused whole
    (AddressRefused), as is one that does not resolve (NameNotResolved). Called at each delivery; the caller
    connects to one of these addresses and resolves nothing again."""
    name = host.strip("[]")
    try:
        found = (resolve or socket.getaddrinfo)(name, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise NameNotResolved(f"{name} does not resolve") from error
    addresses = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in found))
    if not addresses:
        raise NameNotResolved(f"{name} has no address")
    for text in addresses:
        problem = address_problem(ipaddress.ip_address(text), policy)
        if problem:
            raise AddressRefused(f"{name} resolves to {text}, which {problem}")
    return addresses
