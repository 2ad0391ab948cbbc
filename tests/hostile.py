"""Hostile feeds and servers, and a harness that polls each beside a well-behaved feed.

Shared by tests/test_hostile.py (CI sizes) and bench/hostile.py (the issue's full sizes):
each case is a route on the loopback :class:`HttpServer`; :class:`Harness` polls it with the
daemon's own parts (Fetcher, Updater, a :class:`~aggregator.workers.ParsePool`, a SQLite
file) and measures the wall time and the growth of this process's peak RSS.
"""

from __future__ import annotations

import codecs
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aggregator.app import Services, registry_for
from aggregator.config import Settings, load_settings
from aggregator.fetch import Fetcher
from aggregator.store import Store
from aggregator.update import PollOutcome, Updater
from aggregator.workers import ParsePool
from feedgen import SHOWS, render_feed
from httpserver import HttpServer

GOOD = SHOWS[0]
GOOD_COUNT = 4
MB = 1_000_000


@dataclass(frozen=True)
class Sizes:
    timeout: float  # poll.timeout: the fetch deadline and the parse time limit
    max_bytes: int  # poll.max_bytes
    bomb: int  # decoded size of the gzip bomb
    body: int  # the large plain body
    items: int  # the many-items feed
    title: int  # bytes in one title
    trickle: float  # seconds the 1 byte/s server would go on for


CI = Sizes(
    timeout=3, max_bytes=5 * MB, bomb=200 * MB, body=50 * MB, items=20_000, title=MB, trickle=8
)
FULL = Sizes(
    timeout=30,
    max_bytes=25 * MB,
    bomb=1024**3,
    body=200 * MB,
    items=100_000,
    title=MB,
    trickle=40,
)


def rss(items: str, *, title: str = "Hostile Show", decl: str = "encoding='utf-8'") -> str:
    return (
        f"<?xml version='1.0' {decl}?>\n<rss version='2.0'><channel><title>{title}</title>"
        f"<link>https://hostile.invalid/</link>{items}</channel></rss>"
    )


def item(
    n: int,
    *,
    title: str | None = None,
    date: str = "Mon, 06 Jan 2025 09:30:00 GMT",
    notes: str = "",
) -> str:
    return (
        f"<item><title>{title if title is not None else f'Item {n}'}</title>"
        f"<guid isPermaLink='false'>hostile-{n}</guid><pubDate>{date}</pubDate>"
        f"<enclosure url='https://hostile.invalid/{n}.mp3' length='1000' type='audio/mpeg'/>"
        f"{notes}</item>"
    )


def billion_laughs() -> bytes:
    entities = "<!ENTITY lol0 'lol'>" + "".join(
        f"<!ENTITY lol{i} '{f'&lol{i - 1};' * 10}'>" for i in range(1, 10)
    )
    doc = rss(item(1, title="&lol9;"))
    return doc.replace("?>\n", f"?>\n<!DOCTYPE rss [{entities}]>\n", 1).encode()


def quadratic_blowup(entity_kb: int = 100, refs: int = 20_000) -> bytes:
    entity = "<!ENTITY big '" + "a" * (entity_kb * 1000) + "'>"
    doc = rss(item(1, title="Blow-up", notes=f"<description>{'&big;' * refs}</description>"))
    return doc.replace("?>\n", f"?>\n<!DOCTYPE rss [{entity}]>\n", 1).encode()


def gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes gzipped, built a megabyte at a time."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(MB)
    return b"".join(z.compress(block) for _ in range(size // MB)) + z.flush()


def many_items(count: int) -> bytes:
    return rss("".join(item(n) for n in range(count))).encode()


def long_title(size: int) -> bytes:
    return rss(item(1, title="A very long title " + "x" * size)).encode()


ACTIVE_NOTES = (
    "<description><![CDATA["
    "<p onclick=\"alert('c')\">Notes <script>alert('s')</script>"
    "<iframe src='https://evil.invalid/'></iframe>"
    "<img src='https://hostile.invalid/a.png' onerror=\"alert('e')\">"
    "<a href=\"javascript:alert('j')\">click</a> <a href='https://hostile.invalid/ok'>ok</a>"
    "<svg onload=\"alert('v')\"><circle r='1'/></svg><object data='x.swf'></object>"
    "<form action='https://evil.invalid/'><input name='q'></form>"
    "<style>body{background:url(javascript:alert('css'))}</style>"
    "<a href='data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=='>data</a>"
    "<meta http-equiv='refresh' content='0;url=https://evil.invalid/'>"
    "</p>]]></description>"
)
# Lower-cased traces of the active parts above (the digest's own template has <style> and
# <meta>, so those tags are looked for by what the hostile ones carried).
ACTIVE_MARKERS = (
    "<script",
    "<iframe",
    "<object",
    "<embed",
    "<form",
    "<svg",
    "onclick",
    "onerror",
    "onload",
    "javascript:",
    "data:text/html",
    "alert(",
    "evil.invalid",
    "x.swf",
)

IMPOSSIBLE_DATES = (
    "Mon, 30 Feb 2025 10:00:00 GMT",
    "Tue, 01 Jan 99999 00:00:00 GMT",
    "0000-00-00T00:00:00Z",
    "yesterday-ish",
    "Sat, 01 Jan 2500 00:00:00 GMT",
    "Mon, 06 Jan 2025 25:61:61 GMT",
    "-1",
)


@dataclass
class Run:
    outcome: PollOutcome
    good: PollOutcome
    seconds: float
    rss_growth: int  # bytes the process's peak RSS rose by during the poll
    warnings: list[logging.LogRecord] = field(default_factory=list)


def _status_kb(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field_name)


def reset_peak_rss() -> int:
    """Reset the kernel's RSS high-water mark (Linux 4.0+) and return the current RSS."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


def peak_rss() -> int:
    return _status_kb("VmHWM")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Harness:
    """Polls one hostile route and the good show together, the way the daemon would."""

    def __init__(self, server: HttpServer, pool: ParsePool, sizes: Sizes) -> None:
        self.server = server
        self.pool = pool
        self.sizes = sizes
        server.set(
            f"/{GOOD.slug}.xml", render_feed(GOOD, GOOD_COUNT), content_type="application/rss+xml"
        )

    def settings(self, tmp: Path, path: str) -> Settings:
        cfg = tmp / "feeds.yaml"
        cfg.write_text(
            "state_dir: state\nallow_private_addresses: true\n"
            f"poll:\n  timeout: {self.sizes.timeout}s\n  max_bytes: {self.sizes.max_bytes}\n"
            "merged_feed:\n  link: http://127.0.0.1/\n"
            "smtp:\n  host: 127.0.0.1\n  port: 2525\n  security: none\n"
            "  from: Digest <digest@example.org>\n"
            "digests:\n  - name: daily\n    to: me@example.org\n"
            f"feeds:\n  - name: Hostile\n    url: {self.server.url(path)}\n"
            f"  - name: {GOOD.title!r}\n    url: {self.server.url(f'/{GOOD.slug}.xml')}\n"
        )
        return load_settings(cfg)

    async def poll(self, tmp: Path, path: str) -> tuple[Run, Services]:
        """Poll once; the caller closes the returned services."""
        settings = self.settings(tmp, path)
        store = Store(settings.database_url)
        store.upgrade()
        store.sync_sources(settings, datetime.now(UTC))
        p = settings.poll
        fetcher = Fetcher(
            timeout=p.timeout.total_seconds(),
            max_bytes=p.max_bytes,
            allow_private_addresses=True,
        )
        updater = Updater(
            store,
            fetcher,
            settings,
            registry=registry_for(settings),
            clock=lambda: datetime.now(UTC),
            executor=self.pool,
        )
        services = Services(settings, store, fetcher, updater, lambda: datetime.now(UTC), None)
        collect = _Collect()
        logging.getLogger("aggregator").addHandler(collect)
        try:
            sources = store.all_sources()
            before = reset_peak_rss()
            started = time.monotonic()
            outcomes = {o.source: o for o in await updater.poll_many(sources)}
            seconds = time.monotonic() - started
            growth = peak_rss() - before
        finally:
            logging.getLogger("aggregator").removeHandler(collect)
        run = Run(outcomes["Hostile"], outcomes[GOOD.title], seconds, growth, collect.records)
        return run, services


def serve(server: HttpServer, sizes: Sizes) -> dict[str, Callable[[], None]]:
    """Route makers by case name (called lazily: some payloads take a moment to build)."""

    def xml(
        path: str, body: bytes, content_type: str = "application/rss+xml"
    ) -> Callable[[], None]:
        return lambda: server.respond(path, 200, body=body, headers={"Content-Type": content_type})

    return {
        "billion-laughs": lambda: xml("/laughs.xml", billion_laughs())(),
        "quadratic-blowup": lambda: xml("/quadratic.xml", quadratic_blowup())(),
        "gzip-bomb": lambda: server.set(
            "/bomb.xml",
            gzip_bomb(sizes.bomb),
            headers={"Content-Encoding": "gzip"},
            content_type="application/rss+xml",
            gzip=False,
        ),
        "large-body": lambda: server.stream("/large.xml", sizes.body),
        "content-length-over-cap": lambda: server.respond(
            "/liar.xml", 200, body=b"<rss/>", content_length=10 * sizes.max_bytes
        ),
        "trickle": lambda: server.trickle("/trickle.xml", interval=1.0, duration=sizes.trickle),
        "redirect-loop": lambda: (
            server.redirect("/loop-a.xml", "/loop-b.xml", status=301),
            server.redirect("/loop-b.xml", "/loop-a.xml", status=302),
        ),
        "many-items": lambda: server.set(
            "/many.xml", many_items(sizes.items), content_type="application/rss+xml"
        ),
        "long-title": lambda: server.set(
            "/title.xml", long_title(sizes.title), content_type="application/rss+xml"
        ),
    }


PATHS = {
    "billion-laughs": "/laughs.xml",
    "quadratic-blowup": "/quadratic.xml",
    "gzip-bomb": "/bomb.xml",
    "large-body": "/large.xml",
    "content-length-over-cap": "/liar.xml",
    "trickle": "/trickle.xml",
    "redirect-loop": "/loop-a.xml",
    "many-items": "/many.xml",
    "long-title": "/title.xml",
}


def latin1_labelled_utf8() -> bytes:
    """Bytes in ISO-8859-1 served with ``charset=utf-8``: the label is wrong."""
    return rss(item(1, title="Café crème"), decl="").encode("latin-1")


def utf16_with_bom() -> bytes:
    return codecs.BOM_UTF16_LE + rss(
        item(1, title="Ünïcode wide"), decl="encoding='utf-16'"
    ).encode("utf-16-le")


def cp1252_unlabelled() -> bytes:
    return rss(item(1, title="It’s – smart quotes"), decl="").encode("cp1252")
