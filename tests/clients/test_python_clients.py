"""The OpenAI Agents SDK and LangChain, unmodified, against Responsa in front of a strict
upstream that follows prompt scripts (tests/scripted_model.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.scripted_model import script
from tests.support import Process, Server, upstream_requests

agents = pytest.importorskip("agents", reason="openai-agents is not installed (bash scripts/setup.sh --dev)")
langchain_openai = pytest.importorskip("langchain_openai", reason="langchain-openai is not installed")

pytestmark = pytest.mark.clients


@pytest.fixture()
def sdk_client(strict_server: Server) -> Any:
    from openai import AsyncOpenAI

    return AsyncOpenAI(base_url=strict_server.url + "/v1", api_key="k", max_retries=0)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def weather_agent(client: Any, **kwargs: Any) -> Any:
    from agents import Agent, OpenAIResponsesModel, function_tool

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"Sunny in {city}"

    model = OpenAIResponsesModel(model="gpt-4o", openai_client=client)
    return Agent(name="weather", instructions="Answer briefly.", model=model, tools=[get_weather], **kwargs)


@pytest.fixture(autouse=True)
def _no_tracing() -> None:
    from agents import set_tracing_disabled

    set_tracing_disabled(True)


def test_agents_sdk_tool_loop(sdk_client: Any, fake: Process) -> None:
    from agents import Runner

    async def main() -> Any:
        agent = weather_agent(sdk_client)
        prompt = script(
            {"say": "Let me look.", "calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
            {"say": "It says: {last_tool}"},
        )
        try:
            return await Runner.run(agent, prompt)
        finally:
            await sdk_client.close()

    result = run(main())
    assert result.final_output == "It says: Sunny in Paris"
    second = upstream_requests(fake)[1]["messages"]
    assert second[-2]["content"] == [
        {"type": "text", "text": "Let me look."}
    ]  # the text before the call is kept
    assert second[-1] == {
        "role": "tool",
        "tool_call_id": second[-2]["tool_calls"][0]["id"],
        "content": "Sunny in Paris",
    }


def test_agents_sdk_handoff_and_streamed_run(sdk_client: Any, fake: Process) -> None:
    from agents import Agent, OpenAIResponsesModel, Runner

    async def main() -> tuple[Any, list[str]]:
        model = OpenAIResponsesModel(model="gpt-4o", openai_client=sdk_client)
        expert = Agent(name="expert", instructions="You are the expert.", model=model)
        triage = Agent(name="triage", instructions="Hand off.", model=model, handoffs=[expert])
        prompt = script(
            {"calls": [{"name": "transfer_to_expert", "arguments": {}}]},
            {"reason": "Expert thinking.", "say": "Expert here."},
        )
        streamed = Runner.run_streamed(triage, prompt)
        kinds = [event.type async for event in streamed.stream_events()]
        await sdk_client.close()
        return streamed, kinds

    streamed, kinds = run(main())
    assert streamed.final_output == "Expert here." and streamed.last_agent.name == "expert"
    assert "raw_response_event" in kinds and "agent_updated_stream_event" in kinds
    bodies = upstream_requests(fake)
    assert bodies[1]["messages"][0] == {"role": "system", "content": "You are the expert."}


def test_agents_sdk_conversations_session(strict_server: Server, sdk_client: Any, fake: Process) -> None:
    from agents import Agent, OpenAIConversationsSession, OpenAIResponsesModel, Runner

    async def main() -> tuple[Any, Any, list[Any]]:
        session = OpenAIConversationsSession(openai_client=sdk_client)
        agent = Agent(name="a", model=OpenAIResponsesModel(model="gpt-4o", openai_client=sdk_client))
        first = await Runner.run(agent, script({"say": "Noted, Ada."}, text="I am Ada."), session=session)
        second = await Runner.run(agent, script({"say": "You are Ada."}, text="Who am I?"), session=session)
        items = await session.get_items()
        await session.clear_session()
        await sdk_client.close()
        return first, second, items

    first, second, items = run(main())
    assert first.final_output == "Noted, Ada." and second.final_output == "You are Ada."
    assert len(items) == 4
    last = upstream_requests(fake)[-1]["messages"]
    texts = [m["content"] if isinstance(m["content"], str) else m["content"][0]["text"] for m in last]
    assert texts[0].startswith("I am Ada.") and texts[1] == "Noted, Ada." and texts[2].startswith("Who am I?")


def test_agents_sdk_compaction_session(sdk_client: Any, fake: Process) -> None:
    """The SDK's compaction session compacts through POST /v1/responses/compact after a turn;
    the next turn starts from the compaction item it stored."""
    from agents import Agent, OpenAIResponsesModel, Runner, SQLiteSession
    from agents.memory import OpenAIResponsesCompactionSession

    async def main() -> tuple[Any, list[Any]]:
        session = OpenAIResponsesCompactionSession(
            "compacted",
            SQLiteSession("compacted"),
            client=sdk_client,
            model="gpt-4o",
            should_trigger_compaction=lambda context: True,
        )
        agent = Agent(name="a", model=OpenAIResponsesModel(model="gpt-4o", openai_client=sdk_client))
        await Runner.run(agent, script({"say": "Noted, Ada."}, text="I am Ada."), session=session)
        items = await session.get_items()
        second = await Runner.run(agent, script({"say": "You are Ada."}, text="Who am I?"), session=session)
        await sdk_client.close()
        return second, items

    second, items = run(main())
    assert second.final_output == "You are Ada."
    assert [i.get("type") for i in items if i.get("type") == "compaction"] == ["compaction"]
    summaries = [r for r in upstream_requests(fake) if not r.get("stream")]
    assert summaries, "the session never called /v1/responses/compact"
    last = upstream_requests(fake)[-1]["messages"]
    handoffs = [m for m in last if m["role"] == "assistant" and str(m["content"]).startswith("Earlier turns")]
    assert len(handoffs) == 1  # the next turn's history starts from the compaction


def chat_model(server: Server, **kwargs: Any) -> Any:
    return langchain_openai.ChatOpenAI(
        model="gpt-4o",
        base_url=server.url + "/v1",
        api_key="k",
        use_responses_api=True,
        max_retries=0,
        **kwargs,
    )


def test_langchain_refusal_then_next_turn(strict_server: Server, fake: Process) -> None:
    from langchain_core.messages import HumanMessage

    llm = chat_model(strict_server)
    first = HumanMessage(script({"refuse": "I can't help with that."}, {"say": "Sure, hello."}))
    refused = llm.invoke([first])
    assert refused.additional_kwargs.get("refusal") == "I can't help with that." or "refusal" in json.dumps(
        refused.content
    )
    again = llm.invoke([first, refused, HumanMessage("Then just say hello.")])
    assert again.text == "Sure, hello."
    sent = upstream_requests(fake)[1]["messages"]
    assert any(m["role"] == "assistant" for m in sent)


def test_langchain_reasoning_blocks_stateless(strict_server: Server, fake: Process) -> None:
    from langchain_core.messages import HumanMessage

    llm = chat_model(
        strict_server,
        output_version="responses/v1",
        store=False,
        include=["reasoning.encrypted_content"],
        reasoning={"effort": "low", "summary": "auto"},
    )
    first = HumanMessage(script({"reason": "Two plus two.", "say": "4"}, {"say": "Yes."}))
    answer = llm.invoke([first])
    blocks = answer.content if isinstance(answer.content, list) else []
    reasoning = [b for b in blocks if isinstance(b, dict) and b.get("type") == "reasoning"]
    assert reasoning and reasoning[0].get("encrypted_content"), blocks
    follow = llm.invoke([first, answer, HumanMessage("Sure?")])
    assert follow.text == "Yes."
    sent = upstream_requests(fake)[1]["messages"]
    assert any(m.get("reasoning_content") == "Two plus two." for m in sent), sent
