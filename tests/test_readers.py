"""The readers: HTML pages, markdown notes, transcripts, and choosing between them."""

from __future__ import annotations

import json

import pytest

from aggregator.parse.detect import detect_kind
from aggregator.parse.html import read_html
from aggregator.parse.markdown import read_markdown, split_front_matter
from aggregator.parse.transcript import read_transcript

PAGE = b"""<!doctype html><html><head><meta charset="iso-8859-1">
<title>Ep 3 | Some Show</title>
<meta property="article:published_time" content="2024-02-01T10:00:00Z">
<script type="application/ld+json">{"@graph": [{"@type": "PodcastEpisode", "name": "Three",
 "episodeNumber": 3}]}</script></head>
<body><nav><a href="/">Home</a></nav>
<main><h1>Three</h1><p>Caf\xe9 talk with <a href="https://x.example/a">Ana Lima</a>.</p>
<p><strong>Sponsors</strong></p>
<ul><li><a href="https://b.example">Brand</a> &ndash; thing</li></ul>
<p>Line one<br>&bull; Line two</p>
<table><tr><td>01:00</td><td>Start</td></tr></table>
<p>Recorded <time datetime="2024-01-20">last month</time></p>
</main>
<aside class="related"><p>Other episode</p></aside>
<footer><p>Footer text</p></footer></body></html>"""


def test_html_keeps_structure_and_marks_chrome() -> None:
    doc = read_html(PAGE)
    main = [(b.kind, b.text) for b in doc.blocks if b.region == "main"]
    assert main == [
        ("heading", "Three"),
        ("para", "Café talk with Ana Lima."),
        ("heading", "Sponsors"),
        ("item", "Brand – thing"),
        ("para", "Line one"),
        ("item", "Line two"),
        ("row", "01:00 Start"),
        ("para", "Recorded last month"),
    ]
    chrome = {b.text for b in doc.blocks if b.region == "chrome"}
    assert chrome == {"Home", "Other episode", "Footer text"}
    item = next(b for b in doc.blocks if b.kind == "item" and b.text.startswith("Brand"))
    assert item.section == "Sponsors"
    [link] = item.links
    assert (link.text, link.href, link.start) == ("Brand", "https://b.example", 0)
    para = next(b for b in doc.blocks if b.text.startswith("Café"))
    assert para.links[0].start == para.text.index("Ana Lima")


def test_html_head_metadata() -> None:
    doc = read_html(PAGE)
    assert doc.titles == ("Three", "Ep 3 | Some Show")
    assert doc.meta["article:published_time"] == "2024-02-01T10:00:00Z"
    assert doc.jsonld[-1]["episodeNumber"] == 3
    assert doc.times == ("2024-01-20",)


@pytest.mark.parametrize("data", [b"", b"   ", b"\x00\xff\xfe", b"<p>", b"<<<>>>"])
def test_html_reader_survives_junk(data: bytes) -> None:
    doc = read_html(data)
    assert doc.kind == "html"


def test_html_fragment_is_all_main_content() -> None:
    doc = read_html("<p>Hello <b>there</b></p><footer>bye</footer>", fragment=True)
    assert [(b.text, b.region) for b in doc.blocks] == [("Hello there", "main"), ("bye", "chrome")]


PELICAN = """Title: #7 - Seven
Date: 2021-07-07 10:00
Authors: Ida Host, Ody Host

Hello **Guest Person**.

<div><a href="https://b.example/x"><img src="b.png" alt="B banner"></a></div>

* [Link](https://l.example)
"""


def test_markdown_with_pelican_front_matter() -> None:
    doc = read_markdown(PELICAN)
    assert doc.meta == {
        "title": "#7 - Seven",
        "date": "2021-07-07 10:00",
        "authors": "Ida Host, Ody Host",
    }
    assert doc.titles[0] == "#7 - Seven"
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("para", "Hello Guest Person."),
        ("para", "B banner"),
        ("item", "Link"),
    ]
    assert doc.blocks[0].strong == ("Guest Person",)
    assert doc.blocks[1].links[0].href == "https://b.example/x"


@pytest.mark.parametrize(
    ("text", "meta"),
    [
        (
            "---\ntitle: A\nguests:\n  - X Y\n  - name: Z W\n---\nbody",
            {"title": "A", "guests": "X Y; Z W"},
        ),
        ("+++\ntitle = 'B'\nnumber = 4\n+++\nbody", {"title": "B", "number": "4"}),
        ("Just a paragraph: with a colon.\n\nMore.", {}),
        ("---\n: : not yaml [\n---\nbody", {}),
    ],
)
def test_front_matter_flavours(text: str, meta: dict[str, str]) -> None:
    assert split_front_matter(text)[0] == meta


def test_timestamped_transcript_joins_turns_and_keeps_cue_times() -> None:
    text = (
        "My Show - Episode 2: Two\nPublished: 2024-01-02\n\n"
        "[00:00:01] ANN: Hello there.\n[00:00:05] ANN: Still me.\n"
        "[01:02:03] BOB: My turn.\n"
    )
    doc = read_transcript(text)
    assert doc.header == ("My Show - Episode 2: Two", "Published: 2024-01-02")
    cues = [b for b in doc.blocks if b.kind == "cue"]
    assert [(b.speaker, b.text, b.start) for b in cues] == [
        ("ANN", "Hello there.\nStill me.", 1),
        ("BOB", "My turn.", 3723),
    ]
    assert cues[0].seconds_at(cues[0].text.index("Still")) == 5
    assert doc.duration == 3723


def test_transcript_speakers_line_and_chapters() -> None:
    text = (
        "Title line\nSpeakers: Ann Host (host), Bea Guest and Cy Guest\nChapters:\n"
        "00:00 Intro\n12:30 Sponsor: Brand\n\nANN: Hi.\nBEA: Hello.\nANN: Bye.\n"
    )
    doc = read_transcript(text)
    assert doc.speakers == (("Ann Host", "host"), ("Bea Guest", None), ("Cy Guest", None))
    assert doc.chapters == ((0, "Intro"), (750, "Sponsor: Brand"))
    assert [b.speaker for b in doc.blocks if b.kind == "cue"] == ["ANN", "BEA", "ANN"]


def test_vtt_with_voices_ids_and_notes() -> None:
    text = (
        "WEBVTT\n\nNOTE Show - Episode 1: One\n\nSTYLE\n::cue { color: red }\n\n"
        "intro\n00:00:01.000 --> 00:00:03.000\n<v Ann Host>Hello <i>all</i>.\n\n"
        "2\n00:01:00.000 --> 00:01:02.000 align:start\n<v.loud Bob Guest>Hi Ann.\n"
    )
    doc = read_transcript(text)
    assert doc.header == ("Show - Episode 1: One",)
    assert [(b.speaker, b.text, b.start) for b in doc.blocks if b.kind == "cue"] == [
        ("Ann Host", "Hello all.", 1),
        ("Bob Guest", "Hi Ann.", 60),
    ]


def test_vtt_cues_without_ids() -> None:
    text = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nOne.\n\n00:00:05.000 --> 00:00:06.000\nTwo.\n"
    doc = read_transcript(text)
    assert [(b.text, b.start) for b in doc.blocks] == [("One.\nTwo.", 1)]
    assert doc.blocks[0].marks == ((0, 1), (5, 5))


def test_srt_cues() -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\nFirst line\nsecond line\n\n2\n"
        "00:10:00,500 --> 00:10:01,000\nANN: Later.\n"
    )
    doc = read_transcript(text)
    assert [(b.text, b.start, b.speaker) for b in doc.blocks] == [
        ("First line second line", 1, None),
        ("Later.", 600, "ANN"),
    ]


def test_json_transcript_segments() -> None:
    data = json.dumps(
        {
            "version": "1.0.0",
            "segments": [
                {"speaker": "Ann", "startTime": 1.5, "body": "One."},
                {"speaker": "Ann", "startTime": 4, "body": "Two."},
                {"speaker": "Bo", "startTime": 90.9, "body": "Three."},
                {"body": ""},
            ],
        }
    ).encode()
    doc = read_transcript(data)
    assert [(b.speaker, b.text, b.start) for b in doc.blocks] == [
        ("Ann", "One.\nTwo.", 1),
        ("Bo", "Three.", 90),
    ]


def test_plain_prose_transcript_has_a_short_header() -> None:
    lines = ["Transcript: A Title", "Hello and welcome."] + [f"line {i} of talk" for i in range(40)]
    doc = read_transcript("\n".join(lines))
    assert doc.header[:2] == ("Transcript: A Title", "Hello and welcome.")
    assert len(doc.header) <= 12
    assert doc.blocks[-1].kind == "cue"


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "kind"),
    [
        (b"<?xml version='1.0'?>\n<rss version='2.0'><channel/></rss>", None, None, "feed"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'/>", "x.txt", "text/plain", "feed"),
        (b"<!DOCTYPE html><html><body>x</body></html>", "x.xml", None, "html"),
        (b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhi", "x.txt", None, "transcript"),
        (b"Title: A\nDate: 2024-01-01\n\nBody", "notes.txt", None, "markdown"),
        (b"---\ntitle: A\n---\nBody", None, None, "markdown"),
        (b"# Heading\n\n## Another\n\n- [a](https://a.example)", None, None, "markdown"),
        (b"Some words here.", "x.md", None, "markdown"),
        (b"Some words here.", None, "text/markdown; charset=utf-8", "markdown"),
        (b"00:01 Ann: hi", None, None, "transcript"),
        (
            b"Title: T\nDate: 2024-01-01\n\nANN: hi\nBOB: hello\nANN: bye",
            "t.md",
            None,
            "transcript",
        ),
        (b"Hello", None, None, "transcript"),
    ],
)
def test_detect_kind(
    data: bytes, filename: str | None, content_type: str | None, kind: str
) -> None:
    assert detect_kind(data, filename=filename, content_type=content_type) == kind
