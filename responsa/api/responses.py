"""`/v1/responses` routes: parse, call the engine, choose JSON or SSE."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from responsa.api import sse
from responsa.api.deps import engine, json_response, list_page, read_json, store
from responsa.engine.request import parse_create_request
from responsa.engine.run import Engine
from responsa.errors import InvalidRequest, NotFound
from responsa.store.base import Store, StoredResponse

router = APIRouter()

Limit = Annotated[int, Query(ge=1, le=100)]
Order = Annotated[Literal["asc", "desc"], Query()]


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")


async def _load(store: Store, response_id: str) -> StoredResponse:
    stored = await store.get_response(response_id)
    if stored is None:
        raise _not_found(response_id)
    return stored


@router.post("/v1/responses")
async def create_response(request: Request, engine: Annotated[Engine, Depends(engine)]) -> Response:
    req = parse_create_request(await read_json(request))
    prepared = await engine.prepare(req)
    if req.stream:
        return sse.response_stream(engine.stream(prepared))
    final, error = await engine.collect(prepared)
    if error is not None:
        raise error
    return json_response(final)


@router.get("/v1/responses")
async def list_responses(
    store: Annotated[Store, Depends(store)],
    after: str | None = None,
    before: str | None = None,
    limit: Limit = 20,
    order: Order = "desc",
    model: str | None = None,
) -> Response:
    page = await store.list_responses(after=after, before=before, limit=limit, order=order, model=model)
    if page is None:
        cursor = "after" if after is not None else "before"
        raise InvalidRequest(f"Invalid value for '{cursor}': no stored response has that id.", param=cursor)
    data = [row.response for row in page.rows]
    return list_page(data, page.has_more)


@router.get("/v1/responses/{response_id}")
async def retrieve_response(
    response_id: str, store: Annotated[Store, Depends(store)], stream: bool = False
) -> Response:
    stored = await _load(store, response_id)
    if stream:
        raise InvalidRequest("Only background responses can be streamed after creation.", param="stream")
    return json_response(stored.response)


@router.delete("/v1/responses/{response_id}")
async def delete_response(response_id: str, store: Annotated[Store, Depends(store)]) -> Response:
    if not await store.delete_response(response_id):
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


@router.get("/v1/responses/{response_id}/input_items")
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
    if "message.input_image.image_url" not in (include or []) + (include_plain or []):
        items = [_without_image_urls(item) for item in items]
    if order == "desc":
        items.reverse()
    page, has_more = _page_items(items, after, before, limit, response_id)
    return list_page(page, has_more)
