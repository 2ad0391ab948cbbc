"""The daemon's HTTP face: the published files, liveness, readiness and metrics.

Runs inside the daemon's asyncio loop. Files go out through aiohttp's ``FileResponse``,
which does ETag, Last-Modified, 304s, ranges and serves the pre-written ``.gz`` sibling
to clients that accept gzip. Only fixed names are routed (chapters names match a pattern
without dots or slashes), so there is no directory listing and no way out of the public
directory. ``/metrics`` answers loopback peers only unless ``metrics_public`` is set.
Others add routes with ``app.router.add_get``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from aggregator.publish import CHAPTERS_DIR, CHAPTERS_NAME, FEED_JSON, FEED_XML, SOURCES_OPML

if TYPE_CHECKING:
    from aggregator.metrics import Metrics

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Ready = Callable[[], Awaitable[bool]]

CONTENT_TYPES = {
    FEED_XML: "application/rss+xml; charset=utf-8",
    FEED_JSON: "application/feed+json; charset=utf-8",
    SOURCES_OPML: "text/x-opml; charset=utf-8",
}
CHAPTERS_TYPE = "application/json; charset=utf-8"


def _file(path: Path, content_type: str) -> web.StreamResponse:
    if not path.is_file():
        raise web.HTTPNotFound(text="not published yet\n")
    # no-cache: clients may keep a copy but revalidate, which the ETag makes cheap.
    return web.FileResponse(
        path, headers={"Content-Type": content_type, "Cache-Control": "no-cache"}
    )


def _serve(path: Path, content_type: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return _file(path, content_type)

    return handler


def build_app(
    public_dir: Path,
    *,
    ready: Ready | None = None,
    metrics: Metrics | None = None,
    metrics_public: bool = False,
) -> web.Application:
    """Routes: the three feed files, ``/chapters/<name>.json``, ``/healthz``, ``/readyz``,
    and ``/metrics`` when given ``metrics``."""
    app = web.Application()
    for name, content_type in CONTENT_TYPES.items():
        app.router.add_get(f"/{name}", _serve(public_dir / name, content_type))

    async def chapters(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        return _file(public_dir / CHAPTERS_DIR / f"{name}.json", CHAPTERS_TYPE)

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(request: web.Request) -> web.Response:
        try:
            ok = await ready() if ready else True
        except Exception:
            log.warning("readiness check failed", exc_info=True)
            ok = False
        return web.Response(text="ready\n" if ok else "not ready\n", status=200 if ok else 503)

    app.router.add_get(f"/{CHAPTERS_DIR}/{{name:{CHAPTERS_NAME}}}.json", chapters)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if metrics is not None:
        app.router.add_get("/metrics", _metrics_handler(metrics, public=metrics_public))
    return app


def _metrics_handler(metrics: Metrics, *, public: bool) -> Handler:
    from aggregator.metrics import peer_may_scrape

    async def handler(request: web.Request) -> web.Response:
        if not peer_may_scrape(request.remote, public=public):
            raise web.HTTPForbidden(text="metrics are served to loopback only (metrics_public)\n")
        body, content_type = metrics.render()
        # The exposition content type carries parameters aiohttp's content_type= refuses.
        return web.Response(body=body, headers={"Content-Type": content_type})

    return handler


@dataclass
class Server:
    """A running server; ``port`` is the real one even when 0 was asked for."""

    runner: web.AppRunner
    host: str
    port: int

    async def stop(self) -> None:
        await self.runner.cleanup()
        log.debug("HTTP server on %s:%d stopped", self.host, self.port)


async def start_server(app: web.Application, host: str, port: int) -> Server:
    # No access log: feed apps poll all day and one INFO line per request is noise.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    real_port = runner.addresses[0][1]
    log.info("serving HTTP host=%s port=%d", host, real_port)
    return Server(runner, host, real_port)
