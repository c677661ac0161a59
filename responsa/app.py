"""create_app(settings): the FastAPI application, wired in its lifespan.

store ──> SqlStore(settings.db_url), migrated on start
providers ──> OpenAICompatProvider per configured provider, wrapped by RecordingProvider
              unless the recording mode is `live`
engine ──> Engine(store, registry), used by every route
files ──> Files(store, files_dir): uploads, read by the routes and by the engine (`file_id`)
prompts ──> Prompts(store, files): prompt templates, read by the routes and by the engine (`prompt`)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import FrameType

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from responsa import console
from responsa.api import (
    chat,
    connectors,
    context,
    conversations,
    docs,
    embeddings,
    files,
    handlers,
    models,
    openapi,
    prompts,
    responses,
    vector_stores,
    websocket,
)
from responsa.api import metrics as metrics_route
from responsa.api.bodies import LargeBodies
from responsa.api.deps import TestIdMiddleware
from responsa.auth.guard import Guard, authentication_on
from responsa.auth.limits import Concurrency
from responsa.auth.principal import current_principal
from responsa.config import Settings
from responsa.crypto import Sealer, new_key
from responsa.doctor import version
from responsa.engine.background import JobRunner
from responsa.engine.conversations import TurnLease
from responsa.engine.run import Engine
from responsa.errors import ResponsaError
from responsa.files.storage import Files
from responsa.observability import access
from responsa.observability.logs import configure_logging
from responsa.observability.metrics import process_exited
from responsa.observability.watch import start_tracing
from responsa.outbound import OutboundPolicy
from responsa.prompts.service import Prompts
from responsa.providers.registry import ModelRegistry
from responsa.recording.hits import HitsLog
from responsa.recording.index import RecordingIndex
from responsa.recording.recorder import Recorder, RecordingMcp, RecordingProvider, RecordingSearch
from responsa.recording.redact import Redaction
from responsa.store.sql import SqlStore
from responsa.tools.connectors import Connectors
from responsa.tools.mcp import McpClient
from responsa.tools.web_search import SearchProvider, TavilySearch
from responsa.vector_stores.ingest import KIND as INGEST
from responsa.vector_stores.ingest import Ingestor
from responsa.vector_stores.service import VectorStores

log = logging.getLogger("responsa")


def _redaction(settings: Settings) -> Redaction | None:
    if not settings.recording_redact:
        return None
    return Redaction.build(settings.recording_redact_patterns, settings.recording_redact_fields)


def _recording_index(settings: Settings) -> RecordingIndex | None:
    if settings.recording_mode == "live":
        return None
    started = time.perf_counter()
    index = RecordingIndex.scan(settings.recording_dirs, _redaction(settings))
    log.info(
        "recording mode %s: %d recordings indexed from %s in %.2f s",
        settings.recording_mode,
        len(index),
        ", ".join(map(str, settings.recording_dirs)),
        time.perf_counter() - started,
    )
    return index


@dataclass(slots=True)
class Upstreams:
    """What `build_upstreams` makes: the providers, web search and the MCP client, and (unless
    the mode is live) the recordings index and the log of lookups since start."""

    registry: ModelRegistry
    search: SearchProvider
    mcp: McpClient
    index: RecordingIndex | None = None
    hits: HitsLog | None = None


def build_upstreams(settings: Settings, policy: OutboundPolicy) -> Upstreams:
    """The inference providers, the web search provider and the MCP client (their requests
    pass `policy`), recorded unless the mode is live. MCP calls are recorded too, except under
    `translation: ogx` unless `recording.mcp` says so: the reference server's recordings hold
    none (its suites run their MCP servers)."""
    search: SearchProvider = TavilySearch(settings.tavily_base_url, settings.tavily_api_key, policy=policy)
    mcp_client = McpClient(policy)
    index = _recording_index(settings)
    if index is None:
        return Upstreams(ModelRegistry(settings), search, mcp_client)
    directory = settings.recording_dirs[0]
    mode = settings.recording_mode
    redaction = index.redaction
    hits = HitsLog(settings.recording_hits_log)  # in memory always (the console), on disk when named
    registry = ModelRegistry(
        settings,
        wrap=lambda inner: RecordingProvider(
            inner,
            mode=mode,
            index=index,
            directory=directory,
            redaction=redaction,
            hits=hits,
            pace=settings.recording_pace,
        ),
    )
    recorder = Recorder(mode, index, directory, settings.tavily_base_url, redaction=redaction, hits=hits)
    record_mcp = (
        settings.recording_mcp if settings.recording_mcp is not None else settings.translation != "ogx"
    )
    if record_mcp:
        mcp_client = RecordingMcp(
            mcp_client, Recorder(mode, index, directory, redaction=redaction, hits=hits)
        )
    return Upstreams(registry, RecordingSearch(search, recorder), mcp_client, index, hits)


def app_from_environment() -> FastAPI:
    """The app for each `responsa serve --workers N` process: settings come from the
    environment (the CLI passes `--config` on as RESPONSA_CONFIG)."""
    from responsa.config import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


class Responsa(FastAPI):
    """The FastAPI app, plus `fast_routes`: bare ASGI apps for the hot routes, taken before
    FastAPI's middleware, routing and dependency solving (a fifth of a request's CPU). Every
    HTTP request and WebSocket handshake passes the guard first (`auth/guard.py`), which names
    its principal (a refused handshake gets the HTTP error response instead of the upgrade), and
    every HTTP request is observed throughout (`observability/access.py`: the access line and the
    HTTP metrics)."""

    fast_routes: dict[tuple[str, str], ASGIApp]
    websocket_routes: dict[str, ASGIApp]
    guard: Guard | None = None
    bodies: LargeBodies | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await super().__call__(scope, receive, send)
            return
        await access.observe(self._serve, scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if self.guard is None:  # not started (no lifespan yet): closed, never open by accident
                raise ResponsaError("The server is starting.", code="server_starting")
            principal = await self.guard.check(scope)
        except ResponsaError as exc:
            page = console.refused(scope, exc)  # a console page load: to the sign-in page
            await (page or handlers.error_response(exc))(scope, receive, send)
            return
        token = current_principal.set(principal)
        try:
            if scope["type"] == "websocket":
                await self._route_websocket(scope, receive, send)
                return
            if scope["method"] == "POST" and self.bodies is not None:
                try:
                    async with self.bodies.admit(scope, receive) as gated:
                        await self._route(scope, gated, send)
                except ResponsaError as exc:  # no slot for a large body: nothing was sent yet
                    await handlers.error_response(exc)(scope, receive, send)
                return
            await self._route(scope, receive, send)
        finally:
            current_principal.reset(token)

    async def _route_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.websocket_routes.get(scope["path"])
        if route is None:
            await super().__call__(scope, receive, send)  # no such WebSocket: refused (403)
            return
        scope["app"] = self
        await route(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.fast_routes.get((scope["method"], scope["path"]))
        if route is not None:
            scope[access.ROUTE] = scope["path"]
            scope["app"] = self  # what FastAPI sets too: handlers reach `app.state` through it
            await route(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


@contextlib.contextmanager
def _on_shutdown_signal(callback: Callable[[], None]) -> Iterator[None]:
    """Run `callback` in the event loop as soon as SIGTERM or SIGINT arrives, then the handler
    that was there (uvicorn's, which stops accepting and waits for open requests). The server
    gives no hook of its own this early, and waiting open requests include generations that
    only stop when told. Off the main thread (an app run in a test client), nothing is hooked."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handle(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)
        before = previous[signal.Signals(sig)]
        if callable(before):
            before(sig, frame)
        elif before == signal.SIG_DFL:  # nobody else listens: what the signal would have done
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)

    for sig in previous:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, before in previous.items():
            if signal.getsignal(sig) is handle:
                signal.signal(sig, before)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = SqlStore(settings.db_url)
        await store.start()
        named = Connectors(settings.connectors)
        # One policy for every fetch for a client; the operator's connectors are allowed.
        outbound = OutboundPolicy([*settings.outbound_allow, *named.allowed_hosts()])
        upstreams = build_upstreams(settings, outbound)
        registry, search, mcp_client = upstreams.registry, upstreams.search, upstreams.mcp
        await registry.start()
        guard = Guard(settings, store, auth_on=await authentication_on(settings, store))
        log.info("%s", guard.describe())
        key = settings.secret_key or await store.server_key("reasoning", new_key)
        sealer = Sealer(key)
        if console.enabled(settings):
            console.start(app, settings, guard, sealer)
        tracing = start_tracing(settings.otlp_endpoint)
        uploads = Files(store, settings.files_dir, settings.file_limit)
        templates = Prompts(store, uploads)
        if tracing is not None:
            log.info("tracing: spans go to %s over OTLP/HTTP", settings.otlp_endpoint)
        engine = Engine(
            store,
            registry,
            search,
            sealer=sealer,
            faithful=settings.translation == "faithful",
            outbound=outbound,
            turn_lease=TurnLease(settings.turn_lease_s, settings.turn_wait_s),
            tracing=tracing,
            files=uploads,
            connectors=named,
            mcp_client=mcp_client,
            prompts=templates,
        )
        runner = JobRunner(
            engine,
            store,
            settings.background_workers,
            settings.job_lease_s,
            max_attempts=settings.job_max_attempts,
            retention_s=settings.job_retention_s,
        )
        vector_service = VectorStores(store, uploads, registry, runner, settings.vector_store_embedding_model)
        runner.register(INGEST, Ingestor(store, uploads, registry))
        engine.vector_stores = vector_service
        await runner.start()
        app.state.runner = runner
        app.state.vector_stores = vector_service
        app.state.settings = settings
        app.state.store = store
        app.state.engine = engine
        app.state.files = uploads
        app.state.prompts = templates
        app.state.upstreams = upstreams
        app.state.concurrency = Concurrency(settings.max_concurrent_per_owner)
        app.guard = guard  # type: ignore[attr-defined]
        app.bodies = LargeBodies(settings.max_large_bodies, settings.large_body_wait_s)  # type: ignore[attr-defined]
        if all(p.type == "onnx_embedding" for p in settings.providers.values()):
            log.warning(
                "no language model is configured: set OPENAI_API_KEY, pass --config, or install the "
                "embedded model (bash scripts/setup.sh)"
            )
        for name, provider in registry.providers.items():
            log.info("provider %s ready (%s)", name, type(getattr(provider, "inner", provider)).__name__)
        for model in registry.models:
            log.info("model %s served by provider %s", model.id, model.provider)
        if settings.translation != "faithful":
            log.info(
                "translation %s: upstream requests follow the reference server's form", settings.translation
            )
        try:
            with _on_shutdown_signal(registry.interrupt):
                yield
        finally:
            await runner.stop()  # running background jobs go back to the queue
            await engine.aclose()
            await registry.aclose()
            await search.aclose()
            await store.close()
            if tracing is not None:
                tracing.shutdown()  # sends the spans still batched
            process_exited(os.getpid())  # its live gauges stop counting (--workers)

    app = Responsa(title="Responsa", version=version(), lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(TestIdMiddleware)
    if settings.cors_allow_origins:  # off unless the operator lists origins
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_allow_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["authorization", "content-type", "openai-beta", "x-responsa-test-id"],
        )
    handlers.install(app)
    # The hot route skips FastAPI's middleware, so it is used only when no CORS headers are needed.
    app.fast_routes = (
        {}
        if settings.cors_allow_origins
        else {("POST", "/v1/responses"): TestIdMiddleware(handlers.plain_endpoint(responses.create_response))}
    )

    app.websocket_routes = {"/v1/responses": TestIdMiddleware(websocket.endpoint)}
    routers = (
        context,
        responses,
        conversations,
        files,
        prompts,
        vector_stores,
        chat,
        embeddings,
        models,
        connectors,
        docs,
        metrics_route,
    )
    for module in routers:
        app.include_router(module.router)
    if console.enabled(settings):
        console.install(app)
    app.openapi = lambda: openapi.document(app)  # type: ignore[method-assign]
    return app
