"""Hostile input, CI sizes: each case is polled beside a good feed, through the daemon's parts.

Every case must end within the deadline plus one second, raise this process's peak RSS by
less than 100 MB, log one clear reason when it fails, leave the good feed's poll alone and
store nothing corrupt. Full sizes (1 GiB bomb, 200 MB body, 100k items): bench/hostile.py.
"""

from __future__ import annotations

import email
import json
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import feedparser
import pytest

from aggregator.deliver import dry_run
from aggregator.digest import make_env
from aggregator.workers import ParsePool, ParseTimeout, WorkerDied
from feedgen import episode_guid
from hostile import (
    ACTIVE_MARKERS,
    ACTIVE_NOTES,
    CI,
    GOOD,
    GOOD_COUNT,
    IMPOSSIBLE_DATES,
    MB,
    PATHS,
    Harness,
    Run,
    cp1252_unlabelled,
    item,
    latin1_labelled_utf8,
    rss,
    serve,
    utf16_with_bom,
)
from httpserver import HttpServer

MEMORY_BUDGET = 100 * MB


@pytest.fixture(scope="module")
def server() -> Iterator[HttpServer]:
    with HttpServer() as s:
        yield s


@pytest.fixture(scope="module")
def pool() -> Iterator[ParsePool]:
    """One pool for the whole module, as in the daemon: it must survive every case."""
    p = ParsePool(2, time_limit=CI.timeout)
    p.submit(abs, -1).result()  # start the fork server now, not inside the first timed case
    yield p
    p.shutdown(cancel_futures=True)


@pytest.fixture(scope="module")
def harness(server: HttpServer, pool: ParsePool) -> Harness:
    return Harness(server, pool, CI)


@pytest.fixture
async def poll(harness: Harness, tmp_path: Path) -> AsyncIterator[object]:
    opened = []

    async def run(path: str, *, stored: int = 0) -> Run:
        """``stored``: episodes the hostile source may store once read (a write the
        time limit does not cover: it bounds parsing)."""
        result, services = await harness.poll(tmp_path, path)
        opened.append(services)
        assert_good_feed_unaffected(result, tmp_path)
        if result.outcome.status == "failed" or not stored:
            assert result.seconds < CI.timeout + 1, result
        assert result.rss_growth < MEMORY_BUDGET, result
        return result

    run.services = opened  # type: ignore[attr-defined]
    yield run
    for services in opened:
        await services.close()


def episodes(tmp_path: Path, source: str = "Hostile") -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(tmp_path / "state" / "aggregator.db") as db:
        return db.execute(
            "select e.guid, e.title, e.published from episode e join show s on s.id = e.show_id"
            " where s.name = ? order by e.guid",
            (source,),
        ).fetchall()


def assert_good_feed_unaffected(run: Run, tmp_path: Path) -> None:
    assert (run.good.status, run.good.added) == ("added", GOOD_COUNT), run.good
    assert sorted(g for g, _, _ in episodes(tmp_path, GOOD.title)) == sorted(
        episode_guid(GOOD, n) for n in range(1, GOOD_COUNT + 1)
    )
    assert not [r for r in run.warnings if GOOD.title in r.getMessage()]


def one_clear_reason(run: Run) -> str:
    """The single warning the failed source logged, which names it and gives the reason."""
    (record,) = run.warnings
    message = record.getMessage()
    assert message.startswith("source failed source=Hostile url=http://127.0.0.1:")
    assert run.outcome.error and message.endswith(f"reason={run.outcome.error}")
    return run.outcome.error


FAILING = {
    "gzip-bomb": "decoded body over 5 MB cap",
    "large-body": "body over 5 MB cap",
    "content-length-over-cap": f"body over 5 MB cap (Content-Length {10 * CI.max_bytes})",
    "trickle": "timed out after 3s",
    "redirect-loop": "redirect loop",
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", sorted(FAILING))
async def test_hostile_source_fails_alone_with_one_clear_reason(
    case: str, server: HttpServer, poll: object, tmp_path: Path
) -> None:
    serve(server, CI)[case]()
    run = await poll(PATHS[case])  # type: ignore[operator]
    assert run.outcome.status == "failed"
    assert one_clear_reason(run) == FAILING[case]
    assert episodes(tmp_path) == []


@pytest.mark.anyio
async def test_a_feed_of_many_items_is_read_whole_in_time_or_stopped_at_the_limit(
    server: HttpServer, poll: object, tmp_path: Path
) -> None:
    """20,000 items just under the size cap: how long reading them takes depends on the
    machine, so either outcome is right, but only whole: every item stored, or none and
    the time limit named as the reason."""
    serve(server, CI)["many-items"]()
    run = await poll(PATHS["many-items"], stored=CI.items)  # type: ignore[operator]
    if run.outcome.status == "failed":
        assert (
            one_clear_reason(run) == "not a usable document: parsing stopped after 3s (time limit)"
        )
        assert episodes(tmp_path) == []
    else:
        assert (run.outcome.status, run.outcome.added) == ("added", CI.items)
        assert len(episodes(tmp_path)) == CI.items


@pytest.mark.anyio
@pytest.mark.parametrize("case", ["billion-laughs", "quadratic-blowup"])
async def test_entity_expansion_is_never_performed(
    case: str, server: HttpServer, poll: object, tmp_path: Path
) -> None:
    serve(server, CI)[case]()
    run = await poll(PATHS[case])  # type: ignore[operator]
    assert run.outcome.status == "added", run.outcome
    assert run.warnings == []
    ((guid, title, _),) = episodes(tmp_path)
    assert guid == "hostile-1"
    assert "lol" not in title and len(title) < 100
    with sqlite3.connect(tmp_path / "state" / "aggregator.db") as db:
        (longest,) = db.execute(
            "select max(length(coalesce(description_html, '')) + length(coalesce(summary, '')))"
            " from episode"
        ).fetchone()
    assert longest < 10_000


@pytest.mark.anyio
async def test_a_one_megabyte_title_is_cut_to_500_characters_and_published_validly(
    server: HttpServer, poll: object, tmp_path: Path
) -> None:
    serve(server, CI)["long-title"]()
    run = await poll(PATHS["long-title"])  # type: ignore[operator]
    assert run.outcome.status == "added"
    ((_, title, _),) = episodes(tmp_path)
    assert title.startswith("A very long title xxx")
    assert len(title) <= 500
    services = poll.services[-1]  # type: ignore[attr-defined]
    await services.publish()
    parsed = feedparser.parse((services.settings.public_dir / "feed.xml").read_bytes())
    assert parsed.bozo == 0
    assert any("A very long title xxx" in e.title for e in parsed.entries)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "content_type", "title"),
    [
        (latin1_labelled_utf8(), "application/rss+xml; charset=utf-8", "Café crème"),
        (utf16_with_bom(), "application/rss+xml", "Ünïcode wide"),
        (cp1252_unlabelled(), "application/rss+xml", "It’s – smart quotes"),
        (cp1252_unlabelled(), "text/xml", "It’s – smart quotes"),
    ],
    ids=["latin1-labelled-utf8", "utf16-bom", "cp1252", "cp1252-text-xml"],
)
async def test_wrong_or_missing_charsets_still_give_the_right_text(
    body: bytes,
    content_type: str,
    title: str,
    server: HttpServer,
    poll: object,
    tmp_path: Path,
) -> None:
    server.respond("/charset.xml", 200, body=body, headers={"Content-Type": content_type})
    run = await poll("/charset.xml")  # type: ignore[operator]
    assert run.outcome.status == "added", run.outcome
    assert [t for _, t, _ in episodes(tmp_path)] == [title]


@pytest.mark.anyio
async def test_impossible_dates_store_every_item_and_publish_a_valid_feed(
    server: HttpServer, poll: object, tmp_path: Path
) -> None:
    items = "".join(item(n, date=d) for n, d in enumerate(IMPOSSIBLE_DATES))
    server.set("/dates.xml", rss(items).encode(), content_type="application/rss+xml")
    run = await poll("/dates.xml")  # type: ignore[operator]
    assert run.outcome.status == "added"
    stored = episodes(tmp_path)
    assert [g for g, _, _ in stored] == sorted(f"hostile-{n}" for n in range(len(IMPOSSIBLE_DATES)))
    for _, _, published in stored:
        assert published is None or 1900 < int(published[:4]) < 10000
    assert {g: p for g, _, p in stored}["hostile-4"] is None  # year 2500: not believed
    services = poll.services[-1]  # type: ignore[attr-defined]
    await services.publish()
    parsed = feedparser.parse((services.settings.public_dir / "feed.xml").read_bytes())
    assert parsed.bozo == 0
    assert len(parsed.entries) == len(IMPOSSIBLE_DATES) + GOOD_COUNT
    feed_json = json.loads((services.settings.public_dir / "feed.json").read_bytes())
    assert len(feed_json["items"]) == len(IMPOSSIBLE_DATES) + GOOD_COUNT


@pytest.mark.anyio
async def test_nothing_republished_carries_active_content(
    server: HttpServer, poll: object, tmp_path: Path
) -> None:
    items = item(1, title="<script>alert('t')</script>Active", notes=ACTIVE_NOTES)
    server.set("/active.xml", rss(items).encode(), content_type="application/rss+xml")
    run = await poll("/active.xml")  # type: ignore[operator]
    assert run.outcome.status == "added"
    services = poll.services[-1]  # type: ignore[attr-defined]
    await services.publish()
    public = services.settings.public_dir
    outputs = {
        "feed.xml": (public / "feed.xml").read_text(),
        "feed.json": (public / "feed.json").read_text(),
    }
    (eml,) = dry_run(
        services.store,
        services.settings,
        "daily",
        tmp_path / "eml",
        now=services.clock(),
        env=make_env(services.settings.templates),
    )
    message = email.message_from_bytes(eml.read_bytes())
    for part in message.walk():
        if part.get_content_maintype() == "text":
            outputs[f"digest {part.get_content_type()}"] = part.get_payload(decode=True).decode()
    assert "https://hostile.invalid/ok" in outputs["feed.xml"]  # the safe link survives
    for name, text in outputs.items():
        # feed.xml escapes HTML inside elements; look at it unescaped as a reader would.
        readable = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        readable = readable.replace("\\u003c", "<").lower()
        found = [m for m in ACTIVE_MARKERS if m in readable]
        assert not found, (name, found)


def test_a_runaway_parse_is_killed_while_the_others_finish() -> None:
    pool = ParsePool(2, time_limit=1)
    try:
        runaway = pool.submit(time.sleep, 60)
        innocent = pool.submit(time.sleep, 0.3)
        started = time.monotonic()
        with pytest.raises(ParseTimeout, match=r"parsing stopped after 1s \(time limit\)"):
            runaway.result(timeout=10)
        assert time.monotonic() - started < 2 + 1  # pebble checks deadlines on a short beat
        assert innocent.result(timeout=10) is None
        assert pool.submit(abs, -2).result(timeout=10) == 2  # a fresh worker took its place
    finally:
        pool.shutdown(cancel_futures=True)


def test_a_worker_that_dies_fails_its_parse_only() -> None:
    pool = ParsePool(1, time_limit=10)
    try:
        with pytest.raises(WorkerDied, match=r"parser process died \(exit code 3\)"):
            pool.submit(os._exit, 3).result(timeout=10)
        assert pool.submit(abs, -5).result(timeout=10) == 5
    finally:
        pool.shutdown(cancel_futures=True)
