"""Where a response's history comes from: nothing, a previous response, or a conversation
(`engine/conversations.py`).

With `previous_response_id`, history is the previous response's upstream chat messages
(system messages were never stored) followed by its reply, exactly as sent and received, so
strings stay strings (SPEC §3, seeds 001 and 002).
"""

from __future__ import annotations

from responsa.engine.request import CreateResponseRequest
from responsa.errors import InvalidRequest, NotFound
from responsa.store.base import Store, StoredResponse

UNFINISHED = frozenset({"queued", "in_progress"})


def check_exclusive(req: CreateResponseRequest) -> None:
    if req.previous_response_id is not None and req.conversation is not None:
        raise InvalidRequest(
            "Invalid value for 'previous_response_id, conversation': previous_response_id and "
            "conversation are both provided. Provide only one of these parameters.",
            param="conversation",
            code="mutually_exclusive_parameters",
        )


async def previous_response(
    req: CreateResponseRequest, store: Store, owner: str | None = None, held: StoredResponse | None = None
) -> StoredResponse | None:
    """The response to continue from (its `messages` are the history), or None; another
    owner's response is not found. `held` is one the caller has already (a WebSocket
    connection's latest): when the request names it, the store is not asked."""
    check_exclusive(req)
    if req.previous_response_id is None:
        return None
    if held is not None and held.id == req.previous_response_id:
        return held
    previous = await store.get_response(req.previous_response_id, owner)
    if previous is None:
        raise NotFound(
            f"Previous response with id '{req.previous_response_id}' not found.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    if previous.status in UNFINISHED:
        raise InvalidRequest(
            f"Previous response '{previous.id}' is still {previous.status}; wait until it finishes.",
            param="previous_response_id",
        )
    return previous
