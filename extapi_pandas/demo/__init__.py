"""Demo REST API, loopback test server and synthetic audience for extapi_pandas."""

from extapi_pandas.demo.app import (
    MAX_DELAY_MS,
    MAX_VOUCHERS,
    REQUEST_COUNTS,
    make_demo_app,
    request_count,
)
from extapi_pandas.demo.audience import (
    LOYALTY_TIERS,
    MARKETS,
    REGIONS,
    campaign_id,
    campaign_markets,
    make_audience,
)
from extapi_pandas.demo.server import BackgroundServer, DemoAPI

__all__ = [
    "LOYALTY_TIERS",
    "MARKETS",
    "MAX_DELAY_MS",
    "MAX_VOUCHERS",
    "REGIONS",
    "REQUEST_COUNTS",
    "BackgroundServer",
    "DemoAPI",
    "campaign_id",
    "campaign_markets",
    "make_audience",
    "make_demo_app",
    "request_count",
]
