"""The seed scenarios, end to end: client calls through the SDK, upstream answered by replay.

A replay hit proves the upstream request body matched the seed key for key; a miss would be an
error naming the closest recording.
"""

from __future__ import annotations

import json

from tests.support import SEEDS, Server

SEED_001 = json.loads((SEEDS / "001_de0f71cbc77741e1.txt").read_text())
SEED_002 = json.loads((SEEDS / "002_a63ad1d70ae3bf1e.txt").read_text())


def _seed_reply(seed: dict) -> str:
    return "".join(
        chunk["__data__"]["choices"][0]["delta"]["content"] or ""
        for chunk in seed["response"]["body"]
        if chunk["__data__"]["choices"]
    )


def test_seed_001_previous_response_id(seed_server: Server) -> None:
    client = seed_server.client(SEED_001["test_id"])
    first = client.responses.create(model="openai/gpt-4o", input="Which planet do humans live on?")
    assert first.status == "completed"
    assert first.output_text == "Humans live on Earth."

    second = client.responses.create(
        model="openai/gpt-4o",
        input="Repeat your previous response in all caps.",
        previous_response_id=first.id,
    )
    assert second.output_text == _seed_reply(SEED_001) == "HUMANS LIVE ON EARTH."
    assert second.previous_response_id == first.id
    assert second.usage is not None and second.usage.input_tokens == 36 and second.usage.output_tokens == 8


def test_seed_002_image_follow_up(seed_server: Server) -> None:
    client = seed_server.client(SEED_002["test_id"])
    image_url = SEED_002["request"]["body"]["messages"][0]["content"][1]["image_url"]["url"]
    first = client.responses.create(
        model="openai/gpt-4o",
        input=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "input_text",
                        "text": "What type of animal is in this image? Please respond with a single "
                        "word that starts with the letter 'L'.",
                    },
                    {"type": "input_image", "image_url": image_url},
                ],
            }
        ],
    )
    assert first.output_text == "Llama"
    second = client.responses.create(
        model="openai/gpt-4o",
        input="What country do you find this animal primarily in? What continent?",
        previous_response_id=first.id,
    )
    assert second.output_text == _seed_reply(SEED_002)
    assert "Peru" in second.output_text

    items = client.responses.input_items.list(first.id, include=["message.input_image.image_url"]).data
    assert [part.type for part in items[0].content] == ["input_text", "input_image"]
    assert items[0].content[1].image_url == image_url


def test_seed_001_streamed_follow_up(seed_server: Server) -> None:
    client = seed_server.client(SEED_001["test_id"])
    first = client.responses.create(model="openai/gpt-4o", input="Which planet do humans live on?")
    events = list(
        client.responses.create(
            model="openai/gpt-4o",
            input="Repeat your previous response in all caps.",
            previous_response_id=first.id,
            stream=True,
        )
    )
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == _seed_reply(SEED_001)
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == deltas
