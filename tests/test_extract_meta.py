"""Titles, numbers, shows, dates and people of pages and transcripts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from aggregator.extract.dates import parse_date, published_date
from aggregator.extract.headline import Headline, headline
from aggregator.extract.people import find_people
from aggregator.extract.titles import TitleParts, split_title
from aggregator.model import Person
from aggregator.parse.html import read_html
from aggregator.parse.transcript import read_transcript


def _page(body: str, head: str = "") -> str:
    return f"<html><head>{head}</head><body>{body}</body></html>"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            _page("<h1>Slow Tests</h1>", "<title>Episode 12: Slow Tests | Tidy Show</title>"),
            Headline("Slow Tests", 12, None, "Tidy Show"),
        ),
        (
            _page(
                "<h1><span>#205</span> Wide Tables</h1>",
                "<title>The Tidy Show #205: Wide Tables</title>",
            ),
            Headline("Wide Tables", 205, None, "The Tidy Show"),
        ),
        (
            _page(
                "<h1>Plain Title</h1>",
                "<meta property='og:site_name' content='Site'><title>Plain Title — Site</title>",
            ),
            Headline("Plain Title", None, None, "Site"),
        ),
        (
            _page(
                "<main><p>Episode 31 &middot; 44 min</p><h1>Title Here</h1>"
                "<p><a href='/e/30'>Episode 30: Older</a></p></main>"
            ),
            Headline("Title Here", 31, None, None),
        ),
        (
            _page("<h1>Title</h1><ul><li><a href='/e/9'>Episode 9: Other</a></li></ul>"),
            Headline("Title", None, None, None),
        ),
        (_page("<h1>S2E04 · Season Two</h1>"), Headline("Season Two", 4, 2, None)),
        (
            _page(
                "<h1>Numbered</h1>",
                "<script type='application/ld+json'>{\"@type\": "
                '"PodcastEpisode", "episodeNumber": "77", "partOfSeries": '
                '{"name": "LD Show"}}</script>',
            ),
            Headline("Numbered", 77, None, "LD Show"),
        ),
    ],
)
def test_page_headline(html: str, expected: Headline) -> None:
    assert headline(read_html(html)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Tidy Show — Episode 12: Slow Tests\nPublished: 2024-01-01\n\nA: hi\nA: bye",
            Headline("Slow Tests", 12, None, "Tidy Show"),
        ),
        (
            "TIDY SHOW — Episode 8\nLong Builds\nRecorded 2024-01-01\n\nA: hi\nA: bye",
            Headline("Long Builds", 8, None, "TIDY SHOW"),
        ),
        (
            "Naming Things with Ada Moss - Episode 54\n\nVisit our site to listen to more.",
            Headline("Naming Things with Ada Moss", 54, None, None),
        ),
        (
            "Tidy Show · S2E03 · Flaky Mocks\nFull transcript\n\nA: hi\nA: bye",
            Headline("Flaky Mocks", 3, 2, "Tidy Show"),
        ),
        (
            "Buy our sticker pack\n\n#44: Fast Imports Transcript\n\n00:01 Hello",
            Headline("Fast Imports", 44, None, None),
        ),
        (
            "← Back to Show Notes\n\nTranscript: Caching - Ada Moss\n\nHello.",
            Headline("Caching - Ada Moss", None, None, None),
        ),
    ],
)
def test_transcript_headline(text: str, expected: Headline) -> None:
    assert headline(read_transcript(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Posted on 3 March 2024 by someone", datetime(2024, 3, 3, tzinfo=UTC)),
        ("Aired June 18th, 2024", datetime(2024, 6, 18, tzinfo=UTC)),
        (
            "2024-03-28T09:00:00+02:00",
            datetime(2024, 3, 28, 9, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("Monday, Jan 8, 2024.", datetime(2024, 1, 8, tzinfo=UTC)),
        ("2024/02/30", None),
        ("no date here", None),
    ],
)
def test_parse_date(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (read_transcript("T\nRecorded 2024-02-27 · Published 2024-03-04\n\nA: hi"), "2024-03-04"),
        (read_transcript("T\nRecorded on Monday, Jan 8, 2024.\n\nA: hi"), "2024-01-08"),
        (read_transcript("T — Episode 1: X\n\nA: it was 2020-01-01 back then\nA: yes"), None),
        (
            read_html(
                _page(
                    "<h1>T</h1>",
                    "<meta property='article:published_time' "
                    "content='2024-05-05T10:00:00Z'><script type='application/ld+json'>"
                    '{"datePublished": "2024-05-04"}</script>',
                )
            ),
            "2024-05-04",
        ),
        (
            read_html(
                _page("<main><h1>T</h1><p><time datetime='2023-12-01'>Dec</time></p></main>")
            ),
            "2023-12-01",
        ),
        (
            read_html(_page("<div><h1>T</h1><p class='date'>2024-08-13</p><p>text</p></div>")),
            "2024-08-13",
        ),
    ],
)
def test_published_date(doc: object, expected: str | None) -> None:
    found = published_date(doc)  # type: ignore[arg-type]
    assert (found.date().isoformat() if found else None) == expected


def _guests(people: tuple[Person, ...]) -> list[str]:
    return [p.name for p in people if p.role == "guest"]


def _hosts(people: tuple[Person, ...]) -> list[str]:
    return [p.name for p in people if p.role == "host"]


@pytest.mark.parametrize(
    ("html", "guests"),
    [
        ("<p>Guest: <strong>Ada Moss</strong>, who writes parsers.</p>", ["Ada Moss"]),
        (
            "<p>This week Kim is joined by Ada Moss and Bo Lindgren-Paz.</p>",
            ["Ada Moss", "Bo Lindgren-Paz"],
        ),
        (
            "<p>Ada Moss and Trần Văn An on why names are hard. We talk a lot.</p>",
            ["Ada Moss", "Trần Văn An"],
        ),
        ("<p>Our guest this week is <b>Dr. Ada Moss</b>.</p>", ["Ada Moss"]),
        (
            "<h2>Guests</h2><ul><li><a href='https://a.example'>Ada Moss</a> – parsers</li>"
            "<li>Bo Paz – lexers</li></ul>",
            ["Ada Moss", "Bo Paz"],
        ),
        ("<p>This week, Anjali Rao joins us to talk about queues.</p>", ["Anjali Rao"]),
        ("<p>Today's guest, Ola Nordmann, builds tools.</p>", ["Ola Nordmann"]),
        ("<p>In conversation with Mei Tanaka-Brooks.</p>", ["Mei Tanaka-Brooks"]),
        ("<p>With me today is Leonor Carvalho.</p>", ["Leonor Carvalho"]),
        ("<p>Kim and Lou read your letters. Nobody else is here.</p>", []),
        ("<p>Type Checking Tools explained in depth.</p>", []),
    ],
)
def test_guests_in_show_notes(html: str, guests: list[str]) -> None:
    people = find_people(read_html(html, fragment=True), title="An Episode")
    assert _guests(people) == guests


def test_hosts_are_never_guests() -> None:
    html = "<p>Hosts: Kim Ashby &amp; Lou Brandt</p><p>Kim Ashby is joined by Ada Moss.</p>"
    people = find_people(
        read_html(html, fragment=True), title="T", known=(Person("Lou Brandt", "host"),)
    )
    assert _hosts(people) == ["Lou Brandt", "Kim Ashby"]
    assert _guests(people) == ["Ada Moss"]


def test_guest_named_in_the_title() -> None:
    people = find_people(
        read_html("<p>Some notes.</p>", fragment=True), title="Async Tricks with Ada Moss"
    )
    assert _guests(people) == ["Ada Moss"]


def test_transcript_people() -> None:
    text = (
        "Show — Episode 3: Three\n\n"
        "00:00 Kim Ashby: Welcome to Show. I'm Kim Ashby, and joining me today is Ada Moss, "
        "who builds compilers.\n"
        "00:10 Ada Moss: Thanks Kim.\n"
        "00:20 Kim Ashby: Let's start.\n"
    )
    people = find_people(read_transcript(text), title="Three")
    assert _hosts(people) == ["Kim Ashby"]
    assert _guests(people) == ["Ada Moss"]


def test_panel_listed_without_commas_in_a_transcript() -> None:
    text = (
        "Panel — Episode 9: Nine\n\n"
        "00:10 On this episode we have Ada Moss Bo Paz Cy Lund\n"
        "00:15 Dee Ray and Eve Stone on to share their stories.\n"
    )
    people = find_people(read_transcript(text), title="Nine")
    assert _guests(people) == ["Ada Moss", "Bo Paz", "Cy Lund", "Dee Ray", "Eve Stone"]


def test_a_guest_named_by_initial_is_the_guest_of_the_title() -> None:
    text = "Transcript: Caching - Ada Moss\n\nAnd this week we've got special guest A. Moss.\n"
    people = find_people(read_transcript(text), title="Caching - Ada Moss")
    assert _guests(people) == ["Ada Moss"]


def test_a_title_prefixed_with_the_shows_initials() -> None:
    assert split_title("NHH #88 — P-Values", "Null Hypothesis Hour") == TitleParts("P-Values", 88)
    assert split_title("TQS 4: Quiet", "The Quiet Show") == TitleParts("Quiet", 4)
    assert split_title("AI: Hype", "Applied Intelligence") == TitleParts("AI: Hype")
