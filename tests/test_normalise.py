"""Identity keys, content hashes, the canonical shape and merging across sources."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.model import Chapter, Enclosure, Episode, Person, Sponsor
from aggregator.normalise import (
    MAX_KEY_LENGTH,
    content_hash,
    identity_key,
    merge,
    merge_sponsors,
    normalise,
    registrable_domain,
    to_utc,
)

CET = timezone(timedelta(hours=1))
EP = Episode(
    show="Snake Charmers Radio",
    title="Packaging Without Tears",
    guid="sc-212",
    link="https://snakecharmers.example/212",
    enclosure=Enclosure("https://cdn.snakecharmers.example/212.mp3", "audio/mpeg", 100),
    published=datetime(2024, 1, 8, 23, 30, tzinfo=timezone(timedelta(hours=-8))),
)


def test_identity_prefers_guid_then_enclosure_then_link_then_title() -> None:
    assert identity_key(EP) == "guid:sc-212"
    no_guid = dataclasses.replace(EP, guid=None)
    assert identity_key(no_guid) == "enc:https://cdn.snakecharmers.example/212.mp3"
    no_enclosure = dataclasses.replace(no_guid, enclosure=None)
    assert identity_key(no_enclosure) == "link:https://snakecharmers.example/212"
    bare = dataclasses.replace(no_enclosure, link=None)
    # the day in the source's own offset: 23:30 -08:00 is still the 8th there
    assert identity_key(bare) == "title:snake charmers radio|packaging without tears|2024-01-08"
    assert identity_key(dataclasses.replace(bare, published=None)) == (
        "title:snake charmers radio|packaging without tears|"
    )


def test_identity_ignores_blank_ids_and_surrounding_space() -> None:
    assert identity_key(dataclasses.replace(EP, guid="  sc-212\n")) == "guid:sc-212"
    assert identity_key(dataclasses.replace(EP, guid="   ")).startswith("enc:")


def test_title_identity_ignores_case_punctuation_spacing_and_entities() -> None:
    a = Episode(show="Odd &amp; Ends", title="Café — Crème!", published=EP.published)
    b = Episode(show="odd ends", title="  CAFÉ   crème ", published=EP.published)
    assert identity_key(a) == identity_key(b)
    c = dataclasses.replace(b, published=EP.published + timedelta(days=1))
    assert identity_key(c) != identity_key(b)


def test_identity_does_not_depend_on_content() -> None:
    edited = dataclasses.replace(EP, title="Packaging, Revised", summary="new", duration=99)
    assert identity_key(edited) == identity_key(EP)


def test_long_keys_are_hashed_stably() -> None:
    long_guid = "x" * (MAX_KEY_LENGTH + 1)
    key = identity_key(dataclasses.replace(EP, guid=long_guid))
    assert key.startswith("guid:sha256:")
    assert len(key) == len("guid:sha256:") + 64
    assert key == identity_key(dataclasses.replace(EP, guid=long_guid))
    assert key != identity_key(dataclasses.replace(EP, guid=long_guid + "y"))


_CHANGES = {
    "show": "Other Show",
    "title": "Other",
    "guid": "other",
    "number": 7,
    "season": 2,
    "published": datetime(2024, 1, 9, 7, 30, tzinfo=UTC),  # the same instant, other offset
    "duration": 60,
    "link": "https://other.example/",
    "enclosure": Enclosure("https://cdn.snakecharmers.example/212.mp3", "audio/mpeg", 101),
    "image": "https://other.example/i.jpg",
    "description_html": "<p>x</p>",
    "summary": "x",
    "explicit": True,
    "people": (Person("Ada Quill", "host"),),
    "chapters": (Chapter(0, "Intro"),),
    "chapters_url": "https://other.example/c.json",
    "sponsors": (Sponsor("Acme"),),
    "links": ("https://other.example/",),
    "transcript_url": "https://other.example/t.vtt",
    "transcript_type": "text/vtt",
}


def test_content_hash_changes_with_every_field() -> None:
    assert set(_CHANGES) == {f.name for f in dataclasses.fields(Episode)}
    base = content_hash(EP)
    assert base == content_hash(dataclasses.replace(EP))
    assert len(base) == 64
    for name, value in _CHANGES.items():
        assert content_hash(dataclasses.replace(EP, **{name: value})) != base, name


def test_to_utc() -> None:
    assert to_utc(datetime(2024, 1, 8, 9, 0, tzinfo=CET)) == datetime(2024, 1, 8, 8, 0, tzinfo=UTC)
    assert to_utc(datetime(2024, 1, 8, 9, 0)).tzinfo is UTC
    assert to_utc(datetime(2024, 1, 8, 9, 0)).hour == 9


def test_normalise_cleans_and_dedupes() -> None:
    messy = Episode(
        show="  Odd &amp;amp; Ends ",
        title="A\n  title",
        guid="  ",
        number=-1,
        duration=0,
        link="",
        enclosure=Enclosure(" https://x.example/a.mp3 ", "", -5),
        people=(
            Person("Ada  Quill", "host"),
            Person("ada quill", "guest", href="https://a.example/"),
        ),
        chapters=(Chapter(60, "Two"), Chapter(0, "One"), Chapter(60, "two"), Chapter(-1, "Neg")),
        links=("https://a.example/", " https://a.example/", "https://b.example/"),
    )
    assert normalise(messy) == Episode(
        show="Odd & Ends",
        title="A title",
        enclosure=Enclosure("https://x.example/a.mp3"),
        people=(Person("Ada Quill", "host", href="https://a.example/"),),
        chapters=(Chapter(0, "One"), Chapter(60, "Two")),
        links=("https://a.example/", "https://b.example/"),
    )


def test_merge_fills_what_the_primary_lacks() -> None:
    feed = Episode(
        show="Snake Charmers Radio",
        title="Packaging",
        guid="sc-212",
        duration=3723,
        people=(Person("Ada Quill", "host"), Person("Cyd Marsh", "guest")),
        links=("https://a.example/",),
    )
    page = Episode(
        show="Snake Charmers",
        title="Packaging Without Tears",
        number=212,
        duration=3600,
        summary="From the page.",
        people=(
            Person("cyd marsh", "host", href="https://cyd.example/"),
            Person("Eve Park", "guest"),
        ),
        chapters=(Chapter(0, "Intro"),),
        links=("https://b.example/", "https://a.example/"),
    )
    merged = merge(feed, page)
    assert merged == Episode(
        show="Snake Charmers Radio",
        title="Packaging",
        guid="sc-212",
        number=212,
        duration=3723,
        summary="From the page.",
        people=(
            Person("Ada Quill", "host"),
            Person("Cyd Marsh", "guest", href="https://cyd.example/"),
            Person("Eve Park", "guest"),
        ),
        chapters=(Chapter(0, "Intro"),),
        links=("https://a.example/", "https://b.example/"),
    )


def test_merge_keeps_the_primary_chapters_when_it_has_some() -> None:
    feed = dataclasses.replace(EP, chapters=(Chapter(0, "Feed intro"),))
    page = dataclasses.replace(EP, chapters=(Chapter(0, "Page intro"), Chapter(60, "More")))
    assert merge(feed, page).chapters == (Chapter(0, "Feed intro"),)
    assert merge(EP, page).chapters == page.chapters


def test_merge_explicit_false_is_not_empty() -> None:
    assert (
        merge(
            dataclasses.replace(EP, explicit=False), dataclasses.replace(EP, explicit=True)
        ).explicit
        is False
    )


def test_sponsors_merge_by_name_and_by_registrable_domain() -> None:
    feed = dataclasses.replace(
        EP,
        sponsors=(
            Sponsor("Acme", url="https://www.acme.example/pod", start=300, confidence=0.6),
            Sponsor("Bolt VPN", promo_code="CHARM", confidence=0.9),
        ),
    )
    transcript = dataclasses.replace(
        EP,
        sponsors=(
            Sponsor("ACME Cloud", url="https://go.acme.example/x", start=95, offer="2 months free"),
            Sponsor("bolt vpn", url="https://bolt.example/", start=1800, confidence=0.4),
            Sponsor("Crate", url="https://bit.ly/crate"),
            Sponsor("Dune", url="https://bit.ly/dune"),
        ),
    )
    assert merge(feed, transcript).sponsors == (
        Sponsor(
            "Acme",
            url="https://www.acme.example/pod",
            offer="2 months free",
            start=95,
            confidence=0.6,
        ),
        Sponsor(
            "Bolt VPN", url="https://bolt.example/", promo_code="CHARM", start=1800, confidence=0.9
        ),
        # a shortener's domain says nothing about the brand
        Sponsor("Crate", url="https://bit.ly/crate"),
        Sponsor("Dune", url="https://bit.ly/dune"),
    )


def test_sponsor_merging_repeats_until_stable() -> None:
    """A combined mention can match one it did not match before."""
    merged = merge_sponsors(
        [
            Sponsor("Foo"),
            Sponsor("Bar", url="https://bar.example/"),
            Sponsor("foo", url="https://shop.bar.example/"),
        ]
    )
    assert merged == (Sponsor("Foo", url="https://shop.bar.example/"),)


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("https://www.shop.example.co.uk/x", "example.co.uk"),
        ("https://a.b.github.io/", "b.github.io"),
        ("go.acme.example/path", "acme.example"),
        ("https://127.0.0.1:8080/", "127.0.0.1"),
        ("not a url at all", None),
        ("http://[::1", None),
        (None, None),
    ],
)
def test_registrable_domain(url: str | None, domain: str | None) -> None:
    assert registrable_domain(url) == domain


_TEXT = st.text(max_size=20)
_URLS = st.one_of(
    st.none(), st.sampled_from(["https://a.example/x", " https://b.example/ ", "", "  "])
)
_EPISODES = st.builds(
    Episode,
    show=_TEXT,
    title=_TEXT,
    guid=st.one_of(st.none(), _TEXT),
    number=st.one_of(st.none(), st.integers(-5, 500)),
    season=st.one_of(st.none(), st.integers(-5, 50)),
    published=st.one_of(
        st.none(),
        st.datetimes(
            min_value=datetime(1990, 1, 1),
            max_value=datetime(2100, 1, 1),
            timezones=st.sampled_from([UTC, CET, timezone(timedelta(hours=-8))]),
        ),
    ),
    duration=st.one_of(st.none(), st.integers(-10, 10_000)),
    link=_URLS,
    enclosure=st.one_of(
        st.none(),
        st.builds(Enclosure, url=st.sampled_from(["https://a.example/a.mp3", " ", ""]), length=st.one_of(st.none(), st.integers(-5, 5))),
    ),
    summary=st.one_of(st.none(), _TEXT),
    people=st.lists(
        st.builds(Person, name=_TEXT, role=st.sampled_from(["host", "guest"]), href=_URLS), max_size=4
    ).map(tuple),
    chapters=st.lists(st.builds(Chapter, start=st.integers(-5, 100), title=_TEXT), max_size=4).map(tuple),
    sponsors=st.lists(
        st.builds(
            Sponsor,
            name=st.sampled_from(["Acme", "acme", "Bolt", "", " Crate "]),
            url=st.one_of(st.none(), st.sampled_from(["https://acme.example/", "https://go.bolt.example/", "https://bit.ly/x"])),
            start=st.one_of(st.none(), st.integers(0, 100)),
            confidence=st.floats(0, 1),
        ),
        max_size=5,
    ).map(tuple),
    links=st.lists(st.sampled_from(["https://a.example/", " https://a.example/", "", "https://b.example/"]), max_size=4).map(tuple),
)  # fmt: skip


@given(_EPISODES)
def test_normalising_twice_changes_nothing(ep: Episode) -> None:
    once = normalise(ep)
    assert normalise(once) == once
    assert content_hash(normalise(once)) == content_hash(once)


@given(_EPISODES)
def test_content_hash_is_the_hash_of_the_episode_as_a_dict(ep: Episode) -> None:
    """Hashes already stored stay comparable: the same canonical JSON as dataclasses.asdict."""
    payload = json.dumps(
        dataclasses.asdict(ep),
        sort_keys=True,
        ensure_ascii=True,
        separators=(",", ":"),
        default=lambda d: d.isoformat(),
    )
    assert content_hash(ep) == hashlib.sha256(payload.encode("ascii")).hexdigest()


@given(_EPISODES)
def test_identity_is_stable_under_normalising(ep: Episode) -> None:
    assert identity_key(normalise(ep)) == identity_key(ep)
    assert identity_key(dataclasses.replace(ep)) == identity_key(ep)


@given(_EPISODES, _EPISODES)
def test_merge_is_normalised_and_keeps_the_primary(primary: Episode, other: Episode) -> None:
    merged = merge(primary, other)
    assert normalise(merged) == merged
    assert merge(primary, primary) == normalise(primary)
    base = normalise(primary)
    if base.guid:
        assert merged.guid == base.guid
    if base.title:
        assert merged.title == base.title
    assert {p.name.casefold() for p in base.people} <= {p.name.casefold() for p in merged.people}


def test_a_date_beyond_tomorrow_is_not_believed() -> None:
    from aggregator.normalise import believable_dates

    now = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    future = Episode(show="S", title="T", published=datetime(2500, 1, 1, tzinfo=UTC))
    tonight = Episode(show="S", title="T", published=datetime(2026, 1, 11, 6, 0, tzinfo=UTC))
    assert believable_dates(future, now).published is None
    assert believable_dates(tonight, now) == tonight


def test_a_megabyte_title_is_cut_to_500_characters_once() -> None:
    ep = normalise(Episode(show="S", title="word " * 200_000))
    assert len(ep.title) <= 500
    assert ep.title.endswith("…")
    assert normalise(ep) == ep
