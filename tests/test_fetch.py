"""fetch.Fetcher against a real HTTP server on 127.0.0.1 (tests/httpserver.py)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from aggregator import __version__
from aggregator.fetch import DEFAULT_USER_AGENT, Fetcher, FetchError, non_public_kind
from httpserver import HttpServer

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
FEED = b"<rss><channel><title>t</title><item><title>one</title></item></channel></rss>"
LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with HttpServer() as s:
        yield s


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """50 MB of zeros gzipped (about 50 kB), built once without holding 50 MB."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1_000_000)
    return b"".join(z.compress(block) for _ in range(50)) + z.flush()


def make(**kwargs: Any) -> Fetcher:
    options: dict[str, Any] = {"allow_private_addresses": True, "timeout": 5, "now": lambda: NOW}
    return Fetcher(**(options | kwargs))


async def failure(url: str, **kwargs: Any) -> FetchError:
    async with make(**kwargs) as f:
        with pytest.raises(FetchError) as info:
            await f.fetch(url)
    return info.value


# -- success and validators -------------------------------------------------------------------


@pytest.mark.anyio
async def test_200_returns_body_validators_and_cache_lifetime(server: HttpServer) -> None:
    server.set(
        "/feed.xml",
        FEED,
        content_type="application/rss+xml",
        etag='"abc"',
        last_modified=LAST_MODIFIED,
        headers={"Cache-Control": "public, max-age=600"},
        gzip=False,
    )
    async with make() as f:
        r = await f.fetch(server.url("/feed.xml"), accept="application/rss+xml")
    assert (r.status, r.content, r.not_modified) == (200, FEED, False)
    assert (r.etag, r.last_modified) == ('"abc"', LAST_MODIFIED)
    assert r.content_type == "application/rss+xml"
    assert r.headers["cache-control"] == "public, max-age=600"
    assert r.max_age == 600
    assert r.raw_bytes == len(FEED)
    assert r.url == server.url("/feed.xml")
    assert r.permanent_redirect is None
    assert 0 < r.elapsed < 5
    sent = server.requests_to("/feed.xml")[0].headers
    assert sent["User-Agent"] == DEFAULT_USER_AGENT
    assert DEFAULT_USER_AGENT.startswith(f"aggregator/{__version__} (+https://")
    assert sent["Accept-Encoding"] == "gzip, deflate"
    assert sent["Accept"] == "application/rss+xml"
    assert sent["If-None-Match"] is None and sent["If-Modified-Since"] is None


@pytest.mark.anyio
async def test_s_maxage_used_when_max_age_absent(server: HttpServer) -> None:
    server.set("/f", FEED, headers={"Cache-Control": "s-maxage=90"})
    async with make() as f:
        assert (await f.fetch(server.url("/f"))).max_age == 90


@pytest.mark.anyio
async def test_gzip_body_is_decoded_and_wire_bytes_counted(server: HttpServer) -> None:
    body = b"<item>same text again</item>\n" * 400  # 11600 bytes, compresses well
    server.set("/feed.xml", body, gzip=True)
    async with make() as f:
        r = await f.fetch(server.url("/feed.xml"))
    assert r.content == body
    assert r.headers["content-encoding"] == "gzip"
    assert 0 < r.raw_bytes < 1000


@pytest.mark.anyio
@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
async def test_deflate_with_and_without_zlib_wrapper(server: HttpServer, wbits: int) -> None:
    z = zlib.compressobj(6, zlib.DEFLATED, wbits)
    server.respond(
        "/d", 200, body=z.compress(FEED) + z.flush(), headers={"Content-Encoding": "deflate"}
    )
    async with make() as f:
        assert (await f.fetch(server.url("/d"))).content == FEED


@pytest.mark.anyio
async def test_conditional_get_returns_304_and_sends_validators(server: HttpServer) -> None:
    server.set("/feed.xml", FEED, etag='"v1"', last_modified=LAST_MODIFIED)
    async with make() as f:
        r = await f.fetch(server.url("/feed.xml"), etag='"v1"', last_modified=LAST_MODIFIED)
    assert (r.status, r.not_modified, r.content, r.raw_bytes) == (304, True, None, 0)
    assert (r.etag, r.last_modified) == ('"v1"', LAST_MODIFIED)
    sent = server.requests_to("/feed.xml")[0].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == LAST_MODIFIED


@pytest.mark.anyio
async def test_if_modified_since_alone_gets_304(server: HttpServer) -> None:
    server.set("/feed.xml", FEED, etag=None, last_modified=LAST_MODIFIED)
    async with make() as f:
        r = await f.fetch(server.url("/feed.xml"), last_modified="Tue, 02 Jan 2024 00:00:00 GMT")
    assert r.not_modified
    assert r.etag is None
    assert r.last_modified == LAST_MODIFIED


@pytest.mark.anyio
async def test_changed_content_answers_200_with_new_etag(server: HttpServer) -> None:
    server.set("/feed.xml", FEED, etag='"v1"')
    server.set("/feed.xml", FEED + b"<!-- new item -->", etag='"v2"')
    async with make() as f:
        r = await f.fetch(server.url("/feed.xml"), etag='"v1"')
    assert (r.status, r.etag) == (200, '"v2"')
    assert r.content == FEED + b"<!-- new item -->"


@pytest.mark.anyio
async def test_304_refreshes_validators_from_the_response(server: HttpServer) -> None:
    server.respond("/f", 304, headers={"ETag": '"v2"'})
    async with make() as f:
        r = await f.fetch(server.url("/f"), etag='"v1"', last_modified=LAST_MODIFIED)
    assert r.etag == '"v2"'
    assert r.last_modified == LAST_MODIFIED


@pytest.mark.anyio
async def test_304_without_validators_keeps_the_ones_sent(server: HttpServer) -> None:
    server.respond("/f", 304)
    async with make() as f:
        r = await f.fetch(server.url("/f"), etag='"v1"', last_modified=LAST_MODIFIED)
    assert (r.status, r.etag, r.last_modified) == (304, '"v1"', LAST_MODIFIED)


# -- redirects ---------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("statuses", "permanent"),
    [
        ((301,), True),
        ((308,), True),
        ((301, 308), True),
        ((302,), False),
        ((307,), False),
        ((301, 302), False),
        ((302, 301), False),
    ],
)
async def test_permanent_redirect_only_when_every_hop_is_permanent(
    server: HttpServer, statuses: tuple[int, ...], permanent: bool
) -> None:
    for i, status in enumerate(statuses):
        server.redirect(f"/hop{i}", f"/hop{i + 1}", status=status)
    final = f"/hop{len(statuses)}"
    server.set(final, FEED)
    async with make() as f:
        r = await f.fetch(server.url("/hop0"))
    assert r.content == FEED
    assert r.url == server.url(final)
    assert r.permanent_redirect == (server.url(final) if permanent else None)


@pytest.mark.anyio
async def test_relative_location_resolved_and_validators_sent_on_each_hop(
    server: HttpServer,
) -> None:
    server.redirect("/a/old.xml", "../b/new.xml", status=301)
    server.set("/b/new.xml", FEED, etag='"e"')
    async with make() as f:
        r = await f.fetch(server.url("/a/old.xml"), etag='"e"')
    assert r.not_modified
    assert r.url == server.url("/b/new.xml")
    assert r.permanent_redirect == server.url("/b/new.xml")
    assert server.requests_to("/b/new.xml")[0].headers["If-None-Match"] == '"e"'


@pytest.mark.anyio
async def test_redirect_loop_refused(server: HttpServer) -> None:
    server.redirect("/a", "/b")
    server.redirect("/b", server.url("/a"))
    err = await failure(server.url("/a"))
    assert err.reason == "redirect loop"
    assert len(server.requests) == 2


@pytest.mark.anyio
async def test_more_redirects_than_allowed_refused(server: HttpServer) -> None:
    for i in range(6):
        server.redirect(f"/r{i}", f"/r{i + 1}")
    server.set("/r6", FEED)
    err = await failure(server.url("/r0"), max_redirects=5)
    assert err.reason == "too many redirects (>5)"
    async with make(max_redirects=5) as f:
        assert (await f.fetch(server.url("/r1"))).content == FEED  # exactly five hops


@pytest.mark.anyio
async def test_redirect_to_other_scheme_refused(server: HttpServer) -> None:
    server.redirect("/a", "file:///etc/passwd")
    err = await failure(server.url("/a"))
    assert err.reason == "unsupported URL scheme 'file'"


# -- deadline and caps -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_deadline_stops_a_trickling_body(server: HttpServer) -> None:
    server.trickle("/slow", interval=0.1, duration=4.0)  # each read succeeds; the whole does not
    started = time.monotonic()
    err = await failure(server.url("/slow"), timeout=1)
    assert time.monotonic() - started < 2.0
    assert err.reason == "timed out after 1s"
    assert err.status is None


@pytest.mark.anyio
async def test_body_over_cap_refused_while_streaming(server: HttpServer) -> None:
    server.stream("/big", size=3_000_000)  # chunked: no Content-Length to refuse up front
    err = await failure(server.url("/big"), max_bytes=1_000_000)
    assert err.reason == "body over 1 MB cap"


@pytest.mark.anyio
async def test_body_exactly_at_cap_accepted(server: HttpServer) -> None:
    server.stream("/edge", size=1000)
    async with make(max_bytes=1000) as f:
        assert (await f.fetch(server.url("/edge"))).content == b"x" * 1000
    server.stream("/over", size=1001)
    assert (await failure(server.url("/over"), max_bytes=1000)).reason == "body over 1 kB cap"


@pytest.mark.anyio
async def test_content_length_over_cap_refused_up_front(server: HttpServer) -> None:
    server.stream("/big", size=5_000_000, content_length=True)
    err = await failure(server.url("/big"), max_bytes=1_000_000)
    assert err.reason == "body over 1 MB cap (Content-Length 5000000)"


@pytest.mark.anyio
async def test_gzip_bomb_refused_without_inflating_it(server: HttpServer, gzip_bomb: bytes) -> None:
    assert len(gzip_bomb) < 1_000_000  # under the wire cap: only the decoded count can stop it
    server.set("/bomb", gzip_bomb, headers={"Content-Encoding": "gzip"}, gzip=False)
    tracemalloc.start()
    try:
        err = await failure(server.url("/bomb"), max_bytes=1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.reason == "decoded body over 1 MB cap"
    assert peak < 10_000_000


@pytest.mark.anyio
async def test_body_shorter_than_content_length_is_an_error(server: HttpServer) -> None:
    server.respond("/short", 200, body=b"<rss>", content_length=1000)
    err = await failure(server.url("/short"))
    assert err.reason.startswith("protocol error: ")


@pytest.mark.anyio
async def test_truncated_gzip_is_an_error(server: HttpServer) -> None:
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    whole = z.compress(FEED) + z.flush()
    server.respond("/cut", 200, body=whole[:-8], headers={"Content-Encoding": "gzip"})
    err = await failure(server.url("/cut"))
    assert err.reason == "cannot decode gzip body: compressed body is truncated"


# -- error statuses ----------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "reason", "gone"),
    [
        (404, "HTTP 404 Not Found", False),
        (410, "HTTP 410 Gone", True),
        (500, "HTTP 500 Internal Server Error", False),
    ],
)
async def test_error_status(server: HttpServer, status: int, reason: str, gone: bool) -> None:
    server.respond("/x", status)
    err = await failure(server.url("/x"))
    assert (err.reason, err.status, err.gone, err.retry_after) == (reason, status, gone, None)
    assert err.url == server.url("/x")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "header", "expected"),
    [
        (429, "120", datetime(2024, 3, 1, 12, 2, tzinfo=UTC)),
        (503, "Wed, 21 Oct 2015 07:28:00 GMT", datetime(2015, 10, 21, 7, 28, tzinfo=UTC)),
        (429, "soon", None),
    ],
)
async def test_retry_after(
    server: HttpServer, status: int, header: str, expected: datetime | None
) -> None:
    server.respond("/busy", status, headers={"Retry-After": header})
    err = await failure(server.url("/busy"))
    assert err.status == status
    assert err.retry_after == expected


@pytest.mark.anyio
async def test_connection_refused_on_a_closed_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err = await failure(f"http://127.0.0.1:{port}/feed.xml")
    assert (err.reason, err.status) == ("connection refused", None)


# -- address guard -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_loopback_refused_unless_private_addresses_allowed(server: HttpServer) -> None:
    server.set("/feed.xml", FEED)
    err = await failure(server.url("/feed.xml"), allow_private_addresses=False)
    assert err.reason == "refused: resolves to loopback address 127.0.0.1"
    assert server.requests == []
    async with make(allow_private_addresses=True) as f:
        assert (await f.fetch(server.url("/feed.xml"))).content == FEED


@pytest.mark.anyio
async def test_unspecified_address_refused() -> None:
    err = await failure("http://0.0.0.0:1/", allow_private_addresses=False)
    assert err.reason == "refused: resolves to unspecified address 0.0.0.0"


@pytest.mark.anyio
async def test_only_http_and_https() -> None:
    err = await failure("ftp://127.0.0.1/feed.xml")
    assert err.reason == "unsupported URL scheme 'ftp'"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("192.168.1.5", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "non-public"),
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_non_public_kind(address: str, kind: str | None) -> None:
    assert non_public_kind(address) == kind


def test_custom_transport_needs_explicit_private_opt_in() -> None:
    with pytest.raises(ValueError, match="address guard"):
        Fetcher(transport=httpx.AsyncHTTPTransport())


# -- concurrency -------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(("concurrency", "per_host"), [(16, 2), (3, 8)])
async def test_concurrency_limits(server: HttpServer, concurrency: int, per_host: int) -> None:
    server.set("/slow", FEED, delay=0.2)
    async with make(concurrency=concurrency, per_host=per_host) as f:
        results = await asyncio.gather(*(f.fetch(server.url("/slow")) for _ in range(8)))
    assert all(r.content == FEED for r in results)
    assert server.max_in_flight == min(concurrency, per_host)


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    return ctx


@pytest.mark.anyio
async def test_untrusted_certificate_is_a_tls_error(self_signed: ssl.SSLContext) -> None:
    with HttpServer(ssl_context=self_signed) as tls:
        tls.set("/feed.xml", FEED)
        err = await failure(tls.url("/feed.xml"))
    assert tls.url("/feed.xml").startswith("https://")
    assert err.reason == "TLS error: self-signed certificate"
    assert tls.requests == []
