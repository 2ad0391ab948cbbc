"""One phase of the daemon's own poll path, in a process of its own (so its memory is its own).

    python -m bench.daemon poll --state DIR --urls FILE --hours H
    python -m bench.daemon publish --state DIR --urls FILE --episodes N

``poll`` opens the real :class:`aggregator.app.Services` (SQLite file, HTTP client, parser
processes) on a fixed clock ``H`` hours after the bench epoch and calls ``poll_due`` until
nothing is due, as the daemon's ticks do. ``publish`` seeds a database with N episodes (once)
and times ``Services.publish``. Each prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.app import Services
from aggregator.config import Settings
from aggregator.model import Enclosure, Episode, Person, Sponsor

EPOCH = datetime(2025, 6, 3, tzinfo=UTC)


def settings(state: Path, urls: list[str], concurrency: int) -> Settings:
    return Settings.model_validate(
        {
            "state_dir": state,
            "output_dir": state / "public",
            "allow_private_addresses": True,
            "listen": "127.0.0.1:0",
            # Every feed sits on 127.0.0.1 here; in the field they are spread over many hosts.
            "poll": {"concurrency": concurrency, "per_host": concurrency, "timeout": "120s"},
            "merged_feed": {"max_items": 300, "link": "http://127.0.0.1/"},
            "feeds": [{"name": f"Bench show {i:05d}", "url": u} for i, u in enumerate(urls)],
        }
    )


async def poll(state: Path, urls: list[str], hours: float, concurrency: int) -> dict[str, object]:
    now = EPOCH + timedelta(hours=hours)
    services = await asyncio.to_thread(
        Services.open, settings(state, urls, concurrency), clock=lambda: now
    )
    statuses: Counter[str] = Counter()
    added = 0
    try:
        started, cpu = time.perf_counter(), time.process_time()
        while outcomes := await services.poll_due():
            statuses.update(o.status for o in outcomes)
            added += sum(o.added for o in outcomes)
        wall = time.perf_counter() - started
        main_cpu = time.process_time() - cpu
        episodes = await asyncio.to_thread(services.store.episode_count)
    finally:
        await services.close()
    return {
        "wall": wall,
        "main_cpu": main_cpu,
        "sources": len(urls),
        "statuses": dict(statuses),
        "added": added,
        "episodes": episodes,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _episode(show: int, n: int) -> Episode:
    when = EPOCH - timedelta(days=7 * n, hours=show % 24)
    return Episode(
        show=f"Bench show {show:05d}",
        title=f"Episode {n} of show {show}",
        guid=f"bench-{show}-{n}",
        number=n,
        published=when,
        duration=3600,
        link=f"https://show-{show}.example.com/{n}",
        enclosure=Enclosure(f"https://media.example.net/{show}/{n}.mp3", "audio/mpeg", 5_000_000),
        description_html="<p>" + "Show notes with a sponsor read and links. " * 40 + "</p>",
        summary="Show notes with a sponsor read and links.",
        people=(Person("Host Person", "host"), Person(f"Guest {n}", "guest")),
        sponsors=(Sponsor(name="Northwind Hosting", url="https://northwind-hosting.example/"),),
    )


def seed(services: Services, episodes: int, per_show: int = 100) -> None:
    store = services.store
    if store.episode_count() >= episodes:
        return
    sources = {s.show: s.id for s in store.all_sources()}
    shows = episodes // per_show
    for show in range(shows):
        batch = [_episode(show, n) for n in range(1, per_show + 1)]
        store.upsert_episodes(sources[f"Bench show {show:05d}"], batch, now=EPOCH)


async def publish(state: Path, urls: list[str], episodes: int) -> dict[str, object]:
    services = await asyncio.to_thread(
        Services.open, settings(state, urls, 16), clock=lambda: EPOCH, processes=False
    )
    try:
        started = time.perf_counter()
        await asyncio.to_thread(seed, services, episodes)
        seeded = time.perf_counter() - started
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            written = await services.publish()
            runs.append(time.perf_counter() - started)
        stored = await asyncio.to_thread(services.store.episode_count)
    finally:
        await services.close()
    return {
        "episodes": stored,
        "seed_seconds": seeded,
        "publish_seconds": sorted(runs)[len(runs) // 2],
        "first_publish_seconds": runs[0],
        "files": written,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["poll", "publish"])
    ap.add_argument("--state", type=Path, required=True)
    ap.add_argument("--urls", type=Path, required=True)
    ap.add_argument("--hours", type=float, default=0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--episodes", type=int, default=100_000)
    a = ap.parse_args(argv)
    urls = a.urls.read_text().split()
    if a.phase == "poll":
        result = asyncio.run(poll(a.state, urls, a.hours, a.concurrency))
    else:
        result = asyncio.run(publish(a.state, urls, a.episodes))
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
