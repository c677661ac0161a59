"""Compaction: replacing a long history with the user's messages and a model-written summary.

Three ways in, one summary call (a non-streaming upstream call: the history, then a user
message asking for a hand-off summary; `instructions` lead that message):

* `POST /v1/responses/compact` (`compact`): returns `response.compaction`, whose output is the
  history's user messages and one `compaction` item; it is also stored as a response, so
  `previous_response_id` continues from the compacted context.
* a `compaction_trigger` input item on `POST /v1/responses` (Codex's remote compaction): the
  response's only output is the `compaction` item.
* `context_management: [{"type": "compaction", "compact_threshold": N}]`: when the input has N
  tokens or more (`engine/tokens.py`), the history before this request's input is compacted
  first, inside the response (the `compaction` item is its first output), and the answer is
  made from the compacted history.

The compacted history is the same everywhere: the earlier user messages, verbatim, then the
summary as an assistant message (`items/compaction.py`). A conversation keeps all its items;
its next turn's history starts at its last compaction (`conversations.history`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from responsa import ids
from responsa.engine.items import compaction as item
from responsa.engine.request import CompactRequest, CreateResponseRequest
from responsa.engine.response import UsageTotals
from responsa.engine.tokens import count_input_tokens
from responsa.errors import InvalidRequest
from responsa.files import parts as file_parts
from responsa.files.storage import Files
from responsa.providers.registry import ResolvedModel
from responsa.types import ChatMessages, EventStream, Item

if TYPE_CHECKING:
    from responsa.auth.principal import Principal
    from responsa.engine.run import Engine, PreparedRun, RunState

MIN_THRESHOLD = 1000
PROMPT = (
    "Write a hand-off summary of the conversation so far for another model that will continue it. "
    "Keep: what the user wants and their constraints and preferences; decisions made and why; "
    "work done so far, with the facts, names, numbers and tool results it relies on; what is left "
    "to do, as next steps. Be concise and structured; leave out pleasantries."
)
# The reference server's prompt, verbatim, so OGX-mode requests match its recordings.
PEER_PROMPT = (
    "You are performing a CONTEXT CHECKPOINT COMPACTION. Create a handoff summary for another LLM "
    "that will resume the task.\n\nInclude:\n- Current progress and key decisions made\n- Important "
    "context, constraints, or user preferences\n- What remains to be done (clear next steps)\n- Any "
    "critical data, examples, or references needed to continue\n\nBe concise, structured, and "
    "focused on helping the next LLM seamlessly continue the work."
)


@dataclass(frozen=True, slots=True)
class Plan:
    """What a response does about compaction: answer a trigger with a compaction only, or
    compact first when the input reaches `threshold` tokens."""

    trigger: bool = False
    threshold: int | None = None


def plan(req: CreateResponseRequest) -> Plan | None:
    """The request's compaction plan (None: none), its `context_management` checked."""
    trigger = isinstance(req.input, list) and bool(req.input) and req.input[-1].get("type") == item.TRIGGER
    threshold = None
    for i, entry in enumerate(req.context_management or ()):
        where = f"context_management[{i}]"
        if entry.get("type") != "compaction":
            raise InvalidRequest(
                f"Invalid value for '{where}.type': only 'compaction' is supported.", param=f"{where}.type"
            )
        value = entry.get("compact_threshold")
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < MIN_THRESHOLD
        ):
            raise InvalidRequest(
                f"Invalid value for '{where}.compact_threshold': expected an integer of at least "
                f"{MIN_THRESHOLD}.",
                param=f"{where}.compact_threshold",
            )
        threshold = value if value is not None else threshold
    if not trigger and threshold is None:
        return None
    return Plan(trigger, threshold)


def compacted(old: ChatMessages, summary_message: str) -> ChatMessages:
    """The history that stands for `old`: its user messages, then the summary."""
    return [*(m for m in old if m.get("role") == "user"), {"role": "assistant", "content": summary_message}]


def _user_items(old: ChatMessages, response_id: str) -> list[Item]:
    """The user messages of `old` as the output items `response.compaction` lists."""
    out: list[Item] = []
    for message in old:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        parts = (
            [{"type": "input_text", "text": content}]
            if isinstance(content, str)
            else [_input_part(p) for p in content or () if isinstance(p, dict)]
        )
        out.append(
            {
                "type": "message",
                "id": ids.item_id("msg", response_id),
                "role": "user",
                "status": "completed",
                "content": parts,
            }
        )
    return out


def _input_part(part: dict[str, Any]) -> dict[str, Any]:
    if part.get("type") == "image_url":
        url = (part.get("image_url") or {}).get("url")
        return {"type": "input_image", "image_url": url, "detail": "auto"}
    return {"type": "input_text", "text": str(part.get("text") or "")}


async def summarize(
    model: ResolvedModel,
    old: ChatMessages,
    instructions: str | None,
    faithful: bool,
    prompt_cache_key: str | None,
    usage: UsageTotals,
    files: Files,
    owner: str | None,
) -> str:
    """The model's hand-off summary of `old` (one non-streaming call; uploaded files it refers
    to are read in, as for any upstream call); its usage is added."""
    prompt = PROMPT if faithful else PEER_PROMPT
    if instructions:
        prompt = f"{instructions}\n\n{prompt}"
    request: dict[str, Any] = {
        "model": model.provider_model_id,
        "messages": [*old, {"role": "user", "content": prompt}],
        "stream": False,
    }
    if prompt_cache_key:
        request["prompt_cache_key"] = prompt_cache_key
    if file_parts.referenced(request["messages"]):
        request["messages"] = await file_parts.resolve(request["messages"], files, owner)
    completion = await model.provider.complete_chat(request)
    if completion.usage is not None:
        usage.add(completion.usage.model_dump())
    text = completion.choices[0].message.content if completion.choices else None
    return text or ""


def _current_turn(history: ChatMessages) -> int:
    """Where the current turn starts: at the last user message (what came before is compacted)."""
    for index in range(len(history) - 1, -1, -1):
        if history[index].get("role") == "user":
            return index
    return 0


def _handoff(summary: str, faithful: bool) -> str:
    return (item.HANDOFF if faithful else item.PEER_HANDOFF) + summary


async def compact(engine: Engine, body: CompactRequest, principal: Principal) -> dict[str, Any]:
    """`POST /v1/responses/compact`: the `response.compaction` object, stored as a response."""
    create = CreateResponseRequest.model_validate(
        {
            "model": body.model,
            "input": body.input if body.input is not None else [],
            "instructions": body.instructions,
            "previous_response_id": body.previous_response_id,
            "store": True,
        }
    )
    run = await engine.prepare(create, principal=principal, allow_empty=True)
    if not run.history:
        raise InvalidRequest(
            "Invalid value for 'input': there is nothing to compact (no input and no previous response).",
            param="input",
        )
    usage = UsageTotals()
    summary = await summarize(
        run.model,
        run.history,
        body.instructions,
        engine.faithful,
        body.prompt_cache_key,
        usage,
        engine.files,
        run.principal.scope,
    )
    response_id = run.response["id"]
    made = item.make_item(summary, response_id, engine.sealer, engine.faithful)
    output = [*_user_items(run.history, response_id), made]
    created_at = run.response["created_at"]
    result = {
        "id": response_id,
        "object": "response.compaction",
        "created_at": created_at,
        "output": output,
        "usage": usage.as_dict() or UsageTotals.zero(),
    }
    # Stored as a response whose output is the compaction (a Response's output holds no user
    # messages); the kept user messages are in the history it continues from.
    stored = {
        **run.response,
        "status": "completed",
        "completed_at": int(time.time()),
        "output": [made],
        "usage": result["usage"],
    }
    await engine.store.save_response(
        run.stored(stored, compacted(run.history, _handoff(summary, engine.faithful)))
    )
    return result


async def in_response(run: PreparedRun, state: RunState, engine: Engine) -> EventStream:
    """Compaction inside a response: for a trigger, the whole answer; with a threshold, first,
    when the input reaches it (then `run.history` and the next upstream body are compacted)."""
    plan_ = run.compaction
    assert plan_ is not None
    old = run.history if plan_.trigger else run.history[: _current_turn(run.history)]
    if not plan_.trigger:
        if plan_.threshold is None or not old:
            return
        if await count_input_tokens(run.model, run.chat) < plan_.threshold:
            return
    if not old:
        raise InvalidRequest("Invalid value for 'input': there is nothing to compact.", param="input")
    response = run.response
    summary = await summarize(
        run.model,
        old,
        run.request.instructions,
        engine.faithful,
        run.request.prompt_cache_key,
        state.usage,
        engine.files,
        run.principal.scope,
    )
    made = item.make_item(summary, response["id"], engine.sealer, engine.faithful)
    index = len(response["output"])
    for event in item.compaction_events(index, made):
        yield event
    response["output"].append(made)
    new = [] if plan_.trigger else run.history[len(old) :]
    run.history = [*compacted(old, _handoff(summary, engine.faithful)), *new]
    run.chat["messages"] = run.system + run.history
