"""The content index: every recording under the recording directories, by request key.

Lookup is by content, never by file name: at start every file below each directory (any name,
any depth) is read once and filed under the key of the request it holds. Only the key, the
test id and the path are kept, so a large tree costs little memory; a hit re-reads its file.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from responsa.errors import ReplayMiss
from responsa.recording import cassette
from responsa.recording.keys import normalize, request_key

log = logging.getLogger("responsa.recording")


@dataclass(frozen=True, slots=True)
class Entry:
    path: Path
    test_id: str | None
    endpoint: str


class RecordingIndex:
    def __init__(self) -> None:
        self._entries: dict[str, list[Entry]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def scan(cls, directories: Iterable[Path]) -> RecordingIndex:
        index = cls()
        for directory in directories:
            if not directory.is_dir():
                continue
            for path in sorted(directory.rglob("*")):
                if path.name.startswith(".") or not path.is_file():
                    continue
                try:
                    recording = cassette.load(path)
                except cassette.CassetteError as exc:
                    log.debug("skipping %s", exc)
                    continue
                index.add(
                    request_key(
                        str(recording.request.get("method", "POST")),
                        recording.endpoint,
                        recording.body,
                        recording.test_id,
                    ),
                    Entry(path, recording.test_id, recording.endpoint),
                )
        for key, entries in index._entries.items():
            if len(entries) > 1:
                log.info("%d recordings share key %s; using %s", len(entries), key[:12], entries[0].path)
        return index

    def add(self, key: str, entry: Entry) -> None:
        entries = self._entries.setdefault(key, [])
        if entry not in entries:
            entries.append(entry)

    def find(self, key: str) -> cassette.Recording | None:
        entries = self._entries.get(key)
        return cassette.load(entries[0].path) if entries else None

    def miss(self, key: str, endpoint: str, body: dict[str, object], test_id: str | None) -> ReplayMiss:
        """A ReplayMiss naming the key, the test id and the closest recording of the same test
        (its file name and a diff). The client never sees a server path or another test's
        recorded prompts; the server log has the whole diagnostic."""
        message = (
            f"No recording for {endpoint} with key {key} (test id {test_id!r}). "
            "Record it with RESPONSA_RECORDING_MODE=record or record-if-missing."
        )
        closest = self._closest(endpoint, body, test_id)
        if closest is None:
            log.warning("%s No recording is close.", message)
            return ReplayMiss(message)
        path, diff, same_test = closest
        log.warning("%s\nClosest recording: %s\n%s", message, path, diff)
        if same_test:
            return ReplayMiss(f"{message}\nClosest recording of this test: {path.name}\n{diff}")
        return ReplayMiss(f"{message}\nNo recording has this test id (the server log names the closest).")

    def _closest(
        self, endpoint: str, body: dict[str, object], test_id: str | None
    ) -> tuple[Path, str, bool] | None:
        entries = [e for group in self._entries.values() for e in group if e.endpoint == endpoint]
        same_test = [e for e in entries if e.test_id == test_id]
        candidates = same_test or entries
        if not candidates:
            return None
        wanted = _lines(body)
        best: tuple[float, Path, list[str]] | None = None
        for entry in candidates[:500]:
            try:
                other = _lines(cassette.load(entry.path).body)
            except cassette.CassetteError:
                continue
            ratio = difflib.SequenceMatcher(None, other, wanted, autojunk=False).ratio()
            if best is None or ratio > best[0]:
                best = (ratio, entry.path, other)
        if best is None:
            return None
        diff = list(difflib.unified_diff(best[2], wanted, "recorded", "requested", n=1, lineterm=""))
        if len(diff) > 40:
            diff = [*diff[:40], f"... ({len(diff) - 40} more diff lines)"]
        note = "" if same_test else "(no recording has this test id; closest of any test)\n"
        return best[1], note + "\n".join(diff), bool(same_test)


def _lines(body: dict[str, object]) -> list[str]:
    return json.dumps(normalize(dict(body)), indent=1, sort_keys=True).splitlines()
