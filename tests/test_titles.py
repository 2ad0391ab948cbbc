"""split_title: the episode's own title, its number and season, apart from decorations."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.extract.titles import MAX_NUMBER, TitleParts, split_title
from aggregator.sanitize import clean_text

SHOW = "Snake Charmers Radio"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Episode 63 - Testing in Anger", TitleParts("Testing in Anger", 63)),
        ("Episode 63: Testing in Anger", TitleParts("Testing in Anger", 63)),
        ("Episode #63 Testing in Anger", TitleParts("Testing in Anger", 63)),
        ("Ep. 12: Wheels", TitleParts("Wheels", 12)),
        ("Ep12 - Wheels", TitleParts("Wheels", 12)),
        ("ep 17 — Dashes", TitleParts("Dashes", 17)),
        ("#448: Open Source Panel", TitleParts("Open Source Panel", 448)),
        ("#448 - Open Source Panel", TitleParts("Open Source Panel", 448)),
        ("No. 5: Fifth", TitleParts("Fifth", 5)),
        ("E3: Recap", TitleParts("Recap", 3)),
        ("S2E04 · Async All the Way", TitleParts("Async All the Way", 4, 2)),
        ("S02E05: Unknown Zone", TitleParts("Unknown Zone", 5, 2)),
        ("Season 2, Episode 4: Long Form", TitleParts("Long Form", 4, 2)),
        ("s3 ep 9 - Lower", TitleParts("Lower", 9, 3)),
        ("087 - Leading Zeros", TitleParts("Leading Zeros", 87)),
        ("087: Leading Zeros", TitleParts("Leading Zeros", 87)),
        ("[Ep 7] Bracketed", TitleParts("Bracketed", 7)),
        ("(#12) Parenthesised", TitleParts("Parenthesised", 12)),
        ("Trailing Number (Episode 40)", TitleParts("Trailing Number", 40)),
        ("Trailing Number | Ep. 41", TitleParts("Trailing Number", 41)),
        ("Trailing Number - #42", TitleParts("Trailing Number", 42)),
        # only one decoration comes off: the rest is the title's own
        ("Episode 5: 10 - Things I Hate", TitleParts("10 - Things I Hate", 5)),
        # a decoration alone is the title
        ("Episode 63", TitleParts("Episode 63", 63)),
        ("#12", TitleParts("#12", 12)),
        # numbers that are part of the title stay
        ("2024 - A Year in Review", TitleParts("2024 - A Year in Review")),
        ("3.5 Ways to Fail", TitleParts("3.5 Ways to Fail")),
        ("10:30 Standup", TitleParts("10:30 Standup")),
        ("#1 Mistake Beginners Make", TitleParts("#1 Mistake Beginners Make")),
        ("Why Python is #1", TitleParts("Why Python is #1")),
        ("E3 Recap", TitleParts("E3 Recap")),
        ("Sept 12 Meetup", TitleParts("Sept 12 Meetup")),
        ("Episode 999999 - Too Big", TitleParts("Episode 999999 - Too Big")),
        # entities, double-escaped too
        ("Fish &amp;amp; Chips", TitleParts("Fish & Chips")),
        ("Caf&eacute; &#x26; Cr&#232;me", TitleParts("Café & Crème")),
        ("  Spaced \t out\n title ", TitleParts("Spaced out title")),
    ],
)
def test_decorations_move_out_of_the_title(raw: str, expected: TitleParts) -> None:
    assert split_title(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Typing | Snake Charmers Radio", TitleParts("Typing")),
        ("Typing - Snake Charmers Radio", TitleParts("Typing")),
        ("Typing — snake charmers radio", TitleParts("Typing")),
        ("Snake Charmers Radio: Typing", TitleParts("Typing")),
        ("Snake Charmers Radio #211: Typing", TitleParts("Typing", 211)),
        ("Snake Charmers Radio - Episode 211 - Typing", TitleParts("Typing", 211)),
        ("Episode 211 - Typing | Snake Charmers Radio", TitleParts("Typing", 211)),
        ("Typing (Episode 211) | Snake Charmers Radio", TitleParts("Typing", 211)),
        ("Snake Charmers Radio", TitleParts("Snake Charmers Radio")),
        ("Episode 211 | Snake Charmers Radio", TitleParts("Episode 211", 211)),
        ("Snake Charmers Radio Live", TitleParts("Snake Charmers Radio Live")),
        ("Charmers - Radio", TitleParts("Charmers - Radio")),
    ],
)
def test_show_name_comes_off(raw: str, expected: TitleParts) -> None:
    assert split_title(raw, SHOW) == expected


def test_aliases_are_show_names_too() -> None:
    parts = split_title("Typing | SCR Weekly", SHOW, aliases=["SCR Weekly"])
    assert parts == TitleParts("Typing")


def test_show_names_with_punctuation_match_loosely() -> None:
    assert split_title("Kernels - Coffee & Code", "Coffee &amp; Code!") == TitleParts("Kernels")
    assert split_title("Front-End Talk: Grids", "Front-End Talk") == TitleParts("Grids")


@given(st.text(max_size=120), st.one_of(st.none(), st.text(max_size=30)))
def test_title_is_a_non_empty_part_of_the_cleaned_input(raw: str, show: str | None) -> None:
    parts = split_title(raw, show)
    cleaned = clean_text(raw)
    assert parts.title in cleaned
    assert bool(parts.title) == bool(cleaned)
    assert parts.number is None or 0 <= parts.number <= MAX_NUMBER
    assert parts.season is None or parts.number is not None


def test_long_hostile_titles_stay_fast() -> None:
    raw = " - ".join(["x"] * 20_000) + " | " + SHOW
    assert split_title(raw, SHOW).title.endswith("x - x")
