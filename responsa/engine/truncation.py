"""`truncation: "auto"`: drop the oldest turns until the input fits the model's context window.

A turn starts at a user message and runs to the next one, so a tool call and its output, or a
reasoning item and its message, always go (or stay) together; the instructions (system
messages) always stay, and so does the current turn. When even that does not fit, the request
is a 400 `context_length_exceeded`, before any upstream call. A model whose window nobody knows
(`engine/tokens.context_window`) is sent as it is, as with `disabled`.
"""

from __future__ import annotations

import logging

from responsa.engine.tokens import context_window, count_input_tokens
from responsa.errors import InvalidRequest
from responsa.providers.registry import ResolvedModel
from responsa.types import ChatMessages, ChatRequest

log = logging.getLogger("responsa.engine")


def turns(history: ChatMessages) -> list[ChatMessages]:
    """The history cut before each user message (what precedes the first one is a turn too)."""
    out: list[ChatMessages] = []
    for message in history:
        if message.get("role") == "user" or not out:
            out.append([])
        out[-1].append(message)
    return out


async def fit(
    model: ResolvedModel,
    chat: ChatRequest,
    system: ChatMessages,
    history: ChatMessages,
    reserve: int | None,
) -> ChatMessages:
    """The history with its oldest turns dropped until the request fits, `reserve` tokens (the
    output budget) left over; `chat["messages"]` is set to match."""
    window = context_window(model)
    if window is None:
        log.info("truncation auto: the context window of %s is unknown; sent as it is", model.id)
        return history
    budget = window - (reserve or 0)
    kept = turns(history)
    dropped = 0
    while True:
        chat["messages"] = system + [m for turn in kept for m in turn]
        used = await count_input_tokens(model, chat)
        if used <= budget:
            break
        if len(kept) <= 1:
            raise InvalidRequest(
                f"The input takes {used} tokens, more than the {budget} this model's context window "
                f"({window} tokens) leaves for it, even with every earlier turn dropped.",
                param="input",
                code="context_length_exceeded",
            )
        # Drop as many turns as the overflow needs at once (a turn's share is at least one token).
        over = used - budget
        cut = 1
        while cut < len(kept) - 1 and sum(_size(t) for t in kept[:cut]) < over:
            cut += 1
        kept = kept[cut:]
        dropped += cut
    if dropped:
        log.info("truncation auto: dropped the %d oldest turns for %s (%d tokens)", dropped, model.id, used)
    return [m for turn in kept for m in turn]


def _size(turn: ChatMessages) -> int:
    """A cheap lower bound of a turn's tokens, to drop several at once (~4 characters a token)."""
    return max(1, sum(len(str(m.get("content") or "")) for m in turn) // 4)
