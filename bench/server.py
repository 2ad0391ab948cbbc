"""Serve a directory of feeds on 127.0.0.1: nginx when installed, else a Python server.

Both answer like a static host: ETag and Last-Modified from the file, 304 to conditional
requests, and the pre-gzipped ``.gz`` sibling when the client accepts gzip (with its own
ETag, as nginx's ``gzip_static`` does). Query strings are ignored, so one file can stand
for many sources (``/feeds/00001.xml?copy=7``). Only loopback; stopped by its own pid.
"""

from __future__ import annotations

import email.utils
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from contextlib import AbstractContextManager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

_NGINX_CONF = """\
daemon on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp;
    scgi_temp_path {dir}/tmp;
    types {{ application/rss+xml xml; }}
    gzip off;
    gzip_static on;
    etag on;
    if_modified_since exact;
    server {{
        listen 127.0.0.1:{port};
        location /feeds/ {{ alias {feeds}/; }}
        location = /health {{ return 200 "ok"; }}
    }}
}}
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
    )


class FeedServer(AbstractContextManager["FeedServer"]):
    """``with FeedServer(feeds_dir, work_dir) as srv: srv.url(i)``."""

    def __init__(self, feeds: Path, work: Path, *, prefer_nginx: bool = True) -> None:
        self.feeds = feeds.resolve()
        self.work = work.resolve()
        self.port = _free_port()
        self.kind = "nginx" if prefer_nginx and _nginx() else "python"
        self._pid: int | None = None
        self._httpd: ThreadingHTTPServer | None = None

    def url(self, index: int, copy: int | None = None) -> str:
        query = f"?copy={copy}" if copy is not None else ""
        return f"http://127.0.0.1:{self.port}/feeds/{index:05d}.xml{query}"

    def version(self) -> str:
        if self.kind == "python":
            return "python http.server"
        out = subprocess.run([_nginx() or "nginx", "-v"], capture_output=True, text=True)
        return out.stderr.strip().removeprefix("nginx version: ")

    def __enter__(self) -> FeedServer:
        if self.kind == "nginx":
            self._start_nginx()
        else:
            self._start_python()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._pid is not None:
            try:
                os.kill(self._pid, signal.SIGQUIT)
            except ProcessLookupError:
                return
            for _ in range(100):
                try:
                    os.kill(self._pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.05)
            os.kill(self._pid, signal.SIGTERM)

    def _start_nginx(self) -> None:
        d = self.work / "nginx"
        (d / "tmp").mkdir(parents=True, exist_ok=True)
        conf = d / "nginx.conf"
        conf.write_text(_NGINX_CONF.format(dir=d, port=self.port, feeds=self.feeds))
        subprocess.run(
            [_nginx() or "nginx", "-p", str(d), "-e", str(d / "error.log"), "-c", str(conf)],
            check=True,
        )
        for _ in range(100):
            try:
                self._pid = int((d / "nginx.pid").read_text())
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return
            except (OSError, ValueError):
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not start; see {d / 'error.log'}")

    def _start_python(self) -> None:
        root = self.feeds

        class Handler(_StaticHandler):
            directory = root

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()


class _StaticHandler(BaseHTTPRequestHandler):
    directory: Path
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if not path.startswith("/feeds/") or "/" in path[7:] or ".." in path:
            self._send(404, b"", {})
            return
        file = self.directory / path[7:]
        gz = file.with_suffix(file.suffix + ".gz")
        headers = {"Content-Type": "application/rss+xml"}
        if "gzip" in self.headers.get("Accept-Encoding", "") and gz.exists():
            file, headers["Content-Encoding"] = gz, "gzip"
        try:
            st = file.stat()
        except FileNotFoundError:
            self._send(404, b"", {})
            return
        etag = f'"{int(st.st_mtime):x}-{st.st_size:x}"'
        modified = email.utils.formatdate(st.st_mtime, usegmt=True)
        headers.update({"ETag": etag, "Last-Modified": modified})
        if self.headers.get("If-None-Match") == etag or (
            "If-None-Match" not in self.headers
            and self.headers.get("If-Modified-Since") == modified
        ):
            self._send(304, b"", headers)
            return
        self._send(200, file.read_bytes(), headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
