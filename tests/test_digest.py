"""Digest selection, grouping and rendering: pure functions over a fixture file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aggregator import digest as d
from aggregator.config import DigestSettings, default_templates_dir
from aggregator.model import Enclosure, Episode, Person, Sponsor

DATA = Path(__file__).parent / "data" / "digest"


def load_episodes(name: str = "episodes.json") -> list[Episode]:
    raw: list[dict[str, Any]] = json.loads((DATA / name).read_text(encoding="utf-8"))["episodes"]
    return [
        Episode(
            show=e["show"],
            title=e["title"],
            number=e["number"],
            published=datetime.fromisoformat(e["published"]),
            duration=e["duration"],
            link=e["link"],
            enclosure=Enclosure(e["enclosure"]) if e["enclosure"] else None,
            transcript_url=e.get("transcript_url"),
            people=tuple(Person(name, role=role) for name, role in e["people"]),
            summary=e["summary"],
            description_html=e.get("description_html"),
            sponsors=tuple(
                Sponsor(name, promo_code=code, offer=offer, kind=kind)
                for name, code, offer, kind in e["sponsors"]
            ),
        )
        for e in raw
    ]


def settings(**kw: Any) -> DigestSettings:
    return DigestSettings(**{"name": "daily", "to": ["reader@example.org"], **kw})


@pytest.fixture(scope="module")
def episodes() -> list[Episode]:
    return load_episodes()


@pytest.fixture(scope="module")
def env() -> Any:
    return d.make_env(default_templates_dir())


def test_groups_shows_by_newest_episode_and_episodes_newest_first(
    episodes: list[Episode],
) -> None:
    groups = d.group_by_show(episodes)
    assert [g.show for g in groups] == ["Tidal Notes", "Café Über Alles", "Spreadsheet Nights"]
    assert [e.number for e in groups[0].episodes] == [41, 40]


def test_episode_view_formats_everything_a_reader_needs(episodes: list[Episode]) -> None:
    v = d.episode_view(episodes[0])
    assert v.meta == ("#41", "Mon 4 Mar 2024", "0:46")
    assert v.url == "https://tidal.example/41"
    assert v.guests == ("Marguerite Okonjo-Ibáñez",)
    assert [(link.label, link.url) for link in v.links] == [
        ("Episode page", "https://tidal.example/41"),
        ("Audio", "https://cdn.tidal.example/41.mp3"),
        ("Transcript", "https://tidal.example/41/transcript"),
    ]
    assert [(s.name, s.promo_code, s.offer, s.own) for s in v.sponsors] == [
        ("Loamwell Boots", "TIDAL15", "15% off your first pair", False),
        ("Tidal Notes Supporters", None, None, True),
    ]


def test_episode_date_is_the_sources_own_day() -> None:
    evening = datetime.fromisoformat("2024-03-04T23:30:00-05:00")  # already Tuesday in UTC
    late = Episode(show="S", title="T", published=evening)
    assert d.episode_view(late).date == "Mon 4 Mar 2024"


def test_non_web_links_are_dropped_and_html_notes_become_the_summary(
    episodes: list[Episode],
) -> None:
    v = d.episode_view(episodes[1])
    assert v.url == "https://cdn.tidal.example/40.mp3"
    assert [link.label for link in v.links] == ["Audio"]
    assert v.summary == "Escaping, explained & demonstrated."


def test_long_summary_is_cut_at_a_word_boundary(episodes: list[Episode]) -> None:
    full = episodes[2].summary
    assert full is not None and len(full) > d.SUMMARY_CHARS
    short = d.short_summary(episodes[2])
    assert short is not None and short.endswith("…")
    body = short.removesuffix("…")
    assert len(body) <= d.SUMMARY_CHARS
    assert full.startswith(body)
    assert full[len(body)] in " ,.;"  # the cut falls between words


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(59, "0:01"), (89, "0:01"), (90, "0:02"), (3540, "0:59"), (3599, "1:00"), (5430, "1:31")],
)
def test_duration_reads_as_hours_and_minutes(seconds: int, expected: str) -> None:
    assert d.format_duration(seconds) == expected


@pytest.mark.parametrize(
    ("filters", "titles"),
    [
        ({}, ["Salt marshes", "Why <script>", "Crème brûlée", "Pivot tables"]),
        ({"shows": {"include": ["tidal notes"]}}, ["Salt marshes", "Why <script>"]),
        ({"shows": {"exclude": ["CAFÉ ÜBER ALLES"]}}, ["Salt", "Why", "Pivot"]),
        ({"keywords": {"include": ["HERON", "pivot"]}}, ["Salt marshes", "Pivot tables"]),
        ({"keywords": {"exclude": ["disaster"]}}, ["Salt", "Why", "Pivot"]),
        (
            {"shows": {"include": ["Tidal Notes"]}, "keywords": {"exclude": ["script"]}},
            ["Salt marshes"],
        ),
    ],
)
def test_filters_on_shows_and_keywords_ignore_case(
    episodes: list[Episode], filters: dict[str, Any], titles: list[str]
) -> None:
    chosen = d.select(episodes, settings(**filters))
    assert len(chosen) == len(titles)
    assert all(e.title.startswith(t) for e, t in zip(chosen, titles, strict=True))


def test_first_digest_looks_back_one_schedule_period() -> None:
    daily = settings(schedule="0 7 * * *", timezone="Europe/Berlin")
    fire = datetime(2024, 3, 5, 6, 0, tzinfo=UTC)  # 07:00 in Berlin (CET, +01:00)
    w = d.window(daily, fire, None)
    assert (w.start, w.end) == (datetime(2024, 3, 4, 6, 0, tzinfo=UTC), fire)
    weekly = settings(schedule="0 8 * * mon")
    monday = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)
    assert d.window(weekly, monday, None).start == datetime(2024, 2, 26, 8, 0, tzinfo=UTC)


def test_later_digests_start_at_the_watermark() -> None:
    mark = datetime(2024, 3, 3, 12, 34, tzinfo=UTC)
    w = d.window(settings(), datetime(2024, 3, 5, 7, 0, tzinfo=UTC), mark)
    assert w.start == mark


def test_period_key_is_the_fire_time_in_the_digest_zone() -> None:
    berlin = settings(timezone="Europe/Berlin")
    fire = datetime(2024, 3, 5, 6, 0, tzinfo=UTC)
    assert d.period_key(berlin, fire) == "2024-03-05T07:00:00+01:00"


@pytest.mark.parametrize(
    ("schedule", "now", "expected"),
    [
        ("0 7 * * *", datetime(2024, 3, 5, 6, 0, 0, 5000, tzinfo=UTC), datetime(2024, 3, 5, 6, 0)),
        ("0 7 * * *", datetime(2024, 3, 5, 5, 59, tzinfo=UTC), datetime(2024, 3, 4, 6, 0)),
        ("0 7 * * *", datetime(2024, 3, 5, 11, 0, tzinfo=UTC), datetime(2024, 3, 5, 6, 0)),
        ("0 8 * * mon", datetime(2024, 3, 7, 12, 0, tzinfo=UTC), datetime(2024, 3, 4, 7, 0)),
        ("0 6 1 * *", datetime(2024, 3, 20, 0, 0, tzinfo=UTC), datetime(2024, 3, 1, 5, 0)),
    ],
)
def test_last_fire_time_is_the_latest_run_not_after_now(
    schedule: str, now: datetime, expected: datetime
) -> None:
    digest = settings(schedule=schedule, timezone="Europe/Berlin")
    assert d.last_fire_time(digest, now) == expected.replace(tzinfo=UTC)


def _view(episodes: list[Episode], digest: DigestSettings | None = None) -> d.DigestView:
    digest = digest or settings(timezone="Europe/Berlin")
    end = datetime(2024, 3, 5, 6, 0, tzinfo=UTC)
    return d.build_view(
        digest,
        episodes,
        window=d.Window(end - timedelta(days=1), end),
        period="2024-03-05T07:00:00+01:00",
        recipient="reader@example.org",
        sender="digest@example.org",
    )


def test_default_subject_counts_episodes_and_shows(episodes: list[Episode]) -> None:
    assert _view(episodes).subject == "4 new episodes from 3 shows"
    assert _view(episodes[:1]).subject == "1 new episode from 1 show"


def test_subject_template_sees_digest_period_and_shows(episodes: list[Episode]) -> None:
    digest = settings(subject="Früh & {{ digest }}: {{ shows|join(', ') }}\n({{ period[:10] }})")
    view = _view(episodes[2:], digest)
    # Plain text, never HTML-escaped; a line break cannot split the header.
    assert view.subject == "Früh & daily: Café Über Alles, Spreadsheet Nights (2024-03-05)"


def test_html_part_escapes_titles_inlines_css_and_keeps_dark_mode(
    episodes: list[Episode], env: Any
) -> None:
    html = d.render(env, _view(episodes)).html
    assert "<script" not in html
    assert "Why &lt;script&gt;alert(" in html
    assert "javascript:" not in html
    assert "@media (prefers-color-scheme: dark)" in html
    assert 'name="color-scheme" content="light dark"' in html
    assert "max-width: 640px" in html
    assert '<body style="' in html  # CSS inlined for clients that drop <style>
    assert "<img" not in html
    assert "Crème brûlée for 200" in html and "Søren Ærø, Ünal Çelik" in html
    assert html.index("Salt marshes") < html.index("Why &lt;script") < html.index("Crème")
    assert 'href="mailto:digest@example.org?subject=unsubscribe%20daily"' in html


def test_text_part_says_the_same_as_the_html(episodes: list[Episode], env: Any) -> None:
    text = d.render(env, _view(episodes)).text
    assert "4 new episodes from 3 shows" in text
    assert "Mon 4 Mar 2024, 07:00 CET to Tue 5 Mar 2024, 07:00 CET" in text
    order = [
        "Tidal Notes",
        "Salt marshes at night",
        "#41 · Mon 4 Mar 2024 · 0:46",
        "With Marguerite Okonjo-Ibáñez",
        "Sponsors: Loamwell Boots, code TIDAL15: 15% off your first pair; Tidal\nNotes",
        "Supporters (from the show)",
        "Transcript: https://tidal.example/41/transcript",
        "Why <script>alert('x')</script> never ran on our website",
        "Café Über Alles",
        "Spreadsheet Nights",
        "Sponsors: Gridline, code NIGHTS",
    ]
    positions = [text.index(s) for s in order]
    assert positions == sorted(positions)
    assert "reader@example.org is listed in the" in text
    assert 'subject "unsubscribe daily"' in text


def test_empty_digest_says_so(env: Any) -> None:
    rendered = d.render(env, _view([]))
    assert "Nothing new this time." in rendered.text
    assert "Nothing new this time." in rendered.html
    assert rendered.subject == "0 new episodes from 0 shows"


def test_self_promotion_and_offers_are_labelled() -> None:
    ep = Episode(
        show="S",
        title="T",
        sponsors=(Sponsor("Own Course", kind="self_promo", url="ftp://nope.example"),),
    )
    (s,) = d.episode_view(ep).sponsors
    assert (s.name, s.own, s.url) == ("Own Course", True, None)
