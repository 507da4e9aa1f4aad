"""Tests for the enrich, preview and infer commands of the command line."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import pytest
from aiohttp import web
from conftest import HITS

from extapi_pandas import BearerToken, Cache, Column, ExternalAPI, Secret
from extapi_pandas.cli import main
from extapi_pandas.demo import BackgroundServer, DemoAPI, make_audience
from extapi_pandas.http.cache import clear_memory_cache

Serve = Callable[..., BackgroundServer]
TOKEN = "tok-cli-planted-2b7e"
Output = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def token_in_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CLI_TOKEN", TOKEN)
    clear_memory_cache()
    yield
    clear_memory_cache()


@pytest.fixture
def audience_csv(tmp_path: Path) -> Path:
    path = tmp_path / "audience.csv"
    make_audience(120, campaigns=3, seed=4).to_csv(path, index=False)
    return path


def offers_api(url: str, **options: Any) -> ExternalAPI:
    return ExternalAPI(
        url,
        params={"market": "{market}"},
        campaign="campaign_id",
        auth=BearerToken(Secret.from_env("CLI_TOKEN")),
        columns={
            "offer": "$.offers[0].name",
            "price": Column("$.offers[0].price", dtype="Float64"),
        },
        **options,
    )


@pytest.fixture
def activity(demo_api: DemoAPI, tmp_path: Path) -> Path:
    path = tmp_path / "offers.toml"
    offers_api(demo_api.url("/offers")).to_toml(path)
    return path


class Markets:
    """Serves `/offers?market=..`; markets in `missing` get a 404."""

    def __init__(self, serve: Serve, missing: tuple[str, ...] = ()) -> None:
        self.missing = missing
        self.server = serve({"/offers": self.offers})

    async def offers(self, request: web.Request) -> web.Response:
        market = request.query.get("market", "")
        if market in self.missing:
            return web.json_response({"error": "unknown market"}, status=404)
        offer = {"name": f"offer {market}", "price": "9.50"}
        return web.json_response({"offers": [offer]})

    @property
    def requests(self) -> int:
        return int(self.server.app[HITS]["/offers"])

    def activity(self, tmp_path: Path, **options: Any) -> Path:
        path = tmp_path / "markets.toml"
        offers_api(self.server.url("/offers"), **options).to_toml(path)
        return path


def run(*argv: Any) -> int:
    return main([str(arg) for arg in argv])


def test_enrich_csv_to_parquet(
    activity: Path, audience_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "enriched.parquet"

    status = run("enrich", audience_csv, "--config", activity, "--out", out)
    enriched = pd.read_parquet(out)

    assert status == 0
    assert len(enriched) == 120
    assert enriched["offer"].notna().all()
    assert enriched["price"].dtype == "Float64"
    assert enriched.attrs["extapi"]["campaigns_total"] == 3


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".csv.gz"])
def test_enrich_reads_formats(activity: Path, tmp_path: Path, suffix: str) -> None:
    audience = make_audience(50, campaigns=2, seed=5)
    source = tmp_path / f"audience{suffix}"
    if suffix == ".jsonl":
        audience.to_json(source, orient="records", lines=True, date_format="iso")
    elif suffix == ".parquet":
        audience.to_parquet(source)
    else:
        audience.to_csv(source, index=False)
    out = tmp_path / "enriched.csv"

    status = run("enrich", source, "--config", activity, "--out", out)

    assert status == 0
    assert pd.read_csv(out)["offer"].notna().sum() == 50


def test_enrich_fsspec_urls(activity: Path) -> None:
    folder = f"memory://extapi-cli-{uuid.uuid4().hex}"
    make_audience(40, campaigns=2, seed=6).to_csv(f"{folder}/in.csv", index=False)

    status = run(
        "enrich",
        f"{folder}/in.csv",
        "--config",
        activity,
        "--out",
        f"{folder}/out.parquet",
    )
    enriched = pd.read_parquet(f"{folder}/out.parquet")
    fsspec.filesystem("memory").rm(folder.removeprefix("memory://"), recursive=True)

    assert status == 0
    assert len(enriched) == 40


def test_enrich_shows_progress(
    activity: Path, audience_csv: Path, tmp_path: Path, capsys: Output
) -> None:
    run("enrich", audience_csv, "--config", activity, "--out", tmp_path / "o.csv")
    err = capsys.readouterr().err

    assert "sending 3 campaign request(s)" in err
    assert "campaigns done: 3/3 (0 failed, 0 retries)" in err
    assert "wrote 120 rows to" in err


def test_no_progress_prints_summary_only(
    activity: Path, audience_csv: Path, tmp_path: Path, capsys: Output
) -> None:
    run(
        "enrich",
        audience_csv,
        "--config",
        activity,
        "--out",
        tmp_path / "o.csv",
        "--no-progress",
    )
    err = capsys.readouterr().err

    assert "campaigns done" not in err
    assert "wrote 120 rows to" in err


def test_failed_campaigns_exit_one(
    serve: Serve, audience_csv: Path, tmp_path: Path, capsys: Output
) -> None:
    markets = Markets(serve, missing=("FR",))
    config = markets.activity(tmp_path, retries=0)
    out = tmp_path / "o.csv"

    status = run(
        "enrich",
        audience_csv,
        "--config",
        config,
        "--out",
        out,
        "--on-error",
        "continue",
    )
    enriched = pd.read_csv(out)

    assert status == 1
    assert set(enriched["extapi_status"]) == {"ok", "http_404"}
    assert "1 failed" in capsys.readouterr().err


def test_failed_request_under_raise(
    serve: Serve, audience_csv: Path, tmp_path: Path, capsys: Output
) -> None:
    markets = Markets(serve, missing=("FR",))
    config = markets.activity(tmp_path, retries=0)
    out = tmp_path / "o.csv"

    status = run("enrich", audience_csv, "--config", config, "--out", out)

    assert status == 1
    assert "HTTP 404" in capsys.readouterr().err
    assert not out.exists()


def test_campaign_option_overrides(serve: Serve, tmp_path: Path) -> None:
    markets = Markets(serve)
    config = markets.activity(tmp_path)
    source = tmp_path / "audience.csv"
    pd.DataFrame({"cid": ["a", "b", "a"], "market": ["DE", "FR", "DE"]}).to_csv(
        source, index=False
    )

    status = run(
        "enrich",
        source,
        "--config",
        config,
        "--out",
        tmp_path / "o.csv",
        "--campaign",
        "cid",
    )

    assert status == 0
    assert markets.requests == 2


def test_cache_option_reuses_responses(
    serve: Serve, audience_csv: Path, tmp_path: Path
) -> None:
    markets = Markets(serve)
    config = markets.activity(tmp_path)
    arguments = ["enrich", audience_csv, "--config", config, "--cache", "5min"]

    run(*arguments, "--out", tmp_path / "first.csv")
    run(*arguments, "--out", tmp_path / "second.csv")

    assert markets.requests == 3
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "second.csv"), pd.read_csv(tmp_path / "first.csv")
    )


def test_replay_option_works_offline(
    serve: Serve, audience_csv: Path, tmp_path: Path
) -> None:
    markets = Markets(serve)
    config = markets.activity(tmp_path)
    recording = tmp_path / "run.json"
    arguments = ["enrich", audience_csv, "--config", config, "--replay", recording]
    run(*arguments, "--out", tmp_path / "recorded.parquet")
    markets.server.stop()

    status = run(*arguments, "--out", tmp_path / "replayed.parquet")

    assert status == 0
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "replayed.parquet"),
        pd.read_parquet(tmp_path / "recorded.parquet"),
    )


def test_dry_run_sends_nothing(
    serve: Serve, audience_csv: Path, tmp_path: Path, capsys: Output
) -> None:
    markets = Markets(serve)
    config = markets.activity(tmp_path)

    status = run("enrich", audience_csv, "--config", config, "--dry-run")
    output = capsys.readouterr()

    assert status == 0
    assert markets.requests == 0
    assert "dry run: 3 campaign request(s) for 120 rows; nothing is sent" in output.out
    assert "GET http://127.0.0.1" in output.out
    assert "/offers?market=" in output.out
    assert "auth: BearerToken, added when the request is sent" in output.out
    assert TOKEN not in output.out + output.err


def test_dry_run_masks_header_secret(
    serve: Serve,
    audience_csv: Path,
    tmp_path: Path,
    capsys: Output,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLI_KEY", "k-cli-3e9f")
    markets = Markets(serve)
    config = markets.activity(
        tmp_path, headers={"X-Api-Key": Secret.from_env("CLI_KEY")}
    )

    run("enrich", audience_csv, "--config", config, "--dry-run")
    out = capsys.readouterr().out

    assert "header X-Api-Key: [secure]" in out
    assert "k-cli-3e9f" not in out


@pytest.mark.parametrize(
    ("arguments", "pattern"),
    [
        (["--out", "{tmp}/o.xlsx"], "--out '.*o.xlsx' has no known extension"),
        ([], "--out OUT is required"),
        (["--out", "{tmp}/o.csv", "--cache", "soon"], "invalid cache='soon'"),
    ],
)
def test_usage_errors_exit_two(
    activity: Path,
    audience_csv: Path,
    tmp_path: Path,
    capsys: Output,
    arguments: list[str],
    pattern: str,
) -> None:
    filled = [argument.format(tmp=tmp_path) for argument in arguments]

    status = run("enrich", audience_csv, "--config", activity, *filled)

    assert status == 2
    assert re.search(pattern, capsys.readouterr().err)


@pytest.mark.parametrize(
    ("config_text", "audience_name", "pattern"),
    [
        ('url = "http://127.0.0.1:9/x"\ncolums = {}\n', "a.csv", r"colums \(line 2"),
        (None, "a.csv", "activity file .* not found"),
        (
            'url = "http://127.0.0.1:9/x"\ncolumns = { a = "$.a" }\n',
            "absent.csv",
            "audience file .* not found",
        ),
        (
            'url = "http://127.0.0.1:9/x"\ncolumns = { a = "$.a" }\n',
            "a.xlsx",
            "AUDIENCE .* has no known extension",
        ),
    ],
)
def test_configuration_errors_exit_two(
    tmp_path: Path,
    capsys: Output,
    config_text: str | None,
    audience_name: str,
    pattern: str,
) -> None:
    config = tmp_path / "activity.toml"
    if config_text is not None:
        config.write_text(config_text)
    pd.DataFrame({"id": [1]}).to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "a.xlsx").write_bytes(b"x")

    status = run(
        "enrich",
        tmp_path / audience_name,
        "--config",
        config,
        "--out",
        tmp_path / "o.csv",
    )

    assert status == 2
    assert re.search(pattern, capsys.readouterr().err)


def test_module_entry_point(activity: Path, audience_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "enriched.csv"

    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "extapi_pandas",
            "enrich",
            str(audience_csv),
            "--config",
            str(activity),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert len(pd.read_csv(out)) == 120
    assert TOKEN not in completed.stdout + completed.stderr


def test_preview_prints_call(
    activity: Path, audience_csv: Path, capsys: Output
) -> None:
    status = run(
        "preview", audience_csv, "--config", activity, "--campaign-value", "CMP-FR-01"
    )
    out = capsys.readouterr().out

    assert status == 0
    assert "Preview of campaign 'CMP-FR-01'" in out
    assert "/offers?market=FR -> HTTP 200" in out
    assert "columns, as declared:" in out
    assert "inferred from the response: " in out
    assert "offer" in out.splitlines()[-2]


def test_preview_json_option(
    activity: Path, audience_csv: Path, capsys: Output
) -> None:
    run("preview", audience_csv, "--config", activity, "--json")
    out = capsys.readouterr().out

    assert '"currency": "EUR"' in out


def test_preview_replay_option_offline(
    serve: Serve, audience_csv: Path, tmp_path: Path, capsys: Output
) -> None:
    markets = Markets(serve)
    config = markets.activity(tmp_path)
    recording = tmp_path / "run.json"
    arguments = ["--config", config, "--replay", recording]
    run("enrich", audience_csv, *arguments, "--out", tmp_path / "o.csv")
    markets.server.stop()
    capsys.readouterr()

    status = run("preview", audience_csv, *arguments)
    out = capsys.readouterr().out

    assert status == 0
    assert "-> HTTP 200 from the recording (fetched at " in out


def test_preview_reads_activity_cache(
    serve: Serve, audience_csv: Path, tmp_path: Path, capsys: Output
) -> None:
    markets = Markets(serve)
    cache = Cache("1h", path=tmp_path / "cache.sqlite")
    config = markets.activity(tmp_path, cache=cache)
    run("enrich", audience_csv, "--config", config, "--out", tmp_path / "o.csv")
    clear_memory_cache()
    capsys.readouterr()

    status = run("preview", audience_csv, "--config", config)
    out = capsys.readouterr().out

    assert status == 0
    assert "-> HTTP 200 from the cache (fetched at " in out
    assert markets.requests == 3


def test_preview_writes_no_recording(
    serve: Serve, audience_csv: Path, tmp_path: Path
) -> None:
    markets = Markets(serve)
    config = markets.activity(tmp_path)
    recording = tmp_path / "run.json"

    status = run("preview", audience_csv, "--config", config, "--replay", recording)

    assert status == 0
    assert not recording.exists()


SAMPLE = {
    "date": "2026-05-01",
    "regions": [{"code": "N", "temp": 12.5}, {"code": "S", "temp": 17.0}],
}


def write_sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.json"
    path.write_text(json.dumps(SAMPLE))
    return path


def test_infer_prints_toml(tmp_path: Path, capsys: Output) -> None:
    status = run("infer", write_sample(tmp_path))
    out = capsys.readouterr().out

    assert status == 0
    assert 'records = "$.regions[*]"' in out
    assert '[columns.temp]\npath = "$.temp"\ndtype = "Float64"' in out


def test_infer_output_fits_activity(tmp_path: Path, capsys: Output) -> None:
    run("infer", write_sample(tmp_path))
    mapping = capsys.readouterr().out
    path = tmp_path / "activity.toml"
    path.write_text(
        'url = "http://127.0.0.1:9/weather"\non = { region = "code" }\n' + mapping
    )

    api = ExternalAPI.from_toml(path)

    assert api.records == "$.regions[*]"
    assert api.mapping.names == ["code", "temp"]


def test_infer_prints_python(tmp_path: Path, capsys: Output) -> None:
    run("infer", write_sample(tmp_path), "--to", "python", "--one-row")
    out = capsys.readouterr().out

    assert "records = None" in out
    assert "class ResponseModel(pa.DataFrameModel):" in out
    assert '"date": Column("$.date"' in out


def test_infer_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: Output) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"city": "Oslo"}'))

    run("infer", "-")

    assert '[columns.city]\npath = "$.city"' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "pattern"),
    [(None, "sample file .* not found"), ("{oops", "cannot read .* as JSON")],
)
def test_infer_bad_sample_exits_two(
    tmp_path: Path, capsys: Output, content: str | None, pattern: str
) -> None:
    path = tmp_path / "sample.json"
    if content is not None:
        path.write_text(content)

    status = run("infer", path)

    assert status == 2
    assert re.search(pattern, capsys.readouterr().err)


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (
            "enrich",
            [
                "--config",
                "--format",
                "--out",
                "--campaign",
                "--on-error",
                "--cache",
                "--replay",
                "--dry-run",
                "--no-progress",
            ],
        ),
        ("preview", ["--config", "--format", "--campaign-value", "--json", "--replay"]),
        ("infer", ["--records", "--one-row", "--to"]),
    ],
)
def test_help_describes_every_option(
    command: str, options: list[str], capsys: Output
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())

    assert exited.value.code == 0
    for option in options:
        assert option in text
    assert "exit" in text or command != "enrich"


def test_enrich_help_names_units(capsys: Output) -> None:
    with pytest.raises(SystemExit):
        main(["enrich", "--help"])
    text = " ".join(capsys.readouterr().out.split())

    assert "seconds, or a duration such as 30s, 5min, 2h, 1d" in text
    assert "Exit status: 0 on success, 1 when campaigns failed" in text
