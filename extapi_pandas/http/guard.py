"""Guard rails on where a campaign call may go: scheme, host and resolved address."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from extapi_pandas.errors import GuardError
from extapi_pandas.options import Guard

__all__ = ["GuardedResolver", "check_address", "check_url", "is_loopback_host"]

# Cloud metadata services. The link-local ones are also caught by the link-local
# rule; the others are listed because they sit in ordinary private ranges.
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer
    )
)
_METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback_host(host: str | None) -> bool:
    """Return True for `localhost` and literal loopback addresses (127.0.0.0/8, ::1)."""
    if not host:
        return False
    name = host.strip("[]").rstrip(".").lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_url(url: URL, guard: Guard, *, campaign: Any = None) -> None:
    """Reject a URL whose scheme or literal host breaks a guard rail.

    Host names are checked again on the addresses they resolve to, by
    `GuardedResolver`.

    Raises:
        GuardError: The scheme is not HTTP(S), the host is a metadata name or a
            link-local address, or plain HTTP goes to a host that is not loopback.
    """
    prefix = "" if campaign is None else f"campaign {campaign!r}: "
    scheme = (url.scheme or "").lower()
    host = url.host or ""
    shown = _without_secrets(url)
    if scheme not in ("http", "https"):
        raise GuardError(
            f"{prefix}URL {shown!s} uses scheme {scheme!r}; only https (and http to "
            "loopback hosts) is supported",
            campaign=campaign,
        )
    if not host:
        raise GuardError(f"{prefix}URL {shown!s} has no host", campaign=campaign)
    if not guard.allow_link_local:
        _check_host_literal(host, guard, prefix, campaign)
    if scheme == "http" and not guard.allow_http and not is_loopback_host(host):
        raise GuardError(
            f"{prefix}plain HTTP to {host!r} is not allowed, because credentials and "
            "data would cross the network unencrypted; use https, or pass "
            "allow_http=True to accept the risk",
            campaign=campaign,
        )


def _without_secrets(url: URL) -> str:
    """Return `url` for a message, without userinfo, query and fragment."""
    bare = url.with_query(None).with_fragment(None)
    return str(bare.with_user(None) if bare.absolute else bare)


def _check_host_literal(host: str, guard: Guard, prefix: str, campaign: Any) -> None:
    if host.rstrip(".").lower() in _METADATA_HOSTS:
        raise GuardError(prefix + _metadata_message(host), campaign=campaign)
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return
    try:
        check_address(address, host, guard)
    except GuardError as exc:
        raise GuardError(prefix + str(exc), campaign=campaign) from None


def check_address(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | str,
    host: str,
    guard: Guard,
) -> None:
    """Reject link-local and cloud metadata addresses unless `allow_link_local` is set.

    Raises:
        GuardError: The address is link-local (169.254.0.0/16, fe80::/10) or a
            known cloud metadata address.
    """
    if guard.allow_link_local:
        return
    parsed = (
        ipaddress.ip_address(address.split("%")[0])
        if isinstance(address, str)
        else address
    )
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    if parsed in _METADATA_ADDRESSES or parsed.is_link_local:
        raise GuardError(_metadata_message(host, parsed))


def _metadata_message(host: str, address: Any = None) -> str:
    resolved = (
        f" (resolved to {address})"
        if address is not None and str(address) != host.strip("[]").split("%")[0]
        else ""
    )
    return (
        f"host {host!r}{resolved} is a link-local or cloud metadata address, which "
        "could expose machine credentials; pass allow_link_local=True only if you "
        "mean to call it"
    )


class GuardedResolver(AbstractResolver):
    """A resolver that checks every resolved address against the guard rails.

    Args:
        guard: The guard rails in force.
        inner: The resolver that does the lookup; aiohttp's default when None.
    """

    def __init__(self, guard: Guard, inner: AbstractResolver | None = None) -> None:
        self._guard = guard
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            check_address(result["host"], host, self._guard)
        return results

    async def close(self) -> None:
        await self._inner.close()
