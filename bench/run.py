"""The benchmark: one command, everything on 127.0.0.1, stops by itself.

    .venv/bin/python -m bench.run --feeds 1000            # the figures in docs/performance.md
    .venv/bin/python -m bench.run --feeds 50 --scale-sources 0 --publish-episodes 10000

Generates N podcast feeds (bench/feedgen.py; kept in bench/out/ for the next run) and the
same feeds with one new episode each, serves them (nginx when installed, else Python),
and measures, each in a fresh process whose memory is sampled:

- the daemon's own poll path (``Services.poll_due`` in a loop, SQLite): first poll,
  steady-state re-poll (all 304), changed re-poll (one new item per feed);
- the limit (httpx GET of every feed plus an lxml pass) and lemon24's ``reader``;
- reading a feed that gained one item against reading it whole (one process, one core);
- ``Services.publish`` with 100,000 episodes stored, extraction of a 70 KB transcript;
- 10,000 sources (small feeds: the same server files under distinct URLs) for memory.

Prints a table with ratios and writes bench/out/results.json and results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import feedgen
from bench.server import FeedServer

HERE = Path(__file__).resolve().parent
SMALL_ITEMS = 3  # items per feed in the many-sources run


# ---------------------------------------------------------------- corpus


def _write_range(args: tuple[Path, int, int, int, int, int | None]) -> None:
    directory, seed, lo, hi, extra, keep = args
    for i in range(lo, hi):
        feedgen.write(directory, seed, i, extra=extra, keep=keep)


def corpus(directory: Path, seed: int, n: int, *, extra: int = 0, keep: int | None = None) -> Path:
    """Feeds 0..n-1 in ``directory``, made once and reused (the manifest says what is there)."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "manifest.json"
    wanted = {"seed": seed, "extra": extra, "keep": keep, "version": 1}
    if manifest.exists():
        have = json.loads(manifest.read_text())
        if {k: have.get(k) for k in wanted} == wanted and have.get("n", 0) >= n:
            return directory
    started = time.perf_counter()
    jobs = os.cpu_count() or 1
    step = max(1, n // (jobs * 8))
    chunks = [(directory, seed, lo, min(n, lo + step), extra, keep) for lo in range(0, n, step)]
    with ProcessPoolExecutor(jobs) as pool:
        list(pool.map(_write_range, chunks))
    manifest.write_text(json.dumps({**wanted, "n": n}))
    print(f"  generated {n} feeds in {directory} ({time.perf_counter() - started:.0f} s)")
    return directory


def point(serve: Path, target: Path, n: int) -> None:
    """Make the served directory show ``target``'s feeds (symlinks, switched atomically)."""
    serve.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        for name in (f"{i:05d}.xml", f"{i:05d}.xml.gz"):
            link = serve / name
            tmp = serve / (name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(target / name)
            tmp.replace(link)


# ---------------------------------------------------------------- processes


@dataclass
class Sample:
    main_mb: float = 0.0  # peak RSS of the measured process
    tree_mb: float = 0.0  # peak proportional set size of it and its children (parser workers)
    _stop: threading.Event = field(default_factory=threading.Event)


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            found += [int(c) for c in text.split()]
    except OSError:
        return found
    return found + [g for c in found for g in _children(c)]


def _kb(path: str, field_name: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field_name):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _watch(pid: int, sample: Sample) -> None:
    while not sample._stop.is_set():
        main = _kb(f"/proc/{pid}/status", "VmRSS:")
        tree = sum(_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in [pid, *_children(pid)])
        sample.main_mb = max(sample.main_mb, main / 1024)
        sample.tree_mb = max(sample.tree_mb, tree / 1024)
        sample._stop.wait(0.2)


def measure(args: list[str], *, timeout: float = 7200) -> dict[str, Any]:
    """Run a bench module in a fresh interpreter; its JSON line plus its peak memory."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    proc = subprocess.Popen(
        [sys.executable, "-m", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    sample = Sample()
    watcher = threading.Thread(target=_watch, args=(proc.pid, sample), daemon=True)
    watcher.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        sample._stop.set()
        watcher.join()
        if proc.poll() is None:
            proc.kill()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{err.decode()[-4000:]}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    result["peak_main_mb"] = round(sample.main_mb, 1)
    result["peak_tree_mb"] = round(sample.tree_mb, 1)
    return result


# ---------------------------------------------------------------- in-process timings


def best(fn: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def parse_costs(seed: int, count: int) -> dict[str, float]:
    """One core: a feed read whole, its plain parse and extraction, and the same feed with
    one more episode read against the first one's item index."""
    from aggregator.extract import SponsorRegistry, enrich_episode
    from aggregator.incremental import read_feed
    from aggregator.parse.feed import parse_feed
    from aggregator.parse.feed_scan import scan_items

    registry = SponsorRegistry.default()
    url, kind = "http://127.0.0.1/feed.xml", "application/rss+xml"
    whole, parse, part, scan = [], [], [], []
    for i in range(count):
        before = feedgen.feed(seed, i)
        after = feedgen.feed(seed, i, extra=1)
        first = read_feed(before, "Show", url, kind, registry, None)
        whole.append(best(lambda a=after: read_feed(a, "Show", url, kind, registry, None), 1))
        parse.append(best(lambda a=after: parse_feed(a, show="Show", base_url=url), 1))
        part.append(
            best(lambda a=after, f=first: read_feed(a, "Show", url, kind, registry, f.index))
        )
        scan.append(best(lambda a=after: scan_items(a)))
    parsed = parse_feed(feedgen.feed(seed, 0), show="Show", base_url=url)
    enrich = best(lambda: [enrich_episode(e, registry=registry) for e in parsed.episodes], 1)
    return {
        "whole_seconds": statistics.median(whole),
        "parse_only_seconds": statistics.median(parse),
        "extract_per_item_ms": enrich / len(parsed.episodes) * 1000,
        "changed_seconds": statistics.median(part),
        "scan_seconds": statistics.median(scan),
    }


def transcript_cost(seed: int) -> dict[str, float]:
    from aggregator.extract import extract_document

    data = feedgen.transcript(seed)
    seconds = best(lambda: extract_document(data, filename="episode.vtt"), 5)
    found = extract_document(data, filename="episode.vtt")[0]
    return {"bytes": len(data), "seconds": seconds, "sponsors": len(found.sponsors)}


# ---------------------------------------------------------------- report


def _versions() -> dict[str, str]:
    names = ("aggregator", "feedparser", "lxml", "httpx", "SQLAlchemy", "reader", "nh3")
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "-"
    found["python"] = platform.python_version()
    return found


def table(r: dict[str, Any]) -> str:
    n = r["feeds"]
    d, rd, lim = r["daemon"], r.get("reader", {}), r["limit"]
    pc = r["parse"]

    def per(result: dict[str, Any]) -> float:
        return result["wall"] / result["sources"] * 1000

    rows = [
        ("first poll, ms/feed", per(d["first"]), rd and per(rd["first"]), ">= 3x reader"),
        (
            "steady re-poll (304), ms/feed",
            per(d["steady"]),
            rd and per(rd["steady"]),
            ">= 1x reader",
        ),
        ("changed re-poll (+1 item), ms/feed", per(d["changed"]), None, ""),
        ("limit: httpx GET + lxml, ms/feed", per(lim), None, ""),
    ]
    lines = [
        f"feeds: {n} (~{r['corpus_mb_per_feed']:.2f} MB, ~{r['items_per_feed']:.0f} items each); "
        f"server: {r['server']}; load average before/after: {r['load']}",
        "",
        "| measure | aggregator | reader | reader/aggregator | target |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, ours, theirs, target in rows:
        ratio = f"{theirs / ours:.2f}x" if theirs else ""
        theirs_s = f"{theirs:.1f}" if theirs else ""
        lines.append(f"| {name} | {ours:.1f} | {theirs_s} | {ratio} | {target} |")
    share = pc["changed_seconds"] / pc["whole_seconds"] * 100
    lines += [
        "",
        "| measure | value | target |",
        "| --- | --- | --- |",
        f"| read a feed whole (parse + extraction, 1 core) | {pc['whole_seconds'] * 1000:.0f} ms | |",
        f"| of which feedparser + lxml + sanitising | {pc['parse_only_seconds'] * 1000:.0f} ms | |",
        f"| extraction per item (sponsors, people) | {pc['extract_per_item_ms']:.1f} ms | |",
        f"| read the same feed after one new item | {pc['changed_seconds'] * 1000:.1f} ms ({share:.1f} %) | <= 10 % |",
        f"| of which the item scan (expat) | {pc['scan_seconds'] * 1000:.1f} ms | |",
        f"| publish, {r['publish']['episodes']:,} episodes stored | {r['publish']['publish_seconds'] * 1000:.0f} ms | O(max_items) |",
    ]
    if "publish_small" in r:
        small = r["publish_small"]
        lines.append(
            f"| publish, {small['episodes']:,} episodes stored | {small['publish_seconds'] * 1000:.0f} ms | same as above |"
        )
    t = r["transcript"]
    lines.append(
        f"| extract a {t['bytes'] / 1000:.0f} KB transcript | {t['seconds'] * 1000:.0f} ms | |"
    )
    mem = [
        ("first poll", d["first"]),
        ("steady re-poll", d["steady"]),
        ("changed re-poll", d["changed"]),
    ]
    if "scale" in r:
        s = r["scale"]
        mem += [(f"{s['first']['sources']:,} sources, first poll", s["first"])]
        mem += [(f"{s['steady']['sources']:,} sources, steady re-poll", s["steady"])]
        lines.append(
            f"| {s['first']['sources']:,} small feeds: first poll / steady re-poll | "
            f"{per(s['first']):.1f} / {per(s['steady']):.2f} ms/feed | |"
        )
    lines += ["", "| peak memory | daemon process RSS | with parser workers (PSS) | target |"]
    lines += ["| --- | --- | --- | --- |"]
    for name, m in mem:
        lines.append(
            f"| {name} | {m['peak_main_mb']:.0f} MB | {m['peak_tree_mb']:.0f} MB | < 250 MB |"
        )
    if rd:
        lines.append(
            f"| reader, first update | {rd['first']['peak_main_mb']:.0f} MB | "
            f"{rd['first']['peak_tree_mb']:.0f} MB | |"
        )
    lines += ["", "versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items())]
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--feeds", type=int, default=200, help="number of feeds (default 200)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--no-reader", action="store_true", help="skip lemon24's reader")
    ap.add_argument("--scale-sources", type=int, default=10_000, help="0 skips the run")
    ap.add_argument("--publish-episodes", type=int, default=100_000)
    ap.add_argument("--parse-samples", type=int, default=5)
    ap.add_argument("--python-server", action="store_true", help="serve without nginx")
    a = ap.parse_args(argv)

    n, out = a.feeds, a.out.resolve()
    print(f"bench: {n} feeds, outputs in {out}")
    v1 = corpus(out / f"feeds-{a.seed}", a.seed, n)
    v2 = corpus(out / f"feeds-{a.seed}-next", a.seed, n, extra=1)
    small_n = min(n, 1000)
    small = corpus(out / f"feeds-{a.seed}-small", a.seed, small_n, keep=SMALL_ITEMS)
    run = out / "run"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    serve = run / "serve"
    point(serve, v1, n)
    sizes = [(v1 / f"{i:05d}.xml").stat().st_size for i in range(n)]
    results: dict[str, Any] = {
        "feeds": n,
        "corpus_mb_per_feed": statistics.mean(sizes) / 1e6,
        "items_per_feed": statistics.mean(feedgen.show(a.seed, i).items for i in range(n)),
        "versions": _versions(),
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    load_before = _load()
    with FeedServer(serve, run, prefer_nginx=not a.python_server) as server:
        results["server"] = server.version()
        urls = run / "urls.txt"
        urls.write_text("\n".join(server.url(i) for i in range(n)))

        print("  limit: httpx GET + lxml")
        results["limit"] = measure(["bench.contenders", "limit", "--urls", str(urls)])
        daemon: dict[str, Any] = {}
        state = run / "daemon"
        for phase, hours in (("first", 0), ("steady", 48)):
            print(f"  aggregator: {phase} poll")
            daemon[phase] = measure(
                [
                    "bench.daemon",
                    "poll",
                    "--state",
                    str(state),
                    "--urls",
                    str(urls),
                    "--hours",
                    str(hours),
                ]
            )
        point(serve, v2, n)
        print("  aggregator: changed poll")
        daemon["changed"] = measure(
            ["bench.daemon", "poll", "--state", str(state), "--urls", str(urls), "--hours", "96"]
        )
        point(serve, v1, n)
        results["daemon"] = daemon

        if not a.no_reader:
            reader: dict[str, Any] = {}
            for phase in ("first", "steady"):
                print(f"  reader: {phase} update")
                reader[phase] = measure(
                    [
                        "bench.contenders",
                        "reader",
                        "--db",
                        str(run / "reader.sqlite"),
                        "--urls",
                        str(urls),
                    ]
                )
            results["reader"] = reader

        if a.scale_sources:
            point(serve, small, small_n)
            scale_urls = run / "scale-urls.txt"
            scale_urls.write_text(
                "\n".join(server.url(i % small_n, copy=i) for i in range(a.scale_sources))
            )
            scale: dict[str, Any] = {}
            for phase, hours in (("first", 0), ("steady", 48)):
                print(f"  aggregator: {a.scale_sources} sources, {phase} poll")
                scale[phase] = measure(
                    [
                        "bench.daemon",
                        "poll",
                        "--state",
                        str(run / "scale"),
                        "--urls",
                        str(scale_urls),
                        "--hours",
                        str(hours),
                    ]
                )
            results["scale"] = scale
            point(serve, v1, n)

    print("  publishing")
    shows = max(1, a.publish_episodes // 100)
    dummy = run / "publish-urls.txt"
    dummy.write_text("\n".join(f"http://127.0.0.1:9/feeds/{i}.xml" for i in range(shows)))
    results["publish"] = measure(
        [
            "bench.daemon",
            "publish",
            "--state",
            str(run / "publish"),
            "--urls",
            str(dummy),
            "--episodes",
            str(a.publish_episodes),
        ]
    )
    small_episodes = a.publish_episodes // 10
    results["publish_small"] = measure(
        [
            "bench.daemon",
            "publish",
            "--state",
            str(run / "publish-small"),
            "--urls",
            str(dummy),
            "--episodes",
            str(small_episodes),
        ]
    )
    print("  parse costs, transcript")
    results["parse"] = parse_costs(a.seed, min(n, a.parse_samples))
    results["transcript"] = transcript_cost(a.seed)
    results["load"] = f"{load_before} / {_load()}"

    text = table(results)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (out / "results.md").write_text(text + "\n")
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
