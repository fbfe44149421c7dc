"""Where outbound requests may go: the policy for endpoint URLs and, after DNS resolution, for the addresses a
delivery connects to (checked again at every delivery, so a name that later resolves to a private address,
DNS rebinding, is refused then).

Deployed stages send over HTTPS to public addresses only. The local stack (Webhooks.outbound_allow_loopback)
also allows plain HTTP and loopback addresses, so its tests can run receivers on 127.0.0.1; private,
link-local, metadata and reserved addresses stay refused there too.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from common.platform.errors import InvalidInput, invalid
from common.platform.settings import Webhooks, get_settings

MAX_URL_LENGTH = 2000


@dataclass(frozen=True)
class OutboundPolicy:
    allow_loopback: bool = False

    @classmethod
    def from_settings(cls) -> OutboundPolicy:
        return cls(allow_loopback=get_settings(Webhooks).outbound_allow_loopback)

    @property
    def schemes(self) -> tuple[str, ...]:
        return ("https", "http") if self.allow_loopback else ("https",)


DEPLOYED = OutboundPolicy()


def check_endpoint_url(url: str, policy: OutboundPolicy) -> str:
    """The URL, if requests may be sent to it (422 naming `url` otherwise). A host given as an address must
    be allowed itself; a name is resolved at every delivery (`public_addresses`)."""
    if len(url) > MAX_URL_LENGTH:
        raise invalid("url", f"is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it checks it
    except ValueError as error:
        raise invalid("url", "is not a valid URL") from error
    if parts.scheme not in policy.schemes:
        raise invalid("url", "must be an https URL")
    if not parts.hostname:
        raise invalid("url", "has no host")
    if parts.username is not None or parts.password is not None:
        raise invalid("url", "must not carry a user name or password")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return url
    _check_address(literal, policy)
    return url


def public_addresses(host: str, port: int, policy: OutboundPolicy) -> list[str]:
    """The addresses `host` resolves to, if every one is allowed; a name that resolves to any refused address
    is refused whole (422 naming `url`). DNS failures raise OSError."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    for address in addresses:
        _check_address(ipaddress.ip_address(address.split("%", 1)[0]), policy)
    if not addresses:
        raise invalid("url", f"{host} has no address")
    return addresses


def _check_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address, policy: OutboundPolicy) -> None:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address.is_loopback and policy.allow_loopback:
        return
    if not address.is_global or address.is_multicast:
        raise _refused(address)


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> InvalidInput:
    kind = "a loopback" if address.is_loopback else "a private, link-local or reserved"
    return invalid("url", f"points at {kind} address ({address}), which outbound requests may not reach")
