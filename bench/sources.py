"""What the daemon reads about its sources after each tick and publish, with N sources.

    python -m bench.sources --sources 10000

Opens a fresh SQLite store with N feeds (as ``bench.daemon`` configures them) and times,
best of five: every source row (``Store.all_sources``), the gauges' aggregate read
(``Store.source_health`` since a recent time) and the OPML's (show, URL) list
(``Store.feed_urls``). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import timedelta
from pathlib import Path

from aggregator.store import Store
from bench.daemon import EPOCH, settings
from bench.run import best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sources", type=int, default=10_000)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        urls = [f"http://127.0.0.1:9/feeds/{i}.xml" for i in range(a.sources)]
        store = Store(f"sqlite:///{state / 'aggregator.db'}")
        try:
            store.upgrade()
            store.sync_sources(settings(state, urls, 16), EPOCH)
            since = EPOCH - timedelta(minutes=15)
            result = {
                "sources": a.sources,
                "all_sources_ms": best(store.all_sources, 5) * 1000,
                "source_health_ms": best(lambda: store.source_health(since), 5) * 1000,
                "feed_urls_ms": best(store.feed_urls, 5) * 1000,
            }
        finally:
            store.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
