"""One test call for one campaign: the redacted request, the response, a mapping."""

from __future__ import annotations

import dataclasses
import html
import json
import logging
from collections.abc import Iterable
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from extapi_pandas.activity import ExternalAPI, build_api
from extapi_pandas.codegen import api_options, enrich_code
from extapi_pandas.enrich import extract
from extapi_pandas.errors import ConfigurationError, ExtapiError
from extapi_pandas.infer import infer_mapping
from extapi_pandas.mapping import Column, CompiledPath, Mapping
from extapi_pandas.parse import NO_CONTENT, parse_body
from extapi_pandas.plan import CampaignRequest, make_plan
from extapi_pandas.redaction import Redactor
from extapi_pandas.replay import fetch_stage
from extapi_pandas.runner import run_sync

if TYPE_CHECKING:
    from extapi_pandas.http.client import Response

__all__ = [
    "InferredColumn",
    "Preview",
    "infer_columns",
    "json_tree_html",
    "preview",
    "preview_async",
]

logger = logging.getLogger(__name__)

DISPLAY_CHARS = 20_000
"""Characters of pretty-printed JSON shown before the text is cut."""

_TREE_NODES = 600
_TREE_ITEMS = 50
_SAMPLE_ROWS = 5
ResponseSource = Literal["network", "cache", "recording"]
# The pipeline needs at least one column; a preview without columns= reads the
# whole document into this one and shows the inferred mapping instead.
_WHOLE_DOCUMENT = {"_document": "$"}

_STYLE = (
    "<style>"
    ".extapi-preview{font-size:12px}"
    ".extapi-preview table{border-collapse:collapse;font-size:12px}"
    ".extapi-preview th,.extapi-preview td{border:1px solid #ccc;padding:2px 6px;"
    "text-align:left;vertical-align:top}"
    ".extapi-preview .json-node{margin-left:1.2em}"
    ".extapi-preview .json-key{color:#7b1fa2}"
    ".extapi-preview .json-value{color:#1565c0}"
    ".extapi-preview .error{color:#b00020}"
    "</style>"
)


@dataclass(frozen=True)
class InferredColumn:
    """One column of the inferred mapping, with its value in the sample.

    Attributes:
        name: Output column name.
        path: JSONPath of the value (relative to each record under `records=`).
        dtype: The inferred pandas dtype, or `"auto"` when inference left it open.
        example: The value in the sample (the first record under `records=`).
    """

    name: str
    path: str
    dtype: str
    example: Any = None


def infer_columns(
    document: Any, *, records: str | None = None, reserved: Iterable[Any] = ()
) -> tuple[Mapping, list[InferredColumn]]:
    """Infer a mapping from a sample response with `infer_mapping`.

    The preview keeps the shape of the call: one row per response without
    `records`, else one row per record. A name in `reserved` (the audience's
    columns) gets the suffix `_extapi`, so the proposal never clashes. Every
    column stays nullable, because the sample is one campaign of many.

    Raises:
        ConfigurationError: The sample flattens to too many columns, or `records`
            selects nothing.
    """
    inferred = infer_mapping(
        document,
        records=records if records is not None else False,
        on_collision="suffix",
        audience_columns=reserved,
    )
    # The sample is one campaign's response, so a value it never leaves null may
    # still be null for another campaign: keep every column nullable.
    mapping = Mapping(
        {
            name: dataclasses.replace(column, nullable=True)
            for name, column in inferred.items()
        },
        records=inferred.records,
    )
    mapping.notes = dict(inferred.notes)
    sample = _first_row(document, records)
    columns = [
        InferredColumn(
            name, column.path, column.dtype or "auto", _example(column.path, sample)
        )
        for name, column in mapping.items()
    ]
    return mapping, columns


def _first_row(document: Any, records: str | None) -> Any:
    if records is None:
        return document
    found = CompiledPath(records, owner="records=").select(document)
    elements = found[0] if len(found) == 1 and isinstance(found[0], list) else found
    return elements[0] if elements else None


def _example(path: str, sample: Any) -> Any:
    matched = CompiledPath(path, owner="example").select(sample)
    return matched[0] if matched else None


@dataclass(frozen=True, repr=False)
class Preview:
    """The outcome of one test call: redacted request, response, inferred mapping.

    Shows as HTML in a notebook (a collapsible JSON tree and the inferred columns).
    Only `document` contains response data unredacted, and no attribute contains
    a secret of the request. The repr and the HTML state when the response came
    from the cache or from a recording rather than from the network.

    Attributes:
        campaign: The campaign key the call was made for.
        profiles: Audience rows of that campaign.
        method: The HTTP method.
        url: The request URL, credentials masked.
        headers: The request headers, credentials masked.
        auth: The auth scheme's description, such as `"BearerToken"`, or None.
        body: The request body as text, credentials masked, or None.
        status: The HTTP status of the response.
        elapsed_s: Seconds from the first attempt to the end of the body. For a
            response from the cache or a recording, it is the time to read it.
        attempts: Requests sent, retries included; 0 when nothing was sent.
        response_source: Where the response came from: `"network"`, `"cache"`
            (a live entry of `cache=`) or `"recording"` (the `replay=` file).
        fetched_at: When the response arrived from the API, UTC, ISO 8601; for
            the cache or a recording, when it was first fetched.
        content_type: The response's Content-Type header, or None.
        response_bytes: Size of the decompressed body.
        document: The parsed JSON response; None for an empty (204) response.
        notes: Warnings about the response, such as a content type that is not JSON.
        inferred: Columns inferred from the response (relative to each record
            when `records=` is set), with their sample values.
        mapping: The inferred mapping, as `infer_mapping` returns it: editable,
            and accepted as `columns=`.
        columns: The mapping the code uses: the `columns=` given, or else the
            inferred one.
    """

    campaign: Any
    profiles: int
    method: str
    url: str
    headers: dict[str, str]
    auth: str | None
    body: str | None
    status: int
    elapsed_s: float
    attempts: int
    response_source: ResponseSource
    fetched_at: str
    content_type: str | None
    response_bytes: int
    document: Any
    notes: list[str]
    inferred: list[InferredColumn]
    mapping: Mapping
    columns: AnyMapping[str, str | Column]
    _options: dict[str, Any] = field(compare=False)
    _redactor: Redactor = field(compare=False)

    @property
    def records(self) -> str | None:
        """The `records=` path of the call, or None."""
        records: str | None = self._options.get("records")
        return records

    def json_text(self, max_chars: int = DISPLAY_CHARS) -> str:
        """Return the response pretty-printed, secrets masked, cut at `max_chars`."""
        if self.document is None:
            return "(empty response)"
        text = self._redactor.text(
            json.dumps(self.document, indent=2, ensure_ascii=False, default=str)
        )
        if len(text) <= max_chars:
            return text
        return f"{text[:max_chars]}\n… ({len(text) - max_chars:,} more characters)"

    def sample(self, rows: int = _SAMPLE_ROWS) -> pd.DataFrame:
        """Return the first rows that `columns` extracts from the response.

        Raises:
            ExtapiError: The mapping does not fit the response.
        """
        if self.document is None or not self.columns:
            return pd.DataFrame(columns=list(self.columns))
        frame = extract(self.document, columns=self.columns, records=self.records)
        return frame.head(rows)

    def options(self) -> dict[str, Any]:
        """Return the `enrich` keywords (`url` included) that `to_code` writes out.

        The values are the ones passed, secrets included, so that the builder can
        run them; print `to_code()` to show them.
        """
        return {**self._options, "columns": dict(self.columns)}

    def to_code(self, *, frame: str = "df", result: str = "enriched") -> str:
        """Return the `enrich` call for this request and mapping, as Python source.

        Secrets appear as environment-variable references, never as values.
        """
        return enrich_code(self.options(), frame=frame, result=result)

    def source_text(self) -> str:
        """Return where the response came from: `from the cache (fetched at ...)`.

        For a response from the network, return the time of the call instead, as
        in `in 12 ms`.
        """
        if self.response_source == "network":
            return f"in {self.elapsed_s * 1000:.0f} ms"
        return f"from the {self.response_source} (fetched at {self.fetched_at})"

    def __repr__(self) -> str:
        lines = [
            f"Preview of campaign {self.campaign!r} ({self.profiles} profiles): "
            f"{self.method} {self.url} -> HTTP {self.status} {self.source_text()}, "
            f"{self.response_bytes:,} bytes",
        ]
        lines.extend(f"  note: {note}" for note in self.notes)
        declared = self._options.get("columns")
        if declared:
            # The call's own columns come first; the inferred ones are a suggestion.
            lines.append("  columns, as declared:")
            lines.extend(
                f"    {name}: {spec.path if isinstance(spec, Column) else spec}"
                for name, spec in declared.items()
            )
            lines.append(
                f"  inferred from the response: {len(self.inferred)} column(s), "
                "in .mapping"
            )
            return "\n".join(lines)
        lines.append("  columns:")
        lines.extend(
            f"    {column.name}: {column.path} ({column.dtype})"
            for column in self.inferred
        )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return (
            f'{_STYLE}<div class="extapi-preview">{self.summary_html()}'
            f"{self.request_html()}"
            "<details open><summary><b>Response</b></summary>"
            f"{self.tree_html()}</details>"
            "<details><summary>Response as text</summary>"
            f"<pre>{html.escape(self.json_text())}</pre></details>"
            f"{self.columns_html()}"
            "<details><summary>Code</summary>"
            f"<pre>{html.escape(self.to_code())}</pre></details></div>"
        )

    def tree_html(self) -> str:
        """Return the response as a collapsible JSON tree, secrets masked."""
        return json_tree_html(self.document, redactor=self._redactor)

    def summary_html(self) -> str:
        """Return one HTML line: campaign, request line, status, time and size."""
        notes = "".join(
            f'<div class="error">{html.escape(note)}</div>' for note in self.notes
        )
        return (
            f"<div><b>Campaign {html.escape(repr(self.campaign))}</b> "
            f"({self.profiles:,} profiles): {html.escape(self.method)} "
            f"<code>{html.escape(self.url)}</code> → <b>HTTP {self.status}</b> "
            f"{html.escape(self.source_text())}, {self.response_bytes:,} bytes, "
            f"{self.attempts} attempt(s)</div>{notes}"
        )

    def request_html(self) -> str:
        """Return the redacted request (headers, auth and body) as collapsed HTML."""
        rows = [(name, value) for name, value in self.headers.items()]
        if self.auth is not None:
            rows.append(("auth", f"{self.auth} (credentials hidden)"))
        table = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(value)}</td></tr>"
            for name, value in rows
        )
        body = f"<pre>{html.escape(self.body)}</pre>" if self.body is not None else ""
        return (
            "<details><summary>Request</summary>"
            f"<div>{html.escape(self.method)} <code>{html.escape(self.url)}</code>"
            f"</div><table>{table}</table>{body}</details>"
        )

    def columns_html(self) -> str:
        """Return the inferred columns as an HTML table with an example value each."""
        rows = "".join(
            f"<tr><td>{html.escape(c.name)}</td><td><code>{html.escape(c.path)}"
            f"</code></td><td>{html.escape(c.dtype)}</td>"
            f"<td>{html.escape(self._redactor.text(_short(c.example)))}</td></tr>"
            for c in self.inferred
        )
        where = " (paths relative to each record)" if self.records else ""
        return (
            f"<div><b>Inferred columns</b>{html.escape(where)}</div><table><thead>"
            "<tr><th>column</th><th>path</th><th>dtype</th><th>example</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>"
        )


def preview(
    audience: pd.DataFrame,
    source: str | ExternalAPI,
    *,
    campaign_value: Any = None,
    **options: Any,
) -> Preview:
    """Make one call for one campaign through the pipeline's plan and fetch stages.

    Guard rails, timeouts, retries and auth apply as in `enrich`. Works inside a
    running event loop (a Jupyter cell), like `enrich`. The response comes from
    the same place as in `enrich`: a recording in replay mode (nothing is sent),
    else a live cache entry, else the network. A preview writes neither the
    recording nor the cache.

    Args:
        audience: The audience frame.
        source: Endpoint URL, or an `ExternalAPI` definition.
        campaign_value: The campaign key to call for; None takes the first one.
            With several campaign columns, pass a tuple of their values.
        **options: The options of `enrich`; `columns=` may be left out.

    Raises:
        ConfigurationError: An option is invalid, the audience is empty, or no
            campaign has `campaign_value`.
        ExtapiError: The call failed; the subclass names the stage.
    """
    api, user_options = _preview_api(source, options)
    return run_sync(
        lambda: preview_async(
            audience, api, user_options, campaign_value=campaign_value
        )
    )


async def preview_async(
    audience: pd.DataFrame,
    api: ExternalAPI,
    user_options: AnyMapping[str, Any],
    *,
    campaign_value: Any = None,
) -> Preview:
    """Do what `preview` does, on the running event loop.

    Args:
        audience: The audience frame.
        api: The definition to call, with at least one column.
        user_options: The `enrich` keywords as the user gave them (`url`
            included), for `Preview.to_code`.
        campaign_value: The campaign key to call for; None takes the first one.
    """
    redactor = api.redactor()
    plan = make_plan(audience, api)
    request = _pick_request(plan.requests, campaign_value, api)
    logger.info(
        "preview of campaign %r: %s %s",
        request.key,
        request.method,
        redactor.url(request.url),
    )
    try:
        async with fetch_stage(api, redactor, write_recording=False) as fetcher:
            response = await fetcher.fetch(request)
        parsed = parse_body(
            response.body,
            status=response.status,
            content_type=response.content_type,
            campaign=request.key,
            max_depth=api.guard.max_depth,
            strict_content_type=api.guard.strict_content_type,
        )
    except ExtapiError as exc:
        exc.args = (redactor.text(str(exc)), *exc.args[1:])
        raise
    document = None if parsed.document is NO_CONTENT else parsed.document
    notes = [redactor.text(note) for note in parsed.notes]
    mapping, inferred = _inferred(document, api.records, audience.columns, notes)
    columns = user_options.get("columns") or mapping
    return Preview(
        campaign=request.key,
        profiles=request.profiles,
        method=request.method,
        url=redactor.url(request.url),
        headers=redactor.headers(request.headers),
        auth=api.auth.identity() if api.auth is not None else None,
        body=_body_text(request, redactor),
        status=response.status,
        elapsed_s=response.elapsed,
        attempts=response.attempts,
        response_source=_response_source(response),
        fetched_at=response.fetched_at,
        content_type=response.content_type,
        response_bytes=len(response.body),
        document=document,
        notes=notes,
        inferred=inferred,
        mapping=mapping,
        columns=columns,
        _options=dict(user_options),
        _redactor=redactor,
    )


def _response_source(response: Response) -> ResponseSource:
    if response.replayed:
        return "recording"
    if response.cache_hit:
        return "cache"
    return "network"


def _inferred(
    document: Any, records: str | None, reserved: Iterable[Any], notes: list[str]
) -> tuple[Mapping, list[InferredColumn]]:
    if document is None:
        return Mapping(), []
    try:
        return infer_columns(document, records=records, reserved=reserved)
    except ConfigurationError as exc:
        # The response is still worth showing, and the note explains the missing
        # mapping.
        notes.append(f"no mapping inferred: {exc}")
        return Mapping(), []


def _preview_api(
    source: str | ExternalAPI, options: AnyMapping[str, Any]
) -> tuple[ExternalAPI, dict[str, Any]]:
    """Return the definition to call and the options as the user gave them."""
    if isinstance(source, ExternalAPI):
        api = build_api(source, options)
        return api, api_options(api)
    if not isinstance(source, str):
        raise ConfigurationError(
            "source must be a URL string or an ExternalAPI, got "
            f"{type(source).__name__}"
        )
    user_options = {"url": source, **options}
    internal = dict(options)
    if not internal.get("columns"):
        internal["columns"] = _WHOLE_DOCUMENT
    if (
        internal.get("records")
        and not internal.get("on")
        and not internal.get("assign")
    ):
        # enrich needs to know how records reach profiles; one call does not.
        internal["assign"] = "sequential"
    return build_api(source, internal), user_options


def _pick_request(
    requests: list[CampaignRequest], campaign_value: Any, api: ExternalAPI
) -> CampaignRequest:
    if not requests:
        raise ConfigurationError(
            "the audience has no rows with a campaign key, so there is no campaign to "
            "preview"
        )
    if campaign_value is None:
        return requests[0]
    wanted = (
        list(campaign_value) if isinstance(campaign_value, tuple) else campaign_value
    )
    for request in requests:
        if request.key == wanted or str(request.key) == str(wanted):
            return request
    shown = ", ".join(repr(request.key) for request in requests[:10])
    raise ConfigurationError(
        f"campaign_value={campaign_value!r} is not a campaign of the audience "
        f"(campaign={api.campaign!r}); campaigns include {shown}"
    )


def _body_text(request: CampaignRequest, redactor: Redactor) -> str | None:
    if request.body is None:
        return None
    return redactor.text(request.body.decode("utf-8", "replace"))


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_tree_html(document: Any, *, redactor: Redactor | None = None) -> str:
    """Return a JSON value as nested, collapsible HTML `<details>` elements.

    Objects and arrays open to the second level; each node's title is its JSONPath.
    At most 600 nodes and 50 items per array are drawn, with a note on what was cut.
    """
    if document is None:
        return "<div>(empty response)</div>"
    budget = [_TREE_NODES]
    mask = redactor or Redactor()
    tree = _node_html(None, document, "$", 0, budget, mask)
    return f'<div class="json-tree">{tree}</div>'


def _node_html(
    key: str | None,
    value: Any,
    path: str,
    depth: int,
    budget: list[int],
    redactor: Redactor,
) -> str:
    budget[0] -= 1
    label = (
        f'<span class="json-key">{html.escape(redactor.text(key))}</span>: '
        if key is not None
        else ""
    )
    title = html.escape(path, quote=True)
    if isinstance(value, dict):
        children = [(str(k), v, _child_path(path, k)) for k, v in value.items()]
        kind = f"{{…}} {len(value)} key(s)"
    elif isinstance(value, list):
        children = [(f"[{i}]", v, f"{path}[{i}]") for i, v in enumerate(value)]
        kind = f"[…] {len(value)} item(s)"
    else:
        shown = redactor.text(json.dumps(value, ensure_ascii=False, default=str))
        return (
            f'<div class="json-node" title="{title}">{label}'
            f'<span class="json-value">{html.escape(shown)}</span></div>'
        )
    parts = []
    for index, (child_key, child, child_path) in enumerate(children):
        if budget[0] <= 0 or index >= _TREE_ITEMS:
            parts.append(
                f'<div class="json-node">… {len(children) - index} more not shown</div>'
            )
            break
        parts.append(
            _node_html(child_key, child, child_path, depth + 1, budget, redactor)
        )
    opened = " open" if depth < 2 else ""
    return (
        f'<details class="json-node"{opened} title="{title}"><summary>{label}'
        f"{html.escape(kind)}</summary>{''.join(parts)}</details>"
    )


def _child_path(path: str, key: str) -> str:
    if key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"
