"""The yardsticks, each run in a process of its own and printing one JSON line.

    python -m bench.contenders limit --urls FILE
    python -m bench.contenders reader --db FILE --urls FILE

``limit`` is what any poller must at least do: an httpx GET of every feed (8 at a time,
gzip) and one lxml pass reading each item's guid, title, date and enclosure. ``reader`` is
lemon24's reader updating the same feeds with its defaults (one worker thread) but
for ``scheduled=False``, so every feed is requested each time (the first call in a fresh
database reads everything, later calls get 304s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path


async def _limit(urls: list[str]) -> dict[str, object]:
    import httpx
    from lxml import etree

    slots = asyncio.Semaphore(8)
    items = 0
    fetch_seconds = parse_seconds = 0.0
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)

    async def one(client: httpx.AsyncClient, url: str) -> None:
        nonlocal items, fetch_seconds, parse_seconds
        async with slots:
            t = time.perf_counter()
            body = (await client.get(url)).content
            fetch_seconds += time.perf_counter() - t
        t = time.perf_counter()
        root = etree.fromstring(body, parser)
        for item in root.iter("item"):
            _ = (
                item.findtext("guid"),
                item.findtext("title"),
                item.findtext("pubDate"),
                item.find("enclosure").get("url"),  # type: ignore[union-attr]
            )
            items += 1
        parse_seconds += time.perf_counter() - t

    started = time.perf_counter()
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    async with httpx.AsyncClient(limits=limits, headers={"Accept-Encoding": "gzip"}) as client:
        await asyncio.gather(*(one(client, u) for u in urls))
    return {
        "wall": time.perf_counter() - started,
        "sources": len(urls),
        "items": items,
        "lxml_seconds": parse_seconds,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _reader(db: Path, urls: list[str]) -> dict[str, object]:
    from reader import make_reader

    r = make_reader(str(db))
    for url in urls:
        r.add_feed(url, exist_ok=True)
    started = time.perf_counter()
    r.update_feeds(scheduled=False)  # every feed, not only those its schedule says are due
    wall = time.perf_counter() - started
    counts = r.get_entry_counts()
    r.close()
    return {
        "wall": wall,
        "sources": len(urls),
        "entries": counts.total,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("which", choices=["limit", "reader"])
    ap.add_argument("--urls", type=Path, required=True)
    ap.add_argument("--db", type=Path)
    a = ap.parse_args(argv)
    urls = a.urls.read_text().split()
    if a.which == "limit":
        result = asyncio.run(_limit(urls))
    else:
        assert a.db is not None, "--db is required for reader"
        result = _reader(a.db, urls)
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
