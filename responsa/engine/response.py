"""The Response object: every field the OpenAI SDK and OpenResponses require, never null where
OpenResponses forbids it (SPEC §4)."""

from __future__ import annotations

from typing import Any

from responsa.engine.request import CreateResponseRequest


def new_response(
    req: CreateResponseRequest, response_id: str, created_at: int, tools_echo: list[dict[str, Any]]
) -> dict[str, Any]:
    text = dict(req.text or {})
    text.setdefault("format", {"type": "text"})
    text.setdefault("verbosity", "medium")
    conversation_id = req.conversation_id
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "background": req.background,
        "completed_at": None,
        "conversation": {"id": conversation_id} if conversation_id else None,
        "error": None,
        "incomplete_details": None,
        "instructions": req.instructions,
        "max_output_tokens": req.max_output_tokens,
        "max_tool_calls": req.max_tool_calls,
        "metadata": req.metadata or {},
        "model": req.model,
        "output": [],
        "parallel_tool_calls": True if req.parallel_tool_calls is None else req.parallel_tool_calls,
        "previous_response_id": req.previous_response_id,
        "prompt": req.prompt,
        "prompt_cache_key": req.prompt_cache_key,
        "reasoning": req.reasoning,
        "safety_identifier": req.safety_identifier,
        "service_tier": req.service_tier or "default",
        "store": req.store,
        "temperature": 1.0 if req.temperature is None else req.temperature,
        "text": text,
        "tool_choice": "auto" if req.tool_choice is None else req.tool_choice,
        "tools": tools_echo,
        "top_logprobs": req.top_logprobs or 0,
        "top_p": 1.0 if req.top_p is None else req.top_p,
        "truncation": req.truncation or "disabled",
        "usage": None,
        "user": req.user,
        "frequency_penalty": req.frequency_penalty or 0.0,
        "presence_penalty": req.presence_penalty or 0.0,
    }


class UsageTotals:
    """Usage summed over the model calls of one response."""

    __slots__ = ("cache_write", "cached", "input", "output", "reasoning", "seen", "total")

    def __init__(self) -> None:
        self.input = self.output = self.total = self.cached = self.cache_write = self.reasoning = 0
        self.seen = False

    def add(self, usage: dict[str, Any]) -> None:
        """Add one upstream `usage` object (Chat Completions shape)."""
        self.seen = True
        self.input += usage.get("prompt_tokens") or 0
        self.output += usage.get("completion_tokens") or 0
        self.total += usage.get("total_tokens") or 0
        prompt_details = usage.get("prompt_tokens_details") or {}
        self.cached += prompt_details.get("cached_tokens") or 0
        self.cache_write += prompt_details.get("cache_write_tokens") or 0
        self.reasoning += (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0

    @staticmethod
    def zero() -> dict[str, Any]:
        """Usage of nothing (an upstream that reported none), in the Responses shape."""
        totals = UsageTotals()
        totals.seen = True
        result = totals.as_dict()
        assert result is not None
        return result

    def as_dict(self) -> dict[str, Any] | None:
        if not self.seen:
            return None
        return {
            "input_tokens": self.input,
            # `cache_write_tokens` is required by the SDK's ResponseUsage (0 when the upstream says none)
            "input_tokens_details": {"cached_tokens": self.cached, "cache_write_tokens": self.cache_write},
            "output_tokens": self.output,
            "output_tokens_details": {"reasoning_tokens": self.reasoning},
            "total_tokens": self.total,
        }
