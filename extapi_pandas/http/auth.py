"""Authentication schemes applied to each campaign request."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import quote_plus

from yarl import URL

from extapi_pandas.errors import ConfigurationError, HTTPStatusError, InvalidJSON
from extapi_pandas.redaction import Redactor, Secret

__all__ = [
    "ApiKey",
    "Auth",
    "AuthTransport",
    "BasicAuth",
    "BearerToken",
    "OAuth2ClientCredentials",
    "PreparedAuth",
    "TokenReply",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedAuth:
    """Headers and query parameters that an auth scheme adds to a request."""

    headers: Mapping[str, str]
    params: Mapping[str, str]


class TokenReply(Protocol):
    """The parts of an HTTP response that a token exchange reads."""

    status: int
    body: bytes
    url: str


class AuthTransport(Protocol):
    """The fetch stage's services for auth schemes that talk to a token endpoint.

    The fetch stage implements it with the same guard rails, timeouts and retries
    as the campaign requests, so a token endpoint cannot escape them.
    """

    campaign: Any

    async def post_form(
        self, url: str, form: Mapping[str, str], headers: Mapping[str, str]
    ) -> TokenReply:
        """Send an `application/x-www-form-urlencoded` POST and return the reply."""
        ...

    def add_secret(self, value: str) -> None:
        """Mask `value` in every later log line, error and report of the call."""
        ...


class Auth:
    """Base class of authentication schemes.

    A scheme turns its credentials into headers or query parameters. Schemes that
    need a network exchange (OAuth2) use the `AuthTransport` they are given.
    """

    async def prepare(self, transport: AuthTransport) -> PreparedAuth:
        """Return the headers and query parameters to add to each request."""
        raise NotImplementedError

    async def refresh(self, transport: AuthTransport, rejected: PreparedAuth) -> bool:
        """Renew credentials after a 401 and return True when a retry may succeed.

        Args:
            transport: The fetch stage's services.
            rejected: The credentials that the server rejected with 401.
        """
        return False

    def secrets(self) -> list[str]:
        """Return the secret values, so that the redactor masks them everywhere."""
        return []

    def identity(self) -> str:
        """Return a label that distinguishes credentials without revealing them."""
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

    async def prepare(self, transport: AuthTransport) -> PreparedAuth:
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

    async def prepare(self, transport: AuthTransport) -> PreparedAuth:
        return PreparedAuth({"Authorization": f"Basic {self._encoded()}"}, {})

    def secrets(self) -> list[str]:
        return [self.password.reveal(), self._encoded()]

    def identity(self) -> str:
        return f"BasicAuth({self.username})"

    def _encoded(self) -> str:
        raw = f"{self.username}:{self.password.reveal()}".encode()
        return base64.b64encode(raw).decode("ascii")

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

    async def prepare(self, transport: AuthTransport) -> PreparedAuth:
        if self.location == "header":
            return PreparedAuth({self.name: self.key.reveal()}, {})
        return PreparedAuth({}, {self.name: self.key.reveal()})

    def secrets(self) -> list[str]:
        key = self.key.reveal()
        # The key as it appears percent-encoded in a query string, too.
        return [key, str(URL.build(query={"k": key}).raw_query_string)[2:]]

    def identity(self) -> str:
        return f"ApiKey({self.location}:{self.name})"

    def __repr__(self) -> str:
        return (
            f"ApiKey(key={self.key!r}, name={self.name!r}, location={self.location!r})"
        )


class OAuth2ClientCredentials(Auth):
    """OAuth 2.0 client credentials grant (RFC 6749, section 4.4).

    The token is fetched on first use, shared by every campaign of a call (and by
    later calls with the same object), and fetched again shortly before it expires
    or once after a campaign request gets a 401 response. The token request goes
    through the same guard rails, timeouts and retries as campaign requests.

    Args:
        token_url: The token endpoint.
        client_id: The client identifier; it is not secret and appears in reprs.
        client_secret: The client secret, as a string or `Secret`.
        scope: Scopes to request, as one space-separated string or a sequence.
        client_auth: How the client authenticates to the token endpoint: `"basic"`
            (HTTP Basic, the method every server must support) or `"post"` (id
            and secret in the form body).
        expiry_margin: Seconds before the announced expiry at which the token is
            treated as expired, so that no request carries a token that expires
            in flight.

    Example:
        >>> auth = OAuth2ClientCredentials(
        ...     "https://auth.example.com/oauth/token",
        ...     client_id="crm-enrichment",
        ...     client_secret=Secret.from_env("CRM_CLIENT_SECRET"),
        ...     scope=["offers:read"],
        ... )  # doctest: +SKIP
    """

    def __init__(
        self,
        token_url: str,
        *,
        client_id: str,
        client_secret: str | Secret,
        scope: str | Sequence[str] | None = None,
        client_auth: Literal["basic", "post"] = "basic",
        expiry_margin: float = 30.0,
    ) -> None:
        if not isinstance(token_url, str) or not token_url:
            raise ConfigurationError(
                f"OAuth2ClientCredentials token_url must be a URL, got {token_url!r}"
            )
        if client_auth not in ("basic", "post"):
            raise ConfigurationError(
                f"OAuth2ClientCredentials client_auth must be 'basic' or 'post', got "
                f"{client_auth!r}"
            )
        if (
            isinstance(expiry_margin, bool)
            or not isinstance(expiry_margin, int | float)
            or expiry_margin < 0
        ):
            raise ConfigurationError(
                "OAuth2ClientCredentials expiry_margin must be zero or more seconds, "
                f"got {expiry_margin!r}"
            )
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = Secret.coerce(client_secret)
        self.scope = (
            scope if scope is None or isinstance(scope, str) else " ".join(scope)
        )
        self.client_auth = client_auth
        self.expiry_margin = float(expiry_margin)
        self._lock = threading.Lock()
        self._token: Secret | None = None
        self._expires_at: float | None = None

    async def prepare(self, transport: AuthTransport) -> PreparedAuth:
        token = self._valid_token()
        if token is None:
            token = await self._fetch_token(transport)
        transport.add_secret(token.reveal())
        return PreparedAuth({"Authorization": f"Bearer {token.reveal()}"}, {})

    async def refresh(self, transport: AuthTransport, rejected: PreparedAuth) -> bool:
        with self._lock:
            current = self._token
        if (
            current is not None
            and rejected.headers.get("Authorization") != f"Bearer {current.reveal()}"
        ):
            return True  # another campaign has already fetched a new token
        logger.info(
            "token from %s was rejected with 401; fetching a new one", self._shown_url()
        )
        await self._fetch_token(transport)
        return True

    def secrets(self) -> list[str]:
        values = [self.client_secret.reveal(), self._basic_credentials()]
        with self._lock:
            if self._token is not None:
                values.append(self._token.reveal())
        return values

    def identity(self) -> str:
        return f"OAuth2ClientCredentials({self.client_id}@{self._shown_url()})"

    def __repr__(self) -> str:
        return (
            f"OAuth2ClientCredentials(token_url={self._shown_url()!r}, "
            f"client_id={self.client_id!r}, client_secret={self.client_secret!r}, "
            f"scope={self.scope!r})"
        )

    def _shown_url(self) -> str:
        return Redactor(self.secrets()).url(self.token_url)

    def _valid_token(self) -> Secret | None:
        with self._lock:
            if self._token is None:
                return None
            if self._expires_at is not None and time.monotonic() >= self._expires_at:
                return None
            return self._token

    async def _fetch_token(self, transport: AuthTransport) -> Secret:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        headers = {"Accept": "application/json"}
        if self.client_auth == "basic":
            headers["Authorization"] = f"Basic {self._basic_credentials()}"
        else:
            form["client_id"] = self.client_id
            form["client_secret"] = self.client_secret.reveal()
        requested = time.monotonic()
        reply = await transport.post_form(self.token_url, form, headers)
        token, lifetime = self._read_reply(reply, transport.campaign)
        transport.add_secret(token)
        secret = Secret(token)
        with self._lock:
            self._token = secret
            self._expires_at = (
                None
                if lifetime is None
                else requested + max(0.0, lifetime - self.expiry_margin)
            )
        logger.info(
            "fetched an OAuth2 token from %s (expires in %s s)",
            reply.url,
            "?" if lifetime is None else f"{lifetime:g}",
        )
        return secret

    def _read_reply(self, reply: TokenReply, campaign: Any) -> tuple[str, float | None]:
        document = _token_document(reply, campaign)
        if not 200 <= reply.status < 300:
            raise HTTPStatusError(
                f"campaign {campaign!r}: the token endpoint {reply.url} rejected the "
                f"client credentials with HTTP {reply.status}"
                f"{_oauth_error(document)}; check client_id, client_secret and "
                "scope of OAuth2ClientCredentials",
                status=reply.status,
                campaign=campaign,
            )
        token = document.get("access_token") if isinstance(document, dict) else None
        if not isinstance(token, str) or not token:
            raise InvalidJSON(
                f"campaign {campaign!r}: the token endpoint {reply.url} responded "
                "without an access_token string; check token_url",
                campaign=campaign,
            )
        token_type = document.get("token_type", "bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise InvalidJSON(
                f"campaign {campaign!r}: the token endpoint {reply.url} issued a "
                f"{token_type!r} token; only bearer tokens are supported",
                campaign=campaign,
            )
        return token, _lifetime(document.get("expires_in"))

    def _basic_credentials(self) -> str:
        # RFC 6749, section 2.3.1: both parts are form-encoded before Basic encoding.
        raw = f"{quote_plus(self.client_id)}:{quote_plus(self.client_secret.reveal())}"
        return base64.b64encode(raw.encode()).decode("ascii")


def _token_document(reply: TokenReply, campaign: Any) -> Any:
    try:
        return json.loads(reply.body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        if not 200 <= reply.status < 300:
            return None
        raise InvalidJSON(
            f"campaign {campaign!r}: the token endpoint {reply.url} responded with "
            f"HTTP {reply.status} and a body that is not JSON; check token_url",
            campaign=campaign,
        ) from None


def _oauth_error(document: Any) -> str:
    if not isinstance(document, dict) or not isinstance(document.get("error"), str):
        return ""
    description = document.get("error_description")
    detail = f": {description}" if isinstance(description, str) else ""
    return f" ({document['error']}{detail})"


def _lifetime(expires_in: Any) -> float | None:
    """Return `expires_in` in seconds, or None when absent or unreadable."""
    if isinstance(expires_in, bool):
        return None
    if isinstance(expires_in, int | float):
        return float(expires_in)
    if isinstance(expires_in, str):
        try:
            return float(expires_in)
        except ValueError:
            return None
    return None
