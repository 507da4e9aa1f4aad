"""Attach a validated enrichment table to one pandas partition of a larger audience."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from extapi_pandas.activity import ExternalAPI
from extapi_pandas.attach import (
    STATUS_COLUMN,
    assemble,
    broadcast_rows,
    lookup_rows,
    sequential_rows,
    take_column,
)
from extapi_pandas.engines.summary import ROWS, AudienceSummary
from extapi_pandas.enrich import EnrichmentTable, sequential_ranges, status_codes
from extapi_pandas.provenance import ATTRS_KEY

__all__ = [
    "PartitionTable",
    "attach_partition",
    "campaign_codes",
    "campaign_index",
    "make_partition_table",
    "rows_enriched",
    "sequential_offsets",
]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class PartitionTable:
    """Everything a worker needs to attach the enrichment to its partitions.

    Attributes:
        campaign_columns: The campaign columns; empty when the audience is one
            campaign.
        campaigns: The campaign keys, as the audience holds them, in plan order.
        mode: `"broadcast"`, `"lookup"` or `"sequential"`.
        frame: The validated small frame.
        record_campaigns: The campaign number of each row of `frame`.
        row_of_campaign: Broadcast: each campaign's row in `frame`, or -1.
        start: Sequential: each campaign's first row in `frame`, or -1.
        count: Sequential: each campaign's rows in `frame`.
        offsets: Sequential: per partition and campaign, the profiles of that
            campaign in the partitions before it.
        on: The lookup key pairs (audience column, response column).
        keys: JSON-safe campaign keys, for error messages.
        columns: Each small-frame column to add, and its name in the result.
        as_category: Whether string columns become categoricals.
        status_name: The result name of the `extapi_status` column, or None.
        status_table: The status code of each campaign, then of "no campaign".
        status_categories: The status categories.
        attrs: The provenance stored in each partition's `attrs["extapi"]`.
    """

    campaign_columns: tuple[Any, ...]
    campaigns: pd.Index
    mode: str
    frame: pd.DataFrame
    record_campaigns: Array
    row_of_campaign: Array
    start: Array
    count: Array
    offsets: Array | None
    on: tuple[tuple[str, str], ...]
    keys: list[Any]
    columns: dict[str, str]
    as_category: bool
    status_name: str | None
    status_table: Array
    status_categories: list[str]
    attrs: dict[str, Any]


def campaign_index(frame: pd.DataFrame, columns: list[Any]) -> pd.Index:
    """Return an index of the campaign keys in `frame`'s rows, categoricals decoded."""
    if not columns:
        return pd.RangeIndex(len(frame))
    if len(columns) == 1:
        index: pd.Index = pd.Index(_decoded(frame[columns[0]]), name=columns[0])
        return index
    return pd.MultiIndex.from_arrays(
        [_decoded(frame[c]) for c in columns], names=columns
    )


def campaign_codes(
    part: pd.DataFrame, columns: tuple[Any, ...], campaigns: pd.Index
) -> Array:
    """Return the campaign number of each row of `part`; -1 for none or unknown."""
    if not columns:
        return np.zeros(len(part), dtype=np.int64)
    if len(columns) == 1:
        factors, uniques = pd.factorize(part[columns[0]], use_na_sentinel=True)
        found = campaigns.get_indexer(_decoded(pd.Series(uniques)))
        table = np.append(found, -1)
        codes: Array = table[factors]
        return codes
    keys = pd.MultiIndex.from_arrays([_decoded(part[c]) for c in columns])
    codes = campaigns.get_indexer(keys)
    codes[part[list(columns)].isna().any(axis=1).to_numpy()] = -1
    return codes


def make_partition_table(
    table: EnrichmentTable,
    summary: AudienceSummary,
    api: ExternalAPI,
    names: dict[str, str],
    attrs: dict[str, Any],
) -> PartitionTable:
    """Gather, from a finished enrichment, what attaching it to partitions needs."""
    plan = table.plan
    columns = list(api.campaign_columns)
    first_rows = plan.grouping.first_rows
    campaigns = campaign_index(summary.frame.iloc[first_rows], columns)
    record_campaigns = np.asarray(table.row_campaigns, dtype=np.int64)
    row_of_campaign = np.full(len(plan.requests), -1, dtype=np.int64)
    if api.resolved_assign == "broadcast":
        row_of_campaign[record_campaigns] = np.arange(len(record_campaigns))
    start, count = sequential_ranges(table.records, table.row_campaigns)
    offsets = None
    if api.resolved_assign == "sequential":
        offsets = sequential_offsets(summary.partitions, tuple(columns), campaigns)
    status_table, categories = status_codes(table.records)
    with_status = api.on_error == "continue"
    return PartitionTable(
        campaign_columns=tuple(columns),
        campaigns=campaigns,
        mode=api.resolved_assign,
        frame=table.frame,
        record_campaigns=record_campaigns,
        row_of_campaign=row_of_campaign,
        start=start,
        count=count,
        offsets=offsets,
        on=tuple((api.on or {}).items()),
        keys=[record.request.key for record in table.records],
        columns={name: names[name] for name in api.output_columns},
        as_category=api.strings == "category",
        status_name=names[STATUS_COLUMN] if with_status else None,
        status_table=status_table,
        status_categories=categories,
        attrs=attrs,
    )


def sequential_offsets(
    partitions: list[pd.DataFrame], columns: tuple[Any, ...], campaigns: pd.Index
) -> Array:
    """Count, per partition and campaign, the campaign's profiles in earlier ones."""
    counts = np.zeros((len(partitions), len(campaigns)), dtype=np.int64)
    for number, distinct in enumerate(partitions):
        codes = campaign_codes(distinct, columns, campaigns)
        valid = codes >= 0
        counts[number] = np.bincount(
            codes[valid], weights=distinct[ROWS][valid], minlength=len(campaigns)
        )
    offsets: Array = np.cumsum(counts, axis=0) - counts
    return offsets


def rows_enriched(table: PartitionTable, summary: AudienceSummary) -> int | None:
    """Count the profiles that get a row, when the plan alone tells; else None.

    A lookup depends on each profile's key, so only a pass over the audience
    could count it.
    """
    profiles = np.bincount(
        campaign_codes(summary.frame, table.campaign_columns, table.campaigns).clip(
            min=-1
        )
        + 1,
        weights=summary.weights,
        minlength=len(table.campaigns) + 1,
    )[1:].astype(np.int64)
    if table.mode == "broadcast":
        return int(profiles[table.row_of_campaign >= 0].sum())
    if table.mode == "sequential":
        served = np.minimum(profiles, table.count)
        return int(served[table.start >= 0].sum())
    return None


def attach_partition(
    part: pd.DataFrame,
    table: PartitionTable,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Return `part` with the enrichment's columns added; `part` is not changed.

    Args:
        part: One partition of the audience.
        table: The enrichment to attach.
        partition_info: `{"number": i}`, the partition's position (Dask passes
            it); sequential assignment needs it.
    """
    codes = campaign_codes(part, table.campaign_columns, table.campaigns)
    rows = _rows(part, codes, table, partition_info)
    new_columns: dict[str, Any] = {
        name: take_column(table.frame[column], rows, as_category=table.as_category)
        for column, name in table.columns.items()
    }
    if table.status_name is not None:
        new_columns[table.status_name] = pd.Categorical.from_codes(
            table.status_table[codes], categories=pd.Index(table.status_categories)
        )
    result = assemble(part, new_columns)
    result.attrs[ATTRS_KEY] = table.attrs
    return result


def _rows(
    part: pd.DataFrame,
    codes: Array,
    table: PartitionTable,
    partition_info: dict[str, Any] | None,
) -> Array:
    if table.mode == "broadcast":
        return broadcast_rows(codes, table.row_of_campaign)
    if table.mode == "lookup":
        return lookup_rows(
            codes,
            [part[audience] for audience, _ in table.on],
            table.record_campaigns,
            [table.frame[response] for _, response in table.on],
            list(table.on),
            table.keys,
        )
    offsets = np.zeros(len(table.start), dtype=np.int64)
    if table.offsets is not None and partition_info is not None:
        offsets = table.offsets[partition_info["number"]]
    # The partition's i-th profile of a campaign is the campaign's
    # (offset + i)-th, so its record window starts `offset` rows later.
    start = np.where(table.start >= 0, table.start + offsets, -1)
    rows, _ = sequential_rows(codes, start, table.count - offsets)
    return rows


def _decoded(values: pd.Series) -> Any:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype(values.cat.categories.dtype)
    return values
