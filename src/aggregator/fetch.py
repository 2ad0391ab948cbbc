"""The only HTTP client: conditional GET, redirects checked hop by hop, caps, deadline, SSRF guard.

It knows nothing of feeds: it turns a URL (plus the validators the caller kept) into bytes and
headers, or into a :class:`FetchError` whose ``reason`` is one line fit for ``aggregator status``.
"""

from __future__ import annotations

import asyncio
import http
import ipaddress
import logging
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType

import httpcore
import httpx

from aggregator import __version__

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = (
    f"aggregator/{__version__} (+https://github.com/aggregator-podcasts/aggregator)"
)
# One fixed value: servers key ETags on it, so varying it would defeat conditional GETs.
ACCEPT_ENCODING = "gzip, deflate"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str  # final URL after redirects
    status: int  # 2xx or 304
    content: bytes | None  # body with Content-Encoding undone; None on 304
    headers: Mapping[str, str]  # final response headers, case-insensitive
    etag: str | None
    last_modified: str | None
    content_type: str | None
    permanent_redirect: str | None  # new URL when only 301/308 hops led elsewhere
    max_age: int | None  # seconds from Cache-Control max-age (or s-maxage)
    raw_bytes: int  # bytes read from the wire
    elapsed: float  # seconds, monotonic

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class FetchError(Exception):
    """A fetch that produced no usable response; ``reason`` is one short human line."""

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        status: int | None = None,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.gone = status == 410


class _Refused(Exception):
    """Raised inside the connector; becomes a FetchError with this message as reason."""


def non_public_kind(address: str) -> str | None:
    """What kind of non-public address this is ("loopback", "private", ...), None if public."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, hit in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("non-public", not ip.is_global),
    ):
        if hit:
            return kind
    return None


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolves a host once, checks every address, then connects to a checked address.

    Checking and connecting on the same resolution leaves no window for DNS rebinding, and
    because every new connection passes through here, every redirect hop is checked too.
    """

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            raise _Refused(f"DNS lookup failed for {host}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self._allow_private:
            for address in addresses:
                kind = non_public_kind(address)
                if kind:
                    raise _Refused(f"refused: resolves to {kind} address {address}")
        error: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None  # getaddrinfo returns at least one address or raises
        raise error

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _pinned_transport(limits: httpx.Limits, *, allow_private: bool) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    # httpx has no public hook for the network backend; its pool is rebuilt with ours.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_PinnedBackend(allow_private=allow_private),
    )
    return transport


class _Decoder:
    """Undoes gzip/deflate chunk by chunk, never inflating past the caller's budget.

    ``max_length`` stops a gzip bomb after ``budget + 1`` bytes instead of after all of it.
    """

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._fed = False
        self._z = None if encoding == "identity" else zlib.decompressobj(self._wbits(encoding))

    @staticmethod
    def _wbits(encoding: str) -> int:
        return 16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS

    def decode(self, data: bytes, budget: int) -> bytes | None:
        """Decoded bytes, or None when they would exceed ``budget``."""
        if self._z is None:
            return data if len(data) <= budget else None
        try:
            out = self._z.decompress(data, budget + 1)
        except zlib.error:
            if self._encoding != "deflate" or self._fed:
                raise
            # Some servers send raw deflate without the zlib wrapper HTTP asks for.
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._z.decompress(data, budget + 1)
        self._fed = True
        return out if len(out) <= budget else None

    def finish(self) -> bytes:
        if self._z is None or not self._fed:
            return b""
        if not self._z.eof:
            raise zlib.error("compressed body is truncated")
        return self._z.flush()


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g} MB"
    if n >= 1000:
        return f"{n / 1000:g} kB"
    return f"{n} bytes"


def _max_age(cache_control: str | None) -> int | None:
    if not cache_control:
        return None
    found: dict[str, int] = {}
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        value = value.strip().strip('"')
        if name.lower() in ("max-age", "s-maxage") and value.isdigit():
            found[name.lower()] = int(value)
    return found.get("max-age", found.get("s-maxage"))


def _retry_after(value: str | None, now: datetime) -> datetime | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def _network_reason(exc: BaseException) -> str:
    """Name the root cause buried in httpx -> httpcore -> anyio -> OSError chains."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, ConnectionResetError):
            return "connection reset by peer"
        if isinstance(seen, socket.gaierror):
            return "DNS lookup failed"
        if isinstance(seen, ssl.SSLError):
            return f"TLS error: {getattr(seen, 'verify_message', None) or seen.reason or seen}"
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"protocol error: {exc}"
    return f"network error: {exc or exc.__class__.__name__}"


@dataclass(slots=True)
class _Attempt:
    """One fetch in progress: what was sent, when it started, and the redirect chain so far."""

    start: str
    limit: int
    etag: str | None
    last_modified: str | None
    headers: dict[str, str]
    started: float = field(default_factory=time.monotonic)
    url: str = ""
    visited: set[str] = field(default_factory=set)
    hops: int = 0
    permanent: bool = True

    def __post_init__(self) -> None:
        self.url = self.start
        self.visited.add(self.start)

    def follow(self, status: int, target: str) -> None:
        if target in self.visited:
            raise FetchError(self.url, "redirect loop", status=status)
        if self.hops >= self.limit:
            raise FetchError(self.url, f"too many redirects (>{self.limit})", status=status)
        self.hops += 1
        self.permanent = self.permanent and status in _PERMANENT
        self.visited.add(target)
        self.url = target

    def moved_to(self, final: str) -> str | None:
        return final if self.hops and self.permanent and final != self.start else None


def _as_fetch_error(exc: Exception, url: str, timeout: float) -> FetchError:
    if isinstance(exc, FetchError):
        return exc
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return FetchError(url, f"timed out after {timeout:g}s")
    if isinstance(exc, _Refused):
        return FetchError(url, str(exc))
    return FetchError(url, _network_reason(exc))


class Fetcher:
    """One shared HTTP client with the limits every outgoing request must obey.

    Create it once (it owns a connection pool) and close it with :meth:`aclose` or ``async
    with``. ``transport`` replaces the pinned, address-checking transport, so it is only
    accepted together with ``allow_private_addresses=True``.
    """

    def __init__(
        self,
        *,
        timeout: float = 30,
        max_bytes: int = 25_000_000,
        max_redirects: int = 5,
        concurrency: int = 16,
        per_host: int = 4,
        allow_private_addresses: bool = False,
        user_agent: str = DEFAULT_USER_AGENT,
        now: Callable[[], datetime] = _utcnow,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if transport is not None and not allow_private_addresses:
            raise ValueError(
                "a custom transport skips the address guard; "
                "pass allow_private_addresses=True with it"
            )
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._per_host = per_host
        self._now = now
        self._slots = asyncio.Semaphore(concurrency)
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._client = httpx.AsyncClient(
            transport=transport or _pinned_transport(limits, allow_private=allow_private_addresses),
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            follow_redirects=False,
            trust_env=False,
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> FetchResult:
        """GET ``url``; raises :class:`FetchError` for anything but a 2xx or 304 in time."""
        try:
            start = str(httpx.URL(url))
        except httpx.InvalidURL as exc:
            raise FetchError(url, f"invalid URL: {exc}") from None
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        # Queueing for a slot does not count against the deadline; the request itself does.
        async with self._host_slot(httpx.URL(start).host), self._slots:
            attempt = _Attempt(start, self._max_redirects, etag, last_modified, headers)
            try:
                async with asyncio.timeout(self._timeout):
                    result = await self._follow(attempt)
            except (FetchError, _Refused, TimeoutError, httpx.TransportError, OSError) as exc:
                error = _as_fetch_error(exc, attempt.url, self._timeout)
                log.debug("GET %s failed: %s", url, error.reason)
                if error is exc:
                    raise
                raise error from exc
        log.debug(
            "GET %s -> %d %s in %.2fs (%d bytes)",
            url,
            result.status,
            result.url,
            result.elapsed,
            result.raw_bytes,
        )
        return result

    def _host_slot(self, host: str) -> asyncio.Semaphore:
        slot = self._host_slots.get(host)
        if slot is None:
            slot = self._host_slots[host] = asyncio.Semaphore(self._per_host)
        return slot

    async def _follow(self, attempt: _Attempt) -> FetchResult:
        first_host = httpx.URL(attempt.start).host
        while True:
            url = httpx.URL(attempt.url)
            if url.scheme not in ("http", "https"):
                raise FetchError(attempt.url, f"unsupported URL scheme {url.scheme or '(none)'!r}")
            slot = self._host_slot(url.host) if url.host != first_host else nullcontext()
            async with slot:
                result = await self._hop(attempt, url)
            if result is not None:
                return result

    async def _hop(self, attempt: _Attempt, url: httpx.URL) -> FetchResult | None:
        """One request of the chain: a result, or None after moving to the next URL."""
        request = self._client.build_request("GET", url, headers=attempt.headers)
        response = await self._client.send(request, stream=True)
        try:
            status = response.status_code
            if status in _REDIRECTS and response.next_request is not None:
                attempt.follow(status, str(response.next_request.url.copy_with(fragment=None)))
                return None
            if status == 304:
                return _result(attempt, response, None, 0)
            if not 200 <= status < 300:
                raise self._status_error(attempt.url, response)
            content, raw = await self._read_body(attempt.url, response)
            return _result(attempt, response, content, raw)
        finally:
            await response.aclose()

    def _status_error(self, url: str, response: httpx.Response) -> FetchError:
        status = response.status_code
        try:
            phrase = response.reason_phrase or http.HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        retry_after = None
        if status in (429, 503):
            retry_after = _retry_after(response.headers.get("Retry-After"), self._now())
        return FetchError(
            url, f"HTTP {status} {phrase}".rstrip(), status=status, retry_after=retry_after
        )

    async def _read_body(self, url: str, response: httpx.Response) -> tuple[bytes, int]:
        """Stream the body, counting wire and decoded bytes against the cap separately."""
        cap, status = self._max_bytes, response.status_code
        declared = response.headers.get("Content-Length", "").strip()
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(
                url, f"body over {_size(cap)} cap (Content-Length {declared})", status=status
            )
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            raise FetchError(url, f"unsupported Content-Encoding {encoding!r}", status=status)
        decoder = _Decoder(encoding)
        parts: list[bytes] = []
        raw = decoded = 0
        try:
            async for chunk in response.aiter_raw():
                raw += len(chunk)
                if raw > cap:
                    raise FetchError(url, f"body over {_size(cap)} cap", status=status)
                out = decoder.decode(chunk, cap - decoded)
                if out is None:
                    break
                decoded += len(out)
                parts.append(out)
            else:
                tail = decoder.finish()
                if decoded + len(tail) <= cap:
                    parts.append(tail)
                    return b"".join(parts), raw
        except zlib.error as exc:
            raise FetchError(url, f"cannot decode {encoding} body: {exc}", status=status) from None
        raise FetchError(url, f"decoded body over {_size(cap)} cap", status=status)


def _result(
    attempt: _Attempt, response: httpx.Response, content: bytes | None, raw: int
) -> FetchResult:
    """The final response; a 304 falls back to the validators sent so the caller keeps them."""
    h = response.headers
    final = str(response.url)
    not_modified = response.status_code == 304
    return FetchResult(
        url=final,
        status=response.status_code,
        content=content,
        headers=h,
        etag=h.get("ETag") or (attempt.etag if not_modified else None),
        last_modified=h.get("Last-Modified") or (attempt.last_modified if not_modified else None),
        content_type=h.get("Content-Type"),
        permanent_redirect=attempt.moved_to(final),
        max_age=_max_age(h.get("Cache-Control")),
        raw_bytes=raw,
        elapsed=time.monotonic() - attempt.started,
    )
