"""OpenTelemetry traces over OTLP/HTTP, on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

Imported only then (`watch.start_tracing`), so a server without it loads no OpenTelemetry.
Spans follow the GenAI semantic conventions:

    invoke_agent <model>       one per response (gen_ai.response.id, usage, status)
    ├── chat <upstream model>  one per upstream call (gen_ai.request.model, gen_ai.response.model,
    │                          gen_ai.response.id, usage, finish reasons)
    └── execute_tool <name>    one per server-run tool call (MCP, web search)

Parents are passed explicitly, never through the current context: a response's events are
produced across tasks (the route's, then the stream writer's), where an attached context could
not be detached. The standard OTEL_* variables (headers, service name, batch delays) apply.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

__all__ = ["Span", "Tracing"]


class Tracing:
    def __init__(self, endpoint: str) -> None:
        resource = Resource.create({SERVICE_NAME: "responsa"})
        self.provider = TracerProvider(resource=resource)
        exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("responsa")

    def start(self, name: str, attributes: dict[str, Any], parent: Span | None = None) -> Span:
        context = trace.set_span_in_context(parent) if parent is not None else None
        kind = SpanKind.SERVER if parent is None else SpanKind.CLIENT
        return self.tracer.start_span(name, context=context, kind=kind, attributes=attributes)

    @staticmethod
    def fail(span: Span, error: BaseException, kind: str) -> None:
        span.set_attribute("error.type", kind)
        span.set_status(Status(StatusCode.ERROR, str(error)[:200]))

    def shutdown(self) -> None:
        self.provider.shutdown()
