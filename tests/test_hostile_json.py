"""Hostile response bodies: malformed ones raise ExtapiError, valid ones are mapped."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from aiohttp import web

from extapi_pandas import Column, ExtapiError
from extapi_pandas.demo import BackgroundServer

CORPUS = Path(__file__).resolve().parent / "data" / "hostile"
GENERATOR = CORPUS.parent / "make_hostile_corpus.py"
CASES: list[dict[str, Any]] = json.loads(
    (CORPUS / "manifest.json").read_text(encoding="ascii")
)
BY_NAME = {case["name"]: case for case in CASES}

# "$" keeps the whole parsed document unconverted, and "$.s" goes through the string
# conversion.
COLUMNS = {"doc": Column("$", dtype="object"), "s": Column("$.s", dtype="string")}
OPTIONS: dict[str, Any] = {"columns": COLUMNS, "retries": 0, "timeout": 10}


def cases_where(expect: str) -> list[Any]:
    """Return pytest params of the cases with outcome `expect`."""
    params = []
    for case in CASES:
        if case["expect"] != expect:
            continue
        params.append(pytest.param(case, id=case["name"]))
    return params


@pytest.fixture(scope="module")
def corpus_server() -> Iterator[BackgroundServer]:
    """One loopback server for the module: `/case/<name>` serves that case's body."""

    async def answer(request: web.Request) -> web.Response:
        case = BY_NAME[request.match_info["name"]]
        body = (CORPUS / case["file"]).read_bytes()
        return web.Response(body=body, headers={"Content-Type": case["content_type"]})

    app = web.Application()
    app.router.add_get("/case/{name}", answer)
    with BackgroundServer(app) as server:
        yield server


def enrich_case(server: BackgroundServer, name: str) -> pd.DataFrame:
    audience = pd.DataFrame({"profile": [1, 2]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # text/plain, NaN and empty-body notes
        return audience.extapi.enrich(server.url(f"/case/{name}"), **OPTIONS)


def string_value(result: pd.DataFrame) -> str | None:
    value = result["s"].iloc[0]
    return None if pd.isna(value) else str(value)


def test_corpus_matches_generator() -> None:
    checked = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert checked.returncode == 0, checked.stdout


def test_corpus_has_150_cases() -> None:
    assert len(CASES) >= 150


@pytest.mark.parametrize("case", cases_where("invalid"))
def test_malformed_body_raises(
    corpus_server: BackgroundServer, case: dict[str, Any]
) -> None:
    with pytest.raises(ExtapiError) as caught:
        enrich_case(corpus_server, case["name"])

    assert caught.value.code in case["codes"], str(caught.value)


@pytest.mark.parametrize("case", cases_where("valid"))
def test_valid_body_maps(corpus_server: BackgroundServer, case: dict[str, Any]) -> None:
    result = enrich_case(corpus_server, case["name"])

    assert result["doc"].tolist() == [case["document"]] * 2
    assert string_value(result) == case["text"]


@pytest.mark.parametrize("case", cases_where("empty"))
def test_empty_body_gives_nulls(
    corpus_server: BackgroundServer, case: dict[str, Any]
) -> None:
    result = enrich_case(corpus_server, case["name"])

    assert result["doc"].isna().all()
    assert result["s"].isna().all()


def test_corpus_in_one_call(corpus_server: BackgroundServer) -> None:
    """One call with every case as a campaign: each gets its own status and values."""
    names = [case["name"] for case in CASES]
    audience = pd.DataFrame({"case": pd.array(names, dtype="str")})

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = audience.extapi.enrich(
            corpus_server.url("/case/{case}"),
            campaign="case",
            on_error="continue",
            max_concurrency=32,
            **OPTIONS,
        )

    wrong_status = []
    wrong_document = []
    for name, status, document in zip(
        names, result["extapi_status"], result["doc"], strict=True
    ):
        case = BY_NAME[name]
        if case["expect"] == "invalid":
            if status not in case["codes"]:
                wrong_status.append((name, status))
            continue
        if status != "ok":
            wrong_status.append((name, status))
        elif case["expect"] == "valid" and document != case["document"]:
            wrong_document.append(name)
    assert wrong_status == []
    assert wrong_document == []
