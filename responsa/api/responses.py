"""`/v1/responses` routes: parse, call the engine, choose JSON or SSE."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response
from starlette.types import Receive

from responsa.api import idempotency, sse
from responsa.api.deps import Limit, Order, json_response, list_page, read_json, scope, store
from responsa.api.openapi import BODY, UPSTREAM, operation
from responsa.auth.limits import Concurrency
from responsa.auth.principal import current_principal
from responsa.engine.background import FINISHED, job_context, tail
from responsa.engine.request import CreateResponseRequest, parse_create_request
from responsa.engine.run import Engine, PreparedRun
from responsa.errors import Conflict, InvalidRequest, NotFound, TooManyRequests, UpstreamError
from responsa.observability import access
from responsa.store.base import Store, StoredResponse
from responsa.types import Event, EventStream

router = APIRouter()
T = TypeVar("T")

SEQUENCE_MAX = 2**31 - 1  # a stored event's sequence number is a 32-bit integer (tables.response_events)


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")


async def _load(store: Store, response_id: str) -> StoredResponse:
    """The caller's response (any owner's for an admin); another owner's is a 404."""
    stored = await store.get_response(response_id, scope())
    if stored is None:
        raise _not_found(response_id)
    return stored


LIFECYCLE_START = frozenset({"response.created", "response.in_progress"})


async def open_stream(events: EventStream, run: PreparedRun) -> list[Event]:
    """The stream's first events, up to its first output or its end. An upstream that refuses
    before any output (context too long, bad image, rate limit) is raised here as that HTTP
    error, as OpenAI does; waiting for it costs no first-token time, only the lifecycle events'
    head start."""
    head: list[Event] = []
    async for event in events:
        head.append(event)
        if event["type"] not in LIFECYCLE_START:
            break
    last = head[-1] if head else None
    if (
        last is not None
        and last["type"] == "response.failed"
        and isinstance(run.error, UpstreamError)
        and not last["response"]["output"]
    ):
        await events.aclose()  # type: ignore[attr-defined]
        raise run.error
    return head


@router.post(
    "/v1/responses",
    **operation(
        ok="Response",
        body=CreateResponseRequest,
        errors=(*BODY, *UPSTREAM, 409, 424, 503),
        stream=("ResponseStreamEvent",),
        headers=[idempotency.PARAMETER],
    ),
)
async def create_response(request: Request) -> Response:
    """The hot path: `responsa.app.Responsa` calls it before FastAPI's routing, dependency
    solving and middleware (`handlers.plain_endpoint`); the route here documents it."""
    engine: Engine = request.app.state.engine
    data = await read_json(request)
    req = parse_create_request(data)
    access.note(request.scope, model=req.model)
    principal = current_principal.get()
    key = idempotency.key_of(request)
    while True:
        prepared = await engine.prepare(req, principal=principal)
        access.note(request.scope, response_id=prepared.response["id"])
        if key is None:
            return await _create(request, engine, prepared, data, None)
        claim = await idempotency.claim(engine.store, principal.owner, key, data, prepared.response["id"])
        if claim.repeat is None:
            try:
                return await _create(request, engine, prepared, data, claim)
            except BaseException:
                await asyncio.shield(claim.release())
                raise
        repeated = await idempotency.answer(claim, req.stream)
        if repeated is not None:
            return repeated
        req = parse_create_request(data)  # the first request gave its claim up: run this one


async def _create(
    request: Request, engine: Engine, prepared: PreparedRun, data: Any, claim: idempotency.Claim | None
) -> Response:
    req, principal = prepared.request, prepared.principal
    if req.background:
        max_jobs = request.app.state.settings.max_jobs_per_owner
        if max_jobs is not None and await engine.store.active_jobs(principal.owner) >= max_jobs:
            raise TooManyRequests(
                f"Too many background responses: at most {max_jobs} per owner at a time.", "5"
            )
        queued = await engine.enqueue(prepared, data, job_context())
        request.app.state.runner.nudge()
        if claim is not None:
            await claim.settle(queued)
        if req.stream:
            return sse.response_stream(tail(engine.store, queued["id"], -1))
        return json_response(queued)
    limit: Concurrency = request.app.state.concurrency
    if req.stream:
        events = engine.stream(prepared)
        if limit.max is not None:
            events = _held(events, limit.hold(principal.owner))
        if claim is not None:
            events = claim.watch(events)
        return sse.response_stream(events, await open_stream(events, prepared))
    with limit.hold(principal.owner):
        collected = await _unless_client_leaves(request, engine.collect(prepared))
    if collected is None:  # nobody to answer; the response is stored failed (engine.DISCONNECTED)
        if claim is not None:
            await claim.release()
        return Response(status_code=499)
    final, error = collected
    if error is not None:
        raise error
    if claim is not None:
        await claim.settle(final)
    return json_response(final)


async def _unless_client_leaves(request: Request, work: Awaitable[T]) -> T | None:
    """`work`'s result, or None if the client disconnects first: then `work` is cancelled, so a
    client that gave up (an SDK timeout, before its retry) leaves no response running."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request.receive))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # this request itself was cancelled (shutdown): its work goes too
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _held(events: EventStream, hold: contextlib.AbstractContextManager[None]) -> EventStream:
    """The stream, counted against its owner's limit until it ends (the limit is taken now)."""
    with hold:
        async with contextlib.aclosing(events) as stream:  # type: ignore[type-var]
            async for event in stream:
                yield event


@router.get("/v1/responses", **operation(ok="ResponseList", errors=(400,)))
async def list_responses(
    store: Annotated[Store, Depends(store)],
    after: str | None = None,
    before: str | None = None,
    limit: Limit = 20,
    order: Order = "desc",
    model: str | None = None,
) -> Response:
    page = await store.list_responses(
        after=after, before=before, limit=limit, order=order, model=model, owner=scope()
    )
    if page is None:
        cursor = "after" if after is not None else "before"
        raise InvalidRequest(f"Invalid value for '{cursor}': no stored response has that id.", param=cursor)
    data = [row.response for row in page.rows]
    return list_page(data, page.has_more)


@router.get(
    "/v1/responses/{response_id}",
    **operation(ok="Response", errors=(400, 404), stream=("ResponseStreamEvent",)),
)
async def retrieve_response(
    response_id: str,
    store: Annotated[Store, Depends(store)],
    stream: bool = False,
    starting_after: Annotated[int | None, Query(ge=-1, le=SEQUENCE_MAX)] = None,
) -> Response:
    stored = await _load(store, response_id)
    if not stream:
        return json_response(stored.response)
    if not stored.response.get("background"):
        raise InvalidRequest("Only background responses can be streamed after creation.", param="stream")
    return sse.response_stream(tail(store, response_id, -1 if starting_after is None else starting_after))


CANCEL_WAIT_S = 10.0


@router.post("/v1/responses/{response_id}/cancel", **operation(ok="Response", errors=(404, 409)))
async def cancel_response(response_id: str, store: Annotated[Store, Depends(store)]) -> Response:
    """Cancel a background response from any replica; a finished one is returned as it is."""
    stored = await _load(store, response_id)
    if not stored.response.get("background"):
        raise Conflict(
            f"Cannot cancel response '{response_id}': only background responses can be cancelled.",
            param="response_id",
        )
    if stored.status in FINISHED:
        return json_response(stored.response)
    if not await store.request_cancel(response_id):  # never started: cancelled right here
        stored.status = "cancelled"
        stored.response = {**stored.response, "status": "cancelled"}
        await store.save_response(stored, existing=True)
        return json_response(stored.response)
    deadline = time.monotonic() + CANCEL_WAIT_S
    while time.monotonic() < deadline:  # the running worker stops within a heartbeat
        await asyncio.sleep(0.05)
        status = await store.response_status(response_id)
        if status is None or status in FINISHED:
            break
    current = await store.get_response(response_id)
    return json_response((current or stored).response)


@router.delete("/v1/responses/{response_id}", **operation(ok="ResponseDeleted", errors=(404,)))
async def delete_response(response_id: str, store: Annotated[Store, Depends(store)]) -> Response:
    if not await store.delete_response(response_id, scope()):
        raise _not_found(response_id)
    return json_response({"id": response_id, "object": "response", "deleted": True})


def _page_items(
    items: list[dict[str, Any]], after: str | None, before: str | None, limit: int, response_id: str
) -> tuple[list[dict[str, Any]], bool]:
    positions = {item.get("id"): i for i, item in enumerate(items)}
    start, stop = 0, len(items)
    for name, cursor in (("after", after), ("before", before)):
        if cursor is None:
            continue
        if cursor not in positions:
            raise NotFound(f"Input item '{cursor}' not found in response '{response_id}'.", param=name)
        if name == "after":
            start = positions[cursor] + 1
        else:
            stop = positions[cursor]
    window = items[start:stop]
    if before is not None and after is None:
        return window[-limit:], len(window) > limit
    return window[:limit], len(window) > limit


def _without_image_urls(item: dict[str, Any]) -> dict[str, Any]:
    content = item.get("content")
    if not isinstance(content, list):
        return item
    parts = [{**p, "image_url": None} if p.get("type") == "input_image" else p for p in content]
    return {**item, "content": parts}


@router.get("/v1/responses/{response_id}/input_items", **operation(ok="ResponseItemList", errors=(400, 404)))
async def list_input_items(
    response_id: str,
    store: Annotated[Store, Depends(store)],
    after: str | None = None,
    before: str | None = None,
    limit: Limit = 20,
    order: Order = "desc",
    include: Annotated[list[str] | None, Query(alias="include[]")] = None,
    include_plain: Annotated[list[str] | None, Query(alias="include")] = None,
) -> Response:
    stored = await _load(store, response_id)
    items = list(stored.input_items)
    included = (include or []) + (include_plain or [])
    if "message.input_image.image_url" not in included:
        items = [_without_image_urls(item) for item in items]
    if "file_search_call.results" not in included:
        items = [{**i, "results": None} if i.get("type") == "file_search_call" else i for i in items]
    if order == "desc":
        items.reverse()
    page, has_more = _page_items(items, after, before, limit, response_id)
    return list_page(page, has_more)
