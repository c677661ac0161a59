"""A scripted model for the fake upstream: it answers from a script written in the prompt, so a
real client (Codex, the AI SDK, the Agents SDK, LangChain) can be driven through tool calls,
text before calls, refusals, reasoning and structured output without a real model.

The script is a JSON list of steps between markers in the last user message that has one:

    <<script>>[{"reason": "thinking", "say": "I'll look.", "calls": [{"name": "weather",
    "arguments": {"city": "Paris"}}]}, {"say": "It is {last_tool}."}]<</script>>

Step k answers the k-th model call after that message (k = the assistant messages since it).
A step may hold: `reason` (streamed as `reasoning_content`, or under `reasoning_key`), `say`
(text; `{last_tool}` becomes the last tool result), `refuse` (a refusal), `calls` (tool calls:
`arguments` for a function, `input` for a custom tool's raw text) and `json` (true: an instance of
the request's JSON schema). Past the last step it says "(script finished)".

`strict_problem(body)` plays OpenAI's strictness: a field Chat Completions does not define is a
400 "Unrecognized request argument supplied".
"""

from __future__ import annotations

import json
import re
from typing import Any

MARKER = re.compile(r"<<script>>(.*?)<</script>>", re.S)
CHAT_FIELDS = frozenset(
    {
        "model", "messages", "audio", "frequency_penalty", "function_call", "functions", "logit_bias",
        "logprobs", "max_completion_tokens", "max_tokens", "metadata", "modalities", "n",
        "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key",
        "prompt_cache_retention", "reasoning_effort", "response_format", "safety_identifier", "seed",
        "service_tier", "stop", "store", "stream", "stream_options", "temperature", "tool_choice",
        "tools", "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
    }
)  # fmt: skip
FUNCTION_FIELDS = frozenset({"name", "description", "parameters", "strict"})
CUSTOM_FIELDS = frozenset({"name", "description", "format"})


def script(*steps: dict[str, Any], text: str = "Go.") -> str:
    """A prompt: `text`, then the steps that answer it (what `script_of` reads back)."""
    return f"{text} <<script>>{json.dumps(list(steps))}<</script>>"


def strict_problem(body: dict[str, Any]) -> str | None:
    """Why OpenAI would refuse this body, or None."""
    for key in body:
        if key not in CHAT_FIELDS:
            return f"Unrecognized request argument supplied: {key}"
    for i, tool in enumerate(body.get("tools") or ()):
        kind = tool.get("type")
        fields = FUNCTION_FIELDS if kind == "function" else CUSTOM_FIELDS if kind == "custom" else None
        if fields is None or set(tool) != {"type", kind}:
            return f"Invalid value for 'tools[{i}]': unknown tool shape."
        for key in tool[kind]:
            if key not in fields:
                return f"Unrecognized request argument supplied: tools[{i}].{kind}.{key}"
    if body.get("tools") == []:
        return (
            "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array."
        )
    return None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text") or p.get("refusal") or "" for p in content or () if isinstance(p, dict))


def script_of(body: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The step that answers this request, and the last tool result; None if no script."""
    messages = body.get("messages") or []
    for position in range(len(messages) - 1, -1, -1):
        message = messages[position]
        if message.get("role") != "user":
            continue
        found = MARKER.search(_text(message.get("content")))
        if found is None:
            continue
        steps = json.loads(found.group(1))
        later = messages[position + 1 :]
        k = sum(1 for m in later if m.get("role") == "assistant")
        tools = [m for m in later if m.get("role") == "tool"]
        last_tool = _text(tools[-1].get("content")) if tools else ""
        step = steps[k] if k < len(steps) else {"say": "(script finished)"}
        return step, last_tool
    return None


def _instance(schema: Any) -> Any:
    """A small value that satisfies a JSON schema (what a model would write for it)."""
    if not isinstance(schema, dict):
        return None
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {name: _instance(sub) for name, sub in props.items()}
    if kind == "array":
        return [_instance(schema.get("items"))]
    return {"string": "x", "integer": 1, "number": 1.5, "boolean": True, "null": None}.get(str(kind), "x")


def _custom_names(body: dict[str, Any]) -> set[str]:
    return {t["custom"]["name"] for t in body.get("tools") or () if t.get("type") == "custom"}


def deltas(body: dict[str, Any], step: dict[str, Any], last_tool: str) -> list[dict[str, Any]]:
    """The chat deltas of one scripted reply, in order; the last carries `finish_reason`."""
    out: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    if step.get("reason"):
        key = step.get("reasoning_key", "reasoning_content")
        text = step["reason"]
        out += [{key: text[: len(text) // 2]}, {key: text[len(text) // 2 :]}]
    if step.get("json"):
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")
        out.append({"content": json.dumps(_instance(schema) if schema else {"ok": True})})
    if step.get("say"):
        text = step["say"].replace("{last_tool}", last_tool)
        out += [{"content": text[: len(text) // 2]}, {"content": text[len(text) // 2 :]}]
    if step.get("refuse"):
        out.append({"refusal": step["refuse"]})
    customs = _custom_names(body)
    for index, call in enumerate(step.get("calls") or ()):
        call_id = call.get("id") or f"call_s{len(body.get('messages') or [])}_{index}"
        name = call["name"]
        if name in customs:
            head = {"index": index, "id": call_id, "type": "custom", "custom": {"name": name, "input": ""}}
            text = call.get("input", "")
            out += [{"tool_calls": [head]}]
            out += [
                {"tool_calls": [{"index": index, "type": "custom", "custom": {"input": p}}]}
                for p in _halves(text)
            ]
            continue
        if "input" in call:
            arguments = json.dumps({"input": call["input"]})
        else:
            raw = call.get("arguments", {})
            arguments = raw if isinstance(raw, str) else json.dumps(raw)
        head = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        out += [{"tool_calls": [head]}]
        out += [{"tool_calls": [{"index": index, "function": {"arguments": p}}]} for p in _halves(arguments)]
    return out


def finish_reason(step: dict[str, Any]) -> str:
    return "tool_calls" if step.get("calls") else "stop"


def _halves(text: str) -> list[str]:
    return [p for p in (text[: len(text) // 2], text[len(text) // 2 :]) if p]
