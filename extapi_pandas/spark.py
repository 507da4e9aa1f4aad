"""Campaign-wide enrichment of PySpark DataFrames: `extapi_pandas.spark.enrich`.

Example:
    >>> from extapi_pandas import spark as extapi_spark
    >>> enriched = extapi_spark.enrich(  # doctest: +SKIP
    ...     audience,  # a pyspark.sql.DataFrame
    ...     "https://api.example.com/offers",
    ...     params={"market": "{market}"},
    ...     campaign="campaign_id",
    ...     columns={"offer": "$.offers[0].name"},
    ... )
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from extapi_pandas.activity import ExternalAPI, build_api
from extapi_pandas.attach import STATUS_COLUMN
from extapi_pandas.engines.checks import check_attach, reject_unsupported
from extapi_pandas.engines.spark_types import key_kind, python_values, spark_type
from extapi_pandas.engines.summary import AudienceSummary, check_missing
from extapi_pandas.enrich import (
    EnrichmentTable,
    check_lookup_columns,
    collect_warnings,
    emit_warnings,
    fetch_table,
    result_names,
    status_codes,
)
from extapi_pandas.errors import AttachError, ConfigurationError
from extapi_pandas.http.cache import store_validated
from extapi_pandas.perprofile import AudienceCounts, check_request_count
from extapi_pandas.plan import plan_columns
from extapi_pandas.progress import progress_for
from extapi_pandas.runner import run_sync

if TYPE_CHECKING:
    from pyspark.sql import Column as SparkColumn
    from pyspark.sql import DataFrame as SparkDataFrame

__all__ = ["enrich"]

logger = logging.getLogger(__name__)

# Relative standard deviation of Spark's HyperLogLog++ count of lookup keys.
_KEY_COUNT_RSD = 0.01
_STATUS = "__extapi_status"


@dataclass
class _Summary:
    """The audience reduced by two Spark jobs, with the campaign keys Spark holds."""

    audience: AudienceSummary
    campaign_keys: list[tuple[Any, ...]]


def enrich(
    sdf: SparkDataFrame, source: str | ExternalAPI, **options: Any
) -> SparkDataFrame:
    """Call an API once per campaign and join the mapped values to a Spark DataFrame.

    Two aggregations over the audience count the rows and, per campaign, the
    profiles and placeholder values (plus a HyperLogLog count of the lookup keys).
    The driver plans, sends and validates the requests with every guard rail of
    `DataFrame.extapi.enrich`, then joins the small validated table to the
    audience as a broadcast DataFrame on the campaign key (and the lookup key).
    Warnings are emitted here, before the result is computed.

    Args:
        sdf: The audience.
        source: Endpoint URL, or an `ExternalAPI` definition.
        **options: The options of `DataFrame.extapi.enrich`, except
            `assign="sequential"` (Spark rows have no order) and payload
            aggregates or data rows.

    Returns:
        A lazy Spark DataFrame: the audience's columns plus the new ones, with
        strings, doubles, longs, booleans, dates, timestamps (`TimestampType` for
        timezone-aware columns, an instant) and arrays. Columns of raw JSON values
        hold JSON text. Row order is Spark's, as after any join.

    Raises:
        ExtapiError: As `DataFrame.extapi.enrich`, raised here rather than when
            the result is computed.

    Example:
        >>> enriched = enrich(audience, url, campaign="campaign_id",
        ...                   columns={"offer": "$.name"})  # doctest: +SKIP
        >>> enriched.show()  # doctest: +SKIP
    """
    _require_pyspark()
    api = build_api(source, options)
    reject_unsupported(api, engine="Spark")
    if api.resolved_assign == "sequential":
        raise ConfigurationError(
            "assign='sequential' gives record i to the campaign's i-th profile, but "
            "the rows of a Spark DataFrame have no order; look records up by key "
            "with on=, or enrich a pandas or Dask audience"
        )
    meta = pd.DataFrame(columns=list(sdf.columns))
    names = result_names(meta, api)
    check_lookup_columns(meta, api)
    _check_lookup_types(sdf, api)

    summary = _summarize(sdf, api, plan_columns(meta, api))
    audience = summary.audience
    with progress_for(api) as progress:
        table = run_sync(
            lambda: fetch_table(
                audience.frame, api, progress=progress, weights=audience.weights
            )
        )
    check_attach(table, api, audience)
    store_validated(api, table.records, table.redactor)
    warnings_ = collect_warnings(
        table,
        AudienceCounts(audience.rows, audience.lookup_keys, tuple(meta.columns)),
        api,
    )

    result = _join(sdf, table, summary, api, names)
    emit_warnings(warnings_)
    return result


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise ConfigurationError(
            "the Spark engine needs pyspark; install it with "
            'pip install "extapi-pandas[spark]"'
        ) from exc


def _check_lookup_types(sdf: SparkDataFrame, api: ExternalAPI) -> None:
    """Reject lookup key columns of a type no response value could match."""
    for audience_column in api.on or {}:
        kind = key_kind(sdf.schema[audience_column].dataType)
        if kind == "other":
            raise AttachError(
                f"lookup key column {audience_column!r} is of Spark type "
                f"{sdf.schema[audience_column].dataType.simpleString()}, which a "
                "JSON value cannot match; cast it to a string or a number"
            )


def _summarize(sdf: SparkDataFrame, api: ExternalAPI, columns: list[Any]) -> _Summary:
    """Count rows, missing keys and lookup keys; then group by campaign."""
    from pyspark.sql import functions as F

    campaign = list(api.campaign_columns)
    placeholders = [column for column in columns if column not in campaign]
    missing = _any_null(sdf, campaign)
    totals = _totals(sdf, api, missing)
    check_missing(totals["missing"], [], campaign, api.missing_campaign)

    aggregates = [F.count(F.lit(1)).alias("rows")]
    for number, column in enumerate(placeholders):
        aggregates += [
            F.min(column).alias(f"min{number}"),
            F.max(column).alias(f"max{number}"),
            F.count(column).alias(f"values{number}"),
        ]
    grouped = sdf.where(~missing).groupBy(*campaign).agg(*aggregates)
    ordered = grouped.orderBy(*campaign) if campaign else grouped
    rows = [row for row in ordered.limit(api.max_requests + 1).collect() if row["rows"]]
    if len(rows) > api.max_requests:
        check_request_count(
            grouped.count(),
            totals["rows"],
            campaign,
            api.max_requests,
            api.output_columns,
            sdf.columns,
        )

    records, weights, keys = _summary_rows(rows, campaign, placeholders)
    if totals["missing"]:
        records.append([None] * (len(campaign) + len(placeholders)))
        weights.append(totals["missing"])
    frame = _frame(records, [*campaign, *placeholders])
    sample = None
    if totals["key_sample"] is not None:
        sample = pd.DataFrame([list(totals["key_sample"])], columns=list(api.on or {}))
    audience = AudienceSummary(
        totals["rows"],
        frame,
        np.asarray(weights, dtype=np.int64),
        totals["keys"],
        sample,
        [],
    )
    return _Summary(audience, keys)


def _totals(
    sdf: SparkDataFrame, api: ExternalAPI, missing: SparkColumn
) -> dict[str, Any]:
    from pyspark.sql import functions as F

    aggregates = [
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.when(missing, 1).otherwise(0)).alias("missing"),
    ]
    keys = list((api.on or {}).keys())
    if keys:
        present = _all_present(keys)
        struct = F.when(present, F.struct(*keys))
        aggregates += [
            F.approx_count_distinct(struct, _KEY_COUNT_RSD).alias("keys"),
            F.first(struct, ignorenulls=True).alias("key_sample"),
        ]
    row = sdf.agg(*aggregates).collect()[0]
    return {
        "rows": int(row["rows"]),
        "missing": int(row["missing"] or 0),
        "keys": int(row["keys"]) if keys else None,
        "key_sample": row["key_sample"] if keys else None,
    }


def _summary_rows(
    rows: Sequence[Any], campaign: list[Any], placeholders: list[Any]
) -> tuple[list[list[Any]], list[int], list[tuple[Any, ...]]]:
    """Turn grouped rows into summary rows: one per campaign, two when a placeholder
    varies in it (its smallest and largest values, for `make_plan`'s error)."""
    records: list[list[Any]] = []
    weights: list[int] = []
    keys: list[tuple[Any, ...]] = []
    for row in rows:
        key = tuple(row[column] for column in campaign)
        first = [row[f"min{n}"] for n in range(len(placeholders))]
        records.append([*key, *first])
        weights.append(int(row["rows"]))
        keys.append(key)
        if _varies(row, len(placeholders)):
            second = [
                row[f"max{n}"] if row[f"values{n}"] == row["rows"] else None
                for n in range(len(placeholders))
            ]
            records.append([*key, *second])
            weights.append(0)
    return records, weights, keys


def _frame(records: list[list[Any]], columns: list[Any]) -> pd.DataFrame:
    """Build the summary frame; without columns it still has one row per record."""
    index = pd.RangeIndex(len(records))
    values = {
        column: [record[n] for record in records] for n, column in enumerate(columns)
    }
    return pd.DataFrame(values, index=index, columns=columns)


def _varies(row: Any, placeholders: int) -> bool:
    return any(
        row[f"min{n}"] != row[f"max{n}"] or 0 < row[f"values{n}"] < row["rows"]
        for n in range(placeholders)
    )


def _any_null(sdf: SparkDataFrame, columns: list[Any]) -> SparkColumn:
    """Return a condition true where a campaign key is null, or NaN as in pandas."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    condition = F.lit(False)
    for column in columns:
        condition = condition | F.col(f"`{column}`").isNull()
        if isinstance(sdf.schema[column].dataType, T.FloatType | T.DoubleType):
            condition = condition | F.isnan(F.col(f"`{column}`"))
    return condition


def _all_present(columns: list[Any]) -> SparkColumn:
    from pyspark.sql import functions as F

    condition = F.lit(True)
    for column in columns:
        condition = condition & F.col(column).isNotNull()
    return condition


def _join(
    sdf: SparkDataFrame,
    table: EnrichmentTable,
    summary: _Summary,
    api: ExternalAPI,
    names: dict[str, str],
) -> SparkDataFrame:
    """Join the enrichment to the audience as broadcast DataFrames."""
    from pyspark.sql import functions as F

    campaign = list(api.campaign_columns)
    # The summary lists the campaigns in key order, and so numbers them the plan.
    keys = summary.campaign_keys
    if api.resolved_assign == "broadcast":
        values = _broadcast_table(sdf, table, keys, api)
    else:
        values = _lookup_table(sdf, table, keys, api)
    joined = _left_join(sdf, values, campaign, list((api.on or {}).keys()))
    if api.on_error == "continue":
        joined = _left_join(
            joined, _status_table(sdf, table, keys, campaign), campaign, []
        )
    new_columns = {
        names[name]: F.col(f"`{_value_name(number)}`")
        for number, name in enumerate(api.output_columns)
    }
    if api.on_error == "continue":
        new_columns[names[STATUS_COLUMN]] = F.coalesce(F.col(_STATUS), F.lit("skipped"))
    # An overwritten column keeps its place; the other new columns come last.
    selected = [
        new_columns.pop(column).alias(column)
        if column in new_columns
        else F.col(f"`{column}`")
        for column in sdf.columns
    ]
    selected += [value.alias(name) for name, value in new_columns.items()]
    return joined.select(*selected)


def _broadcast_table(
    sdf: SparkDataFrame,
    table: EnrichmentTable,
    keys: list[tuple[Any, ...]],
    api: ExternalAPI,
) -> SparkDataFrame:
    row_of_campaign = np.full(len(table.records), -1, dtype=np.int64)
    campaigns = np.asarray(table.row_campaigns, dtype=np.int64)
    row_of_campaign[campaigns] = np.arange(len(campaigns))
    present = row_of_campaign >= 0
    frame = table.frame.iloc[row_of_campaign[present]].reset_index(drop=True)
    chosen = [key for key, used in zip(keys, present, strict=True) if used]
    return _spark_table(sdf, frame, chosen, api, [])


def _lookup_table(
    sdf: SparkDataFrame,
    table: EnrichmentTable,
    keys: list[tuple[Any, ...]],
    api: ExternalAPI,
) -> SparkDataFrame:
    chosen = [keys[number] for number in table.row_campaigns]
    pairs = list((api.on or {}).items())
    return _spark_table(sdf, table.frame, chosen, api, pairs)


def _spark_table(
    sdf: SparkDataFrame,
    frame: pd.DataFrame,
    keys: list[tuple[Any, ...]],
    api: ExternalAPI,
    pairs: list[tuple[str, str]],
) -> SparkDataFrame:
    """Build a Spark DataFrame: campaign keys, lookup keys, then the new columns."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    fields = [
        T.StructField(_key_name(n), sdf.schema[column].dataType)
        for n, column in enumerate(api.campaign_columns)
    ]
    columns: list[list[Any]] = [
        [key[n] for key in keys] for n in range(len(api.campaign_columns))
    ]
    for number, (_, response) in enumerate(pairs):
        kind = spark_type(frame[response])
        fields.append(T.StructField(_lookup_name(number), kind))
        columns.append(python_values(frame[response], kind))
    for number, name in enumerate(api.output_columns):
        kind = spark_type(frame[name])
        fields.append(T.StructField(_value_name(number), kind))
        columns.append(python_values(frame[name], kind))
    rows = list(zip(*columns, strict=True)) if columns else []
    spark = sdf.sparkSession
    result = spark.createDataFrame(rows, T.StructType(fields))
    for number, (audience, _) in enumerate(pairs):
        target = sdf.schema[audience].dataType
        result = result.withColumn(
            _lookup_name(number), F.col(_lookup_name(number)).cast(target)
        )
    return result


def _status_table(
    sdf: SparkDataFrame,
    table: EnrichmentTable,
    keys: list[tuple[Any, ...]],
    campaign: list[Any],
) -> SparkDataFrame:
    from pyspark.sql import types as T

    codes, categories = status_codes(table.records)
    fields = [
        T.StructField(_key_name(n), sdf.schema[column].dataType)
        for n, column in enumerate(campaign)
    ]
    fields.append(T.StructField(_STATUS, T.StringType()))
    rows = [
        (*key, categories[code]) for key, code in zip(keys, codes[:-1], strict=True)
    ]
    return sdf.sparkSession.createDataFrame(rows, T.StructType(fields))


def _left_join(
    audience: SparkDataFrame,
    small: SparkDataFrame,
    campaign: list[Any],
    lookup: list[Any],
) -> SparkDataFrame:
    from pyspark.sql import functions as F

    conditions = [
        audience[f"`{column}`"] == small[_key_name(n)]
        for n, column in enumerate(campaign)
    ]
    conditions += [
        audience[f"`{column}`"] == small[_lookup_name(n)]
        for n, column in enumerate(lookup)
    ]
    hint = F.broadcast(small)
    condition = F.lit(True)
    for extra in conditions:
        condition = condition & extra
    joined = audience.join(hint, on=condition, how="left")
    return joined.drop(
        *[small[_key_name(n)] for n in range(len(campaign))],
        *[small[_lookup_name(n)] for n in range(len(lookup))],
    )


def _key_name(number: int) -> str:
    return f"__extapi_campaign{number}"


def _lookup_name(number: int) -> str:
    return f"__extapi_key{number}"


def _value_name(number: int) -> str:
    return f"__extapi_value{number}"
