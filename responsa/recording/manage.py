"""`responsa recordings`: look after a recordings tree.

    responsa recordings list [--dir D]          key, test id, endpoint, model, size, last hit
    responsa recordings show KEY                 one recording (a key prefix is enough)
    responsa recordings verify                   exit 1 with a list of what is wrong
    responsa recordings diff A B                 where two recordings' requests differ
    responsa recordings prune [--dry-run]        delete what no replay run has hit
    responsa recordings stats                    counts by endpoint and test
    responsa recordings redact [--dry-run]       apply the redaction rules, rename to new keys

The directories are `--dir` (repeatable) or the configured `recording_dir`. `verify` checks
that every `.json` file parses as a recording, that a file named by a key (64 hex digits) holds
that key's request under today's rules (redaction included), or is named as the reference
server's recorder names its files (`peer_name`), that no two files share a key, and that no
file holds a credential. `prune` reads the hits log a server keeps when `recording.hits_log` is
set (`RESPONSA_RECORDING_HITS_LOG`; the pytest plugin sets it).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from responsa.recording import cassette
from responsa.recording.hits import read_hits
from responsa.recording.index import recording_key
from responsa.recording.keys import MODEL_LIST_ENDPOINTS, differences, normalize, normalize_value
from responsa.recording.redact import Redaction

KEY_NAME = re.compile(r"^[0-9a-f]{64}$")


def default_redaction() -> Redaction:
    """The built-in rules (a server adds `recording.redact` from its config)."""
    return Redaction.build()


@dataclass(slots=True)
class Found:
    path: Path
    recording: cassette.Recording | None  # None: the file is not a readable recording
    problem: str | None = None

    @property
    def named_by_key(self) -> bool:
        return bool(KEY_NAME.match(self.path.stem))


def files(directories: Iterable[Path]) -> Iterator[Found]:
    """Every file of the trees the index would read; `.json` files that are not recordings
    come back with their problem (other files are not recordings by design: READMEs, ...)."""
    for directory in directories:
        for path in sorted(directory.rglob("*")):
            if path.name.startswith(".") or not path.is_file():
                continue
            try:
                yield Found(path, cassette.load(path))
            except cassette.CassetteError as exc:
                if path.suffix == ".json":
                    yield Found(path, None, str(exc).removeprefix(f"{path}: "))


def peer_name(recording: cassette.Recording) -> str:
    """The name the reference server's recorder gives this file: the same hash over the URL's
    path (`/v1/v1/chat/completions` as it records it) and the body with `stream_options` kept."""
    path = urlsplit(str(recording.request.get("url") or "")).path or recording.endpoint
    payload: dict[str, object] = {
        "method": str(recording.request.get("method", "POST")).upper(),
        "endpoint": path,
        "body": normalize_value(recording.body),
    }
    if path not in MODEL_LIST_ENDPOINTS and path != "/api/tags":
        payload["test_id"] = recording.test_id
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def verify(directories: Iterable[Path], redaction: Redaction) -> list[str]:
    problems: list[str] = []
    by_key: dict[str, list[Path]] = defaultdict(list)
    for found in files(directories):
        if found.recording is None:
            problems.append(f"corrupt: {found.path}: {found.problem}")
            continue
        key = recording_key(found.recording, redaction)
        by_key[key].append(found.path)
        named = found.path.stem
        if found.named_by_key and named != key and named != peer_name(found.recording):
            problems.append(f"renamed: {found.path} holds the request of key {key}")
        raw = {"request": found.recording.request, "response": found.recording.response}
        cleaned = {
            "request": redaction.request(raw["request"]),
            "response": redaction.response(raw["response"]),
        }
        if cleaned != raw:
            kinds = sorted(set(re.findall(r"\[REDACTED:([a-z_]+)\]", json.dumps(cleaned))))
            problems.append(
                f"credential: {found.path} holds {', '.join(kinds)} (run `responsa recordings redact`)"
            )
    for key, paths in sorted(by_key.items()):
        if len(paths) > 1:
            problems.append(f"duplicate key {key[:12]}: {', '.join(map(str, paths))}")
    return problems


def listing(directories: Iterable[Path], redaction: Redaction, hits_log: Path | None) -> list[str]:
    last_hit = {}
    if hits_log is not None and hits_log.is_file():
        for hit in read_hits(hits_log):
            if hit.get("outcome") == "hit":
                last_hit[hit["key"]] = hit.get("at", 0)
    rows = []
    for found in files(directories):
        if found.recording is None:
            continue
        key = recording_key(found.recording, redaction)
        when = last_hit.get(key)
        seen = time.strftime("%Y-%m-%d %H:%M", time.gmtime(when)) if when else "never"
        rows.append(
            "\t".join(
                [
                    key[:12],
                    str(found.recording.test_id or "-"),
                    found.recording.endpoint,
                    str(found.recording.request.get("model") or found.recording.body.get("model") or "-"),
                    f"{found.path.stat().st_size}B",
                    seen,
                ]
            )
        )
    return rows


def find(directories: Iterable[Path], key: str, redaction: Redaction) -> list[Found]:
    """Recordings whose key (or file name) starts with `key`."""
    out = []
    for found in files(directories):
        if found.recording is None:
            continue
        if recording_key(found.recording, redaction).startswith(key) or found.path.stem.startswith(key):
            out.append(found)
    return out


def diff(a: cassette.Recording, b: cassette.Recording) -> list[str]:
    """Where two recordings' requests differ: field paths first, then a text diff."""
    lines = [f"endpoint: {a.endpoint} / {b.endpoint}"] if a.endpoint != b.endpoint else []
    if a.test_id != b.test_id:
        lines.append(f"test id: {a.test_id!r} / {b.test_id!r}")
    paths = differences(normalize(a.body), normalize(b.body))
    lines += [f"differs at {p}" for p in paths] or ["the requests are the same"]
    left = json.dumps(a.body, indent=1, sort_keys=True).splitlines()
    right = json.dumps(b.body, indent=1, sort_keys=True).splitlines()
    lines += difflib.unified_diff(left, right, str(a.path), str(b.path), n=1, lineterm="")
    return lines


def unused(directories: Iterable[Path], redaction: Redaction, hits_log: Path) -> list[Path]:
    """Recordings no replay run recorded in `hits_log` has hit."""
    hit = {h["key"] for h in read_hits(hits_log) if h.get("outcome") in ("hit", "recorded")}
    return [
        found.path
        for found in files(directories)
        if found.recording is not None and recording_key(found.recording, redaction) not in hit
    ]


def stats(directories: Iterable[Path], redaction: Redaction) -> list[str]:
    endpoints: Counter[str] = Counter()
    tests: set[str | None] = set()
    keys: Counter[str] = Counter()
    size = corrupt = 0
    for found in files(directories):
        if found.recording is None:
            corrupt += 1
            continue
        endpoints[found.recording.endpoint] += 1
        tests.add(found.recording.test_id)
        keys[recording_key(found.recording, redaction)] += 1
        size += found.path.stat().st_size
    total = sum(endpoints.values())
    lines = [f"{total} recordings, {len(tests)} test ids, {size / 1024:.0f} KiB"]
    lines += [f"  {endpoint}: {count}" for endpoint, count in endpoints.most_common()]
    duplicates = sum(count - 1 for count in keys.values() if count > 1)
    lines.append(f"{duplicates} duplicate keys, {corrupt} unreadable .json files")
    return lines


def redact(directories: Iterable[Path], redaction: Redaction, dry_run: bool) -> list[tuple[Path, Path]]:
    """Rewrite every recording holding a credential with the rules applied; one named by its
    key is renamed to its new key. Returns (old, new) paths."""
    changed = []
    for found in files(directories):
        recording = found.recording
        if recording is None:
            continue
        request = redaction.request(recording.request)
        response = redaction.response(recording.response)
        if request == recording.request and response == recording.response:
            continue
        cleaned = cassette.Recording(found.path, recording.test_id, request, response)
        target = found.path
        if found.named_by_key:
            target = found.path.with_name(f"{recording_key(cleaned, redaction)}.json")
        changed.append((found.path, target))
        if dry_run:
            continue
        document = json.loads(found.path.read_text())
        document["request"], document["response"] = request, response
        target.write_text(json.dumps(document, indent=2) + "\n")
        if target != found.path:
            found.path.unlink()
    return changed
