"""Whole documents through ``extract_document`` / ``enrich_episode``, against hand-written
expectations beside each fixture (``case.ext`` + ``case.expected.json``).

An expected file lists only the fields it pins down; sponsors are matched by name and
kind, and every sponsor the extractor reports must be expected (no extras).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aggregator.extract import enrich_episode, extract_document
from aggregator.model import Episode, ParseError

DATA = Path(__file__).parent / "data"
CASES = sorted(
    p
    for folder in ("pages", "transcripts")
    for p in (DATA / folder).iterdir()
    if not p.name.endswith(".expected.json")
)


def _expected(path: Path) -> Any:
    return json.loads(path.with_name(path.stem + ".expected.json").read_text("utf-8"))


def _check(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for field, want in expected.items():
        if field == "sponsors":
            _check_sponsors(actual["sponsors"], want)
        else:
            assert actual[field] == want, field


def _check_sponsors(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    got = {(s["name"], s["kind"]): s for s in actual}
    assert set(got) == {(s["name"], s["kind"]) for s in expected}
    for want in expected:
        have = got[(want["name"], want["kind"])]
        for field, value in want.items():
            assert have[field] == value, f"{want['name']}: {field}"


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_document_matches_expectation(path: Path) -> None:
    episodes = extract_document(path.read_bytes(), filename=path.name)
    assert len(episodes) == 1
    _check(episodes[0].as_json(), _expected(path))


def test_feed_items_are_enriched_from_their_notes() -> None:
    path = DATA / "notes" / "feed.xml"
    episodes = extract_document(path.read_bytes(), filename=path.name)
    expected = _expected(path)
    assert len(episodes) == len(expected)
    for episode, want in zip(episodes, expected, strict=True):
        _check(episode.as_json(), want)


def test_enrich_episode_reads_show_notes_with_chapters_and_placement() -> None:
    notes = (DATA / "notes" / "fragment.html").read_text("utf-8")
    episode = Episode(
        show="Quiet Refactor", title="Accessible by Default", duration=2400, description_html=notes
    )
    enriched = enrich_episode(episode)
    _check(enriched.as_json(), _expected(DATA / "notes" / "fragment.html"))
    assert enriched.title == "Accessible by Default"  # what the feed said is kept


def test_show_argument_overrides_what_the_page_says() -> None:
    path = DATA / "pages" / "episode_page.html"
    [episode] = extract_document(path.read_bytes(), filename=path.name, show="My Name For It")
    assert episode.show == "My Name For It"


def test_duration_argument_places_sponsor_reads() -> None:
    path = DATA / "pages" / "episode_page.html"
    [episode] = extract_document(path.read_bytes(), filename=path.name, duration=1200)
    placed = {s.name: s.placement for s in episode.sponsors if s.kind == "sponsor"}
    assert placed == {"Brambleboard": "mid", "Quokka Mail": None, "Lanternlogs": None}


def test_a_feed_without_channel_or_items_raises_parse_error() -> None:
    with pytest.raises(ParseError):
        extract_document(b"<?xml version='1.0'?><rss version='2.0'></rss>", filename="f.xml")


def test_main_prints_the_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    from aggregator.extract.__main__ import main

    assert main([str(DATA / "transcripts" / "plain.txt")]) == 0
    doc = json.loads(capsys.readouterr().out)
    [episode] = doc["episodes"]
    assert episode["title"] == "Arenas and Allocators"
    assert {"show", "number", "published", "guests", "sponsors", "links"} <= episode.keys()
