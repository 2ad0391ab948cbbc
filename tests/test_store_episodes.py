"""Episodes in the store: upserts, secondary readings, lookups and reading back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select

from aggregator.config import Settings
from aggregator.model import Chapter, Enclosure, Episode, Person, Sponsor
from aggregator.store import Store
from aggregator.store import tables as t
from racing import race

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
FEED = "https://alpha.example/feed.xml"
OTHER = "https://beta.example/feed.xml"
PAGES = "https://alpha.example/episodes/"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    s.upgrade()
    s.sync_sources(
        Settings.model_validate(
            {
                "feeds": [
                    {"name": "Alpha", "url": FEED, "follow_pages": True},
                    {"name": "Beta", "url": OTHER},
                ],
                "pages": [{"show": "Alpha", "url": PAGES}],
            }
        ),
        NOW,
    )
    yield s
    s.close()


def source_id(store: Store, url: str) -> int:
    return next(s.id for s in store.all_sources() if s.url == url)


def ep(n: int, **kw: object) -> Episode:
    base = {
        "show": "Alpha",
        "title": f"Episode {n} title",
        "guid": f"alpha-{n}",
        "number": n,
        "published": datetime(2024, 4, n, 9, 0, tzinfo=UTC),
        "link": f"https://alpha.example/episodes/{n}",
    }
    return Episode(**{**base, **kw})  # type: ignore[arg-type]


FULL = Episode(
    show="Alpha",
    title="Letters and numbers",
    guid="alpha-full",
    number=7,
    season=2,
    # 08:30 at +02:00 is 06:30 UTC
    published=datetime(2024, 4, 20, 8, 30, tzinfo=timezone(timedelta(hours=2))),
    duration=3725,
    link="https://alpha.example/episodes/7",
    enclosure=Enclosure("https://cdn.alpha.example/7.mp3", "audio/mpeg", 5_000_000_000),
    image="https://alpha.example/7.png",
    description_html="<p>We talk about <b>letters</b>.</p>",
    summary="We talk about letters.",
    explicit=False,
    people=(
        Person("Ada Host", "host", href="https://alpha.example/ada"),
        Person("Guest Zed", "guest", img="https://alpha.example/zed.jpg"),
        Person("Guest Amy", "guest"),
    ),
    chapters=(
        Chapter(0, "Intro"),
        Chapter(95, "Sponsor break"),
        Chapter(600, "Letters", "https://x.example/l"),
    ),
    chapters_url="https://alpha.example/7/chapters.json",
    sponsors=(
        Sponsor(
            "Zeta Mattress",
            url="https://zetamattress.example/alpha",
            promo_code="ALPHA",
            offer="20% off",
            start=95,
            placement="pre",
            kind="sponsor",
            evidence="brought to you by Zeta Mattress",
            confidence=0.9,
        ),
        Sponsor("Alpha Club", url="https://alpha.example/club", kind="self_promo", confidence=0.75),
    ),
    links=("https://x.example/l", "https://y.example/"),
    transcript_url="https://alpha.example/7/transcript.vtt",
    transcript_type="text/vtt",
)


def test_full_episode_round_trips_with_published_in_utc(store: Store) -> None:
    result = store.upsert_episodes(source_id(store, FEED), [FULL], now=NOW)
    assert (len(result.added), result.updated, result.unchanged) == (1, [], 0)
    [stored] = store.latest_episodes(10)
    assert stored.first_seen_at == NOW
    assert stored.episode == replace(FULL, published=datetime(2024, 4, 20, 6, 30, tzinfo=UTC))
    assert stored.episode.published.tzinfo is UTC  # type: ignore[union-attr]


def test_same_batch_again_is_unchanged(store: Store) -> None:
    feed = source_id(store, FEED)
    first = store.upsert_episodes(feed, [ep(1), ep(2)], now=NOW)
    assert len(set(first.added)) == 2
    again = store.upsert_episodes(feed, [ep(1), ep(2)], now=NOW + timedelta(hours=1))
    assert (again.added, again.updated, again.unchanged) == ([], [], 2)
    assert [s.first_seen_at for s in store.latest_episodes(5)] == [NOW, NOW]


def test_changed_episode_is_updated_in_place(store: Store) -> None:
    feed = source_id(store, FEED)
    first = store.upsert_episodes(feed, [ep(1), ep(2)], now=NOW)
    later = NOW + timedelta(hours=1)
    result = store.upsert_episodes(feed, [ep(1, title="Episode 1, corrected"), ep(2)], now=later)
    assert (result.added, result.updated, result.unchanged) == ([], [first.added[0]], 1)
    assert store.episode_count() == 2
    titles = {s.episode.guid: (s.episode.title, s.first_seen_at) for s in store.latest_episodes(5)}
    assert titles == {"alpha-1": ("Episode 1, corrected", NOW), "alpha-2": ("Episode 2 title", NOW)}


def test_duplicates_within_a_batch_become_one_episode(store: Store) -> None:
    result = store.upsert_episodes(
        source_id(store, FEED),
        [ep(3, image=None), ep(3, image="https://alpha.example/3.png")],
        now=NOW,
    )
    assert len(result.added) == 1
    [stored] = store.latest_episodes(5)
    assert (stored.episode.guid, stored.episode.image) == ("alpha-3", "https://alpha.example/3.png")


def test_same_identity_in_two_shows_is_two_episodes(store: Store) -> None:
    store.upsert_episodes(source_id(store, FEED), [ep(1)], now=NOW)
    store.upsert_episodes(source_id(store, OTHER), [ep(1, show="Beta")], now=NOW)
    assert sorted(s.episode.show for s in store.latest_episodes(5)) == ["Alpha", "Beta"]


def test_owner_update_replaces_people_chapters_and_its_own_mentions(store: Store) -> None:
    feed = source_id(store, FEED)
    store.upsert_episodes(feed, [FULL], now=NOW)
    [stored] = store.latest_episodes(1)
    transcript = Episode(
        show="Alpha",
        title="",
        sponsors=(Sponsor("Quill Pens", promo_code="WRITE", start=1800),),
    )
    assert store.merge_page(stored.id, transcript, now=NOW, source_kind="transcript") is True

    changed = replace(
        FULL,
        people=(Person("Ada Host", "host"),),
        chapters=(Chapter(0, "Start"),),
        sponsors=(Sponsor("Zeta Mattress", promo_code="ZETA"),),
    )
    result = store.upsert_episodes(feed, [changed], now=NOW + timedelta(hours=1))
    assert len(result.updated) == 1
    [after] = store.latest_episodes(1)
    assert after.episode.people == (Person("Ada Host", "host"),)
    assert after.episode.chapters == (Chapter(0, "Start"),)
    assert after.episode.sponsors == (
        Sponsor("Zeta Mattress", promo_code="ZETA"),
        Sponsor("Quill Pens", promo_code="WRITE", start=1800),
    )


def test_merge_page_fills_only_empty_fields_and_adds_people_and_chapters(store: Store) -> None:
    feed = source_id(store, FEED)
    store.upsert_episodes(feed, [ep(4, people=(Person("Ada Host", "host"),))], now=NOW)
    [stored] = store.latest_episodes(1)
    page = Episode(
        show="Alpha",
        title="A different title on the page",
        number=99,
        summary="Read on the page.",
        duration=1800,
        people=(
            Person("ada host", "guest"),
            Person("Page Guest", "guest", href="https://pg.example/"),
        ),
        chapters=(Chapter(0, "Hello"), Chapter(300, "Main")),
        sponsors=(
            Sponsor("Zeta Mattress", url="https://zetamattress.example/", promo_code="PAGE"),
        ),
    )
    later = NOW + timedelta(hours=2)
    assert store.merge_page(stored.id, page, now=later, source_kind="page") is True
    [after] = store.latest_episodes(1)
    e = after.episode
    assert (e.title, e.number, e.summary, e.duration) == (
        "Episode 4 title",
        4,
        "Read on the page.",
        1800,
    )
    assert e.people == (
        Person("Ada Host", "host"),
        Person("Page Guest", "guest", href="https://pg.example/"),
    )
    assert e.chapters == (Chapter(0, "Hello"), Chapter(300, "Main"))
    assert e.sponsors == (
        Sponsor("Zeta Mattress", url="https://zetamattress.example/", promo_code="PAGE"),
    )
    # The same reading again changes nothing.
    assert store.merge_page(stored.id, page, now=later, source_kind="page") is False
    # Chapters already there are not mixed with another reading's.
    other = Episode(show="Alpha", title="", chapters=(Chapter(10, "Other"),))
    assert store.merge_page(stored.id, other, now=later, source_kind="chapters") is False
    assert store.latest_episodes(1)[0].episode.chapters == (
        Chapter(0, "Hello"),
        Chapter(300, "Main"),
    )


def test_a_feed_takes_over_an_episode_a_page_source_found_first(store: Store) -> None:
    page_src, feed = source_id(store, PAGES), source_id(store, FEED)
    from_page = ep(5, guid=None, summary="From the page.", enclosure=None)
    assert len(store.upsert_episodes(page_src, [from_page], now=NOW, source_kind="page").added) == 1
    from_feed = ep(5, guid=None, title="Episode 5 (feed title)", summary=None)
    result = store.upsert_episodes(feed, [from_feed], now=NOW + timedelta(hours=1))
    assert (result.added, len(result.updated)) == ([], 1)
    # The page no longer overwrites; it only fills what the feed left empty.
    again = store.upsert_episodes(
        page_src, [from_page], now=NOW + timedelta(hours=2), source_kind="page"
    )
    assert (again.added, again.updated, again.unchanged) == (
        [],
        ["link:https://alpha.example/episodes/5"],
        0,
    )
    [stored] = store.latest_episodes(5)
    assert (stored.episode.title, stored.episode.summary) == (
        "Episode 5 (feed title)",
        "From the page.",
    )
    assert store.upsert_episodes(page_src, [from_page], now=NOW, source_kind="page").unchanged == 1


def test_latest_episodes_newest_first_undated_last_and_limited(store: Store) -> None:
    feed = source_id(store, FEED)
    store.upsert_episodes(feed, [ep(2), ep(9)], now=NOW)
    store.upsert_episodes(feed, [ep(20, published=None)], now=NOW + timedelta(hours=1))
    store.upsert_episodes(feed, [ep(21, published=None), ep(5)], now=NOW + timedelta(hours=2))
    order = [s.episode.guid for s in store.latest_episodes(10)]
    assert order == ["alpha-9", "alpha-5", "alpha-2", "alpha-21", "alpha-20"]
    assert [s.episode.guid for s in store.latest_episodes(2)] == ["alpha-9", "alpha-5"]
    assert [s.episode.guid for s in store.latest_episodes(4)] == [
        "alpha-9",
        "alpha-5",
        "alpha-2",
        "alpha-21",
    ]


def test_guid_falls_back_to_the_identity_key(store: Store) -> None:
    store.upsert_episodes(source_id(store, FEED), [ep(6, guid=None)], now=NOW)
    [stored] = store.latest_episodes(1)
    assert stored.episode.guid == "link:https://alpha.example/episodes/6"


def _statements(store: Store) -> list[tuple[str, object]]:
    seen: list[tuple[str, object]] = []

    @event.listens_for(store._engine, "before_cursor_execute")
    def capture(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if not statement.startswith("BEGIN"):
            seen.append((statement, params))

    return seen


def test_latest_episodes_takes_the_same_few_queries_for_any_limit(store: Store) -> None:
    feed = source_id(store, FEED)
    people = {n: (Person(f"Person {n}", "host"),) for n in range(1, 25)}
    store.upsert_episodes(feed, [ep(n, people=people[n]) for n in range(1, 25)], now=NOW)
    seen = _statements(store)
    assert len(store.latest_episodes(2)) == 2
    few = len(seen)
    seen.clear()
    assert len(store.latest_episodes(30)) == 24
    # ids in publication order, the rows, then people, chapters and sponsors: one query each
    assert few == 5
    assert len(seen) == 6  # plus the look for undated episodes to fill the limit


def _plan(store: Store, sql: str, params: object) -> str:
    with store._engine.connect() as conn:
        if store._engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()  # type: ignore[arg-type]
            return " | ".join(str(r[-1]) for r in rows)
        conn.exec_driver_sql("ANALYZE episode")
        return " | ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}", params))  # type: ignore[arg-type]


def test_latest_episodes_reads_an_index_instead_of_sorting_the_table(store: Store) -> None:
    many = [
        Episode(
            show="Alpha",
            title=f"T{i}",
            guid=f"g{i}",
            published=NOW - timedelta(hours=i) if i % 50 else None,
        )
        for i in range(500)
    ]
    store.upsert_episodes(source_id(store, FEED), many, now=NOW)
    seen = _statements(store)
    sqlite = store._engine.dialect.name == "sqlite"
    # SQLite: also the second query for undated episodes; PostgreSQL only picks an index
    # when the limit is small against the table, as it is for a real merged feed.
    store.latest_episodes(495 if sqlite else 20)
    ordering = [(sql, params) for sql, params in seen if "ORDER BY episode." in sql]
    assert len(ordering) == (2 if sqlite else 1)
    for sql, params in ordering:
        plan = _plan(store, sql, params)
        if sqlite:
            assert re.search(r"USING (COVERING )?INDEX ix_episode_", plan), plan
            assert "TEMP B-TREE" not in plan, plan
        else:
            assert "Index Scan Backward using ix_episode_published" in plan, plan
            assert "Seq Scan" not in plan, plan


def test_episodes_between_uses_first_seen_and_show_filter(store: Store) -> None:
    feed, other = source_id(store, FEED), source_id(store, OTHER)
    store.upsert_episodes(feed, [ep(1)], now=NOW)
    store.upsert_episodes(other, [ep(2, show="Beta")], now=NOW + timedelta(hours=1))
    store.upsert_episodes(feed, [ep(3)], now=NOW + timedelta(hours=2))
    window = store.episodes_between(NOW, NOW + timedelta(hours=2))
    assert [s.episode.guid for s in window] == ["alpha-1", "alpha-2"]
    only_beta = store.episodes_between(NOW, NOW + timedelta(days=1), shows=["Beta"])
    assert [s.episode.guid for s in only_beta] == ["alpha-2"]


def test_find_episode_by_link_number_then_title(store: Store) -> None:
    feed = source_id(store, FEED)
    store.upsert_episodes(
        feed,
        [
            ep(1),
            ep(2),
            ep(3, number=None, title="Letters: A Story!", link=None),
            ep(4, number=None, title="Repeat", link=None),
            ep(5, number=None, title="Repeat", link=None),
        ],
        now=NOW,
    )
    ids = {s.episode.guid: s.id for s in store.latest_episodes(10)}
    assert store.find_episode("Alpha", link="http://alpha.example/episodes/2/") == ids["alpha-2"]
    assert store.find_episode("Alpha", link="https://nowhere.example/", number=1) == ids["alpha-1"]
    assert store.find_episode("Alpha", title="letters a story") == ids["alpha-3"]
    assert store.find_episode("Alpha", title="Repeat") is None
    assert store.find_episode("Alpha", title="Repeat", published=date(2024, 4, 6)) == ids["alpha-5"]
    assert store.find_episode("Alpha", title="Unknown") is None
    assert store.find_episode("Nobody", link="https://alpha.example/episodes/2") is None


def test_episodes_needing_pages(store: Store) -> None:
    feed, other = source_id(store, FEED), source_id(store, OTHER)
    store.upsert_episodes(
        feed,
        [ep(1), ep(2, link=None, transcript_url="https://alpha.example/2.vtt"), ep(3, link=None)],
        now=NOW,
    )
    store.upsert_episodes(other, [ep(1, show="Beta")], now=NOW)
    work = store.episodes_needing_pages("Alpha", now=NOW, recheck=timedelta(days=7))
    assert [(w.title, w.targets()) for w in work] == [
        ("Episode 2 title", [("https://alpha.example/2.vtt", "transcript")]),
        ("Episode 1 title", [("https://alpha.example/episodes/1", "page")]),
    ]
    assert store.episodes_needing_pages("Beta", now=NOW, recheck=timedelta(days=7)) == []

    checked = NOW + timedelta(minutes=1)
    for w in work:
        store.mark_page_checked(w.episode_id, now=checked, page_hash="h")
    assert store.episodes_needing_pages("Alpha", now=checked, recheck=timedelta(days=7)) == []
    # A change to the episode makes its page due again; so does age.
    store.upsert_episodes(
        feed, [ep(1, title="Episode 1 retitled")], now=checked + timedelta(minutes=1)
    )
    again = store.episodes_needing_pages("Alpha", now=checked, recheck=timedelta(days=7))
    assert [(w.title, w.page_hash) for w in again] == [("Episode 1 retitled", "h")]
    aged = store.episodes_needing_pages(
        "Alpha", now=checked + timedelta(days=8), recheck=timedelta(days=7)
    )
    assert sorted(w.title for w in aged) == ["Episode 1 retitled", "Episode 2 title"]


def test_sponsor_report_aggregates_across_shows(store: Store) -> None:
    feed, other = source_id(store, FEED), source_id(store, OTHER)
    zeta = Sponsor("Zeta Mattress", url="https://zetamattress.example/a", promo_code="ALPHA")
    store.upsert_episodes(
        feed,
        [
            ep(1, published=datetime(2024, 3, 1, tzinfo=UTC), sponsors=(zeta,)),
            ep(
                2,
                published=datetime(2024, 3, 8, tzinfo=UTC),
                sponsors=(zeta, Sponsor("Alpha Club", kind="self_promo")),
            ),
        ],
        now=NOW,
    )
    store.upsert_episodes(
        other,
        [
            ep(
                3,
                show="Beta",
                published=datetime(2024, 4, 2, tzinfo=UTC),
                sponsors=(Sponsor("Zeta Mattress", promo_code="BETA"),),
            ),
        ],
        now=NOW,
    )
    [alpha2] = [s for s in store.latest_episodes(5) if s.episode.guid == "alpha-2"]
    store.merge_page(
        alpha2.id,
        Episode(show="Alpha", title="", sponsors=(Sponsor("Zeta Mattress", start=60),)),
        now=NOW,
        source_kind="transcript",
    )

    rows = store.sponsor_report()
    assert [
        (r.brand, r.kind, r.shows, r.episodes, r.mentions, r.first_seen, r.last_seen, r.promo_codes)
        for r in rows
    ] == [
        (
            "Zeta Mattress",
            "sponsor",
            ("Alpha", "Beta"),
            3,
            4,
            date(2024, 3, 1),
            date(2024, 4, 2),
            ("ALPHA", "BETA"),
        ),
        ("Alpha Club", "self_promo", ("Alpha",), 1, 1, date(2024, 3, 8), date(2024, 3, 8), ()),
    ]
    since = store.sponsor_report(since=date(2024, 3, 5))
    assert [(r.brand, r.episodes, r.first_seen) for r in since] == [
        ("Zeta Mattress", 2, date(2024, 3, 8)),
        ("Alpha Club", 1, date(2024, 3, 8)),
    ]
    beta = store.sponsor_report(show="Beta")
    assert [(r.brand, r.shows, r.promo_codes) for r in beta] == [
        ("Zeta Mattress", ("Beta",), ("BETA",))
    ]


def test_threads_adding_the_same_new_people_and_sponsors_at_once(store: Store) -> None:
    targets = [
        (source_id(store, FEED), "Alpha"),
        (source_id(store, OTHER), "Beta"),
        (source_id(store, PAGES), "Alpha"),
    ]
    crowd = tuple(Person(f"Shared Guest {i}", "guest") for i in range(30))
    brands = tuple(Sponsor(f"Shared Brand {i}") for i in range(10))

    def write(i: int, src: int, show: str) -> None:
        episodes = [
            ep(n, show=show, guid=f"t{i}-{n}", people=crowd, sponsors=brands) for n in range(1, 6)
        ]
        store.upsert_episodes(
            src, episodes, now=NOW, source_kind="page" if src == targets[2][0] else "feed"
        )

    race(write, [(i, src, show) for i, (src, show) in enumerate(targets)])
    stored = store.latest_episodes(100)
    assert len(stored) == 15
    assert all(s.episode.people == crowd and s.episode.sponsors == brands for s in stored)
    with store._engine.connect() as conn:
        people = conn.execute(select(func.count()).select_from(t.person)).scalar_one()
        sponsors = conn.execute(select(func.count()).select_from(t.sponsor)).scalar_one()
    assert (people, sponsors) == (30, 10)
