"""The Prompts API (`/v1/prompts`, the reference server's shapes and routes) through the SDK,
on both databases: versions, the default version, the list, delete, owners and bad input.

The `openai` SDK has no prompts resource (OpenAI's prompts are made in its dashboard), so
`Prompts` below calls the routes through the SDK's own generic `get`/`post`/`put`/`delete`,
as the reference server's client (`client.prompts`) names them: errors arrive as the SDK's
typed exceptions, as for every other resource.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from tests.api.test_security import new_key
from tests.support import HTTP, Process, Server, new_database, start_server, upstream_env

PROMPT_ID = re.compile(r"pmpt_[0-9a-f]{48}")


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
