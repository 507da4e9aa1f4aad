"""Redirects: off by default; when on, same-host, limited, loop- and credential-safe."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from aiohttp import web
from conftest import HITS
from faults import json_handler, unchanged
from yarl import URL

import extapi_pandas  # noqa: F401  (registers df.extapi)
from extapi_pandas import ApiKey, BearerToken, ExternalAPI, Guard
from extapi_pandas.demo import BackgroundServer
from extapi_pandas.errors import ConfigurationError, GuardError, RedirectError
from extapi_pandas.http.redirects import Hop, next_hop
from extapi_pandas.redaction import Redactor

Serve = Callable[..., BackgroundServer]
COLUMNS = {"pct": "$.pct"}
TOKEN = "tok-redirect-3f9a"


def host_of(server: BackgroundServer) -> str:
    """Return the `redirect_hosts` entry for `server`: its address and port."""
    return f"{server.host}:{server.port}"


def audience() -> pd.DataFrame:
    return pd.DataFrame({"campaign": ["spring", "spring"]})


def redirect_to(location: str, status: int = 302) -> Callable[..., Any]:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location})

    return handle


def test_redirect_refused_by_default(serve: Serve) -> None:
    server = serve({"/old": redirect_to("/new"), "/new": json_handler('{"pct": 5}')})
    frame = audience()

    with (
        unchanged(frame),
        pytest.raises(
            RedirectError, match=r"'spring'.*responded with 302.*follow_redirects=True"
        ),
    ):
        frame.extapi.enrich(server.url("/old"), campaign="campaign", columns=COLUMNS)

    assert server.app[HITS]["/new"] == 0


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_followed_when_enabled(serve: Serve, status: int) -> None:
    server = serve(
        {"/old": redirect_to("/new", status), "/new": json_handler('{"pct": 5}')}
    )

    result = audience().extapi.enrich(
        server.url("/old"), columns=COLUMNS, follow_redirects=True
    )

    assert result["pct"].tolist() == [5, 5]


def chain_server(serve: Serve, length: int) -> BackgroundServer:
    routes = {f"/r{i}": redirect_to(f"/r{i + 1}") for i in range(length)}
    routes[f"/r{length}"] = json_handler('{"pct": 7}')
    return serve(routes)


def test_five_redirects_followed(serve: Serve) -> None:
    server = chain_server(serve, 5)

    result = audience().extapi.enrich(
        server.url("/r0"), columns=COLUMNS, follow_redirects=True
    )

    assert result["pct"].tolist() == [7, 7]


def test_sixth_redirect_refused(serve: Serve) -> None:
    server = chain_server(serve, 6)

    with pytest.raises(RedirectError, match=r"after 5 redirects.*max_redirects"):
        audience().extapi.enrich(
            server.url("/r0"), columns=COLUMNS, follow_redirects=True
        )

    assert server.app[HITS]["/r6"] == 0


def test_max_redirects_raises_limit(serve: Serve) -> None:
    server = chain_server(serve, 6)

    result = audience().extapi.enrich(
        server.url("/r0"), columns=COLUMNS, follow_redirects=True, max_redirects=6
    )

    assert result["pct"].tolist() == [7, 7]


def test_redirect_loop_detected(serve: Serve) -> None:
    server = serve({"/a": redirect_to("/b"), "/b": redirect_to("/a")})

    with pytest.raises(RedirectError, match=r"redirect loop"):
        audience().extapi.enrich(
            server.url("/a"), columns=COLUMNS, follow_redirects=True, max_redirects=20
        )

    assert server.app[HITS]["/a"] == 1


def test_missing_location_is_error(serve: Serve) -> None:
    async def bare(request: web.Request) -> web.Response:
        return web.Response(status=302)

    server = serve({"/a": bare})

    with pytest.raises(RedirectError, match=r"without a Location header"):
        audience().extapi.enrich(
            server.url("/a"), columns=COLUMNS, follow_redirects=True
        )


class HeaderLog:
    """Records the headers and query of each request to one server."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(
            {"headers": dict(request.headers), "query": dict(request.query)}
        )
        return web.Response(body=b'{"pct": 9}', content_type="application/json")


def test_credentials_kept_on_same_host(serve: Serve) -> None:
    log = HeaderLog()
    server = serve({"/a": redirect_to("/b"), "/b": log.handle})

    audience().extapi.enrich(
        server.url("/a"),
        columns=COLUMNS,
        follow_redirects=True,
        auth=BearerToken(TOKEN),
    )

    assert log.seen[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("auth", "headers"),
    [
        (BearerToken(TOKEN), None),
        (ApiKey(TOKEN, name="appid", location="query"), None),
        (ApiKey(TOKEN), None),
        (None, {"Authorization": f"Bearer {TOKEN}", "Cookie": f"sid={TOKEN}"}),
    ],
    ids=["bearer", "query-key", "header-key", "headers"],
)
def test_credentials_dropped_for_other_host(
    serve: Serve, auth: Any, headers: dict[str, str] | None
) -> None:
    log = HeaderLog()
    other = serve({"/landing": log.handle})
    first = serve({"/start": redirect_to(other.url("/landing") + "?x=1")})

    result = audience().extapi.enrich(
        first.url("/start"),
        columns=COLUMNS,
        follow_redirects=True,
        redirect_hosts=["127.0.0.1"],
        auth=auth,
        headers=headers,
    )

    assert result["pct"].tolist() == [9, 9]
    sent = log.seen[0]
    assert all(TOKEN not in value for value in sent["headers"].values())
    assert all(TOKEN not in value for value in sent["query"].values())
    assert sent["query"] == {"x": "1"}


def test_server_cookie_not_sent_elsewhere(serve: Serve) -> None:
    # Cookies match by host name, not port: both servers are "localhost" here.
    log = HeaderLog()
    other = serve({"/landing": log.handle})

    async def start(request: web.Request) -> web.Response:
        location = f"http://localhost:{other.port}/landing"
        response = web.Response(status=302, headers={"Location": location})
        response.set_cookie("sid", TOKEN)
        return response

    first = serve({"/start": start})

    audience().extapi.enrich(
        f"http://localhost:{first.port}/start",
        columns=COLUMNS,
        follow_redirects=True,
        redirect_hosts=[f"localhost:{other.port}"],
    )

    assert "Cookie" not in log.seen[0]["headers"]


def test_secret_echoed_in_location_dropped(serve: Serve) -> None:
    log = HeaderLog()
    other = serve({"/landing": log.handle})
    first = serve({"/start": redirect_to(other.url("/landing") + f"?k={TOKEN}&x=2")})

    audience().extapi.enrich(
        first.url("/start"),
        columns=COLUMNS,
        follow_redirects=True,
        redirect_hosts=[host_of(other)],
        auth=ApiKey(TOKEN, name="k", location="query"),
    )

    assert log.seen[0]["query"] == {"x": "2"}


def test_post_becomes_get_after_303(serve: Serve) -> None:
    methods: list[str] = []

    async def landing(request: web.Request) -> web.Response:
        methods.append(request.method)
        return web.Response(body=b'{"pct": 3}', content_type="application/json")

    server = serve({"POST /submit": redirect_to("/result", 303), "/result": landing})

    audience().extapi.enrich(
        server.url("/submit"),
        method="POST",
        json={"a": 1},
        columns=COLUMNS,
        follow_redirects=True,
    )

    assert methods == ["GET"]


def test_body_secret_not_sent_elsewhere(serve: Serve) -> None:
    other = serve({"POST /landing": json_handler('{"pct": 1}')})
    first = serve({"POST /start": redirect_to(other.url("/landing"), 307)})

    with pytest.raises(GuardError, match=r"request body that holds credentials"):
        audience().extapi.enrich(
            first.url("/start"),
            method="POST",
            json={"password": TOKEN},
            columns=COLUMNS,
            follow_redirects=True,
            redirect_hosts=[host_of(other)],
            auth=BearerToken(TOKEN),
        )

    assert other.app[HITS]["/landing"] == 0


def test_https_to_http_never_followed(
    serve: Serve, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    plain = serve({"/landing": json_handler('{"pct": 1}')})
    secure = serve(
        {"/start": redirect_to(plain.url("/landing"))}, ssl_context=server_tls
    )
    frame = audience()

    with (
        unchanged(frame),
        pytest.raises(
            GuardError, match=r"redirecting from HTTPS to http://127\.0\.0\.1.*never"
        ),
    ):
        frame.extapi.enrich(
            secure.url("/start"),
            columns=COLUMNS,
            follow_redirects=True,
            verify=client_tls,
        )

    assert plain.app[HITS]["/landing"] == 0


def test_https_redirect_followed(
    serve: Serve, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    secure = serve(
        {"/start": redirect_to("/landing"), "/landing": json_handler('{"pct": 4}')},
        ssl_context=server_tls,
    )

    result = audience().extapi.enrich(
        secure.url("/start"), columns=COLUMNS, follow_redirects=True, verify=client_tls
    )

    assert result["pct"].tolist() == [4, 4]


def test_redirect_target_checked_by_guard(serve: Serve) -> None:
    server = serve({"/a": redirect_to("ftp://127.0.0.1/file.json")})

    with pytest.raises(GuardError, match=r"'spring': URL ftp://127\.0\.0\.1/file"):
        audience().extapi.enrich(
            server.url("/a"),
            campaign="campaign",
            columns=COLUMNS,
            follow_redirects=True,
        )


def test_other_host_rejected_by_default(serve: Serve) -> None:
    other = serve({"/landing": json_handler('{"pct": 1}')})
    first = serve({"/start": redirect_to(other.url("/landing"))})
    frame = audience()

    with (
        unchanged(frame),
        pytest.raises(RedirectError) as caught,
    ):
        frame.extapi.enrich(
            first.url("/start"),
            campaign="campaign",
            columns=COLUMNS,
            follow_redirects=True,
        )

    message = str(caught.value)
    assert f"on another host ({host_of(other)})" in message
    assert f"than the first request ({host_of(first)})" in message
    assert f"redirect_hosts=['{host_of(other)}']" in message
    assert caught.value.campaign == "spring"
    assert other.app[HITS]["/landing"] == 0


def test_other_host_error_hides_secrets(serve: Serve) -> None:
    other = serve({"/landing": json_handler('{"pct": 1}')})
    first = serve({"/start": redirect_to(other.url("/landing") + f"?key={TOKEN}")})

    with pytest.raises(RedirectError, match=r"another host") as caught:
        audience().extapi.enrich(
            first.url("/start"),
            columns=COLUMNS,
            follow_redirects=True,
            auth=ApiKey(TOKEN, name="key", location="query"),
        )

    assert TOKEN not in str(caught.value)


def test_localhost_is_another_host(serve: Serve) -> None:
    async def to_localhost(request: web.Request) -> web.Response:
        location = f"http://localhost:{request.url.port}/landing"
        return web.Response(status=302, headers={"Location": location})

    server = serve({"/start": to_localhost, "/landing": json_handler('{"pct": 1}')})

    with pytest.raises(RedirectError, match=r"another host \(localhost:\d+\)"):
        audience().extapi.enrich(
            server.url("/start"), columns=COLUMNS, follow_redirects=True
        )

    assert server.app[HITS]["/landing"] == 0


def test_allowed_host_followed(serve: Serve) -> None:
    other = serve({"/landing": json_handler('{"pct": 8}')})
    first = serve({"/start": redirect_to(other.url("/landing"))})

    result = audience().extapi.enrich(
        first.url("/start"),
        columns=COLUMNS,
        follow_redirects=True,
        redirect_hosts=[host_of(other)],
    )

    assert result["pct"].tolist() == [8, 8]


def test_first_host_entry_excludes_other_ports(serve: Serve) -> None:
    other = serve({"/landing": json_handler('{"pct": 1}')})
    first = serve({"/start": redirect_to(other.url("/landing"))})

    with pytest.raises(RedirectError, match=r"another host"):
        audience().extapi.enrich(
            first.url("/start"),
            columns=COLUMNS,
            follow_redirects=True,
            redirect_hosts=[host_of(first)],
        )

    assert other.app[HITS]["/landing"] == 0


def test_unlisted_third_host_rejected(serve: Serve) -> None:
    third = serve({"/end": json_handler('{"pct": 1}')})
    second = serve({"/middle": redirect_to(third.url("/end"))})
    first = serve({"/start": redirect_to(second.url("/middle"))})

    with pytest.raises(RedirectError) as caught:
        audience().extapi.enrich(
            first.url("/start"),
            columns=COLUMNS,
            follow_redirects=True,
            redirect_hosts=[host_of(second)],
        )

    assert f"than the first request ({host_of(first)})" in str(caught.value)
    assert second.app[HITS]["/middle"] == 1
    assert third.app[HITS]["/end"] == 0


def test_allowed_host_keeps_https_rule(
    serve: Serve, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    plain = serve({"/landing": json_handler('{"pct": 1}')})
    secure = serve(
        {"/start": redirect_to(plain.url("/landing"))}, ssl_context=server_tls
    )

    with pytest.raises(GuardError, match=r"redirecting from HTTPS to http://"):
        audience().extapi.enrich(
            secure.url("/start"),
            columns=COLUMNS,
            follow_redirects=True,
            redirect_hosts=[host_of(plain)],
            verify=client_tls,
        )

    assert plain.app[HITS]["/landing"] == 0


def test_allowed_host_keeps_address_check() -> None:
    # next_hop only builds the next request, so no test traffic can reach the
    # metadata address.
    guard = Guard(follow_redirects=True, redirect_hosts=["169.254.169.254"])
    start = URL("https://api.example.com/offers")

    with pytest.raises(GuardError, match=r"link-local or cloud metadata"):
        next_hop(
            Hop("GET", start, {}, None),
            status=302,
            location="https://169.254.169.254/latest/meta-data/",
            origin=start,
            redirects=0,
            visited={str(start)},
            guard=guard,
            redactor=Redactor(),
            campaign="spring",
        )


def test_preview_rejects_other_host(serve: Serve) -> None:
    other = serve({"/landing": json_handler('{"pct": 1}')})
    first = serve({"/start": redirect_to(other.url("/landing"))})

    with pytest.raises(RedirectError, match=r"redirect_hosts="):
        audience().extapi.preview(first.url("/start"), follow_redirects=True)

    assert other.app[HITS]["/landing"] == 0


def test_preview_follows_allowed_host(serve: Serve) -> None:
    log = HeaderLog()
    other = serve({"/landing": log.handle})
    first = serve({"/start": redirect_to(other.url("/landing"))})

    shown = audience().extapi.preview(
        first.url("/start"),
        follow_redirects=True,
        redirect_hosts=[host_of(other)],
        auth=BearerToken(TOKEN),
    )

    assert shown.document == {"pct": 9}
    assert "Authorization" not in log.seen[0]["headers"]


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        ("cdn.example.com", r"must be a list of host names"),
        (None, r"must be a list of host names"),
        ([3], r"must contain host names as strings, got 3"),
        (["https://cdn.example.com"], r"'https://cdn\.example\.com' is not a host"),
        (["cdn.example.com/files"], r"without a scheme, path or wildcard"),
        (["*.example.com"], r"'\*\.example\.com' is not a host"),
        (["user@cdn.example.com"], r"is not a host"),
        (["cdn.example.com:0"], r"is not a host"),
        (["cdn.example.com:70000"], r"is not a host"),
        (["cdn example.com"], r"is not a host"),
        ([""], r"'' is not a host"),
    ],
)
def test_invalid_redirect_hosts_rejected(hosts: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Guard(redirect_hosts=hosts)


def test_invalid_redirect_hosts_keyword(serve: Serve) -> None:
    server = serve({"/landing": json_handler('{"pct": 1}')})

    with pytest.raises(ConfigurationError, match=r"must be a list of host names"):
        audience().extapi.enrich(
            server.url("/landing"), columns=COLUMNS, redirect_hosts="127.0.0.1"
        )

    assert server.app[HITS]["/landing"] == 0


def test_redirect_hosts_normalized() -> None:
    guard = Guard(
        redirect_hosts=["CDN.Example.com.", "cdn.example.com", "::1", "[::1]:8443"]
    )

    assert guard.redirect_hosts == ("cdn.example.com", "[::1]", "[::1]:8443")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://cdn.example.com/a", True),
        ("https://cdn.example.com:8443/a", True),
        ("https://files.example.com:8443/a", True),
        ("https://files.example.com/a", False),
        ("https://sub.cdn.example.com/a", False),
        ("http://[::1]:9000/a", True),
        ("http://[::1]:9001/a", False),
    ],
)
def test_redirect_hosts_match_host_and_port(url: str, allowed: bool) -> None:
    guard = Guard(
        redirect_hosts=["cdn.example.com", "files.example.com:8443", "[::1]:9000"]
    )

    assert guard.allows_redirect_to(URL(url)) is allowed


def test_redirect_hosts_toml_round_trip(tmp_path: Path) -> None:
    guard = Guard(
        follow_redirects=True,
        redirect_hosts=["cdn.example.com", "files.example.com:8443"],
    )
    api = ExternalAPI("https://api.example.com/offers", columns=COLUMNS, guard=guard)
    path = tmp_path / "activity.toml"

    api.to_toml(path)
    loaded = ExternalAPI.from_toml(path)

    assert 'redirect_hosts = [\n    "cdn.example.com",' in path.read_text()
    assert loaded.guard.redirect_hosts == ("cdn.example.com", "files.example.com:8443")
