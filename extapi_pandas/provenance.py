"""JSON-safe provenance of an enrichment, stored in `enriched.attrs["extapi"]`."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from extapi_pandas.errors import ExtapiError, HTTPStatusError
from extapi_pandas.mapping import Extraction
from extapi_pandas.plan import CampaignRequest
from extapi_pandas.redaction import Redactor

if TYPE_CHECKING:
    from extapi_pandas.http.client import Response

__all__ = ["ATTRS_KEY", "CampaignRecord", "campaign_entry", "library_version"]

ATTRS_KEY = "extapi"


@functools.cache
def library_version() -> str:
    """Return the installed extapi-pandas version, or "unknown" from a source tree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("extapi-pandas")
    except PackageNotFoundError:
        return "unknown"


@dataclass
class CampaignRecord:
    """The outcome of one campaign, before it is written as provenance."""

    request: CampaignRequest
    response: Response | None = None
    extraction: Extraction | None = None
    error: ExtapiError | None = None
    empty: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """`"ok"`, or the error code for the `extapi_status` column."""
        return "ok" if self.error is None else self.error.code


def campaign_entry(record: CampaignRecord, redactor: Redactor) -> dict[str, Any]:
    """Return the provenance entry of one campaign; no value in it is secret."""
    request = record.request
    entry: dict[str, Any] = {
        "campaign": request.key,
        "status": record.status,
        "method": request.method,
        "url": redactor.url(request.url),
        "profiles": request.profiles,
    }
    response = record.response
    if response is not None:
        entry.update(
            http_status=response.status,
            url=response.url,
            bytes=len(response.body),
            elapsed_s=round(response.elapsed, 6),
            fetched_at=response.fetched_at,
            sha256=hashlib.sha256(response.body).hexdigest(),
            attempts=response.attempts,
            content_type=response.content_type,
        )
        if response.retries:
            entry["retried_after"] = list(response.retries)
        if response.cache_hit is not None:
            entry["cache_hit"] = response.cache_hit
        if response.replayed:
            entry["replayed"] = True
    if record.extraction is not None:
        entry["records"] = record.extraction.rows
        entry["missing"] = {k: v for k, v in record.extraction.missing.items() if v}
        entry["nulls"] = {k: v for k, v in record.extraction.nulls.items() if v}
        entry["invalid"] = {k: v for k, v in record.extraction.invalid.items() if v}
    if record.empty:
        entry["empty_response"] = True
    if record.error is not None:
        entry["error"] = redactor.text(str(record.error))
        if response is None and isinstance(record.error, HTTPStatusError):
            # The server responded with an error status, so no Response was kept.
            entry["http_status"] = record.error.status
    if record.notes:
        entry["warnings"] = [redactor.text(note) for note in record.notes]
    return entry
