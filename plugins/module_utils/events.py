# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The product's events on a POSIX host: a JSON-lines file, one event a line.

Each line is ``{"id": 25, "time": "2026-11-26T10:00:00Z", "message": "..."}``.
Lines that are not such an event are counted and skipped, never trusted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.module_utils.regular_files import open_regular

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MAX_LINE = 8192
MAX_MESSAGE = 4096


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=dt.timezone.utc)


def read_events(path: str, ids: Iterable[int], hours: int, limit: int, now: dt.datetime | None = None) -> tuple[list[dict[str, Any]], int]:
    """Events with an id in ``ids`` from the last ``hours``, newest first; and how many lines were skipped."""
    now = now or dt.datetime.now(dt.timezone.utc)
    since = now - dt.timedelta(hours=hours)
    wanted = set(ids)
    found: list[dict[str, Any]] = []
    skipped = 0
    # a FIFO, device or socket named like the events file is refused at once (NotRegularFile), never waited on
    with os.fdopen(open_regular(path, os.O_RDONLY, follow=True), encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                if len(line) > MAX_LINE:
                    raise ValueError("line too long")
                record = json.loads(line)
                event_id = record["id"]
                when = _parse_time(record["time"])
                message = str(record.get("message", ""))[:MAX_MESSAGE]
                if not isinstance(event_id, int) or isinstance(event_id, bool) or not 0 <= event_id <= 65535:
                    raise ValueError("bad id")
            except (ValueError, KeyError, TypeError):
                skipped += 1
                continue
            if event_id in wanted and when >= since:
                found.append({"id": event_id, "time": when.strftime(TIME_FORMAT), "message": message})
    found.sort(key=lambda e: e["time"], reverse=True)
    return found[:limit], skipped
