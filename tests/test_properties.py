"""Property tests: `enrich` equals a left merge of the campaign responses.

Hypothesis draws an audience (campaign keys of several dtypes, missing keys, duplicate
index labels, a MultiIndex) and one JSON object per campaign. A loopback server looks
the campaign up from the query string. The reference is `audience.merge(responses,
how="left")` with the dtypes the library documents: strings as category by default
(string with `strings="str"`), integers Int64, floats Float64, booleans boolean, and a
column whose values are all null, undeclared, as a string column.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extapi_pandas import Column
from extapi_pandas.demo import BackgroundServer

EXAMPLES = int(os.environ.get("EXTAPI_HYPOTHESIS_EXAMPLES", "60"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize="EXTAPI_HYPOTHESIS_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

KEY = "cid"
FIELDS = {"s": "string", "i": "Int64", "f": "Float64", "b": "boolean"}
KEY_DTYPES = [
    "int64",
    "Int64",
    "float64",
    "boolean",
    "str",
    "object",
    "category",
    "category_int",
]
# Letters plus the characters that a query string must escape.
KEY_TEXT = st.text(alphabet="abcXYZ019 +&=%/?#é€", min_size=1, max_size=8)

FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "s": st.text(max_size=6),
    "i": st.integers(-(2**63), 2**63 - 1),
    "f": st.floats(allow_nan=False, allow_infinity=False),
    "b": st.booleans(),
}


class CampaignServer:
    """Serves each campaign's JSON object at `/campaign?campaign=<key>`."""

    def __init__(self) -> None:
        self.responses: dict[str, dict[str, Any]] = {}
        app = web.Application()
        app.router.add_get("/campaign", self._answer)
        self.server = BackgroundServer(app)

    async def _answer(self, request: web.Request) -> web.Response:
        key = request.query.get("campaign", "")
        if key not in self.responses:
            return web.json_response({"error": f"no campaign {key!r}"}, status=404)
        return web.json_response(self.responses[key])


@pytest.fixture(scope="module")
def campaign_server() -> Iterator[CampaignServer]:
    campaigns = CampaignServer()
    with campaigns.server:
        yield campaigns


@dataclass
class Case:
    """One drawn audience, the campaign responses and the enrich options."""

    audience: pd.DataFrame
    keys: list[Any]
    responses: list[dict[str, Any]]
    used: list[int]
    declared: dict[str, bool]
    strings: str


def query_text(key: Any) -> str:
    """Return a key as the library writes it into the query string."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return repr(key) if isinstance(key, float) else str(key)


@st.composite
def campaign_keys(draw: st.DrawFn, dtype: str) -> list[Any]:
    count = draw(st.integers(1, 2 if dtype == "boolean" else 5))
    if dtype == "boolean":
        values: st.SearchStrategy[Any] = st.booleans()
    elif dtype in ("int64", "Int64", "category_int"):
        values = st.integers(-(10**12), 10**12)
    elif dtype == "float64":
        # pandas groups 0.0 and -0.0 as one key, but they are two query strings.
        values = st.floats(-1e6, 1e6, allow_nan=False).filter(lambda x: x != 0.0)
    else:
        values = KEY_TEXT
    return draw(st.lists(values, min_size=count, max_size=count, unique_by=query_text))


def key_column(keys: list[Any], picks: list[int | None], dtype: str) -> Any:
    values = [None if pick is None else keys[pick] for pick in picks]
    if dtype == "int64":
        return np.array(values, dtype=np.int64)
    if dtype == "float64":
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if dtype == "object":
        return np.array(values, dtype=object)
    if dtype in ("category", "category_int"):
        return pd.Categorical(values, categories=keys)
    return pd.array(values, dtype=dtype)


def make_index(draw: st.DrawFn, rows: int) -> pd.Index:
    kind = draw(st.sampled_from(["range", "duplicates", "multi", "shuffled"]))
    if kind == "range":
        return pd.RangeIndex(rows)
    if kind == "duplicates":
        labels = draw(
            st.lists(st.sampled_from(["x", "y", "z"]), min_size=rows, max_size=rows)
        )
        return pd.Index(labels, dtype="str")
    if kind == "multi":
        outer = draw(st.lists(st.integers(0, 2), min_size=rows, max_size=rows))
        return pd.MultiIndex.from_arrays(
            [outer, [f"p{i % 3}" for i in range(rows)]], names=["segment", "slot"]
        )
    order = draw(st.permutations(list(range(rows))))
    return pd.Index(np.array(order, dtype=np.int64) * 10)


def draw_response(draw: st.DrawFn) -> dict[str, Any]:
    response: dict[str, Any] = {"other": "ignored"}
    for name, values in FIELD_VALUES.items():
        state = draw(st.sampled_from(["value", "value", "null", "missing"]))
        if state == "value":
            response[name] = draw(values)
        elif state == "null":
            response[name] = None
    return response


@st.composite
def cases(draw: st.DrawFn) -> Case:
    dtype = draw(st.sampled_from(KEY_DTYPES))
    keys = draw(campaign_keys(dtype))
    choices: st.SearchStrategy[int | None] = st.integers(0, len(keys) - 1)
    if dtype != "int64":  # numpy int64 cannot hold a missing key
        choices = st.one_of(choices, st.none())
    picks = draw(st.lists(choices, max_size=25))
    rows = len(picks)
    audience = pd.DataFrame(
        {
            "profile": np.arange(rows, dtype=np.int64),
            KEY: key_column(keys, picks, dtype),
            "name": pd.array([f"n{i}" for i in range(rows)], dtype="str"),
        },
        index=make_index(draw, rows),
    )
    responses = [draw_response(draw) for _ in keys]
    declared = {name: draw(st.booleans()) for name in FIELDS}
    used = sorted({pick for pick in picks if pick is not None})
    return Case(
        audience,
        keys,
        responses,
        used,
        declared,
        draw(st.sampled_from(["category", "str"])),
    )


def expected_dtype(case: Case, name: str) -> str:
    """Return "category", "string" or the field's dtype, as the library documents."""
    # Only campaigns with profiles are requested, so only they count for inference.
    values = [case.responses[number].get(name) for number in case.used]
    if case.declared[name] or any(v is not None for v in values):
        dtype = FIELDS[name]
    else:
        dtype = "string"  # nothing to infer from: an undeclared all-null column
    if dtype == "string":
        return "category" if case.strings == "category" else "string"
    return dtype


def reference(case: Case) -> pd.DataFrame:
    """Build the expected frame with a left merge on the campaign key."""
    table = pd.DataFrame({KEY: pd.Series(case.keys).astype(case.audience[KEY].dtype)})
    for name, dtype in FIELDS.items():
        values = [r.get(name) for r in case.responses]
        table[name] = pd.array(values, dtype=dtype)
    merged = case.audience.merge(table, on=KEY, how="left", sort=False)
    merged.index = case.audience.index
    return merged


def plain_values(series: pd.Series) -> list[Any]:
    return [None if pd.isna(value) else value for value in series.astype(object)]


def enrich_case(server: CampaignServer, case: Case) -> pd.DataFrame:
    server.responses = {
        query_text(k): r for k, r in zip(case.keys, case.responses, strict=True)
    }
    columns = {
        name: Column(f"$.{name}", dtype=dtype if case.declared[name] else None)
        for name, dtype in FIELDS.items()
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return case.audience.extapi.enrich(
            server.server.url("/campaign"),
            params={"campaign": "{cid}"},
            campaign=KEY,
            columns=columns,
            missing_campaign="skip",
            strings=case.strings,
            retries=0,
            timeout=10,
        )


def matches_dtype(dtype: Any, expected: str) -> bool:
    if expected == "category":
        return isinstance(dtype, pd.CategoricalDtype)
    if expected == "string":
        return isinstance(dtype, pd.StringDtype)
    return str(dtype) == expected


@PROPERTY
@given(case=cases())
def test_enrich_equals_left_merge(campaign_server: CampaignServer, case: Case) -> None:
    result = enrich_case(campaign_server, case)
    expected = reference(case)

    assert list(result.columns) == list(expected.columns)
    pd.testing.assert_index_equal(result.index, case.audience.index)
    pd.testing.assert_frame_equal(result[list(case.audience.columns)], case.audience)
    for name in FIELDS:
        assert matches_dtype(result[name].dtype, expected_dtype(case, name)), name
        assert plain_values(result[name]) == plain_values(expected[name]), name


@PROPERTY
@given(case=cases())
def test_enrich_leaves_audience_unchanged(
    campaign_server: CampaignServer, case: Case
) -> None:
    before = copy.deepcopy(case.audience)
    attrs_before = copy.deepcopy(case.audience.attrs)

    enrich_case(campaign_server, case)

    pd.testing.assert_frame_equal(case.audience, before)
    assert case.audience.attrs == attrs_before
