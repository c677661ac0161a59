"""A long schemathesis run: many cases per route against a real server (tests/fuzzing.py).

    .venv/bin/python bench/fuzz.py                  # 1000 cases per route, SQLite
    .venv/bin/python bench/fuzz.py --cases 200 --db-url postgresql+asyncpg://postgres@127.0.0.1/fuzz

It starts the fake upstream (tests/fake_upstream.py) and `responsa serve` in live mode on a
fresh SQLite file (or the empty database given), runs every operation of `/openapi.json`,
and prints per route the cases run, the statuses seen and the failures by kind (with a curl
reproducing each kind). Exit code 1 when anything failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import fuzzing
from tests.support import ROOT, Process, base_env, free_port, start_server, upstream_env


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1000, help="cases per route (default 1000)")
    parser.add_argument("--db-url", help="an empty database (default: a fresh SQLite file)")
    parser.add_argument("--only", default="", help="only the routes whose label contains this")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="responsa-fuzz-"))
    port = free_port()
    fake_args = [sys.executable, str(ROOT / "tests" / "fake_upstream.py"), "--port", str(port)]
    fake = Process(fake_args, base_env(), tmp / "fake.log", port, "/fake/requests").start()
    settings = {"RESPONSA_DB_URL": args.db_url} if args.db_url else {}
    server = start_server(tmp, "fuzz", upstream_env(fake, **settings))
    started = time.monotonic()
    try:
        schema = fuzzing.load(server.url)
        tallies = []
        for operation in fuzzing.operations(schema):
            if args.only in operation.label:
                tally = fuzzing.fuzz_operation(schema, operation, cases=args.cases)
                print(f"{tally.describe()}  ({tally.seconds:.1f} s)", flush=True)
                tallies.append(tally)
    finally:
        server.stop()
        fake.stop()
    failures: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    for tally in tallies:
        failures.update(tally.failures)
        statuses.update(tally.statuses)
    cases = sum(tally.cases for tally in tallies)
    print(
        f"\n{len(tallies)} routes, {cases} cases in {time.monotonic() - started:.0f} s; "
        f"statuses {dict(sorted(statuses.items()))}; "
        f"failures {sum(failures.values())}"
        + "".join(f"\n  {n} x {kind}" for kind, n in failures.most_common())
    )
    print(f"server log: {server.log}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
