"""Properties of extraction over generated documents: it never raises on arbitrary text or
HTML, and what it finds does not depend on how words are spaced."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.extract import extract_document, mentions, people, selfpromo
from aggregator.extract.names import person_at
from aggregator.extract.text import Joined, fold, key, long_key, may_match, plain
from aggregator.model import ParseError
from aggregator.parse import html as html_reader
from aggregator.parse.html import read_html
from aggregator.parse.markdown import read_markdown
from aggregator.parse.transcript import read_transcript

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Words that make the rules fire, so generated documents reach the interesting paths.
VOCABULARY = [
    "sponsored",
    "by",
    "brought",
    "to",
    "you",
    "thanks",
    "for",
    "sponsoring",
    "supporting",
    "the",
    "show",
    "episode",
    "Support",
    "this",
    "comes",
    "from",
    "our",
    "sponsor",
    "is",
    "Sponsors:",
    "Sponsor:",
    "use",
    "code",
    "promo",
    "SAVE20",
    "that's",
    "S",
    "A",
    "V",
    "E",
    "all",
    "one",
    "word",
    "Patreon",
    "newsletter",
    "course",
    "my",
    "guest",
    "today",
    "Guest:",
    "joined",
    "with",
    "I'm",
    "Ada",
    "Moss",
    "Bo",
    "Paz",
    "Quillary",
    "Fenmoor",
    "Cloud",
    "quillary.example/show",
    "GitHub",
    "Sponsors",
    "fiscal",
    "employer",
    "trip",
    "Episode",
    "12:",
    "#7",
    "S2E3",
    "Published",
    "2024-03-04",
    "Recorded",
    "Aired",
    "June",
    "3,",
    "2024",
    "00:01",
    "[00:10:00]",
    "HOST:",
    "ADA:",
    "-",
    "–",
    "·",
    "|",
    ".",
    ",",
    "?",
    "and",
    "&",
    "welcome",
    "Hello",
    "Welcome",
    "We",
    "have",
    "on",
    "Chapters:",
    "Ad",
    "break",
]
words = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=14)
lines = st.lists(words, min_size=1, max_size=10)


def _output(data: bytes, filename: str) -> list[dict[str, object]]:
    return [ep.as_json() for ep in extract_document(data, filename=filename)]


def _text(doc: list[list[str]], space: str, newline: str) -> str:
    return newline.join(space.join(line) for line in doc)


@FAST
@given(st.text(max_size=2000), st.sampled_from(["x.txt", "x.md", "x.html", "x.vtt", "x.json"]))
def test_arbitrary_text_never_raises(text: str, filename: str) -> None:
    try:
        episodes = extract_document(text.encode("utf-8", "surrogatepass"), filename=filename)
    except ParseError:
        return  # only a document that looks like a feed may be refused, with our own error
    assert len(episodes) == 1


@FAST
@given(st.binary(max_size=1500))
def test_arbitrary_bytes_never_break_the_readers(data: bytes) -> None:
    read_html(data)
    read_markdown(data)
    read_transcript(data)


TAGS = [
    "p",
    "div",
    "li",
    "ul",
    "h2",
    "h3",
    "strong",
    "span",
    "article",
    "main",
    "nav",
    "footer",
    "aside",
    "section",
    "td",
    "tr",
    "table",
    "time",
    "b",
    "em",
    "blockquote",
]


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(st.sampled_from(TAGS), st.lists(children, max_size=4)).map(
            lambda t: f"<{t[0]}>{''.join(t[1])}</{t[0]}>"
        ),
        st.tuples(
            st.sampled_from(["https://quillary.example/a?utm_source=x", "/rel", "mailto:x"]),
            children,
        ).map(lambda t: f'<a href="{t[0]}">{t[1]}</a>'),
    )


html_text = st.recursive(
    st.one_of(words.map(" ".join), st.just("<br>"), st.just("<img alt='Banner'>")),
    _element,
    max_leaves=30,
)


@FAST
@given(html_text)
def test_random_html_never_raises(html: str) -> None:
    [episode] = _output(html.encode(), "x.html")
    assert isinstance(episode["sponsors"], list)


@FAST
@given(lines)
def test_transcript_output_ignores_doubled_spaces_and_newlines(doc: list[list[str]]) -> None:
    single = _text(doc, " ", "\n").encode()
    double = _text(doc, "  ", "\n\n").encode()
    assert _output(single, "x.txt") == _output(double, "x.txt")


@FAST
@given(lines)
def test_html_output_ignores_doubled_spaces_and_newlines(doc: list[list[str]]) -> None:
    def page(space: str, newline: str) -> bytes:
        paragraphs = newline.join(f"<p>{space.join(line)}</p>" for line in doc)
        return f"<html>{newline}<body>{newline}{paragraphs}{newline}</body></html>".encode()

    assert _output(page(" ", "\n"), "x.html") == _output(page("  ", "\n\n"), "x.html")


@FAST
@given(lines)
def test_markdown_output_ignores_doubled_spaces(doc: list[list[str]]) -> None:
    single = ("Title: Generated\n\n" + _text(doc, " ", "\n\n")).encode()
    double = ("Title: Generated\n\n" + _text(doc, "  ", "\n\n")).encode()
    assert _output(single, "x.md") == _output(double, "x.md")


# Each pattern that runs only where its gate words are (in the text as the rule reads it).
GATED = [
    *((p, n, people._plain) for p, n in people._GUEST_RULES),
    (people._JOINS, people._JOINS_NEEDS, people._plain),
    *((p, n, people._plain) for p, n in people._HOST_RULES),
    (people._SELF_INTRO, people._SELF_INTRO_NEEDS, people._plain),
    (selfpromo._PLATFORM_TEXT, selfpromo._PLATFORM_NEEDS, fold),
    *((p, n, fold) for p, n in zip(selfpromo._RULES, selfpromo._RULE_NEEDS, strict=True)),
    *((p, n, plain) for p, _score, _strong, n in mentions._FORWARD),
    *((p, n, plain) for p, n in mentions._BACKWARD),
]


@pytest.mark.parametrize(
    ("pattern", "needs", "view"), GATED, ids=lambda x: getattr(x, "pattern", "")[:24]
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_pattern_gates_admit_every_match(
    pattern: re.Pattern[str],
    needs: tuple[tuple[str, ...], ...],
    view: Callable[[str], str],
    data: st.DataObject,
) -> None:
    """A block skips a pattern on its gate words: any text the pattern matches has them."""
    text = data.draw(st.from_regex(pattern))
    assert may_match(view(text), needs), text


NAME_PARTS = [
    "Jane",
    "J.",
    "Doe",
    "Ómar",
    "van",
    "de",
    "the",
    "and",
    "of",
    "3M",
    "I",
    "Dr.",
    "\n",
    "\t",
]


@FAST
@given(st.lists(st.sampled_from(NAME_PARTS), max_size=7), st.sampled_from([" ", "", ", "]))
def test_people_skip_only_blocks_where_no_name_can_be_read(parts: list[str], sep: str) -> None:
    """People finding reads only blocks with two capitalised words in a row: any name the
    name reader finds, anywhere in a text, is in such a text."""
    text = sep.join(parts)
    for pos in range(len(text)):
        for newline in (False, True):
            if person_at(text, pos, len(text), allow_newline=newline):
                assert people._NAME_PAIR.search(text), (text, pos)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_self_promotion_rules_all_need_one_of_the_words_checked_first(data: st.DataObject) -> None:
    pattern = data.draw(st.sampled_from([selfpromo._PLATFORM_TEXT, *selfpromo._RULES]))
    folded = fold(data.draw(st.from_regex(pattern)))
    assert any(word in folded for word in selfpromo._ANY_RULE), folded


@FAST
@given(
    st.lists(st.text(alphabet="ab \n", max_size=8), max_size=6), st.sampled_from(["a", "ab", "b a"])
)
def test_joined_texts_holding_a_word_are_those_holding_it_alone(
    texts: list[str], word: str
) -> None:
    want = {i for i, t in enumerate(texts) if word in t}
    assert Joined(texts, "\n").holding([word]) == want
    assert Joined(texts).holding([word]) == want


pieces = st.lists(
    st.tuples(st.text(alphabet="ab \t\u00a0\u200b\u2003", max_size=6), st.none(), st.booleans()),
    min_size=1,
    max_size=6,
)


@FAST
@given(pieces)
def test_a_line_without_links_cleans_as_its_pieces_would(
    line: list[tuple[str, None, bool]],
) -> None:
    text, spans, strong = html_reader._linked_text(line)
    assert (html_reader._plain_text(line), html_reader._strong(line)) == (text, strong)
    assert spans == []


@FAST
@given(st.text() | st.text(alphabet="AaÉéİıßﬁ²Ⅻ 0-_.\u0301"))
def test_keys_are_casefolded_unaccented_ascii_letters_and_digits(text: str) -> None:
    folded = unicodedata.normalize("NFKD", text).casefold()
    bare = "".join(c for c in folded if not unicodedata.combining(c))
    assert key(text) == long_key(text) == re.sub(r"[^0-9a-z]+", "", bare)
