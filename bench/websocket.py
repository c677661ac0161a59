"""Server CPU per turn: WebSocket mode against HTTP streaming, in one run.

    .venv/bin/python bench/websocket.py                  # 200 turns per cell, 3 rounds
    .venv/bin/python bench/websocket.py --turns 500 --rounds 5

It starts the tests' fake upstream and `responsa serve` (live mode, a fresh SQLite file, logging
at warning), then drives N sequential turns over one WebSocket and N streaming `POST
/v1/responses` over one keep-alive HTTP connection, each turn read to its terminal event. Two
shapes: a chain (every turn continues the one before with `previous_response_id`, as an agent
loop does) and independent turns. It prints the server's CPU per turn (user + system, from
/proc/<pid>/stat) and the client's median latency per turn; medians over the rounds, the cells
interleaved in each round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from local_stack import local_stack  # noqa: E402

TERMINAL = (b'"response.completed"', b'"response.failed"', b'"response.incomplete"')
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


Turn = Callable[[str | None], Awaitable[str]]


def body(previous: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {"model": "openai/gpt-4o", "input": "Say hello."}
    if previous is not None:
        data["previous_response_id"] = previous
    return data


async def ws_turns(url: str, compression: str | None) -> tuple[Turn, Callable[[], Awaitable[None]]]:
    ws = await websockets.connect(url, compression=compression, max_size=None)

    async def turn(previous: str | None) -> str:
        await ws.send(json.dumps({"type": "response.create", **body(previous)}))
        while True:
            frame = await ws.recv(decode=False)
            if any(kind in frame[:40] for kind in TERMINAL):
                return str(json.loads(frame)["response"]["id"])

    return turn, ws.close


async def http_turns(base: str) -> tuple[Turn, Callable[[], Awaitable[None]]]:
    client = httpx.AsyncClient(base_url=base, timeout=60)

    async def turn(previous: str | None) -> str:
        last = b""
        async with client.stream("POST", "/v1/responses", json={**body(previous), "stream": True}) as resp:
            async for line in resp.aiter_lines():
                if line.startswith("data: {") and any(k.decode() in line[:60] for k in TERMINAL):
                    last = line[6:].encode()
        return str(json.loads(last)["response"]["id"])

    return turn, client.aclose


async def cell(pid: int, turn: Turn, turns: int, chain: bool) -> tuple[float, float]:
    """Server CPU ms per turn and the median turn latency in ms."""
    previous: str | None = None
    latencies = []
    cpu = cpu_s(pid)
    for _ in range(turns):
        started = time.perf_counter()
        response_id = await turn(previous)
        latencies.append(time.perf_counter() - started)
        previous = response_id if chain else None
    return (cpu_s(pid) - cpu) * 1000 / turns, statistics.median(latencies) * 1000


async def measure(pid: int, port: int, turns: int, rounds: int) -> None:
    base = f"http://127.0.0.1:{port}"
    ws_url = f"ws://127.0.0.1:{port}/v1/responses"
    transports = {
        "HTTP (SSE, keep-alive)": await http_turns(base),
        "WebSocket": await ws_turns(ws_url, None),
        "WebSocket, client offering deflate (as the SDKs do)": await ws_turns(ws_url, "deflate"),
    }
    for turn, _ in transports.values():  # warm-up
        await cell(pid, turn, 20, chain=True)
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(rounds):
        for shape in ("chain", "independent"):
            for name, (turn, _) in transports.items():
                results.setdefault((shape, name), []).append(await cell(pid, turn, turns, shape == "chain"))
    for _, close in transports.values():
        await close()
    print(f"{turns} turns per cell, medians of {rounds} rounds (server CPU from /proc/{pid}/stat)\n")
    print("| turns | transport | server CPU ms/turn | latency ms/turn (median) |")
    print("| --- | --- | ---: | ---: |")
    for (shape, name), values in results.items():
        cpu = statistics.median(v[0] for v in values)
        latency = statistics.median(v[1] for v in values)
        print(f"| {shape} | {name} | {cpu:.2f} | {latency:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with local_stack("responsa-ws-bench-") as (server, port):
        asyncio.run(measure(server.pid, port, args.turns, args.rounds))


if __name__ == "__main__":
    main()
