"""follow_pages end to end: a feed on 127.0.0.1 whose episode pages and transcripts carry the
sponsor reads; after `poll --once` the sponsors are stored, reported and in the merged feed."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from aggregator.cli import main
from httpserver import HttpServer

PODCAST_NS = "https://podcastindex.org/namespace/1.0"

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:podcast="https://podcastindex.org/namespace/1.0">
<channel>
  <title>The Loopback Show</title>
  <link>{base}/</link>
  <description>Networking, slowly.</description>
  <item>
    <title>Episode 3: Caching without tears</title>
    <guid isPermaLink="false">loopback-3</guid>
    <link>{base}/episodes/3</link>
    <pubDate>Mon, 03 Feb 2025 10:00:00 +0000</pubDate>
    <description>We talk about caches.</description>
    <enclosure url="{base}/audio/3.mp3" length="2000000" type="audio/mpeg"/>
    <itunes:duration>40:00</itunes:duration>
    <podcast:transcript url="{base}/episodes/3/transcript.vtt" type="text/vtt"/>
  </item>
  <item>
    <title>Episode 2: Timeouts all the way down</title>
    <guid isPermaLink="false">loopback-2</guid>
    <link>{base}/episodes/2</link>
    <pubDate>Mon, 27 Jan 2025 10:00:00 +0000</pubDate>
    <description>We talk about timeouts.</description>
    <enclosure url="{base}/audio/2.mp3" length="1900000" type="audio/mpeg"/>
    <itunes:duration>35:00</itunes:duration>
  </item>
</channel>
</rss>
"""

PAGE_3 = """<!doctype html>
<html><head><title>Episode 3: Caching without tears | The Loopback Show</title>
<meta property="article:published_time" content="2025-02-03T10:00:00+00:00"></head>
<body>
<nav><a href="/episodes/2">Episode 2</a> <a href="/about">About</a></nav>
<main><article>
<h1>Episode 3: Caching without tears</h1>
<p>Our guest today is Wren Halloway, who maintains a caching proxy.</p>
<h2>Sponsors</h2>
<ul>
<li><a href="https://quillfeather.example/loopback?utm_source=podcast&amp;utm_medium=audio">Quillfeather</a>:
note-taking for engineers. Use code LOOPBACK for 20% off your first year.</li>
</ul>
<h2>Links</h2>
<ul><li><a href="https://docs.example.org/caching">Caching docs</a></li></ul>
</article></main>
<footer>Interested in sponsoring the show? Write to us.</footer>
</body></html>
"""

TRANSCRIPT_3 = """WEBVTT

00:00:01.000 --> 00:00:06.000
Welcome to The Loopback Show, episode three.

00:01:10.000 --> 00:01:20.000
This episode is brought to you by Tandemly, the pairing tool for remote teams.

00:01:20.000 --> 00:01:30.000
Go to tandemly.example/loopback and use code LOOP10 for a free month.

00:02:00.000 --> 00:02:05.000
Now, caching. Wren, where do we start?
"""

PAGE_2 = """<!doctype html>
<html><head><title>Episode 2: Timeouts all the way down</title></head>
<body><main><article><h1>Episode 2: Timeouts all the way down</h1>
<p>Thanks to Quillfeather for sponsoring this episode:
visit <a href="https://quillfeather.example/loopback">quillfeather.example/loopback</a>.</p>
</article></main></body></html>
"""


def serve_show(http_server: HttpServer, tmp_path: Path, extra_config: str) -> Path:
    """Serve the feed, its pages and transcript; return a config following it with pages."""
    base = http_server.base_url
    http_server.set(
        "/feed.xml", FEED.format(base=base).encode(), content_type="application/rss+xml"
    )
    http_server.set("/episodes/3", PAGE_3.encode(), content_type="text/html; charset=utf-8")
    http_server.set("/episodes/3/transcript.vtt", TRANSCRIPT_3.encode(), content_type="text/vtt")
    http_server.set("/episodes/2", PAGE_2.encode(), content_type="text/html; charset=utf-8")
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text(
        f"state_dir: state\nallow_private_addresses: true\n{extra_config}"
        f"feeds:\n  - name: The Loopback Show\n    url: {base}/feed.xml\n    follow_pages: true\n"
    )
    return cfg


@pytest.mark.slow
def test_pages_and_transcripts_bring_sponsors_into_store_report_and_feed(
    tmp_path: Path, http_server: HttpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = serve_show(http_server, tmp_path, "listen: 127.0.0.1:0\n")

    assert main(["poll", "--once", "--config", str(cfg)]) == 0
    assert "2 episodes added" in capsys.readouterr().out
    assert len(http_server.requests_to("/episodes/3")) == 1
    assert len(http_server.requests_to("/episodes/3/transcript.vtt")) == 1

    assert main(["sponsors", "--format", "json", "--config", str(cfg)]) == 0
    report = {r["brand"]: r for r in json.loads(capsys.readouterr().out)["sponsors"]}
    assert set(report) == {"Quillfeather", "Tandemly"}
    assert report["Quillfeather"]["episodes"] == 2
    assert report["Quillfeather"]["promo_codes"] == ["LOOPBACK"]
    assert report["Tandemly"]["episodes"] == 1
    assert report["Tandemly"]["promo_codes"] == ["LOOP10"]
    assert report["Tandemly"]["shows"] == ["The Loopback Show"]
    assert (
        main(["sponsors", "--format", "csv", "--show", "The Loopback Show", "--config", str(cfg)])
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["brand"]: r["promo_codes"] for r in rows} == {
        "Quillfeather": "LOOPBACK",
        "Tandemly": "LOOP10",
    }
    assert (
        main(["sponsors", "--format", "json", "--since", "2025-02-01", "--config", str(cfg)]) == 0
    )
    recent = {r["brand"]: r["episodes"] for r in json.loads(capsys.readouterr().out)["sponsors"]}
    assert recent == {"Quillfeather": 1, "Tandemly": 1}

    feed = feedparser.parse((tmp_path / "state" / "public" / "feed.xml").read_bytes())
    (ep3,) = [e for e in feed.entries if e.id == "loopback-3"]
    notes = ep3.content[0].value
    assert "Quillfeather (code LOOPBACK)" in notes
    assert "Tandemly (code LOOP10)" in notes
    tree = etree.parse(str(tmp_path / "state" / "public" / "feed.xml"))
    (item,) = tree.xpath("//item[guid='loopback-3']")
    guests = item.xpath("podcast:person[@role='guest']/text()", namespaces={"podcast": PODCAST_NS})
    assert guests == ["Wren Halloway"]

    assert main(["poll", "--once", "--config", str(cfg)]) == 0
    assert "0 episodes added, 0 updated" in capsys.readouterr().out
    assert len(http_server.requests_to("/episodes/3")) == 1  # pages are not re-read every poll


@pytest.mark.anyio
async def test_pages_are_read_again_on_their_slow_schedule_while_the_feed_is_unchanged(
    tmp_path: Path, http_server: HttpServer
) -> None:
    from datetime import UTC, datetime, timedelta

    from aggregator.app import Services
    from aggregator.config import load_settings

    cfg = serve_show(http_server, tmp_path, "poll:\n  page_interval: 7d\n")
    now = [datetime(2025, 2, 4, 12, 0, tzinfo=UTC)]
    services = Services.open(load_settings(cfg), clock=lambda: now[0], processes=False)
    try:
        await services.poll_everything()
        now[0] += timedelta(days=1)
        (outcome,) = await services.poll_everything()
        assert outcome.status == "not_modified"
        assert len(http_server.requests_to("/episodes/3")) == 1
        now[0] += timedelta(days=7)
        await services.poll_everything()
        assert len(http_server.requests_to("/episodes/3")) == 2
        assert len(http_server.requests_to("/feed.xml")) == 3
    finally:
        await services.close()
