"""The hostile-input cases at the issue's full sizes (CI runs them smaller: tests/test_hostile.py).

Run: ``.venv/bin/python bench/hostile.py [CASE ...]``. Each case is polled beside a good
feed through the daemon's parts with ``poll.timeout: 30s`` and ``max_bytes: 25MB``; the
table gives the outcome, the wall time (budget: timeout + 1 s), the growth of this
process's peak RSS (budget: 100 MB) and the reason logged. Needs about 2 GB of free memory
for the payloads it builds (the gzip bomb is generated, the 200 MB body streamed).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from aggregator.workers import ParsePool
from hostile import FULL, MB, PATHS, Harness, serve
from httpserver import HttpServer


async def main(cases: list[str]) -> int:
    over = 0
    with HttpServer() as server:
        pool = ParsePool(2, time_limit=FULL.timeout)
        pool.submit(abs, -1).result()
        harness = Harness(server, pool, FULL)
        makers = serve(server, FULL)
        print(f"{'case':<26}{'outcome':<10}{'seconds':>9}{'RSS MB':>8}  reason")
        for case in cases or sorted(PATHS):
            makers[case]()
            with tempfile.TemporaryDirectory() as tmp:
                run, services = await harness.poll(Path(tmp), PATHS[case])
                await services.close()
            ok = run.seconds < FULL.timeout + 1 and run.rss_growth < 100 * MB
            over += not ok
            print(
                f"{case:<26}{run.outcome.status:<10}{run.seconds:>9.2f}"
                f"{run.rss_growth / MB:>8.1f}  {run.outcome.error or '-'}{'' if ok else '  OVER BUDGET'}"
            )
        pool.shutdown(cancel_futures=True)
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1:])))
