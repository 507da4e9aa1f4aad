"""Authentication schemes applied to each campaign request."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from yarl import URL

from extapi_pandas.errors import ConfigurationError
from extapi_pandas.redaction import Secret

__all__ = ["ApiKey", "Auth", "BasicAuth", "BearerToken", "PreparedAuth"]


@dataclass(frozen=True)
class PreparedAuth:
    """Headers and query parameters that an auth scheme adds to a request."""

    headers: Mapping[str, str]
    params: Mapping[str, str]


class Auth:
    """Base class of authentication schemes.

    A scheme turns its credentials into headers or query parameters. Schemes that
    need a network exchange (OAuth2) override `prepare` with one that uses the
    call's session.
    """

    async def prepare(self, session: Any) -> PreparedAuth:
        """Return the headers and query parameters to add to each request."""
        raise NotImplementedError

    async def refresh(self, session: Any) -> bool:
        """Renew credentials after a 401; return True when a retry may succeed."""
        return False

    def secrets(self) -> list[str]:
        """Return the secret values, so that the redactor masks them everywhere."""
        return []

    def identity(self) -> str:
        """Return a description that tells credentials apart without revealing them."""
        return type(self).__name__


class BearerToken(Auth):
    """`Authorization: Bearer <token>`.

    Args:
        token: The token, as a string or `Secret`.

    Example:
        >>> BearerToken(Secret.from_env("OFFERS_TOKEN"))  # doctest: +SKIP
        BearerToken(token=Secret('[secure]', env='OFFERS_TOKEN'))
    """

    def __init__(self, token: str | Secret) -> None:
        self.token = Secret.coerce(token)

    async def prepare(self, session: Any) -> PreparedAuth:
        return PreparedAuth({"Authorization": f"Bearer {self.token.reveal()}"}, {})

    def secrets(self) -> list[str]:
        return [self.token.reveal()]

    def __repr__(self) -> str:
        return f"BearerToken(token={self.token!r})"


class BasicAuth(Auth):
    """HTTP Basic authentication (RFC 7617).

    Args:
        username: The user name; it is not secret and appears in reprs.
        password: The password, as a string or `Secret`.
    """

    def __init__(self, username: str, password: str | Secret) -> None:
        if ":" in username:
            raise ConfigurationError(
                f"BasicAuth username {username!r} contains ':', which Basic "
                "authentication cannot carry; check the username"
            )
        self.username = username
        self.password = Secret.coerce(password)

    async def prepare(self, session: Any) -> PreparedAuth:
        raw = f"{self.username}:{self.password.reveal()}".encode()
        encoded = base64.b64encode(raw).decode("ascii")
        return PreparedAuth({"Authorization": f"Basic {encoded}"}, {})

    def secrets(self) -> list[str]:
        raw = f"{self.username}:{self.password.reveal()}".encode()
        return [self.password.reveal(), base64.b64encode(raw).decode("ascii")]

    def identity(self) -> str:
        return f"BasicAuth({self.username})"

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password={self.password!r})"


class ApiKey(Auth):
    """An API key sent in a header or a query parameter.

    Args:
        key: The key, as a string or `Secret`.
        name: The header or query parameter name.
        location: `"header"` or `"query"`.

    Example:
        >>> ApiKey("k-123", name="appid", location="query").location
        'query'
    """

    def __init__(
        self,
        key: str | Secret,
        *,
        name: str = "X-API-Key",
        location: Literal["header", "query"] = "header",
    ) -> None:
        if location not in ("header", "query"):
            raise ConfigurationError(
                f"ApiKey location must be 'header' or 'query', got {location!r}"
            )
        self.key = Secret.coerce(key)
        self.name = name
        self.location = location

    async def prepare(self, session: Any) -> PreparedAuth:
        if self.location == "header":
            return PreparedAuth({self.name: self.key.reveal()}, {})
        return PreparedAuth({}, {self.name: self.key.reveal()})

    def secrets(self) -> list[str]:
        key = self.key.reveal()
        return [key, str(URL.build(query={"k": key}).raw_query_string)[2:]]

    def identity(self) -> str:
        return f"ApiKey({self.location}:{self.name})"

    def __repr__(self) -> str:
        return (f"ApiKey(key={self.key!r}, name={self.name!r}, "
                f"location={self.location!r})")
