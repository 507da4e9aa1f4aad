"""Plan one request per campaign: group the audience and render the templates."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from yarl import URL

from extapi_pandas.activity import ExternalAPI
from extapi_pandas.encode import Encoded, code_dtype, encode_arrow, first_rows
from extapi_pandas.errors import ConfigurationError, RequestTooLarge, TemplateError
from extapi_pandas.payload import render_payloads
from extapi_pandas.perprofile import check_request_count
from extapi_pandas.redaction import is_sensitive_name
from extapi_pandas.templates import (
    COUNT,
    collect_fields,
    compile_string,
    render_json,
    render_text,
)
from extapi_pandas.values import json_safe, python_scalar

__all__ = [
    "CampaignRequest",
    "Grouping",
    "Plan",
    "group_campaigns",
    "make_plan",
    "plan_columns",
]

_SHOWN_KEYS = 5


@dataclass(frozen=True)
class CampaignRequest:
    """The one request planned for a campaign.

    Attributes:
        number: The campaign's position in `Plan.keys`.
        key: The campaign key, JSON-safe (a list when several columns name it).
        profiles: Number of audience rows in the campaign.
    """

    number: int
    key: Any
    profiles: int
    method: str
    url: URL
    headers: dict[str, str]
    body: bytes | None


@dataclass(frozen=True)
class Grouping:
    """Audience rows grouped by campaign.

    Attributes:
        codes: Campaign number per row, in the smallest integer dtype; -1 marks rows
            without a campaign key (only with `missing_campaign="skip"`).
        keys: Campaign keys in order of first appearance, JSON-safe.
        first_rows: Position of each campaign's first row.
        counts: Rows per campaign.
        weights: Audience rows that each grouped row stands for, when the grouped
            frame holds the distinct rows of a larger audience (a Dask or Spark
            one); None when each grouped row is one profile.
    """

    codes: np.ndarray[Any, Any]
    keys: list[Any]
    first_rows: np.ndarray[Any, np.dtype[np.intp]]
    counts: np.ndarray[Any, np.dtype[np.intp]]
    weights: np.ndarray[Any, np.dtype[np.int64]] | None = None

    @property
    def rows(self) -> int:
        """Audience rows, the skipped ones included."""
        if self.weights is None:
            return len(self.codes)
        return int(self.weights.sum())

    @property
    def skipped_rows(self) -> int:
        """Rows that belong to no campaign."""
        return int(self.rows - self.counts.sum())


@dataclass(frozen=True)
class Plan:
    """The grouping of the audience, one request per campaign, and plan warnings."""

    grouping: Grouping
    requests: list[CampaignRequest]
    warnings: list[tuple[type[Warning], str]] = field(default_factory=list)


def make_plan(
    audience: pd.DataFrame,
    api: ExternalAPI,
    *,
    weights: np.ndarray[Any, np.dtype[np.int64]] | None = None,
) -> Plan:
    """Group the audience by campaign and render one request per campaign.

    Args:
        audience: The audience, or the distinct rows of its campaign and
            placeholder columns.
        api: The enrichment definition.
        weights: With distinct rows, the number of audience rows each one stands
            for; the `{count}` placeholder and the payload count add them up.

    Raises:
        ConfigurationError: A campaign column does not exist, keys are missing, or
            there are more campaigns than `max_requests`.
        TemplateError: A placeholder names no column, its column varies within a
            campaign (per-profile data, which belongs in `enrich_from_file`), or
            its column has a missing value (NaN, None, NA) for a campaign.
        RequestTooLarge: A rendered body is larger than `max_request_bytes`.
    """
    grouping = group_campaigns(
        audience, api.campaign_columns, api.missing_campaign, weights=weights
    )
    check_request_count(
        len(grouping.keys),
        grouping.rows,
        api.campaign_columns,
        api.max_requests,
        api.output_columns,
        audience.columns,
    )
    fields = _template_fields(api)
    columns = _resolve_fields(audience, fields)
    for name, column in columns.items():
        if column not in api.campaign_columns:  # a campaign column is constant
            _check_constant(audience, column, name, grouping, api)
        _check_present(audience, column, name, grouping, api)
    payloads = (
        render_payloads(
            api.payload, audience, grouping.codes, grouping.keys, counts=grouping.counts
        )
        if api.payload is not None
        else None
    )
    requests = [
        _render_request(
            api,
            grouping,
            number,
            _campaign_values(audience, columns, grouping, number),
            payloads.bodies[number] if payloads is not None else None,
        )
        for number in range(len(grouping.keys))
    ]
    return Plan(grouping, requests, payloads.warnings if payloads is not None else [])


def plan_columns(audience: pd.DataFrame, api: ExternalAPI) -> list[Any]:
    """Return the audience columns that `make_plan` reads, each once.

    These are the campaign columns, the placeholder columns and the `payload=`
    params columns. Their distinct rows, with a row count each, plan the same
    requests as the whole audience.

    Raises:
        TemplateError: A placeholder names no column.
        ConfigurationError: A campaign column does not exist or is not unique.
    """
    for column in api.campaign_columns:
        if column not in audience.columns:
            raise ConfigurationError(
                f"campaign column {column!r} is not in the audience; its columns are "
                f"{', '.join(map(repr, audience.columns[:30]))}"
            )
        _require_unique_label(audience, column, "campaign column")
    columns = [
        *api.campaign_columns,
        *_resolve_fields(audience, _template_fields(api)).values(),
    ]
    if api.payload is not None:
        params = api.payload.params
        assert isinstance(params, Mapping)
        missing = [
            column for column in params.values() if column not in audience.columns
        ]
        if missing:
            raise ConfigurationError(
                f"payload= names column(s) {', '.join(map(repr, missing))}, which "
                f"the audience does not have; its columns are "
                f"{', '.join(map(repr, audience.columns[:30]))}"
            )
        columns.extend(params.values())
    return list(dict.fromkeys(columns))


def group_campaigns(
    audience: pd.DataFrame,
    columns: list[str],
    missing: str,
    *,
    weights: np.ndarray[Any, np.dtype[np.int64]] | None = None,
) -> Grouping:
    """Number the campaigns in order of first appearance, without sorting the rows.

    `weights` gives the audience rows each row of `audience` stands for (see
    `Grouping.weights`); the counts add them up.
    """
    n = len(audience)
    if not columns:
        codes = np.zeros(n, dtype=np.int8)
        first = np.zeros(1 if n else 0, dtype=np.intp)
        total = n if weights is None else int(weights.sum())
        return Grouping(
            codes,
            [None] if n else [],
            first,
            np.array([total] if n else [], dtype=np.intp),
            weights,
        )
    for column in columns:
        if column not in audience.columns:
            raise ConfigurationError(
                f"campaign column {column!r} is not in the audience; its columns are "
                f"{', '.join(map(repr, audience.columns[:30]))}"
            )
        _require_unique_label(audience, column, "campaign column")
    encoded = _factorize_columns(audience, columns)
    codes = encoded.codes
    if missing == "raise" and n and codes.min() < 0:
        bad = np.flatnonzero(codes < 0)
        labels = ", ".join(repr(label) for label in audience.index[bad[:5]])
        raise ConfigurationError(
            f"{len(bad)} row(s) have no campaign key in {columns} (index {labels}"
            f"{', ...' if len(bad) > 5 else ''}); fill the key, drop those rows, or "
            "pass missing_campaign='skip' to keep them without enrichment"
        )
    first = encoded.first_rows
    keys = [_campaign_key(audience, columns, int(row)) for row in first]
    counts = encoded.counts
    if weights is not None:
        valid = codes >= 0
        counts = np.bincount(
            codes[valid], weights=weights[valid], minlength=len(first)
        ).astype(np.intp)
    return Grouping(codes, keys, first, counts, weights)


def _factorize(series: pd.Series) -> Encoded:
    """Return the column's codes, numbered by first appearance (-1 for missing).

    A pyarrow-backed string column (pandas' default `str`) is encoded by pyarrow,
    split across threads when it is long, straight into codes of the smallest
    integer dtype: one byte per row for up to 127 campaigns, where
    `pandas.factorize` makes eight.
    """
    arrow = getattr(series.array, "__arrow_array__", None)
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow" and arrow:
        import pyarrow as pa

        chunked = arrow()
        if not isinstance(chunked, pa.ChunkedArray):
            chunked = pa.chunked_array([chunked])
        return encode_arrow(chunked)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return _encoded(codes, len(uniques))


def _encoded(codes: np.ndarray[Any, Any], count: int) -> Encoded:
    """Wrap codes numbered by first appearance, in the smallest integer dtype."""
    codes = codes.astype(code_dtype(count), copy=False)
    valid = codes >= 0
    counts = np.bincount(codes[valid], minlength=count).astype(np.intp)
    return Encoded(codes, first_rows(codes, count), counts)


def _factorize_columns(audience: pd.DataFrame, columns: list[str]) -> Encoded:
    """Return campaign codes numbered by first appearance, -1 where a key is missing."""
    parts = []
    for column in columns:
        try:
            parts.append(_factorize(audience[column]))
        except TypeError as exc:  # unhashable cells, such as lists or dicts
            raise ConfigurationError(
                f"campaign column {column!r} contains values that cannot name a "
                f"campaign ({exc}); use a column of strings, numbers or dates"
            ) from exc
    if len(parts) == 1:
        return parts[0]
    missing = np.zeros(len(audience), dtype=bool)
    for part in parts:
        missing |= part.codes < 0
    if np.prod([float(part.count) for part in parts]) < 2.0**62:
        combined = np.zeros(len(audience), dtype=np.int64)
        for part in parts:
            combined = combined * part.count + part.codes
    else:  # too many combinations for one int64; factorize the row tuples instead
        combined = pd.MultiIndex.from_arrays([p.codes for p in parts]).factorize()[0]
    codes = np.full(len(audience), -1, dtype=np.int64)
    codes[~missing], uniques = pd.factorize(combined[~missing])
    return _encoded(codes, len(uniques))


def _campaign_key(audience: pd.DataFrame, columns: list[str], row: int) -> Any:
    values = [json_safe(audience[column].iat[row]) for column in columns]
    return values[0] if len(values) == 1 else values


def _template_fields(api: ExternalAPI) -> set[str]:
    fields = compile_string(api.url, where="url").fields
    fields |= collect_fields(dict(api.params or {}), where="params")
    fields |= collect_fields(dict(api.headers or {}), where="headers")
    fields |= collect_fields(api.json, where="json")
    return fields


def _resolve_fields(audience: pd.DataFrame, fields: set[str]) -> dict[str, Any]:
    by_text = {str(column): column for column in audience.columns}
    resolved: dict[str, Any] = {}
    for name in sorted(fields - {COUNT}):
        if name not in by_text:
            raise TemplateError(
                f"placeholder {{{name}}} names no audience column; placeholders take "
                f"a column name or {{count}}, the campaign's profile count. Columns: "
                f"{', '.join(map(repr, list(by_text)[:30]))}"
            )
        resolved[name] = by_text[name]
        _require_unique_label(audience, resolved[name], f"placeholder {{{name}}}")
    return resolved


def _require_unique_label(audience: pd.DataFrame, column: Any, role: str) -> None:
    if not isinstance(audience.columns.get_loc(column), int):
        raise ConfigurationError(
            f"{role} names {column!r}, but the audience has several columns with "
            "that label; rename them so that each label is unique"
        )


def _check_constant(
    audience: pd.DataFrame,
    column: Any,
    field: str,
    grouping: Grouping,
    api: ExternalAPI,
) -> None:
    try:
        values, _ = pd.factorize(audience[column], use_na_sentinel=False)
    except TypeError as exc:  # unhashable cells, such as lists or dicts
        raise TemplateError(
            f"placeholder {{{field}}} names column {column!r}, whose values cannot "
            f"be compared ({exc}); use a column of strings, numbers or dates"
        ) from exc
    valid = grouping.codes >= 0
    expected = values[grouping.first_rows][grouping.codes[valid]]
    differs = np.flatnonzero(values[valid] != expected)
    if not len(differs):
        return
    row = int(np.flatnonzero(valid)[differs[0]])
    number = int(grouping.codes[row])
    key = grouping.keys[number]
    first_value = audience[column].iat[grouping.first_rows[number]]
    other_value = audience[column].iat[row]
    if pd.isna(first_value) or pd.isna(other_value):
        gap = row if pd.isna(other_value) else int(grouping.first_rows[number])
        raise TemplateError(
            f"placeholder {{{field}}} names column {column!r}, which is missing in "
            f"some rows of campaign {key!r} (for example at index "
            f"{python_scalar(audience.index[gap])!r}), so the request cannot be "
            "filled in and nothing was sent. Fill the column (for example with "
            "fillna) or drop those rows",
            campaign=key,
        )
    if _is_secret_placeholder(api, field):
        example = "(values hidden, because the placeholder fills a credential)"
    else:
        example = f"(for example {first_value!r} and {other_value!r})"
    raise TemplateError(
        f"placeholder {{{field}}} varies within campaign {key!r} {example}, but "
        "enrich makes one call per campaign, so every placeholder must have one "
        "value per campaign. Use a campaign-level column, add it to campaign=, or, "
        "for per-profile data, use a bulk file: "
        "df.extapi.enrich_from_file(path, on=...)",
        campaign=key,
    )


def _is_secret_placeholder(api: ExternalAPI, field: str) -> bool:
    """Return whether `field` fills a header, or a sensitive parameter or body key.

    Audience values sent in headers are often tokens, and the library cannot tell
    them from plain values, so errors never show values of header placeholders.
    """
    if field in collect_fields(dict(api.headers or {}), where="headers"):
        return True
    sensitive_params = {
        name: value
        for name, value in (api.params or {}).items()
        if is_sensitive_name(str(name))
    }
    if field in collect_fields(sensitive_params, where="params"):
        return True
    return field in collect_fields(_sensitive_json(api.json), where="json")


def _sensitive_json(value: Any) -> list[Any]:
    """Return the values under sensitive keys anywhere in a JSON template."""
    found: list[Any] = []
    if isinstance(value, Mapping):
        for name, child in value.items():
            if is_sensitive_name(str(name)):
                found.append(child)
            else:
                found.extend(_sensitive_json(child))
    elif isinstance(value, list):
        for child in value:
            found.extend(_sensitive_json(child))
    return found


def _check_present(
    audience: pd.DataFrame,
    column: Any,
    field: str,
    grouping: Grouping,
    api: ExternalAPI,
) -> None:
    """Reject a placeholder whose column is missing for a campaign.

    Runs after `_check_constant`, so a missing first value means the value is
    missing for every profile of that campaign. Sending the request with an empty
    or dropped value would ask the endpoint for something else, so nothing is sent.
    """
    missing = audience[column].iloc[grouping.first_rows].isna().to_numpy()
    if not missing.any():
        return
    numbers = np.flatnonzero(missing)
    keys = [grouping.keys[number] for number in numbers]
    if api.campaign_columns:
        shown = ", ".join(repr(key) for key in keys[:_SHOWN_KEYS])
        more = ", ..." if len(keys) > _SHOWN_KEYS else ""
        where = (
            f"for {len(keys)} of {len(grouping.keys)} campaign(s) ({shown}{more}), "
            "in every row of each"
        )
        fixes = (
            "Fill the column (for example with fillna), drop those rows, or add "
            f"{column!r} to campaign= with missing_campaign='skip' to keep those "
            "rows unenriched"
        )
    else:
        where = "in every row of the audience, which is one campaign"
        fixes = "Fill the column (for example with fillna), or remove the placeholder"
    places = _places(api, field)
    if "json" in places:
        fixes += (
            f". In place of json=, payload=Payload(params=[{column!r}]) builds a "
            "body that sends a missing value as JSON null"
        )
    raise TemplateError(
        f"placeholder {{{field}}} (in {' and '.join(places)}) names column "
        f"{column!r}, which has a missing value (NaN, None or NA) {where}, so "
        f"the request cannot be filled in and nothing was sent. {fixes}",
        campaign=keys[0] if len(keys) == 1 else None,
    )


def _places(api: ExternalAPI, field: str) -> list[str]:
    """Return the options whose templates contain the placeholder `field`."""
    templates = {
        "url": api.url,
        "params": dict(api.params or {}),
        "headers": dict(api.headers or {}),
        "json": api.json,
    }
    return [
        name
        for name, template in templates.items()
        if field in collect_fields(template, where=name)
    ]


def _campaign_values(
    audience: pd.DataFrame, columns: Mapping[str, Any], grouping: Grouping, number: int
) -> dict[str, Any]:
    row = int(grouping.first_rows[number])
    values = {
        field: python_scalar(audience[column].iat[row])
        for field, column in columns.items()
    }
    values[COUNT] = int(grouping.counts[number])
    return values


def _render_request(
    api: ExternalAPI,
    grouping: Grouping,
    number: int,
    values: dict[str, Any],
    payload_body: bytes | None = None,
) -> CampaignRequest:
    key = grouping.keys[number]
    try:
        url_text = render_text(
            compile_string(api.url, where="url"), values, url_quote=True
        )
    except TemplateError as exc:
        raise TemplateError(f"campaign {key!r}: {exc}", campaign=key) from exc
    url = URL(url_text, encoded=True)
    if api.params:
        rendered = render_json(dict(api.params), values, where="params")
        url = url.extend_query(
            {
                name: _query_value(value)
                for name, value in rendered.items()
                if value is not None
            }
        )
    headers = {}
    for name, template in (api.headers or {}).items():
        if template is None:  # left out, as a None query parameter is
            continue
        text = render_text(
            compile_string(str(template), where=f"headers[{name!r}]"), values
        )
        if "\r" in text or "\n" in text:
            raise TemplateError(
                f"header {name!r} for campaign {key!r} contains a line break after "
                "filling its placeholders; header values must be one line",
                campaign=key,
            )
        headers[name] = text
    body = payload_body
    if api.json is not None:
        document = render_json(api.json, values, where="json")
        try:
            body = json.dumps(
                document, ensure_ascii=False, allow_nan=False, separators=(",", ":")
            ).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"json= body for campaign {key!r} cannot be sent as JSON: {exc}; use "
                "only dicts, lists, strings, finite numbers, booleans and None"
            ) from exc
    if body is not None:
        if len(body) > api.guard.max_request_bytes:
            raise RequestTooLarge(
                f"request body for campaign {key!r} is {len(body)} bytes, over the "
                f"max_request_bytes limit of {api.guard.max_request_bytes}; send "
                "per-profile data with df.extapi.enrich_from_file, or raise "
                "max_request_bytes",
                campaign=key,
            )
        headers.setdefault("Content-Type", "application/json")
    return CampaignRequest(
        number, key, int(grouping.counts[number]), api.method, url, headers, body
    )


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, separators=(",", ":"))
