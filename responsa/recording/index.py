"""The content index: every recording under the recording directories, by request key.

Lookup is by content, never by file name: at start every file below each directory (any name,
any depth) is read once and filed under the key of the request it holds. Only the key, the
test id and the path are kept, so a large tree costs little memory; a hit re-reads its file.
A miss names the closest recording and the field paths where its request differs.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from responsa.errors import ReplayMiss
from responsa.recording import cassette
from responsa.recording.keys import differences, normalize, request_key
from responsa.recording.redact import Redaction

log = logging.getLogger("responsa.recording")


@dataclass(frozen=True, slots=True)
class Entry:
    path: Path
    test_id: str | None
    endpoint: str


def recording_key(recording: cassette.Recording, redaction: Redaction | None) -> str:
    """The key a lookup of this recording's request computes (on its redacted form)."""
    body = redaction.request(recording.body) if redaction is not None else recording.body
    return request_key(
        str(recording.request.get("method", "POST")), recording.endpoint, body, recording.test_id
    )


class RecordingIndex:
    def __init__(self, redaction: Redaction | None = None) -> None:
        self._entries: dict[str, list[Entry]] = {}
        self.redaction = redaction
        self._chosen: set[str] = set()  # shared keys whose choice was logged

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def scan(cls, directories: Iterable[Path], redaction: Redaction | None = None) -> RecordingIndex:
        """Every recording of the trees, keyed as a lookup would key its request (redacted:
        a recording made before redaction, holding a secret, still hits)."""
        index = cls(redaction)
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
                    recording_key(recording, redaction), Entry(path, recording.test_id, recording.endpoint)
                )
        shared = sum(1 for entries in index._entries.values() if len(entries) > 1)
        if shared:
            log.info(
                "%d keys are shared by several recordings: each lookup takes the one whose request "
                "matches exactly, else the newest (`responsa recordings verify` lists them)",
                shared,
            )
        return index

    def by_test(self) -> dict[str | None, list[tuple[str, Entry]]]:
        """Every recording's key and entry, grouped by test id (the console's tree)."""
        groups: dict[str | None, list[tuple[str, Entry]]] = {}
        for key, entries in self._entries.items():
            for entry in entries:
                groups.setdefault(entry.test_id, []).append((key, entry))
        return groups

    def add(self, key: str, entry: Entry) -> None:
        entries = self._entries.setdefault(key, [])
        if entry not in entries:
            entries.append(entry)

    def find(self, key: str, body: dict[str, Any] | None = None) -> cassette.Recording | None:
        """The recording of `key`. When several share it (the key ignores `stream_options`,
        float noise, …), the one whose request is exactly `body` wins, else the newest file;
        the choice is logged once per key."""
        entries = self._entries.get(key)
        if not entries:
            return None
        if len(entries) == 1:
            return cassette.load(entries[0].path)
        loaded = []
        for entry in entries:
            try:
                loaded.append(cassette.load(entry.path))
            except cassette.CassetteError:
                continue
        if not loaded:
            return None
        exact = [r for r in loaded if body is not None and self._body(r) == body]
        chosen = max(exact or loaded, key=lambda r: r.path.stat().st_mtime)
        if key not in self._chosen:
            self._chosen.add(key)
            why = "its request matches exactly" if exact else "the newest"
            log.info("%d recordings share key %s: using %s (%s)", len(loaded), key[:12], chosen.path, why)
        return chosen

    def _body(self, recording: cassette.Recording) -> dict[str, Any]:
        return self.redaction.request(recording.body) if self.redaction is not None else recording.body

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
        path, diff, same_test, fields = closest
        where = "".join(f"\n  differs at {field}" for field in fields)
        log.warning("%s\nClosest recording: %s%s\n%s", message, path, where, diff)
        if same_test:
            return ReplayMiss(
                f"{message}\nClosest recording of this test: {path.name}{where}\n{diff}",
                closest=path.name,
                differs=fields,
                diff=diff,
            )
        return ReplayMiss(f"{message}\nNo recording has this test id (the server log names the closest).")

    def _closest(
        self, endpoint: str, body: dict[str, object], test_id: str | None
    ) -> tuple[Path, str, bool, list[str]] | None:
        """The most similar recording of the same endpoint (of the same test if it has any):
        its path, a text diff, whether it is this test's, and the field paths that differ."""
        entries = [e for group in self._entries.values() for e in group if e.endpoint == endpoint]
        same_test = [e for e in entries if e.test_id == test_id]
        candidates = same_test or entries
        if not candidates:
            return None
        wanted = _lines(body)
        best: tuple[float, Path, list[str], dict[str, Any]] | None = None
        for entry in candidates[:500]:
            try:
                recorded = self._body(cassette.load(entry.path))
            except cassette.CassetteError:
                continue
            other = _lines(recorded)
            ratio = difflib.SequenceMatcher(None, other, wanted, autojunk=False).ratio()
            if best is None or ratio > best[0]:
                best = (ratio, entry.path, other, recorded)
        if best is None:
            return None
        diff = list(difflib.unified_diff(best[2], wanted, "recorded", "requested", n=1, lineterm=""))
        if len(diff) > 40:
            diff = [*diff[:40], f"... ({len(diff) - 40} more diff lines)"]
        note = "" if same_test else "(no recording has this test id; closest of any test)\n"
        fields = differences(normalize(dict(best[3])), normalize(dict(body)))
        return best[1], note + "\n".join(diff), bool(same_test), fields


def _lines(body: dict[str, object]) -> list[str]:
    return json.dumps(normalize(dict(body)), indent=1, sort_keys=True).splitlines()
