"""The pyarrow key matcher of the file route gives the pandas matcher's results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import extapi_pandas  # noqa: F401  (registers df.extapi)
from extapi_pandas.errors import TransferError
from extapi_pandas.transfer.keys import (
    ArrowKeyMatcher,
    JoinKey,
    KeyMatcher,
    make_matcher,
)

KEY = JoinKey(("profile_id",), ("profile_id",))


def audience_of(keys: list[Any], *, arrow: bool) -> pd.DataFrame:
    """Return an audience whose key is pyarrow-backed `str`, or object for pandas."""
    dtype = "str" if arrow else object
    return pd.DataFrame(
        {"profile_id": pd.Series(keys, dtype=dtype), "n": np.arange(len(keys))}
    )


def write_csv(path: Path, keys: list[str], scores: list[int]) -> Path:
    lines = [f"{key},{score}" for key, score in zip(keys, scores, strict=True)]
    path.write_text("profile_id,score\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def random_case(seed: int) -> tuple[list[Any], list[str]]:
    rng = np.random.default_rng(seed)
    audience: list[Any] = [f"k{v}" for v in rng.integers(0, 40, 60)]
    for row in rng.integers(0, 60, 5):
        audience[row] = None
    file_keys = [f"k{v}" for v in rng.integers(0, 60, 50)]
    return audience, file_keys


def test_make_matcher_picks_arrow_for_text() -> None:
    matcher = make_matcher(audience_of(["a"], arrow=True), KEY, {}, 10)

    assert isinstance(matcher, ArrowKeyMatcher)


@pytest.mark.parametrize(
    ("arrow", "declared", "key"),
    [
        (False, {}, KEY),  # object audience column
        (True, {"profile_id": "Int64"}, KEY),  # declared non-text file key
        (True, {}, JoinKey(("profile_id", "n"), ("profile_id", "n"))),
    ],
)
def test_make_matcher_falls_back_to_pandas(
    arrow: bool, declared: dict[str, str], key: JoinKey
) -> None:
    matcher = make_matcher(audience_of(["a"], arrow=arrow), key, declared, 10)

    assert type(matcher) is KeyMatcher


def test_arrow_matcher_block_groups() -> None:
    audience = pd.Series(["a", "b", None, "a", "c"], dtype="str")
    matcher = ArrowKeyMatcher(audience, flush_rows=5)

    first = matcher.match([[pd.Series(["c", "x", "a"], dtype="str")]])
    second = matcher.match([[pd.Series(["a", None, "b"], dtype="str")]])

    assert first.tolist() == [0, -1, 1]
    assert second.tolist() == [1, -1, 2]  # "a" keeps the group of the first block
    assert matcher.codes.tolist() == [1, 2, -1, 1, 0]
    assert matcher.group_count == 3
    assert matcher.key_of(2) == "b"


def test_arrow_matcher_categorical_file_key() -> None:
    matcher = ArrowKeyMatcher(pd.Series(["a", "b"], dtype="str"), flush_rows=2)

    found = matcher.match([[pd.Series(["b", "z", None], dtype="category")]])

    assert found.tolist() == [0, -1, -1]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("keep", ["first", "last"])
@pytest.mark.parametrize("chunk_rows", [1, 7, 1000])
def test_arrow_join_equals_pandas_join(
    tmp_path: Path, seed: int, keep: str, chunk_rows: int
) -> None:
    audience_keys, file_keys = random_case(seed)
    path = write_csv(tmp_path / "f.csv", file_keys, list(range(len(file_keys))))
    results = {}
    for arrow in (True, False):
        audience = audience_of(audience_keys, arrow=arrow)
        results[arrow] = audience.extapi.enrich_from_file(
            path, on="profile_id", keep=keep, chunk_rows=chunk_rows
        )

    assert results[True]["score"].tolist() == results[False]["score"].tolist()
    arrow_match = results[True].attrs["extapi"]["match"]
    assert arrow_match == results[False].attrs["extapi"]["match"]


@pytest.mark.parametrize("arrow", [True, False])
def test_duplicate_across_blocks_rejected(tmp_path: Path, arrow: bool) -> None:
    path = write_csv(tmp_path / "d.csv", ["p0", "p1", "p2", "p0"], [1, 2, 3, 4])
    audience = audience_of(["p0", "p1"], arrow=arrow)

    with pytest.raises(TransferError, match=r"'p0' \(2 rows: d.csv data row 1, d.csv"):
        audience.extapi.enrich_from_file(path, on="profile_id", chunk_rows=1)


def test_repeated_audience_keys_share_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", ["x", "y"], [10, 20])
    audience = audience_of(["y", "x", "y", None, "z"], arrow=True)

    enriched = audience.extapi.enrich_from_file(path, on="profile_id", chunk_rows=1)

    assert enriched["score"].tolist() == [20, 10, 20, pd.NA, pd.NA]
