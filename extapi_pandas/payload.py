"""Request bodies built from the audience: campaign values, counts and aggregates."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from extapi_pandas.encode import first_rows
from extapi_pandas.errors import (
    ConfigurationError,
    PerProfileDataWarning,
    TemplateError,
)
from extapi_pandas.perprofile import file_route_call
from extapi_pandas.values import json_safe

__all__ = ["AGGREGATES", "Payload", "PayloadBodies", "render_payloads"]

AGGREGATES = ("nunique", "min", "max", "sum")
"""The aggregates `Payload.aggregates` accepts."""

_MIB = 1024 * 1024


@dataclass(frozen=True)
class Payload:
    """The JSON body sent for each campaign, built from the campaign's profiles.

    The body is `{"params": {...}, "count": n, "aggregates": {...}, "data": [...]}`,
    with only the parts that are asked for, like the inbound mapping of a campaign
    platform's API step.

    Args:
        params: Audience columns with one value per campaign, sent under
            `"params"`. A list sends them under their own names. A mapping gives
            body names: `{"market": "market_code"}` sends column `market_code` as
            `"market"`.
        count: Send the number of profiles in the campaign as `"count"`.
        aggregates: Audience column to one or several of `"nunique"`, `"min"`,
            `"max"` and `"sum"`, sent as `"aggregates": {column: {name: value}}`;
            nulls are skipped.
        data: Audience columns sent row by row as `"data": [{column: value}]`, in
            audience order. This is per-profile data: above `max_data_rows` rows or
            `max_data_bytes` of body in a campaign, a `PerProfileDataWarning`
            points to `df.extapi.enrich_from_file`.
        max_data_rows: Rows of `data` per campaign before the warning.
        max_data_bytes: Body bytes per campaign before the warning.

    Example:
        >>> Payload(params=["market"], aggregates={"age": ["min", "max"]}).count
        True
    """

    params: Sequence[str] | Mapping[str, str] = ()
    count: bool = True
    aggregates: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    data: Sequence[str] = ()
    max_data_rows: int = 1000
    max_data_bytes: int = _MIB

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _params_dict(self.params))
        object.__setattr__(self, "aggregates", _aggregates_dict(self.aggregates))
        object.__setattr__(self, "data", _names("data", self.data))
        if not isinstance(self.count, bool):
            raise ConfigurationError(
                f"payload count must be True or False, got {self.count!r}"
            )
        for name in ("max_data_rows", "max_data_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigurationError(
                    f"payload {name} must be a whole number of 0 or more, got {value!r}"
                )

    @classmethod
    def coerce(cls, value: Payload | Mapping[str, Any]) -> Payload:
        """Accept a `Payload` or a dict of its fields (as in a TOML file).

        Raises:
            ConfigurationError: The value is neither, or a key is unknown.
        """
        if isinstance(value, Payload):
            return value
        if isinstance(value, Mapping):
            valid = {
                "params",
                "count",
                "aggregates",
                "data",
                "max_data_rows",
                "max_data_bytes",
            }
            unknown = sorted(set(value) - valid)
            if unknown:
                raise ConfigurationError(
                    f"unknown payload key(s) {unknown}; valid keys "
                    f"are {', '.join(sorted(valid))}"
                )
            return cls(**value)
        raise ConfigurationError(
            f"payload must be a Payload or a dict, got {type(value).__name__}"
        )

    @property
    def columns(self) -> list[str]:
        """Every audience column the payload reads."""
        params = self.params
        assert isinstance(params, Mapping)
        return list(dict.fromkeys([*params.values(), *self.aggregates, *self.data]))


def _names(option: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(
            f"payload {option} must be a list of audience column names, got {value!r}"
        )
    return tuple(value)


def _params_dict(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ConfigurationError(
                f"payload params must map body names to audience "
                f"column names, got {value!r}"
            )
        return dict(value)
    return {name: name for name in _names("params", value)}


def _aggregates_dict(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"payload aggregates must map audience columns to aggregates, got {value!r}"
        )
    out: dict[str, tuple[str, ...]] = {}
    for column, functions in value.items():
        names = _names(f"aggregates[{column!r}]", functions)
        invalid = [name for name in names if name not in AGGREGATES]
        if not isinstance(column, str) or not names or invalid:
            raise ConfigurationError(
                f"invalid payload aggregates {column!r}: {functions!r}; valid "
                f"aggregates are {', '.join(AGGREGATES)}"
            )
        out[column] = names
    return out


@dataclass
class PayloadBodies:
    """The encoded body of each campaign, and warnings for the caller."""

    bodies: list[bytes]
    warnings: list[tuple[type[Warning], str]] = field(default_factory=list)


def render_payloads(
    payload: Payload,
    audience: pd.DataFrame,
    codes: np.ndarray[Any, Any],
    keys: Sequence[Any],
    *,
    counts: np.ndarray[Any, Any] | None = None,
) -> PayloadBodies:
    """Build and encode the body of each campaign.

    Args:
        payload: What the body holds.
        audience: The audience.
        codes: Campaign number of each audience row, -1 for rows in no campaign.
        keys: Campaign keys, named in errors and warnings.
        counts: Profiles per campaign, sent as `"count"`; None counts `codes`.

    Raises:
        ConfigurationError: A column is not in the audience, or an aggregate does
            not apply to its column.
        TemplateError: A `params` column varies within a campaign.
    """
    _check_columns(payload, audience)
    documents: list[dict[str, Any]] = [{} for _ in keys]
    _add_params(documents, payload, audience, codes, keys)
    if payload.count:
        if counts is None:
            counts = np.bincount(
                codes[codes >= 0].astype(np.int64), minlength=len(keys)
            )
        for document, count in zip(documents, counts, strict=True):
            document["count"] = int(count)
    _add_aggregates(documents, payload, audience, codes)
    rows = _add_data(documents, payload, audience, codes)
    bodies = [
        json.dumps(
            document, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode("utf-8")
        for document in documents
    ]
    warnings_ = _per_profile_warnings(payload, bodies, rows, keys, audience.columns)
    return PayloadBodies(bodies, warnings_)


def _check_columns(payload: Payload, audience: pd.DataFrame) -> None:
    existing = {str(column) for column in audience.columns}
    missing = [column for column in payload.columns if column not in existing]
    if missing:
        raise ConfigurationError(
            f"payload= names column(s) {', '.join(map(repr, missing))}, which the "
            f"audience does not have; its columns are "
            f"{', '.join(map(repr, list(existing)[:30]))}"
        )


def _add_params(
    documents: list[dict[str, Any]],
    payload: Payload,
    audience: pd.DataFrame,
    codes: np.ndarray[Any, Any],
    keys: Sequence[Any],
) -> None:
    params = payload.params
    assert isinstance(params, Mapping)
    if not params:
        return
    valid = codes >= 0
    first = first_rows(codes, len(keys))
    for document in documents:
        document["params"] = {}
    for body_name, column in params.items():
        series = audience[column]
        factors, _ = pd.factorize(series, use_na_sentinel=False)
        expected = factors[first][codes[valid]]
        differs = np.flatnonzero(factors[valid] != expected)
        if len(differs):
            row = int(np.flatnonzero(valid)[differs[0]])
            number = int(codes[row])
            raise TemplateError(
                f"payload params column {column!r} varies within campaign "
                f"{keys[number]!r} (for example {series.iat[first[number]]!r} and "
                f"{series.iat[row]!r}), but params holds one value per campaign; "
                "send it as an aggregate, add the column to campaign=, or send rows "
                "with data=",
                campaign=keys[number],
            )
        for number, document in enumerate(documents):
            document["params"][body_name] = json_safe(series.iat[first[number]])


def _add_aggregates(
    documents: list[dict[str, Any]],
    payload: Payload,
    audience: pd.DataFrame,
    codes: np.ndarray[Any, Any],
) -> None:
    if not payload.aggregates:
        return
    valid = np.flatnonzero(codes >= 0)
    for document in documents:
        document["aggregates"] = {}
    for column, functions in payload.aggregates.items():
        series = audience[column].iloc[valid]
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(series.cat.categories.dtype)
        if "sum" in functions and not pd.api.types.is_numeric_dtype(series.dtype):
            raise ConfigurationError(
                f"payload aggregate 'sum' needs a numeric column, but {column!r} is "
                f"{series.dtype}; use 'nunique', 'min' or 'max'"
            )
        try:
            table = series.groupby(codes[valid]).agg(list(functions))
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"payload aggregates {list(functions)} of column {column!r} "
                f"({series.dtype}) failed: {exc}"
            ) from exc
        for number, document in enumerate(documents):
            row = table.loc[number] if number in table.index else None
            document["aggregates"][column] = {
                name: json_safe(None if row is None else row[name])
                for name in functions
            }


def _add_data(
    documents: list[dict[str, Any]],
    payload: Payload,
    audience: pd.DataFrame,
    codes: np.ndarray[Any, Any],
) -> list[int]:
    """Add the rows of each campaign under "data"; return the row count of each."""
    if not payload.data:
        return [0] * len(documents)
    values = {column: audience[column].tolist() for column in payload.data}
    positions = np.flatnonzero(codes >= 0)
    order = positions[np.argsort(codes[positions], kind="stable")]
    bounds = np.searchsorted(codes[order], np.arange(len(documents) + 1))
    rows = []
    for number, document in enumerate(documents):
        members = order[bounds[number] : bounds[number + 1]]
        document["data"] = [
            {column: json_safe(values[column][i]) for column in payload.data}
            for i in members
        ]
        rows.append(len(members))
    return rows


def _per_profile_warnings(
    payload: Payload,
    bodies: list[bytes],
    rows: list[int],
    keys: Sequence[Any],
    audience_columns: Iterable[Any],
) -> list[tuple[type[Warning], str]]:
    over = [
        number
        for number, (body, count) in enumerate(zip(bodies, rows, strict=True))
        if count > payload.max_data_rows or len(body) > payload.max_data_bytes
    ]
    if not over:
        return []
    first = over[0]
    others = f", and {len(over) - 1} other campaign(s)" if len(over) > 1 else ""
    message = (
        f"payload= sends per-profile data: campaign {keys[first]!r} sends "
        f"{rows[first]} rows in 'data' and {len(bodies[first])} bytes of body{others} "
        f"(limits: max_data_rows={payload.max_data_rows}, "
        f"max_data_bytes={payload.max_data_bytes}). A campaign-wide call moves such "
        "data slowly and loads the endpoint; export it as a file and join it "
        f"instead: {file_route_call(None, audience_columns=audience_columns)}"
    )
    return [(PerProfileDataWarning, message)]
