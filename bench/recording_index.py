"""How long does indexing a large recording tree take at start-up?

Builds a tree of N recordings (default 2,000: the size of the peer's whole tree) from the peer's
recordings in ../shared/recordings, each body made unique, then times `RecordingIndex.scan`,
without and with the default redaction (every string of every body scanned for credentials).

    .venv/bin/python bench/recording_index.py [--count 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from responsa.recording.index import RecordingIndex
from responsa.recording.redact import Redaction

SHARED = Path(__file__).resolve().parents[2] / "shared" / "recordings"


def build_tree(root: Path, count: int) -> None:
    sources = sorted(SHARED.rglob("*.json"))
    if not sources:
        raise SystemExit(f"no recordings under {SHARED}: this benchmark reads ../shared in place")
    for i in range(count):
        data = json.loads(sources[i % len(sources)].read_text())
        data["test_id"] = f"{data['test_id']}#{i}"
        folder = root / f"group{i % 20}"
        folder.mkdir(exist_ok=True)
        (folder / f"{i}.json").write_text(json.dumps(data, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_tree(root, args.count)
        size = sum(p.stat().st_size for p in root.rglob("*.json"))
        for redaction in (None, Redaction.build()):  # the server redacts by default
            times = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                index = RecordingIndex.scan([root], redaction)
                times.append(time.perf_counter() - started)
            print(
                json.dumps(
                    {
                        "recordings": args.count,
                        "redaction": redaction is not None,
                        "indexed_keys": len(index),
                        "tree_mb": round(size / 1e6, 1),
                        "scan_s_median": round(statistics.median(times), 3),
                        "scan_s_max": round(max(times), 3),
                    }
                )
            )


if __name__ == "__main__":
    main()
