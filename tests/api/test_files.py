"""The Files API (`/v1/files`) through the official SDK, and `file_id` in a response's input:
what the upstream receives for it (SPEC §1.3.2), on later turns too, and after a delete."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.api.test_security import new_key
from tests.support import HTTP, Process, Server, new_database, start_server, upstream_env, upstream_requests

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
LIMIT = 4096  # RESPONSA_MAX_FILE_BYTES of the `small` server


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, fake_upstream: Process) -> Iterator[Server]:
    """A server keeping files in a directory (`files_dir`), with a small size limit."""
    tmp = tmp_path_factory.mktemp("files-dir")
    env = upstream_env(
        fake_upstream, RESPONSA_FILES_DIR=str(tmp / "files"), RESPONSA_MAX_FILE_BYTES=str(LIMIT)
    )
    server = start_server(tmp, "small", env)
    server.files_dir = tmp / "files"  # type: ignore[attr-defined]
    yield server
    server.stop()


def test_sdk_round_trip(live_server: Server) -> None:
    client = live_server.client()
    created = client.files.create(file=("notes.txt", b"hello files", "text/plain"), purpose="user_data")
    assert re.fullmatch(r"file-[0-9a-f]{24}", created.id)
    assert (created.object, created.bytes, created.filename) == ("file", 11, "notes.txt")
    assert (created.purpose, created.status, created.expires_at) == ("user_data", "processed", None)
    assert client.files.retrieve(created.id) == created
    content = client.files.content(created.id)
    assert content.content == b"hello files"
    assert content.response.headers["content-type"].startswith("text/plain")
    assert created.id in [f.id for f in client.files.list(purpose="user_data")]
    deleted = client.files.delete(created.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (created.id, "file", True)
    for call in (client.files.retrieve, client.files.content, client.files.delete):
        with pytest.raises(openai.NotFoundError):
            call(created.id)


def test_list_pages_in_order_and_filters_by_purpose(live_server: Server) -> None:
    client = live_server.client()
    made = [
        client.files.create(file=(f"p{i}.jsonl", b"{}\n", "application/jsonl"), purpose="evals").id
        for i in range(3)
    ]
    first = client.files.list(limit=2, order="asc", purpose="evals")
    assert first.has_more is True and len(first.data) == 2
    ascending = [f.id for f in client.files.list(limit=2, order="asc", purpose="evals")]  # auto-paging
    assert [i for i in ascending if i in made] == made
    newest = client.files.list(limit=1, purpose="evals").data  # desc by default
    assert newest[0].id == made[-1]
    assert not {f.id for f in client.files.list(purpose="vision")} & set(made)
    with pytest.raises(openai.BadRequestError) as bad:
        client.files.list(after="file-000000000000000000000000")
    assert bad.value.body["param"] == "after"  # type: ignore[index]
    batch = client.files.create(file=("b.jsonl", b"{}\n"), purpose="batch")
    assert batch.expires_at == batch.created_at + 30 * 86400  # OpenAI's default for batch files
    timed = client.files.create(
        file=("t.txt", b"x"), purpose="user_data", expires_after={"anchor": "created_at", "seconds": 3600}
    )
    assert timed.expires_at == timed.created_at + 3600
    for doomed in [*made, batch.id, timed.id]:
        client.files.delete(doomed)


def _post(server: Server, **kwargs: Any) -> httpx.Response:
    return HTTP.post(server.url + "/v1/files", **kwargs)


def test_bad_uploads_name_their_parameter(live_server: Server) -> None:
    client = live_server.client()
    with pytest.raises(openai.BadRequestError) as bad:
        client.files.create(file=("a.txt", b"x"), purpose="homework")  # type: ignore[arg-type]
    assert bad.value.body["param"] == "purpose"  # type: ignore[index]
    cases = [
        ({"data": {"purpose": "user_data"}, "files": {"other": ("a.txt", b"x")}}, "file"),
        ({"data": {"purpose": "user_data", "file": "not a file"}, "files": {"x": ("a", b"")}}, "file"),
        ({"files": {"file": ("a.txt", b"x")}}, "purpose"),
        (
            {
                "data": {"purpose": "user_data", "expires_after[anchor]": "now"},
                "files": {"file": ("a", b"x")},
            },
            "expires_after.anchor",
        ),
        (
            {
                "data": {
                    "purpose": "user_data",
                    "expires_after[anchor]": "created_at",
                    "expires_after[seconds]": "5",
                },
                "files": {"file": ("a", b"x")},
            },
            "expires_after.seconds",
        ),
    ]
    for kwargs, param in cases:
        resp = _post(live_server, **kwargs)
        assert resp.status_code == 400, (param, resp.text)
        assert resp.json()["error"]["param"] == param, resp.text
    # Only this route takes multipart; it takes nothing else.
    assert _post(live_server, json={"purpose": "user_data"}).status_code == 400
    assert _post(live_server, content=b"purpose=x", headers={"content-type": "text/plain"}).status_code == 415
    other = HTTP.post(live_server.url + "/v1/conversations", files={"file": ("a", b"x")})
    assert other.status_code == 415
    # A web page's upload is refused: its origin is not allowed (CORS is off).
    cross = _post(
        live_server,
        data={"purpose": "user_data"},
        files={"file": ("a", b"x")},
        headers={"origin": "https://evil.example"},
    )
    assert cross.status_code == 403


def test_file_ids_in_input_reach_the_upstream_as_content(live_server: Server, fake: Process) -> None:
    client = live_server.client()
    image = client.files.create(file=("dot.png", PNG), purpose="vision")
    notes = client.files.create(file=("notes.txt", b"the notes"), purpose="user_data")
    content = [
        {"type": "input_text", "text": "Look."},
        {"type": "input_image", "file_id": image.id, "detail": "low"},
        {"type": "input_file", "file_id": notes.id},
        {"type": "input_file", "file_id": notes.id, "filename": "renamed.txt"},
    ]
    first = client.responses.create(model="openai/gpt-4o", input=[{"role": "user", "content": content}])  # type: ignore[list-item, misc]
    expected = [
        {"type": "text", "text": "Look."},
        {"type": "image_url", "image_url": {"url": data_url("image/png", PNG), "detail": "low"}},
        {
            "type": "file",
            "file": {"file_data": data_url("text/plain", b"the notes"), "filename": "notes.txt"},
        },
        {
            "type": "file",
            "file": {"file_data": data_url("text/plain", b"the notes"), "filename": "renamed.txt"},
        },
    ]
    assert upstream_requests(fake)[-1]["messages"][0]["content"] == expected
    stored = client.responses.input_items.list(first.id).data[0].model_dump()
    assert [part.get("file_id") for part in stored["content"]] == [None, image.id, notes.id, notes.id]

    second = client.responses.create(model="openai/gpt-4o", input="And now?", previous_response_id=first.id)
    assert upstream_requests(fake)[-1]["messages"][0]["content"] == expected  # read again, not stored whole

    client.responses.delete(first.id)  # a response's delete leaves its files
    assert client.files.retrieve(notes.id).id == notes.id
    client.files.delete(notes.id)
    with pytest.raises(openai.BadRequestError) as gone:
        client.responses.create(model="openai/gpt-4o", input="Again?", previous_response_id=second.id)
    assert gone.value.code == "file_not_found" and notes.id in gone.value.message
    with pytest.raises(openai.NotFoundError) as unknown:
        client.responses.create(
            model="openai/gpt-4o",
            input=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "x"},
                        {"type": "input_file", "file_id": notes.id},
                    ],
                }
            ],  # type: ignore[list-item]
        )
    assert unknown.value.body["param"] == "input[0].content[1].file_id"  # type: ignore[index]
    client.files.delete(image.id)


def test_file_ids_in_conversation_items_and_tool_outputs(live_server: Server, fake: Process) -> None:
    client = live_server.client()
    notes = client.files.create(file=("notes.md", b"# Notes"), purpose="user_data")
    conversation = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": [{"type": "input_file", "file_id": notes.id}]}]  # type: ignore[list-item]
    )
    client.responses.create(model="openai/gpt-4o", input="Summarize.", conversation=conversation.id)
    part = upstream_requests(fake)[-1]["messages"][0]["content"][0]
    assert part == {
        "type": "file",
        "file": {"file_data": data_url("text/markdown", b"# Notes"), "filename": "notes.md"},
    }

    client.responses.create(
        model="openai/gpt-4o",
        input=[
            {"type": "function_call", "call_id": "call_1", "name": "read", "arguments": "{}"},
            {
                "type": "function_call_output",
                "call_id": "call_1",
                "output": [{"type": "input_file", "file_id": notes.id}],
            },  # type: ignore[list-item]
        ],
    )
    tool = upstream_requests(fake)[-1]["messages"][1]
    assert tool == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": [{"type": "text", "text": "# Notes"}],
    }
    client.files.delete(notes.id)


def test_size_limit_and_directory_storage(small: Server) -> None:
    client = small.client()
    files_dir: Path = small.files_dir  # type: ignore[attr-defined]
    with pytest.raises(openai.APIStatusError) as large:
        client.files.create(file=("big.bin", b"x" * (LIMIT + 1)), purpose="user_data")
    assert large.value.status_code == 413
    assert large.value.body["param"] == "file"  # type: ignore[index]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        boundary = b"--b0undary\r\n"
        yield boundary + b'Content-Disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n'
        yield boundary + b'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
        for _ in range(100):
            yield b"y" * 1024
        yield b"\r\n--b0undary--\r\n"

    chunked = HTTP.post(
        small.url + "/v1/files",
        content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=b0undary"},
    )
    assert chunked.status_code == 413, chunked.text
    data = bytes(range(256)) * 16  # exactly the limit
    stored = client.files.create(file=("bytes.bin", data), purpose="assistants")
    assert (files_dir / stored.id).read_bytes() == data
    got = client.files.content(stored.id)
    assert got.content == data and got.response.headers["content-type"] == "application/octet-stream"
    client.files.delete(stored.id)
    assert not (files_dir / stored.id).exists()
    assert not [p for p in files_dir.iterdir() if p.name.startswith(".")]  # no partial files left


@pytest.fixture(scope="module")
def owners(
    tmp_path_factory: pytest.TempPathFactory, db_url: str, fake_upstream: Process
) -> Iterator[tuple[Server, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("file-owners")
    with new_database("sqlite" if db_url.startswith("sqlite") else "postgresql", tmp) as url:
        keys = {name: new_key(url, "--name", name, "--owner", name)[0] for name in ("alice", "bob")}
        keys["admin"] = new_key(url, "--name", "ops", "--admin")[0]
        server = start_server(tmp, "owners", upstream_env(fake_upstream, RESPONSA_DB_URL=url))
        yield server, keys
        server.stop()


def test_another_owners_file_is_not_found(owners: tuple[Server, dict[str, str]]) -> None:
    server, keys = owners
    alice, bob, admin = (server.client(api_key=keys[name]) for name in ("alice", "bob", "admin"))
    mine = alice.files.create(file=("a.txt", b"alice's"), purpose="user_data")
    for call in (bob.files.retrieve, bob.files.content, bob.files.delete):
        with pytest.raises(openai.NotFoundError):
            call(mine.id)
    assert mine.id not in [f.id for f in bob.files.list()]
    with pytest.raises(openai.NotFoundError):
        bob.responses.create(
            model="openai/gpt-4o",
            input=[{"role": "user", "content": [{"type": "input_file", "file_id": mine.id}]}],  # type: ignore[list-item]
        )
    assert mine.id in [f.id for f in admin.files.list()]
    assert admin.files.content(mine.id).content == b"alice's"
    assert alice.files.delete(mine.id).deleted is True
