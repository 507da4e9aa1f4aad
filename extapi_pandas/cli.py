"""The `extapi-pandas` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

import pandas as pd

from extapi_pandas.errors import ConfigurationError, ExtapiError

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED_CAMPAIGNS = 1
EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(
            level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
        )
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
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log one line per request on stderr",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="enrich a sample audience from a local demo API",
        description="Start the demo API on 127.0.0.1, enrich a generated audience "
        "with offers per market (a broadcast) and weather per region (a lookup), "
        "print a summary and the first rows, then stop the API.",
    )
    demo.add_argument(
        "--rows",
        type=_positive_int,
        default=100_000,
        help="profiles in the generated audience (default: 100000)",
    )
    demo.add_argument(
        "--campaigns",
        type=_positive_int,
        default=8,
        help="campaigns in the audience, one request each (default: 8)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed of the generated audience (default: 0)",
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the enriched audience to this file: .csv or .parquet",
    )
    demo.set_defaults(run=_run_demo)
    _add_enrich(commands)
    _add_preview(commands)
    _add_infer(commands)
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
    if args.out is not None and not args.out.parent.is_dir():
        print(
            f"error: --out {args.out}: folder {args.out.parent} does not exist; "
            "create it first",
            file=sys.stderr,
        )
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


# The enrich, preview and infer commands.

_READ_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_WRITE_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_COMPRESSION = (".gz", ".bz2", ".zst", ".xz", ".zip")


def _add_enrich(commands: Any) -> None:
    enrich = commands.add_parser(
        "enrich",
        help="enrich an audience file with a saved activity",
        description="Read AUDIENCE, send one request per campaign as the activity "
        "file describes, and write the audience with the new columns to OUT. Exit "
        "status: 0 on success, 1 when campaigns failed (with --on-error continue) "
        "or a request failed, 2 on a usage or configuration error.",
    )
    enrich.add_argument(
        "audience",
        metavar="AUDIENCE",
        help="audience file or fsspec URL: .csv, .parquet or .jsonl (JSON Lines), "
        "optionally compressed (.gz, .bz2, .zst, .xz)",
    )
    _add_config(enrich)
    enrich.add_argument(
        "--out",
        metavar="OUT",
        help="file or fsspec URL to write the enriched audience to: .csv or "
        ".parquet (Parquet keeps the dtypes and the provenance); required "
        "unless --dry-run",
    )
    enrich.add_argument(
        "--campaign",
        action="append",
        metavar="COLUMN",
        help="audience column naming the campaign, replacing the activity's "
        "campaign; repeat it for a key of several columns",
    )
    enrich.add_argument(
        "--on-error",
        choices=["raise", "continue"],
        help="raise: stop at the first failed campaign; continue: keep failed "
        "campaigns with null columns and an extapi_status column (exit status 1); "
        "default: the activity's on_error",
    )
    enrich.add_argument(
        "--cache",
        metavar="TTL",
        help="reuse responses in this process for TTL: seconds, or a duration such "
        "as 30s, 5min, 2h, 1d; replaces the activity's cache",
    )
    enrich.add_argument(
        "--replay",
        metavar="FILE",
        help="recording file: replay its responses without any network when it "
        "exists, otherwise record them to it; replaces the activity's replay",
    )
    enrich.add_argument(
        "--dry-run",
        action="store_true",
        help="print the planned requests (credentials masked) and send nothing",
    )
    enrich.add_argument(
        "--no-progress",
        action="store_true",
        help="print no progress on stderr",
    )
    enrich.set_defaults(run=_run_enrich)


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        required=True,
        metavar="ACTIVITY.toml",
        type=Path,
        help="activity file: what to call and how to map the response "
        "(ExternalAPI.to_toml writes one)",
    )
    parser.add_argument(
        "--format",
        choices=["csv", "parquet", "jsonl"],
        help="format of AUDIENCE; default: from its extension",
    )


def _add_preview(commands: Any) -> None:
    preview = commands.add_parser(
        "preview",
        help="make one test call for one campaign and show the response",
        description="Send the activity's request for one campaign of AUDIENCE and "
        "print the request (credentials masked), the response size, the inferred "
        "columns and the first extracted rows. The activity's recording (in replay "
        "mode) or cache serves the response when it holds one, and the output "
        "says so. Nothing is written.",
    )
    preview.add_argument(
        "audience",
        metavar="AUDIENCE",
        help="audience file or fsspec URL: .csv, .parquet or .jsonl",
    )
    _add_config(preview)
    preview.add_argument(
        "--campaign-value",
        metavar="VALUE",
        help="campaign to call for, as its value in the campaign column; default: "
        "the first campaign of AUDIENCE",
    )
    preview.add_argument(
        "--json",
        action="store_true",
        help="also print the response JSON (cut after 20,000 characters)",
    )
    preview.add_argument(
        "--replay",
        metavar="FILE",
        help="recording file: take the response from it without any network when "
        "it exists, otherwise send the request; replaces the activity's replay, "
        "and a preview never writes a recording",
    )
    preview.set_defaults(run=_run_preview)


def _add_infer(commands: Any) -> None:
    infer = commands.add_parser(
        "infer",
        help="propose a column mapping from a sample JSON response",
        description="Read a sample response and print a mapping (JSONPath, column "
        "name and dtype per value) as TOML, which fits the records and [columns] "
        "keys of an activity file, or as Python code.",
    )
    infer.add_argument(
        "sample",
        metavar="SAMPLE.json",
        type=Path,
        help="file holding one JSON response; - reads standard input",
    )
    infer.add_argument(
        "--records",
        metavar="JSONPATH",
        help="JSONPath of the array whose elements become rows, such as "
        "'$.regions[*]'; default: the largest array of objects, if any",
    )
    infer.add_argument(
        "--one-row",
        action="store_true",
        help="map the whole response to one row, even when it contains an array",
    )
    infer.add_argument(
        "--to",
        choices=["toml", "python"],
        default="toml",
        help="output: TOML (default) or Python code with a pandera model",
    )
    infer.set_defaults(run=_run_infer)


def _load_activity(args: argparse.Namespace) -> Any:
    from extapi_pandas.activity import ExternalAPI

    api = ExternalAPI.from_toml(args.config)
    changes: dict[str, Any] = {}
    campaign = getattr(args, "campaign", None)
    if campaign:
        changes["campaign"] = campaign[0] if len(campaign) == 1 else campaign
    if getattr(args, "on_error", None):
        changes["on_error"] = args.on_error
    if getattr(args, "cache", None):
        changes["cache"] = args.cache
    if getattr(args, "replay", None):
        changes["replay"] = args.replay
    return api.replace(**changes) if changes else api


def _file_format(location: str, formats: dict[str, str], option: str) -> str:
    name = location.lower()
    for suffix in _COMPRESSION:
        name = name.removesuffix(suffix)
    for suffix, file_format in formats.items():
        if name.endswith(suffix):
            return file_format
    raise ConfigurationError(
        f"{option} {location!r} has no known extension; use "
        f"{', '.join(formats)}" + (" or pass --format" if option == "AUDIENCE" else "")
    )


def _read_audience(location: str, file_format: str | None) -> pd.DataFrame:
    file_format = file_format or _file_format(location, _READ_FORMATS, "AUDIENCE")
    try:
        if file_format == "parquet":
            return pd.read_parquet(location)
        if file_format == "jsonl":
            return pd.read_json(location, lines=True)
        separator = "\t" if ".tsv" in location.lower() else ","
        return pd.read_csv(location, sep=separator)
    except FileNotFoundError:
        raise ConfigurationError(f"audience file {location!r} not found") from None
    except (OSError, ValueError, ImportError) as exc:
        raise ConfigurationError(
            f"cannot read the audience {location!r} as {file_format}: {exc}"
        ) from exc


def _write_output(frame: pd.DataFrame, location: str) -> None:
    file_format = _file_format(location, _WRITE_FORMATS, "--out")
    try:
        if file_format == "parquet":
            frame.to_parquet(location)
        else:
            frame.to_csv(location, index=False)
    except (OSError, ValueError, ImportError) as exc:
        raise ConfigurationError(f"cannot write {location!r}: {exc}") from exc


class _LineProgress:
    """Progress as a few lines on stderr, for logs that are not a terminal."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._total = 0
        self._done = 0
        self._failed = 0
        self._retries = 0
        self._shown_tenth = 0

    def start(self, total: int) -> None:
        with self._lock:
            self._total = total
        print(f"sending {total} campaign request(s)", file=self._stream, flush=True)

    def advance(self, status: str) -> None:
        with self._lock:
            self._done += 1
            self._failed += status != "ok"
            tenth = self._done * 10 // max(self._total, 1)
            if tenth <= self._shown_tenth and self._done != self._total:
                return
            self._shown_tenth = tenth
            line = (
                f"campaigns done: {self._done}/{self._total} ({self._failed} failed, "
                f"{self._retries} retries)"
            )
        print(line, file=self._stream, flush=True)

    def retry(self, campaign: Any, code: str) -> None:
        with self._lock:
            self._retries += 1

    def close(self) -> None:
        """Print nothing more; the summary follows."""

    def __enter__(self) -> _LineProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _progress(api: Any, quiet: bool) -> Any:
    from extapi_pandas.progress import NullProgress, TqdmProgress, is_interactive

    if quiet:
        return NullProgress()
    if is_interactive():
        try:
            return TqdmProgress(
                f"{api.method} {api.redactor().url(api.url)}", file=sys.stderr
            )
        except ConfigurationError:
            pass  # no tqdm: plain lines
    return _LineProgress(sys.stderr)


def _run_enrich(args: argparse.Namespace) -> int:
    from extapi_pandas.enrich import enrich_async
    from extapi_pandas.runner import run_sync

    api = _load_activity(args)
    if args.out is None and not args.dry_run:
        print("error: --out OUT is required (or pass --dry-run)", file=sys.stderr)
        return EXIT_USAGE
    if args.out is not None:
        _file_format(args.out, _WRITE_FORMATS, "--out")  # before any request
    audience = _read_audience(args.audience, args.format)
    if args.dry_run:
        _print_plan(audience, api)
        return EXIT_OK

    with _progress(api, args.no_progress) as progress:
        outcome = run_sync(lambda: enrich_async(audience, api, progress=progress))
    for _, message in outcome.warnings:
        print(f"warning: {message}", file=sys.stderr)
    _write_output(outcome.frame, args.out)
    provenance = outcome.frame.attrs.get("extapi", {})
    failed = int(provenance.get("campaigns_failed", 0))
    hits = sum(bool(c.get("cache_hit")) for c in provenance.get("campaigns", []))
    replayed = sum(bool(c.get("replayed")) for c in provenance.get("campaigns", []))
    print(
        f"wrote {len(outcome.frame)} rows to {args.out}: "
        f"{provenance.get('campaigns_total', 0)} campaign(s), {failed} failed, "
        f"{provenance.get('requests', 0)} HTTP request(s), {hits} cache hit(s), "
        f"{replayed} replayed",
        file=sys.stderr,
    )
    return EXIT_FAILED_CAMPAIGNS if failed else EXIT_OK


def _print_plan(audience: pd.DataFrame, api: Any) -> None:
    from extapi_pandas.plan import make_plan

    plan = make_plan(audience, api)
    redactor = api.redactor()
    print(
        f"dry run: {len(plan.requests)} campaign request(s) for {len(audience)} "
        "rows; nothing is sent"
    )
    for _, message in plan.warnings:
        print(f"warning: {redactor.text(message)}", file=sys.stderr)
    auth = api.auth.identity() if api.auth is not None else None
    for request in plan.requests:
        print(
            f"campaign {request.key!r} ({request.profiles} profiles): "
            f"{request.method} {redactor.url(request.url)}"
        )
        for name, value in redactor.headers(request.headers).items():
            print(f"  header {name}: {value}")
        if auth is not None:
            print(f"  auth: {redactor.text(auth)}, added when the request is sent")
        if request.body is not None:
            body = redactor.text(request.body.decode("utf-8", "replace"))
            print(f"  body: {body}")


def _run_preview(args: argparse.Namespace) -> int:
    from extapi_pandas.preview import preview

    api = _load_activity(args)
    audience = _read_audience(args.audience, args.format)
    result = preview(audience, api, campaign_value=args.campaign_value)
    print(repr(result))
    print()
    sample = result.sample()
    with pd.option_context("display.width", 120, "display.max_columns", 12):
        print(sample.to_string() if len(sample.columns) else "(no columns)")
    if args.json:
        print()
        print(result.json_text())
    return EXIT_OK


def _run_infer(args: argparse.Namespace) -> int:
    from extapi_pandas.infer import infer_mapping

    name = str(args.sample)
    try:
        text = sys.stdin.read() if name == "-" else args.sample.read_text("utf-8")
        document = json.loads(text)
    except FileNotFoundError:
        raise ConfigurationError(f"sample file {name!r} not found") from None
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {name!r} as JSON: {exc}") from exc
    records: str | Literal[False] | None = False if args.one_row else args.records
    mapping = infer_mapping(document, records=records)
    print(mapping.to_toml() if args.to == "toml" else str(mapping), end="")
    return EXIT_OK
