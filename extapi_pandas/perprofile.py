"""Detect per-profile data sent through campaign-wide calls; point to the file route.

A campaign-wide call fetches data shared by many profiles: one offer per campaign, a
weather table per region. Data with one value per profile (scores, watch times,
addresses) belongs in a bulk file joined with `df.extapi.enrich_from_file`, because
a campaign call moves it in one large response per campaign, under a response size
cap, and makes the endpoint rebuild it on every run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import pandas as pd

from extapi_pandas.errors import ConfigurationError
from extapi_pandas.options import MIB

if TYPE_CHECKING:
    from extapi_pandas.activity import ExternalAPI
    from extapi_pandas.plan import Plan
    from extapi_pandas.provenance import CampaignRecord

__all__ = [
    "DEFAULT_MAX_REQUESTS",
    "KEY_PLACEHOLDER",
    "AudienceCounts",
    "PerProfileLimits",
    "check_request_count",
    "file_route_call",
    "payload_rows",
    "payload_warning",
    "per_profile_warnings",
    "profile_key_column",
]

DEFAULT_MAX_REQUESTS = 1000

# Written in place of the key when no audience column looks like a profile key.
KEY_PLACEHOLDER = "<key column>"
# Column names (lowercased, without separators) that usually identify a profile,
# best first.
_KEY_NAMES = (
    "profileid",
    "customerid",
    "userid",
    "contactid",
    "personid",
    "memberid",
    "subscriberid",
    "clientid",
    "accountid",
    "visitorid",
    "id",
)
# Other names that join one of these words to a key suffix, such as "CustomerKey"
# or "crm_user_no", come next.
_KEY_WORD = re.compile(
    "(profile|customer|user|contact|person|member|subscriber|client|account|visitor)"
    ".*(id|key|no|number)"
)
_EXAMPLE_PATH = "profiles.parquet"
_SHOWN_COLUMNS = 8


@dataclass(frozen=True)
class PerProfileLimits:
    """Thresholds past which a campaign-wide call warns that its data is per-profile.

    Each threshold only raises a `PerProfileDataWarning`; the enrichment completes.
    The hard limit on the number of requests is `ExternalAPI.max_requests`.

    Args:
        min_records: Lookups with fewer records, and audiences with fewer profiles,
            never warn about the lookup key.
        record_share: A lookup response warns when it has at least `min_records`
            records and at least this many records per profile of its campaign.
        unique_share: A lookup key, or a campaign column, warns when its distinct
            values number at least this share of the profiles.
        min_campaigns: A nearly unique campaign column warns from this many
            campaigns (requests) on.
        body_bytes: A response body larger than this many bytes warns.
        payload_rows: A `json=` request body carrying an array of at least this
            many rows warns. Bodies built by `payload=` warn by
            `Payload.max_data_rows` instead.

    Example:
        >>> PerProfileLimits(body_bytes=2 * 1024 * 1024).min_records
        1000
    """

    min_records: int = 1000
    record_share: float = 0.5
    unique_share: float = 0.9
    min_campaigns: int = 100
    body_bytes: int = MIB
    payload_rows: int = 1000

    def __post_init__(self) -> None:
        for name in ("min_records", "min_campaigns", "body_bytes", "payload_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(
                    f"PerProfileLimits.{name} must be a whole number of 1 or more, "
                    f"got {value!r}"
                )
        for name in ("record_share", "unique_share"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 < value <= 1
            ):
                raise ConfigurationError(
                    f"PerProfileLimits.{name} must be a number above 0 and at most 1, "
                    f"got {value!r}"
                )

    @classmethod
    def coerce(
        cls, value: PerProfileLimits | Mapping[str, Any] | None
    ) -> PerProfileLimits:
        """Accept `PerProfileLimits`, a mapping of its fields (from a config file), or
        None for the defaults.

        Raises:
            ConfigurationError: The value is of another type, or names an unknown
                field.
        """
        if value is None:
            return cls()
        if isinstance(value, PerProfileLimits):
            return value
        if isinstance(value, Mapping):
            valid = [f.name for f in fields(cls)]
            unknown = sorted(set(value) - set(valid))
            if unknown:
                raise ConfigurationError(
                    f"unknown per_profile field(s) {', '.join(map(repr, unknown))}; "
                    f"valid fields are {', '.join(valid)}"
                )
            return cls(**value)
        raise ConfigurationError(
            f"per_profile must be PerProfileLimits(...) or a mapping of its fields, "
            f"got {type(value).__name__}"
        )


@dataclass(frozen=True)
class AudienceCounts:
    """Counts of an audience that is not in memory (a Dask or Spark one).

    Args:
        rows: Audience rows, the skipped ones included.
        lookup_keys: Distinct values of the `on=` audience columns, rows with a
            null key left out; None without a lookup.
        columns: The audience's column labels, for the key of the suggested
            `enrich_from_file` call.
    """

    rows: int
    lookup_keys: int | None = None
    columns: tuple[Any, ...] = ()


def profile_key_column(columns: Iterable[Any]) -> str | None:
    """Return the audience column that most likely identifies a profile, or None.

    The choice goes by name alone, so that it works for Dask and Spark audiences
    too: a usual key name (`profile_id`, `customer_id`, `user_id`, ..., `id`, in
    any case and with any separators), else a name that joins such a word to a key
    suffix (`CustomerKey`, `crm_user_no`). None when no string label fits.
    """
    best: tuple[int, str] | None = None
    for column in columns:
        if not isinstance(column, str):
            continue
        name = re.sub(r"[^0-9a-z]", "", column.lower())
        if name in _KEY_NAMES:
            rank = _KEY_NAMES.index(name)
        elif _KEY_WORD.search(name):
            rank = len(_KEY_NAMES)
        else:
            continue
        if best is None or rank < best[0]:
            best = (rank, column)
    return None if best is None else best[1]


def file_route_call(
    on: str | Mapping[str, str] | None,
    columns: Sequence[str] = (),
    *,
    audience_columns: Iterable[Any] = (),
) -> str:
    """Return a `df.extapi.enrich_from_file(...)` call for the case at hand.

    The call names only columns that exist: `on` comes from the caller's options,
    and without it the key is the `profile_key_column` of the audience. When no
    column fits, the call shows `on='<key column>'` with a comment to replace it.

    Args:
        on: The join key: an audience column, or audience column to file column.
            None picks the key from `audience_columns`.
        columns: The columns the file should provide.
        audience_columns: The audience's column labels.
    """
    note = ""
    if isinstance(on, Mapping):
        pairs = list(on.items())
        same = len(pairs) == 1 and pairs[0][0] == pairs[0][1]
        key = repr(pairs[0][0]) if same else repr(dict(pairs))
    elif on is not None:
        key = repr(on)
    else:
        found = profile_key_column(audience_columns)
        key = repr(found if found is not None else KEY_PLACEHOLDER)
        if found is None:
            note = (
                f"  # replace {KEY_PLACEHOLDER} with the audience column that "
                "identifies a profile"
            )
    arguments = [repr(_EXAMPLE_PATH), f"on={key}"]
    if columns:
        arguments.append(f"columns={list(columns)[:_SHOWN_COLUMNS]!r}")
    return f"df.extapi.enrich_from_file({', '.join(arguments)}){note}"


def check_request_count(
    requests: int,
    rows: int,
    campaign_columns: Sequence[str],
    max_requests: int,
    output_columns: Sequence[str] = (),
    audience_columns: Iterable[Any] = (),
) -> None:
    """Reject a call that would send more than `max_requests` requests.

    Runs after grouping and before any request is rendered or sent.
    `audience_columns` are searched for the key of the suggested file route call
    when several campaign columns leave it open.

    Raises:
        ConfigurationError: `requests` is over `max_requests`; the message names the
            option that lifts the limit and shows the file route.
    """
    if requests <= max_requests:
        return
    shown = ", ".join(map(repr, campaign_columns)) or "(none)"
    key: str | None = campaign_columns[0] if len(campaign_columns) == 1 else None
    raise ConfigurationError(
        f"campaign column(s) {shown} give {requests:,} distinct campaigns in {rows:,} "
        f"rows, so enrich would send {requests:,} requests, over max_requests="
        f"{max_requests:,}; nothing was sent. A campaign is shared by many profiles, "
        "so a column this close to one value per row is probably a profile id, and "
        "data fetched per profile belongs in a bulk file joined by key:\n"
        f"    {file_route_call(key, output_columns, audience_columns=audience_columns)}"
        f"\nIf the column does name campaigns, pass max_requests={requests} (or more)."
    )


def payload_warning(
    campaign: Any,
    rows: int,
    limits: PerProfileLimits,
    on: str | Mapping[str, str] | None = None,
    columns: Sequence[str] = (),
    audience_columns: Iterable[Any] = (),
) -> str | None:
    """Return the warning for a request body that carries `rows` data rows, or None.

    Code that builds request bodies from audience rows calls this with the row count
    of each campaign's body. Without `on`, the suggested call takes its key from
    `audience_columns`.
    """
    if rows < limits.payload_rows:
        return None
    return (
        f"campaign {campaign!r}: the request body carries {rows:,} data rows (warning "
        f"from PerProfileLimits.payload_rows={limits.payload_rows:,}). Rows sent per "
        "profile are per-profile data: the endpoint has to answer for each profile "
        "inside one campaign call. Export the result once as a file and join it:\n"
        f"    {file_route_call(on, columns, audience_columns=audience_columns)}"
    )


def per_profile_warnings(
    audience: pd.DataFrame | AudienceCounts,
    plan: Plan,
    records: Sequence[CampaignRecord],
    api: ExternalAPI,
) -> list[str]:
    """Return the per-profile warnings for a finished campaign-wide call.

    At most one message per kind of evidence (campaign column, lookup, response
    size, request body), each naming the campaigns concerned, with numbers.
    `audience` may be the counts of an audience held elsewhere.
    """
    limits: PerProfileLimits = api.per_profile
    messages = [
        _campaign_column_warning(plan, api, limits, _columns_of(audience)),
        _lookup_warning(audience, records, api, limits),
        _body_size_warning(records, api, limits, _columns_of(audience)),
        _payload_size_warning(records, api, limits, _columns_of(audience)),
    ]
    return [message for message in messages if message is not None]


def _campaign_column_warning(
    plan: Plan,
    api: ExternalAPI,
    limits: PerProfileLimits,
    audience_columns: Sequence[Any],
) -> str | None:
    columns = api.campaign_columns
    requests = len(plan.requests)
    rows = plan.grouping.rows - plan.grouping.skipped_rows
    if not columns or requests < limits.min_campaigns:
        return None
    if requests < limits.unique_share * rows:
        return None
    key = columns[0] if len(columns) == 1 else None
    call = file_route_call(key, api.output_columns, audience_columns=audience_columns)
    return (
        f"campaign column(s) {', '.join(map(repr, columns))} have {requests:,} "
        f"distinct values in {rows:,} rows, so enrich sent {requests:,} requests, "
        "close to one per profile. A campaign is shared by many profiles, so this "
        "column is probably a profile id, and data fetched per profile belongs in a "
        "bulk file joined by key:\n"
        f"    {call}\n"
        f"Calls over max_requests={api.max_requests:,} requests are rejected."
    )


def _lookup_warning(
    audience: pd.DataFrame | AudienceCounts,
    records: Sequence[CampaignRecord],
    api: ExternalAPI,
    limits: PerProfileLimits,
) -> str | None:
    if api.resolved_assign != "lookup" or not api.on:
        return None
    reasons = []
    unique = _unique_key_reason(audience, list(api.on), limits)
    if unique is not None:
        reasons.append(unique)
    large = _large_lookups(records, limits)
    if large:
        biggest = max(large, key=lambda record: _record_rows(record))
        reasons.append(
            f"{len(large)} campaign response(s) have a record for at least "
            f"{limits.record_share:.0%} of the campaign's profiles; campaign "
            f"{biggest.request.key!r} has {_record_rows(biggest):,} records for "
            f"{biggest.request.profiles:,} profiles"
        )
    if not reasons:
        return None
    return (
        f"the lookup on {_describe_on(api.on)} looks like per-profile data: "
        + "; ".join(reasons)
        + ". A lookup fits a small table shared by many profiles (a few regions or "
        "stores); one record per profile makes every campaign call carry the whole "
        "table, under the response size cap. Export it as a file and join it in "
        "bulk:\n"
        f"    {file_route_call(dict(api.on), api.output_columns)}"
    )


def _unique_key_reason(
    audience: pd.DataFrame | AudienceCounts,
    columns: list[str],
    limits: PerProfileLimits,
) -> str | None:
    profiles = audience.rows if isinstance(audience, AudienceCounts) else len(audience)
    if profiles < limits.min_records:
        return None
    distinct = _distinct_keys(audience, columns)
    if distinct < limits.unique_share * profiles:
        return None
    return (
        f"the audience key {', '.join(map(repr, columns))} has {distinct:,} "
        f"distinct values for {profiles:,} profiles, so each record serves about one "
        "profile"
    )


def _distinct_keys(audience: pd.DataFrame | AudienceCounts, columns: list[str]) -> int:
    if isinstance(audience, AudienceCounts):
        return audience.lookup_keys or 0
    if len(columns) == 1:
        return int(audience[columns[0]].nunique(dropna=True))
    return len(audience[columns].dropna().drop_duplicates())


def _record_rows(record: CampaignRecord) -> int:
    return record.extraction.rows if record.extraction is not None else 0


def _large_lookups(
    records: Iterable[CampaignRecord], limits: PerProfileLimits
) -> list[CampaignRecord]:
    large = []
    for record in records:
        rows = _record_rows(record)
        if (
            rows >= limits.min_records
            and rows >= limits.record_share * record.request.profiles
        ):
            large.append(record)
    return large


def _body_size_warning(
    records: Sequence[CampaignRecord],
    api: ExternalAPI,
    limits: PerProfileLimits,
    audience_columns: Sequence[Any],
) -> str | None:
    large = [
        record
        for record in records
        if record.response is not None and len(record.response.body) > limits.body_bytes
    ]
    if not large:
        return None
    biggest = max(large, key=lambda record: _body_size(record))
    return (
        f"{len(large)} campaign response(s) are larger than "
        f"{_size(limits.body_bytes)} (PerProfileLimits.body_bytes); campaign "
        f"{biggest.request.key!r} returned {_size(_body_size(biggest))} for "
        f"{biggest.request.profiles:,} profiles. Campaign-wide data (an offer, a "
        "weather table) takes a few kilobytes; a body this size usually carries a "
        "value per profile, and bodies over max_bytes="
        f"{_size(api.guard.max_bytes)} are rejected. Export the data as a file and "
        "join it in bulk:\n"
        f"    {_file_route_for(api, audience_columns)}"
    )


def _body_size(record: CampaignRecord) -> int:
    return len(record.response.body) if record.response is not None else 0


def _payload_size_warning(
    records: Sequence[CampaignRecord],
    api: ExternalAPI,
    limits: PerProfileLimits,
    audience_columns: Sequence[Any],
) -> str | None:
    if api.payload is not None:
        return None  # payload= bodies are checked where they are built
    counted = [
        (record, payload_rows(record.request.body, limits.payload_rows))
        for record in records
    ]
    large = [(record, rows) for record, rows in counted if rows >= limits.payload_rows]
    if not large:
        return None
    record, rows = max(large, key=lambda pair: pair[1])
    message = payload_warning(
        record.request.key,
        rows,
        limits,
        _file_key(api),
        api.output_columns,
        audience_columns,
    )
    if message is None or len(large) == 1:
        return message
    return f"{len(large)} campaign requests carry large data arrays; {message}"


def payload_rows(body: bytes | None, threshold: int) -> int:
    """Return the length of the longest array in a JSON body: the body itself, a
    field of it, or a field of a field.

    Returns 0 for no body, a body too short to hold `threshold` elements, or a body
    that is not JSON.
    """
    # Each array element takes at least two bytes ("1,"), so a shorter body cannot
    # reach the threshold and is not parsed.
    if not body or len(body) < 2 * threshold:
        return 0
    try:
        document = json.loads(body)
    except ValueError:
        return 0
    return _longest_array(document, depth=3)


def _longest_array(value: Any, depth: int) -> int:
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict) and depth > 1:
        return max(
            (_longest_array(item, depth - 1) for item in value.values()), default=0
        )
    return 0


def _file_key(api: ExternalAPI) -> str | Mapping[str, str] | None:
    if api.on:
        return dict(api.on)
    return None


def _file_route_for(api: ExternalAPI, audience_columns: Sequence[Any]) -> str:
    return file_route_call(
        _file_key(api), api.output_columns, audience_columns=audience_columns
    )


def _columns_of(audience: pd.DataFrame | AudienceCounts) -> tuple[Any, ...]:
    if isinstance(audience, AudienceCounts):
        return audience.columns
    return tuple(audience.columns)


def _describe_on(on: Mapping[str, str]) -> str:
    return ", ".join(
        repr(audience) if audience == response else f"{audience!r} -> {response!r}"
        for audience, response in on.items()
    )


def _size(size: int) -> str:
    if size >= MIB:
        return f"{size / MIB:.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size} bytes"
