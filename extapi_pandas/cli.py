"""The `extapi-pandas` command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from extapi_pandas.errors import ExtapiError

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED_CAMPAIGNS = 1
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        status: int = args.run(args)
    except ExtapiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ValueError) else EXIT_FAILED_CAMPAIGNS
    except BrokenPipeError:
        # The reader closed the pipe early, as `| head` does, which is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="extapi-pandas",
        description="Enrich pandas audiences with campaign-wide data from REST APIs: "
        "one request per campaign, never one per row.",
    )
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log one line per request on stderr")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="enrich a sample audience from a local demo API",
        description="Start the demo API on 127.0.0.1, enrich a generated audience "
        "with offers per market (a broadcast) and weather per region (a lookup), "
        "print a summary and the first rows, then stop the API.",
    )
    demo.add_argument("--rows", type=_positive_int, default=100_000,
                      help="profiles in the generated audience (default: 100000)")
    demo.add_argument("--campaigns", type=_positive_int, default=8,
                      help="campaigns in the audience, one request each (default: 8)")
    demo.add_argument("--seed", type=int, default=0,
                      help="random seed of the generated audience (default: 0)")
    demo.add_argument("--out", type=Path, default=None,
                      help="write the enriched audience to this file: .csv or .parquet")
    demo.set_defaults(run=_run_demo)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def _run_demo(args: argparse.Namespace) -> int:
    from extapi_pandas.demo import DemoAPI, make_audience
    from extapi_pandas.demo.run import enrich_demo_audience

    if args.out is not None and args.out.suffix.lower() not in (".csv", ".parquet"):
        print(f"error: --out {args.out} must end in .csv or .parquet", file=sys.stderr)
        return EXIT_USAGE
    started = time.perf_counter()
    audience = make_audience(args.rows, campaigns=args.campaigns, seed=args.seed)
    with DemoAPI() as api:
        enriched, summary = enrich_demo_audience(audience, api)
    summary.total_seconds = time.perf_counter() - started
    print(summary.render())
    print()
    with pd.option_context("display.width", 120, "display.max_columns", 12):
        print(enriched[summary.shown_columns].head(10).to_string())
    if args.out is not None:
        _write(enriched, args.out)
        print(f"\nwrote {len(enriched)} rows to {args.out}")
    return EXIT_OK


def _write(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
