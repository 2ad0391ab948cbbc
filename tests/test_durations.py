"""itunes:duration and chapter offsets to seconds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.extract.durations import MAX_SECONDS, parse_duration, parse_timestamp


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1:02:03", 3723),
        ("3723", 3723),
        ("62:03", 3723),
        ("1:02", 62),
        ("00:45:00.5", 2700),
        (" 3723 ", 3723),
        ("3723.9", 3723),
        ("PT1H2M3S", 3723),
        ("pt45m", 2700),
        ("1h 2m 3s", 3723),
        ("45 min", 2700),
        ("90s", 90),
        ("100:00:00", MAX_SECONDS),
        # garbage, zero, and the impossible
        ("garbage", None),
        ("", None),
        (None, None),
        ("0", None),
        ("00:00:00", None),
        ("-5", None),
        ("1:75:00", None),
        ("1:02:75", None),
        ("1:2:3:4", None),
        ("12:", None),
        ("100:00:01", None),
        ("9999999", None),
    ],
)
def test_duration(value: str | None, seconds: int | None) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("00:00:00.000", 0), ("0", 0), ("00:01:30.000", 90), ("05:00", 300), ("bogus", None)],
)
def test_timestamp_allows_zero(value: str, seconds: int | None) -> None:
    assert parse_timestamp(value) == seconds


@given(st.text(max_size=40))
def test_never_raises_and_stays_in_range(value: str) -> None:
    seconds = parse_duration(value)
    assert seconds is None or 0 < seconds <= MAX_SECONDS


@given(st.integers(0, 99), st.integers(0, 59), st.integers(0, 59))
def test_clock_values_round_trip(h: int, m: int, s: int) -> None:
    total = h * 3600 + m * 60 + s
    assert parse_timestamp(f"{h:02d}:{m:02d}:{s:02d}") == total
    assert parse_timestamp(str(total)) == total
