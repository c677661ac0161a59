"""Prometheus metrics, exposed at `GET /metrics` (text exposition format).

    responsa_http_requests_total{route, method, status}         route: the route's template
    responsa_http_request_duration_seconds{route, method}       to the last byte (a stream's end)
    responsa_time_to_first_token_seconds{model}                 response start -> first output chunk
    responsa_upstream_calls_total{provider}
    responsa_upstream_errors_total{provider, status}            status: the upstream's, or "none"
    responsa_upstream_call_duration_seconds{provider}
    responsa_tokens_total{model, direction}                     direction: input | output
    responsa_active_streams                                     Responses SSE streams open now
    responsa_background_jobs_queued                             in the database, read at each scrape
    responsa_background_jobs_running                            on this server
    responsa_replay_lookups_total{result}                       hit | miss (recording modes)

With `responsa serve --workers N` every process writes its values to files in
PROMETHEUS_MULTIPROC_DIR (the CLI makes one) and a scrape of any worker sums them all: the
prometheus-client multiprocess mode, chosen when this module is first imported.
"""

from __future__ import annotations

import functools
import os
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

REQUESTS = Counter(
    "responsa_http_requests",
    "HTTP requests by route template, method and status",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "responsa_http_request_duration_seconds",
    "HTTP request duration, to the last byte sent",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
TTFT_SECONDS = Histogram(
    "responsa_time_to_first_token_seconds",
    "From a response's start to the first upstream chunk with output",
    ["model"],
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_CALLS = Counter("responsa_upstream_calls", "Upstream model calls", ["provider"])
UPSTREAM_ERRORS = Counter(
    "responsa_upstream_errors", "Upstream model calls that failed", ["provider", "status"]
)
UPSTREAM_SECONDS = Histogram(
    "responsa_upstream_call_duration_seconds",
    "Upstream model call duration",
    ["provider"],
    buckets=LATENCY_BUCKETS,
)
TOKENS = Counter(
    "responsa_tokens", "Tokens in and out, by the model the client asked for", ["model", "direction"]
)
ACTIVE_STREAMS = Gauge(
    "responsa_active_streams", "Responses event streams open now", multiprocess_mode="livesum"
)
JOBS_QUEUED = Gauge(
    "responsa_background_jobs_queued",
    "Background responses waiting for a worker",
    multiprocess_mode="mostrecent",
)
JOBS_RUNNING = Gauge(
    "responsa_background_jobs_running",
    "Background responses running on this server",
    multiprocess_mode="livesum",
)
REPLAY_LOOKUPS = Counter("responsa_replay_lookups", "Recording lookups by result", ["result"])


M = TypeVar("M", Counter, Histogram)


@functools.cache
def _child(metric: Any, *labels: str) -> Any:
    return metric.labels(*labels)


def child(metric: M, *labels: str) -> M:
    """`metric.labels(*labels)`, kept: `labels()` takes a lock and builds a key at every call."""
    result: M = _child(metric, *labels)
    return result


def request(route: str, method: str, status: int, seconds: float) -> None:
    child(REQUESTS, route, method, str(status)).inc()
    child(REQUEST_SECONDS, route, method).observe(seconds)


def tokens(model: str, usage: dict[str, object] | None) -> None:
    if not usage:
        return
    for direction, key in (("input", "input_tokens"), ("output", "output_tokens")):
        value = usage.get(key)
        if isinstance(value, int) and value:
            child(TOKENS, model, direction).inc(value)


def render() -> bytes:
    """The exposition of every metric: this process's, or all workers' in multiprocess mode."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def process_exited(pid: int) -> None:
    """A worker's end: its live gauges stop counting (multiprocess mode only)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
