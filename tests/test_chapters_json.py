"""Podcasting 2.0 JSON chapters."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.model import ParseError
from aggregator.parse.chapters import parse_chapters_json

DATA = Path(__file__).parent / "data" / "chapters"
CASES = sorted(p.stem for p in DATA.glob("*.json") if not p.stem.endswith(".expected"))


@pytest.mark.parametrize("case", CASES)
def test_chapters_file(case: str) -> None:
    chapters = parse_chapters_json((DATA / f"{case}.json").read_bytes())
    expected = json.loads((DATA / f"{case}.expected.json").read_text(encoding="utf-8"))
    assert [dataclasses.asdict(c) for c in chapters] == expected


@pytest.mark.parametrize(
    "data",
    [b"", b"not json", b"[]", b'{"version": "1.2.0"}', b'{"chapters": {}}', b"[" * 100_000],
)
def test_not_chapters_raise_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError):
        parse_chapters_json(data)


def test_empty_chapters_list() -> None:
    assert parse_chapters_json(b'{"version": "1.2.0", "chapters": []}') == ()


_JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["startTime", "title", "url", "toc", "chapters", "x"]), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_parse_error(data: bytes) -> None:
    try:
        chapters = parse_chapters_json(data)
    except ParseError:
        return
    assert all(c.title and c.start >= 0 for c in chapters)


@given(st.lists(_JSON, max_size=6))
def test_arbitrary_chapter_lists_never_raise(items: list[object]) -> None:
    chapters = parse_chapters_json(json.dumps({"chapters": items}).encode())
    assert [c.start for c in chapters] == sorted(c.start for c in chapters)
    assert all(c.title for c in chapters)
