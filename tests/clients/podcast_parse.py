"""Parses a podcast feed (RSS 2.0 + iTunes) from standard input with feedparser, a real feed
parser, and prints what it found as JSON."""
import json
import sys

import feedparser

d = feedparser.parse(sys.stdin.buffer.read())
print(json.dumps({
    "bozo": bool(d.bozo),
    "bozo_exception": str(d.get("bozo_exception", "")),
    "version": d.version,
    "title": d.feed.get("title"),
    "language": d.feed.get("language"),
    "image": (d.feed.get("image") or {}).get("href"),
    "author": d.feed.get("author"),
    "entries": [
        {
            "title": e.get("title"),
            "id": e.get("id"),
            "summary": e.get("summary"),
            "published": e.get("published"),
            "enclosures": [
                {"href": x.get("href"), "length": x.get("length"), "type": x.get("type")}
                for x in e.get("enclosures", [])
            ],
        }
        for e in d.entries
    ],
}, ensure_ascii=False))
