"""Validation with pandera: coercion only where a column's dtype differs."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest

from extapi_pandas.validation import (
    _without_needless_coercion,
    resolve_schema,
    validate_frame,
)


def extracted_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "headline": pd.array(["Spring sale"], dtype="string"),
            "discount": pd.array([20], dtype="Int64"),
        }
    )


def test_matching_dtypes_skip_coercion() -> None:
    schema = resolve_schema(
        pa.DataFrameSchema({"headline": pa.Column(str), "discount": pa.Column("Int64")})
    )

    relaxed = _without_needless_coercion(schema, extracted_frame())

    assert not relaxed.coerce
    assert schema.coerce  # the resolved schema itself is left as it was


@pytest.mark.parametrize(
    "columns",
    [
        {"discount": pa.Column(float)},  # Int64 needs coercion to float64
        {"disc.*": pa.Column("Int64", regex=True)},
    ],
)
def test_needed_coercion_kept(columns: dict[str, pa.Column]) -> None:
    schema = resolve_schema(pa.DataFrameSchema(columns))

    assert _without_needless_coercion(schema, extracted_frame()) is schema


def test_matching_dtypes_validate_unchanged() -> None:
    schema = resolve_schema(
        pa.DataFrameSchema({"headline": pa.Column(str), "discount": pa.Column("Int64")})
    )

    validated, failures = validate_frame(extracted_frame(), schema, ["C1"])

    assert failures.empty
    assert validated.dtypes.tolist() == extracted_frame().dtypes.tolist()


def test_differing_dtype_still_coerced() -> None:
    schema = resolve_schema(
        pa.DataFrameSchema({"headline": pa.Column(str), "discount": pa.Column(float)})
    )

    validated, failures = validate_frame(extracted_frame(), schema, ["C1"])

    assert failures.empty
    assert validated["discount"].dtype == "float64"


@pytest.mark.parametrize(
    "schema",
    [
        pa.DataFrameSchema({"discount": pa.Column("Int64", pa.Check.lt(10))}),
        pa.DataFrameSchema({"discount": pa.Column(float, pa.Check.lt(10))}),
    ],
)
def test_failed_check_reported_with_campaign(schema: pa.DataFrameSchema) -> None:
    _, failures = validate_frame(extracted_frame(), resolve_schema(schema), ["C1"])

    assert failures["campaign"].tolist() == ["C1"]
    assert failures["value"].tolist() == [20]
