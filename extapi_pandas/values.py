"""Conversions of pandas and numpy scalars to plain Python and JSON values."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["json_safe", "python_scalar"]


def python_scalar(value: Any) -> Any:
    """Return `value` as a plain Python scalar, with every missing marker as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        item = value.item()
        return None if isinstance(item, float) and math.isnan(item) else item
    return value


def json_safe(value: Any) -> Any:
    """Return a JSON-serialisable form of a scalar, list or dict of pandas values.

    Timestamps and dates become ISO 8601 strings and Decimals become strings, so that
    no precision is lost; other unknown objects become their `str`.
    """
    value = python_scalar(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, pd.Timedelta | dt.timedelta):
        return pd.Timedelta(value).isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_safe(v) for v in value]
    return str(value)
