"""The bulk file route: join a per-profile file onto the audience by key."""

from __future__ import annotations

from extapi_pandas.transfer.route import enrich_from_file

__all__ = ["enrich_from_file"]
