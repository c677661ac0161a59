"""The reference server's own client, `ogx-client` (from PyPI), unmodified against Responsa:
streamed events parse into its models (they need `response_id` on item and content-part
events), conversations and prompt templates work, and `guardrails` is a clear 503 while no
safety provider is set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.scripted_model import script
from tests.support import HTTP, Process, Server, upstream_requests

ogx_client = pytest.importorskip(
    "ogx_client", reason="ogx-client is not installed (bash scripts/setup.sh --dev)"
)

pytestmark = pytest.mark.clients


@pytest.fixture()
def ogx(live_server: Server) -> Iterator[ogx_client.OgxClient]:
    with ogx_client.OgxClient(base_url=live_server.url, max_retries=0) as client:
        yield client  # closed after the test: an unclosed socket is an error in a later one


def test_streamed_events_parse_into_its_models(ogx: ogx_client.OgxClient) -> None:
    events = list(
        ogx.responses.create(model="gpt-4o", input=script({"say": "Hello from Responsa."}), stream=True)
    )
    assert not [e for e in events if isinstance(e, dict)]  # every event became its model
    final = events[-1].response
    assert final.status == "completed" and final.output[0].content[0].text == "Hello from Responsa."
    kinds = {
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
    }
    tagged = [e for e in events if e.type in kinds]
    assert len(tagged) == 4 and {e.response_id for e in tagged} == {final.id}
    done = next(e for e in tagged if e.type == "response.content_part.done")
    assert done.part.text == "Hello from Responsa."


def test_conversations_through_its_client(ogx: ogx_client.OgxClient) -> None:
    conversation = ogx.conversations.create(
        items=[{"type": "message", "role": "user", "content": "I am Ada."}]
    )
    answer = ogx.responses.create(
        model="gpt-4o", input=script({"say": "Hi Ada."}, text="Who am I?"), conversation=conversation.id
    )
    assert answer.output[0].content[0].text == "Hi Ada."
    items = ogx.conversations.items.list(conversation.id)
    assert len(items.data) == 3  # the first message, the question, the answer


def test_guardrails_are_refused_while_no_safety_provider_is_set(
    ogx: ogx_client.OgxClient, fake_upstream: Process
) -> None:
    HTTP.delete(fake_upstream.url + "/fake/requests")
    with pytest.raises(ogx_client.APIStatusError) as caught:
        ogx.responses.create(model="gpt-4o", input="hello", extra_body={"guardrails": ["llama-guard"]})
    assert caught.value.status_code == 503
    assert "Safety API" in str(caught.value) and "guardrails" in str(caught.value)
    assert upstream_requests(fake_upstream) == []  # never forwarded


def test_prompts_through_its_client(ogx: ogx_client.OgxClient, fake_upstream: Process) -> None:
    created = ogx.prompts.create(prompt="You help {{ name }} with {{topic}}.", variables=["name", "topic"])
    assert created.prompt_id.startswith("pmpt_") and created.version == 1
    second = ogx.prompts.update(
        created.prompt_id,
        prompt="You help {{ name }} with {{topic}}, briefly.",
        variables=["name", "topic"],  # an update declares its own (none when left out, as OGX)
        version=1,
        set_as_default=True,
    )
    assert second.version == 2
    assert ogx.prompts.retrieve(created.prompt_id, version=1).prompt == "You help {{ name }} with {{topic}}."
    assert created.prompt_id in [p.prompt_id for p in ogx.prompts.list()]  # its client unwraps `data`
    HTTP.delete(fake_upstream.url + "/fake/requests")
    answer = ogx.responses.create(
        model="gpt-4o",
        input=script({"say": "Sure."}),
        prompt={
            "id": created.prompt_id,
            "variables": {
                "name": {"type": "input_text", "text": "Ada"},
                "topic": {"type": "input_text", "text": "maths"},
            },
        },
    )
    assert (
        answer.status == "completed" and answer.prompt is not None and answer.prompt.id == created.prompt_id
    )
    sent = upstream_requests(fake_upstream)[0]["messages"][0]
    assert sent == {"role": "system", "content": "You help Ada with maths, briefly."}
    ogx.prompts.delete(created.prompt_id)
    with pytest.raises(ogx_client.NotFoundError):
        ogx.prompts.retrieve(created.prompt_id)
