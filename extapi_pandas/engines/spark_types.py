"""Map the columns of a validated pandas frame to Spark types and Python values."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql.types import DataType

__all__ = ["key_kind", "python_values", "spark_type"]


def spark_type(series: pd.Series) -> DataType:
    """Return the Spark type of a pandas column.

    Text and categoricals become strings, integers longs, floats doubles,
    timezone-aware timestamps `TimestampType` (an instant), naive ones
    `TimestampNTZType`, dates `DateType` and Arrow lists arrays. Any other
    column (raw JSON values) becomes a string holding JSON text.
    """
    from pyspark.sql import types as T

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return spark_type(pd.Series(dtype.categories))
    if isinstance(dtype, pd.ArrowDtype):
        return _arrow_spark_type(dtype.pyarrow_dtype)
    if pd.api.types.is_bool_dtype(dtype):
        return T.BooleanType()
    if pd.api.types.is_integer_dtype(dtype):
        return T.LongType()
    if pd.api.types.is_float_dtype(dtype):
        return T.DoubleType()
    if isinstance(dtype, pd.DatetimeTZDtype):
        return T.TimestampType()
    if pd.api.types.is_datetime64_dtype(dtype):
        return T.TimestampNTZType()
    return T.StringType()


def _arrow_spark_type(arrow: pa.DataType) -> DataType:
    from pyspark.sql import types as T

    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
        return T.ArrayType(_arrow_spark_type(arrow.value_type))
    if pa.types.is_boolean(arrow):
        return T.BooleanType()
    if pa.types.is_integer(arrow):
        return T.LongType()
    if pa.types.is_floating(arrow):
        return T.DoubleType()
    if pa.types.is_timestamp(arrow):
        return T.TimestampType() if arrow.tz is not None else T.TimestampNTZType()
    if pa.types.is_date(arrow):
        return T.DateType()
    return T.StringType()


def python_values(series: pd.Series, spark: DataType) -> list[Any]:
    """Return the values of `series` as Python objects that fit the Spark type."""
    from pyspark.sql import types as T

    if isinstance(spark, T.StringType) and _holds_json(series):
        return [
            None if _missing(v) else json.dumps(v, ensure_ascii=False)
            for v in series.tolist()
        ]
    return [_python(value) for value in series.astype(object).tolist()]


def key_kind(spark: DataType) -> str:
    """Classify a Spark key type like `extapi_pandas.transfer.keys.key_kind`."""
    from pyspark.sql import types as T

    if isinstance(spark, T.BooleanType):
        return "bool"
    if isinstance(spark, T.NumericType):
        return "number"
    if isinstance(spark, T.TimestampType | T.TimestampNTZType | T.DateType):
        return "datetime"
    if isinstance(spark, T.StringType):
        return "text"
    return "other"


def _holds_json(series: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(series.dtype) and any(
        isinstance(value, dict | list) for value in series.tolist()
    )


def _python(value: Any) -> Any:
    if isinstance(value, list | tuple | np.ndarray):
        return [_python(item) for item in value]
    if _missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date | dt.datetime | str | int | float | bool):
        return value
    return str(value)


def _missing(value: Any) -> bool:
    if isinstance(value, list | tuple | dict | np.ndarray):
        return False
    return bool(pd.isna(value))
