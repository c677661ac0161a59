"""The Vector Stores API (`/v1/vector_stores`) through the official SDK, on both databases:
files read in the background (text, PDF), chunked, embedded by the embedded MiniLM model and
searched by vector, keyword and both; filters; failures that stay with their file."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.api.test_security import new_key
from tests.support import Process, Server, new_database, start_server, upstream_env

pytest.importorskip("onnxruntime", reason="the embedded embedder is not installed")

STATIC = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 20}}
FILLER = " ".join(f"Paragraph {i} describes routine maintenance of the office printers." for i in range(40))
ANSWER = "The secret launch code for project Bluebird is 7781, kept in the blue safe."


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing `text` in Helvetica, written by hand (xref offsets computed)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def static(size: int, overlap: int) -> dict[str, Any]:
    return {"type": "static", "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap}}


def upload(client: openai.OpenAI, name: str, data: bytes, mime: str = "text/plain") -> str:
    return client.files.create(file=(name, data, mime), purpose="assistants").id


def settled(client: openai.OpenAI, store_id: str, file_id: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        file = client.vector_stores.files.retrieve(file_id, vector_store_id=store_id)
        if file.status != "in_progress" or time.monotonic() > deadline:
            return file
        time.sleep(0.1)


def test_store_crud_and_pages(live_server: Server) -> None:
    client = live_server.client()
    created = client.vector_stores.create(
        name="docs", metadata={"team": "a"}, expires_after={"anchor": "last_active_at", "days": 7}
    )
    assert created.id.startswith("vs_") and created.object == "vector_store"
    assert (created.name, created.metadata, created.status, created.usage_bytes) == (
        "docs",
        {"team": "a"},
        "completed",
        0,
    )
    assert created.file_counts.total == 0 and created.expires_after is not None
    assert created.expires_at == created.last_active_at + 7 * 86400  # type: ignore[operator]
    assert client.vector_stores.retrieve(created.id).id == created.id
    updated = client.vector_stores.update(
        created.id, name="renamed", metadata={"team": "b"}, expires_after=None
    )
    assert (updated.name, updated.metadata, updated.expires_at) == ("renamed", {"team": "b"}, None)
    more = [client.vector_stores.create(name=f"page-{i}").id for i in range(3)]
    first = client.vector_stores.list(limit=2, order="desc")
    assert [s.id for s in first.data] == [more[2], more[1]] and first.has_more
    after = client.vector_stores.list(limit=2, order="desc", after=more[1])
    assert after.data[0].id == more[0]
    before = client.vector_stores.list(limit=1, order="desc", before=more[1])
    assert [s.id for s in before.data] == [more[2]]
    deleted = client.vector_stores.delete(created.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True, "vector_store.deleted")
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.list(vector_store_id="vs_missing")


def test_bad_shapes_name_the_field(live_server: Server) -> None:
    client = live_server.client()
    bad: list[tuple[dict[str, Any], str]] = [
        ({"chunking_strategy": static(50, 0)}, "chunking_strategy.static.max_chunk_size_tokens"),
        ({"chunking_strategy": static(200, 150)}, "chunking_strategy.static.chunk_overlap_tokens"),
        ({"expires_after": {"anchor": "created_at", "days": 1}}, "expires_after.anchor"),
        ({"file_ids": ["file-nope"]}, "file_ids"),
    ]  # fmt: skip
    for body, param in bad:
        with pytest.raises((openai.BadRequestError, openai.NotFoundError)) as caught:
            client.vector_stores.create(**body)
        assert caught.value.body["param"] == param, body  # type: ignore[index]
    store = client.vector_stores.create(name="shapes")
    with pytest.raises(openai.BadRequestError) as error:
        client.vector_stores.search(store.id, query="x", max_num_results=51)
    assert error.value.body["param"] == "max_num_results"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as error:
        client.vector_stores.search(store.id, query="x", filters={"type": "like", "key": "a", "value": 1})  # type: ignore[arg-type]
    assert error.value.body["param"] == "filters.type"  # type: ignore[index]


def test_ingest_text_and_pdf_then_search(live_server: Server) -> None:
    client = live_server.client()
    text_id = upload(client, "handbook.md", (FILLER + " " + ANSWER + " " + FILLER).encode(), "text/markdown")
    pdf_id = upload(
        client, "memo.pdf", minimal_pdf("The cafeteria serves lentil soup every Thursday."), "application/pdf"
    )
    store = client.vector_stores.create(name="kb", file_ids=[text_id], chunking_strategy=STATIC)
    assert store.file_counts.total == 1
    attached = client.vector_stores.files.create(
        vector_store_id=store.id, file_id=pdf_id, attributes={"kind": "memo"}
    )
    assert (attached.id, attached.status, attached.attributes) == (pdf_id, "in_progress", {"kind": "memo"})
    again = client.vector_stores.files.create(vector_store_id=store.id, file_id=pdf_id)
    assert again.id == pdf_id and again.attributes == {"kind": "memo"}  # attached twice: the existing one
    for file_id in (text_id, pdf_id):
        file = settled(client, store.id, file_id)
        assert (file.status, file.last_error) == ("completed", None)
        assert file.usage_bytes > 0
    text_file = client.vector_stores.files.retrieve(text_id, vector_store_id=store.id)
    assert text_file.chunking_strategy is not None and text_file.chunking_strategy.type == "static"
    chunks = list(client.vector_stores.files.content(text_id, vector_store_id=store.id))
    assert len(chunks) > 3 and any("7781" in c.text for c in chunks)
    pdf_chunks = list(client.vector_stores.files.content(pdf_id, vector_store_id=store.id))
    assert "lentil soup" in pdf_chunks[0].text
    current = client.vector_stores.retrieve(store.id)
    assert (current.status, current.file_counts.completed, current.file_counts.total) == ("completed", 2, 2)
    assert current.usage_bytes == text_file.usage_bytes + settled(client, store.id, pdf_id).usage_bytes
    found = client.vector_stores.search(store.id, query="What is the launch code of project Bluebird?")
    assert found.data[0].file_id == text_id and "7781" in found.data[0].content[0].text
    assert found.data[0].filename == "handbook.md" and 0 < found.data[0].score <= 1
    page = client.vector_stores.search(
        store.id, query="soup on Thursdays", max_num_results=1, rewrite_query=True
    )
    assert len(page.data) == 1 and page.data[0].file_id == pdf_id
    assert page.data[0].attributes == {"kind": "memo"}
    raw = client.vector_stores.with_raw_response.search(store.id, query=["launch code"]).http_response.json()
    assert raw["search_query"] == ["launch code"] and raw["object"] == "vector_store.search_results.page"
    # Deleting a file removes its chunks: searches no longer find it.
    gone = client.vector_stores.files.delete(text_id, vector_store_id=store.id)
    assert (gone.id, gone.deleted) == (text_id, True)
    after = client.vector_stores.search(store.id, query="launch code Bluebird 7781")
    assert all(hit.file_id != text_id for hit in after.data)
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.retrieve(text_id, vector_store_id=store.id)
    assert client.vector_stores.retrieve(store.id).file_counts.total == 1


def test_filters_apply_before_ranking(live_server: Server) -> None:
    client = live_server.client()
    docs = {
        "alpha": ("Apples grow on trees in the orchard.", {"year": 2021, "team": "red", "public": True}),
        "beta": ("Apple pie is baked with cinnamon.", {"year": 2023, "team": "blue", "public": False}),
        "gamma": ("Apple juice is pressed in autumn.", {"year": 2024, "team": "red", "public": False}),
    }
    store = client.vector_stores.create(name="filters")
    ids = {}
    for name, (text, attributes) in docs.items():
        ids[name] = upload(client, f"{name}.txt", text.encode())
        client.vector_stores.files.create(vector_store_id=store.id, file_id=ids[name], attributes=attributes)
    for file_id in ids.values():
        assert settled(client, store.id, file_id).status == "completed"

    def hits(filters: dict[str, Any]) -> set[str]:
        page = client.vector_stores.search(store.id, query="apple", filters=filters)  # type: ignore[arg-type]
        names = {v: k for k, v in ids.items()}
        return {names[hit.file_id] for hit in page.data}

    assert hits({"type": "eq", "key": "team", "value": "red"}) == {"alpha", "gamma"}
    assert hits({"type": "ne", "key": "team", "value": "red"}) == {"beta"}
    assert hits({"type": "gt", "key": "year", "value": 2021}) == {"beta", "gamma"}
    assert hits({"type": "gte", "key": "year", "value": 2023}) == {"beta", "gamma"}
    assert hits({"type": "lt", "key": "year", "value": 2023}) == {"alpha"}
    assert hits({"type": "lte", "key": "year", "value": 2023}) == {"alpha", "beta"}
    assert hits({"type": "in", "key": "team", "value": ["blue", "green"]}) == {"beta"}
    assert hits({"type": "nin", "key": "team", "value": ["blue"]}) == {"alpha", "gamma"}
    assert hits({"type": "eq", "key": "public", "value": True}) == {"alpha"}
    compound = {
        "type": "and",
        "filters": [
            {"type": "eq", "key": "team", "value": "red"},
            {"type": "gt", "key": "year", "value": 2022},
        ],
    }
    assert hits(compound) == {"gamma"}
    either = {
        "type": "or",
        "filters": [
            {"type": "eq", "key": "team", "value": "blue"},
            {"type": "lt", "key": "year", "value": 2022},
        ],
    }
    assert hits(either) == {"alpha", "beta"}
    # New attributes are seen by the next search (the cached vectors know the store changed).
    client.vector_stores.files.update(ids["alpha"], vector_store_id=store.id, attributes={"team": "blue"})
    assert hits({"type": "eq", "key": "team", "value": "blue"}) == {"alpha", "beta"}


def test_paraphrase_hybrid_beats_keyword_only(live_server: Server) -> None:
    client = live_server.client()
    texts = {
        "pets": "The feline dozed peacefully on the rug all afternoon.",
        "cars": "Quarterly revenue grew in the automobile sector this year.",
        "weather": "Heavy rainfall is expected across the northern region tomorrow.",
    }
    store = client.vector_stores.create(name="paraphrase")
    ids = {name: upload(client, f"{name}.txt", text.encode()) for name, text in texts.items()}
    batch = client.vector_stores.file_batches.create(vector_store_id=store.id, file_ids=list(ids.values()))
    assert batch.object == "vector_store.files_batch" and batch.file_counts.total == 3
    deadline = time.monotonic() + 60
    while batch.status == "in_progress" and time.monotonic() < deadline:
        time.sleep(0.1)
        batch = client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id)
    assert (batch.status, batch.file_counts.completed) == ("completed", 3)
    listed = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)
    assert {f.id for f in listed.data} == set(ids.values())
    query = "a kitty napping on the carpet"

    def top(mode: str) -> list[str]:
        page = client.vector_stores.search(store.id, query=query, extra_body={"search_mode": mode})
        return [hit.file_id for hit in page.data]

    assert ids["pets"] not in top("keyword")  # no word in common with the answer
    assert top("hybrid")[0] == ids["pets"]
    assert top("vector")[0] == ids["pets"]


def test_unreadable_files_fail_and_others_complete(live_server: Server) -> None:
    client = live_server.client()
    good = upload(client, "good.txt", b"Responsa stores vectors in the database.")
    empty = upload(client, "empty.txt", b"   \n")
    binary = upload(client, "image.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "image/png")
    broken = upload(client, "broken.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf")
    store = client.vector_stores.create(name="failures", file_ids=[good, empty, binary, broken])
    assert settled(client, store.id, good).status == "completed"
    for file_id, code in ((empty, "invalid_file"), (binary, "unsupported_file"), (broken, "invalid_file")):
        file = settled(client, store.id, file_id)
        assert file.status == "failed" and file.last_error is not None, file_id
        assert file.last_error.code == code and file.last_error.message
    current = client.vector_stores.retrieve(store.id)
    assert (current.status, current.file_counts.completed, current.file_counts.failed) == ("completed", 1, 3)
    failed = client.vector_stores.files.list(vector_store_id=store.id, filter="failed")
    assert {f.id for f in failed.data} == {empty, binary, broken}
    assert client.vector_stores.search(store.id, query="vectors database").data[0].file_id == good


def test_batch_cancel(live_server: Server) -> None:
    client = live_server.client()
    store = client.vector_stores.create(name="cancel")
    ids = [upload(client, f"c{i}.txt", (FILLER * 3).encode()) for i in range(4)]
    batch = client.vector_stores.file_batches.create(
        vector_store_id=store.id, file_ids=ids, chunking_strategy=STATIC
    )
    cancelled = client.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)
    assert cancelled.file_counts.in_progress == 0
    assert cancelled.status in ("cancelled", "completed")
    time.sleep(1.0)
    later = client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id)
    assert later.file_counts == cancelled.file_counts  # a cancelled file stays cancelled
    for file_id in ids:
        file = client.vector_stores.files.retrieve(file_id, vector_store_id=store.id)
        if file.status == "cancelled":
            assert list(client.vector_stores.files.content(file_id, vector_store_id=store.id)) == []


@pytest.fixture(scope="module")
def owners(
    tmp_path_factory: pytest.TempPathFactory, db_url: str, fake_upstream: Process
) -> Iterator[tuple[Server, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("vs-owners")
    with new_database("sqlite" if db_url.startswith("sqlite") else "postgresql", tmp) as url:
        keys = {name: new_key(url, "--name", name, "--owner", name)[0] for name in ("alice", "bob")}
        server = start_server(tmp, "owners", upstream_env(fake_upstream, RESPONSA_DB_URL=url))
        yield server, keys
        server.stop()


def test_another_owners_store_is_missing(owners: tuple[Server, dict[str, str]]) -> None:
    server, keys = owners
    alice, bob = server.client(api_key=keys["alice"]), server.client(api_key=keys["bob"])
    file_id = upload(alice, "a.txt", b"alice's notes about tea")
    store = alice.vector_stores.create(name="alice's", file_ids=[file_id])
    assert settled(alice, store.id, file_id).status == "completed"
    calls = [
        lambda: bob.vector_stores.retrieve(store.id),
        lambda: bob.vector_stores.update(store.id, name="x"),
        lambda: bob.vector_stores.search(store.id, query="tea"),
        lambda: bob.vector_stores.files.list(vector_store_id=store.id),
        lambda: bob.vector_stores.files.retrieve(file_id, vector_store_id=store.id),
        lambda: bob.vector_stores.delete(store.id),
        lambda: bob.responses.create(  # nor can bob's file_search read it
            model="gpt-4o", input="tea?", tools=[{"type": "file_search", "vector_store_ids": [store.id]}]
        ),
    ]
    for call in calls:
        with pytest.raises(openai.NotFoundError):
            call()
    assert store.id not in [s.id for s in bob.vector_stores.list()]
    bobs = bob.vector_stores.create(name="bob's")
    with pytest.raises(openai.NotFoundError):  # alice's file is not bob's to attach
        bob.vector_stores.files.create(vector_store_id=bobs.id, file_id=file_id)
    assert alice.vector_stores.search(store.id, query="tea").data[0].file_id == file_id


@pytest.fixture(params=["sqlite", "postgresql"])
def own_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own, so no other test server's workers take these jobs."""
    with new_database(request.param, tmp_path) as url:
        yield url


def test_ingest_survives_a_killed_replica(tmp_path: Path, own_db: str, fake_upstream: Process) -> None:
    env = upstream_env(fake_upstream, RESPONSA_DB_URL=own_db, RESPONSA_JOB_LEASE_S="2")
    a = start_server(tmp_path, "a", env)
    client = a.client()
    big = upload(client, "big.txt", (FILLER * 30 + " " + ANSWER).encode())
    store = client.vector_stores.create(name="takeover", file_ids=[big], chunking_strategy=STATIC)
    time.sleep(0.3)  # A's worker has claimed the job and is embedding
    assert client.vector_stores.files.retrieve(big, vector_store_id=store.id).status == "in_progress"
    assert a.proc is not None
    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait()
    b = start_server(tmp_path, "b", env)
    try:
        survivor = b.client()
        file = settled(survivor, store.id, big, timeout=120)
        assert (file.status, file.last_error) == ("completed", None)
        chunks = list(survivor.vector_stores.files.content(big, vector_store_id=store.id))
        fresh = survivor.vector_stores.create(name="fresh", file_ids=[big], chunking_strategy=STATIC)
        assert settled(survivor, fresh.id, big, timeout=120).status == "completed"
        again = list(survivor.vector_stores.files.content(big, vector_store_id=fresh.id))
        assert [c.text for c in chunks] == [c.text for c in again]  # one attempt's chunks, no leftovers
        assert survivor.vector_stores.search(store.id, query="Bluebird launch code").data[0].file_id == big
    finally:
        b.stop()
        a.stop()


def test_deleting_the_file_removes_it_from_stores(live_server: Server) -> None:
    client = live_server.client()
    file_id = upload(client, "short.txt", b"Ephemeral notes about the harbour.")
    store = client.vector_stores.create(name="deleted-file", file_ids=[file_id])
    assert settled(client, store.id, file_id).status == "completed"
    client.files.delete(file_id)
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.retrieve(file_id, vector_store_id=store.id)
    assert client.vector_stores.search(store.id, query="harbour notes").data == []
