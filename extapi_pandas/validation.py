"""Validate the small extracted frame with pandera, never the audience."""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from extapi_pandas.dtypes import InvalidValue, convert_value, parse_dtype
from extapi_pandas.errors import ConfigurationError, ValidationError
from extapi_pandas.frames import BuiltFrame, ConversionFailure, Fix
from extapi_pandas.mapping import Column

__all__ = [
    "FAILURE_COLUMNS",
    "Checked",
    "check_frame",
    "failure_frame",
    "raise_for_document_failures",
    "raise_for_failures",
    "resolve_schema",
    "validate_frame",
]

logger = logging.getLogger(__name__)

FAILURE_COLUMNS = ["campaign", "column", "value", "check"]
_SHOWN_FAILURES = 5


@dataclass
class Checked:
    """A frame after conversion and validation.

    Attributes:
        frame: The validated frame (the unvalidated one when failures remain).
        failures: Failure cases left after the `on_invalid` policies, with the
            columns `campaign`, `column`, `value`, `check` and `row`.
        fixes: Values that the `on_invalid` policies replaced.
    """

    frame: pd.DataFrame
    failures: pd.DataFrame
    fixes: list[Fix] = field(default_factory=list)


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


def check_frame(
    built: BuiltFrame,
    schema: Any,
    row_campaigns: Sequence[Any],
    columns: Mapping[str, Column],
) -> Checked:
    """Report conversion failures, then validate with the schema and apply policies.

    A failed cell in a column whose `on_invalid` is `"null"` or a default is
    replaced, and the frame is validated again. The other failures are returned.

    Args:
        built: The frame from `build_frame`, with its conversion failures and fixes.
        schema: A schema from `resolve_schema`, or None.
        row_campaigns: The campaign key of each row, named in failure cases.
        columns: The mapping's columns, for their `on_invalid` policies.
    """
    checked = Checked(
        built.frame, failure_frame(built.failures, row_campaigns), list(built.fixes)
    )
    if not checked.failures.empty or schema is None:
        return checked
    frame, failures = validate_frame(built.frame, schema, row_campaigns)
    if failures.empty:
        checked.frame = frame
        return checked
    fixed_frame, fixes = _apply_policies(built.frame, failures, columns)
    if not fixes:
        checked.failures = failures
        return checked
    checked.fixes.extend(fixes)
    checked.frame, checked.failures = validate_frame(fixed_frame, schema, row_campaigns)
    return checked


def validate_frame(
    frame: pd.DataFrame, schema: Any, row_campaigns: Sequence[Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate `frame` lazily with coercion.

    Returns:
        The validated frame, and the failure cases (empty when all rows passed)
        with the columns `campaign`, `column`, `value`, `check` and `row`. The
        `row` is None for a failure that concerns a whole column.
    """
    import pandera.errors

    schema = _without_needless_coercion(schema, frame)
    try:
        # pandera copies the frame unless inplace=True. It gets a shallow copy
        # instead, which is cheaper and keeps `frame` unchanged.
        validated = schema.validate(frame.copy(deep=False), lazy=True, inplace=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    except pandera.errors.SchemaError as exc:  # raised by checks that skip lazy mode
        cases = pd.DataFrame(
            {
                "column": [getattr(exc, "column_name", None)],
                "check": [str(exc.check) if exc.check is not None else str(exc)],
                "failure_case": [None],
                "index": [None],
            }
        )
    else:
        return _keep_string_dtypes(frame, validated), _empty_failures()
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


def _without_needless_coercion(schema: Any, frame: pd.DataFrame) -> Any:
    """Return `schema`, or a copy that does not coerce when no column needs it.

    The extracted columns usually have their declared dtypes already, and then
    coercion only costs time. Schemas with an index, a schema-wide dtype or regex
    column names are returned as they are.
    """
    if not schema.coerce or schema.index is not None or schema.dtype is not None:
        return schema
    from pandera.engines import pandas_engine

    dtypes = frame.dtypes.to_dict()
    for name, column in schema.columns.items():
        if column.regex:
            return schema
        if column.dtype is None or name not in dtypes:
            continue
        try:
            matches = column.dtype.check(pandas_engine.Engine.dtype(dtypes[name]))
        except (TypeError, ValueError):  # a dtype pandera does not know
            return schema
        if not matches:
            return schema
    relaxed = copy.copy(schema)
    relaxed.coerce = False
    return relaxed


def _keep_string_dtypes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    # NOTE: with coerce=True, pandera 0.35 on pandas 3 turns a `string` column
    # (missing values are <NA>) into the NaN-based default `str`; the extracted
    # columns keep <NA>, so the original string dtype is put back.
    restored = after
    for name in after.columns.intersection(before.columns):
        old, new = before[name].dtype, after[name].dtype
        if (
            isinstance(old, pd.StringDtype)
            and isinstance(new, pd.StringDtype)
            and old.na_value is pd.NA
            and new.na_value is not pd.NA
        ):
            if restored is after:
                restored = after.copy(deep=False)
            restored[name] = after[name].astype(old)
    return restored


def _apply_policies(
    frame: pd.DataFrame, failures: pd.DataFrame, columns: Mapping[str, Column]
) -> tuple[pd.DataFrame, list[Fix]]:
    """Replace the failed cells whose column has an `on_invalid` policy."""
    fixed = frame.copy(deep=False)
    fixes: list[Fix] = []
    seen: set[tuple[int, str]] = set()
    for case in failures.itertuples(index=False):
        row_label: Any = case.row
        if row_label is None or pd.isna(row_label):
            continue  # a failure about the whole column has no cell to replace
        row, column_name = int(row_label), str(case.column)
        column = columns.get(column_name)
        if column is None or (row, column_name) in seen:
            continue
        replacement = _policy_value(column)
        if replacement is _RAISE:
            continue
        try:
            values = fixed[column_name].array.copy()
            values[row] = replacement
        except (TypeError, ValueError) as exc:
            logger.debug(
                "on_invalid could not replace row %d of %r: %s", row, column_name, exc
            )
            continue
        fixed[column_name] = values
        seen.add((row, column_name))
        action = "null" if replacement is None else "default"
        fixes.append(Fix(row, column_name, case.value, action, str(case.check)))
    return fixed, fixes


class _Raise:
    pass


_RAISE: Any = _Raise()


def _policy_value(column: Column) -> Any:
    policy = column.on_invalid
    if policy is None or (isinstance(policy, str) and policy == "raise"):
        return _RAISE
    if isinstance(policy, str) and policy == "null":
        return None if column.nullable else _RAISE
    if column.dtype is None:
        return policy
    try:
        return convert_value(policy, parse_dtype(column.dtype), unit=column.unit)
    except InvalidValue:  # pragma: no cover - Column checks its default
        return _RAISE


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
            "check": [
                f"{c.check}: {c.reason}" if c.reason else c.check for c in conversions
            ],
            "row": [c.row for c in conversions],
        }
    )


def raise_for_failures(failures: pd.DataFrame) -> None:
    """Raise a `ValidationError` listing the first failure cases, if there are any."""
    if failures.empty:
        return
    shown = failures["campaign"].head(_SHOWN_FAILURES)
    lines = _failure_lines(failures, [_where(campaign) for campaign in shown])
    campaigns = failures["campaign"].dropna().unique().tolist()
    raise ValidationError(
        f"{len(failures)} value(s) failed validation:\n" + "\n".join(lines) + "\n"
        "Fix the schema or the column dtypes; list words that mean 'missing' in "
        "na_values= to read them as <NA>; set Column(on_invalid='null') or a default "
        "to replace invalid values; or pass on_error='continue' to keep the other "
        "campaigns and mark these as 'validation_failed'",
        failure_cases=failures[FAILURE_COLUMNS].reset_index(drop=True),
        campaign=campaigns[0] if len(campaigns) == 1 else None,
    )


def raise_for_document_failures(failures: pd.DataFrame) -> None:
    """Raise a `ValidationError` for `extract`, which has rows but no campaigns.

    The message and the `failure_cases` name the row of the extracted frame, which
    is the record's position with `records=`, where `raise_for_failures` names the
    campaign. The fixes leave out `on_error`, because `extract` does not take it.
    """
    if failures.empty:
        return
    rows = [None if pd.isna(row) else int(row) for row in failures["row"]]
    where = ["" if row is None else f"row {row}, " for row in rows[:_SHOWN_FAILURES]]
    lines = _failure_lines(failures, where)
    cases = failures[FAILURE_COLUMNS[1:]].reset_index(drop=True)
    cases.insert(0, "row", pd.Series(rows, dtype=object))
    raise ValidationError(
        f"{len(failures)} value(s) extracted from the document failed validation:\n"
        + "\n".join(lines)
        + "\nFix the schema or the column dtypes; list words that mean 'missing' "
        "in na_values= to read them as <NA>; or set Column(on_invalid='null') or a "
        "default to replace invalid values",
        failure_cases=cases,
    )


def _failure_lines(failures: pd.DataFrame, where: Sequence[str]) -> list[str]:
    """List the first failure cases, each after its `where` prefix."""
    shown = failures.head(_SHOWN_FAILURES)
    lines = [
        f"  {prefix}column {row.column!r}: value {row.value!r} failed {row.check}"
        for prefix, row in zip(where, shown.itertuples(index=False), strict=False)
    ]
    more = len(failures) - len(shown)
    if more:
        lines.append(f"  ... and {more} more (see the error's failure_cases)")
    return lines


def _where(campaign: Any) -> str:
    if campaign is None or (not isinstance(campaign, list) and pd.isna(campaign)):
        return ""
    return f"campaign {campaign!r}, "


def _empty_failures() -> pd.DataFrame:
    return _empty_template().copy()


@functools.cache
def _empty_template() -> pd.DataFrame:
    # Built once, because copying it is about 40 times faster than building it.
    return pd.DataFrame(
        {name: pd.Series(dtype=object) for name in [*FAILURE_COLUMNS, "row"]}
    )
