"""The enrichment pipeline: plan, fetch, parse, extract, validate, attach."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from extapi_pandas.activity import ExternalAPI
from extapi_pandas.attach import (
    STATUS_COLUMN,
    assemble,
    lookup_rows,
    resolve_names,
    sequential_rows,
    take_column,
)
from extapi_pandas.encode import run_parallel
from extapi_pandas.errors import (
    ConfigurationError,
    ExtapiError,
    ExtapiWarning,
    MappingError,
    PerProfileDataWarning,
)
from extapi_pandas.frames import BuiltFrame, Fix, build_frame
from extapi_pandas.http.cache import store_validated
from extapi_pandas.mapping import (
    Column,
    CompiledMapping,
    compile_mapping,
    extract_document,
    missing_required_error,
)
from extapi_pandas.parse import NO_CONTENT, parse_body, reject_infinities
from extapi_pandas.perprofile import AudienceCounts, per_profile_warnings
from extapi_pandas.plan import CampaignRequest, Plan, make_plan
from extapi_pandas.progress import NullProgress, ProgressReporter
from extapi_pandas.provenance import (
    ATTRS_KEY,
    CampaignRecord,
    campaign_entry,
    library_version,
)
from extapi_pandas.redaction import Redactor
from extapi_pandas.replay import fetch_stage
from extapi_pandas.validation import (
    check_frame,
    raise_for_document_failures,
    raise_for_failures,
    resolve_schema,
)

if TYPE_CHECKING:
    from extapi_pandas.http.cache import CampaignFetcher

__all__ = [
    "EnrichmentTable",
    "ExtapiWarning",
    "Outcome",
    "check_lookup_columns",
    "check_sequential",
    "collect_warnings",
    "emit_warnings",
    "enrich_async",
    "extract",
    "fetch_table",
    "provenance",
    "result_names",
    "sequential_ranges",
    "status_codes",
]

logger = logging.getLogger(__name__)

_PACKAGE_DIR = str(Path(__file__).resolve().parent)


@dataclass
class Outcome:
    """The enriched frame and the warnings to emit in the caller's thread."""

    # No frame in the repr: asyncio formats a finished task's result in some
    # paths (Python 3.11 does when restoring the SIGINT handler after asyncio.run),
    # and formatting a large frame there costs milliseconds.
    frame: pd.DataFrame = field(repr=False)
    warnings: list[tuple[type[Warning], str]] = field(default_factory=list)


@dataclass
class EnrichmentTable:
    """The validated small frame of one enrichment, before it reaches the audience.

    Attributes:
        plan: The grouping and the request of each campaign.
        records: What happened to each campaign, in plan order.
        frame: The validated rows: one per campaign without `records`, else one per
            record.
        row_campaigns: The campaign number of each row of `frame`.
        redactor: The redactor of the definition's secrets.
        started: `time.monotonic()` when the enrichment began.
        started_at: The UTC start time, ISO 8601.
    """

    plan: Plan
    records: list[CampaignRecord]
    frame: pd.DataFrame
    row_campaigns: list[int]
    redactor: Redactor
    started: float
    started_at: str


async def enrich_async(
    audience: pd.DataFrame,
    api: ExternalAPI,
    *,
    progress: ProgressReporter | None = None,
) -> Outcome:
    """Run the whole pipeline for one audience; warnings are returned, not emitted.

    `progress` receives the number of campaigns, each finished campaign and each
    retry. The caller creates and closes it in its own thread, so that a notebook
    shows the bar in the right cell.
    """
    names = result_names(audience, api)
    check_lookup_columns(audience, api)
    table = await fetch_table(audience, api, progress=progress)
    plan, records, frame = table.plan, table.records, table.frame

    rows, via = _rows_for_audience(
        plan, records, table.row_campaigns, audience, api, frame
    )
    store_validated(api, records, table.redactor)
    as_category = api.strings == "category"
    gathered = run_parallel(
        [
            partial(take_column, frame[name], rows, as_category=as_category, via=via)
            for name in api.output_columns
        ],
        rows=len(audience),
    )
    new_columns = {
        names[name]: values
        for name, values in zip(api.output_columns, gathered, strict=True)
    }
    if api.on_error == "continue":
        new_columns[names[STATUS_COLUMN]] = _status_column(plan, records)
    result = assemble(audience, new_columns)

    outcome = Outcome(result)
    outcome.warnings.extend(collect_warnings(table, audience, api))
    unmatched = _unmatched_lookup_warning(table, rows, api)
    if via is None:
        rows_enriched = int((rows >= 0).sum())
    else:  # rows are campaign numbers; count the rows of campaigns with a value
        rows_enriched = int(plan.grouping.counts[via >= 0].sum())
    if unmatched is not None:
        outcome.warnings.append((ExtapiWarning, unmatched))
    result.attrs[ATTRS_KEY] = provenance(
        table,
        api,
        names,
        outcome.warnings,
        rows=len(result),
        rows_enriched=rows_enriched,
        dtypes={name: str(result[name].dtype) for name in names.values()},
    )
    return outcome


def _unmatched_lookup_warning(
    table: EnrichmentTable, rows: np.ndarray[Any, Any], api: ExternalAPI
) -> str | None:
    """Return a warning when a lookup had records but matched no profile at all."""
    if api.resolved_assign != "lookup" or (rows >= 0).any():
        return None
    records = sum(r.extraction.rows for r in table.records if r.extraction is not None)
    if not records:
        return None
    pairs = ", ".join(f"{a!r} to {r!r}" for a, r in (api.on or {}).items())
    return (
        f"the lookup matched no profile: {records} record(s) arrived, but none has "
        f"a key equal to an audience key ({pairs}); check that the response column "
        "holds the same values as the audience column, with the same type and case"
    )


async def fetch_table(
    audience: pd.DataFrame,
    api: ExternalAPI,
    *,
    progress: ProgressReporter | None = None,
    weights: np.ndarray[Any, np.dtype[np.int64]] | None = None,
) -> EnrichmentTable:
    """Plan, fetch, parse, extract and validate: every stage before attach.

    Args:
        audience: The audience, or the distinct rows of its campaign and
            placeholder columns (see `make_plan`).
        api: The enrichment definition.
        progress: Told the number of campaigns, each one done and each retry.
        weights: With distinct rows, the audience rows each one stands for.
    """
    started = time.monotonic()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    redactor = api.redactor()
    schema = resolve_schema(api.schema)

    plan = make_plan(audience, api, weights=weights)
    logger.info(
        "enriching %d rows: %d campaign request(s) to %s",
        plan.grouping.rows,
        len(plan.requests),
        redactor.url(api.url),
    )

    records = await _fetch_all(plan, api, redactor, progress or NullProgress())
    _check_required(records, api, redactor)

    built, row_campaigns = _frame_from(records, api)
    frame, row_campaigns = _validate(built, row_campaigns, records, api, schema)
    return EnrichmentTable(
        plan, records, frame, row_campaigns, redactor, started, started_at
    )


def result_names(audience: pd.DataFrame, api: ExternalAPI) -> dict[str, str]:
    """Map each new column, the status column included, to its name in the result."""
    wanted = list(api.output_columns)
    if api.on_error == "continue":
        wanted.append(STATUS_COLUMN)
    return resolve_names(audience.columns, wanted, api.on_conflict)


def check_lookup_columns(audience: pd.DataFrame, api: ExternalAPI) -> None:
    """Reject an `on=` audience column that the audience does not have."""
    for audience_column in api.on or {}:
        if audience_column not in audience.columns:
            raise ConfigurationError(
                f"on= names audience column {audience_column!r}, which the audience "
                f"does not have; its columns are "
                f"{', '.join(map(repr, audience.columns[:30]))}"
            )


async def _fetch_all(
    plan: Plan, api: ExternalAPI, redactor: Redactor, progress: ProgressReporter
) -> list[CampaignRecord]:
    progress.start(len(plan.requests))
    # The stage serves responses from a recording, the cache or the network; it
    # imports aiohttp only when a request is sent.
    async with fetch_stage(
        api,
        redactor,
        on_retry=lambda request, code: progress.retry(request.key, code),
    ) as fetcher:
        tasks = [
            asyncio.create_task(_run_campaign(request, fetcher, api, redactor))
            for request in plan.requests
        ]
        try:
            # as_completed raises the first failure as soon as it happens; the
            # finally block then cancels the campaigns still in flight.
            for next_done in asyncio.as_completed(tasks):
                record = await next_done
                progress.advance(record.status)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return [task.result() for task in tasks]


async def _run_campaign(
    request: CampaignRequest,
    fetcher: CampaignFetcher,
    api: ExternalAPI,
    redactor: Redactor,
) -> CampaignRecord:
    record = CampaignRecord(request)
    try:
        record.response = await fetcher.fetch(request)
        parsed = parse_body(
            record.response.body,
            status=record.response.status,
            content_type=record.response.content_type,
            campaign=request.key,
            max_depth=api.guard.max_depth,
            strict_content_type=api.guard.strict_content_type,
        )
        record.notes.extend(parsed.notes)
        if parsed.document is NO_CONTENT:
            record.empty = True
            _check_required_on_empty(api.mapping, request.key)
        else:
            record.extraction = extract_document(
                parsed.document, api.mapping, campaign=request.key, defer_required=True
            )
            record.notes.extend(record.extraction.notes)
            reject_infinities(
                record.extraction.values,
                api.guard.allows_infinity,
                campaign=request.key,
            )
    except ExtapiError as exc:
        redactor.exception(exc)
        if api.on_error == "raise":
            raise
        logger.warning("campaign %r failed (%s): %s", request.key, exc.code, exc)
        record.error = exc
    return record


def _check_required_on_empty(mapping: CompiledMapping, campaign: Any) -> None:
    required = [name for name, column in mapping.columns.items() if column.required]
    if required:
        raise MappingError(
            f"campaign {campaign!r}: the response is empty (204 or no body), but "
            f"column(s) {', '.join(map(repr, required))} are required; check the "
            "request, or drop required=True to get <NA>",
            campaign=campaign,
        )


def _check_required(
    records: list[CampaignRecord], api: ExternalAPI, redactor: Redactor
) -> None:
    """Fail the campaigns whose response lacks a required column, naming them all."""
    lacking = {
        record.request.key: list(record.extraction.lacking)
        for record in records
        if record.extraction is not None and record.extraction.lacking
    }
    if not lacking:
        return
    if api.on_error == "raise":
        error = missing_required_error(lacking, api.mapping)
        redactor.exception(error)
        raise error
    for record in records:
        if record.extraction is not None and record.extraction.lacking:
            record.error = missing_required_error(
                {record.request.key: list(record.extraction.lacking)}, api.mapping
            )
            redactor.exception(record.error)
            record.extraction = None


def _frame_from(
    records: list[CampaignRecord], api: ExternalAPI
) -> tuple[BuiltFrame, list[int]]:
    """Concatenate the campaigns' extracted values and convert them to one frame."""
    values: dict[str, list[Any]] = {name: [] for name in api.mapping.names}
    zones: dict[str, list[Any]] = {}
    row_campaigns: list[int] = []
    for record in records:
        if record.extraction is None or record.error is not None:
            continue
        for name in values:
            values[name].extend(record.extraction.values[name])
        for name, row_zones in record.extraction.zones.items():
            zones.setdefault(name, []).extend(row_zones)
        row_campaigns.extend([record.request.number] * record.extraction.rows)
    built = build_frame(values, api.mapping.columns, len(row_campaigns), zones=zones)
    return built, row_campaigns


def _validate(
    built: BuiltFrame,
    row_campaigns: list[int],
    records: list[CampaignRecord],
    api: ExternalAPI,
    schema: Any,
) -> tuple[pd.DataFrame, list[int]]:
    """Convert and validate; with `on_error="continue"` drop the failed campaigns."""
    keys = [record.request.key for record in records]
    for _ in range(3):
        key_of_row = [keys[number] for number in row_campaigns]
        checked = check_frame(built, schema, key_of_row, api.mapping.columns)
        failures = checked.failures
        if failures.empty:
            _count_fixes(checked.fixes, row_campaigns, records)
            return checked.frame, row_campaigns
        if api.on_error == "raise":
            raise_for_failures(failures)
        failed = _failed_campaigns(failures, row_campaigns, records)
        for number in failed:
            record = records[number]
            record.error = _validation_error(failures, record.request.key)
            record.extraction = None
        built, row_campaigns = _frame_from(records, api)
    raise_for_failures(failures)
    return checked.frame, row_campaigns


def _count_fixes(
    fixes: list[Fix], row_campaigns: list[int], records: list[CampaignRecord]
) -> None:
    """Count the values each campaign's `on_invalid` policies replaced."""
    for fix in fixes:
        record = records[row_campaigns[fix.row]]
        if record.extraction is not None:
            invalid = record.extraction.invalid
            invalid[fix.column] = invalid.get(fix.column, 0) + 1
    if fixes:
        logger.info(
            "on_invalid replaced %d invalid value(s), the first in column %r",
            len(fixes),
            fixes[0].column,
        )


def _failed_campaigns(
    failures: pd.DataFrame, row_campaigns: list[int], records: list[CampaignRecord]
) -> set[int]:
    rows = failures["row"].dropna()
    if len(rows) < len(failures):  # a failure about a whole column fails them all
        return {number for number in set(row_campaigns)}
    return {row_campaigns[int(row)] for row in rows}


def _validation_error(failures: pd.DataFrame, key: Any) -> ExtapiError:
    from extapi_pandas.errors import ValidationError

    mine = failures[
        [campaign == key or campaign is None for campaign in failures["campaign"]]
    ]
    first = mine.iloc[0] if len(mine) else failures.iloc[0]
    return ValidationError(
        f"campaign {key!r}: column {first['column']!r} value {first['value']!r} failed "
        f"{first['check']}",
        failure_cases=mine.drop(columns="row").reset_index(drop=True),
        campaign=key,
    )


def _rows_for_audience(
    plan: Plan,
    records: list[CampaignRecord],
    row_campaigns: list[int],
    audience: pd.DataFrame,
    api: ExternalAPI,
    frame: pd.DataFrame,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
    """Return the small-frame row for each audience row (-1 for none).

    A broadcast returns the campaign codes and, as second item, the row of each
    campaign (see `take_column`'s `via`). The other modes return full rows and None.
    """
    codes = plan.grouping.codes
    campaigns = np.asarray(row_campaigns, dtype=np.int64)
    n_campaigns = len(plan.requests)
    mode = api.resolved_assign
    if mode == "broadcast":
        row_of_campaign = np.full(n_campaigns, -1, dtype=np.int64)
        row_of_campaign[campaigns] = np.arange(len(campaigns))
        return codes, row_of_campaign
    if mode == "lookup":
        pairs = list((api.on or {}).items())
        found = lookup_rows(
            codes,
            [audience[a] for a, _ in pairs],
            campaigns,
            [frame[r] for _, r in pairs],
            pairs,
            [record.request.key for record in records],
        )
        return found, None
    start, count = sequential_ranges(records, row_campaigns)
    rows, short = sequential_rows(codes, start, count)
    check_sequential(records, short, count, api)
    return rows, None


def sequential_ranges(
    records: list[CampaignRecord], row_campaigns: list[int]
) -> tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.int64]]]:
    """Return each campaign's first row in the small frame and its number of rows.

    A campaign with no usable response starts at -1; one whose response held no
    records starts at 0 with 0 rows.
    """
    campaigns = np.asarray(row_campaigns, dtype=np.int64)
    start = np.full(len(records), -1, dtype=np.int64)
    count = np.zeros(len(records), dtype=np.int64)
    if len(campaigns):
        first = np.flatnonzero(np.r_[True, campaigns[1:] != campaigns[:-1]])
        start[campaigns[first]] = first
        count[campaigns[first]] = np.diff(np.r_[first, len(campaigns)])
    # A campaign whose response held no records starts at -1 too: mark it as empty.
    for record in records:
        if record.extraction is not None and record.extraction.rows == 0:
            start[record.request.number] = 0
    return start, count


def check_sequential(
    records: list[CampaignRecord],
    short: np.ndarray[Any, Any],
    count: np.ndarray[Any, Any],
    api: ExternalAPI,
) -> None:
    """Fail, or note, each campaign whose response has fewer records than profiles.

    `short` and `count` give, per campaign, the profiles left without a record
    and the records in the response.
    """
    from extapi_pandas.errors import AttachError

    for record in records:
        number = record.request.number
        if record.error is not None or record.extraction is None or not short[number]:
            continue
        error = AttachError(
            f"campaign {record.request.key!r} has {record.request.profiles} profiles "
            f"but the response has {int(count[number])} records, so "
            f"{int(short[number])} profiles get none; ask the API for enough records "
            "(the {count} placeholder sends the profile count)"
            + (
                ""
                if api.on_error == "continue"
                else ", or pass on_error='continue' to leave those profiles null"
            ),
            campaign=record.request.key,
        )
        if api.on_error == "raise":
            raise error
        record.notes.append(str(error))


def _status_column(plan: Plan, records: list[CampaignRecord]) -> pd.Categorical[str]:
    table, categories = status_codes(records)
    return pd.Categorical.from_codes(
        table[plan.grouping.codes], categories=pd.Index(categories)
    )


def status_codes(
    records: list[CampaignRecord],
) -> tuple[np.ndarray[Any, np.dtype[np.int16]], list[str]]:
    """Return the `extapi_status` code of each campaign, and the categories.

    The code array has one more entry, last, for rows in no campaign, so it can
    be indexed with campaign numbers where -1 means none.
    """
    statuses = [record.status for record in records]
    categories = sorted(set(statuses) | {"ok", "skipped"})
    code_of = {status: i for i, status in enumerate(categories)}
    table = np.array(
        [code_of[s] for s in statuses] + [code_of["skipped"]], dtype=np.int16
    )
    return table, categories


def collect_warnings(
    table: EnrichmentTable, audience: pd.DataFrame | AudienceCounts, api: ExternalAPI
) -> list[tuple[type[Warning], str]]:
    """Return the warnings of a finished enrichment, to emit in the caller's thread.

    `audience` may be the counts of an audience held elsewhere.
    """
    records = table.records
    collected = list(table.plan.warnings)
    for record in records:
        for note in record.notes:
            collected.append((ExtapiWarning, note))
    empty = [record.request.key for record in records if record.empty]
    if empty:
        collected.append(
            (
                ExtapiWarning,
                f"{len(empty)} campaign(s) got an empty response (204 or no body), so "
                f"their new columns are null: {', '.join(map(repr, empty[:20]))}",
            )
        )
    failed = [record for record in records if record.error is not None]
    if failed:
        shown = "; ".join(
            f"{r.request.key!r}: {r.error.code}"
            for r in failed[:10]
            if r.error is not None
        )
        more = f"; and {len(failed) - 10} more" if len(failed) > 10 else ""
        collected.append(
            (
                ExtapiWarning,
                f"{len(failed)} of {len(records)} campaign(s) failed and kept null "
                f"columns (see the {STATUS_COLUMN} column): {shown}{more}",
            )
        )
    for message in per_profile_warnings(audience, table.plan, records, api):
        collected.append((PerProfileDataWarning, message))
    return collected


def provenance(
    table: EnrichmentTable,
    api: ExternalAPI,
    names: Mapping[str, str],
    warnings_: list[tuple[type[Warning], str]],
    *,
    rows: int,
    rows_enriched: int | None,
    dtypes: Mapping[str, str],
) -> dict[str, Any]:
    """Return the JSON-safe provenance stored in `attrs["extapi"]`.

    Args:
        table: The enrichment.
        api: The enrichment definition.
        names: Each new column's name in the result.
        warnings_: The warnings of the enrichment.
        rows: Rows of the result.
        rows_enriched: Rows that got a row of the small frame; None when only a
            pass over the result could count them (a lazy Dask lookup).
        dtypes: Each result column's dtype, by result name.
    """
    plan, records, redactor = table.plan, table.records, table.redactor
    skipped = plan.grouping.skipped_rows
    unmatched = (
        None
        if rows_enriched is None
        else rows - rows_enriched - skipped - _rows_of_failed(plan, records)
    )
    return {
        "version": 1,
        "library": f"extapi-pandas {library_version()}",
        "source": {"url": redactor.url(api.url), "method": api.method},
        "campaign_columns": api.campaign_columns,
        "assign": api.resolved_assign,
        "on": dict(api.on) if api.on else None,
        "columns": {
            name: {
                "path": api.mapping.columns[name].path,
                "column": names[name],
                "dtype": dtypes[names[name]],
            }
            for name in api.output_columns
        },
        "started_at": table.started_at,
        "elapsed_s": round(time.monotonic() - table.started, 6),
        "requests": sum(r.response.attempts for r in records if r.response is not None),
        "campaigns_total": len(records),
        "campaigns_failed": sum(r.error is not None for r in records),
        "rows": rows,
        "rows_enriched": rows_enriched,
        "rows_unmatched": unmatched,
        "rows_skipped": skipped,
        "campaigns": [campaign_entry(record, redactor) for record in records],
        "warnings": [redactor.text(message) for _, message in warnings_],
    }


def _rows_of_failed(plan: Plan, records: list[CampaignRecord]) -> int:
    return sum(r.request.profiles for r in records if r.error is not None or r.empty)


def emit_warnings(warnings_: list[tuple[type[Warning], str]]) -> None:
    """Emit collected warnings with the stack level of the caller's own line."""
    if not warnings_:
        return
    level = _user_stacklevel()
    for category, message in warnings_:
        warnings.warn(message, category, stacklevel=level)


def _user_stacklevel() -> int:
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def extract(
    document: Any,
    *,
    columns: Mapping[str, str | Column],
    records: str | None = None,
    schema: Any = None,
    assume_tz: str | int | None = None,
    na_values: Sequence[Any] | None = None,
    on_invalid: Any = "raise",
) -> pd.DataFrame:
    """Apply the extract and validate stages to a JSON value already in hand.

    `enrich` runs the same code on each response. Inside `records`, column paths
    are relative to each record (`$` is the record). The frame's
    `attrs["extapi"]` counts, per column, the rows with no node (`missing`), with
    a JSON null or an `na_values` entry (`nulls`), and with a value replaced by
    `on_invalid` (`invalid`).

    Args:
        document: A parsed JSON value (dict, list, or scalar).
        columns: Output column name to JSONPath string or `Column`, or a `Mapping`
            (which brings its own `records`).
        records: JSONPath of an array, each element giving one row, or of an
            object of parallel arrays, zipped into one row per index.
        schema: pandera `DataFrameSchema` or `DataFrameModel`.
        assume_tz: Default `Column.assume_tz` of timestamp columns.
        na_values: Default `Column.na_values`.
        on_invalid: Default `Column.on_invalid`.

    Returns:
        One row without `records`, else one row per record.

    Raises:
        InvalidPathError: A path does not compile.
        MappingError: A path matched several nodes, or a required column none.
        ValidationError: A value failed its dtype or the schema; its
            `failure_cases` name the row (`row`, `column`, `value`, `check`).

    Example:
        >>> extract({"offers": [{"name": "Winter sale"}]},
        ...         columns={"offer": "$.offers[0].name"})
                 offer
        0  Winter sale
    """
    mapping = compile_mapping(
        columns,
        records=records,
        assume_tz=assume_tz,
        na_values=na_values,
        on_invalid=on_invalid,
    )
    extraction = extract_document(document, mapping)
    for note in extraction.notes:
        warnings.warn(note, ExtapiWarning, stacklevel=2)
    built = build_frame(
        extraction.values, mapping.columns, extraction.rows, zones=extraction.zones
    )
    checked = check_frame(
        built, resolve_schema(schema), [None] * extraction.rows, mapping.columns
    )
    raise_for_document_failures(checked.failures)
    for fix in checked.fixes:
        extraction.invalid[fix.column] = extraction.invalid.get(fix.column, 0) + 1
    frame = checked.frame
    frame.attrs[ATTRS_KEY] = {
        "missing": {k: v for k, v in extraction.missing.items() if v},
        "nulls": {k: v for k, v in extraction.nulls.items() if v},
        "invalid": dict(extraction.invalid),
    }
    return frame
