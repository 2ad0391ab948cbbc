"""A real HTTP/1.1 server on 127.0.0.1 for tests: feeds, validators, failures and slow bodies.

It runs ``http.server.ThreadingHTTPServer`` on an ephemeral port in a background thread, so
the code under test talks to a real socket. Routes are programmable and can be replaced
between requests; every request is logged with its headers.

Usage::

    from httpserver import HttpServer

    @pytest.fixture
    def server() -> Iterator[HttpServer]:
        with HttpServer() as s:
            yield s

    def test_poll(server: HttpServer) -> None:
        server.set("/feed.xml", rss_bytes, content_type="application/rss+xml",
                   last_modified="Mon, 01 Jan 2024 00:00:00 GMT")   # ETag is automatic
        url = server.url("/feed.xml")
        ...                                     # first poll: 200
        server.set("/feed.xml", rss_with_new_item, content_type="application/rss+xml")
        ...                                     # next poll: 200 with a new ETag
        assert server.requests_to("/feed.xml")[-1].headers["If-None-Match"] == '"..."'

Other routes::

    server.respond("/busy", 429, headers={"Retry-After": "120"})
    server.respond("/gone", 410)
    server.redirect("/old", "/new", status=301)          # relative or absolute Location
    server.trickle("/slow", interval=0.2, duration=3)    # one byte per interval, then stops
    server.stream("/big", size=50_000_000)               # generated lazily, never held whole
    server.set("/bomb", gzipped, headers={"Content-Encoding": "gzip"}, gzip=False)
    server.respond("/short", 200, body=b"abc", content_length=1000)  # then closes
    server.set("/slow-ok", b"ok", delay=0.2)             # answers after 0.2 s

Routes made with ``set`` answer If-None-Match / If-Modified-Since with 304; ``respond``
routes answer as told. The server is on loopback, so a ``Fetcher`` pointed at it needs
``allow_private_addresses=True``. ``HttpServer(ssl_context=ctx)`` serves HTTPS with the
context's certificate instead.

``max_in_flight`` is the largest number of requests the server was working on at once
(from the request line until the response starts), for tests of client concurrency limits.
Waiting routes (``delay``, ``trickle``) stop early when the server stops.
"""

from __future__ import annotations

import gzip
import hashlib
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

Chunks = Callable[[threading.Event], Iterable[bytes]]


@dataclass(frozen=True)
class Route:
    """What one path answers. ``chunks`` (a generator factory) streams instead of ``body``."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunks: Chunks | None = None
    content_length: int | None = None  # overrides the real length (streams: None = chunked)
    conditional: bool = False  # answer If-None-Match / If-Modified-Since with 304
    gzip: bool = False  # compress when the request accepts gzip
    delay: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # with the query string
    headers: Message  # case-insensitive .get() / ["Name"]


class HttpServer:
    """Context manager: starts on enter, stops on exit. See the module docstring."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._routes: dict[str, Route] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._in_flight = 0
        self.max_in_flight = 0
        self.stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._scheme = "http"
        if ssl_context is not None:
            self._httpd.socket = ssl_context.wrap_socket(self._httpd.socket, server_side=True)
            self._scheme = "https"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def __enter__(self) -> HttpServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # -- routes ---------------------------------------------------------------------------

    def route(self, path: str, route: Route) -> None:
        with self._lock:
            self._routes[path] = route

    def set(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str = "application/octet-stream",
        headers: dict[str, str] | None = None,
        etag: str | None = "auto",
        last_modified: datetime | str | None = None,
        gzip: bool = True,
        delay: float = 0.0,
    ) -> None:
        """Serve ``body`` with validators and 304s. ``etag="auto"`` hashes the body."""
        h = {"Content-Type": content_type, **(headers or {})}
        if etag == "auto":
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if etag:
            h["ETag"] = etag
        if isinstance(last_modified, datetime):
            last_modified = format_datetime(last_modified, usegmt=True)
        if last_modified:
            h["Last-Modified"] = last_modified
        self.route(path, Route(body=body, headers=h, conditional=True, gzip=gzip, delay=delay))

    def respond(
        self,
        path: str,
        status: int,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_length: int | None = None,
    ) -> None:
        """A fixed answer (429, 410, 500, a hand-made 304...); ``content_length`` may lie."""
        self.route(
            path,
            Route(
                status=status, body=body, headers=dict(headers or {}), content_length=content_length
            ),
        )

    def redirect(self, path: str, location: str, *, status: int = 302) -> None:
        self.respond(path, status, headers={"Location": location})

    def stream(
        self,
        path: str,
        size: int,
        *,
        chunk_size: int = 65536,
        content_length: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        """``size`` bytes generated chunk by chunk; chunked encoding unless ``content_length``."""

        def chunks(stop: threading.Event) -> Iterator[bytes]:
            sent = 0
            while sent < size and not stop.is_set():
                n = min(chunk_size, size - sent)
                sent += n
                yield b"x" * n

        self.route(
            path,
            Route(
                headers=dict(headers or {}),
                chunks=chunks,
                content_length=size if content_length else None,
            ),
        )

    def trickle(self, path: str, *, interval: float = 0.2, duration: float = 3.0) -> None:
        """One byte per ``interval`` for at most ``duration`` seconds, with a matching length."""
        count = max(1, int(duration / interval))

        def chunks(stop: threading.Event) -> Iterator[bytes]:
            for _ in range(count):
                yield b"."
                if stop.wait(interval):
                    return

        self.route(path, Route(chunks=chunks, content_length=count))

    # -- observations -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if urlsplit(r.path).path == path]

    def reset_log(self) -> None:
        with self._lock:
            self._requests.clear()
            self.max_in_flight = 0

    # -- used by the handler ------------------------------------------------------------------

    def _lookup(self, path: str) -> Route | None:
        with self._lock:
            return self._routes.get(path) or self._routes.get(urlsplit(path).path)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1


def _not_modified(request: Message, route: Route) -> bool:
    etag = route.headers.get("ETag")
    if_none_match = request.get("If-None-Match")
    if if_none_match is not None:
        tags = [t.strip() for t in if_none_match.split(",")]
        return etag is not None and ("*" in tags or etag in tags)
    since, modified = request.get("If-Modified-Since"), route.headers.get("Last-Modified")
    if since is None or modified is None:
        return False
    try:
        return parsedate_to_datetime(modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


def _make_handler(server: HttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10  # idle keep-alive connections end on their own

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            server._record(RecordedRequest(self.command, self.path, self.headers))
            route = server._lookup(self.path)
            server._enter()
            try:
                if route is not None and route.delay:
                    server.stopping.wait(route.delay)
            finally:
                server._leave()
            try:
                self._answer(route)
            except OSError:  # the client went away or stopped reading
                self.close_connection = True

        def _answer(self, route: Route | None) -> None:
            if route is None:
                self._send(404, {"Content-Type": "text/plain"}, b"not found")
                return
            if route.conditional and _not_modified(self.headers, route):
                kept = {k: v for k, v in route.headers.items() if k in ("ETag", "Last-Modified")}
                self._send(304, kept, None)
                return
            headers = dict(route.headers)
            body = route.body
            if route.gzip and body and "gzip" in self.headers.get("Accept-Encoding", ""):
                body = gzip.compress(body, mtime=0)
                headers["Content-Encoding"] = "gzip"
                headers["Vary"] = "Accept-Encoding"
            if route.chunks is not None:
                self._stream(route, headers)
            else:
                self._send(route.status, headers, body, route.content_length)

        def _send(
            self,
            status: int,
            headers: dict[str, str],
            body: bytes | None,
            content_length: int | None = None,
        ) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if body is not None:
                length = len(body) if content_length is None else content_length
                self.send_header("Content-Length", str(length))
                if length != len(body):
                    self.send_header("Connection", "close")
                    self.close_connection = True
            self.end_headers()
            if body:
                self.wfile.write(body)

        def _stream(self, route: Route, headers: dict[str, str]) -> None:
            assert route.chunks is not None
            self.send_response(route.status)
            for name, value in headers.items():
                self.send_header(name, value)
            chunked = route.content_length is None
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(route.content_length))
            self.end_headers()
            for chunk in route.chunks(server.stopping):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                self.wfile.flush()
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
            if server.stopping.is_set():
                self.close_connection = True

    return Handler
