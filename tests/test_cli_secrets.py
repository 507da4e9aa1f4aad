"""The command line never prints a secret, on success or on failure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from aiohttp import web

from extapi_pandas import BearerToken, ExternalAPI, Secret
from extapi_pandas.cli import main
from extapi_pandas.demo import BackgroundServer

TOKEN = "tok-cli-failure-9c41ad"


@pytest.mark.parametrize("status", [401, 500])
def test_cli_failure_output_masks_token(
    serve: Callable[..., BackgroundServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    status: int,
) -> None:
    async def echo(request: web.Request) -> web.Response:
        # A careless API that quotes the credentials back in its error body.
        return web.Response(status=status, text=request.headers["Authorization"])

    url = serve({"/offers": echo}).url("/offers")
    monkeypatch.setenv("CLI_FAILURE_TOKEN", TOKEN)
    activity = tmp_path / "activity.toml"
    ExternalAPI(
        url,
        columns={"offer": "$.offer"},
        retries=0,
        auth=BearerToken(Secret.from_env("CLI_FAILURE_TOKEN")),
    ).to_toml(activity)
    audience = tmp_path / "audience.csv"
    pd.DataFrame({"profile_id": [1, 2]}).to_csv(audience, index=False)

    code = main(
        [
            "-v",
            "enrich",
            str(audience),
            "--config",
            str(activity),
            "--out",
            str(tmp_path / "out.csv"),
            "--on-error",
            "continue",
        ]
    )
    output = capsys.readouterr()

    assert code == 1
    assert TOKEN not in output.out + output.err
    assert f"http_{status}" in output.out + output.err
