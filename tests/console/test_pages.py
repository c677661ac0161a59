"""The console's pages over HTTP, on SQLite and PostgreSQL: sign-in, owners, filters, paging,
chains, traces, and the guard's refusals. (The browser tests are in test_browser.py.)"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.console.conftest import Console
from tests.support import HTTP, Process, keys_cli, new_key, start_server, upstream_env


def signed_in(console: Console, key: str) -> httpx.Client:
    """A client holding a console session cookie for `key`, as a browser would."""
    client = httpx.Client(base_url=console.server.url, timeout=30, follow_redirects=False)
    console.server.clients.append(client)  # type: ignore[arg-type]  # closed when the server stops
    answer = client.post("/console/login", json={"token": key})
    assert answer.status_code == 200, answer.text
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert key not in cookie  # the key itself never leaves in the cookie
    return client


def response_ids(html: str) -> list[str]:
    return re.findall(r'href="/console/responses/(resp_[0-9a-f]+)"', html)


def test_sign_in_and_the_guard(console: Console) -> None:
    url = console.server.url
    # A page load without a session goes to the sign-in page; a script's call gets JSON.
    page = HTTP.get(url + "/console/responses", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/console/login?next=/console/responses"
    assert HTTP.get(url + "/console/login").status_code == 200
    assert HTTP.get(url + "/console/static/console.css").status_code == 200
    api = HTTP.post(url + "/console/api/responses", json={"model": "m", "input": "x"})
    assert api.status_code == 401 and api.json()["error"]["code"] == "login_required"
    # A wrong key is refused with the API's error; a key sent as a header works too.
    wrong = HTTP.post(url + "/console/login", json={"token": "rsk-wrong"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    assert HTTP.post(url + "/console/login", json={}).status_code == 400
    headed = HTTP.get(url + "/console/jobs", headers={"authorization": f"Bearer {console.bob}"})
    assert headed.status_code == 200
    # An altered or foreign cookie signs in nobody.
    forged = HTTP.get(
        url + "/console/responses", headers={"cookie": "responsa_console=rsx-forged"}, follow_redirects=False
    )
    assert forged.status_code == 303
    # Cross-site: another origin's POST is refused, and so is a form body.
    client = signed_in(console, console.bob)
    foreign = client.post(
        "/console/api/responses",
        json={"model": "m", "input": "x"},
        headers={"origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    form = client.post("/console/api/responses", data={"model": "m", "input": "x"})
    assert form.status_code == 415
    assert client.post("/console/logout", json={}).headers["set-cookie"].startswith("responsa_console=;")


def test_owners_see_only_their_own(console: Console) -> None:
    alice = console.client(console.alice)
    mine = alice.responses.create(model="gpt-4o-mini", input="alice's private question")
    conversation = alice.conversations.create(metadata={"topic": "alice"})
    as_bob = signed_in(console, console.bob)
    assert mine.id not in response_ids(as_bob.get("/console/responses").text)
    for path in (f"/console/responses/{mine.id}", f"/console/conversations/{conversation.id}"):
        page = as_bob.get(path)
        assert page.status_code == 404 and "alice" not in page.text, path
    assert conversation.id not in as_bob.get("/console/conversations").text
    assert as_bob.get("/console/recordings").status_code == 404  # the server's, for admins
    # Bob's own session cannot reach Alice's objects through the console's API either.
    assert as_bob.post(f"/console/api/responses/{mine.id}/cancel", json={}).status_code == 404
    assert as_bob.get(f"/console/api/responses/{mine.id}/events").status_code == 404
    as_admin = signed_in(console, console.admin)
    assert mine.id in response_ids(as_admin.get("/console/responses").text)
    assert as_admin.get(f"/console/responses/{mine.id}").status_code == 200
    assert as_admin.get("/console/recordings").status_code == 200
    as_alice = signed_in(console, console.alice)
    detail = as_alice.get(f"/console/responses/{mine.id}").text
    assert "alice&#39;s private question" in detail
    assert conversation.id in as_alice.get("/console/conversations").text


def test_filters_paging_and_chain(console: Console) -> None:
    key, _ = _owner_key(console, "carol")
    carol = console.client(key, test_id="console-filters")
    first = carol.responses.create(model="gpt-4o-mini", input="needle in the first turn")
    second = carol.responses.create(model="gpt-4o-mini", input="a second turn", previous_response_id=first.id)
    other = carol.responses.create(model="other-model", input="on another model")
    conversation = carol.conversations.create()
    inside = carol.responses.create(model="gpt-4o-mini", input="inside it", conversation=conversation.id)
    with carol.responses.create(model="fail-midstream", input="this one fails", stream=True) as events:
        failed = [event for event in events][-1].response
    assert failed.status == "failed"
    page = signed_in(console, key)

    def listed(**params: str) -> list[str]:
        answer = page.get("/console/responses", params=params)
        assert answer.status_code == 200, answer.text
        return response_ids(answer.text)

    everything = listed()
    assert everything == [failed.id, inside.id, other.id, second.id, first.id]  # newest first
    assert listed(model="other-model") == [other.id]
    assert listed(status="failed") == [failed.id]
    assert listed(conversation=conversation.id) == [inside.id]
    assert listed(q="NEEDLE") == [first.id]  # case-insensitive, in the first input text
    assert listed(q="100%") == []  # LIKE's wildcards are literal
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert listed(since=today) == everything and listed(until="2000-01-01") == []
    assert "expected a date" in page.get("/console/responses", params={"since": "yesterday"}).text
    # Cursor paging over the same rows, both ways.
    older = listed(after=second.id)
    assert older == [first.id]
    assert listed(before=other.id) == [failed.id, inside.id]
    assert page.get("/console/responses", params={"after": "resp_nope"}).status_code == 400
    # The chain, both ways, and the conversation's thread.
    detail = page.get(f"/console/responses/{second.id}").text
    assert f'href="/console/responses/{first.id}" rel="prev"' in detail
    before = page.get(f"/console/responses/{first.id}").text
    assert f'href="/console/responses/{second.id}" rel="next"' in before
    thread = page.get(f"/console/conversations/{conversation.id}").text
    assert "inside it" in thread and inside.id in thread
    # The failed response's error, and its upstream call's.
    failure = page.get(f"/console/responses/{failed.id}").text
    assert 'aria-label="Error"' in failure and "the connection ended before the answer did" in failure
    assert '<span class="error">' in failure  # on its upstream call too


def test_upstream_calls_and_recording_outcomes(console: Console) -> None:
    key, _ = _owner_key(console, "dave")
    client = console.client(key, test_id="console-recorded")
    first = client.responses.create(model="gpt-4o-mini", input="record me")
    again = client.responses.create(model="gpt-4o-mini", input="record me")
    page = signed_in(console, key)
    recorded = page.get(f"/console/responses/{first.id}").text
    assert 'class="rec rec-recorded">recorded' in recorded
    files = re.findall(r"rec-recorded\">recorded</span> <code>([^<]+)</code>", recorded)
    assert len(files) == 1 and len(list(console.recordings.rglob(files[0]))) == 1
    replayed = page.get(f"/console/responses/{again.id}").text
    assert 'class="rec rec-replayed">replayed' in replayed and files[0] in replayed
    assert "Time to first token" in replayed and "openai · gpt-4o-mini" in replayed


def test_background_jobs_listed_and_cancelled(console: Console) -> None:
    key, _ = _owner_key(console, "erin")
    client = console.client(key)
    job = client.responses.create(model="slow-long", input="take your time", background=True)
    page = signed_in(console, key)
    jobs = page.get("/console/jobs").text
    assert job.id in jobs and f'data-cancel="{job.id}"' in jobs
    cancelled = page.post(f"/console/api/responses/{job.id}/cancel", json={})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.responses.retrieve(job.id).status == "cancelled"
    assert "s-cancelled" in page.get("/console/jobs").text
    assert signed_in(console, console.bob).get("/console/jobs").text.count(job.id) == 0


def test_revoked_key_ends_the_session(console: Console) -> None:
    key, key_id = _owner_key(console, "frank")
    page = signed_in(console, key)
    assert page.get("/console/responses").status_code == 200
    done = keys_cli(console.db_url, "revoke", key_id)
    assert done.returncode == 0, done.stderr
    assert page.get("/console/responses").status_code == 303  # back to the sign-in page


@pytest.mark.parametrize("path", ["/console/nope", "/console/responses/resp_missing"])
def test_unknown_pages_are_404(console: Console, path: str) -> None:
    page = signed_in(console, console.alice)
    assert page.get(path).status_code == 404


def _owner_key(console: Console, owner: str) -> tuple[str, str]:
    return new_key(console.db_url, "--name", owner, "--owner", owner)


def test_calls_are_shown_with_their_outputs(console: Console) -> None:
    key, _ = _owner_key(console, "gina")
    client = console.client(key)
    weather = {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    asked = client.responses.create(model="tool-call", input="Weather in Paris?", tools=[weather])
    call = next(item for item in asked.output if item.type == "function_call")
    answered = client.responses.create(
        model="tool-call",
        previous_response_id=asked.id,
        tools=[weather],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": '{"sky": "clear"}'}],
        instructions="Be brief.",
    )
    page = signed_in(console, key)
    shown = page.get(f"/console/responses/{asked.id}").text
    assert "get_weather" in shown and "&#34;city&#34;: &#34;Paris&#34;" in shown and "no output here" in shown
    after = page.get(f"/console/responses/{answered.id}").text
    # The output of a call from the turn before is shown as its own item, pretty-printed.
    assert (
        "function call output" in after and "&#34;sky&#34;: &#34;clear&#34;" in after and "Be brief." in after
    )
    # Both together (a conversation thread holds both): the output beside its call.
    conversation = client.conversations.create(
        items=[
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city": "Oslo"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "snow"},
        ]
    )
    thread = page.get(f"/console/conversations/{conversation.id}").text
    assert thread.count('class="item ') == 1 and "<h4>Output</h4>" in thread and "snow" in thread


def test_the_console_can_be_turned_off(tmp_path: Path, fake_upstream: Process) -> None:
    server = start_server(tmp_path, "off", {**upstream_env(fake_upstream), "RESPONSA_CONSOLE": "false"})
    try:
        for path in ("/console", "/console/responses", "/console/login", "/console/static/console.js"):
            answer = HTTP.get(server.url + path, follow_redirects=False)
            assert answer.status_code == 404, path
        assert HTTP.get(server.url + "/v1/health").status_code == 200
    finally:
        server.stop()
