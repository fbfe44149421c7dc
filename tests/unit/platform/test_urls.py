"""The outbound URL policy: what an endpoint URL may be on deployed stages and on the local stack, and the
address check made at each delivery after resolving the host (DNS rebinding)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from common.platform import urls
from common.platform.errors import InvalidInput
from common.platform.settings import get_settings
from common.platform.urls import DEPLOYED, LOCAL, AddressRefused, NameNotResolved, OutboundPolicy

# An address of each range refused on deployed stages, as it is written in a URL.
REFUSED_LITERALS = {
    "loopback": "127.0.0.1",
    "loopback, elsewhere in 127/8": "127.9.9.9",
    "private 10/8": "10.0.0.1",
    "private 172.16/12": "172.16.0.1",
    "private 192.168/16": "192.168.1.1",
    "link-local": "169.254.1.1",
    "EC2 instance metadata": "169.254.169.254",
    "ECS task metadata": "169.254.170.2",
    "shared (carrier-grade NAT), Alibaba's metadata": "100.100.100.200",
    "this network": "0.0.0.0",  # noqa: S104 (refused, not bound to)
    "broadcast": "255.255.255.255",
    "class E": "240.0.0.1",
    "multicast": "224.0.0.1",
    "documentation": "192.0.2.1",
    "benchmarking": "198.18.0.1",
    "IPv6 loopback": "[::1]",
    "IPv6 unspecified": "[::]",
    "IPv6 link-local": "[fe80::1]",
    "IPv6 unique local": "[fc00::1]",
    "EC2 instance metadata over IPv6": "[fd00:ec2::254]",
    "IPv6 multicast": "[ff02::1]",
    "IPv6 documentation": "[2001:db8::1]",
    "IPv4-mapped loopback": "[::ffff:127.0.0.1]",
    "IPv4-mapped private": "[::ffff:10.0.0.1]",
    "IPv4-mapped metadata, hex": "[::ffff:a9fe:a9fe]",
    "6to4 of loopback": "[2002:7f00:1::1]",
    "NAT64 of a private address": "[64:ff9b::a00:1]",
    "decimal loopback": "2130706433",
    "hex and short loopback": "0x7f.1",
    "short loopback": "127.1",
    "octal loopback": "017700000001",
    "zero-padded loopback": "127.000.000.001",
    "five parts": "1.2.3.4.5",
}


def problem(url: str, policy: OutboundPolicy = DEPLOYED) -> str:
    with pytest.raises(InvalidInput) as refused:
        urls.check_endpoint_url(url, policy)
    assert [e.field for e in refused.value.errors] == ["body.url"]
    return refused.value.errors[0].message


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/partner-programme",
        "https://hooks.example.com:8443/in?source=partners&v=1",
        "https://HOOKS.Example.COM./x",
        "https://xn--bcher-kva.example/hooks",
        "https://93.184.215.14/hooks",
        "https://[2606:4700:4700::1111]/hooks",
        "https://example.com/" + "a" * (urls.MAX_URL_LENGTH - len("https://example.com/")),
    ],
)
def test_public_https_urls_are_accepted(url: str) -> None:
    assert urls.check_endpoint_url(url, DEPLOYED) == url


@pytest.mark.parametrize("url", ["http://hooks.example.com/x", "ftp://hooks.example.com/x", "hooks.example.com/x"])
def test_only_https_on_deployed_stages(url: str) -> None:
    assert problem(url) == "must be an https:// URL"


@pytest.mark.parametrize("url", ["https://user:secret@hooks.example.com/x", "https://token@hooks.example.com/x"])
def test_no_user_name_or_password(url: str) -> None:
    assert problem(url).startswith("must not carry a user name or password")


def test_at_most_2000_characters() -> None:
    long = "https://example.com/" + "a" * (urls.MAX_URL_LENGTH - len("https://example.com/") + 1)
    assert problem(long) == "must be at most 2,000 characters"


@pytest.mark.parametrize("host", REFUSED_LITERALS.values(), ids=REFUSED_LITERALS.keys())
def test_ip_literals_of_every_non_public_range_are_refused(host: str) -> None:
    message = problem(f"https://{host}/hooks")
    assert "address" in message


def test_a_refusal_says_what_the_address_is() -> None:
    assert problem("https://169.254.169.254/latest/meta-data") == "is a cloud metadata address"
    assert problem("https://[fd00:ec2::254]/") == "is a cloud metadata address"
    assert problem("https://127.0.0.1/") == "is a loopback address"
    assert problem("https://[::ffff:127.0.0.1]/") == "is a loopback address"
    assert problem("https://10.1.2.3/") == "is a private (non-public) address"
    assert problem("https://169.254.3.4/") == "is a link-local address"
    assert problem("https://100.64.0.1/") == "is a reserved address"
    assert problem("https://0x7f.1/") == "has an IPv4 address that is not four decimal numbers (write it as a.b.c.d)"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://localhost/hooks", "must not name localhost"),
        ("https://api.localhost/hooks", "must not name localhost"),
        ("https://intranet/hooks", "must name a fully qualified host (a single-label name resolves inside a network)"),
        ("https://hooks.example.com/x#part", "must not have a fragment (#...): it is never sent"),
        ("https://hooks.example.com:99999/x", "is not a valid URL (its host or port cannot be read)"),
        ("https://hooks.example.com:0/x", "must not name port 0"),
        ("https:///x", "must name a host"),
        ("https://hooks..example.com/x", "has a host name that is not a valid DNS name"),
        ("https://-hooks.example.com/x", "has a host name that is not a valid DNS name"),
        ("https://evil.example\\.good.example/x", "has a host name that is not a valid DNS name"),
        ("https://[fe80::1%25eth0]/x", "has an IPv6 address with a zone id (only a link-local address has one)"),
    ],
)
def test_hosts_that_are_no_public_name(url: str, message: str) -> None:
    assert problem(url) == message


@pytest.mark.parametrize("url", ["https://bücher.example/x", "https://hooks.example.com/a b", "https://h.example/\x00"])
def test_only_visible_ascii(url: str) -> None:
    assert problem(url).startswith("must be ASCII without spaces or control characters")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hooks", "http://localhost:9000/x", "https://[::1]/x", "http://receiver/x"]
)
def test_the_local_stack_allows_loopback_and_http(url: str) -> None:
    assert urls.check_endpoint_url(url, LOCAL) == url


@pytest.mark.parametrize("url", ["http://10.0.0.1/x", "http://169.254.169.254/x", "ftp://127.0.0.1/x"])
def test_the_local_stack_still_refuses_private_addresses_and_other_schemes(url: str) -> None:
    with pytest.raises(InvalidInput):
        urls.check_endpoint_url(url, LOCAL)


def test_the_error_names_the_field_the_caller_gives() -> None:
    with pytest.raises(InvalidInput) as refused:
        urls.check_endpoint_url("http://x.example", DEPLOYED, field="body.post_url")
    assert refused.value.errors[0].field == "body.post_url"
    assert refused.value.status == 422


def test_the_policy_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert OutboundPolicy.from_settings() == DEPLOYED
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "true")
    get_settings.cache_clear()
    assert OutboundPolicy.from_settings() == LOCAL


# -- at delivery: the resolved addresses --------------------------------------------------------------------


def resolver(*addresses: str) -> Any:
    """A getaddrinfo answering `addresses` for any name, as the C library shapes its answer."""

    def resolve(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    return resolve


def test_a_public_name_gives_its_addresses_once_each_in_order() -> None:
    resolve = resolver("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "93.184.215.14")
    assert urls.public_addresses("hooks.example.com", 443, DEPLOYED, resolve=resolve) == [
        "93.184.215.14",
        "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
    ]


@pytest.mark.parametrize(
    "addresses",
    [
        ("127.0.0.1",),
        ("10.0.0.7",),
        ("169.254.169.254",),
        ("93.184.215.14", "192.168.0.10"),  # one private address among public ones refuses the name
        ("::1",),
        ("fe80::1%eth0",),
        ("::ffff:169.254.169.254",),
        ("fd00:ec2::254",),
    ],
)
def test_a_name_that_resolves_to_a_non_public_address_is_refused(addresses: tuple[str, ...]) -> None:
    with pytest.raises(AddressRefused, match="resolves to"):
        urls.public_addresses("rebound.example.com", 443, DEPLOYED, resolve=resolver(*addresses))


def test_the_local_stack_may_deliver_to_loopback_but_not_to_private_addresses() -> None:
    assert urls.public_addresses("localhost", 8080, LOCAL, resolve=resolver("127.0.0.1", "::1")) == ["127.0.0.1", "::1"]
    with pytest.raises(AddressRefused):
        urls.public_addresses("printer.lan", 80, LOCAL, resolve=resolver("192.168.1.20"))


def test_a_name_that_does_not_resolve() -> None:
    def failing(*_: Any, **__: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(NameNotResolved):
        urls.public_addresses("nowhere.example", 443, DEPLOYED, resolve=failing)
    with pytest.raises(NameNotResolved):
        urls.public_addresses("empty.example", 443, DEPLOYED, resolve=resolver())


@pytest.mark.parametrize("host", ["127.1", "2130706433", "[::1]", "0x7f000001"])
def test_the_c_librarys_own_reading_of_numeric_hosts_is_checked(host: str) -> None:
    # getaddrinfo reads these without DNS: the address it connects to is the one checked.
    with pytest.raises(AddressRefused):
        urls.public_addresses(host, 443, DEPLOYED)
