"""`aggregator run` as a real child process, with what systemd would give it.

:class:`NotifySocket` is a real AF_UNIX datagram socket (abstract namespace, so no path
length limit) that collects what the daemon sends as ``NOTIFY_SOCKET``. :class:`Daemon`
starts the process with its stderr in a file, reads its JSON log lines and its HTTP port,
and stops it. :func:`daemon_config` writes a feeds.yaml with short poll intervals.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from feedgen import SHOWS
from httpserver import HttpServer
from support import closed_port, wait_for


class NotifySocket:
    """Collects sd_notify datagrams; each message is a dict of its KEY=value fields."""

    def __init__(self) -> None:
        self.address = f"@aggregator-test-{uuid.uuid4().hex}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind("\0" + self.address[1:])
        self._sock.settimeout(0.1)
        self._lock = threading.Lock()
        self._messages: list[dict[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._lock:
                self._messages.append(fields)

    @property
    def messages(self) -> list[dict[str, str]]:
        with self._lock:
            return list(self._messages)

    def with_key(self, key: str) -> list[dict[str, str]]:
        return [m for m in self.messages if key in m]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


def daemon_config(
    tmp_path: Path,
    server: HttpServer,
    *,
    slugs: Iterable[str] | None = None,
    extra_feeds: str = "",
    interval: str = "1h",
    timeout: str = "10s",
    extra: str = "",
    port: int | None = None,
) -> Path:
    """feeds.yaml for the made-up shows on ``server``; ``interval`` is also the min and max,
    so a short one makes the daemon re-poll (304s) on a steady beat."""
    chosen = [s for s in SHOWS if slugs is None or s.slug in set(slugs)]
    feeds = "".join(
        f"  - name: {s.title!r}\n    url: {server.url(f'/{s.slug}.xml')}\n" for s in chosen
    )
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text(
        f"state_dir: state\nlisten: 127.0.0.1:{port or closed_port()}\n"
        "allow_private_addresses: true\n"
        f"poll:\n  interval: {interval}\n  min_interval: {interval}\n  max_interval: {interval}\n"
        f"  tick: 0.2s\n  timeout: {timeout}\n"
        "merged_feed:\n  link: http://127.0.0.1/\n"
        f"{extra}feeds:\n{feeds}{extra_feeds}"
    )
    return cfg


class Daemon:
    """A running ``aggregator run --config CFG``; use as a context manager."""

    def __init__(
        self,
        cfg: Path,
        *,
        notify: NotifySocket | None = None,
        env: dict[str, str] | None = None,
        log_format: str | None = "json",
    ) -> None:
        self.cfg = cfg
        self.log_path = cfg.parent / f"daemon-{uuid.uuid4().hex[:6]}.log"
        full_env = dict(os.environ, AGGREGATOR_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
        full_env.pop("NOTIFY_SOCKET", None)
        full_env.pop("WATCHDOG_USEC", None)
        if log_format:
            full_env["AGGREGATOR_LOG_FORMAT"] = log_format
        if notify is not None:
            full_env["NOTIFY_SOCKET"] = notify.address
        full_env.update(env or {})
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "run", "--config", str(cfg)],
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        listen = next(
            line.split(":", 2)[2]
            for line in cfg.read_text().splitlines()
            if line.startswith("listen:")
        )
        self.base = f"http://127.0.0.1:{listen.strip()}"

    def __enter__(self) -> Daemon:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def lines(self) -> list[dict[str, Any]]:
        """The JSON log lines so far (a line still being written is left out)."""
        out = []
        for line in self.text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def events(self, event: str) -> list[dict[str, Any]]:
        return [d for d in self.lines() if d.get("event") == event]

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.base + path, timeout=10, **kw)

    def answers(self, path: str = "/healthz") -> bool:
        try:
            return self.get(path).status_code == 200
        except httpx.HTTPError:
            return False

    def wait(self, condition: Any, timeout: float, what: str) -> None:
        """Like support.wait_for, but fails at once with the log when the daemon died."""
        wait_for(lambda: condition() or self.proc.poll() is not None, timeout, what)
        assert self.proc.poll() is None, f"daemon exited {self.proc.returncode}:\n{self.text()}"

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 60) -> tuple[int, float]:
        """SIGTERM; returns the exit status and the seconds it took."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - started


class PausableProxy:
    """A TCP relay on 127.0.0.1 to ``upstream``; while paused it holds every byte, so the
    far side looks hung (a database that stopped answering), then delivers on resume."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.running = threading.Event()
        self.running.set()
        self._closing = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def pause(self) -> None:
        self.running.clear()

    def resume(self) -> None:
        self.running.set()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(self.upstream, timeout=10)
            server.settimeout(None)
            self._sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                while not self.running.wait(0.1):
                    if self._closing.is_set():
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closing.set()
        self.running.set()
        self._listener.close()
        for s in self._sockets:
            s.close()
