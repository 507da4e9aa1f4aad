"""Checks made on the client before an enrichment is attached to remote partitions."""

from __future__ import annotations

import numpy as np

from extapi_pandas.activity import ExternalAPI
from extapi_pandas.attach import lookup_rows
from extapi_pandas.engines.summary import AudienceSummary
from extapi_pandas.enrich import EnrichmentTable, check_sequential, sequential_ranges
from extapi_pandas.errors import ConfigurationError

__all__ = ["check_attach", "reject_unsupported"]


def reject_unsupported(api: ExternalAPI, *, engine: str) -> None:
    """Reject options that need every profile's values on the client.

    Raises:
        ConfigurationError: `payload=` sends aggregates or data rows.
    """
    payload = api.payload
    if payload is None or not (payload.aggregates or payload.data):
        return
    parts = [
        name
        for name, used in (("aggregates", payload.aggregates), ("data", payload.data))
        if used
    ]
    raise ConfigurationError(
        f"payload {' and '.join(parts)} are not supported on {engine} audiences, "
        "because they need every profile's values on the client; compute the "
        "value per campaign into a column and send it with payload params=, or "
        "enrich a pandas audience"
    )


def check_attach(
    table: EnrichmentTable, api: ExternalAPI, summary: AudienceSummary
) -> None:
    """Raise the attach errors the pandas route raises, before any partition runs.

    A lookup checks its key dtypes on sample keys and rejects repeated keys in a
    campaign's records; sequential assignment checks that each campaign has a
    record per profile.

    The pandas route rejects a repeated key only when a profile has it. Here a
    lookup rejects every repeated key, because the audience's keys are not on the
    client and a Spark join would repeat the profile's row.

    Raises:
        AttachError: As `DataFrame.extapi.enrich`.
    """
    mode = api.resolved_assign
    if mode == "lookup":
        pairs = list((api.on or {}).items())
        campaigns = np.asarray(table.row_campaigns, dtype=np.int64)
        response_keys = [table.frame[response] for _, response in pairs]
        keys = [record.request.key for record in table.records]
        # Matching the response keys against themselves finds every repeated key.
        lookup_rows(
            np.full(len(table.frame), -1, dtype=np.int64),
            response_keys,
            campaigns,
            response_keys,
            pairs,
            keys,
        )
        sample = summary.key_sample
        if sample is not None and len(sample):
            lookup_rows(
                np.full(len(sample), -1, dtype=np.int64),
                [sample[audience] for audience, _ in pairs],
                campaigns,
                response_keys,
                pairs,
                keys,
            )
    if mode == "sequential":
        start, count = sequential_ranges(table.records, table.row_campaigns)
        profiles = table.plan.grouping.counts.astype(np.int64)
        short = np.where(start >= 0, np.maximum(profiles - count, 0), 0)
        check_sequential(table.records, short, count, api)
