"""Auth schemes: static credentials, OAuth2 client credentials, masked secrets."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from aiohttp import web
from conftest import HITS
from faults import unchanged

import extapi_pandas
from extapi_pandas import (
    ApiKey,
    BasicAuth,
    BearerToken,
    OAuth2ClientCredentials,
    Retry,
    Secret,
)
from extapi_pandas.demo import BackgroundServer
from extapi_pandas.errors import (
    ConfigurationError,
    HTTPStatusError,
    InvalidJSON,
    RedirectError,
    ResponseTooLarge,
)

Serve = Callable[..., BackgroundServer]
COLUMNS = {"pct": "$.pct"}
CLIENT_SECRET = "cs-9d2f-very-secret"


def three_campaigns() -> pd.DataFrame:
    return pd.DataFrame({"campaign": ["a", "b", "c", "a"]})


class OAuthServer:
    """A token endpoint and an API that accepts only the tokens it issued.

    Args:
        serve: The `serve` fixture.
        expires_in: Lifetime announced with each token, or None to omit it.
        rejected: Issued tokens that the API rejects with 401 all the same.
    """

    def __init__(
        self,
        serve: Serve,
        *,
        expires_in: Any = 3600,
        rejected: set[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.expires_in = expires_in
        self.rejected = rejected or set()
        self.issued: list[str] = []
        self.token_requests: list[dict[str, Any]] = []
        self.server = serve(
            {"POST /token": self.token, "/data/{campaign}": self.data},
            ssl_context=ssl_context,
        )

    async def token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.token_requests.append(
            {"form": form, "authorization": request.headers.get("Authorization")}
        )
        if not self._client_ok(form, request.headers.get("Authorization")):
            return web.json_response(
                {"error": "invalid_client", "error_description": "unknown client"},
                status=401,
            )
        token = f"tok-{len(self.issued) + 1}-x7"
        self.issued.append(token)
        body: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return web.json_response(body)

    async def data(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        if token not in self.issued or token in self.rejected:
            return web.Response(status=401, text="invalid token")
        return web.json_response({"pct": 10})

    def _client_ok(self, form: dict[str, Any], authorization: str | None) -> bool:
        if authorization:
            decoded = base64.b64decode(authorization.removeprefix("Basic ")).decode()
            return decoded == f"crm:{CLIENT_SECRET}"
        return form.get("client_id") == "crm" and form.get("client_secret") == (
            CLIENT_SECRET
        )

    def auth(self, **options: Any) -> OAuth2ClientCredentials:
        return OAuth2ClientCredentials(
            self.server.url("/token"),
            client_id="crm",
            client_secret=options.pop("client_secret", CLIENT_SECRET),
            scope=["offers:read", "regions:read"],
            **options,
        )

    def url(self) -> str:
        return self.server.url("/data/{campaign}")


def enrich(frame: pd.DataFrame, oauth: OAuthServer, auth: Any, **options: Any) -> Any:
    return frame.extapi.enrich(
        oauth.url(), campaign="campaign", columns=COLUMNS, auth=auth, **options
    )


def test_token_shared_by_campaigns(serve: Serve) -> None:
    oauth = OAuthServer(serve)

    result = enrich(three_campaigns(), oauth, oauth.auth())

    assert result["pct"].tolist() == [10, 10, 10, 10]
    assert len(oauth.token_requests) == 1
    assert oauth.server.app[HITS]["/token"] == 1


def test_token_request_form(serve: Serve) -> None:
    oauth = OAuthServer(serve)

    enrich(three_campaigns(), oauth, oauth.auth())

    sent = oauth.token_requests[0]
    assert sent["form"] == {
        "grant_type": "client_credentials",
        "scope": "offers:read regions:read",
    }
    assert sent["authorization"].startswith("Basic ")


def test_client_auth_post_sends_form(serve: Serve) -> None:
    oauth = OAuthServer(serve)

    enrich(three_campaigns(), oauth, oauth.auth(client_auth="post"))

    sent = oauth.token_requests[0]
    assert sent["form"]["client_secret"] == CLIENT_SECRET
    assert sent["authorization"] is None


def test_token_cached_across_calls(serve: Serve) -> None:
    oauth = OAuthServer(serve)
    auth = oauth.auth()

    enrich(three_campaigns(), oauth, auth)
    enrich(three_campaigns(), oauth, auth)

    assert len(oauth.token_requests) == 1


def test_token_refetched_near_expiry(serve: Serve) -> None:
    oauth = OAuthServer(serve, expires_in=10)
    auth = oauth.auth(expiry_margin=30)  # every token is already "near expiry"

    enrich(three_campaigns(), oauth, auth, max_concurrency=1)

    assert len(oauth.token_requests) == 3


def test_token_without_expiry_cached(serve: Serve) -> None:
    oauth = OAuthServer(serve, expires_in=None)
    auth = oauth.auth()

    enrich(three_campaigns(), oauth, auth)
    enrich(three_campaigns(), oauth, auth)

    assert len(oauth.token_requests) == 1


def test_401_refreshes_token_once(serve: Serve) -> None:
    oauth = OAuthServer(serve, rejected={"tok-1-x7"})

    result = enrich(three_campaigns(), oauth, oauth.auth())

    assert result["pct"].tolist() == [10, 10, 10, 10]
    assert oauth.issued == ["tok-1-x7", "tok-2-x7"]


def test_persistent_401_is_error(serve: Serve) -> None:
    oauth = OAuthServer(serve, rejected={"tok-1-x7", "tok-2-x7", "tok-3-x7"})
    frame = pd.DataFrame({"campaign": ["a"]})

    with unchanged(frame), pytest.raises(HTTPStatusError, match=r"HTTP 401.*auth="):
        enrich(frame, oauth, oauth.auth())

    assert len(oauth.issued) == 2
    assert oauth.server.app[HITS]["/data/a"] == 2


def test_static_auth_401_not_repeated(serve: Serve) -> None:
    oauth = OAuthServer(serve)
    frame = pd.DataFrame({"campaign": ["a"]})

    with pytest.raises(HTTPStatusError, match=r"HTTP 401") as caught:
        enrich(frame, oauth, BearerToken("not-issued"))

    assert oauth.server.app[HITS]["/data/a"] == 1
    assert caught.value.code == "http_401"


def test_wrong_client_secret_is_clear(serve: Serve) -> None:
    oauth = OAuthServer(serve)
    frame = pd.DataFrame({"campaign": ["a"]})

    with (
        unchanged(frame),
        pytest.raises(
            HTTPStatusError,
            match=r"token endpoint .* rejected the client credentials with HTTP 401 "
            r"\(invalid_client: unknown client\); check client_id",
        ) as caught,
    ):
        enrich(frame, oauth, oauth.auth(client_secret="wrong-secret-value"))

    assert "wrong-secret-value" not in str(caught.value)


def test_token_endpoint_redirect_refused(serve: Serve) -> None:
    async def moved(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": "/elsewhere"})

    token_server = serve({"POST /token": moved})
    oauth = OAuthServer(serve)
    auth = OAuth2ClientCredentials(
        token_server.url("/token"), client_id="crm", client_secret=CLIENT_SECRET
    )

    with pytest.raises(RedirectError, match=r"follow_redirects=True"):
        enrich(pd.DataFrame({"campaign": ["a"]}), oauth, auth)

    assert oauth.server.app[HITS]["/data/a"] == 0


def test_token_endpoint_size_capped(serve: Serve) -> None:
    async def huge(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "x" * 5000})

    token_server = serve({"POST /token": huge})
    oauth = OAuthServer(serve)
    auth = OAuth2ClientCredentials(
        token_server.url("/token"), client_id="crm", client_secret=CLIENT_SECRET
    )

    with pytest.raises(ResponseTooLarge, match=r"max_bytes"):
        enrich(pd.DataFrame({"campaign": ["a"]}), oauth, auth, max_bytes=1000)


def test_token_endpoint_503_retried(serve: Serve) -> None:
    oauth = OAuthServer(serve)
    calls = 0

    async def busy_then_token(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            return web.Response(status=503)
        return await oauth.token(request)

    token_server = serve({"POST /token": busy_then_token})
    auth = OAuth2ClientCredentials(
        token_server.url("/token"), client_id="crm", client_secret=CLIENT_SECRET
    )

    result = enrich(
        pd.DataFrame({"campaign": ["a"]}),
        oauth,
        auth,
        retries=Retry(attempts=2, backoff=0.0),
    )

    assert result["pct"].tolist() == [10]
    assert calls == 2


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        ({"token_type": "bearer"}, r"without an access_token"),
        ({"access_token": "t", "token_type": "mac"}, r"issued a 'mac' token"),
    ],
)
def test_bad_token_reply_is_clear(
    serve: Serve, body: dict[str, Any], pattern: str
) -> None:
    async def reply(request: web.Request) -> web.Response:
        return web.json_response(body)

    token_server = serve({"POST /token": reply})
    oauth = OAuthServer(serve)
    auth = OAuth2ClientCredentials(
        token_server.url("/token"), client_id="crm", client_secret=CLIENT_SECRET
    )

    with pytest.raises(InvalidJSON, match=pattern):
        enrich(pd.DataFrame({"campaign": ["a"]}), oauth, auth)


def test_oauth_over_tls(
    serve: Serve, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    oauth = OAuthServer(serve, ssl_context=server_tls)

    result = enrich(three_campaigns(), oauth, oauth.auth(), verify=client_tls)

    assert result["pct"].tolist() == [10, 10, 10, 10]


def test_oauth_exported() -> None:
    assert "OAuth2ClientCredentials" in extapi_pandas.__all__


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"client_auth": "jwt"}, r"client_auth must be 'basic' or 'post'"),
        ({"expiry_margin": -1}, r"expiry_margin must be zero or more"),
        ({"token_url": ""}, r"token_url must be a URL"),
    ],
)
def test_invalid_oauth_rejected(options: dict[str, Any], pattern: str) -> None:
    arguments: dict[str, Any] = {
        "token_url": "https://auth.example/token",
        "client_id": "crm",
        "client_secret": "s3cret",
    }
    arguments.update(options)

    with pytest.raises(ConfigurationError, match=pattern):
        OAuth2ClientCredentials(**arguments)


def test_secret_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTAPI_TEST_TOKEN", "env-secret-123")

    secret = Secret.from_env("EXTAPI_TEST_TOKEN")

    assert secret.reveal() == "env-secret-123"
    assert repr(secret) == "Secret('[secure]', env='EXTAPI_TEST_TOKEN')"


def test_missing_env_secret_is_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXTAPI_TEST_TOKEN", raising=False)

    with pytest.raises(ConfigurationError, match=r"'EXTAPI_TEST_TOKEN' is not set"):
        Secret.from_env("EXTAPI_TEST_TOKEN")


@pytest.mark.parametrize(
    "auth",
    [
        BearerToken("plain-secret-1"),
        BasicAuth("ann", "plain-secret-1"),
        ApiKey("plain-secret-1", name="appid", location="query"),
        OAuth2ClientCredentials(
            "https://auth.example/token",
            client_id="crm",
            client_secret="plain-secret-1",
        ),
    ],
    ids=["bearer", "basic", "apikey", "oauth2"],
)
def test_auth_repr_is_masked(auth: Any) -> None:
    assert "plain-secret-1" not in repr(auth)
    assert "[secure]" in repr(auth)


def test_secret_cannot_be_pickled() -> None:
    import pickle

    with pytest.raises(TypeError, match=r"cannot be pickled"):
        pickle.dumps(Secret("abc-123"))


def test_api_key_in_query(serve: Serve) -> None:
    seen: list[str | None] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.query.get("appid"))
        return web.json_response({"pct": 1})

    server = serve({"/d": handle})

    pd.DataFrame({"c": [1]}).extapi.enrich(
        server.url("/d"),
        columns=COLUMNS,
        auth=ApiKey("key 1&2", name="appid", location="query"),
    )

    assert seen == ["key 1&2"]


def test_basic_auth_header(serve: Serve) -> None:
    seen: list[str | None] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"pct": 1})

    server = serve({"/d": handle})

    pd.DataFrame({"c": [1]}).extapi.enrich(
        server.url("/d"), columns=COLUMNS, auth=BasicAuth("ann", "pw:1")
    )

    assert seen == ["Basic " + base64.b64encode(b"ann:pw:1").decode()]
