"""Reading only what changed in a feed stores exactly what reading it whole would."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.extract import Brand, SponsorRegistry
from aggregator.incremental import FeedReading, read_feed
from aggregator.model import Episode
from aggregator.parse.feed_scan import ItemIndex, scan_items, subset
from aggregator.schedule import median_gap
from aggregator.store import Store

DATA = Path(__file__).parent / "data" / "incremental"
URL = "https://feeds.example.org/rake.xml"
TYPE = "application/rss+xml; charset=utf-8"
NOW = datetime(2025, 3, 24, 12, 0, tzinfo=UTC)
REGISTRY = SponsorRegistry.default()


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


def read(name: str, previous: bytes | None = None, **kw: object) -> FeedReading:
    args: dict[str, object] = {
        "show": "Rake Talk",
        "url": URL,
        "content_type": TYPE,
        "registry": REGISTRY,
    }
    args.update(kw)
    return read_feed(data(name), previous=previous, **args)  # type: ignore[arg-type]


def titles(episodes: tuple[Episode, ...]) -> list[str]:
    return [ep.title for ep in episodes]


# ---------------------------------------------------------------- the scan


def test_scan_finds_each_item_byte_for_byte() -> None:
    raw = data("rss_3.xml")
    scan = scan_items(raw)
    assert scan is not None
    assert [item.key for item in scan.items] == ["rake-3", "rake-2", "rake-1"]
    for item in scan.items:
        assert raw[item.start : item.start + 6] == b"<item>"
        assert raw[item.end - 7 : item.end] == b"</item>"


def test_scan_of_atom_keys_entries_by_id() -> None:
    scan = scan_items(data("atom_2.xml"))
    assert scan is not None
    assert [item.key for item in scan.items] == ["urn:example:hoe-hour:2", "urn:example:hoe-hour:1"]


def test_an_item_without_guid_is_keyed_by_its_enclosure() -> None:
    raw = data("rss_3.xml").replace(b'<guid isPermaLink="false">rake-2</guid>', b"")
    scan = scan_items(raw)
    assert scan is not None
    assert scan.items[1].key == "https://media.example.org/2.mp3"


def test_subset_keeps_everything_but_the_other_items() -> None:
    raw = data("rss_4.xml")
    scan = scan_items(raw)
    assert scan is not None
    part = subset(raw, scan, [0])
    assert b"Episode 4: Rakes" in part
    assert b"Episode 3: Rakes" not in part and b"rake-1" not in part
    assert part.startswith(raw[: scan.items[0].end])
    assert part.endswith(b"</channel>\n</rss>\n")


def test_the_context_ignores_channel_dates_but_not_the_title() -> None:
    three, four = scan_items(data("rss_3.xml")), scan_items(data("rss_4.xml"))
    retitled = scan_items(data("rss_3_retitled.xml"))
    assert three and four and retitled
    assert three.context == four.context  # lastBuildDate differs, one item more
    assert retitled.context != three.context


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"<rss><channel><item><title>cut off",
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e "x">]><rss><channel/></rss>',
        "<rss><channel/></rss>".encode("utf-16"),
    ],
    ids=["empty", "malformed", "doctype", "utf-16"],
)
def test_the_scan_refuses_what_it_cannot_vouch_for(raw: bytes) -> None:
    assert scan_items(raw) is None


def test_an_item_index_survives_bytes_and_refuses_foreign_blobs() -> None:
    index = ItemIndex(context=b"c" * 16, published={b"12345678": 1.5, b"abcdefgh": float("nan")})
    again = ItemIndex.from_bytes(index.to_bytes())
    assert again is not None and again.context == b"c" * 16
    assert again.published[b"12345678"] == 1.5
    assert ItemIndex.from_bytes(None) is None
    assert ItemIndex.from_bytes(b"\x09" + b"c" * 16) is None  # another version
    assert ItemIndex.from_bytes(index.to_bytes()[:-3]) is None  # cut short


# ---------------------------------------------------------------- reading in part


def test_a_new_item_is_the_only_one_read() -> None:
    first = read("rss_3.xml")
    assert not first.partial and titles(first.parsed.episodes) == [
        "Rakes, part 3",
        "Rakes, part 2",
        "Rakes, part 1",
    ]
    again = read("rss_4.xml", first.index)
    assert again.partial
    assert titles(again.parsed.episodes) == ["Rakes, part 4"]
    assert again.parsed.info.title == "Rake Talk"


def test_the_part_read_equals_the_whole_read() -> None:
    whole = read("rss_4.xml")
    part = read("rss_4.xml", read("rss_3.xml").index)
    assert part.parsed.episodes == whole.parsed.episodes[:1]
    assert part.parsed.info == whole.parsed.info
    assert part.index == whole.index
    assert median_gap(part.published) == median_gap(whole.published)
    new = part.parsed.episodes[0]
    assert new.number == 4 and new.duration == 2400
    assert [s.name for s in new.sponsors] == ["Trowelco"]
    assert [(p.name, p.role) for p in new.people] == [
        ("Mira Solvang", "host"),
        ("Tove Lindqvist", "guest"),
    ]


def test_an_unchanged_feed_reads_no_item() -> None:
    first = read("rss_3.xml")
    again = read("rss_3.xml", first.index)
    assert again.partial and again.parsed.episodes == ()
    assert again.index == first.index
    assert again.parsed.info.title == "Rake Talk"


def test_an_edited_item_is_read_again_and_an_undone_edit_too() -> None:
    first = read("rss_3.xml")
    edited = read("rss_3_edited.xml", first.index)
    assert edited.partial and titles(edited.parsed.episodes) == ["Rakes, part 2 (extended)"]
    undone = read("rss_3.xml", edited.index)
    assert undone.partial and titles(undone.parsed.episodes) == ["Rakes, part 2"]


def test_atom_entries_are_read_in_part() -> None:
    first = read_feed(data("atom_2.xml"), "Hoe Hour", URL, "application/atom+xml", REGISTRY, None)
    again = read_feed(
        data("atom_3.xml"), "Hoe Hour", URL, "application/atom+xml", REGISTRY, first.index
    )
    assert again.partial and titles(again.parsed.episodes) == ["Hoe 3"]
    assert again.parsed.episodes[0].guid == "urn:example:hoe-hour:3"


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("rss_3_retitled.xml", {}),  # the channel says something else
        ("rss_4_repeat.xml", {}),  # the new item repeats an old guid: the store merges them
        ("rss_4_anonymous.xml", {}),  # nothing identifies the new item
        ("rss_4.xml", {"show": "Rake Talk (renamed)"}),
        ("rss_4.xml", {"url": "https://moved.example.org/rake.xml"}),
        ("rss_4.xml", {"content_type": "application/rss+xml; charset=iso-8859-1"}),
        ("rss_4.xml", {"registry": SponsorRegistry([*REGISTRY, Brand("Trowelco")])}),
    ],
    ids=["channel", "repeat", "anonymous", "show", "url", "charset", "registry"],
)
def test_what_the_index_cannot_vouch_for_is_read_whole(
    name: str, change: dict[str, object]
) -> None:
    first = read("rss_3.xml")
    again = read(name, first.index, **change)
    whole = read(name, None, **change)
    assert not again.partial
    assert again.parsed.episodes == whole.parsed.episodes
    assert len(again.parsed.episodes) >= 3


def test_a_broken_index_means_a_whole_read() -> None:
    again = read("rss_4.xml", b"\x01garbage")
    assert not again.partial and len(again.parsed.episodes) == 4


# ---------------------------------------------------------------- stored the same


@pytest.fixture
def stores(db_url: str, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """The store under test and a second one (SQLite) that always reads feeds whole."""
    pair = (Store(db_url), Store(f"sqlite:///{tmp_path / 'whole.db'}"))
    for s in pair:
        s.upgrade()
        s.sync_sources(_settings(), NOW)
    yield pair
    for s in pair:
        s.close()


def _settings() -> object:
    from aggregator.config import Settings

    return Settings.model_validate({"feeds": [{"name": "Rake Talk", "url": URL}]})


def _store(store: Store, reading: FeedReading) -> None:
    source = store.all_sources()[0]
    store.upsert_episodes(source.id, reading.parsed.episodes, now=NOW, source_kind="feed")
    gap = median_gap(reading.published)
    store.record_success(
        source.id,
        now=NOW,
        next_check_at=NOW,
        show_info=reading.parsed.info,
        avg_post_interval_s=int(gap.total_seconds()) if gap else None,
        item_index=reading.index,
    )


def _snapshot(store: Store) -> tuple[list[object], int | None, bytes | None]:
    episodes = [(e.episode, e.first_seen_at) for e in store.latest_episodes(100)]
    source = store.all_sources()[0]
    return episodes, source.avg_post_interval_s, store.item_index(source.id)


@pytest.mark.parametrize(
    "sequence",
    [
        ["rss_3.xml", "rss_4.xml"],
        ["rss_3.xml", "rss_3_edited.xml", "rss_3.xml"],
        ["rss_3.xml", "rss_4_repeat.xml"],
        ["rss_3.xml", "rss_3_retitled.xml", "rss_4.xml"],
    ],
    ids=["new item", "edit undone", "repeated guid", "retitled"],
)
def test_polls_read_in_part_store_what_whole_reads_store(
    stores: tuple[Store, Store], sequence: list[str]
) -> None:
    incremental, whole = stores
    previous = None
    for name in sequence:
        reading = read(name, previous)
        _store(incremental, reading)
        previous = reading.index
        _store(whole, read(name, None))
    ours, theirs = _snapshot(incremental), _snapshot(whole)
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1] == 7 * 24 * 3600  # weekly episodes
    assert ours[2] is not None and ours[2] == theirs[2]


def test_an_index_cleared_by_a_whole_read_stays_cleared(db_url: str) -> None:
    store = Store(db_url)
    store.upgrade()
    store.sync_sources(_settings(), NOW)
    source = store.all_sources()[0]
    store.record_success(source.id, now=NOW, next_check_at=NOW, item_index=b"\x01" + b"x" * 24)
    store.record_success(source.id, now=NOW, next_check_at=NOW)  # None keeps it
    assert store.item_index(source.id) == b"\x01" + b"x" * 24
    store.record_success(source.id, now=NOW, next_check_at=NOW, item_index=b"")
    assert store.item_index(source.id) is None
    store.close()


def test_a_reading_crosses_to_the_daemon_by_pickle_unchanged() -> None:
    """Readings leave the parser process pickled; the model's own pickling must give back
    equal episodes with every field (people, chapters, sponsors, enclosure) in place."""
    reading = read("rss_4.xml")
    assert any(ep.sponsors and ep.people and ep.enclosure for ep in reading.parsed.episodes)
    back = pickle.loads(pickle.dumps(reading, pickle.HIGHEST_PROTOCOL))
    assert back == reading
    assert [dataclasses.asdict(ep) for ep in back.parsed.episodes] == [
        dataclasses.asdict(ep) for ep in reading.parsed.episodes
    ]
