"""Summarise audience partitions: distinct campaign rows, row counts and key sketches.

A Dask audience is never collected. Each partition is reduced to the distinct
rows of the columns the plan reads (campaign and placeholder columns), each with
its row count, plus a sketch of the lookup keys. The client merges the summaries,
and `make_plan` plans from the merged rows with the counts as weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from extapi_pandas.activity import ExternalAPI
from extapi_pandas.engines.sketch import (
    Sketch,
    estimate_distinct,
    merge_sketches,
    row_sketch,
)
from extapi_pandas.errors import ConfigurationError
from extapi_pandas.perprofile import check_request_count

__all__ = [
    "ROWS",
    "AudienceSummary",
    "PartitionSummary",
    "SummarySpec",
    "check_missing",
    "merge_summaries",
    "summarize_partition",
]

ROWS = "__extapi_rows"
"""The row-count column of a summary frame."""

_SHOWN_LABELS = 5
# Two rows of one campaign are enough to show a placeholder that varies in it.
_ROWS_SHOWN_PER_CAMPAIGN = 2


@dataclass(frozen=True)
class SummarySpec:
    """The columns and limit of a partition summary.

    Attributes:
        campaign_columns: The campaign columns.
        plan_columns: The columns `make_plan` reads, campaign columns first.
        key_columns: The `on=` audience columns, sketched for the per-profile
            warning.
        max_campaigns: A partition with more campaigns than this sends only a
            sketch of them, because the call will be rejected.
    """

    campaign_columns: tuple[Any, ...]
    plan_columns: tuple[Any, ...]
    key_columns: tuple[Any, ...]
    max_campaigns: int


@dataclass
class PartitionSummary:
    """One partition, reduced.

    Attributes:
        rows: Rows of the partition.
        distinct: Distinct rows of the plan columns with a keyed campaign, each
            with its count in `ROWS`, in order of first appearance, plus one row
            standing for every row without a campaign key. None when the partition
            has more campaigns than `SummarySpec.max_campaigns`.
        campaigns: Distinct campaigns in the partition.
        missing_rows: Rows without a campaign key.
        missing_labels: Index labels of the first of them.
        campaign_sketch: A sketch of the campaign keys, when `distinct` is None.
        key_sketch: A sketch of the non-null lookup keys.
        key_rows: Rows with a non-null lookup key.
        key_sample: The first row of non-null lookup keys, for dtype checks.
    """

    rows: int
    distinct: pd.DataFrame | None
    campaigns: int
    missing_rows: int = 0
    missing_labels: list[Any] = field(default_factory=list)
    campaign_sketch: Sketch | None = None
    key_sketch: Sketch | None = None
    key_rows: int = 0
    key_sample: pd.DataFrame | None = None


@dataclass
class AudienceSummary:
    """The whole audience, reduced.

    Attributes:
        rows: Audience rows.
        frame: Distinct rows of the plan columns, in order of first appearance.
        weights: Audience rows behind each row of `frame`.
        lookup_keys: Distinct non-null lookup keys; None without `on=`.
        key_sample: Sample rows of the lookup keys.
        partitions: Each partition's `distinct` frame, in partition order.
    """

    rows: int
    frame: pd.DataFrame
    weights: np.ndarray[Any, np.dtype[np.int64]]
    lookup_keys: int | None
    key_sample: pd.DataFrame | None
    partitions: list[pd.DataFrame]


def summarize_partition(part: pd.DataFrame, spec: SummarySpec) -> PartitionSummary:
    """Reduce one partition to what planning and the per-profile checks need."""
    campaign_columns = list(spec.campaign_columns)
    missing = _missing_keys(part, campaign_columns)
    keyed = part[~missing] if missing.any() else part
    distinct = _distinct(keyed, list(spec.plan_columns))
    campaigns = _campaign_count(distinct, campaign_columns)
    summary = PartitionSummary(
        rows=len(part),
        distinct=None,
        campaigns=campaigns,
        missing_rows=int(missing.sum()),
        missing_labels=part.index[missing][:_SHOWN_LABELS].tolist(),
    )

    if campaigns > spec.max_campaigns:
        summary.campaign_sketch = row_sketch(keyed[campaign_columns])
    else:
        if len(distinct) > campaigns:  # a placeholder varies: keep examples only
            distinct = _first_rows_per_campaign(distinct, campaign_columns)
        summary.distinct = _with_missing_row(distinct, part, missing)

    if spec.key_columns:
        keys = part[list(spec.key_columns)].dropna()
        summary.key_sketch = row_sketch(keys)
        summary.key_rows = len(keys)
        summary.key_sample = keys.iloc[:1]
    return summary


def merge_summaries(
    summaries: Sequence[PartitionSummary], spec: SummarySpec, api: ExternalAPI
) -> AudienceSummary:
    """Merge the partition summaries, in partition order, into the audience's.

    Raises:
        ConfigurationError: Rows lack a campaign key with
            `missing_campaign="raise"`, or there are more campaigns than
            `max_requests`.
    """
    rows = sum(summary.rows for summary in summaries)
    check_missing(
        sum(summary.missing_rows for summary in summaries),
        [label for summary in summaries for label in summary.missing_labels],
        list(spec.campaign_columns),
        api.missing_campaign,
    )
    _check_campaign_count(summaries, spec, api, rows)

    partitions = [
        summary.distinct for summary in summaries if summary.distinct is not None
    ]
    frame = _merge_distinct(partitions, spec)
    lookup_keys = None
    sample = None
    if spec.key_columns:
        estimate = estimate_distinct(
            merge_sketches(
                summary.key_sketch
                for summary in summaries
                if summary.key_sketch is not None
            )
        )
        # An estimate can overshoot; there are never more keys than keyed rows.
        lookup_keys = min(estimate, sum(summary.key_rows for summary in summaries))
        samples = [s.key_sample for s in summaries if s.key_sample is not None]
        sample = pd.concat(samples, ignore_index=True) if samples else None
    weights = frame[ROWS].to_numpy(dtype=np.int64)
    return AudienceSummary(
        rows, frame.drop(columns=ROWS), weights, lookup_keys, sample, partitions
    )


def check_missing(
    missing_rows: int, labels: list[Any], columns: list[Any], policy: str
) -> None:
    """Reject rows without a campaign key, unless `missing_campaign="skip"`.

    Args:
        missing_rows: Rows without a campaign key.
        labels: Index labels of some of them; an empty list shows none.
        columns: The campaign columns.
        policy: `ExternalAPI.missing_campaign`.

    Raises:
        ConfigurationError: `missing_rows` is not 0 and `policy` is `"raise"`.
    """
    if not missing_rows or policy != "raise":
        return
    shown = ", ".join(repr(label) for label in labels[:_SHOWN_LABELS])
    where = f" (index {shown}{', ...' if missing_rows > len(labels[:5]) else ''})"
    raise ConfigurationError(
        f"{missing_rows} row(s) have no campaign key in {columns}"
        f"{where if labels else ''}; fill the key, drop those rows, or pass "
        "missing_campaign='skip' to keep them without enrichment"
    )


def _missing_keys(part: pd.DataFrame, columns: list[Any]) -> np.ndarray[Any, Any]:
    if not columns:
        return np.zeros(len(part), dtype=bool)
    return part[columns].isna().any(axis=1).to_numpy()


def _distinct(part: pd.DataFrame, columns: list[Any]) -> pd.DataFrame:
    if not columns:
        return pd.DataFrame({ROWS: [len(part)] if len(part) else []}, dtype=np.int64)
    grouped = part.groupby(columns, sort=False, dropna=False, observed=True)
    return grouped.size().rename(ROWS).reset_index()


def _campaign_count(distinct: pd.DataFrame, campaign_columns: list[Any]) -> int:
    if not campaign_columns:
        return min(len(distinct), 1)
    return len(distinct[campaign_columns].drop_duplicates())


def _first_rows_per_campaign(
    distinct: pd.DataFrame, campaign_columns: list[Any]
) -> pd.DataFrame:
    if not campaign_columns:
        return distinct.iloc[:_ROWS_SHOWN_PER_CAMPAIGN]
    grouped = distinct.groupby(campaign_columns, sort=False, observed=True)
    return grouped.head(_ROWS_SHOWN_PER_CAMPAIGN)


def _with_missing_row(
    distinct: pd.DataFrame, part: pd.DataFrame, missing: np.ndarray[Any, Any]
) -> pd.DataFrame:
    """Append one row of plan columns standing for every row without a campaign key."""
    count = int(missing.sum())
    if not count:
        return distinct
    columns = [column for column in distinct.columns if column != ROWS]
    row = part.loc[missing, columns].iloc[:1].reset_index(drop=True)
    row[ROWS] = count
    return pd.concat([distinct, row], ignore_index=True)


def _merge_distinct(partitions: list[pd.DataFrame], spec: SummarySpec) -> pd.DataFrame:
    columns = list(spec.plan_columns)
    if not partitions:
        return _distinct(pd.DataFrame(columns=columns), columns)
    merged = pd.concat(partitions, ignore_index=True)
    if not columns:
        return pd.DataFrame({ROWS: [int(merged[ROWS].sum())]}, dtype=np.int64)
    missing = _missing_keys(merged, list(spec.campaign_columns))
    keyed = merged[~missing]
    grouped = keyed.groupby(columns, sort=False, dropna=False, observed=True)[ROWS]
    frame = grouped.sum().reset_index()
    if missing.any():
        row = merged[missing].iloc[:1].copy()
        row[ROWS] = int(merged.loc[missing, ROWS].sum())
        frame = pd.concat([frame, row], ignore_index=True)
    return frame


def _check_campaign_count(
    summaries: Sequence[PartitionSummary],
    spec: SummarySpec,
    api: ExternalAPI,
    rows: int,
) -> None:
    """Reject more campaigns than `max_requests` before the distinct rows are merged."""
    if all(summary.distinct is not None for summary in summaries):
        return
    sketches = []
    for summary in summaries:
        if summary.campaign_sketch is not None:
            sketches.append(summary.campaign_sketch)
        elif summary.distinct is not None:
            keyed = summary.distinct[
                ~_missing_keys(summary.distinct, list(spec.campaign_columns))
            ]
            sketches.append(row_sketch(keyed[list(spec.campaign_columns)]))
    estimate = estimate_distinct(merge_sketches(sketches))
    largest = max(summary.campaigns for summary in summaries)
    # A partition alone has more than max_requests campaigns, so this raises.
    check_request_count(
        max(estimate, largest),
        rows,
        api.campaign_columns,
        api.max_requests,
        api.output_columns,
    )
