"""Campaign-wide enrichment of Dask DataFrames: `ddf.extapi.enrich(...)`.

Importing this module registers the `extapi` accessor on Dask DataFrames;
`import extapi_pandas` does so too when `dask.dataframe` is already imported.

Example:
    >>> import dask.dataframe as dd
    >>> import extapi_pandas.dask  # registers ddf.extapi
    >>> audience = dd.read_parquet("audience/")  # doctest: +SKIP
    >>> enriched = audience.extapi.enrich(  # doctest: +SKIP
    ...     "https://api.example.com/offers",
    ...     params={"market": "{market}"},
    ...     campaign="campaign_id",
    ...     columns={"offer": "$.offers[0].name"},
    ... )
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from extapi_pandas.activity import ExternalAPI, build_api
from extapi_pandas.engines.checks import check_attach, reject_unsupported
from extapi_pandas.engines.partition import (
    PartitionTable,
    attach_partition,
    make_partition_table,
    rows_enriched,
)
from extapi_pandas.engines.summary import (
    AudienceSummary,
    SummarySpec,
    merge_summaries,
    summarize_partition,
)
from extapi_pandas.enrich import (
    EnrichmentTable,
    check_lookup_columns,
    collect_warnings,
    emit_warnings,
    fetch_table,
    provenance,
    result_names,
)
from extapi_pandas.errors import ConfigurationError
from extapi_pandas.http.cache import store_validated
from extapi_pandas.perprofile import AudienceCounts
from extapi_pandas.plan import plan_columns
from extapi_pandas.progress import progress_for
from extapi_pandas.runner import run_sync

if TYPE_CHECKING:
    import dask.dataframe as dd

__all__ = ["DaskExtapiAccessor", "enrich", "enrich_from_file", "register"]

logger = logging.getLogger(__name__)


def enrich(
    ddf: dd.DataFrame, source: str | ExternalAPI, **options: Any
) -> dd.DataFrame:
    """Call an API once per campaign and add the mapped values to a Dask DataFrame.

    One pass over the audience computes, per partition, the distinct campaign
    and placeholder values with their row counts and a sketch of the lookup keys.
    The client then plans, sends and validates the requests with every guard rail
    of `DataFrame.extapi.enrich`. The small validated table is attached to each
    partition lazily (`map_partitions`, with the result's `meta` declared).
    Warnings are emitted here, before the result is computed.

    Args:
        ddf: The audience.
        source: Endpoint URL, or an `ExternalAPI` definition.
        **options: The options of `DataFrame.extapi.enrich`. A `payload=` may
            send params and the count, but not aggregates or data rows.

    Returns:
        A lazy Dask DataFrame: the audience's columns plus the new ones. Each
        computed partition carries the provenance in `attrs["extapi"]`, where
        `rows_enriched` is None for a lookup (counting it needs a pass over the
        result).

    Raises:
        ExtapiError: As `DataFrame.extapi.enrich`; errors of the plan and the
            requests are raised here, not when the result is computed.

    Example:
        >>> enriched = audience.extapi.enrich(  # doctest: +SKIP
        ...     url, campaign="campaign_id", columns={"offer": "$.name"}
        ... )
        >>> enriched.compute()  # doctest: +SKIP
    """
    api = build_api(source, options)
    reject_unsupported(api, engine="Dask")
    meta = ddf._meta
    names = result_names(meta, api)
    check_lookup_columns(meta, api)
    spec = SummarySpec(
        campaign_columns=tuple(api.campaign_columns),
        plan_columns=tuple(plan_columns(meta, api)),
        key_columns=tuple((api.on or {}).keys())
        if api.resolved_assign == "lookup"
        else (),
        max_campaigns=api.max_requests,
    )

    summary = _summarize(ddf, spec, api)
    with progress_for(api) as progress:
        table = run_sync(
            lambda: fetch_table(
                summary.frame, api, progress=progress, weights=summary.weights
            )
        )
    check_attach(table, api, summary)
    store_validated(api, table.records, table.redactor)

    warnings_ = collect_warnings(
        table,
        AudienceCounts(summary.rows, summary.lookup_keys, tuple(meta.columns)),
        api,
    )
    partition_table = _partition_table(table, summary, api, names, warnings_, meta)
    logger.info(
        "attaching %d campaign(s) to %d partition(s)",
        len(table.records),
        ddf.npartitions,
    )
    frame: Any = ddf  # Dask's own methods are not annotated
    result: dd.DataFrame = frame.map_partitions(
        attach_partition,
        _dask().delayed(partition_table, pure=True),
        meta=attach_partition(meta, partition_table),
        align_dataframes=False,
    )
    emit_warnings(warnings_)
    return result


def _summarize(
    ddf: dd.DataFrame, spec: SummarySpec, api: ExternalAPI
) -> AudienceSummary:
    dask = _dask()
    needed = list(dict.fromkeys([*spec.plan_columns, *spec.key_columns]))
    # Reading only the needed columns lets Parquet and CSV readers skip the rest.
    selected = ddf[needed] if needed else ddf[list(ddf.columns[:1])]
    tasks = [
        dask.delayed(summarize_partition)(part, spec) for part in selected.to_delayed()
    ]
    summaries = dask.compute(*tasks)
    return merge_summaries(summaries, spec, api)


def _partition_table(
    table: EnrichmentTable,
    summary: AudienceSummary,
    api: ExternalAPI,
    names: dict[str, str],
    warnings_: list[tuple[type[Warning], str]],
    meta: pd.DataFrame,
) -> PartitionTable:
    """Build the table that workers attach, with the provenance each partition gets."""
    partition_table = make_partition_table(table, summary, api, names, {})
    meta = attach_partition(meta, partition_table)
    attrs = provenance(
        table,
        api,
        names,
        warnings_,
        rows=summary.rows,
        rows_enriched=rows_enriched(partition_table, summary),
        dtypes={name: str(meta[name].dtype) for name in names.values()},
    )
    attrs["engine"] = "dask"
    return dataclasses.replace(partition_table, attrs=attrs)


def enrich_from_file(
    ddf: dd.DataFrame,
    path: str | Sequence[str],
    *,
    on: str | Sequence[str] | Mapping[str, str],
    columns: Sequence[str] | Mapping[str, str] | None = None,
    format: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    dtype: Mapping[str, str] | None = None,
    keep: str = "raise",
    on_conflict: str = "raise",
) -> dd.DataFrame:
    """Left-join a per-profile file, read with Dask, onto a Dask audience by key.

    See `extapi_pandas.engines.files.join_file` for the arguments.
    """
    from extapi_pandas.engines.files import join_file

    return join_file(
        ddf,
        path,
        on=on,
        columns=columns,
        format=format,
        storage_options=storage_options,
        dtype=dtype,
        keep=keep,
        on_conflict=on_conflict,
    )


class DaskExtapiAccessor:
    """Campaign-wide enrichment of a Dask audience, available as `ddf.extapi`."""

    def __init__(self, ddf: dd.DataFrame) -> None:
        self._ddf = ddf

    def enrich(self, source: str | ExternalAPI, **options: Any) -> dd.DataFrame:
        """Enrich the audience lazily; see `extapi_pandas.dask.enrich`."""
        return enrich(self._ddf, source, **options)

    def enrich_from_file(
        self, path: str | Sequence[str], *, on: Any, **options: Any
    ) -> dd.DataFrame:
        """Join a per-profile file by key; see `extapi_pandas.dask.enrich_from_file`."""
        return enrich_from_file(self._ddf, path, on=on, **options)


def register() -> None:
    """Register the `extapi` accessor on Dask DataFrames; later calls do nothing.

    Raises:
        ConfigurationError: Dask is not installed.
    """
    try:
        import dask.dataframe as dd
    except ImportError as exc:
        raise ConfigurationError(
            "the Dask engine needs dask[dataframe]; install it with "
            'pip install "extapi-pandas[dask]"'
        ) from exc
    if getattr(dd.DataFrame, "extapi", None) is not DaskExtapiAccessor:
        extensions: Any = dd.extensions
        extensions.register_dataframe_accessor("extapi")(DaskExtapiAccessor)


def _dask() -> Any:
    """Return the `dask` module, imported on first use (its API is not annotated)."""
    import dask

    return dask


register()
