"""Move subscriptions between ``feeds.yaml`` and any podcast app, via OPML.

Import edits ``feeds.yaml`` with ruamel's round-trip mode so the user's comments and
ordering survive; the edited file is validated before it replaces the old one.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from xml.sax.saxutils import quoteattr

from lxml import etree
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from aggregator.config import ConfigError, Settings, parse_settings


def read_opml(data: bytes) -> list[tuple[str, str]]:
    """(title, feed URL) of every outline with an ``xmlUrl``, in document order."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ConfigError(f"not an OPML file: {exc}") from exc
    found = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        if url.startswith(("http://", "https://")):
            title = (outline.get("title") or outline.get("text") or url).strip()
            found.append((title, url))
    return found


def import_opml(opml_path: Path, config_path: Path) -> list[str]:
    """Append the OPML's feeds that are not configured yet; returns the names added."""
    try:
        entries = read_opml(opml_path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{opml_path}: cannot read: {exc.strerror or exc}") from exc
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    text = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
    tree = yaml.load(text) if text.strip() else CommentedMap()
    feeds = tree.setdefault("feeds", CommentedSeq())
    names = {str(f.get("name")) for f in feeds}
    urls = {str(f.get("url")) for f in feeds}
    added = []
    for title, url in entries:
        if url in urls:
            continue
        name, n = title, 2
        while name in names:
            name, n = f"{title} ({n})", n + 1
        feeds.append(CommentedMap([("name", name), ("url", url)]))
        names.add(name)
        urls.add(url)
        added.append(name)
    out = io.StringIO()
    yaml.dump(tree, out)
    parse_settings(out.getvalue(), config_path)  # never write a config that would not load
    fd, tmp = tempfile.mkstemp(dir=config_path.parent, prefix=f".{config_path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(out.getvalue())
    os.replace(tmp, config_path)
    return added


def export_opml(settings: Settings) -> str:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head><title>aggregator subscriptions</title></head>",
        "  <body>",
    ]
    for feed in settings.feeds:
        lines.append(
            f'    <outline type="rss" text={quoteattr(feed.name)} '
            f"title={quoteattr(feed.name)} xmlUrl={quoteattr(feed.url)}/>"
        )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)
