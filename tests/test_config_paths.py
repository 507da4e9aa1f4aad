"""Tests for file paths in activity files: resolved against the file's folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import trustme
from aiohttp import web
from conftest import HITS

from extapi_pandas import Cache, ConfigurationError, ExternalAPI
from extapi_pandas.cli import main
from extapi_pandas.demo import BackgroundServer

Serve = Callable[..., BackgroundServer]
URL = "http://127.0.0.1:9/offers"
AUDIENCE = pd.DataFrame(
    {"campaign_id": ["c1", "c2", "c1"], "market": ["DE", "FR", "DE"]}
)
AUDIENCE_OPTIONS = 'campaign = "campaign_id"\nparams = { market = "{market}" }\n'


def write_activity(folder: Path, lines: str, url: str = URL) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "activity.toml"
    path.write_text(f'url = "{url}"\ncolumns = {{ x = "$.x" }}\n{lines}')
    return path


def verify_of(api: ExternalAPI) -> Any:
    return api.verify


def cache_path_of(api: ExternalAPI) -> Any:
    return api.cache.path if api.cache is not None else None


def replay_path_of(api: ExternalAPI) -> Any:
    return api.replay.path if api.replay is not None else None


# Each path-valued option of an activity file: a TOML line and how to read the
# path back from the loaded definition.
PATH_OPTIONS: list[tuple[str, Callable[[ExternalAPI], Any], str]] = [
    ('verify = "certs/ca.pem"\n', verify_of, "certs/ca.pem"),
    ('cache = { ttl = "1h", path = "cache.sqlite" }\n', cache_path_of, "cache.sqlite"),
    ('replay = "runs/run.json"\n', replay_path_of, "runs/run.json"),
    (
        'replay = { path = "run.json", mode = "record" }\n',
        replay_path_of,
        "run.json",
    ),
    ('verify = "../shared/ca.pem"\n', verify_of, "../shared/ca.pem"),
]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory that is not the folder of the activity files."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.parametrize(("line", "read", "written"), PATH_OPTIONS)
def test_relative_path_follows_file(
    tmp_path: Path,
    elsewhere: Path,
    line: str,
    read: Callable[[ExternalAPI], Any],
    written: str,
) -> None:
    folder = tmp_path / "activities"
    path = write_activity(folder, line)

    api = ExternalAPI.from_toml(path)

    assert read(api) == os.path.normpath(folder / written)


@pytest.mark.parametrize(("line", "read", "written"), PATH_OPTIONS)
def test_dict_path_follows_working_dir(
    elsewhere: Path, line: str, read: Callable[[ExternalAPI], Any], written: str
) -> None:
    import tomllib

    data = tomllib.loads(f'url = "{URL}"\ncolumns = {{ x = "$.x" }}\n{line}')

    api = ExternalAPI.from_dict(data)

    assert read(api) == written


@pytest.mark.parametrize("written", ["/srv/certs/ca.pem", "~/certs/ca.pem"])
def test_absolute_and_home_paths_kept(tmp_path: Path, written: str) -> None:
    path = write_activity(tmp_path / "activities", f'verify = "{written}"\n')

    api = ExternalAPI.from_toml(path)

    assert api.verify == written


def test_cache_duration_is_not_a_path(tmp_path: Path, elsewhere: Path) -> None:
    path = write_activity(tmp_path / "activities", 'cache = "5min"\n')

    api = ExternalAPI.from_toml(path)

    assert api.cache == Cache("5min")


def test_relative_path_error_shows_resolved(tmp_path: Path, elsewhere: Path) -> None:
    folder = tmp_path / "activities"
    path = write_activity(folder, 'verify = "missing.pem"\n')
    api = ExternalAPI.from_toml(path)

    with pytest.raises(ConfigurationError, match=r"activities/missing\.pem"):
        api.ssl_context()


def test_saved_path_relative_to_new_file(tmp_path: Path, elsewhere: Path) -> None:
    api = ExternalAPI(
        URL,
        columns={"x": "$.x"},
        verify="certs/ca.pem",
        cache=Cache("1h", path="cache.sqlite"),
        replay="run.json",
    )
    path = tmp_path / "activities" / "activity.toml"
    path.parent.mkdir()

    api.to_toml(path)
    loaded = ExternalAPI.from_toml(path)

    assert loaded.verify == str(elsewhere / "certs" / "ca.pem")
    assert cache_path_of(loaded) == str(elsewhere / "cache.sqlite")
    assert replay_path_of(loaded) == str(elsewhere / "run.json")
    assert 'verify = "../elsewhere/certs/ca.pem"' in path.read_text()


@pytest.mark.parametrize(
    "line",
    [
        'verify = "certs/ca.pem"\n',
        'verify = "../shared/ca.pem"\n',
        'verify = "/srv/certs/ca.pem"\n',
        'verify = "~/certs/ca.pem"\n',
        'replay = "runs/run.json"\n',
        '\n[cache]\nttl = "1h"\npath = "cache/offers.sqlite"\n',
        '\n[replay]\npath = "../run.json"\nmode = "replay"\n',
    ],
)
def test_loaded_paths_save_unchanged(
    tmp_path: Path, elsewhere: Path, line: str
) -> None:
    path = write_activity(tmp_path / "activities", line)
    first = ExternalAPI.from_toml(path)

    first.to_toml(path)
    again = ExternalAPI.from_toml(path)

    assert line.strip() in path.read_text()
    assert again == first


def test_moved_activity_keeps_relative_paths(tmp_path: Path, elsewhere: Path) -> None:
    path = write_activity(tmp_path / "one", 'replay = "run.json"\n')
    moved = tmp_path / "two" / "activity.toml"
    moved.parent.mkdir()

    ExternalAPI.from_toml(path).to_toml(moved)

    assert 'replay = "../one/run.json"' in moved.read_text()


def test_to_dict_paths_are_plain_strings(tmp_path: Path) -> None:
    path = write_activity(tmp_path / "activities", 'replay = "run.json"\n')

    saved = ExternalAPI.from_toml(path).to_dict()["replay"]

    assert type(saved) is str
    assert saved == str(tmp_path / "activities" / "run.json")


def test_home_path_expanded_when_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serve: Serve
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    server = serve({"/offers": offers})
    path = write_activity(
        tmp_path / "activities",
        AUDIENCE_OPTIONS
        + 'replay = "~/run.json"\n[cache]\nttl = "1h"\npath = "~/cache.sqlite"\n',
        url=server.url("/offers"),
    )

    AUDIENCE.extapi.enrich(ExternalAPI.from_toml(path))

    assert (tmp_path / "run.json").is_file()
    assert (tmp_path / "cache.sqlite").is_file()


def test_home_path_in_verify_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_ca: trustme.CA
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    test_ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    api = ExternalAPI(URL, columns={"x": "$.x"}, verify="~/ca.pem")

    assert api.ssl_context() is not None


async def offers(request: web.Request) -> web.Response:
    return web.json_response({"x": request.query.get("market")})


def test_recording_next_to_activity(
    tmp_path: Path, elsewhere: Path, serve: Serve
) -> None:
    server = serve({"/offers": offers})
    folder = tmp_path / "activities"
    path = write_activity(
        folder, AUDIENCE_OPTIONS + 'replay = "run.json"\n', url=server.url("/offers")
    )
    recorded = AUDIENCE.extapi.enrich(ExternalAPI.from_toml(path))
    server.stop()

    replayed = AUDIENCE.extapi.enrich(ExternalAPI.from_toml(path))

    assert (folder / "run.json").is_file()
    assert not (elsewhere / "run.json").exists()
    pd.testing.assert_frame_equal(replayed, recorded)


def test_cache_file_next_to_activity(
    tmp_path: Path, elsewhere: Path, serve: Serve
) -> None:
    server = serve({"/offers": offers})
    folder = tmp_path / "activities"
    path = write_activity(
        folder,
        AUDIENCE_OPTIONS + 'cache = { ttl = "1h", path = "cache.sqlite" }\n',
        url=server.url("/offers"),
    )

    AUDIENCE.extapi.enrich(ExternalAPI.from_toml(path))
    AUDIENCE.extapi.enrich(ExternalAPI.from_toml(path))

    assert (folder / "cache.sqlite").is_file()
    assert not (elsewhere / "cache.sqlite").exists()
    assert server.app[HITS]["/offers"] == 2


def test_cli_config_resolves_paths(
    tmp_path: Path, elsewhere: Path, serve: Serve
) -> None:
    server = serve({"/offers": offers})
    folder = tmp_path / "activities"
    path = write_activity(
        folder, AUDIENCE_OPTIONS + 'replay = "run.json"\n', url=server.url("/offers")
    )
    AUDIENCE.to_csv("audience.csv", index=False)

    status = main(["enrich", "audience.csv", "--config", str(path), "--out", "o.csv"])

    assert status == 0
    assert (folder / "run.json").is_file()
    assert not (elsewhere / "run.json").exists()


def test_cli_replay_option_uses_working_dir(
    tmp_path: Path, elsewhere: Path, serve: Serve
) -> None:
    server = serve({"/offers": offers})
    path = write_activity(
        tmp_path / "activities", AUDIENCE_OPTIONS, url=server.url("/offers")
    )
    AUDIENCE.to_csv("audience.csv", index=False)
    arguments = ["enrich", "audience.csv", "--config", str(path), "--out", "o.csv"]

    status = main([*arguments, "--replay", "run.json"])

    assert status == 0
    assert (elsewhere / "run.json").is_file()
