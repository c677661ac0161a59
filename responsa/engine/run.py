"""Running a response: prepare (all checks, before any byte is sent), then stream events.

    engine = Engine(store, registry)
    prepared = await engine.prepare(request)      # raises 4xx errors; nothing is stored yet
    async for event in engine.stream(prepared):   # stamped events, ending in a terminal event
        ...
    response = await engine.collect(prepared)     # the same stream, for `stream: false`

The request path reads as `stream -> _run_turns -> _call_model`. A response is persisted once,
when it reaches a terminal state (completed, incomplete or failed), with its input items, its
output items and the upstream messages a later `previous_response_id` continues from.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from openai.types.chat import ChatCompletionChunk

from responsa import ids
from responsa.engine import conversations, history, translate
from responsa.engine.events import FunctionCallItem, MessageItem, Stamper, lifecycle
from responsa.engine.request import CreateResponseRequest
from responsa.engine.response import UsageTotals, new_response
from responsa.engine.tools import translate_tools
from responsa.errors import InvalidRequest, ReplayMiss, ResponsaError, UpstreamError
from responsa.providers.registry import ModelRegistry, ResolvedModel
from responsa.store.base import Store, StoredResponse
from responsa.types import ChatMessage, ChatMessages, ChatRequest, Event, EventStream, Item

log = logging.getLogger("responsa.engine")

DISCONNECTED = "The client disconnected before the response completed."
INTERNAL = "An unexpected error occurred while generating the response."
TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


@dataclass(slots=True)
class PreparedRun:
    request: CreateResponseRequest
    model: ResolvedModel
    chat: ChatRequest
    history: ChatMessages  # what was sent upstream, minus system messages
    input_items: list[Item]
    response: dict[str, Any]
    system: ChatMessages = field(default_factory=list)
    conversation_id: str | None = None
    conversation_item_ids: list[str] = field(default_factory=list)  # the items `history` was built from
    error: ResponsaError | None = None  # why the response failed, once it has


@dataclass(slots=True)
class RunState:
    usage: UsageTotals = field(default_factory=UsageTotals)
    reply: ChatMessages = field(default_factory=list)
    persisted: bool = False


class ModelCall:
    """Turns one upstream stream into output items and their events."""

    def __init__(self, response: dict[str, Any], usage: UsageTotals) -> None:
        self.response = response
        self.usage = usage
        self.message: MessageItem | None = None
        self.calls: dict[int, FunctionCallItem] = {}
        self.finish_reason: str | None = None

    def _next_index(self) -> int:
        return len(self.response["output"]) + (self.message is not None) + len(self.calls)

    def _message(self, events: list[Event]) -> MessageItem:
        if self.message is None:
            self.message = MessageItem(self._next_index())
            events.append(self.message.open())
        return self.message

    def on_chunk(self, chunk: ChatCompletionChunk) -> list[Event]:
        events: list[Event] = []
        if chunk.usage is not None:
            self.usage.add(chunk.usage)
        if chunk.service_tier:
            self.response["service_tier"] = chunk.service_tier
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            delta = choice.delta
            if delta.content:
                logprobs = None
                if choice.logprobs is not None and choice.logprobs.content:
                    logprobs = [lp.model_dump(mode="json") for lp in choice.logprobs.content]
                events.extend(self._message(events).text(delta.content, logprobs))
            if delta.refusal:
                events.extend(self._message(events).refusal(delta.refusal))
            for call in delta.tool_calls or ():
                item = self.calls.get(call.index)
                function = call.function
                if item is None:
                    item = FunctionCallItem(
                        self._next_index(), call.id or ids.new_id("call"), (function and function.name) or ""
                    )
                    self.calls[call.index] = item
                    events.append(item.open())
                if function is not None and function.arguments:
                    events.append(item.arguments_delta(function.arguments))
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
        return events

    @property
    def status(self) -> str:
        return "incomplete" if self.finish_reason in ("length", "content_filter") else "completed"

    def finish(self, status: str) -> list[Event]:
        """Close every open item, in output order, and add them to the response."""
        events: list[Event] = []
        if self.message is None and not self.calls and status == "completed":
            self._message(events)  # an empty reply is still a (blank) message
        items: list[tuple[int, Any]] = [(c.output_index, c) for c in self.calls.values()]
        if self.message is not None:
            items.append((self.message.output_index, self.message))
        for _, item in sorted(items, key=lambda pair: pair[0]):
            if isinstance(item, MessageItem):
                events.extend(item.close(status))
                self.response["output"].append(item.item(status))
            else:
                events.extend(item.close())
                self.response["output"].append(item.item("completed"))
        return events

    def assistant_message(self) -> ChatMessage:
        """The reply as the upstream will see it in the next turn's history."""
        text = self.message.text_so_far if self.message is not None else ""
        if not self.calls:
            return {"role": "assistant", "content": text}
        return {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "index": index,
                    "id": c.call_id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments or "{}"},
                }
                for index, c in sorted(self.calls.items())
            ],
        }


class Engine:
    def __init__(self, store: Store, registry: ModelRegistry) -> None:
        self.store = store
        self.registry = registry
        self._detached: set[asyncio.Task[None]] = set()

    async def prepare(self, req: CreateResponseRequest) -> PreparedRun:
        """Every check that can fail before streaming starts, and the first upstream request."""
        if req.background:
            raise InvalidRequest(
                "'background' responses are not supported by this server yet.", param="background"
            )
        if req.truncation == "auto":
            raise InvalidRequest(
                "Invalid value for 'truncation': 'auto' is not supported; use 'disabled' and let the "
                "model reject oversized inputs.",
                param="truncation",
            )
        if req.prompt is not None:
            raise InvalidRequest(
                "Prompt templates ('prompt') are not supported by this server yet.", param="prompt"
            )
        model = self.registry.resolve(req.model)
        if model.model_type != "llm":
            raise InvalidRequest(f"Model '{req.model}' is not a language model.", param="model")
        tools = translate_tools(req.tools, req.tool_choice)
        previous = await history.previous_messages(req, self.store)
        conversation_id: str | None = None
        item_ids: list[str] = []
        if req.conversation is not None:
            conversation_id = conversations.check_id(req.conversation_id, "conversation")
            if await self.store.get_conversation(conversation_id) is None:
                raise conversations.not_found(conversation_id, "conversation")
            items = await conversations.all_items(self.store, conversation_id)
            item_ids = [item["id"] for item in items]
            chat_history = conversations.history(items, req.input)
        else:
            chat_history = (previous or []) + translate.to_chat_messages(req.input, previous)
        system: ChatMessages = [{"role": "system", "content": req.instructions}] if req.instructions else []
        if not system and not chat_history:
            raise InvalidRequest("Invalid value for 'input': there is nothing to respond to.", param="input")
        chat = translate.build_chat_request(
            req, model.provider_model_id, system + chat_history, tools.tools, tools.tool_choice
        )
        response = new_response(req, ids.response_id(), int(time.time()), tools.echo)
        return PreparedRun(
            req,
            model,
            chat,
            chat_history,
            translate.to_stored_items(req.input),
            response,
            system,
            conversation_id,
            item_ids,
        )

    async def stream(self, run: PreparedRun) -> EventStream:
        """All events of the response, stamped, always ending in a terminal `response.*` event."""
        stamp = Stamper()
        state = RunState()
        finished = False
        try:
            async for event in self._run_turns(run, state):
                yield stamp(event)
            finished = True
        except Exception as exc:  # a bug, not an upstream failure: still end the stream cleanly
            log.exception("response %s failed", run.response["id"])
            self._fail(run, state, ResponsaError(INTERNAL) if not isinstance(exc, ResponsaError) else exc)
            await self._persist_quietly(run, state)
            yield stamp(lifecycle("failed", run.response))
            finished = True
        finally:
            if not finished and not state.persisted:
                self._fail(run, state, ResponsaError(DISCONNECTED))
                self._detach(self._persist_quietly(run, state))

    async def collect(self, run: PreparedRun) -> tuple[dict[str, Any], ResponsaError | None]:
        """Run without streaming: the final response object, and the error if it failed."""
        final: dict[str, Any] = run.response
        async for event in self.stream(run):
            if event["type"] in TERMINAL_EVENTS:
                final = event["response"]
        return final, run.error

    async def _run_turns(self, run: PreparedRun, state: RunState) -> EventStream:
        yield lifecycle("created", run.response)
        yield lifecycle("in_progress", run.response)
        if run.conversation_id is None:
            async for event in self._respond(run, state):
                yield event
            return
        async with conversations.conversation_turn(self.store, run.conversation_id, run.response["id"]):
            await self._refresh_history(run, run.conversation_id)
            async for event in self._respond(run, state):
                yield event

    async def _refresh_history(self, run: PreparedRun, conversation_id: str) -> None:
        """Under the turn lease: rebuild the history if the conversation changed since `prepare`."""
        items = await conversations.all_items(self.store, conversation_id)
        if [item["id"] for item in items] != run.conversation_item_ids:
            run.history = conversations.history(items, run.request.input)
            run.chat["messages"] = run.system + run.history

    async def _respond(self, run: PreparedRun, state: RunState) -> EventStream:
        response = run.response
        call = ModelCall(response, state.usage)
        try:
            async for event in self._call_model(run, call):
                yield event
        except (UpstreamError, ReplayMiss) as exc:
            for event in call.finish("incomplete"):
                yield event
            self._fail(run, state, exc)
            await self._persist(run, state)
            yield lifecycle("failed", response)
            return
        for event in call.finish(call.status):
            yield event
        state.reply.append(call.assistant_message())
        response["usage"] = state.usage.as_dict()
        response["status"] = call.status
        if call.status == "completed":
            response["completed_at"] = int(time.time())
        else:
            reason = "content_filter" if call.finish_reason == "content_filter" else "max_output_tokens"
            response["incomplete_details"] = {"reason": reason}
        await self._persist(run, state)
        yield lifecycle(response["status"], response)

    async def _call_model(self, run: PreparedRun, call: ModelCall) -> EventStream:
        async with aclosing(run.model.provider.stream_chat(run.chat)) as chunks:
            async for chunk in chunks:
                for event in call.on_chunk(chunk):
                    yield event

    def _fail(self, run: PreparedRun, state: RunState, error: ResponsaError) -> None:
        run.error = error
        run.response["status"] = "failed"
        run.response["usage"] = state.usage.as_dict()
        code = error.response_code if isinstance(error, UpstreamError) else "server_error"
        run.response["error"] = {"code": code, "message": error.message}

    async def _persist(self, run: PreparedRun, state: RunState) -> None:
        """Store the response once, and append a finished turn to its conversation in the same
        transaction. A conversation keeps its turns even when the response itself is not stored."""
        if state.persisted:
            return
        response = run.response
        turn: list[Item] | None = None
        if run.conversation_id is not None and response["status"] in ("completed", "incomplete"):
            turn = run.input_items + response["output"]
        if run.request.store:
            stored = StoredResponse(
                id=response["id"],
                created_at=response["created_at"],
                model=response["model"],
                status=response["status"],
                response=response,
                input_items=run.input_items,
                messages=run.history + state.reply,
                previous_response_id=run.request.previous_response_id,
                conversation_id=run.conversation_id,
            )
            await self.store.save_response(stored, turn)
        elif turn is not None and run.conversation_id is not None:
            await self.store.add_items(run.conversation_id, turn, response["created_at"])
        state.persisted = True

    async def _persist_quietly(self, run: PreparedRun, state: RunState) -> None:
        try:
            await self._persist(run, state)
        except Exception:
            log.exception("could not store failed response %s", run.response["id"])

    def _detach(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._detached.add(task)
        task.add_done_callback(self._detached.discard)

    async def aclose(self) -> None:
        if self._detached:
            await asyncio.gather(*self._detached, return_exceptions=True)
