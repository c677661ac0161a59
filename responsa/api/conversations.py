"""`/v1/conversations` routes: conversations and their items."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from responsa import ids
from responsa.api.deps import Limit, Order, json_response, list_page, read_json, scope, store
from responsa.api.openapi import BODY, operation
from responsa.auth.principal import current_principal
from responsa.engine import conversations as conv
from responsa.engine.request import (
    CreateConversationRequest,
    CreateItemsRequest,
    UpdateConversationRequest,
    parse_body,
)
from responsa.errors import InvalidRequest, NotFound
from responsa.store.base import Store, StoredConversation
from responsa.types import Item

router = APIRouter()


def _shown(conversation: StoredConversation) -> dict[str, object]:
    return {
        "id": conversation.id,
        "object": "conversation",
        "created_at": conversation.created_at,
        "metadata": conversation.metadata,
    }


async def _existing(store: Store, conversation_id: str) -> StoredConversation:
    """The caller's conversation (any owner's for an admin); another owner's is a 404."""
    conv.check_id(conversation_id)
    found = await store.get_conversation(conversation_id, scope())
    if found is None:
        raise conv.not_found(conversation_id)
    return found


def _item_list(items: list[Item], has_more: bool) -> Response:
    shown = [conv.present(item) for item in items]
    return list_page(shown, has_more)


@router.post("/v1/conversations", **operation(ok="Conversation", body=CreateConversationRequest, errors=BODY))
async def create_conversation(request: Request, store: Annotated[Store, Depends(store)]) -> Response:
    body = parse_body(CreateConversationRequest, await read_json(request))
    items = conv.prepare_items(body.items) if body.items is not None else []
    owner = current_principal.get().owner
    conversation = StoredConversation(ids.new_id("conv"), int(time.time()), body.metadata or {}, owner)
    await store.create_conversation(conversation, items)
    return json_response(_shown(conversation))


@router.get("/v1/conversations/{conversation_id}", **operation(ok="Conversation", errors=(400, 404)))
async def retrieve_conversation(conversation_id: str, store: Annotated[Store, Depends(store)]) -> Response:
    return json_response(_shown(await _existing(store, conversation_id)))


@router.post(
    "/v1/conversations/{conversation_id}",
    **operation(ok="Conversation", body=UpdateConversationRequest, errors=(*BODY, 404)),
)
async def update_conversation(
    conversation_id: str, request: Request, store: Annotated[Store, Depends(store)]
) -> Response:
    conv.check_id(conversation_id)
    body = parse_body(UpdateConversationRequest, await read_json(request))
    updated = await store.update_conversation(conversation_id, body.metadata, scope())
    if updated is None:
        raise conv.not_found(conversation_id)
    return json_response(_shown(updated))


@router.delete(
    "/v1/conversations/{conversation_id}",
    **operation(ok="ConversationDeletedResource", errors=(400, 404)),
)
async def delete_conversation(conversation_id: str, store: Annotated[Store, Depends(store)]) -> Response:
    conv.check_id(conversation_id)
    if not await store.delete_conversation(conversation_id, scope()):
        raise conv.not_found(conversation_id)
    return json_response({"id": conversation_id, "object": "conversation.deleted", "deleted": True})


@router.post(
    "/v1/conversations/{conversation_id}/items",
    **operation(ok="ConversationItemList", body=CreateItemsRequest, errors=(*BODY, 404)),
)
async def create_items(
    conversation_id: str, request: Request, store: Annotated[Store, Depends(store)]
) -> Response:
    conv.check_id(conversation_id)
    body = parse_body(CreateItemsRequest, await read_json(request))
    items = conv.prepare_items(body.items)
    if not items:
        raise InvalidRequest("Invalid value for 'items': expected at least one item.", param="items")
    if not await store.add_items(conversation_id, items, int(time.time()), scope()):
        raise conv.not_found(conversation_id)
    return _item_list(items, False)


@router.get(
    "/v1/conversations/{conversation_id}/items", **operation(ok="ConversationItemList", errors=(400, 404))
)
async def list_items(
    conversation_id: str,
    store: Annotated[Store, Depends(store)],
    after: str | None = None,
    limit: Limit = 20,
    order: Order = "desc",
) -> Response:
    await _existing(store, conversation_id)
    page = await store.list_items(conversation_id, after=after, limit=limit, order=order)
    if page is None:
        raise InvalidRequest(
            f"Invalid value for 'after': no item '{after}' in this conversation.", param="after"
        )
    return _item_list(page.items, page.has_more)


def _item_not_found(conversation_id: str, item_id: str) -> NotFound:
    return NotFound(
        f"Conversation item '{item_id}' not found in conversation '{conversation_id}'.", param="item_id"
    )


@router.get(
    "/v1/conversations/{conversation_id}/items/{item_id}",
    **operation(ok="ConversationItem", errors=(400, 404)),
)
async def retrieve_item(
    conversation_id: str, item_id: str, store: Annotated[Store, Depends(store)]
) -> Response:
    await _existing(store, conversation_id)
    item = await store.get_item(conversation_id, item_id)
    if item is None:
        raise _item_not_found(conversation_id, item_id)
    return json_response(conv.present(item))


@router.delete(
    "/v1/conversations/{conversation_id}/items/{item_id}",
    **operation(ok="Conversation", errors=(400, 404)),
)
async def delete_item(
    conversation_id: str, item_id: str, store: Annotated[Store, Depends(store)]
) -> Response:
    conversation = await _existing(store, conversation_id)
    if not await store.delete_item(conversation_id, item_id):
        raise _item_not_found(conversation_id, item_id)
    return json_response(_shown(conversation))
