"""Durations and time offsets as feeds write them, to whole seconds.

``itunes:duration`` is free text in practice: "1:02:03", "62:03", "3723", "00:45:00.5",
sometimes "1h 2m" or ISO 8601 "PT1H2M3S". Anything else is unknown (None), never an error.
"""

from __future__ import annotations

import re

# Longer than this is a typo or a placeholder, not an episode (and would overflow int32).
MAX_SECONDS = 100 * 3600

_CLOCK = re.compile(r"(?:(\d{1,3}):)??(?:(\d{1,4}):)?(\d{1,7})(?:[.,]\d+)?")
_UNITS = re.compile(
    r"(?:(\d{1,3})\s*h(?:ours?|rs?)?)?\s*(?:(\d{1,4})\s*m(?:in(?:utes?|s)?)?)?"
    r"\s*(?:(\d{1,7})(?:[.,]\d+)?\s*s(?:ec(?:onds?|s)?)?)?",
    re.IGNORECASE,
)
_ISO = re.compile(r"PT(?:(\d{1,3})H)?(?:(\d{1,4})M)?(?:(\d{1,7})(?:[.,]\d+)?S)?", re.IGNORECASE)


def parse_timestamp(value: str | None) -> int | None:
    """Seconds from a clock value ("01:30.000", "1:02:03", "90"), fractions truncated.

    Zero is a valid offset (a chapter at the start). Minutes and seconds after the leading
    field must be below 60; the leading field may be large ("62:03").
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    match = _CLOCK.fullmatch(text)
    if match:
        hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
        leading = match.group(1) or match.group(2)
        if match.group(1) and minutes >= 60:
            return None
        if leading and seconds >= 60:
            return None
        total = hours * 3600 + minutes * 60 + seconds
    else:
        match = _ISO.fullmatch(text) or _UNITS.fullmatch(text)
        if not match or not any(match.groups()):
            return None
        hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
        total = hours * 3600 + minutes * 60 + seconds
    return total if total <= MAX_SECONDS else None


def parse_duration(value: str | None) -> int | None:
    """An episode's length in seconds; zero, negative, garbage or absurd values give None."""
    seconds = parse_timestamp(value)
    return seconds if seconds else None
