"""The `DataFrame.extapi` accessor: holds the frame and delegates to the pipeline."""

from __future__ import annotations

from typing import Any

import pandas as pd

from extapi_pandas.activity import ExternalAPI, build_api
from extapi_pandas.enrich import emit_warnings, enrich_async
from extapi_pandas.runner import run_sync

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
            ExtapiError: The call failed; the subclass tells at which stage.

        Example:
            >>> enriched = audience.extapi.enrich(  # doctest: +SKIP
            ...     "https://api.example.com/offers",
            ...     params={"market": "{market}"},
            ...     campaign="campaign_id",
            ...     columns={"offer": "$.offers[0].name"},
            ... )
        """
        api = build_api(source, options)
        outcome = run_sync(lambda: enrich_async(self._frame, api))
        emit_warnings(outcome.warnings)
        return outcome.frame

    async def aenrich(self, source: str | ExternalAPI, **options: Any) -> pd.DataFrame:
        """Do what `enrich` does, on the running event loop.

        Example:
            >>> enriched = await audience.extapi.aenrich(url, columns=...)  # doctest: +SKIP
        """
        api = build_api(source, options)
        outcome = await enrich_async(self._frame, api)
        emit_warnings(outcome.warnings)
        return outcome.frame
