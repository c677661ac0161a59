"""The hits log: one JSON line per recording lookup, for `responsa recordings prune` and the
pytest plugin's end-of-run summary.

    log = HitsLog(Path("recordings/.responsa-hits.jsonl"))
    log.note("hit", key, test_id, endpoint, path)       # or "miss", "recorded"

A line is `{"at", "outcome", "key", "test_id", "endpoint", "file"}`. Lines are appended with
one `write` each on a file opened for appending, so the workers of one server (and several
servers) can share a log. The file is kept only when `recording.hits_log` names it; the
server always keeps the latest `RECENT` lookups in memory (a miss with its closest recording's
diff), which the console's Recordings page shows.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from responsa.errors import ReplayMiss

RECENT = 1000

log = logging.getLogger("responsa.recording")


class HitsLog:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.started = time.time()
        self.counts: Counter[str] = Counter()
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def note(
        self,
        outcome: str,
        key: str,
        test_id: str | None,
        endpoint: str,
        file: Path | None,
        miss: ReplayMiss | None = None,
    ) -> None:
        self.counts[outcome] += 1
        line = {
            "at": round(time.time(), 3),
            "outcome": outcome,
            "key": key,
            "test_id": test_id,
            "endpoint": endpoint,
            "file": str(file) if file is not None else None,
        }
        shown = {**line, "file": file.name if file is not None else None}
        if miss is not None:
            shown.update(closest=miss.closest, differs=miss.differs, diff=miss.diff)
        self.recent.append(shown)
        if self.path is None:
            return
        try:
            with self.path.open("a") as handle:
                handle.write(json.dumps(line) + "\n")
        except OSError as exc:  # a full disk must not fail the response being replayed
            log.warning("could not write the hits log %s: %s", self.path, exc)


def read_hits(path: Path) -> Iterator[dict[str, Any]]:
    """The lines of a hits log (a torn last line is skipped)."""
    with path.open() as handle:
        for line in handle:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                yield entry
