"""The embedded local model (SmolLM2-135M through llama-cpp-python), over HTTP with the SDK.

Few and short: the model is real and runs on the CPU. Answers are not asserted word for word
(a 135M model), only their shape: streamed deltas add up, usage is counted, turns complete.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from bench.local_model import PROMPTS as SHORT_PROMPTS  # the benchmark's 20 short prompts
from responsa.config import local_model_available
from tests.support import HTTP, Server, start_server

MODEL = "local/smollm2-135m-instruct"

pytestmark = pytest.mark.skipif(
    not local_model_available(),
    reason="the local model runtime is not installed (bash scripts/setup.sh installs it)",
)


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # No OPENAI_API_KEY and no config: the embedded default. One thread: tests share the 2 cores.
    server = start_server(tmp_path_factory.mktemp("local"), "local", {"RESPONSA_LOCAL_THREADS": "1"})
    yield server
    server.stop()


def test_models_list_the_local_model(local_server: Server) -> None:
    assert MODEL in [m.id for m in local_server.client().models.list().data]
    assert "local/smollm2-135m-instruct" in local_server.log.read_text()  # said at start-up


def test_short_prompts_end_on_their_own_under_the_default_cap(local_server: Server) -> None:
    """No sampling options and no max_output_tokens: the provider's defaults (sampling that
    does not loop, a 512-token cap). A fixed seed keeps the run the same each time."""
    client = local_server.client()
    log = local_server.log.read_text()
    assert "repeat_penalty 1.1" in log and "capped at 512 tokens" in log  # said at start-up
    for prompt in SHORT_PROMPTS:
        answer = client.responses.create(model=MODEL, input=prompt, extra_body={"seed": 1})
        assert answer.status == "completed", (prompt, answer.incomplete_details, answer.output_text)
        assert answer.usage is not None and 0 < answer.usage.output_tokens < 512
        assert answer.output_text.strip()


def test_streamed_answer_with_usage(local_server: Server) -> None:
    client = local_server.client()
    events = list(
        client.responses.create(
            model=MODEL, input="Which planet do humans live on?", max_output_tokens=16, stream=True
        )
    )
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = events[-1].response
    assert final.status in ("completed", "incomplete")
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas.strip() and deltas == final.output_text
    assert final.usage is not None
    assert final.usage.input_tokens > 5 and 0 < final.usage.output_tokens <= 16
    assert final.usage.total_tokens == final.usage.input_tokens + final.usage.output_tokens
    assert final.model == MODEL


def test_previous_response_and_conversation(local_server: Server) -> None:
    client = local_server.client()
    first = client.responses.create(model=MODEL, input="What is 2+2?", max_output_tokens=16)
    second = client.responses.create(
        model=MODEL, input="And 3+3?", previous_response_id=first.id, max_output_tokens=16
    )
    assert second.status in ("completed", "incomplete") and second.output_text
    assert second.usage is not None and first.usage is not None
    assert second.usage.input_tokens > first.usage.input_tokens  # the history was sent

    conversation = client.conversations.create()
    turn = client.responses.create(
        model=MODEL, input="Say hi", conversation=conversation.id, max_output_tokens=16
    )
    assert turn.output_text
    assert len(client.conversations.items.list(conversation.id).data) == 2


def test_concurrent_requests_queue(local_server: Server) -> None:
    client = local_server.client()

    def ask(i: int) -> str:
        return client.responses.create(model=MODEL, input=f"Count to {i}.", max_output_tokens=16).status

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(ask, range(1, 5)))
    assert len(statuses) == 4 and all(s in ("completed", "incomplete") for s in statuses)


def test_context_overflow_is_400(local_server: Server) -> None:
    resp = HTTP.post(
        local_server.url + "/v1/responses",
        json={"model": MODEL, "input": "word " * 5000, "max_output_tokens": 16},
    )
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert "4096 tokens" in error["message"] and "input tokens" in error["message"]


def test_structured_output_and_named_tool(local_server: Server) -> None:
    client = local_server.client()
    response = client.responses.create(
        model=MODEL,
        input="Which planet do humans live on?",
        max_output_tokens=60,
        text={
            "format": {
                "type": "json_schema",
                "name": "answer",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": {"planet": {"type": "string", "maxLength": 20}},
                    "required": ["planet"],
                },
            }
        },
    )
    assert isinstance(json.loads(response.output_text)["planet"], str)

    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "maxLength": 30}},
                "required": ["city"],
            },
        }
    ]
    called = client.responses.create(
        model=MODEL,
        input="What is the weather in Paris?",
        tools=tools,  # type: ignore[arg-type]
        tool_choice={"type": "function", "name": "get_weather"},
        max_output_tokens=60,
    )
    call = called.output[-1]
    assert call.type == "function_call" and call.name == "get_weather"
    assert "city" in json.loads(call.arguments)

    with pytest.raises(openai.BadRequestError, match="tool_choice"):
        client.responses.create(model=MODEL, input="Weather?", tools=tools, max_output_tokens=16)  # type: ignore[arg-type]
    answered = client.responses.create(  # with the tool's result, "auto" means: answer
        model=MODEL,
        previous_response_id=called.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 21 C"}],
        tools=tools,  # type: ignore[arg-type]
        max_output_tokens=24,
    )
    assert answered.status in ("completed", "incomplete") and answered.output[-1].type == "message"
    with pytest.raises(openai.BadRequestError, match="text only"):
        client.responses.create(
            model=MODEL,
            max_output_tokens=16,
            input=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "what is this"},
                        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
                    ],
                }
            ],
        )
