"""The Prompts API (`/v1/prompts`, the reference server's shapes and routes) and `prompt` on
`POST /v1/responses`: what the upstream receives for it (SPEC 1.3.7), on later turns, in the
background, in a conversation, and the errors. Real servers over HTTP, on both databases.

The `openai` SDK has no prompts resource (OpenAI's prompts are made in its dashboard), so
`Prompts` below calls the routes through the SDK's own generic `get`/`post`/`put`/`delete`,
as the reference server's client (`client.prompts`) names them: errors arrive as the SDK's
typed exceptions, as for every other resource.

The reference server's recordings of its prompt-template tests are not under
`../shared/recordings/peer-dev` (only their names are, in spec/peer-behaviour.md 1.3.7 and
its table, rows 29-30), so they cannot be replayed. `test_first_turns_are_the_peer_recordings`
checks the same thing without them: the upstream body Responsa sends for those tests' first
turns has the very name (the peer recorder's hash) of the peer's recording.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest

from tests.api.test_background import wait_status
from tests.api.test_security import new_key
from tests.support import HTTP, Process, Server, new_database, start_server, upstream_env, upstream_requests

PROMPT_ID = re.compile(r"pmpt_[0-9a-f]{48}")
IMAGE_URL = "https://example.com/cat.png"
REPLY = {"role": "assistant", "content": "Hello from gpt-4o!"}


class Prompts:
    """`client.prompts` of the reference server's SDK, over the official SDK's generic calls."""

    def __init__(self, client: openai.OpenAI) -> None:
        self.client = client

    def create(self, prompt: str, variables: list[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": prompt}
        if variables is not None:
            body["variables"] = variables
        return self.client.post("/prompts", body=body, cast_to=dict[str, Any])

    def retrieve(self, prompt_id: str, version: int | None = None) -> dict[str, Any]:
        query = {"version": version} if version is not None else {}
        return self.client.get(f"/prompts/{prompt_id}", options={"params": query}, cast_to=dict[str, Any])

    def list(self) -> builtins.list[dict[str, Any]]:
        page = self.client.get("/prompts", cast_to=dict[str, Any])
        assert list(page) == ["data"]
        rows: builtins.list[dict[str, Any]] = page["data"]
        return rows

    def versions(self, prompt_id: str) -> builtins.list[dict[str, Any]]:
        page = self.client.get(f"/prompts/{prompt_id}/versions", cast_to=dict[str, Any])
        assert list(page) == ["data"]
        rows: builtins.list[dict[str, Any]] = page["data"]
        return rows

    def update(self, prompt_id: str, *, method: str = "put", **body: Any) -> dict[str, Any]:
        call = self.client.put if method == "put" else self.client.post
        return call(f"/prompts/{prompt_id}", body=body, cast_to=dict[str, Any])

    def set_default_version(self, prompt_id: str, version: int) -> dict[str, Any]:
        return self.client.put(
            f"/prompts/{prompt_id}/set-default-version", body={"version": version}, cast_to=dict[str, Any]
        )

    def delete(self, prompt_id: str) -> None:
        response = self.client.delete(f"/prompts/{prompt_id}", cast_to=httpx.Response)
        assert (response.status_code, response.content) == (204, b"")


def shape(prompt_id: str, version: int, text: str, variables: list[str], default: bool) -> dict[str, Any]:
    return {
        "prompt": text,
        "version": version,
        "prompt_id": prompt_id,
        "variables": variables,
        "is_default": default,
    }


def error(exc: pytest.ExceptionInfo[openai.APIStatusError]) -> dict[str, Any]:
    body: dict[str, Any] = exc.value.body  # type: ignore[assignment]
    assert set(body) == {"message", "type", "param", "code"}, body
    return body


def test_versions_and_the_default_version(live_server: Server) -> None:
    prompts = Prompts(live_server.client())
    made = prompts.create("You are a {{ role }} assistant.", ["role"])
    pid = made["prompt_id"]
    assert PROMPT_ID.fullmatch(pid)
    assert made == shape(pid, 1, "You are a {{ role }} assistant.", ["role"], True)
    assert prompts.retrieve(pid) == made

    second = prompts.update(pid, prompt="You are a {{role}} tutor.", version=1, variables=["role"])
    assert second == shape(pid, 2, "You are a {{role}} tutor.", ["role"], True)  # the default by default
    assert prompts.retrieve(pid) == second
    assert prompts.retrieve(pid, version=1) == {**made, "is_default": False}
    third = prompts.update(pid, method="post", prompt="Plain.", version=2, set_as_default=False)
    assert third == shape(pid, 3, "Plain.", [], False)  # `variables` left out declares none
    assert prompts.retrieve(pid)["version"] == 2
    assert [(v["version"], v["is_default"]) for v in prompts.versions(pid)] == [
        (1, False),
        (2, True),
        (3, False),
    ]
    assert next(p for p in prompts.list() if p["prompt_id"] == pid) == second

    assert prompts.set_default_version(pid, 3) == {**third, "is_default": True}
    assert next(p for p in prompts.list() if p["prompt_id"] == pid) == {**third, "is_default": True}
    assert prompts.set_default_version(pid, 1)["is_default"] is True
    assert prompts.retrieve(pid)["version"] == 1
    for stale in (1, 2, 4, 99):  # an update is made from the latest version, whatever the default
        with pytest.raises(openai.BadRequestError) as bad:
            prompts.update(pid, prompt="Again.", version=stale)
        assert error(bad)["message"] == (
            f"'{stale}' is not the latest prompt version for prompt_id='{pid}'. "
            "Use the latest version '3' in request."
        )
        assert error(bad)["param"] == "version"
    assert prompts.update(pid, prompt="Fourth.", version=3)["version"] == 4

    prompts.delete(pid)
    assert pid not in [p["prompt_id"] for p in prompts.list()]
    for gone in (prompts.retrieve, prompts.versions, prompts.delete):
        with pytest.raises(openai.NotFoundError) as missing:
            gone(pid)
        assert error(missing)["message"] == f"Prompt with id '{pid}' not found."
    with pytest.raises(openai.NotFoundError):
        prompts.update(pid, prompt="x", version=4)


def test_of_concurrent_updates_from_one_version_one_wins(live_server: Server) -> None:
    prompts = Prompts(live_server.client())
    pid = prompts.create("Version one.")["prompt_id"]

    def update(i: int) -> int:
        try:
            return int(prompts.update(pid, prompt=f"Update {i}.", version=1)["version"])
        except openai.BadRequestError:
            return 0

    with ThreadPoolExecutor(8) as pool:
        made = sorted(pool.map(update, range(8)))
    assert made == [0] * 7 + [2]
    assert [v["version"] for v in prompts.versions(pid)] == [1, 2]


def test_the_list_holds_every_prompt_newest_first(live_server: Server) -> None:
    prompts = Prompts(live_server.client())
    first = prompts.create("First.")
    second = prompts.create("Second {{ x }}", ["x", "unused"])
    assert second["variables"] == ["x", "unused"]  # declared but unused is allowed
    ids = [p["prompt_id"] for p in prompts.list()]
    assert ids.index(second["prompt_id"]) < ids.index(first["prompt_id"])
    assert all(p["is_default"] for p in prompts.list())


@pytest.mark.parametrize(
    ("text", "variables", "message"),
    [
        ("Hi {{ name }}", [], "Prompt contains undeclared variables: ['name']. Declare each in 'variables'."),
        ("{{a}} {{ b }} {{  c  }}", ["b"], "Prompt contains undeclared variables: ['a', 'c']."),
        ("Hi", ["my var"], "'my var' is not a variable name"),
        ("Hi {{ x }}", ["x", "x"], "['x'] declared twice"),
    ],
)
def test_declared_variables_cover_the_placeholders(
    live_server: Server, text: str, variables: list[str], message: str
) -> None:
    prompts = Prompts(live_server.client())
    with pytest.raises(openai.BadRequestError) as bad:
        prompts.create(text, variables)
    assert message in error(bad)["message"] and error(bad)["param"] == "variables"
    made = prompts.create("Fine {{ ok }} and {{ not a placeholder }} and { { x } }", ["ok"])
    with pytest.raises(openai.BadRequestError) as bad:
        prompts.update(made["prompt_id"], prompt=text, version=1, variables=variables)
    assert message in error(bad)["message"]
    with pytest.raises(openai.BadRequestError):  # an update declares its variables again
        prompts.update(made["prompt_id"], prompt=made["prompt"], version=1)


def test_bad_input_is_an_openai_4xx(live_server: Server) -> None:
    client = live_server.client()
    prompts = Prompts(client)
    pid = prompts.create("Hello.")["prompt_id"]
    url = live_server.url + "/v1/prompts"
    cases: list[tuple[str, str, Any, int, str | None]] = [
        ("POST", "", {}, 400, "prompt"),
        ("POST", "", {"prompt": 5}, 400, "prompt"),
        ("POST", "", {"prompt": "x", "variables": "x"}, 400, "variables"),
        ("POST", "", {"prompt": "x", "variables": [""]}, 400, "variables.0"),
        ("POST", "", {"prompt": "x", "extra": 1}, 400, "extra"),
        ("POST", "", [1], 400, None),
        ("PUT", f"/{pid}", {"prompt": "x"}, 400, "version"),
        ("PUT", f"/{pid}", {"prompt": "x", "version": "1"}, 400, "version"),
        ("PUT", f"/{pid}", {"prompt": "x", "version": 0}, 400, "version"),
        ("POST", f"/{pid}", {"prompt": "x", "version": 2**40}, 400, "version"),
        ("PUT", f"/{pid}", {"prompt": "x", "version": 1, "set_as_default": "yes"}, 400, "set_as_default"),
        ("PUT", f"/{pid}/set-default-version", {}, 400, "version"),
        ("PUT", f"/{pid}/set-default-version", {"version": 2}, 404, "version"),
        ("PUT", "/pmpt_nope/set-default-version", {"version": 1}, 404, None),
        ("PUT", "/pmpt_nope", {"prompt": "x", "version": 1}, 404, None),
        ("GET", f"/{pid}?version=0", None, 400, "version"),
        ("GET", f"/{pid}?version=abc", None, 400, "version"),
        ("GET", f"/{pid}?version={2**40}", None, 400, "version"),
        ("GET", f"/{pid}?version=7", None, 404, "version"),
        ("GET", "/not-an-id", None, 404, None),
        ("GET", "/" + "p" * 500 + "/versions", None, 404, None),
        ("DELETE", "/pmpt_" + "0" * 48, None, 404, None),
    ]
    for method, path, body, status, param in cases:
        response = HTTP.request(method, url + path, json=body)
        assert response.status_code == status, (method, path, body, response.text)
        got = response.json()["error"]
        assert set(got) == {"message", "type", "param", "code"} and got["type"] == "invalid_request_error"
        assert got["param"] == param, (method, path, got)
    raw = HTTP.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert raw.status_code == 400 and raw.json()["error"]["code"] == "invalid_json"
    assert prompts.retrieve(pid, version=1)["version"] == 1  # and nothing changed
    assert [v["version"] for v in prompts.versions(pid)] == [1]


def test_one_owners_prompts_are_not_anothers(
    tmp_path_factory: pytest.TempPathFactory, db_url: str, fake_upstream: Process
) -> None:
    tmp = tmp_path_factory.mktemp("prompt-owners")
    with new_database("sqlite" if db_url.startswith("sqlite") else "postgresql", tmp) as url:
        keys = {name: new_key(url, "--name", name, "--owner", name)[0] for name in ("alice", "bob")}
        keys["admin"] = new_key(url, "--name", "ops", "--admin")[0]
        with start_server(tmp, "owners", upstream_env(fake_upstream, RESPONSA_DB_URL=url)) as server:
            alice, bob, admin = (
                Prompts(server.client(api_key=keys[name])) for name in ("alice", "bob", "admin")
            )
            mine = alice.create("Alice's {{ x }}", ["x"])
            pid = mine["prompt_id"]
            calls: builtins.list[Callable[[], object]] = [
                lambda: bob.retrieve(pid),
                lambda: bob.retrieve(pid, version=1),
                lambda: bob.versions(pid),
                lambda: bob.update(pid, prompt="Bob's.", version=1),
                lambda: bob.set_default_version(pid, 1),
                lambda: bob.delete(pid),
                lambda: bob.client.responses.create(
                    model="openai/gpt-4o", input="hi", prompt={"id": pid, "variables": {"x": "y"}}
                ),
            ]
            for call in calls:
                with pytest.raises(openai.NotFoundError):
                    call()
            assert bob.list() == []
            assert alice.list() == [mine]
            assert admin.list() == [mine] and admin.retrieve(pid) == mine
            assert alice.update(pid, prompt="Alice's second.", version=1)["version"] == 2
            assert alice.versions(pid)[0] == {**mine, "is_default": False}
            alice.delete(pid)
            assert admin.list() == []


def test_a_prompt_with_text_and_image_variables(live_server: Server, fake: Process) -> None:
    client = live_server.client()
    prompts = Prompts(client)
    uploaded = client.files.create(file=("notes.md", b"# Notes"), purpose="user_data")
    made = prompts.create(
        "You are {{ role }}. Describe {{photo}} in a {{ tone }} tone, using {{ notes }}.",
        ["role", "photo", "tone", "notes"],
    )
    reference: Any = {
        "id": made["prompt_id"],
        "variables": {
            "role": "a curator",  # a plain string, as OpenAI allows
            "photo": {"type": "input_image", "image_url": IMAGE_URL, "detail": "low"},
            "tone": {"type": "input_text", "text": "calm"},
            "notes": {"type": "input_file", "file_id": uploaded.id},
        },
    }
    first = client.responses.create(
        model="openai/gpt-4o", input="What is it?", instructions="Be brief.", prompt=reference
    )
    assert first.prompt is not None and first.prompt.model_dump(exclude_none=True) == reference
    notes = base64.b64encode(b"# Notes").decode()
    media = {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": IMAGE_URL, "detail": "low"}},
            {
                "type": "file",
                "file": {"file_data": f"data:text/markdown;base64,{notes}", "filename": "notes.md"},
            },
        ],
    }
    system = "You are a curator. Describe [Image: photo] in a calm tone, using [File: notes]."
    assert upstream_requests(fake)[-1]["messages"] == [
        {"role": "system", "content": system},
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is it?"},
        media,
    ]
    stored = [item.model_dump(exclude_none=True) for item in client.responses.input_items.list(first.id).data]
    assert [item["role"] for item in stored] == ["user"]  # the prompt is not an input item

    client.responses.create(model="openai/gpt-4o", input="And now?", previous_response_id=first.id)
    # like instructions, the system message is not history; the media message is, as in OGX
    assert upstream_requests(fake)[-1]["messages"] == [
        {"role": "user", "content": "What is it?"},
        media,
        REPLY,
        {"role": "user", "content": "And now?"},
    ]


def test_versions_pick_the_text(live_server: Server, fake: Process) -> None:
    client = live_server.client()
    prompts = Prompts(client)
    pid = prompts.create("Formal.")["prompt_id"]
    prompts.update(pid, prompt="Casual.", version=1)
    for version, text in ((None, "Casual."), ("1", "Formal."), ("2", "Casual.")):
        reference: Any = {"id": pid} if version is None else {"id": pid, "version": version}
        done = client.responses.create(model="openai/gpt-4o", input="Hi", prompt=reference, stream=False)
        assert done.prompt is not None and (done.prompt.id, done.prompt.version) == (pid, version)
        assert upstream_requests(fake)[-1]["messages"][0] == {"role": "system", "content": text}
    prompts.set_default_version(pid, 1)
    client.responses.create(model="openai/gpt-4o", input="Hi", prompt={"id": pid})
    assert upstream_requests(fake)[-1]["messages"][0] == {"role": "system", "content": "Formal."}
    prompts.create("")  # an empty prompt adds no system message
    empty = prompts.list()[0]["prompt_id"]
    client.responses.create(model="openai/gpt-4o", input="Hi", prompt={"id": empty})
    assert upstream_requests(fake)[-1]["messages"] == [{"role": "user", "content": "Hi"}]


def test_bad_prompt_references_are_4xx_before_any_upstream_call(live_server: Server, fake: Process) -> None:
    client = live_server.client()
    prompts = Prompts(client)
    pid = prompts.create("You are {{ role }} for {{ team }}.", ["role", "team"])["prompt_id"]
    both = {"role": "x", "team": "y"}
    cases: list[tuple[Any, int, str | None, str]] = [
        ({"id": "pmpt_missing"}, 404, "prompt.id", "Prompt with id 'pmpt_missing' not found."),
        ({"id": pid, "version": "99", "variables": both}, 404, "prompt.version", "Version 99 of prompt"),
        (
            {"id": pid, "variables": {**both, "extra": "z"}},
            400,
            "prompt.variables",
            f"Invalid value for 'prompt.variables': extra. Variable not defined in prompt '{pid}'.",
        ),
        ({"id": pid, "variables": {"role": "x"}}, 400, "prompt.variables", "Missing prompt variables: team."),
        ({"id": pid}, 400, "prompt.variables", "Missing prompt variables: role, team."),
        ({"id": pid, "version": 1, "variables": both}, 400, "prompt.version", "as a string"),
        ({"id": pid, "version": "v1", "variables": both}, 400, "prompt.version", "as a string"),
        ({"id": pid, "version": "0", "variables": both}, 400, "prompt.version", "as a string"),
        ({"id": pid, "variables": {"role": 5, "team": "y"}}, 400, "prompt.variables.role", "a string or"),
        (
            {"id": pid, "variables": {"role": {"type": "output_text", "text": "x"}, "team": "y"}},
            400,
            "prompt.variables.role",
            "input_text, input_image, input_file",
        ),
        (
            {"id": pid, "variables": {"role": {"type": "input_text"}, "team": "y"}},
            400,
            "prompt.variables.role.text",
            "expected a string",
        ),
        (
            {"id": pid, "variables": {"role": {"type": "input_image"}, "team": "y"}},
            400,
            "prompt.variables.role.image_url",
            "Missing required parameter",
        ),
        (
            {"id": pid, "variables": {"role": {"type": "input_file", "file_id": "file-nope"}, "team": "y"}},
            404,
            "prompt.variables.role.file_id",
            "No such File object: file-nope",
        ),
        ({"id": pid, "variables": ["role"]}, 400, "prompt.variables", "expected an object"),
        ({"id": pid, "variables": both, "extra": 1}, 400, "prompt.extra", "Unknown parameter"),
        ({"id": 7}, 400, "prompt.id", "Missing required parameter: 'prompt.id'"),
        ({}, 400, "prompt.id", "Missing required parameter: 'prompt.id'"),
    ]
    for stream in (False, True):  # a streamed request is refused before its stream starts, too
        for reference, status, param, message in cases:
            with pytest.raises(openai.APIStatusError) as failed:
                client.responses.create(model="openai/gpt-4o", input="hi", prompt=reference, stream=stream)
            assert failed.value.status_code == status, (reference, failed.value)
            got = error(failed)
            assert (got["param"], got["type"]) == (param, "invalid_request_error"), (reference, got)
            assert message in got["message"], (reference, got)
    assert upstream_requests(fake) == []


def test_a_prompt_streamed_in_the_background_and_in_a_conversation(
    live_server: Server, fake: Process
) -> None:
    client = live_server.client()
    prompts = Prompts(client)
    pid = prompts.create("You are a {{ specialty }} tutor. See {{ board }}.", ["specialty", "board"])[
        "prompt_id"
    ]
    reference: Any = {
        "id": pid,
        "variables": {
            "specialty": {"type": "input_text", "text": "mathematics"},
            "board": {"type": "input_image", "image_url": IMAGE_URL},
        },
    }
    system = {"role": "system", "content": "You are a mathematics tutor. See [Image: board]."}
    media = {
        "role": "user",
        "content": [{"type": "image_url", "image_url": {"url": IMAGE_URL, "detail": "auto"}}],
    }

    events = list(
        client.responses.create(model="openai/gpt-4o", input="Hello", prompt=reference, stream=True)
    )
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert events[0].response.prompt is not None and events[0].response.prompt.id == pid
    assert upstream_requests(fake)[-1]["messages"] == [system, {"role": "user", "content": "Hello"}, media]

    queued = client.responses.create(model="openai/gpt-4o", input="Queued", prompt=reference, background=True)
    done = wait_status(live_server, queued.id, {"completed", "failed"})
    assert done["status"] == "completed" and done["prompt"]["id"] == pid
    assert upstream_requests(fake)[-1]["messages"] == [system, {"role": "user", "content": "Queued"}, media]

    conversation = client.conversations.create()
    client.responses.create(
        model="openai/gpt-4o", input="One", prompt=reference, conversation=conversation.id
    )
    assert upstream_requests(fake)[-1]["messages"] == [system, {"role": "user", "content": "One"}, media]
    client.responses.create(model="openai/gpt-4o", input="Two", conversation=conversation.id)
    one = {"role": "user", "content": [{"type": "text", "text": "One"}]}
    said = {"role": "assistant", "content": [{"type": "text", "text": "Hello from gpt-4o!"}]}
    # the conversation's items are its history: the prompt's messages are no item of it
    assert upstream_requests(fake)[-1]["messages"] == [one, said, {"role": "user", "content": "Two"}]
    items = client.conversations.items.list(conversation.id).data
    assert [item.type for item in items] == ["message"] * 4


def _peer_name(body: dict[str, Any], test: str) -> str:
    """The name the reference server's recorder gives a recording: sha256 of the request's
    method, path (`/v1/v1/chat/completions`, as its client called it), body and test id."""
    key = {
        "method": "POST",
        "endpoint": "/v1/v1/chat/completions",
        "body": body,
        "test_id": f"tests/integration/responses/test_prompt_templates.py::{test}",
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def test_first_turns_are_the_peer_recordings(live_server: Server, fake: Process) -> None:
    """The peer's `test_multi_variable_prompt_template` and `test_prompt_template_with_multi_turn`
    (spec/peer-behaviour.md 1.3.7, recordings `d33198e5a433…` and `eceec40056ee…`), as their
    client calls went; the second turn of the multi-turn test sends no system message."""
    client = live_server.client()
    prompts = Prompts(client)
    names = ["role", "domain", "responsibility1", "responsibility2", "tone"]
    text = (
        "You are a {{ role }} assistant specializing in {{ domain }}.  Your responsibilities include "
        "{{ responsibility1 }} and {{ responsibility2 }}.  Always maintain a {{ tone }} tone."
    )
    values = [
        "technical support",
        "software engineering",
        "debugging code",
        "answering questions",
        "professional",
    ]
    multi = prompts.create(text, names)["prompt_id"]
    variables: Any = {
        name: {"type": "input_text", "text": value} for name, value in zip(names, values, strict=True)
    }
    client.responses.create(
        model="openai/gpt-4o",
        input=[{"role": "user", "content": "What do you do?"}],
        prompt={"id": multi, "variables": variables},
        stream=False,
    )
    test = "test_multi_variable_prompt_template[client_with_models-txt=openai/gpt-4o]"
    assert _peer_name(upstream_requests(fake)[-1], test).startswith("d33198e5a433")

    tutor = prompts.create("You are a {{ specialty }} tutor.", ["specialty"])["prompt_id"]
    first = client.responses.create(
        model="openai/gpt-4o",
        input=[{"role": "user", "content": "What is your specialty?"}],
        prompt={"id": tutor, "variables": {"specialty": {"type": "input_text", "text": "mathematics"}}},
        stream=False,
    )
    test = "test_prompt_template_with_multi_turn[client_with_models-txt=openai/gpt-4o]"
    assert _peer_name(upstream_requests(fake)[-1], test).startswith("eceec40056ee")
    client.responses.create(
        model="openai/gpt-4o",
        input=[{"role": "user", "content": "Can you help me with algebra?"}],
        previous_response_id=first.id,
        stream=False,
    )
    assert upstream_requests(fake)[-1]["messages"] == [
        {"role": "user", "content": "What is your specialty?"},
        REPLY,
        {"role": "user", "content": "Can you help me with algebra?"},
    ]
