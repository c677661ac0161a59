"""Recordings as a product: secrets redacted before the key (never on disk, still a hit), misses
that name the differing fields, the hits log, `responsa recordings` (verify, prune, redact, …),
the reference server's tool recordings and duplicate keys resolved by exact match."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from responsa.recording.keys import TOOL_ENDPOINT, request_key
from tests.support import HTTP, Process, Server, start_mcp_server, start_server, upstream_requests

DEAD_UPSTREAM = "http://127.0.0.1:9/v1"
SECRET = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
OTHER_SECRET = "sk-proj-" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6"


def server(tmp: Path, name: str, directory: Path, mode: str, upstream: str, **env: str) -> Server:
    return start_server(
        tmp,
        name,
        {
            "OPENAI_API_KEY": "k",
            "OPENAI_BASE_URL": upstream,
            "RESPONSA_RECORDING_MODE": mode,
            "RESPONSA_RECORDING_DIR": str(directory),
            **env,
        },
    )


def recordings(*args: str, directory: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "responsa", "recordings", *args, "--dir", str(directory)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_a_secret_is_never_written_and_still_hits(tmp_path: Path, fake_upstream: Process) -> None:
    cassettes = tmp_path / "cassettes"
    prompt = f"My key is {SECRET}; do not repeat it."
    with server(tmp_path, "rec", cassettes, "record", fake_upstream.url + "/v1") as recorder:
        recorded = recorder.client("app::test_secret").responses.create(model="openai/gpt-4o", input=prompt)
    written = "".join(p.read_text() for p in cassettes.glob("*.json"))
    assert SECRET not in written and "[REDACTED:api_key]" in written
    # Another secret in the same place is the same redacted request: it replays, offline.
    hits_log = tmp_path / "hits.jsonl"
    with server(
        tmp_path, "rep", cassettes, "replay", DEAD_UPSTREAM, RESPONSA_RECORDING_HITS_LOG=str(hits_log)
    ) as replayer:
        replayed = replayer.client("app::test_secret").responses.create(
            model="openai/gpt-4o", input=f"My key is {OTHER_SECRET}; do not repeat it."
        )
    assert replayed.output_text == recorded.output_text
    outcomes = [json.loads(line)["outcome"] for line in hits_log.read_text().splitlines()]
    assert outcomes == ["hit"]


def test_a_miss_names_the_fields_that_differ(tmp_path: Path, fake_upstream: Process) -> None:
    cassettes = tmp_path / "cassettes"
    with server(tmp_path, "rec", cassettes, "record", fake_upstream.url + "/v1") as recorder:
        recorder.client("app::test_miss").responses.create(model="openai/gpt-4o", input="Hi", temperature=0.5)
    with (
        server(tmp_path, "rep", cassettes, "replay", DEAD_UPSTREAM) as replayer,
        pytest.raises(openai.APIStatusError) as caught,
    ):
        replayer.client("app::test_miss").responses.create(
            model="openai/gpt-4o", input="Hello", temperature=0.7
        )
    message = str(caught.value)
    assert "differs at messages[0].content" in message and "differs at temperature" in message


def _write(directory: Path, key: str, document: dict[str, Any]) -> Path:
    path = directory / f"{key}.json"
    path.write_text(json.dumps(document, indent=2))
    return path


def _chat(test_id: str, content: str, answer: str) -> dict[str, Any]:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": content}], "stream": True}
    chunk = {
        "__type__": "openai.types.chat.chat_completion_chunk.ChatCompletionChunk",
        "__data__": {
            "id": "rec-000000000000",  # the scrubbed id of a file Responsa wrote
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "gpt-4o",
            "choices": [{"index": 0, "delta": {"content": answer}, "finish_reason": "stop"}],
        },
    }
    return {
        "test_id": test_id,
        "request": {
            "method": "POST",
            "url": "x",
            "headers": {},
            "body": body,
            "endpoint": "/v1/chat/completions",
        },
        "response": {"body": [chunk], "is_streaming": True},
    }


def test_the_cli_verifies_lists_diffs_prunes_and_redacts(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    good = _chat("app::a", "one", "1")
    key = request_key("POST", "/v1/chat/completions", good["request"]["body"], "app::a")
    _write(tree, key, good)
    other = _chat("app::b", "two", "2")
    other_key = request_key("POST", "/v1/chat/completions", other["request"]["body"], "app::b")
    _write(tree, "f" * 64, other)  # renamed: its name is not its key
    (tree / "broken.json").write_text("{not json")  # corrupt
    (tree / "copy").mkdir()
    _write(tree / "copy", "x", good)  # a duplicate of the first key
    leaky = _chat("app::c", f"token {SECRET}", "3")
    _write(tree, "leaky", leaky)  # a credential
    done = recordings("verify", directory=tree)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert any(line.startswith("renamed:") and "f" * 64 in line and other_key in line for line in lines)
    assert any(line.startswith("corrupt:") and "broken.json" in line for line in lines)
    assert any(line.startswith("duplicate key") and key[:12] in line for line in lines)
    assert any(line.startswith("credential:") and "leaky" in line and "api_key" in line for line in lines)
    assert len(lines) == 4, lines

    listed = recordings("list", directory=tree).stdout
    assert key[:12] in listed and "app::a" in listed and "never" in listed
    assert "differs at messages[0].content" in recordings("diff", key[:12], "f" * 12, directory=tree).stdout
    assert "4 recordings" in recordings("stats", directory=tree).stdout

    # prune: what the hits log never saw, listed first, then deleted
    hits = tmp_path / "hits.jsonl"
    hits.write_text(json.dumps({"outcome": "hit", "key": key, "test_id": "app::a"}) + "\n")
    dry = recordings("prune", "--dry-run", "--hits", str(hits), directory=tree)
    assert dry.returncode == 0
    assert sorted(Path(p).name for p in dry.stdout.split()) == sorted(["f" * 64 + ".json", "leaky.json"])
    assert (tree / "leaky.json").exists()

    fixed = recordings("redact", directory=tree)
    assert fixed.returncode == 0 and "leaky.json" in fixed.stdout
    assert SECRET not in "".join(p.read_text() for p in tree.rglob("*.json") if p.name != "broken.json")


def test_peer_tool_recordings_and_duplicate_keys(tmp_path: Path, fake_upstream: Process) -> None:
    """The reference server's web-search recordings (`request: {test_id, provider, tool_name,
    kwargs}`, the result under `__data__.content`) replay; and of two recordings sharing a key,
    the one whose request matches exactly wins over an older one."""
    tree = tmp_path / "tree"
    tree.mkdir()
    result = json.dumps({"query": "Paris", "top_k": [{"title": "Paris", "content": "Capital of France."}]})
    tool_request = {
        "test_id": "t",
        "provider": "tavily",
        "tool_name": "web_search",
        "kwargs": {"query": "Paris"},
    }
    tool_key = request_key(
        "POST", TOOL_ENDPOINT, {k: tool_request[k] for k in ("provider", "tool_name", "kwargs")}, None
    )
    _write(
        tree,
        tool_key,
        {
            "test_id": "t",
            "request": tool_request,
            "response": {
                "body": {
                    "__type__": "ogx_api.tools.ToolInvocationResult",
                    "__data__": {
                        "content": result,
                        "error_message": None,
                        "error_code": None,
                        "metadata": None,
                    },
                },
                "is_streaming": False,
            },
        },
    )
    env = {"TAVILY_API_KEY": "tvly-unused", "RESPONSA_TAVILY_BASE_URL": "http://127.0.0.1:9"}
    with server(tmp_path, "mixed", tree, "record-if-missing", fake_upstream.url + "/v1", **env) as mixed:
        HTTP.delete(fake_upstream.url + "/fake/requests")
        response = mixed.client("t").responses.create(
            model="openai/tool-call", input="Where is Paris?", tools=[{"type": "web_search"}]
        )
    assert response.output[0].type == "web_search_call" and response.output[0].status == "completed"
    tool_message = upstream_requests(fake_upstream)[1]["messages"][-1]
    assert tool_message["content"] == result  # exactly what the peer recorded

    # Two recordings of one key: the exact one (recorded now, older file) beats a newer copy
    # whose request lacks `stream_options` (the key ignores it) and whose answer is stale.
    dup = tmp_path / "dup"
    with server(tmp_path, "dup-rec", dup / "a", "record", fake_upstream.url + "/v1") as recorder:
        fresh = recorder.client("dup::t").responses.create(model="openai/gpt-4o", input="same")
    (exact,) = (dup / "a").glob("*.json")
    stale = json.loads(exact.read_text())
    stale["request"]["body"].pop("stream_options")
    for chunk in stale["response"]["body"]:
        if chunk["__data__"]["choices"] and chunk["__data__"]["choices"][0]["delta"].get("content"):
            chunk["__data__"]["choices"][0]["delta"]["content"] = "stale "
    (dup / "b").mkdir()
    _write(dup / "b", exact.stem, stale)
    os.utime(exact, (time.time() - 3600, time.time() - 3600))
    with server(tmp_path, "dup-rep", dup, "replay", DEAD_UPSTREAM) as replayer:
        answer = replayer.client("dup::t").responses.create(model="openai/gpt-4o", input="same")
    assert answer.output_text == fresh.output_text and "stale" not in answer.output_text


def test_mcp_calls_replay_with_the_mcp_server_stopped(tmp_path: Path, fake_upstream: Process) -> None:
    cassettes = tmp_path / "cassettes"
    with start_mcp_server(tmp_path, "boiling") as mcp_server:
        tool = {"type": "mcp", "server_label": "lab", "server_url": mcp_server.mcp_url}  # type: ignore[attr-defined]
        with server(tmp_path, "rec", cassettes, "record", fake_upstream.url + "/v1") as recorder:
            recorded = recorder.client("app::test_mcp").responses.create(
                model="openai/tool-call",
                input="Greet.",
                tools=[tool],  # type: ignore[list-item]
            )
    listing, call = recorded.output[0], recorded.output[1]
    assert listing.type == "mcp_list_tools" and call.type == "mcp_call" and call.output == "Hello, world!"
    written = [json.loads(p.read_text())["request"]["endpoint"] for p in cassettes.glob("*.json")]
    assert sorted(e for e in written if e == "mcp") == ["mcp", "mcp"]  # tools/list and tools/call
    # The MCP server is gone and the upstream too: everything comes from the recordings.
    with server(tmp_path, "rep", cassettes, "replay", DEAD_UPSTREAM) as replayer:
        replayed = replayer.client("app::test_mcp").responses.create(
            model="openai/tool-call",
            input="Greet.",
            tools=[tool],  # type: ignore[list-item]
        )
    assert replayed.status == "completed"
    assert [t.name for t in replayed.output[0].tools] == [t.name for t in listing.tools]  # type: ignore[union-attr]
    assert replayed.output[1].output == "Hello, world!"  # type: ignore[union-attr]
    assert replayed.output_text == recorded.output_text


def test_streams_record_their_pace_and_replay_paced(tmp_path: Path, fake_upstream: Process) -> None:
    """`recording.pace: recorded` replays a stream with the gaps measured when it was recorded
    (the durations themselves belong to no assert here); a bad pace stops the server at start."""
    cassettes = tmp_path / "cassettes"
    with server(tmp_path, "rec", cassettes, "record", fake_upstream.url + "/v1") as recorder:
        recorded = recorder.client("app::test_pace").responses.create(model="openai/slow", input="tick")
    (document,) = [json.loads(p.read_text()) for p in cassettes.glob("*.json")]
    times = document["response"]["chunk_times_ms"]
    assert len(times) == len(document["response"]["body"]) and all(isinstance(t, int) for t in times)
    for pace in ("recorded", "5"):
        with server(
            tmp_path, f"rep-{pace}", cassettes, "replay", DEAD_UPSTREAM, RESPONSA_RECORDING_PACE=pace
        ) as rep:
            events = list(
                rep.client("app::test_pace").responses.create(model="openai/slow", input="tick", stream=True)
            )
        assert events[-1].response.output_text == recorded.output_text  # type: ignore[union-attr]
    bad = subprocess.run(
        [sys.executable, "-m", "responsa", "config", "show"],
        env={**os.environ, "RESPONSA_RECORDING_PACE": "fast"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "recording_pace" in bad.stderr
