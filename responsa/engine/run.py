"""Running a response: prepare (all checks, before any byte is sent), then stream events.

    engine = Engine(store, registry, search)
    prepared = await engine.prepare(request)      # raises 4xx errors; nothing is stored yet
    async for event in engine.stream(prepared):   # stamped events, ending in a terminal event
        ...
    response = await engine.collect(prepared)     # the same stream, for `stream: false`

The request path reads `stream -> _run_turns -> _respond -> _call_model -> _run_tools`.
`_respond` is the tool loop: call the model; run the server-side tools it asked for and call
it again with their results; stop when it answers, calls a client function, or a limit
(`max_infer_iters`, `max_output_tokens`) is hit. A response is persisted once, when it
reaches a terminal state, with its input items, its output items and the upstream messages a
later `previous_response_id` continues from.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from responsa import ids
from responsa.auth.principal import OPEN, Principal
from responsa.context import current_provider_data
from responsa.crypto import Sealer
from responsa.engine import compaction, conversations, history, translate, truncation
from responsa.engine.events import ShiftedStamper, Stamper, lifecycle
from responsa.engine.items import references
from responsa.engine.items.reasoning import ENCRYPTED_INCLUDE
from responsa.engine.model_call import CallOptions, ModelCall
from responsa.engine.request import CreateResponseRequest
from responsa.engine.response import UsageTotals, new_response
from responsa.engine.tool_calls import Approvals, Decision, FileSearching, ToolRunner
from responsa.engine.tools import ToolOptions, ToolSet
from responsa.errors import InvalidRequest, ResponsaError, ServiceUnavailable, UpstreamError
from responsa.files import parts as file_parts
from responsa.files.storage import Files, not_found
from responsa.observability.watch import ResponseWatch
from responsa.outbound import OutboundPolicy, OutboundRefused
from responsa.prompts.service import Prompts
from responsa.providers.registry import ModelRegistry, ResolvedModel
from responsa.store.base import Job, Store, StoredResponse
from responsa.tools.connectors import Connectors
from responsa.tools.file_search import RESULTS_INCLUDE
from responsa.tools.mcp import McpClient
from responsa.tools.web_search import SearchProvider
from responsa.types import ChatMessages, ChatRequest, Event, EventStream, Item

if TYPE_CHECKING:
    from responsa.observability.tracing import Tracing
    from responsa.vector_stores.service import VectorStores

log = logging.getLogger("responsa.engine")

DISCONNECTED = "The client disconnected before the response completed."
INTERNAL = "An unexpected error occurred while generating the response."
TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
DEFAULT_MAX_INFER_ITERS = 10
SEALED, JOB_PURPOSE = "sealed", "job"


@dataclass(slots=True)
class PreparedRun:
    request: CreateResponseRequest
    model: ResolvedModel
    chat: ChatRequest
    history: ChatMessages  # what was sent upstream, minus system messages
    input_items: list[Item]
    response: dict[str, Any]
    tools: ToolSet
    chat_options: translate.ChatOptions
    call_options: CallOptions
    system: ChatMessages = field(default_factory=list)
    previous: StoredResponse | None = None
    conversation_id: str | None = None
    conversation_item_ids: list[str] = field(default_factory=list)  # the items `history` was built from
    error: ResponsaError | None = None  # why the response failed, once it has
    # If the stream stops early: "fail" (client gone: store it failed), "cancel" (a background
    # job was cancelled: store it cancelled), "abandon" (another worker will run it: store nothing)
    on_abort: str = "fail"
    principal: Principal = OPEN  # who asked: the owner of what this run stores
    compaction: compaction.Plan | None = None  # a compaction trigger, or a compaction threshold
    kept: StoredResponse | None = None  # the finished response as stored (or not, with store: false)
    appended: ChatMessages = field(default_factory=list)  # the prompt's media message, after the input

    def stored(self, response: dict[str, Any], messages: ChatMessages | None = None) -> StoredResponse:
        """This run's response (in the given state) as the store keeps it."""
        return StoredResponse(
            id=response["id"],
            created_at=response["created_at"],
            model=response["model"],
            status=response["status"],
            response=response,
            input_items=self.input_items,
            messages=messages or [],
            previous_response_id=self.request.previous_response_id,
            conversation_id=self.conversation_id,
            owner=self.principal.owner,
        )


@dataclass(slots=True)
class RunState:
    watch: ResponseWatch  # metrics and spans of this response (`observability/watch.py`)
    usage: UsageTotals = field(default_factory=UsageTotals)
    reply: ChatMessages = field(default_factory=list)  # assistant and tool messages of this response
    persisted: bool = False
    call: ModelCall | None = None  # the model call streaming now: its open items, if it stops early


class Engine:
    def __init__(
        self,
        store: Store,
        registry: ModelRegistry,
        search: SearchProvider | None = None,
        *,
        sealer: Sealer | None = None,
        faithful: bool = True,
        outbound: OutboundPolicy | None = None,
        turn_lease: conversations.TurnLease | None = None,
        tracing: Tracing | None = None,
        files: Files | None = None,
        connectors: Connectors | None = None,
        prompts: Prompts | None = None,
        mcp_client: McpClient | None = None,
    ) -> None:
        # MCP servers are reached through this (recorded when recording: `recording/recorder.py`).
        self.mcp = mcp_client or McpClient(outbound)
        self.connectors = connectors or Connectors({})
        self.tracing = tracing
        self.files = files or Files(store)
        self.prompts = prompts or Prompts(store, self.files)
        self.outbound = outbound
        self.turn_lease = turn_lease or conversations.TurnLease()
        self.store = store
        self.registry = registry
        self.search = search
        self.sealer = sealer
        self.faithful = faithful
        # The vector stores `file_search` searches; set by the app once the job runner that
        # ingests their files exists (`app.py`).
        self.vector_stores: VectorStores | None = None
        self._detached: set[asyncio.Task[None]] = set()

    def _search_available(self) -> bool:
        if self.search is None:
            return False
        key = (current_provider_data.get() or {}).get("tavily_search_api_key")
        return self.search.available(key if isinstance(key, str) else None)

    async def prepare(
        self,
        req: CreateResponseRequest,
        *,
        principal: Principal = OPEN,
        response_id: str | None = None,
        created_at: int | None = None,
        allow_empty: bool = False,
        previous: StoredResponse | None = None,
    ) -> PreparedRun:
        """Every check that can fail before streaming starts, and the first upstream request.
        A background job prepares again in its worker, keeping its response id and time.
        Everything the request names (previous response, conversation, referenced items) must
        be the principal's own; another owner's is not found. `previous` is a response the
        caller holds already (a WebSocket connection's cache, `api/websocket.py`): when
        `previous_response_id` names it, it is used instead of a store read."""
        scope = principal.scope
        if req.background and not req.store:
            raise InvalidRequest(
                "Invalid value for 'background': background responses must be stored; "
                "do not send store=false.",
                param="background",
            )
        if req.guardrails:
            raise ServiceUnavailable(
                "Service 'Safety API' is not enabled: this server has no safety provider, so "
                "'guardrails' cannot be applied. Remove 'guardrails' to run without them."
            )
        model = self.registry.resolve(req.model)
        if model.model_type != "llm":
            raise InvalidRequest(f"Model '{req.model}' is not a language model.", param="model")
        previous = await history.previous_response(req, self.store, scope, previous)
        conversation_id: str | None = None
        items: list[Item] = []
        if req.conversation is not None:
            conversation_id = conversations.check_id(req.conversation_id, "conversation")
            items = await conversations.all_items(self.store, conversation_id, scope)
            if isinstance(req.input, list):
                conversations.check_new_ids(req.input, (item["id"] for item in items), "input")
        if references.has_references(req.input):
            known = items or (
                [*previous.input_items, *previous.response.get("output", [])] if previous else []
            )
            req.input = await references.resolve(req.input, self.store, known, scope)
        chat_options = translate.ChatOptions(self.faithful, self.sealer, model.custom_native)
        include = req.include or ()
        call_options = CallOptions(
            faithful=self.faithful,
            summary=bool((req.reasoning or {}).get("summary")),
            sealer=self.sealer if ENCRYPTED_INCLUDE in include else None,
            custom_native=model.custom_native,
        )
        carried = (
            translate.carried_tools([*items, *req.input] if isinstance(req.input, list) else items) or None
        )
        tools = ToolSet.from_request(
            req.tools,
            req.tool_choice,
            ToolOptions(self.faithful, model.custom_native, self._search_available(), self.connectors),
            carried,
        )
        if self.outbound is not None:  # MCP servers (connectors' hosts are allow-listed) pass the policy
            for request in tools.mcp_requests:
                try:
                    await self.outbound.check(request.server.url)
                except OutboundRefused as exc:
                    exc.param = f"tools[{request.index}].server_url"
                    raise
        if tools.file_search is not None:
            if self.vector_stores is None:
                raise InvalidRequest("file_search is not available on this server.", param="tools")
            await tools.file_search.check(self.vector_stores, scope)
        if conversation_id is not None:
            chat_history = conversations.history(items, req.input, chat_options)
        else:
            past = list(previous.messages) if previous is not None else None
            chat_history = (past or []) + translate.to_chat_messages(req.input, past, options=chat_options)
        prompt = await self.prompts.messages(req.prompt, scope)  # SPEC 1.3.7
        chat_history = chat_history + prompt.appended
        await self._check_files(req.input, chat_history, scope)
        system: ChatMessages = [{"role": "system", "content": req.instructions}] if req.instructions else []
        system = prompt.system + system  # the prompt's system message goes first
        if not system and not chat_history and not allow_empty:
            raise InvalidRequest("Invalid value for 'input': there is nothing to respond to.", param="input")
        chat = translate.build_chat_request(
            req, model.provider_model_id, system + chat_history, self.faithful
        )
        if not tools.mcp_requests:  # MCP tools are known only once their servers are listed
            tools.apply(chat, req.parallel_tool_calls, first_iteration=True)
        if req.truncation == "auto":
            chat_history = await truncation.fit(model, chat, system, chat_history, req.max_output_tokens)
        response = new_response(
            req, response_id or ids.response_id(), created_at or int(time.time()), tools.echo
        )
        return PreparedRun(
            req,
            model,
            chat,
            chat_history,
            translate.to_stored_items(req.input, response["id"]),
            response,
            tools,
            chat_options,
            call_options,
            system,
            previous,
            conversation_id,
            [item["id"] for item in items],
            principal=principal,
            compaction=compaction.plan(req),
            appended=prompt.appended,
        )

    async def _check_files(self, input: str | list[Item], messages: ChatMessages, scope: str | None) -> None:
        """Every uploaded file the messages refer to is the caller's and still there: one named
        in this request's input is a 404 naming its parameter; one only earlier turns name
        (deleted since) is a 400. The bytes are read later, for each upstream call."""
        wanted = file_parts.referenced(messages)
        if not wanted:
            return
        found = await self.files.find(wanted, scope)
        named = file_parts.input_file_ids(input)
        for file_id in wanted:
            if file_id not in found:
                if file_id in named:
                    raise not_found(file_id, named[file_id])
                raise file_parts.missing_file(file_id)

    async def _upstream_request(self, run: PreparedRun) -> ChatRequest:
        """The request as the upstream gets it: file references replaced by the files' bytes."""
        messages = run.chat.get("messages") or []
        if not file_parts.referenced(messages):
            return run.chat
        return {**run.chat, "messages": await file_parts.resolve(messages, self.files, run.principal.scope)}

    async def stream(
        self, run: PreparedRun, start: int = 0, opening: list[Event] | None = None, index_offset: int = 0
    ) -> EventStream:
        """All events of the response, stamped from `start`, always ending in a terminal
        `response.*` event. They open with `response.created` and `response.in_progress`, or with
        `opening` (a background job: what its stored stream does not hold yet); a job run again
        after another worker streamed output numbers its items from `index_offset`."""
        stamp = Stamper(start, run.response["id"])
        response = run.response
        state = RunState(
            ResponseWatch(
                self.tracing, response["model"], response["id"], run.model.provider.name, run.conversation_id
            )
        )
        finished = False
        if opening is None:
            opening = [lifecycle("created", run.response), lifecycle("in_progress", run.response)]
        try:
            for event in opening:
                yield stamp(event)
            if index_offset:
                stamp = ShiftedStamper(stamp.next, index_offset, run.response["id"])
            async for event in self._run_turns(run, state):
                yield stamp(event)
            finished = True
        except Exception as exc:  # a bug, not an upstream failure: still end the stream cleanly
            log.exception("response %s failed", run.response["id"])
            self._fail(run, state, exc if isinstance(exc, ResponsaError) else ResponsaError(INTERNAL))
            await self._persist_quietly(run, state)
            yield stamp(lifecycle("failed", run.response))
            finished = True
        finally:
            if not finished and not state.persisted and run.on_abort != "abandon":
                if state.call is not None:  # what the client saw streamed is kept, as on a failure
                    state.call.finish("incomplete")
                if run.on_abort == "cancel":
                    run.response["status"] = "cancelled"
                    run.response["usage"] = state.usage.as_dict()
                else:
                    self._fail(run, state, ResponsaError(DISCONNECTED))
                self._detach(self._persist_quietly(run, state))
            state.watch.end(run.response)

    async def warm(self, run: PreparedRun) -> EventStream:
        """`generate: false` (WebSocket mode): the response completes at once with no output and
        no model call, stored as any other, so a later turn continues from its input."""
        response = run.response
        watch = ResponseWatch(
            self.tracing, response["model"], response["id"], run.model.provider.name, run.conversation_id
        )
        stamp, state = Stamper(0, run.response["id"]), RunState(watch)
        for kind in ("created", "in_progress"):
            yield stamp(lifecycle(kind, run.response))
        run.response.update(status="completed", usage=state.usage.as_dict(), completed_at=int(time.time()))
        await self._persist(run, state)
        yield stamp(lifecycle("completed", run.response))
        watch.end(run.response)

    async def enqueue(
        self, run: PreparedRun, request: dict[str, Any], context: dict[str, Any]
    ) -> dict[str, Any]:
        """Store a background response as `queued` with its job; a worker on any replica runs it.
        The job's request and context carry the caller's credentials (MCP `authorization` and
        `headers`, provider-data keys): they are stored sealed (`open_job`), and the store clears
        them when the job finishes."""
        queued = {**run.response, "status": "queued"}
        events = [  # a stream opens with `response.created`, as the SDK's stream helpers require
            {"type": "response.created", "response": queued, "sequence_number": 0},
            {"type": "response.queued", "response": queued, "sequence_number": 1},
        ]
        job = Job(queued["id"], request, context)
        if self.sealer is not None:
            job = Job(
                queued["id"],
                {SEALED: self.sealer.seal(JOB_PURPOSE, {"request": request, "context": context})},
                {},
            )
        await self.store.enqueue(run.stored(queued), job, events)
        return queued

    def open_job(self, job: Job) -> Job:
        """A claimed job with its request and context readable again."""
        if SEALED not in job.request or self.sealer is None:
            return job
        data = self.sealer.open(JOB_PURPOSE, job.request[SEALED], param="job")
        return Job(job.response_id, data["request"], data["context"], job.attempts)

    async def collect(self, run: PreparedRun) -> tuple[dict[str, Any], ResponsaError | None]:
        """Run without streaming: the final response object, and the error if it failed."""
        final: dict[str, Any] = run.response
        async for event in self.stream(run):
            if event["type"] in TERMINAL_EVENTS:
                final = event["response"]
        return final, run.error

    async def _run_turns(self, run: PreparedRun, state: RunState) -> EventStream:
        try:
            if run.conversation_id is None:
                async for event in self._respond(run, state):
                    yield event
            else:
                async with conversations.conversation_turn(
                    self.store, run.conversation_id, run.response["id"], self.turn_lease
                ):
                    await self._refresh_history(run, run.conversation_id)
                    async for event in self._respond(run, state):
                        yield event
        except ResponsaError as exc:  # upstream, replay, tool server or late validation failures
            self._fail(run, state, exc)
            await self._persist(run, state)
            yield lifecycle("failed", run.response)

    async def _refresh_history(self, run: PreparedRun, conversation_id: str) -> None:
        """Under the turn lease: rebuild the history if the conversation changed since `prepare`
        (a turn that ran meanwhile); the ids tell, so an unchanged one is not read again."""
        if await self.store.item_ids(conversation_id) != run.conversation_item_ids:
            items = await conversations.all_items(self.store, conversation_id, run.principal.scope)
            run.history = conversations.history(items, run.request.input, run.chat_options) + run.appended
            run.chat["messages"] = run.system + run.history

    async def _respond(self, run: PreparedRun, state: RunState) -> EventStream:
        req, response = run.request, run.response
        runner = ToolRunner(
            run.tools,
            self.search,
            response,
            req.max_tool_calls,
            Approvals.collect(run.previous, req.input),
            self.mcp,
            self._file_searching(run),
        )
        if run.tools.mcp_requests:
            async for event in runner.list_mcp(run.previous):
                yield event
            run.tools.apply(run.chat, req.parallel_tool_calls, first_iteration=True)
        if run.compaction is not None:
            async for event in compaction.in_response(run, state, self):
                yield event
            if run.compaction.trigger:  # the compaction is the whole answer
                response["usage"] = state.usage.as_dict()
                response["status"], response["completed_at"] = "completed", int(time.time())
                await self._persist(run, state)
                yield lifecycle("completed", response)
                return
        max_iterations = req.max_infer_iters or DEFAULT_MAX_INFER_ITERS
        iteration = 0
        status, reason = "completed", None
        while True:
            call = state.call = ModelCall(
                response, state.usage, run.tools, run.call_options, runner.citations
            )
            async for event in self._call_model(run, state, call):
                yield event
            state.call = None
            decisions = {index: runner.decide(server) for index, server in call.server_calls.items()}
            async for event in self._run_tools(run, state, call, runner, decisions):
                yield event
            ran_tools = any(decision == "execute" for decision, _ in decisions.values())
            if call.status == "incomplete":
                status = "incomplete"
                reason = "content_filter" if call.finish_reason == "content_filter" else "max_output_tokens"
                break
            if not ran_tools or call.calls:  # answered, or waiting for the client's function results
                break
            iteration += 1
            if iteration >= max_iterations:
                status, reason = "incomplete", "max_iterations_exceeded"
                break
            if req.max_output_tokens is not None and state.usage.output >= req.max_output_tokens:
                status, reason = "incomplete", "max_output_tokens"
                break
            self._next_request(run, state, call)
        response["usage"] = state.usage.as_dict()
        response["status"] = status
        if status == "completed":
            response["completed_at"] = int(time.time())
        else:
            response["incomplete_details"] = {"reason": reason}
        await self._persist(run, state)
        yield lifecycle(status, response)

    def _file_searching(self, run: PreparedRun) -> FileSearching | None:
        if run.tools.file_search is None or self.vector_stores is None:
            return None
        shown = not self.faithful or RESULTS_INCLUDE in (run.request.include or ())
        return FileSearching(self.vector_stores, run.principal.scope, shown)

    async def _call_model(self, run: PreparedRun, state: RunState, call: ModelCall) -> EventStream:
        provider = run.model.provider
        chat = await self._upstream_request(run)
        try:
            with state.watch.upstream(provider.name, chat, state.usage) as upstream:
                async with aclosing(provider.stream_chat(chat)) as chunks:
                    async for chunk in chunks:
                        if upstream.waiting:
                            upstream.chunk(chunk)
                        for event in call.on_chunk(chunk):
                            yield event
        except ResponsaError:
            for event in call.finish("incomplete"):
                yield event
            raise
        for event in call.finish(call.status):
            yield event

    async def _run_tools(
        self,
        run: PreparedRun,
        state: RunState,
        call: ModelCall,
        runner: ToolRunner,
        decisions: dict[int, tuple[Decision, str | None]],
    ) -> EventStream:
        """Record the reply, then run (or ask approval for) the server-side calls it made and
        queue their results for the next model call."""
        dropped = {index for index, (decision, _) in decisions.items() if decision != "execute"}
        assistant = call.assistant_message(dropped)
        if assistant is not None:
            state.reply.append(assistant)
        for index, server in sorted(call.server_calls.items()):
            decision, approval_id = decisions[index]
            if decision == "ask":
                for event in runner.ask(server):
                    yield event
            elif decision == "execute":
                with state.watch.tool(server.name, server.call_id, server.kind):
                    events, message = await runner.run(server, approval_id)
                state.reply.append(message)
                for event in events:
                    yield event

    def _next_request(self, run: PreparedRun, state: RunState, call: ModelCall) -> None:
        """The body of the next model call in this response (SPEC §3: only these keys change)."""
        chat = run.chat
        chat["messages"] = run.system + run.history + state.reply
        chat["service_tier"] = call.service_tier or "default"
        run.tools.apply(chat, run.request.parallel_tool_calls, first_iteration=False)
        if run.request.max_output_tokens is not None:
            chat["max_completion_tokens"] = run.request.max_output_tokens - state.usage.output

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
        stored = run.kept = run.stored(response, run.history + state.reply)
        stored.trace = state.watch.trace()
        if run.request.store:
            await self.store.save_response(stored, turn, existing=run.request.background)
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
