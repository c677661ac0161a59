"""The engine's hooks: a `ResponseWatch` per response, an `UpstreamWatch` per upstream call and
a tool context per server-run tool call. Each feeds the metrics, logs what failed upstream, and,
with tracing on, opens and closes the spans (`tracing.py`).

    watch = ResponseWatch(tracing, run.request.model, response_id, provider_name)
    with watch.upstream(provider_name, chat_request, usage) as call:
        async for chunk in provider.stream_chat(chat_request):
            if call.waiting:           # until the first chunk with output
                call.chunk(chunk)
    with watch.tool(name, call_id, kind):
        ...
    watch.end(final_response)
    stored.trace = watch.trace()   # time to first output, duration, each upstream call

With tracing off a watch is a few attributes and a clock read: no span, no OpenTelemetry import.
"""

from __future__ import annotations

import contextlib
import logging
import time
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from responsa.context import current_upstream
from responsa.errors import ResponsaError, UpstreamError
from responsa.observability import metrics

if TYPE_CHECKING:
    from responsa.observability.tracing import Span, Tracing

log = logging.getLogger("responsa.upstream")

OUTPUT_KEYS = ("content", "tool_calls", "refusal", "reasoning_content", "reasoning", "function_call")
REQUEST_ATTRIBUTES = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "max_tokens": "gen_ai.request.max_tokens",
    "seed": "gen_ai.request.seed",
}
_NOTHING: AbstractContextManager[None] = contextlib.nullcontext()


def start_tracing(endpoint: str | None) -> Tracing | None:
    """Tracing to `endpoint` (OTLP over HTTP), or None (and nothing imported) without one."""
    if not endpoint:
        return None
    from responsa.observability.tracing import Tracing

    return Tracing(endpoint)


class Usage(Protocol):
    input: int
    output: int


def _ms(seconds: float) -> float:
    """A duration as the trace keeps it: milliseconds, to a tenth."""
    return round(seconds * 1000, 1)


def _has_output(chunk: dict[str, Any]) -> bool:
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        for key in OUTPUT_KEYS:
            if delta.get(key):
                return True
    return False


class ResponseWatch:
    __slots__ = ("calls", "first_at", "model", "span", "started", "tracing", "ttft_seen")

    def __init__(
        self,
        tracing: Tracing | None,
        model: str,
        response_id: str,
        provider: str,
        conversation_id: str | None = None,
    ) -> None:
        self.tracing = tracing
        self.model = model
        self.started = time.perf_counter()
        self.ttft_seen = False
        self.first_at: float | None = None
        self.calls: list[dict[str, Any]] = []  # one record per upstream call (`UpstreamWatch`)
        self.span: Span | None = None
        if tracing is not None:
            attributes = {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.provider.name": provider,
                "gen_ai.request.model": model,
                "gen_ai.response.id": response_id,
            }
            if conversation_id is not None:
                attributes["gen_ai.conversation.id"] = conversation_id
            self.span = tracing.start(f"invoke_agent {model}", attributes)

    def first_output(self) -> None:
        if not self.ttft_seen:
            self.ttft_seen = True
            self.first_at = time.perf_counter()
            metrics.child(metrics.TTFT_SECONDS, self.model).observe(self.first_at - self.started)

    def since(self, moment: float) -> float:
        """Milliseconds from this response's start to `moment` (a `perf_counter` reading)."""
        return _ms(moment - self.started)

    def trace(self) -> dict[str, Any]:
        """What the store keeps of this response's making (`StoredResponse.trace`): the time to
        its first output and its duration so far, in ms, and a record per upstream call."""
        return {
            "ttft_ms": self.since(self.first_at) if self.first_at is not None else None,
            "duration_ms": self.since(time.perf_counter()),
            "upstream": self.calls,
        }

    def upstream(self, provider: str, request: dict[str, Any], usage: Usage) -> UpstreamWatch:
        return UpstreamWatch(provider, request, usage, self, self.tracing, self.span)

    def tool(self, name: str, call_id: str, kind: str) -> AbstractContextManager[None]:
        if self.tracing is None:
            return _NOTHING
        return _tool_span(self.tracing, self.span, name, call_id, kind)

    def end(self, response: dict[str, Any]) -> None:
        usage = response.get("usage")
        metrics.tokens(self.model, usage)
        span, self.span = self.span, None
        if span is None:
            return
        span.set_attribute("gen_ai.response.model", str(response.get("model", self.model)))
        span.set_attribute("responsa.response.status", str(response.get("status")))
        if isinstance(usage, dict):
            span.set_attribute("gen_ai.usage.input_tokens", int(usage.get("input_tokens") or 0))
            span.set_attribute("gen_ai.usage.output_tokens", int(usage.get("output_tokens") or 0))
        error = response.get("error")
        if response.get("status") == "failed" and isinstance(error, dict):
            from opentelemetry.trace import Status, StatusCode

            span.set_attribute("error.type", str(error.get("code") or "error"))
            span.set_status(Status(StatusCode.ERROR, str(error.get("message") or "")[:200]))
        span.end()


@contextlib.contextmanager
def _tool_span(tracing: Tracing, parent: Span | None, name: str, call_id: str, kind: str) -> Any:
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.call.id": call_id,
        "gen_ai.tool.type": kind,
    }
    span = tracing.start(f"execute_tool {name}", attributes, parent)
    try:
        yield
    except BaseException as exc:
        tracing.fail(span, exc, type(exc).__name__)
        raise
    finally:
        span.end()


class UpstreamWatch:
    """One upstream call: counted, timed, its failure logged (provider, status, message)."""

    __slots__ = (
        "inputs",
        "named",
        "outputs",
        "parent",
        "provider",
        "record",
        "request",
        "response",
        "span",
        "started",
        "tracing",
        "usage",
        "waiting",
    )

    def __init__(
        self,
        provider: str,
        request: dict[str, Any],
        usage: Usage | None,
        response: ResponseWatch | None = None,
        tracing: Tracing | None = None,
        parent: Span | None = None,
    ) -> None:
        self.provider, self.request, self.usage, self.response = provider, request, usage, response
        self.tracing, self.parent = tracing, parent
        self.span: Span | None = None
        self.waiting = True
        self.named = False
        self.started = 0.0
        self.inputs = self.outputs = 0
        self.record: dict[str, Any] = {}

    def __enter__(self) -> UpstreamWatch:
        self.started = time.perf_counter()
        metrics.child(metrics.UPSTREAM_CALLS, self.provider).inc()
        if self.response is not None:
            self.record = {
                "provider": self.provider,
                "model": self.request.get("model"),
                "started_ms": self.response.since(self.started),
            }
            current_upstream.set(self.record)  # the recorder notes its outcome here
        if self.usage is not None:
            self.inputs, self.outputs = self.usage.input, self.usage.output
        if self.tracing is not None:
            model = str(self.request.get("model"))
            attributes: dict[str, Any] = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": self.provider,
                "gen_ai.request.model": model,
            }
            for key, name in REQUEST_ATTRIBUTES.items():
                value = self.request.get(key)
                if isinstance(value, int | float):
                    attributes[name] = value
            self.span = self.tracing.start(f"chat {model}", attributes, self.parent)
        return self

    def chunk(self, chunk: dict[str, Any]) -> None:
        """A chunk read while `waiting`: the first one names the answer, the first with output
        ends the wait (and is the response's first token)."""
        if self.span is not None and not self.named:
            self.named = True
            if chunk.get("id"):
                self.span.set_attribute("gen_ai.response.id", str(chunk["id"]))
            if chunk.get("model"):
                self.span.set_attribute("gen_ai.response.model", str(chunk["model"]))
        if _has_output(chunk):
            self.waiting = False
            if self.response is not None:
                self.response.first_output()
                self.record["first_output_ms"] = _ms(time.perf_counter() - self.started)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: TracebackType | None
    ) -> None:
        elapsed = time.perf_counter() - self.started
        metrics.child(metrics.UPSTREAM_SECONDS, self.provider).observe(elapsed)
        if self.response is not None:
            current_upstream.set(None)
            self.record["ms"] = _ms(elapsed)
            if isinstance(error, ResponsaError):
                self.record["error"] = error.message.splitlines()[0][:300] if error.message else error.code
            elif error is not None:  # the client went away, or the response was cancelled
                self.record["error"] = "stopped" if kind is GeneratorExit else type(error).__name__
            self.response.calls.append(self.record)
        if isinstance(error, UpstreamError):
            status = str(error.upstream_status or "none")
            metrics.UPSTREAM_ERRORS.labels(self.provider, status).inc()
            log.warning(
                "upstream provider %s failed (HTTP %s, model %s): %s",
                error.provider or self.provider,
                status,
                error.model or self.request.get("model"),
                error.message.splitlines()[0] if error.message else "",
                extra={"fields": {"provider": self.provider, "upstream_status": status}},
            )
        span = self.span
        if span is None:
            return
        if self.usage is not None:
            span.set_attribute("gen_ai.usage.input_tokens", self.usage.input - self.inputs)
            span.set_attribute("gen_ai.usage.output_tokens", self.usage.output - self.outputs)
        if error is not None and self.tracing is not None and kind not in (GeneratorExit,):
            self.tracing.fail(span, error, type(error).__name__)
        span.end()


def upstream_call(provider: str, request: dict[str, Any], tracing: Tracing | None) -> UpstreamWatch:
    """An upstream call outside any response (the chat pass-through)."""
    return UpstreamWatch(provider, request, None, None, tracing)
