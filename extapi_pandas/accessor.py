"""The `DataFrame.extapi` accessor: keeps the frame and delegates to the pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from extapi_pandas.activity import ExternalAPI, build_api
from extapi_pandas.progress import progress_for

if TYPE_CHECKING:
    from extapi_pandas.preview import Preview
    from extapi_pandas.report import Report
    from extapi_pandas.widgets import Builder

__all__ = ["ExtapiAccessor"]


@pd.api.extensions.register_dataframe_accessor("extapi")
class ExtapiAccessor:
    """Campaign-wide enrichment of an audience, available as `df.extapi`."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def enrich(self, source: str | ExternalAPI, **options: Any) -> pd.DataFrame:
        """Call an API once per campaign and add the mapped values as columns.

        Works in scripts and inside a running event loop (a Jupyter cell): the
        requests run on a private event-loop thread. The frame is never changed.

        Args:
            source: Endpoint URL, or an `ExternalAPI` definition.
            **options: The fields of `ExternalAPI` (`campaign`, `columns`,
                `params`, `records`, `on`, `schema`, `on_error`, ...), which
                override those of `source`, and the `Guard` fields (`max_bytes`,
                `allow_http`, `follow_redirects`, ...).

        Returns:
            A new frame: the audience's columns, unchanged and not copied, plus the
            new ones; provenance in `attrs["extapi"]`.

        Raises:
            ExtapiError: The call failed; the subclass names the stage.

        Example:
            >>> enriched = audience.extapi.enrich(  # doctest: +SKIP
            ...     "https://api.example.com/offers",
            ...     params={"market": "{market}"},
            ...     campaign="campaign_id",
            ...     columns={"offer": "$.offers[0].name"},
            ... )
        """
        api = build_api(source, options)
        from extapi_pandas.enrich import emit_warnings, enrich_async
        from extapi_pandas.runner import run_sync

        with progress_for(api) as progress:
            outcome = run_sync(
                lambda: enrich_async(self._frame, api, progress=progress)
            )
        emit_warnings(outcome.warnings)
        return outcome.frame

    async def aenrich(self, source: str | ExternalAPI, **options: Any) -> pd.DataFrame:
        """Do what `enrich` does, on the running event loop.

        Example:
            >>> enriched = await df.extapi.aenrich(url, columns=...)  # doctest: +SKIP
        """
        api = build_api(source, options)
        from extapi_pandas.enrich import emit_warnings, enrich_async

        with progress_for(api) as progress:
            outcome = await enrich_async(self._frame, api, progress=progress)
        emit_warnings(outcome.warnings)
        return outcome.frame

    def enrich_from_file(
        self, path_or_url: Any, *, on: Any, **options: Any
    ) -> pd.DataFrame:
        """Left-join a per-profile file onto the frame by key: the bulk route.

        Per-profile data (a score, a watch time, an address per profile) belongs
        here rather than in `enrich`, which makes one request per campaign. The file
        is read in chunks (Parquet in record batches), only the rows whose key is
        in the frame are kept, and they are joined without copying the frame's
        columns. Index and row order stay as they are; the frame is never changed.

        Args:
            path_or_url: A local path, a `file://`, `memory://`, `http(s)://`,
                `s3://` (extra `s3`), `sftp://` (extra `sftp`) or `abfs://` (extra
                `azure`) URL, a glob, a folder of partitioned files (`name=value`
                folder names become text columns), or a list of them. `.gz`,
                `.bz2`, `.zst` (extra `zstd`) and `.xz` are decompressed.
            on: The join key: a column both sides share (`on="postal_code"`), a
                list of them, or audience column to file column
                (`on={"postal_code": "zip"}`).
            **options: `columns` (file columns to add, or new name to file
                column; default every column but the key), `schema` (pandera
                schema or model checked on the rows that match, with the file's
                column names), `format` (`"csv"`, `"jsonl"`, `"json"` or
                `"parquet"`; default from the extension), `storage_options`
                (passed to fsspec), `dtype` (file column to dtype; keys are read
                as text unless declared here; a zoned timestamp dtype such as
                `"datetime64[ns, Europe/Amsterdam]"` reads times without a UTC
                offset in that zone), `keep` (`"raise"` on repeated keys,
                or `"first"`/`"last"`), `on_conflict` (`"raise"`, `"overwrite"`,
                `"suffix"`), `encoding` (default UTF-8, a BOM is skipped),
                `chunk_rows` (rows per chunk, default 50,000), and for HTTP
                sources `auth`, `verify`, `timeout`, `guard` and the guard fields
                `allow_http`, `allow_link_local`, `follow_redirects`,
                `max_redirects`, `redirect_hosts`.

        Returns:
            A new frame: the frame's columns, unchanged and not copied, plus the
            file's; provenance and the match rate (matched and unmatched profiles,
            unused file rows) in `attrs["extapi"]`.

        Raises:
            TransferError: The file cannot be read, key dtypes differ, or keys
                repeat with `keep="raise"`.
            ValidationError: A value failed its declared dtype or the schema.
            ConfigurationError: An option is invalid, or an optional package is
                missing (the message names the extra to install).

        Example:
            >>> enriched = audience.extapi.enrich_from_file(  # doctest: +SKIP
            ...     "s3://crm-exports/footfall/*.parquet",
            ...     on="postal_code",
            ...     columns=["footfall_index"],
            ... )
        """
        from extapi_pandas.enrich import emit_warnings
        from extapi_pandas.transfer import enrich_from_file

        outcome = enrich_from_file(self._frame, path_or_url, on=on, **options)
        emit_warnings(outcome.warnings)
        return outcome.frame

    def preview(
        self, source: str | ExternalAPI, *, campaign_value: Any = None, **options: Any
    ) -> Preview:
        """Make one test call for one campaign and show request, response and mapping.

        The call goes through the same plan, guard rails and fetch code as `enrich`.
        As in `enrich`, a recording in replay mode or a live cache entry serves
        the response without a request, and `Preview.response_source` names the source.
        A preview writes neither the recording nor the cache. `columns=` may be
        left out: the preview infers a mapping from the response.

        Args:
            source: Endpoint URL, or an `ExternalAPI` definition.
            campaign_value: The campaign key to call for; None takes the first
                campaign of the frame.
            **options: The options of `enrich`.

        Returns:
            A `Preview`, shown as HTML in a notebook; `.to_code()` returns the
            matching `enrich` call.

        Example:
            >>> audience.extapi.preview(url, params={"market": "{market}"},
            ...                         campaign="campaign_id")  # doctest: +SKIP
        """
        from extapi_pandas.preview import preview

        return preview(self._frame, source, campaign_value=campaign_value, **options)

    def builder(self) -> Builder:
        """Return an ipywidgets form that builds, tests and applies an enrichment.

        Raises:
            ExtapiError: ipywidgets is not installed (install the `ui` extra).

        Example:
            >>> builder = audience.extapi.builder()  # doctest: +SKIP
            >>> builder  # the last expression of a cell shows the form
        """
        from extapi_pandas.widgets import Builder

        return Builder(self._frame)

    def report(self) -> Report:
        """Return the per-campaign report of an enriched frame's provenance.

        Raises:
            ExtapiError: The frame has no `attrs["extapi"]` provenance.

        Example:
            >>> enriched.extapi.report()  # doctest: +SKIP
        """
        from extapi_pandas.report import Report

        return Report.from_frame(self._frame)
