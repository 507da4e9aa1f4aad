"""Per-campaign report of an enriched frame's provenance, as HTML and plain text."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from extapi_pandas.errors import ExtapiError
from extapi_pandas.provenance import ATTRS_KEY

__all__ = ["REPORT_COLUMNS", "Report"]

REPORT_COLUMNS = [
    "campaign",
    "status",
    "http_status",
    "attempts",
    "bytes",
    "elapsed_s",
    "cache_hit",
    "rows",
    "warnings",
]
"""Columns of `Report.to_frame()`; `rows` counts the campaign's audience rows."""

_LABELS = {
    "http_status": "HTTP status",
    "elapsed_s": "elapsed",
    "cache_hit": "cache hit",
}
_HTML_ROWS = 200
_TEXT_ROWS = 20
_CELL_CHARS = 300

_STYLE = (
    "<style>"
    ".extapi-report table{border-collapse:collapse;font-size:12px}"
    ".extapi-report th,.extapi-report td{border:1px solid #ccc;padding:2px 6px;"
    "text-align:left;vertical-align:top}"
    ".extapi-report .failed{color:#b00020;font-weight:bold}"
    ".extapi-report .ok{color:#1b5e20}"
    "</style>"
)


@dataclass(frozen=True)
class Report:
    """What one `enrich` call did, read from `enriched.attrs["extapi"]`.

    In a notebook it shows as an HTML table with one row per campaign. `repr()`
    returns a plain-text summary, and `to_frame()` returns the table as a DataFrame.

    Attributes:
        provenance: The JSON-safe provenance dictionary the pipeline wrote.

    Example:
        >>> enriched.extapi.report()  # doctest: +SKIP
        extapi report: GET http://127.0.0.1:8080/offers?market={market}
        ...
    """

    provenance: Mapping[str, Any]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Report:
        """Read the provenance of an enriched frame.

        Raises:
            ExtapiError: The frame has no `attrs["extapi"]`, or it is not a
                provenance dictionary.
        """
        provenance = frame.attrs.get(ATTRS_KEY)
        if provenance is None:
            raise ExtapiError(
                f"this frame has no provenance in attrs[{ATTRS_KEY!r}], so there is "
                "nothing to report; call report() on the frame that df.extapi.enrich "
                "returned (pandas drops attrs in some operations, such as a merge "
                "with a frame that has other attrs)"
            )
        if not isinstance(provenance, Mapping) or not isinstance(
            provenance.get("campaigns", []), list
        ):
            raise ExtapiError(
                f"attrs[{ATTRS_KEY!r}] is a {type(provenance).__name__}, not the "
                "provenance dictionary that df.extapi.enrich writes; it was changed "
                "after enrichment"
            )
        return cls(provenance)

    @property
    def campaigns(self) -> list[dict[str, Any]]:
        """The per-campaign provenance entries."""
        return list(self.provenance.get("campaigns", []))

    def to_frame(self) -> pd.DataFrame:
        """Return one row per campaign with the columns of `REPORT_COLUMNS`."""
        rows = [_report_row(entry) for entry in self.campaigns]
        frame = pd.DataFrame(rows, columns=REPORT_COLUMNS)
        for column in ("http_status", "attempts", "bytes", "rows"):
            frame[column] = frame[column].astype("Int64")
        frame["elapsed_s"] = frame["elapsed_s"].astype("Float64")
        frame["cache_hit"] = frame["cache_hit"].astype("boolean")
        return frame

    def summary_lines(self) -> list[str]:
        """Return the call-level summary as lines of text."""
        p = self.provenance
        lines = _file_lines(p) if p.get("route") == "file" else _call_lines(p)
        lines += [
            f"  rows: {p.get('rows', '?')} ({p.get('rows_enriched', '?')} enriched, "
            f"{p.get('rows_unmatched', 0)} unmatched, {p.get('rows_skipped', 0)} "
            "skipped)",
            f"  elapsed: {_seconds(p.get('elapsed_s'))}, started at "
            f"{p.get('started_at', '?')}, {p.get('library', 'extapi-pandas')}",
        ]
        columns = p.get("columns") or {}
        if columns:
            lines.append(f"  columns added: {', '.join(map(str, columns))}")
        lines.extend(f"  warning: {message}" for message in p.get("warnings", []))
        return lines

    def __repr__(self) -> str:
        lines = self.summary_lines()
        frame = self.to_frame()
        if len(frame):
            shown = frame.assign(warnings=frame["warnings"].str.slice(0, 60))
            lines.append("")
            lines.append(shown.to_string(index=False, max_rows=_TEXT_ROWS))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        lines = self.summary_lines()
        head = "".join(f"<div>{html.escape(line.strip())}</div>" for line in lines)
        header = "".join(
            f"<th>{html.escape(_LABELS.get(name, name))}</th>"
            for name in REPORT_COLUMNS
        )
        body = "".join(_html_row(entry) for entry in self.campaigns[:_HTML_ROWS])
        more = len(self.campaigns) - _HTML_ROWS
        note = (
            f"<div>… {more} more campaigns; report.to_frame() has them all</div>"
            if more > 0
            else ""
        )
        table = (
            f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"
            if self.campaigns
            else ""
        )
        return f'{_STYLE}<div class="extapi-report">{head}{table}{note}</div>'


def _call_lines(p: Mapping[str, Any]) -> list[str]:
    source = p.get("source") or {}
    campaigns = p.get("campaigns", [])
    return [
        f"extapi report: {source.get('method', '?')} {source.get('url', '?')}",
        f"  campaigns: {p.get('campaigns_total', len(campaigns))} "
        f"({p.get('campaigns_failed', 0)} failed), "
        f"HTTP requests: {p.get('requests', '?')}",
    ]


def _file_lines(p: Mapping[str, Any]) -> list[str]:
    source = p.get("source") or {}
    match = p.get("match") or {}
    matched = match.get("profiles_matched", "?")
    unmatched = match.get("profiles_unmatched", "?")
    rate = match.get("match_rate")
    shown_rate = f" ({rate:.1%})" if isinstance(rate, int | float) else ""
    return [
        f"extapi report: file route, {source.get('format', '?')} "
        f"{source.get('path', '?')} ({source.get('files', '?')} file(s))",
        f"  join on {p.get('on')!r}: {matched} profiles matched{shown_rate}, "
        f"{unmatched} unmatched; {match.get('file_rows_used', '?')} of "
        f"{match.get('file_rows_read', '?')} file rows used",
    ]


def _report_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "campaign": _campaign_text(entry.get("campaign")),
        "status": entry.get("status", "?"),
        "http_status": entry.get("http_status"),
        "attempts": entry.get("attempts"),
        "bytes": entry.get("bytes"),
        "elapsed_s": entry.get("elapsed_s"),
        "cache_hit": _cache_hit(entry),
        "rows": entry.get("profiles"),
        "warnings": "; ".join(_entry_messages(entry)),
    }


def _cache_hit(entry: Mapping[str, Any]) -> bool | None:
    value = entry.get("cache_hit")
    if isinstance(value, bool):
        return value
    cache = entry.get("cache")
    if isinstance(cache, str):
        return cache == "hit"
    return None


def _entry_messages(entry: Mapping[str, Any]) -> list[str]:
    messages = []
    if entry.get("error"):
        messages.append(f"error: {entry['error']}")
    if entry.get("retried_after"):
        messages.append(f"retried after {', '.join(entry['retried_after'])}")
    messages.extend(str(message) for message in entry.get("warnings", []))
    return messages


def _campaign_text(key: Any) -> str:
    if key is None:
        return "(whole frame)"
    if isinstance(key, list):
        return " / ".join(map(str, key))
    return str(key)


def _seconds(value: Any) -> str:
    return f"{value:.3f} s" if isinstance(value, int | float) else "?"


def _html_row(entry: Mapping[str, Any]) -> str:
    row = _report_row(entry)
    status_class = "ok" if row["status"] == "ok" else "failed"
    cells = [
        html.escape(row["campaign"]),
        f'<span class="{status_class}">{html.escape(str(row["status"]))}</span>',
        _number(row["http_status"]),
        _number(row["attempts"]),
        _number(row["bytes"], thousands=True),
        _seconds(row["elapsed_s"]) if row["elapsed_s"] is not None else "",
        {True: "yes", False: "no", None: ""}[row["cache_hit"]],
        _number(row["rows"], thousands=True),
        html.escape(_shorten(row["warnings"])),
    ]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _number(value: Any, *, thousands: bool = False) -> str:
    if not isinstance(value, int):
        return ""
    return f"{value:,}" if thousands else str(value)


def _shorten(text: str) -> str:
    return text if len(text) <= _CELL_CHARS else text[: _CELL_CHARS - 1] + "…"
