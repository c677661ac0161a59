"""Background responses on two replicas sharing one database (SQLite file or PostgreSQL):
queued at once, run by any replica's workers, streamed and resumed from any replica, cancelled
from any replica, and finished by the other replica when one dies."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.responses import Response

from tests.support import HTTP, Process, Server, new_database, rows_of, start_server

FINISHED = {"completed", "failed", "incomplete", "cancelled"}


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own, so no other test server's workers take these jobs."""
    with new_database(request.param, tmp_path) as url:
        yield url


def replica(tmp: Path, name: str, db: str, fake: Process, **env: str) -> Server:
    return start_server(
        tmp,
        name,
        {
            "OPENAI_API_KEY": "k",
            "OPENAI_BASE_URL": fake.url + "/v1",
            "RESPONSA_DB_URL": db,
            "RESPONSA_JOB_LEASE_S": "2",
            **env,
        },
    )


def wait_status(server: Server, response_id: str, wanted: set[str], timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = HTTP.get(f"{server.url}/v1/responses/{response_id}").json()
        if body["status"] in wanted:
            return body
        time.sleep(0.05)
    raise AssertionError(f"{response_id} never reached {wanted}: {body['status']}")


def stream_events(server: Server, response_id: str, after: int | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"stream": "true"}
    if after is not None:
        params["starting_after"] = after
    with HTTP.stream("GET", f"{server.url}/v1/responses/{response_id}", params=params) as resp:
        assert resp.status_code == 200
        return [
            json.loads(line[6:])
            for line in resp.iter_lines()
            if line.startswith("data: ") and line != "data: [DONE]"
        ]


def test_background_on_two_replicas(tmp_path: Path, shared_db: str, fake_upstream: Process) -> None:
    with (
        replica(tmp_path, "a", shared_db, fake_upstream) as a,
        replica(tmp_path, "b", shared_db, fake_upstream) as b,
    ):
        client_a, client_b = a.client(), b.client()
        queued = client_a.responses.create(model="openai/gpt-4o", input="hi", background=True)
        assert queued.status == "queued" and queued.background is True
        done = wait_status(b, queued.id, FINISHED)
        assert done["status"] == "completed" and done["background"] is True
        assert client_b.responses.retrieve(queued.id).output_text == "Hello from gpt-4o!"

        # a foreground response made on A is read, continued and listed on B
        first = client_a.responses.create(model="openai/gpt-4o", input="one")
        second = client_b.responses.create(model="openai/gpt-4o", input="two", previous_response_id=first.id)
        assert second.previous_response_id == first.id
        listed = {r["id"] for r in HTTP.get(b.url + "/v1/responses", params={"limit": 100}).json()["data"]}
        assert {first.id, second.id, queued.id} <= listed

        # conversation turns alternating between replicas stay in order
        conversation = client_a.conversations.create()
        for i in range(6):
            (client_a if i % 2 == 0 else client_b).responses.create(
                model="openai/gpt-4o", input=f"turn {i}", conversation=conversation.id
            )
        items = client_b.conversations.items.list(conversation.id, order="asc", limit=100).data
        assert [i.content[0].text for i in items[0::2]] == [f"turn {i}" for i in range(6)]  # type: ignore[union-attr]

        # streaming a background response, then resuming it from the middle on the other replica
        events = list(
            client_a.responses.create(model="openai/slow", input="tick", background=True, stream=True)
        )
        assert [e.sequence_number for e in events] == list(range(len(events)))
        assert [e.type for e in events[:3]] == ["response.created", "response.queued", "response.in_progress"]
        assert events[-1].type == "response.completed"
        response_id = events[-1].response.id
        full = stream_events(a, response_id)
        resumed = stream_events(b, response_id, after=5)
        assert [e["sequence_number"] for e in full] == list(range(len(full)))
        assert resumed == full[6:]


def test_live_resume_while_running(tmp_path: Path, shared_db: str, fake_upstream: Process) -> None:
    with (
        replica(tmp_path, "a", shared_db, fake_upstream) as a,
        replica(tmp_path, "b", shared_db, fake_upstream) as b,
    ):
        queued = a.client().responses.create(model="openai/slow", input="tick", background=True)
        wait_status(a, queued.id, {"in_progress"})
        tail = stream_events(b, queued.id, after=2)  # joins mid-run, follows to the end
        assert tail[0]["sequence_number"] == 3 and tail[-1]["type"] == "response.completed"
        assert [e["sequence_number"] for e in tail] == list(range(3, 3 + len(tail)))
        text = "".join(
            e["delta"] for e in stream_events(a, queued.id) if e["type"] == "response.output_text.delta"
        )
        assert text == tail[-1]["response"]["output"][0]["content"][0]["text"]


def test_cancel_from_the_other_replica(tmp_path: Path, shared_db: str, fake_upstream: Process) -> None:
    with (
        replica(tmp_path, "a", shared_db, fake_upstream) as a,
        replica(tmp_path, "b", shared_db, fake_upstream) as b,
    ):
        queued = a.client().responses.create(model="openai/slow", input="tick", background=True)
        wait_status(a, queued.id, {"in_progress"})
        cancelled = b.client().responses.cancel(queued.id)
        assert cancelled.status == "cancelled"
        assert wait_status(a, queued.id, FINISHED)["status"] == "cancelled"
        again = b.client().responses.cancel(queued.id)  # idempotent
        assert again.status == "cancelled"
        events = stream_events(a, queued.id)  # the stored stream ends too
        assert events and events[-1]["type"] != "response.completed"

        done = a.client().responses.create(model="openai/gpt-4o", input="x", background=True)
        wait_status(a, done.id, {"completed"})
        assert b.client().responses.cancel(done.id).status == "completed"  # finished: returned as is


def fold(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A stream folded into output items by hand, as README "Background responses" says: drop
    what was folded at `responsa:response.restarted`, then place items at `output_index` minus
    its `output_index_offset`."""
    items: dict[int, dict[str, Any]] = {}
    offset = 0
    for event in events:
        if event["type"] == "responsa:response.restarted":
            items, offset = {}, event["output_index_offset"]
        elif event["type"] == "response.output_item.done":
            items[event["output_index"] - offset] = event["item"]
    return [items[i] for i in sorted(items)]


def test_job_survives_a_killed_replica(tmp_path: Path, shared_db: str, fake_upstream: Process) -> None:
    a = replica(tmp_path, "a", shared_db, fake_upstream)
    # Long enough that A is still streaming once B has started (B's start takes ~2 s).
    queued = a.client().responses.create(model="openai/slow-long", input="tick", background=True)
    with replica(tmp_path, "b", shared_db, fake_upstream) as b:
        final: list[Response | BaseException] = []

        def read_with_sdk() -> None:  # a reader on the survivor from the start, folding as the SDK does
            try:
                with b.client().responses.stream(response_id=queued.id) as stream:
                    for _ in stream:
                        pass
                    final.append(stream.get_final_response())
            except BaseException as exc:
                final.append(exc)

        reader = threading.Thread(target=read_with_sdk)
        reader.start()
        follow_until(b, queued.id, "response.output_text.delta")  # A's worker has streamed output
        assert a.proc is not None
        os.kill(a.proc.pid, signal.SIGKILL)  # mid-answer: some deltas are stored
        a.proc.wait()
        done = wait_status(b, queued.id, FINISHED, timeout=60)
        reader.join(30)
        assert done["status"] == "completed"
        text = done["output"][0]["content"][0]["text"]
        assert text.startswith("tick0 ")
        events = stream_events(b, queued.id)
        assert [e["sequence_number"] for e in events] == list(range(len(events)))
        kinds = [e["type"] for e in events]
        assert kinds.count("response.created") == 1 and kinds.count("responsa:response.restarted") == 1
        assert fold(events) == done["output"]
        assert final and isinstance(final[0], Response), final
        assert final[0].output_text == text and final[0].status == "completed"
        later = [e for e in events if e["sequence_number"] > kinds.index("responsa:response.restarted")]
        deltas = "".join(e["delta"] for e in later if e["type"] == "response.output_text.delta")
        assert deltas == text
    a.stop()


def follow_until(server: Server, response_id: str, kind: str, count: int = 1) -> None:
    """Follow a background stream until `count` events of type `kind` have arrived."""
    with HTTP.stream("GET", f"{server.url}/v1/responses/{response_id}", params={"stream": "true"}) as resp:
        for line in resp.iter_lines():
            if f'"type":"{kind}"' in line:
                count -= 1
                if not count:
                    return
    raise AssertionError(f"the stream of {response_id} ended before {kind}")


def test_job_that_keeps_dying_fails(tmp_path: Path, shared_db: str, fake_upstream: Process) -> None:
    """Attempts are counted and checked: with at most 2, a job whose worker died twice fails."""
    env = {"RESPONSA_JOB_MAX_ATTEMPTS": "2"}
    queued = None
    for name in ("a", "b"):
        server = replica(tmp_path, name, shared_db, fake_upstream, **env)
        if queued is None:
            queued = server.client().responses.create(model="openai/slow", input="tick", background=True)
        # this replica's worker has streamed output (the second time: after its restart)
        follow_until(server, queued.id, "response.output_text.delta", 1 if name == "a" else 2)
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        server.stop()
    assert queued is not None
    with replica(tmp_path, "c", shared_db, fake_upstream, **env) as c:
        failed = wait_status(c, queued.id, FINISHED, timeout=60)
        assert failed["status"] == "failed"
        assert "started 2 times" in failed["error"]["message"]
        events = stream_events(c, queued.id)  # the stored stream ends too
        assert events[-1]["type"] == "response.failed"
        assert [e["sequence_number"] for e in events] == list(range(len(events)))


def test_graceful_shutdown_hands_the_job_over(tmp_path: Path, shared_db: str, fake_upstream: Process) -> None:
    a = replica(tmp_path, "a", shared_db, fake_upstream)
    queued = a.client().responses.create(model="openai/slow", input="tick", background=True)
    wait_status(a, queued.id, {"in_progress"})
    with replica(tmp_path, "b", shared_db, fake_upstream) as b:
        a.stop()  # SIGTERM: the job is released, not lost
        assert wait_status(b, queued.id, FINISHED, timeout=60)["status"] == "completed"


def test_background_errors(live_server: Server) -> None:
    client = live_server.client()
    with pytest.raises(openai.BadRequestError, match="store"):
        client.responses.create(model="openai/gpt-4o", input="x", background=True, store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_missing")
    foreground = client.responses.create(model="openai/gpt-4o", input="x")
    with pytest.raises(openai.ConflictError):
        client.responses.cancel(foreground.id)
    resp = HTTP.get(f"{live_server.url}/v1/responses/{foreground.id}", params={"stream": "true"})
    assert resp.status_code == 400


def test_finished_job_rows_are_removed_after_the_retention(
    tmp_path: Path, shared_db: str, fake_upstream: Process
) -> None:
    with replica(tmp_path, "a", shared_db, fake_upstream, RESPONSA_JOB_RETENTION_S="0") as a:
        queued = a.client().responses.create(model="openai/gpt-4o", input="hi", background=True)
        assert wait_status(a, queued.id, FINISHED)["status"] == "completed"
        deadline = time.monotonic() + 10
        while rows_of(shared_db, queued.id)["background_jobs"]:
            assert time.monotonic() < deadline, "the finished job's row was never removed"
            time.sleep(0.1)
        # the response and its stored stream stay
        assert rows_of(shared_db, queued.id)["responses"] == 1
        assert stream_events(a, queued.id)[-1]["type"] == "response.completed"
