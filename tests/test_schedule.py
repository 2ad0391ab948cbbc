import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from aggregator.schedule import MAX_BACKOFF, Bounds, median_gap, next_check, posting_interval

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
B = Bounds()


def test_no_history_uses_the_default_interval():
    due = next_check(NOW, bounds=B, rng=random.Random(1))
    assert timedelta(minutes=54) <= due - NOW <= timedelta(minutes=66)


def test_daily_show_is_checked_every_three_hours():
    days = [NOW - timedelta(days=i) for i in range(10)]
    gap = median_gap(days)
    assert gap == timedelta(days=1)
    assert posting_interval(gap, B) == timedelta(hours=3)


def test_weekly_show_daily_checks_and_the_bounds_hold():
    weekly = median_gap([NOW - timedelta(weeks=i) for i in range(5)])
    monthly = median_gap([NOW - timedelta(weeks=4 * i) for i in range(5)])
    hourly = median_gap([NOW - timedelta(hours=i) for i in range(5)])
    assert posting_interval(weekly, B) == timedelta(hours=21)
    assert posting_interval(monthly, B) == B.maximum
    assert posting_interval(hourly, B) == B.minimum


def test_median_gap_ignores_missing_and_duplicate_dates():
    assert median_gap([None, NOW, NOW]) is None
    assert median_gap([NOW, None, NOW - timedelta(hours=10)]) == timedelta(hours=10)


def test_ttl_and_max_age_raise_the_interval():
    due = next_check(NOW, bounds=B, ttl=timedelta(hours=6), rng=random.Random(2))
    assert timedelta(hours=5.4) <= due - NOW <= timedelta(hours=6.6)
    due = next_check(NOW, bounds=B, max_age=timedelta(hours=4), rng=random.Random(2))
    assert timedelta(hours=3.6) <= due - NOW <= timedelta(hours=4.4)


def test_retry_after_is_honoured():
    later = NOW + timedelta(hours=5)
    assert next_check(NOW, bounds=B, retry_after=later, rng=random.Random(3)) == later


def test_failures_back_off_exponentially_up_to_a_week():
    rng = random.Random(4)
    d1 = next_check(NOW, bounds=B, failures=1, rng=rng) - NOW
    d3 = next_check(NOW, bounds=B, failures=3, rng=rng) - NOW
    assert timedelta(hours=1.8) <= d1 <= timedelta(hours=2.2)
    assert timedelta(hours=7.2) <= d3 <= timedelta(hours=8.8)
    assert next_check(NOW, bounds=B, failures=40, rng=rng) - NOW <= MAX_BACKOFF


@given(
    gap_s=st.none() | st.integers(1, 10**8),
    ttl_s=st.none() | st.integers(1, 10**7),
    failures=st.integers(0, 100),
    seed=st.integers(0, 2**32),
)
def test_next_check_always_lands_in_bounds(gap_s, ttl_s, failures, seed):
    due = next_check(
        NOW,
        bounds=B,
        gap=timedelta(seconds=gap_s) if gap_s else None,
        ttl=timedelta(seconds=ttl_s) if ttl_s else None,
        failures=failures,
        rng=random.Random(seed),
    )
    cap = MAX_BACKOFF if failures else B.maximum
    assert NOW + B.minimum <= due <= NOW + cap
