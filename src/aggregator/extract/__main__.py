"""``python -m aggregator.extract FILE [--show NAME]``: print the episodes as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aggregator.extract import extract_document
from aggregator.model import ParseError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aggregator.extract", description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--show", default=None)
    args = parser.parse_args(argv)
    try:
        data = args.path.read_bytes()
    except OSError as exc:
        print(f"{args.path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        episodes = extract_document(data, filename=args.path.name, show=args.show)
    except ParseError as exc:
        print(f"{args.path}: {exc}", file=sys.stderr)
        return 1
    doc = {"episodes": [ep.as_json() for ep in episodes]}
    # bytes, so a C locale cannot turn an accented name into an encoding error
    sys.stdout.buffer.write(json.dumps(doc, ensure_ascii=False, indent=2).encode() + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
