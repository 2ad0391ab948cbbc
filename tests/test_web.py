"""The HTTP server, started for real on 127.0.0.1 with an ephemeral port."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio
import httpx
import pytest

from aggregator.publish import write_atomic
from aggregator.web import Server, build_app, start_server

pytestmark = pytest.mark.anyio

FEED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
    + b"<title>x</title>" * 50
    + b"</channel></rss>\n"
)
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.fixture
def public(tmp_path: Path) -> Path:
    (tmp_path / "secret.json").write_text('{"secret": "TOPSECRET"}', encoding="utf-8")
    return tmp_path / "public"


async def _ready_true() -> bool:
    return True


@pytest.fixture
async def server(public: Path) -> AsyncIterator[Server]:
    srv = await start_server(build_app(public, ready=_ready_true), "127.0.0.1", 0)
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    base = f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient(base_url=base, timeout=5) as c:
        yield c


async def test_reports_the_real_port(server: Server) -> None:
    assert server.port > 0


async def test_404_in_plain_text_before_the_first_publish(client: httpx.AsyncClient) -> None:
    for path in ("/feed.xml", "/feed.json", "/sources.opml", "/chapters/abc123.json"):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/plain")
        assert r.text == "not published yet\n"


async def test_serves_files_with_type_etag_and_last_modified(
    client: httpx.AsyncClient, public: Path
) -> None:
    write_atomic(public, "feed.xml", FEED)
    write_atomic(public, "feed.json", b'{"version": "https://jsonfeed.org/version/1.1"}')
    write_atomic(public, "sources.opml", b'<opml version="2.0"/>')
    write_atomic(public, "chapters/0123abcd.json", b'{"version": "1.2.0", "chapters": []}')
    expected = {
        "/feed.xml": ("application/rss+xml; charset=utf-8", FEED),
        "/feed.json": (
            "application/feed+json; charset=utf-8",
            b'{"version": "https://jsonfeed.org/version/1.1"}',
        ),
        "/sources.opml": ("text/x-opml; charset=utf-8", b'<opml version="2.0"/>'),
        "/chapters/0123abcd.json": (
            "application/json; charset=utf-8",
            b'{"version": "1.2.0", "chapters": []}',
        ),
    }
    for path, (content_type, body) in expected.items():
        r = await client.get(path, headers=IDENTITY)
        assert r.status_code == 200, path
        assert r.headers["content-type"] == content_type
        assert r.content == body
        assert r.headers["etag"]
        assert r.headers["last-modified"].endswith("GMT")
        assert "content-encoding" not in r.headers


async def test_conditional_requests_get_304_until_the_file_changes(
    client: httpx.AsyncClient, public: Path
) -> None:
    write_atomic(public, "feed.xml", FEED)
    first = await client.get("/feed.xml", headers=IDENTITY)
    etag, modified = first.headers["etag"], first.headers["last-modified"]

    by_etag = await client.get("/feed.xml", headers={**IDENTITY, "If-None-Match": etag})
    assert by_etag.status_code == 304
    assert by_etag.content == b""
    by_date = await client.get("/feed.xml", headers={**IDENTITY, "If-Modified-Since": modified})
    assert by_date.status_code == 304

    write_atomic(public, "feed.xml", FEED + b"<!-- changed -->\n")
    changed = await client.get("/feed.xml", headers={**IDENTITY, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.content.endswith(b"<!-- changed -->\n")
    assert changed.headers["etag"] != etag


async def test_gzip_from_the_pre_written_sibling(client: httpx.AsyncClient, public: Path) -> None:
    write_atomic(public, "feed.xml", FEED)
    async with client.stream("GET", "/feed.xml", headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert "accept-encoding" in r.headers["vary"].lower()
    assert raw == (public / "feed.xml.gz").read_bytes()
    assert gzip.decompress(raw) == FEED
    assert len(raw) < len(FEED)

    again = await client.get(
        "/feed.xml", headers={"Accept-Encoding": "gzip", "If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304


async def test_health(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert (r.status_code, r.text) == (200, "ok\n")
    r = await client.get("/readyz")
    assert (r.status_code, r.text) == (200, "ready\n")


async def _not_ready() -> bool:
    return False


async def _broken() -> bool:
    raise RuntimeError("database is gone")


@pytest.mark.parametrize("ready", [_not_ready, _broken])
async def test_readyz_503_when_not_ready(
    public: Path, ready: Callable[[], Awaitable[bool]]
) -> None:
    srv = await start_server(build_app(public, ready=ready), "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(timeout=5) as c:
            r = await c.get(f"http://127.0.0.1:{srv.port}/readyz")
            health = await c.get(f"http://127.0.0.1:{srv.port}/healthz")
    finally:
        await srv.stop()
    assert (r.status_code, r.text) == (503, "not ready\n")
    assert health.status_code == 200


async def _raw_get(port: int, target: str) -> tuple[int, bytes]:
    """Send the request target exactly as given; httpx would normalise the dots away."""
    with anyio.fail_after(5):
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            await stream.send(request.encode())
            data = b""
            while True:
                try:
                    data += await stream.receive()
                except anyio.EndOfStream:
                    break
    return int(data.split(b" ", 2)[1]), data


@pytest.mark.parametrize(
    "target",
    [
        "/chapters/../../secret.json",
        "/chapters/..%2F..%2Fsecret.json",
        "/chapters/%2e%2e%2f%2e%2e%2fsecret.json",
        "/chapters/..json",
        "/../secret.json",
        "/%2e%2e/secret.json",
        "/feed.xml/../../secret.json",
        "/chapters/",
        "/chapters",
        "/",
        "/feed.xml.gz",
    ],
)
async def test_no_traversal_and_no_listing(server: Server, public: Path, target: str) -> None:
    write_atomic(public, "feed.xml", FEED)
    write_atomic(public, "chapters/0123abcd.json", b"{}")
    status, data = await _raw_get(server.port, target)
    assert status == 404
    assert b"TOPSECRET" not in data
    assert b"0123abcd" not in data
