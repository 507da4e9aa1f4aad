"""Validate the small extracted frame with pandera, never the audience."""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd

from extapi_pandas.errors import ConfigurationError, ValidationError
from extapi_pandas.frames import ConversionFailure

__all__ = ["FAILURE_COLUMNS", "failure_frame", "raise_for_failures", "resolve_schema",
           "validate_frame"]

logger = logging.getLogger(__name__)

FAILURE_COLUMNS = ["campaign", "column", "value", "check"]
_SHOWN_FAILURES = 5


def resolve_schema(schema: Any) -> Any:
    """Return a coercing copy of a pandera `DataFrameSchema` or `DataFrameModel`.

    Raises:
        ConfigurationError: `schema` is neither.
    """
    if schema is None:
        return None
    to_schema = getattr(schema, "to_schema", None)
    if isinstance(schema, type) and callable(to_schema):
        schema = to_schema()
    if not hasattr(schema, "validate") or not hasattr(schema, "columns"):
        raise ConfigurationError(
            f"schema= must be a pandera DataFrameSchema or DataFrameModel class, got "
            f"{type(schema).__name__}"
        )
    resolved = copy.deepcopy(schema)
    resolved.coerce = True
    return resolved


def validate_frame(
    frame: pd.DataFrame, schema: Any, row_campaigns: Sequence[Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate `frame` lazily with coercion.

    Returns:
        The validated frame, and the failure cases (empty when all rows passed) with
        the columns `campaign`, `column`, `value`, `check` and `row`; `row` is None
        for a failure that concerns a whole column.
    """
    import pandera.errors

    try:
        return schema.validate(frame, lazy=True), _empty_failures()
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    except pandera.errors.SchemaError as exc:  # raised by checks that skip lazy mode
        cases = pd.DataFrame(
            {"column": [getattr(exc, "column_name", None)],
             "check": [str(exc.check) if exc.check is not None else str(exc)],
             "failure_case": [None], "index": [None]}
        )
    rows = [None if pd.isna(i) else int(i) for i in cases["index"]]
    failures = pd.DataFrame(
        {
            "campaign": [None if r is None else row_campaigns[r] for r in rows],
            "column": cases["column"].astype(object).to_list(),
            "value": cases["failure_case"].astype(object).to_list(),
            "check": cases["check"].astype(str).to_list(),
            "row": rows,
        }
    )
    return frame, failures


def failure_frame(
    conversions: Sequence[ConversionFailure], row_campaigns: Sequence[Any]
) -> pd.DataFrame:
    """Turn dtype conversion failures into failure cases in the pandera layout."""
    if not conversions:
        return _empty_failures()
    return pd.DataFrame(
        {
            "campaign": [row_campaigns[c.row] for c in conversions],
            "column": [c.column for c in conversions],
            "value": [c.value for c in conversions],
            "check": [c.check for c in conversions],
            "row": [c.row for c in conversions],
        }
    )


def raise_for_failures(failures: pd.DataFrame) -> None:
    """Raise a `ValidationError` listing the first failure cases, if there are any."""
    if failures.empty:
        return
    shown = failures.head(_SHOWN_FAILURES)
    lines = [
        f"  campaign {row.campaign!r}, column {row.column!r}: value {row.value!r} "
        f"failed {row.check}"
        for row in shown.itertuples(index=False)
    ]
    more = len(failures) - len(shown)
    if more:
        lines.append(f"  ... and {more} more (see the error's failure_cases)")
    campaigns = failures["campaign"].dropna().unique().tolist()
    raise ValidationError(
        f"{len(failures)} value(s) failed validation:\n" + "\n".join(lines) + "\n"
        "Fix the schema or the column dtypes, or pass on_error='continue' to keep the "
        "other campaigns and mark these as 'validation_failed'",
        failure_cases=failures[FAILURE_COLUMNS].reset_index(drop=True),
        campaign=campaigns[0] if len(campaigns) == 1 else None,
    )


def _empty_failures() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in [*FAILURE_COLUMNS,
                                                                      "row"]})
