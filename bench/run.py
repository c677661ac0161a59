"""One command for the performance matrix: fake upstream + Responsa + the kit's suite.

    .venv/bin/python bench/run.py                      # the whole matrix, 1 round (~7 minutes)
    .venv/bin/python bench/run.py --rounds 3           # medians of 3 rounds, as the reference was measured
    .venv/bin/python bench/run.py --quick              # one short streaming and one non-streaming cell
    .venv/bin/python bench/run.py --soak 300           # 5 minutes of streams at 8 in flight, RSS watched

It starts the fake upstream from ../shared/bench (read in place), starts `responsa serve` against
it (live mode, a fresh SQLite file, default logging), runs `suite.py` (or `load.py` with
`--baseline` for --quick) and writes `bench/results/<date>.jsonl` and `.md`. The kit's driver
needs `aiohttp`, which Responsa depends on already: the project's venv runs everything.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIT = Path(os.environ.get("RESPONSA_BENCH_KIT", ROOT.parent / "shared" / "bench"))
RESULTS = ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--only", nargs="+", choices=("tput", "chain"))
    parser.add_argument(
        "--quick", action="store_true", help="two 10 s cells at concurrency 1 instead of the matrix"
    )
    parser.add_argument(
        "--soak",
        type=float,
        metavar="SECONDS",
        help="instead: streaming at 8 in flight for SECONDS, RSS watched",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--db-url", help="an empty database to use instead of a fresh SQLite file")
    args = parser.parse_args()
    if not (KIT / "suite.py").is_file():
        raise SystemExit(f"the benchmark kit is not at {KIT}: it is read in place from ../shared/bench")

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M")
    out = RESULTS / f"{stamp}.jsonl"
    tmp = Path(tempfile.mkdtemp(prefix="responsa-bench-"))
    fake_port, server_port = free_port(), free_port()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RESPONSA_"))}
    fake = start(
        [sys.executable, str(KIT / "fake_upstream.py"), "--port", str(fake_port)], base_env, tmp / "fake.log"
    )
    server_env = {
        **base_env,
        "OPENAI_API_KEY": "bench",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
        "RESPONSA_DB_URL": args.db_url or f"sqlite:///{tmp / 'bench.db'}",
    }
    serve = [sys.executable, "-m", "responsa", "serve", "--port", str(server_port)]
    if args.workers > 1:
        serve += ["--workers", str(args.workers)]
    server = start(serve, server_env, tmp / "server.log")
    try:
        wait_http(f"http://127.0.0.1:{fake_port}/health")
        wait_http(f"http://127.0.0.1:{server_port}/v1/health")
        url, upstream = f"http://127.0.0.1:{server_port}", f"http://127.0.0.1:{fake_port}"
        watch = ["--pid", str(server.pid)] + (["--pid-tree"] if args.workers > 1 else [])
        time.sleep(2)  # settled after start-up
        print(f"idle RSS: {rss_mb(server.pid):.1f} MB")
        if args.soak:
            cmd = [sys.executable, str(KIT / "load.py"), "--url", url, "--model", "openai/gpt-4o"]
            cmd += ["--stream", "-c", "8", "-d", str(args.soak), *watch, "--out", str(out), "--label", "soak"]
            cell = json.loads(
                subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1]
            )
            print(
                json.dumps(
                    {k: cell[k] for k in ("requests", "errors", "rps", "latency_ms", "server")}, indent=1
                )
            )
        elif args.quick:
            for stream in (False, True):
                cmd = [
                    sys.executable,
                    str(KIT / "load.py"),
                    "--url",
                    url,
                    "--model",
                    "openai/gpt-4o",
                    "-c",
                    "1",
                    "-d",
                    "10",
                    *watch,
                    "--baseline",
                    upstream,
                    "--baseline-pid",
                    str(fake.pid),
                    "--out",
                    str(out),
                    *(["--stream"] if stream else []),
                ]
                line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
                cell = json.loads(line.splitlines()[-1])
                print(
                    json.dumps(
                        {
                            "stream": stream,
                            "p50_ms": cell["latency_ms"]["p50"],
                            "overhead": cell.get("overhead"),
                            "server": cell.get("server"),
                        },
                        indent=1,
                    )
                )
        else:
            cmd = [
                sys.executable,
                str(KIT / "suite.py"),
                "--url",
                url,
                "--model",
                "openai/gpt-4o",
                *watch,
                "--upstream",
                upstream,
                "--upstream-pid",
                str(fake.pid),
                "--rounds",
                str(args.rounds),
                "--duration",
                str(args.duration),
                "--out",
                str(out),
            ]
            if args.only:
                cmd += ["--only", *args.only]
            table = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            (RESULTS / f"{stamp}.md").write_text(table)
            print(table)
        print(f"results: {out}")
    finally:
        for proc in (server, fake):
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
