"""The thin command line: parse arguments, call app/update/store, print.

Exit codes: 0 done (a poll that ran is done even when some feeds failed; it says which),
1 a command-level failure (no such digest, unreadable file), 2 invalid configuration or usage,
3 the database could not be opened or migrated.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from aggregator import __version__
from aggregator.config import ConfigError, Settings, load_settings
from aggregator.logs import setup_logging

log = logging.getLogger("aggregator")

EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_DATABASE = 3


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    setup_logging(settings.log.level, settings.log.format)
    return settings


def _open_store(settings: Settings):  # type: ignore[no-untyped-def]
    from aggregator.store import Store

    settings.state_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    store.upgrade()
    return store


def cmd_run(args: argparse.Namespace) -> int:
    from aggregator.app import run_daemon

    return run_daemon(args.config, _settings(args))


def cmd_poll(args: argparse.Namespace) -> int:
    from aggregator.app import poll_once

    settings = _settings(args)
    outcomes, written = asyncio.run(poll_once(settings))
    failed = [o for o in outcomes if o.status == "failed"]
    added = sum(o.added for o in outcomes)
    updated = sum(o.updated for o in outcomes)
    for o in failed:
        print(f"failed: {o.source}: {o.error}", file=sys.stderr)
    print(
        f"polled {len(outcomes)} sources: {added} episodes added, {updated} updated, "
        f"{len(failed)} failed; published {', '.join(written) if written else 'nothing new'}"
    )
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from aggregator.extract import SponsorRegistry, extract_document
    from aggregator.model import ParseError

    path = Path(args.path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"aggregator extract: {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    registry = SponsorRegistry.default()
    if args.config:
        registry = registry.extended(load_settings(args.config).sponsors)
    try:
        episodes = extract_document(data, filename=path.name, show=args.show, registry=registry)
    except ParseError as exc:
        print(f"aggregator extract: {path}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    json.dump(
        {"episodes": [ep.as_json() for ep in episodes]},
        sys.stdout,
        ensure_ascii=False,
        indent=2 if sys.stdout.isatty() else None,
    )
    sys.stdout.write("\n")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from aggregator.app import publish_now

    settings = _settings(args)
    written = asyncio.run(publish_now(settings))
    print(
        f"wrote {', '.join(written) if written else 'nothing (files already current)'} "
        f"in {settings.public_dir}"
    )
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    from aggregator.deliver import digest_command

    settings = _settings(args)
    if args.name not in {d.name for d in settings.digests}:
        known = ", ".join(d.name for d in settings.digests) or "none configured"
        print(f"aggregator digest: no digest named {args.name!r} (known: {known})", file=sys.stderr)
        return EXIT_FAILED
    return digest_command(
        settings,
        args.name,
        dry_run_dir=Path(args.dry_run) if args.dry_run else None,
        send=args.send,
        now=datetime.now(UTC),
    )


def cmd_sponsors(args: argparse.Namespace) -> int:
    settings = _settings(args)
    store = _open_store(settings)
    try:
        rows = store.sponsor_report(since=args.since, show=args.show)
    finally:
        store.close()
    fmt = args.format or ("table" if sys.stdout.isatty() else "csv")
    records = [
        {
            "brand": r.brand,
            "kind": r.kind,
            "shows": list(r.shows),
            "episodes": r.episodes,
            "mentions": r.mentions,
            "first_seen": r.first_seen.isoformat() if r.first_seen else None,
            "last_seen": r.last_seen.isoformat() if r.last_seen else None,
            "promo_codes": list(r.promo_codes),
        }
        for r in rows
    ]
    if fmt == "json":
        json.dump({"sponsors": records}, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "brand",
                "kind",
                "shows",
                "episodes",
                "mentions",
                "first_seen",
                "last_seen",
                "promo_codes",
            ]
        )
        for r in records:
            writer.writerow(
                [
                    r["brand"],
                    r["kind"],
                    "; ".join(r["shows"]),
                    r["episodes"],
                    r["mentions"],
                    r["first_seen"] or "",
                    r["last_seen"] or "",
                    "; ".join(r["promo_codes"]),
                ]
            )
        sys.stdout.write(out.getvalue())
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"Sponsors ({len(records)})")
        table.add_column("brand", no_wrap=True)
        table.add_column("shows", overflow="fold")
        table.add_column("episodes", justify="right", no_wrap=True)
        table.add_column("first seen", no_wrap=True)
        table.add_column("last seen", no_wrap=True)
        table.add_column("promo codes", overflow="fold")
        for r in records:
            table.add_row(
                r["brand"] + (" (self)" if r["kind"] == "self_promo" else ""),
                ", ".join(r["shows"]),
                str(r["episodes"]),
                r["first_seen"] or "",
                r["last_seen"] or "",
                ", ".join(r["promo_codes"]),
            )
        Console().print(table)
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    print(
        f"{settings.config_path}: ok ({len(settings.feeds)} feeds, {len(settings.pages)} pages, "
        f"{len(settings.digests)} digests; database {settings.database_url})"
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _open_store(settings).close()
    print(f"database at head: {settings.database_url}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from aggregator.store import SourceState

    settings = _settings(args)
    store = _open_store(settings)
    try:
        sources = store.all_sources()
    finally:
        store.close()

    def when(d: datetime | None) -> str:
        return d.strftime("%Y-%m-%d %H:%M") if d else "-"

    def state(s: SourceState) -> str:
        if not s.active:
            return "removed"
        if s.muted:
            return "muted"  # 410 Gone: not polled until its URL changes in the config
        if s.consecutive_failures:
            return f"failing x{s.consecutive_failures}"
        # A failure while the network was down is kept but not counted against the source.
        return "failed (network down)" if s.last_error else "ok"

    rows = []
    for s in sorted(sources, key=lambda s: (not s.active, s.name)):
        polled = s.active and not s.muted
        rows.append(
            (
                s.name,
                s.kind,
                state(s),
                when(s.last_success_at),
                when(s.next_check_at) if polled else "-",
                (s.last_error or "")[:120],
            )
        )
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(rows)} sources")
        for col in (
            "source",
            "kind",
            "state",
            "last success (UTC)",
            "next poll (UTC)",
            "last error",
        ):
            table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*row)
        Console().print(table)
    else:
        for row in rows:
            print("\t".join(row))
    return 0


def cmd_import_opml(args: argparse.Namespace) -> int:
    from aggregator.opml import import_opml

    path = Path(args.config or "feeds.yaml")
    added = import_opml(Path(args.file), path)
    print(f"added {len(added)} feeds to {path}" + (f": {', '.join(added)}" if added else ""))
    return 0


def cmd_export_opml(args: argparse.Namespace) -> int:
    from aggregator.opml import export_opml

    sys.stdout.write(export_opml(load_settings(args.config)))
    return 0


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aggregator", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"aggregator {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func, help: str) -> argparse.ArgumentParser:  # type: ignore[no-untyped-def]
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument(
            "--config", help="config file (default: $AGGREGATOR_CONFIG, then ./feeds.yaml)"
        )
        p.set_defaults(func=func)
        return p

    command("run", cmd_run, "run the daemon: poll, publish, send digests, serve HTTP")
    p = command("poll", cmd_poll, "poll every source now, store, publish, and exit")
    p.add_argument("--once", action="store_true", required=True, help="poll once and exit")
    p = command("extract", cmd_extract, "print a local feed, page or transcript as episode JSON")
    p.add_argument("path")
    p.add_argument("--show", help="the show's name, when the file does not say it")
    command("publish", cmd_publish, "write the merged feed files now")
    p = command("digest", cmd_digest, "build a digest: write .eml files, or send it now")
    p.add_argument("name")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", metavar="DIR", help="write .eml files to DIR; record nothing")
    mode.add_argument("--send", action="store_true", help="send now and record it")
    p = command("sponsors", cmd_sponsors, "report brands across shows")
    p.add_argument("--since", type=_date, help="only episodes published on or after YYYY-MM-DD")
    p.add_argument("--show", help="only this show")
    p.add_argument(
        "--format",
        choices=["table", "csv", "json"],
        help="default: table in a terminal, csv otherwise",
    )
    command("check-config", cmd_check_config, "validate the configuration")
    p = command("db", lambda a: cmd_db_upgrade(a), "database maintenance")
    p.add_argument("action", choices=["upgrade"], help="apply migrations")
    command("status", cmd_status, "sources with their state, last and next poll, last error")
    p = command("import-opml", cmd_import_opml, "add the feeds of an OPML file to feeds.yaml")
    p.add_argument("file")
    command("export-opml", cmd_export_opml, "print the configured feeds as OPML")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command not in {"run", "poll", "publish", "digest", "sponsors", "db", "status"}:
        setup_logging("WARNING")
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, SQLAlchemyError):
            print(
                f"aggregator: database error: {exc.__class__.__name__}: {exc}".splitlines()[0],
                file=sys.stderr,
            )
            return EXIT_DATABASE
        raise
