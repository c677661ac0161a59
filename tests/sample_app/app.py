"""A small app built on the Responses API, with its own test suite (`test_app.py`), which
`tests/recording/test_pytest_plugin.py` records once and then replays offline."""

from __future__ import annotations

from typing import Any


def greet(client: Any, name: str) -> str:
    """One answer."""
    return str(client.responses.create(model="openai/gpt-4o", input=f"Greet {name}.").output_text)


def follow_up(client: Any) -> tuple[str, str]:
    """Two turns joined by `previous_response_id`, the second streamed."""
    first = client.responses.create(model="openai/gpt-4o", input="Name a colour.")
    events = client.responses.create(
        model="openai/gpt-4o", input="Another one.", previous_response_id=first.id, stream=True
    )
    second = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    return str(first.output_text), second
