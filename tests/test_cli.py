"""Tests for the extapi-pandas command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from extapi_pandas.cli import main


def test_demo_module_exits_zero() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "extapi_pandas", "demo", "--rows", "2000"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "rows enriched:   2,000" in completed.stdout
    assert "HTTP requests:   9" in completed.stdout
    assert "offer_name" in completed.stdout
    assert "P0000001" in completed.stdout


def test_demo_prints_enriched_rows(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["demo", "--rows", "500", "--campaigns", "3"])
    output = capsys.readouterr().out
    assert status == 0
    assert "campaigns:       3" in output
    assert "HTTP requests:   4" in output
    assert "weather" in output


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_demo_writes_out_file(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"enriched{suffix}"
    status = main(["demo", "--rows", "300", "--out", str(out)])
    assert status == 0
    frame = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    assert len(frame) == 300
    assert frame["offer_name"].notna().all()
    assert frame["temp_max_c"].notna().all()


def test_demo_rejects_unknown_out_suffix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["demo", "--rows", "10", "--out", str(tmp_path / "x.xlsx")])
    assert status == 2
    assert "must end in .csv or .parquet" in capsys.readouterr().err


@pytest.mark.parametrize("rows", ["0", "-5", "many"])
def test_demo_rejects_invalid_rows(rows: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--rows", rows])
    assert exited.value.code == 2


def test_help_names_every_demo_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = capsys.readouterr().out
    for option in ("--rows", "--campaigns", "--seed", "--out"):
        assert option in text


def test_demo_rejects_missing_out_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["demo", "--rows", "10", "--out", str(tmp_path / "no" / "x.csv")])
    assert status == 2
    assert "does not exist" in capsys.readouterr().err
