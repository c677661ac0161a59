"""Logs, metrics and traces (`responsa/observability/`), read as an operator reads them: the
server's log file, `GET /metrics`, and spans sent to an OTLP/HTTP collector run by the test."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import HTTP, Process, Server, start_server, upstream_env

T = TypeVar("T")
SECRET_BEARER = "sk-obs-secret-bearer-0123456789"
SECRET_PROVIDER_KEY = "tvly-obs-secret-provider-key-9876"
PROMPT = "a prompt body that must stay out of the log 4242"
HEADERS = {
    "Authorization": f"Bearer {SECRET_BEARER}",
    "X-OGX-Provider-Data": json.dumps({"tavily_search_api_key": SECRET_PROVIDER_KEY}),
    "User-Agent": "obs-test/1.0",
}


def eventually(check: Callable[[], T | None], what: str, timeout: float = 20) -> T:
    """`check()`'s first truthy answer: the server logs a request after its last byte is sent,
    and spans leave in batches, so the test waits for them (a deadline, not a timing assert)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what}")
        time.sleep(0.05)


def create(server: Server, **body: Any) -> Any:
    return HTTP.post(server.url + "/v1/responses", json={"input": PROMPT, **body}, headers=HEADERS)


def log_lines(server: Server, needle: str) -> list[str]:
    return [line for line in server.log.read_text(errors="replace").splitlines() if needle in line]


def metric_samples(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = HTTP.get(server.url + "/metrics", headers=HEADERS).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake_upstream: Process) -> Iterator[Server]:
    with start_server(tmp_path_factory.mktemp("obs"), "obs", upstream_env(fake_upstream)) as started:
        yield started


def test_access_line_for_a_response(server: Server) -> None:
    response = create(server, model="openai/gpt-obs")
    assert response.status_code == 200
    response_id = response.json()["id"]
    line = eventually(lambda: log_lines(server, f"id={response_id}"), "the access line")[0]
    assert " INFO responsa.access: POST /v1/responses 200 " in line
    assert "model=openai/gpt-obs" in line and "ua='obs-test/1.0'" in line


def test_a_4xx_is_a_warning_with_its_param_and_code(server: Server) -> None:
    response = create(server, model="openai/gpt-obs", temperature=5)
    assert response.status_code == 400
    line = eventually(lambda: log_lines(server, "param=temperature"), "the 4xx line")[0]
    assert " WARNING responsa.access: POST /v1/responses 400 " in line
    assert "'temperature'" in line  # the error's message follows its code and param
    missing = HTTP.get(server.url + "/v1/responses/resp_nope", headers=HEADERS)
    assert missing.status_code == 404
    line = eventually(lambda: log_lines(server, "GET /v1/responses/resp_nope 404"), "the 404 line")[0]
    assert "WARNING" in line and "code=not_found" in line and "param=response_id" in line


def test_an_upstream_failure_is_logged_with_provider_status_and_message(server: Server) -> None:
    response = create(server, model="openai/server-error")
    assert response.status_code == 502
    line = eventually(lambda: log_lines(server, "upstream provider openai failed"), "the upstream line")[0]
    assert "WARNING responsa.upstream" in line and "HTTP 500" in line and "model server-error" in line


def test_no_credential_or_prompt_in_the_log(server: Server) -> None:
    create(server, model="openai/gpt-obs", stream=True)
    create(server, model="openai/bad-request")
    HTTP.post(
        server.url + "/v1/chat/completions", headers=HEADERS, json={"model": "openai/x", "messages": []}
    )
    eventually(lambda: log_lines(server, "POST /v1/chat/completions"), "the chat access line")
    text = server.log.read_text(errors="replace")
    for secret in (SECRET_BEARER, SECRET_PROVIDER_KEY, PROMPT, "tavily_search_api_key"):
        assert secret not in text


def test_metrics_count_requests_tokens_and_upstream_errors(server: Server) -> None:
    before = metric_samples(server)
    for _ in range(2):
        assert create(server, model="openai/gpt-metrics").status_code == 200
    assert create(server, model="openai/server-error").status_code == 502
    assert create(server, model="openai/gpt-metrics", stream=True).status_code == 200

    def counted() -> Any:
        after = metric_samples(server)
        ok = dict(route="/v1/responses", method="POST", status="200")
        done = sample(after, "responsa_http_requests_total", **ok) - sample(
            before, "responsa_http_requests_total", **ok
        )
        return after if done >= 3 else None

    after = eventually(counted, "the requests counted")

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("responsa_http_requests_total", route="/v1/responses", method="POST", status="502") == 1
    # The fake upstream reports 11 prompt tokens and 5 completion tokens per call.
    assert delta("responsa_tokens_total", model="openai/gpt-metrics", direction="input") == 33
    assert delta("responsa_tokens_total", model="openai/gpt-metrics", direction="output") > 0
    assert delta("responsa_upstream_calls_total", provider="openai") == 4
    assert delta("responsa_upstream_errors_total", provider="openai", status="500") == 1
    assert delta("responsa_time_to_first_token_seconds_count", model="openai/gpt-metrics") == 3
    assert sample(after, "responsa_active_streams") == 0
    assert ("responsa_background_jobs_queued", ()) in after
    # A route's template, never an id, is the label
    assert not any("resp_" in value for _, labels in after for _, value in labels)


class Collector(ThreadingHTTPServer):
    """A tiny OTLP/HTTP collector: keeps every span POSTed to /v1/traces."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), CollectorHandler)
        self.spans: list[Any] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class CollectorHandler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    self.server.spans.extend(scope.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def traced(
    tmp_path_factory: pytest.TempPathFactory, fake_upstream: Process, collector: Collector
) -> Iterator[Server]:
    """JSON logs and traces to the test's collector."""
    env = upstream_env(
        fake_upstream,
        RESPONSA_LOG_FORMAT="json",
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    with start_server(tmp_path_factory.mktemp("traced"), "traced", env) as started:
        yield started


def attributes(span: Any) -> dict[str, Any]:
    def value(v: Any) -> Any:
        return getattr(v, v.WhichOneof("value"))

    return {kv.key: value(kv.value) for kv in span.attributes}


def test_a_trace_has_the_response_span_and_its_upstream_span(traced: Server, collector: Collector) -> None:
    response = create(traced, model="openai/gpt-traced")
    assert response.status_code == 200
    response_id = response.json()["id"]

    def response_span() -> Any:
        found = [s for s in collector.spans if attributes(s).get("gen_ai.response.id") == response_id]
        return found[0] if found else None

    root = eventually(response_span, "the response span")
    assert root.name == "invoke_agent openai/gpt-traced"
    attrs = attributes(root)
    assert attrs["gen_ai.operation.name"] == "invoke_agent"
    assert attrs["gen_ai.request.model"] == "openai/gpt-traced"
    assert attrs["gen_ai.usage.input_tokens"] == 11
    assert attrs["gen_ai.usage.output_tokens"] > 0
    children = eventually(
        lambda: [s for s in collector.spans if s.parent_span_id == root.span_id], "the upstream span"
    )
    assert [child.name for child in children] == ["chat gpt-traced"]
    upstream = attributes(children[0])
    assert upstream["gen_ai.operation.name"] == "chat"
    assert upstream["gen_ai.provider.name"] == "openai"
    assert upstream["gen_ai.request.model"] == "gpt-traced"
    assert upstream["gen_ai.response.model"] == "gpt-traced"
    assert upstream["gen_ai.response.id"] == "chatcmpl-fake"
    assert upstream["gen_ai.usage.input_tokens"] == 11
    assert children[0].trace_id == root.trace_id


def test_json_logs_parse_line_by_line(traced: Server) -> None:
    ok = create(traced, model="openai/gpt-json")
    create(traced, model="openai/gpt-json", temperature=5)
    response_id = ok.json()["id"]
    eventually(lambda: log_lines(traced, "temperature"), "the 4xx line")
    lines = [json.loads(line) for line in Path(traced.log).read_text().splitlines() if line.strip()]
    assert all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    access = [line for line in lines if line.get("response_id") == response_id]
    assert access[0]["logger"] == "responsa.access" and access[0]["status"] == 200
    assert access[0]["model"] == "openai/gpt-json" and access[0]["user_agent"] == "obs-test/1.0"
    assert isinstance(access[0]["duration_ms"], float)
    refused = [line for line in lines if line.get("param") == "temperature"]
    assert refused[0]["level"] == "WARNING" and refused[0]["status"] == 400
    assert sum("serving on" in line["message"] for line in lines) == 1


def test_a_start_on_a_migrated_database_says_nothing_of_migrations(
    tmp_path: Path, server: Server, fake_upstream: Process
) -> None:
    env = upstream_env(fake_upstream, RESPONSA_DB_URL=f"sqlite:///{tmp_path / 'again.db'}")
    with start_server(tmp_path, "first", env):
        pass
    with start_server(tmp_path, "again", env) as again:
        text = again.log.read_text()
    assert "migrating the database from empty" in (tmp_path / "first.log").read_text()
    assert "alembic" not in text and "migrating" not in text
    assert text.count("serving on") == 1
