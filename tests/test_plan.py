"""Tests for planning: one request per campaign, placeholders filled per campaign."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from aiohttp import web

import extapi_pandas  # noqa: F401  (registers DataFrame.extapi)
from extapi_pandas import ExternalAPI, Payload
from extapi_pandas.demo import BackgroundServer
from extapi_pandas.errors import ConfigurationError, RequestTooLarge, TemplateError
from extapi_pandas.plan import group_campaigns, make_plan

Serve = Callable[..., BackgroundServer]

AWKWARD = ["a b", "x/y", "p&q=r", "Zoé ünï", "100%", "c?d#e"]


class Echo:
    """A loopback server that records every request and returns what it received."""

    def __init__(self, serve: Serve) -> None:
        self.seen: list[dict[str, Any]] = []
        self.server = serve(
            {"* /v/{value}": self._handle, "* /{tail:.*}": self._handle}
        )

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        info = {
            "method": request.method,
            "path": request.path,
            "raw_path": request.raw_path,
            "value": request.match_info.get("value"),
            "query": dict(request.query),
            "headers": dict(request.headers),
            "content_type": request.headers.get("Content-Type"),
            "body": json.loads(raw) if raw else None,
        }
        self.seen.append(info)
        return web.json_response(info)

    def url(self, path: str) -> str:
        return self.server.url(path)


@pytest.fixture
def echo(serve: Serve) -> Echo:
    return Echo(serve)


def audience_of(campaigns: int, rows_per_campaign: int = 3) -> pd.DataFrame:
    keys = [f"C{i:02d}" for i in range(campaigns)]
    order = np.random.default_rng(1).permutation(campaigns * rows_per_campaign)
    column = np.repeat(keys, rows_per_campaign)[order]
    return pd.DataFrame(
        {
            "campaign_id": pd.array(column, dtype="str"),
            "profile": np.arange(len(column)),
        }
    )


@pytest.mark.parametrize("campaigns", [1, 3, 50])
def test_one_request_per_campaign(echo: Echo, campaigns: int) -> None:
    audience = audience_of(campaigns)

    audience.extapi.enrich(
        echo.url("/v/{campaign_id}"),
        campaign="campaign_id",
        columns={"sent": "$.value"},
    )

    assert len(echo.seen) == campaigns
    assert sorted(r["value"] for r in echo.seen) == sorted(set(audience.campaign_id))


def test_each_row_gets_own_campaign(echo: Echo) -> None:
    audience = audience_of(5)

    result = audience.extapi.enrich(
        echo.url("/v/{campaign_id}"),
        campaign="campaign_id",
        columns={"sent": "$.value"},
        strings="str",
    )

    assert result["sent"].tolist() == audience["campaign_id"].tolist()


def test_no_campaign_is_one_request(echo: Echo) -> None:
    audience = audience_of(4)

    result = audience.extapi.enrich(
        echo.url("/all"),
        params={"n": "{count}"},
        columns={"n": "$.query.n"},
        strings="str",
    )

    assert len(echo.seen) == 1
    assert echo.seen[0]["query"] == {"n": str(len(audience))}
    assert result["n"].tolist() == [str(len(audience))] * len(audience)


def test_count_is_campaign_size(echo: Echo) -> None:
    audience = pd.DataFrame({"campaign_id": ["A", "B", "A", "C", "A", "B"]})

    result = audience.extapi.enrich(
        echo.url("/v/{campaign_id}"),
        params={"n": "{count}"},
        campaign="campaign_id",
        columns={"n": "$.query.n"},
        strings="str",
    )

    assert {r["value"]: r["query"]["n"] for r in echo.seen} == {
        "A": "3",
        "B": "2",
        "C": "1",
    }
    assert result["n"].tolist() == ["3", "2", "3", "1", "3", "2"]


@pytest.mark.parametrize(
    "keys",
    [
        pd.Series(["b", "a", "b", "c"], dtype="str"),
        pd.Series([20, 10, 20, 30], dtype="int64"),
        pd.Series([20, 10, 20, 30], dtype="Int64"),
        pd.Series(["b", "a", "b", "c"], dtype="category"),
        pd.Series(
            pd.to_datetime(["2024-02-01", "2024-01-01", "2024-02-01", "2024-03-01"])
        ),
    ],
    ids=["str", "int64", "Int64", "category", "datetime"],
)
def test_campaign_key_dtypes(echo: Echo, keys: pd.Series) -> None:
    audience = pd.DataFrame({"key": keys, "n": range(4)})

    result = audience.extapi.enrich(
        echo.url("/v/{key}"), campaign="key", columns={"sent": "$.value"}, strings="str"
    )

    assert len(echo.seen) == 3
    sent = result["sent"].tolist()
    assert sent[0] == sent[2]
    assert len(set(sent)) == 3


def test_two_campaign_columns(echo: Echo) -> None:
    audience = pd.DataFrame(
        {"market": ["DE", "DE", "FR", "FR", "DE"], "wave": [1, 2, 1, 1, 1]}
    )

    result = audience.extapi.enrich(
        echo.url("/m"),
        params={"market": "{market}", "wave": "{wave}"},
        campaign=["market", "wave"],
        columns={"market": "$.query.market", "wave": "$.query.wave"},
        on_conflict="suffix",
        strings="str",
    )

    assert sorted((r["query"]["market"], r["query"]["wave"]) for r in echo.seen) == [
        ("DE", "1"),
        ("DE", "2"),
        ("FR", "1"),
    ]
    assert result["market_extapi"].tolist() == ["DE", "DE", "FR", "FR", "DE"]
    assert result["wave_extapi"].tolist() == ["1", "2", "1", "1", "1"]


def test_two_column_keys_in_provenance(echo: Echo) -> None:
    audience = pd.DataFrame({"market": ["DE", "FR"], "wave": [1, 2]})

    result = audience.extapi.enrich(
        echo.url("/m"), campaign=["market", "wave"], columns={"m": "$.method"}
    )

    keys = [entry["campaign"] for entry in result.attrs["extapi"]["campaigns"]]
    assert keys == [["DE", 1], ["FR", 2]]


@pytest.mark.parametrize(
    "keys",
    [
        pd.Series(["a", None, "b"], dtype="str"),
        pd.Series([1, None, 2], dtype="Int64"),
        pd.Series([1.0, np.nan, 2.0]),
        pd.Series(["a", None, "b"], dtype="category"),
    ],
    ids=["str", "Int64", "float", "category"],
)
def test_missing_campaign_key_raises(echo: Echo, keys: pd.Series) -> None:
    audience = pd.DataFrame({"key": keys}).set_axis([10, 11, 12])

    with pytest.raises(
        ConfigurationError,
        match=r"1 row\(s\) have no campaign key .*index 11.*"
        r"missing_campaign='skip'",
    ):
        audience.extapi.enrich(
            echo.url("/v/{key}"), campaign="key", columns={"sent": "$.value"}
        )

    assert echo.seen == []


def test_missing_campaign_skip_sends_nothing(echo: Echo) -> None:
    audience = pd.DataFrame(
        {"key": pd.Series(["a", None, "b", None], dtype="str"), "n": [1, 2, 3, 4]}
    )

    result = audience.extapi.enrich(
        echo.url("/v/{key}"),
        campaign="key",
        columns={"sent": "$.value"},
        missing_campaign="skip",
        strings="str",
    )

    assert sorted(r["value"] for r in echo.seen) == ["a", "b"]
    assert len(result) == 4
    assert result["sent"].isna().tolist() == [False, True, False, True]
    assert result["n"].tolist() == [1, 2, 3, 4]
    assert result.attrs["extapi"]["rows_skipped"] == 2


def test_missing_campaign_skip_all_rows(echo: Echo) -> None:
    audience = pd.DataFrame({"key": pd.Series([None, None], dtype="str")})

    result = audience.extapi.enrich(
        echo.url("/v/{key}"),
        campaign="key",
        columns={"sent": "$.value"},
        missing_campaign="skip",
    )

    assert echo.seen == []
    assert result["sent"].isna().all()


def test_unknown_campaign_column_raises(echo: Echo) -> None:
    audience = pd.DataFrame({"key": ["a"]})

    with pytest.raises(
        ConfigurationError,
        match=r"campaign column 'nope' is not in the audience.*'key'",
    ):
        audience.extapi.enrich(echo.url("/x"), campaign="nope", columns={"m": "$.m"})

    assert echo.seen == []


@pytest.mark.parametrize("value", AWKWARD)
def test_path_placeholder_is_url_encoded(echo: Echo, value: str) -> None:
    audience = pd.DataFrame({"key": [value, value]})

    audience.extapi.enrich(
        echo.url("/v/{key}"), campaign="key", columns={"sent": "$.value"}
    )

    assert echo.seen[0]["value"] == value


def test_path_placeholder_encodes_slash(echo: Echo) -> None:
    audience = pd.DataFrame({"key": ["x/y z"]})

    audience.extapi.enrich(
        echo.url("/v/{key}"), campaign="key", columns={"sent": "$.value"}
    )

    assert echo.seen[0]["raw_path"] == "/v/x%2Fy%20z"


@pytest.mark.parametrize("value", AWKWARD)
def test_query_param_is_url_encoded(echo: Echo, value: str) -> None:
    audience = pd.DataFrame({"key": [value]})

    audience.extapi.enrich(
        echo.url("/q"),
        params={"q": "{key}", "other": "1"},
        campaign="key",
        columns={"q": "$.query.q"},
    )

    assert echo.seen[0]["query"] == {"q": value, "other": "1"}


@pytest.mark.parametrize("value", AWKWARD)
def test_url_query_placeholder_encoded(echo: Echo, value: str) -> None:
    audience = pd.DataFrame({"key": [value]})

    audience.extapi.enrich(
        echo.url("/q?q={key}&other=1"), campaign="key", columns={"q": "$.query.q"}
    )

    assert echo.seen[0]["query"] == {"q": value, "other": "1"}


def test_header_placeholder_is_filled(echo: Echo) -> None:
    audience = pd.DataFrame({"key": ["Zoé 1"]})

    audience.extapi.enrich(
        echo.url("/h"),
        headers={"X-Campaign": "c={key}"},
        campaign="key",
        columns={"m": "$.method"},
    )

    assert echo.seen[0]["headers"]["X-Campaign"] == "c=Zoé 1"


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_json_body_is_typed(echo: Echo, method: str) -> None:
    audience = pd.DataFrame(
        {
            "key": ["A", "A", "B"],
            "opt_in": [True, True, False],
            "wave": pd.array([3, 3, 4], dtype="Int64"),
            "price": [1.5, 1.5, 2.0],
        }
    )
    body = {
        "campaign": "{key}",
        "count": "{count}",
        "opt_in": "{opt_in}",
        "wave": "{wave}",
        "price": "{price}",
        "label": "{key}-{count}",
        "nested": [{"n": "{count}"}],
    }

    audience.extapi.enrich(
        echo.url("/b"),
        method=method,
        json=body,
        campaign="key",
        columns={"m": "$.method"},
    )

    by_key = {r["body"]["campaign"]: r for r in echo.seen}
    assert by_key["A"]["body"] == {
        "campaign": "A",
        "count": 2,
        "opt_in": True,
        "wave": 3,
        "price": 1.5,
        "label": "A-2",
        "nested": [{"n": 2}],
    }
    assert by_key["B"]["body"] == {
        "campaign": "B",
        "count": 1,
        "opt_in": False,
        "wave": 4,
        "price": 2.0,
        "label": "B-1",
        "nested": [{"n": 1}],
    }
    assert by_key["A"]["method"] == method
    assert by_key["A"]["content_type"] == "application/json"


def test_get_sends_no_body(echo: Echo) -> None:
    pd.DataFrame({"key": ["A"]}).extapi.enrich(
        echo.url("/g"), campaign="key", columns={"m": "$.method"}
    )

    assert echo.seen[0]["method"] == "GET"
    assert echo.seen[0]["body"] is None
    assert echo.seen[0]["content_type"] is None


def test_body_date_is_iso_text(echo: Echo) -> None:
    audience = pd.DataFrame({"day": pd.to_datetime(["2024-03-04"])})

    audience.extapi.enrich(
        echo.url("/b"),
        method="POST",
        json={"d": "{day}"},
        campaign="day",
        columns={"m": "$.method"},
    )

    assert echo.seen[0]["body"] == {"d": "2024-03-04T00:00:00"}


def test_date_format_spec_in_query(echo: Echo) -> None:
    audience = pd.DataFrame(
        {
            "key": ["A", "A"],
            "date": pd.to_datetime(["2024-05-06 07:08", "2024-05-06 07:08"], utc=True),
        }
    )

    audience.extapi.enrich(
        echo.url("/d/{date:%Y-%m-%d}"),
        params={"at": "{date:%H%M}"},
        campaign="key",
        columns={"m": "$.method"},
    )

    assert echo.seen[0]["path"] == "/d/2024-05-06"
    assert echo.seen[0]["query"] == {"at": "0708"}


def test_literal_braces_everywhere(echo: Echo) -> None:
    audience = pd.DataFrame({"key": ["A"]})

    audience.extapi.enrich(
        echo.url("/v/{{x}}{key}"),
        method="POST",
        params={"p": "{{raw}}"},
        headers={"X-T": "{{h}}"},
        json={"b": "{{b}}", "c": "{{"},
        campaign="key",
        columns={"m": "$.method"},
    )

    seen = echo.seen[0]
    assert seen["path"] == "/v/{x}A"
    assert seen["query"] == {"p": "{raw}"}
    assert seen["headers"]["X-T"] == "{h}"
    assert seen["body"] == {"b": "{b}", "c": "{"}


@pytest.mark.parametrize(
    "where",
    [
        {"url_path": "/v/{region}"},
        {"params": {"r": "{region}"}},
        {"headers": {"X-Region": "{region}"}},
        {"json": {"r": "{region}"}, "method": "POST"},
    ],
    ids=["url", "params", "headers", "json"],
)
def test_varying_placeholder_rejected(echo: Echo, where: dict[str, Any]) -> None:
    audience = pd.DataFrame({"key": ["A", "A", "B"], "region": ["n", "s", "n"]})
    options = dict(where)
    url = echo.url(options.pop("url_path", "/x"))

    with pytest.raises(TemplateError) as caught:
        audience.extapi.enrich(
            url, campaign="key", columns={"m": "$.method"}, **options
        )

    message = str(caught.value)
    assert "{region} varies within campaign 'A'" in message
    if "headers" in where:  # header values may be tokens, so they are hidden
        assert "'n'" not in message
        assert "values hidden" in message
    else:
        assert "'n' and 's'" in message
    assert "one call per campaign" in message
    assert "df.extapi.enrich_from_file" in message
    assert caught.value.campaign == "A"
    assert echo.seen == []


def test_varying_without_campaign_rejected(echo: Echo) -> None:
    audience = pd.DataFrame({"region": ["n", "s"]})

    with pytest.raises(TemplateError, match="enrich_from_file"):
        audience.extapi.enrich(
            echo.url("/x"), params={"r": "{region}"}, columns={"m": "$.method"}
        )

    assert echo.seen == []


def test_all_nan_placeholder_is_missing(echo: Echo) -> None:
    audience = pd.DataFrame({"key": ["A", "A", "B"], "wave": [np.nan, np.nan, 2.0]})

    with pytest.raises(TemplateError, match=r"missing value .* campaign\(s\) \('A'\)"):
        audience.extapi.enrich(
            echo.url("/x"),
            params={"w": "{wave}"},
            campaign="key",
            columns={"m": "$.method"},
        )

    assert echo.seen == []


def test_unknown_placeholder_names_column(echo: Echo) -> None:
    audience = pd.DataFrame({"key": ["A"], "market": ["DE"]})

    with pytest.raises(
        TemplateError,
        match=r"placeholder \{markt\} names no audience column.*"
        r"'key', 'market'",
    ):
        audience.extapi.enrich(
            echo.url("/x"),
            params={"m": "{markt}"},
            campaign="key",
            columns={"m": "$.method"},
        )

    assert echo.seen == []


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\rb"])
def test_header_line_break_rejected(echo: Echo, value: str) -> None:
    audience = pd.DataFrame({"key": ["A"], "label": [value]})

    with pytest.raises(
        TemplateError, match=r"header 'X-Label' for campaign 'A' contains a line break"
    ):
        audience.extapi.enrich(
            echo.url("/x"),
            headers={"X-Label": "{label}"},
            campaign="key",
            columns={"m": "$.method"},
        )

    assert echo.seen == []


def test_bad_format_spec_rejected(echo: Echo) -> None:
    audience = pd.DataFrame({"key": ["A"]})

    with pytest.raises(TemplateError, match=r"\{key:%Y\}"):
        audience.extapi.enrich(
            echo.url("/x/{key:%Y}"), campaign="key", columns={"m": "$.method"}
        )

    assert echo.seen == []


def test_large_body_rejected_before_sending(echo: Echo) -> None:
    audience = pd.DataFrame({"key": ["A"], "blob": ["x" * 2000]})

    with pytest.raises(RequestTooLarge, match=r"max_request_bytes limit of 1000"):
        audience.extapi.enrich(
            echo.url("/x"),
            method="POST",
            json={"b": "{blob}"},
            campaign="key",
            columns={"m": "$.method"},
            max_request_bytes=1000,
        )

    assert echo.seen == []


def test_grouping_numbers_by_first_appearance() -> None:
    audience = pd.DataFrame({"key": ["z", "a", "z", "m", "a"]})

    grouping = group_campaigns(audience, ["key"], "raise")

    assert grouping.keys == ["z", "a", "m"]
    assert grouping.codes.tolist() == [0, 1, 0, 2, 1]
    assert grouping.first_rows.tolist() == [0, 1, 3]
    assert grouping.counts.tolist() == [2, 2, 1]


def test_grouping_two_columns_with_missing() -> None:
    audience = pd.DataFrame({"a": ["x", "x", None, "y"], "b": [1, 2, 1, None]})

    grouping = group_campaigns(audience, ["a", "b"], "skip")

    assert grouping.codes.tolist() == [0, 1, -1, -1]
    assert grouping.keys == [["x", 1.0], ["x", 2.0]]
    assert grouping.skipped_rows == 2


def test_grouping_codes_are_small() -> None:
    audience = pd.DataFrame({"key": np.arange(1000) % 300})

    grouping = group_campaigns(audience, ["key"], "raise")

    assert grouping.codes.dtype == np.int16


def test_plan_of_empty_audience() -> None:
    audience = pd.DataFrame({"key": pd.Series([], dtype="str")})
    api = ExternalAPI("http://127.0.0.1:9/x", campaign="key", columns={"m": "$.m"})

    plan = make_plan(audience, api)

    assert plan.requests == []


def test_plan_renders_without_sending() -> None:
    audience = pd.DataFrame({"key": ["A b", "C"]})
    api = ExternalAPI(
        "http://127.0.0.1:9/v/{key}",
        params={"n": "{count}"},
        campaign="key",
        columns={"m": "$.m"},
    )

    plan = make_plan(audience, api)

    assert [str(r.url) for r in plan.requests] == [
        "http://127.0.0.1:9/v/A%20b?n=1",
        "http://127.0.0.1:9/v/C?n=1",
    ]


@pytest.mark.parametrize("value", [".", ".."])
def test_dot_segment_value_rejected(echo: Echo, value: str) -> None:
    audience = pd.DataFrame({"key": [value]})

    with pytest.raises(TemplateError, match=r"dot segment that would change the URL"):
        audience.extapi.enrich(
            echo.url("/v/{key}/detail"), campaign="key", columns={"m": "$.method"}
        )

    assert echo.seen == []


def test_literal_url_text_is_encoded(echo: Echo) -> None:
    audience = pd.DataFrame({"key": ["A"]})

    audience.extapi.enrich(
        echo.url("/a b/é/{key}"), campaign="key", columns={"m": "$.method"}
    )

    assert echo.seen[0]["raw_path"] == "/a%20b/%C3%A9/A"
    assert echo.seen[0]["path"] == "/a b/é/A"


MISSING_MARKERS = [
    pd.Series(["DE", None], dtype="str"),
    pd.Series(["DE", np.nan], dtype=object),
    pd.Series([1.5, np.nan]),
    pd.Series([7, pd.NA], dtype="Int64"),
    pd.Series([pd.Timestamp("2024-01-02"), pd.NaT]),
    pd.Series(["DE", None], dtype="category"),
]
MISSING_IDS = ["str-None", "object-NaN", "float-NaN", "Int64-NA", "NaT", "category"]


@pytest.mark.parametrize("market", MISSING_MARKERS, ids=MISSING_IDS)
@pytest.mark.parametrize(
    ("options", "place"),
    [
        ({"url": "/m/{market}/offers"}, "url"),
        ({"params": {"market": "{market}"}}, "params"),
        ({"headers": {"X-Market": "m-{market}"}}, "headers"),
        ({"method": "POST", "json": {"market": "{market}"}}, "json"),
        ({"method": "POST", "json": {"label": "m={market}"}}, "json"),
    ],
    ids=["url", "params", "headers", "json-lone", "json-text"],
)
def test_missing_placeholder_value_rejected(
    echo: Echo, market: pd.Series, options: dict[str, Any], place: str
) -> None:
    audience = pd.DataFrame({"key": ["A", "B"], "market": market})
    options = dict(options)
    url = echo.url(options.pop("url", "/m"))

    with pytest.raises(TemplateError) as caught:
        audience.extapi.enrich(
            url, campaign="key", columns={"m": "$.method"}, **options
        )

    message = str(caught.value)
    assert f"placeholder {{market}} (in {place}) names column 'market'" in message
    assert "for 1 of 2 campaign(s) ('B')" in message
    assert "nothing was sent" in message
    assert "missing_campaign='skip'" in message
    assert caught.value.campaign == "B"
    assert echo.seen == []


def test_missing_value_names_every_campaign(echo: Echo) -> None:
    audience = pd.DataFrame({"key": list("ABCDEFG"), "market": ["DE", *[None] * 6]})

    with pytest.raises(TemplateError, match=r"for 6 of 7 campaign\(s\) \('B', ") as c:
        audience.extapi.enrich(
            echo.url("/m"),
            params={"market": "{market}"},
            campaign="key",
            columns={"m": "$.method"},
        )

    assert "'F', ...)" in str(c.value)
    assert c.value.campaign is None
    assert echo.seen == []


def test_missing_value_without_campaign_column(echo: Echo) -> None:
    audience = pd.DataFrame({"market": [None, None]}, dtype="str")

    with pytest.raises(
        TemplateError, match=r"in every row of the audience, which is one campaign"
    ):
        audience.extapi.enrich(
            echo.url("/m"), params={"market": "{market}"}, columns={"m": "$.method"}
        )

    assert echo.seen == []


def test_missing_value_in_url_and_params(echo: Echo) -> None:
    audience = pd.DataFrame({"key": ["A"], "market": [None]}, dtype="str")

    with pytest.raises(TemplateError, match=r"\{market\} \(in url and params\)"):
        audience.extapi.enrich(
            echo.url("/m/{market}"),
            params={"m": "{market}"},
            campaign="key",
            columns={"m": "$.method"},
        )

    assert echo.seen == []


def test_missing_value_skipped_as_advised(echo: Echo) -> None:
    audience = pd.DataFrame({"key": ["A", "B", "A"], "market": ["DE", None, "DE"]})

    result = audience.extapi.enrich(
        echo.url("/m"),
        params={"market": "{market}"},
        campaign=["key", "market"],
        missing_campaign="skip",
        columns={"sent": "$.query.market"},
        strings="str",
    )

    assert [r["query"] for r in echo.seen] == [{"market": "DE"}]
    assert result["sent"].isna().tolist() == [False, True, False]
    assert result["sent"].iloc[0] == "DE"


def test_missing_json_value_advice_works(echo: Echo) -> None:
    audience = pd.DataFrame({"key": ["A", "B"], "wave": pd.array([3, None], "Int64")})
    options: dict[str, Any] = {"method": "POST", "campaign": "key"}
    columns = {"sent": "$.body.params.wave"}

    with pytest.raises(TemplateError, match=r"payload=Payload\(params=\['wave'\]\)"):
        audience.extapi.enrich(
            echo.url("/b"), json={"wave": "{wave}"}, columns=columns, **options
        )
    result = audience.extapi.enrich(
        echo.url("/b"), payload=Payload(params=["wave"]), columns=columns, **options
    )

    assert result["sent"].isna().tolist() == [False, True]
    assert result["sent"].iloc[0] == 3


def test_literal_none_param_left_out(echo: Echo) -> None:
    audience = pd.DataFrame({"key": ["A"]})

    audience.extapi.enrich(
        echo.url("/m"),
        params={"market": None, "k": "{key}"},
        headers={"X-Empty": None},
        campaign="key",
        columns={"m": "$.method"},
    )

    assert echo.seen[0]["query"] == {"k": "A"}
    assert "X-Empty" not in echo.seen[0]["headers"]


def test_integer_column_label_campaign(echo: Echo) -> None:
    audience = pd.DataFrame({0: ["A", "B", "A"], 1: [1, 2, 3]})

    result = audience.extapi.enrich(
        echo.url("/v/{0}"), campaign=0, columns={"sent": "$.value"}, strings="str"
    )

    assert result["sent"].tolist() == ["A", "B", "A"]


@pytest.mark.parametrize(
    "options",
    [{"campaign": "key"}, {"params": {"k": "{key}"}}],
    ids=["campaign", "placeholder"],
)
def test_duplicate_column_label_rejected(echo: Echo, options: dict[str, Any]) -> None:
    audience = pd.DataFrame([["A", "B"]], columns=["key", "key"])

    with pytest.raises(ConfigurationError, match=r"several columns with that label"):
        audience.extapi.enrich(echo.url("/x"), columns={"m": "$.method"}, **options)

    assert echo.seen == []


# Values of placeholders that may hold credentials stay out of errors


@pytest.mark.parametrize(
    "where",
    [
        {"headers": {"Authorization": "Bearer {token}"}},
        {"params": {"api_key": "{token}"}},
        {"json": {"auth": {"password": "{token}"}}, "method": "POST"},
    ],
    ids=["header", "sensitive param", "sensitive json key"],
)
def test_varying_secret_placeholder_hidden(where: dict[str, Any]) -> None:
    audience = pd.DataFrame({"key": ["A", "A"], "token": ["TOKEN-ONE", "TOKEN-TWO"]})
    api = ExternalAPI(
        "http://127.0.0.1:9/x", campaign="key", columns={"m": "$.m"}, **where
    )

    with pytest.raises(TemplateError, match="values hidden") as caught:
        make_plan(audience, api)

    assert "TOKEN-" not in str(caught.value)


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA])
def test_placeholder_missing_in_some_rows(missing: Any) -> None:
    index = [10, 11, 12]
    market = pd.Series(["DE", missing, "FR"], dtype=object, index=index)
    audience = pd.DataFrame({"key": ["A", "A", "B"], "market": market}, index=index)
    api = ExternalAPI(
        "http://127.0.0.1:9/x",
        campaign="key",
        params={"m": "{market}"},
        columns={"m": "$.m"},
    )

    with pytest.raises(TemplateError) as caught:
        make_plan(audience, api)

    message = str(caught.value)
    assert "missing in some rows of campaign 'A'" in message
    assert "index 11" in message
    assert "enrich_from_file" not in message
    assert caught.value.campaign == "A"
