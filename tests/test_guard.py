"""Guard rails on where a call may go: schemes, hosts and resolved addresses."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from extapi_pandas import ExtapiError, Guard
from extapi_pandas.errors import ConfigurationError, GuardError
from extapi_pandas.http.guard import (
    GuardedResolver,
    check_address,
    check_url,
    is_loopback_host,
)


class FixedResolver(AbstractResolver):
    """Resolves every host to fixed addresses without opening a socket."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host, host=address, port=port, family=family, proto=0, flags=0
            )
            for address in self.addresses
        ]

    async def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    "host",
    ["localhost", "127.0.0.1", "127.8.9.10", "[::1]", "LOCALHOST.", "api.localhost"],
)
def test_loopback_hosts_recognised(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["", None, "example.com", "10.0.0.1", "localhost.com"])
def test_other_hosts_not_loopback(host: str | None) -> None:
    assert not is_loopback_host(host)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/offers",
        "http://127.0.0.1:8080/offers",
        "http://localhost/offers",
        "http://[::1]:9000/x",
    ],
)
def test_default_guard_accepts(url: str) -> None:
    check_url(URL(url), Guard())


@pytest.mark.parametrize(
    ("url", "pattern"),
    [
        (
            "http://api.example.com/x",
            r"plain HTTP to 'api.example.com'.*allow_http=True",
        ),
        ("ftp://127.0.0.1/x", r"scheme 'ftp'"),
        ("https://169.254.169.254/latest", r"link-local.*allow_link_local=True"),
        ("http://169.254.169.254/latest", r"link-local.*allow_link_local=True"),
        ("https://[fe80::1]/x", r"allow_link_local=True"),
        ("https://[::ffff:169.254.169.254]/x", r"allow_link_local=True"),
        ("https://metadata.google.internal/x", r"allow_link_local=True"),
        ("https://100.100.100.200/x", r"allow_link_local=True"),
        ("https://[fd00:ec2::254]/x", r"allow_link_local=True"),
    ],
)
def test_default_guard_rejects(url: str, pattern: str) -> None:
    with pytest.raises(GuardError, match=pattern):
        check_url(URL(url), Guard())


def test_rejection_names_campaign() -> None:
    with pytest.raises(GuardError, match=r"^campaign 'DE': plain HTTP") as caught:
        check_url(URL("http://api.example.com/x"), Guard(), campaign="DE")

    assert caught.value.campaign == "DE"


def test_allow_http_lifts_scheme_rule() -> None:
    check_url(URL("http://api.example.com/x"), Guard(allow_http=True))


def test_allow_link_local_lifts_rule() -> None:
    check_url(URL("https://169.254.169.254/x"), Guard(allow_link_local=True))


@pytest.mark.parametrize(
    "address",
    [
        "169.254.0.1",
        "169.254.169.254",
        "fe80::1%eth0",
        "::ffff:169.254.1.1",
        "168.63.129.16",
    ],
)
def test_check_address_rejects(address: str) -> None:
    with pytest.raises(GuardError, match=r"allow_link_local"):
        check_address(address, "api.example.com", Guard())


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "93.184.216.34", "::1"])
def test_check_address_accepts(address: str) -> None:
    check_address(address, "api.example.com", Guard())


@pytest.mark.asyncio
async def test_resolver_rejects_link_local_answer() -> None:
    resolver = GuardedResolver(Guard(), FixedResolver("127.0.0.1", "169.254.169.254"))

    with pytest.raises(
        GuardError,
        match=r"'rebind.example' \(resolved to "
        r"169.254.169.254\)",
    ):
        await resolver.resolve("rebind.example", 443)


@pytest.mark.asyncio
async def test_resolver_passes_ordinary_answer() -> None:
    inner = FixedResolver("127.0.0.1")
    resolver = GuardedResolver(Guard(), inner)

    results = await resolver.resolve("api.example", 443)
    await resolver.close()

    assert [r["host"] for r in results] == ["127.0.0.1"]
    assert inner.closed


@pytest.mark.asyncio
async def test_resolver_honours_allow_link_local() -> None:
    resolver = GuardedResolver(
        Guard(allow_link_local=True), FixedResolver("169.254.169.254")
    )

    results = await resolver.resolve("metadata.example", 80)

    assert [r["host"] for r in results] == ["169.254.169.254"]


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"max_bytes": 0}, r"Guard.max_bytes must be more than zero"),
        ({"max_bytes": 1.5}, r"Guard.max_bytes must be a whole number"),
        ({"max_depth": -1}, r"Guard.max_depth"),
        ({"max_redirects": True}, r"Guard.max_redirects must be a whole number"),
        ({"allow_http": "yes"}, r"Guard.allow_http must be True or False"),
        ({"allow_infinity": 3}, r"Guard.allow_infinity must be True, False or a"),
        ({"allow_infinity": [1]}, r"collection of column names"),
    ],
)
def test_invalid_guard_rejected(changes: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ConfigurationError, match=pattern):
        Guard(**changes)


def test_allow_infinity_accepts_names() -> None:
    guard = Guard(allow_infinity=["cap"])

    assert guard.allows_infinity("cap")
    assert not guard.allows_infinity("discount")


def test_guard_error_is_extapi_error() -> None:
    assert issubclass(GuardError, ExtapiError)


@pytest.mark.parametrize("url", ["https:///x", "mailto:ann@example.com", "/relative"])
def test_url_without_host_rejected(url: str) -> None:
    with pytest.raises(GuardError, match=r"(has no host|uses scheme)"):
        check_url(URL(url), Guard())
