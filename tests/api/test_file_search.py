"""The `file_search` tool through the official SDK, on both databases: a document uploaded and
ingested by the embedded embedder, searched when the (scripted) model asks, its chunk in the
upstream's tool message, the answer's citation as a `file_citation` annotation; filters,
limits, include and the 4xx of bad tools."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.api.test_vector_stores import ANSWER, FILLER, STATIC, settled, upload
from tests.scripted_model import script
from tests.support import HTTP, Process, Server, upstream_requests

pytest.importorskip("onnxruntime", reason="the embedded embedder is not installed")

FLEET = "The delivery fleet has 42 electric vans, serviced every March in Lyon."


def ready_store(
    client: openai.OpenAI, files: dict[str, tuple[bytes, dict[str, Any]]]
) -> tuple[str, list[str]]:
    """A store holding `files` (name -> (bytes, attributes)), every file ingested in chunks of
    100 tokens (the long one makes several)."""
    store = client.vector_stores.create(name="kb")
    ids = []
    for name, (data, attributes) in files.items():
        file_id = upload(client, name, data)
        client.vector_stores.files.create(
            vector_store_id=store.id, file_id=file_id, attributes=attributes, chunking_strategy=STATIC
        )
        assert settled(client, store.id, file_id).status == "completed"
        ids.append(file_id)
    return store.id, ids


@pytest.fixture(scope="module")
def knowledge(live_server: Server) -> tuple[str, list[str]]:
    client = live_server.client()
    return ready_store(
        client,
        {
            "bluebird.txt": ((FILLER + " " + ANSWER).encode(), {"team": "launch"}),
            "fleet.txt": (FLEET.encode(), {"team": "logistics"}),
        },
    )


def test_rag_round_trip_streams_the_search_and_cites_the_file(
    live_server: Server, fake_upstream: Process, knowledge: tuple[str, list[str]]
) -> None:
    store_id, (bluebird, _) = knowledge
    prompt = script(
        {"calls": [{"name": "file_search", "arguments": {"query": "launch code of project Bluebird"}}]},
        {"say": f"The launch code is 7781 <|{bluebird}|>. It is kept in the blue safe <|{bluebird}|>."},
        text="What is the launch code of project Bluebird?",
    )
    HTTP.delete(fake_upstream.url + "/fake/requests")
    events = list(
        live_server.client().responses.create(
            model="gpt-4o",
            input=prompt,
            tools=[{"type": "file_search", "vector_store_ids": [store_id]}],
            include=["file_search_call.results"],
            stream=True,
        )
    )
    types = [e.type for e in events]
    searching = [t for t in types if t.startswith("response.file_search_call.")]
    assert searching == [f"response.file_search_call.{k}" for k in ("in_progress", "searching", "completed")]
    final = events[-1].response  # type: ignore[union-attr]
    assert final.status == "completed"
    search, message = final.output[0], final.output[-1]
    assert search.type == "file_search_call" and search.status == "completed"
    assert search.queries == ["launch code of project Bluebird"]
    assert search.results and search.results[0].file_id == bluebird
    assert search.results[0].filename == "bluebird.txt" and "7781" in (search.results[0].text or "")
    assert search.results[0].attributes == {"team": "launch"}
    assert message.type == "message"
    text = message.content[0]
    assert text.type == "output_text"
    assert text.text == "The launch code is 7781. It is kept in the blue safe."
    cited = [(a.type, a.file_id, a.filename, a.index) for a in text.annotations]  # type: ignore[union-attr]
    assert cited == [
        ("file_citation", bluebird, "bluebird.txt", len("The launch code is 7781")),
        ("file_citation", bluebird, "bluebird.txt", len(text.text) - 1),
    ]
    # What streamed adds up to the final text; each annotation arrived as its own event.
    streamed = "".join(e.delta for e in events if e.type == "response.output_text.delta")  # type: ignore[union-attr]
    assert streamed == text.text
    added = [e for e in events if e.type == "response.output_text.annotation.added"]
    assert [e.annotation_index for e in added] == [0, 1]  # type: ignore[union-attr]
    # The upstream was offered the tool, then read the retrieved chunk with its citation marker.
    first, second = upstream_requests(fake_upstream)
    assert [t["function"]["name"] for t in first["tools"]] == ["file_search"]
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool"
    parts = [p["text"] for p in tool_message["content"]]
    assert parts[0].startswith("file_search tool found ")
    assert any(ANSWER in p and f"cite as <|{bluebird}|>" in p for p in parts)
    assert 'query: "launch code of project Bluebird"' in parts[-1]
    # The stored response is what was streamed; a later turn sends the model's own words back.
    stored = live_server.client().responses.retrieve(final.id)
    assert stored.output[-1].content[0].annotations == text.annotations  # type: ignore[union-attr]


def test_results_only_with_include_and_filters_apply(
    live_server: Server, fake_upstream: Process, knowledge: tuple[str, list[str]]
) -> None:
    store_id, (bluebird, fleet) = knowledge
    prompt = script(
        {"calls": [{"name": "file_search", "arguments": {"query": "electric vans"}}]},
        {"say": "Done."},
    )
    tool = {
        "type": "file_search",
        "vector_store_ids": [store_id],
        "filters": {"type": "eq", "key": "team", "value": "launch"},
        "max_num_results": 2,
    }
    HTTP.delete(fake_upstream.url + "/fake/requests")
    response = live_server.client().responses.create(model="gpt-4o", input=prompt, tools=[tool])  # type: ignore[list-item]
    search = response.output[0]
    assert search.type == "file_search_call" and search.results is None  # not included
    assert response.tools[0].type == "file_search" and response.tools[0].max_num_results == 2
    tool_message = upstream_requests(fake_upstream)[1]["messages"][-1]
    texts = "".join(p["text"] for p in tool_message["content"])
    assert f"<|{bluebird}|>" in texts and f"<|{fleet}|>" not in texts  # the filter ran before ranking
    assert texts.startswith("file_search tool found 2 chunks:")
    items = live_server.client().responses.input_items.list(response.id)
    assert items.data  # the input is there; results of stored search calls follow `include`


def test_tool_choice_names_file_search(
    live_server: Server, fake_upstream: Process, knowledge: tuple[str, list[str]]
) -> None:
    store_id, _ = knowledge
    HTTP.delete(fake_upstream.url + "/fake/requests")
    live_server.client().responses.create(
        model="gpt-4o",
        input=script({"say": "No search needed."}),
        tools=[{"type": "file_search", "vector_store_ids": [store_id]}],
        tool_choice={"type": "file_search"},
    )
    first = upstream_requests(fake_upstream)[0]
    assert first["tool_choice"] == {"type": "function", "function": {"name": "file_search"}}


@pytest.mark.parametrize(
    ("tool", "status", "param"),
    [
        ({"type": "file_search", "vector_store_ids": ["vs_missing"]}, 404, "tools[0].vector_store_ids"),
        ({"type": "file_search"}, 400, "tools[0].vector_store_ids"),
        ({"type": "file_search", "vector_store_ids": "vs_x"}, 400, "tools[0].vector_store_ids"),
        (
            {"type": "file_search", "vector_store_ids": ["{store}"], "max_num_results": 0},
            400,
            "tools[0].max_num_results",
        ),
        (
            {"type": "file_search", "vector_store_ids": ["{store}"], "filters": {"type": "like", "key": "a"}},
            400,
            "tools[0].filters.type",
        ),
        (
            {
                "type": "file_search",
                "vector_store_ids": ["{store}"],
                "ranking_options": {"score_threshold": 2},
            },
            400,
            "tools[0].ranking_options.score_threshold",
        ),
        (
            {
                "type": "file_search",
                "vector_store_ids": ["{store}"],
                "ranking_options": {"hybrid_search": {"embedding_weight": 0, "text_weight": 0}},
            },
            400,
            "tools[0].ranking_options.hybrid_search",
        ),
    ],
)
def test_bad_file_search_tools_name_the_field(
    live_server: Server, knowledge: tuple[str, list[str]], tool: dict[str, Any], status: int, param: str
) -> None:
    store_id, _ = knowledge
    if tool.get("vector_store_ids") == ["{store}"]:
        tool = {**tool, "vector_store_ids": [store_id]}
    with pytest.raises(openai.APIStatusError) as caught:
        live_server.client().responses.create(model="gpt-4o", input="x", tools=[tool])  # type: ignore[list-item]
    assert caught.value.status_code == status
    assert caught.value.body["param"] == param  # type: ignore[index]


def test_two_file_search_tools_are_refused(live_server: Server, knowledge: tuple[str, list[str]]) -> None:
    store_id, _ = knowledge
    tool = {"type": "file_search", "vector_store_ids": [store_id]}
    with pytest.raises(openai.BadRequestError) as caught:
        live_server.client().responses.create(model="gpt-4o", input="x", tools=[tool, tool])  # type: ignore[list-item]
    assert caught.value.body["param"] == "tools[1].type"  # type: ignore[index]
