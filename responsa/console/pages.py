"""The console's pages: server-rendered HTML (Jinja2), one route per page.

Each page reads through the same interfaces as the API (`Store`, `VectorStores`, the
recording index) with the caller's owner, so an owner sees only its own objects and an admin
every owner's; another owner's id is a 404 page, as it is a 404 in the API.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from responsa.auth.principal import current_principal
from responsa.console import views
from responsa.errors import InvalidRequest, NotFound, ResponsaError
from responsa.store.base import ResponseFilter, Store, StoredResponse
from responsa.vector_stores.service import VectorStores

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.trim_blocks = templates.env.lstrip_blocks = True
templates.env.filters.update(when=views.when, pretty=views.pretty, ms=views.milliseconds)
templates.env.globals.update(content_text=views.content_text, paired=views.paired)

PAGE = 50
STATUSES = ("completed", "incomplete", "failed", "cancelled", "in_progress", "queued")
NAV = (
    ("responses", "Responses"),
    ("conversations", "Conversations"),
    ("jobs", "Background jobs"),
    ("files", "Files"),
    ("vector_stores", "Vector stores"),
    ("recordings", "Recordings"),
    ("playground", "Playground"),
)


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _scope() -> str | None:
    return current_principal.get().scope


def _may_see_recordings(request: Request) -> bool:
    """Recordings belong to the server, not to an owner: admins see them, and everyone when the
    server runs open (no keys, loopback only)."""
    principal = current_principal.get()
    return principal.admin or not request.app.guard.auth_on


def render(request: Request, name: str, section: str, status_code: int = 200, **context: Any) -> Response:
    principal = current_principal.get()
    return templates.TemplateResponse(
        request,
        name,
        {
            "nav": NAV,
            "section": section,
            "principal": principal,
            "auth_on": request.app.guard.auth_on,
            **context,
        },
        status_code=status_code,
    )


def error_page(request: Request, error: ResponsaError) -> Response:
    return render(request, "error.html", "", status_code=error.status_code, error=error)


def _day(value: str | None, name: str, end: bool = False) -> int | None:
    """`2026-12-01` or `2026-12-01T21:08` (UTC) as a Unix time; the end of a day for `until`."""
    if not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        message = f"Invalid value for '{name}': expected a date such as 2026-12-01."
        raise InvalidRequest(message, param=name) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    if end and len(value) <= 10:
        moment += datetime.timedelta(days=1)
    return int(moment.timestamp())


@router.get("/console")
async def home() -> Response:
    return RedirectResponse("/console/responses", status_code=303)


def safe_next(page: str) -> str:
    """Where to go after signing in: a console page, never another site."""
    inside = page.startswith("/console/") and not page.startswith("/console//")
    return page if inside else "/console/responses"


@router.get("/console/login")
async def login_page(request: Request, next: str = "/console/responses") -> Response:
    login = request.app.state.oidc_login
    issuer = login.config.issuer if login is not None else None
    return render(request, "login.html", "", next=safe_next(next), login_page=True, issuer=issuer)


@router.get("/console/responses")
async def responses_page(
    request: Request,
    model: str | None = None,
    status: str | None = None,
    conversation: str | None = None,
    q: str | None = None,
    since: str | None = None,
    until: str | None = None,
    after: str | None = None,
    before: str | None = None,
) -> Response:
    try:
        where = ResponseFilter(
            status=status or None,
            conversation_id=conversation or None,
            text=(q or "").strip() or None,
            created_after=_day(since, "since"),
            created_before=_day(until, "until", end=True),
        )
        page = await _store(request).list_responses(
            after=after or None,
            before=before or None,
            limit=PAGE,
            order="desc",
            model=model or None,
            owner=_scope(),
            where=where,
        )
        if page is None:
            raise InvalidRequest("That page's cursor names no response of yours.", param="after")
    except ResponsaError as error:
        return error_page(request, error)
    filters = {"model": model, "status": status, "conversation": conversation, "q": q}
    filters.update(since=since, until=until)
    kept = {key: value for key, value in filters.items() if value}
    rows = [views.ResponseRow.of(row) for row in page.rows]
    newer = bool(after) or (bool(before) and page.has_more)
    older = (not before and page.has_more) or bool(before)
    return render(
        request,
        "responses.html",
        "responses",
        rows=rows,
        filters=filters,
        kept=kept,
        statuses=STATUSES,
        models=[m.id for m in request.app.state.engine.registry.models],
        newer=newer and rows,
        older=older and rows,
    )


async def _oldest_first(request: Request, where: ResponseFilter, limit: int) -> list[StoredResponse]:
    """The caller's first `limit` responses that `where` selects, oldest first."""
    page = await _store(request).list_responses(
        after=None, before=None, limit=limit, order="asc", model=None, owner=_scope(), where=where
    )
    return page.rows if page is not None else []


async def _response(request: Request, response_id: str) -> StoredResponse:
    stored = await _store(request).get_response(response_id, _scope())
    if stored is None:
        raise NotFound(f"No response found with id '{response_id}'.", param="response_id")
    return stored


@router.get("/console/responses/{response_id}")
async def response_page(request: Request, response_id: str) -> Response:
    try:
        stored = await _response(request, response_id)
    except ResponsaError as error:
        return error_page(request, error)
    store = _store(request)
    previous = None
    if stored.previous_response_id is not None:
        previous = await store.get_response(stored.previous_response_id, _scope())
    following = await _oldest_first(request, ResponseFilter(previous_response_id=stored.id), 20)
    response = stored.response
    return render(
        request,
        "response.html",
        "responses",
        stored=stored,
        response=response,
        row=views.ResponseRow.of(stored),
        inputs=views.paired(stored.input_items),
        outputs=views.paired(response.get("output") or []),
        previous=previous,
        previous_id=stored.previous_response_id,
        following=following,
        calls=views.upstream_calls(stored),
        trace=stored.trace or {},
        live=bool(response.get("background")) and stored.status in ("queued", "in_progress"),
    )


@router.get("/console/conversations")
async def conversations_page(request: Request, after: str | None = None) -> Response:
    page = await _store(request).list_conversations(after=after or None, limit=PAGE, owner=_scope())
    if page is None:
        return error_page(request, InvalidRequest("That page's cursor names no conversation of yours."))
    return render(
        request, "conversations.html", "conversations", rows=page.rows, has_more=page.has_more, after=after
    )


@router.get("/console/conversations/{conversation_id}")
async def conversation_page(request: Request, conversation_id: str) -> Response:
    store = _store(request)
    conversation = await store.get_conversation(conversation_id, _scope())
    items = await store.all_items(conversation_id, _scope()) if conversation is not None else None
    if conversation is None or items is None:
        return error_page(request, NotFound(f"No conversation found with id '{conversation_id}'."))
    made = await _oldest_first(request, ResponseFilter(conversation_id=conversation_id), 100)
    return render(
        request,
        "conversation.html",
        "conversations",
        conversation=conversation,
        entries=views.paired(items),
        responses=[views.ResponseRow.of(row) for row in made],
    )


@router.get("/console/jobs")
async def jobs_page(request: Request) -> Response:
    jobs = await _store(request).list_jobs(limit=200, owner=_scope())
    return render(request, "jobs.html", "jobs", jobs=jobs)


@router.get("/console/files")
async def files_page(request: Request, after: str | None = None) -> Response:
    page = await _store(request).list_files(
        after=after or None, limit=PAGE, order="desc", purpose=None, owner=_scope()
    )
    if page is None:
        return error_page(request, InvalidRequest("That page's cursor names no file of yours."))
    return render(request, "files.html", "files", files=page.rows, has_more=page.has_more)


def _vector_stores(request: Request) -> VectorStores:
    service: VectorStores = request.app.state.vector_stores
    return service


@router.get("/console/vector_stores")
async def vector_stores_page(request: Request) -> Response:
    stores, has_more = await _vector_stores(request).list_stores(
        after=None, before=None, limit=100, order="desc", owner=_scope()
    )
    return render(request, "vector_stores.html", "vector_stores", stores=stores, has_more=has_more)


@router.get("/console/vector_stores/{store_id}")
async def vector_store_page(request: Request, store_id: str, q: str | None = None) -> Response:
    service = _vector_stores(request)
    try:
        vector_store = await service.get(store_id, _scope())
        files, has_more = await service.list_files(
            store_id, _scope(), after=None, before=None, limit=100, order="desc", status=None
        )
        found = await service.find(store_id, [q.strip()], _scope()) if q and q.strip() else None
    except ResponsaError as error:
        return error_page(request, error)
    names = await _store(request).find_files([f.file_id for f in files], _scope())
    return render(
        request,
        "vector_store.html",
        "vector_stores",
        vector_store=vector_store,
        files=files,
        names={file_id: stored.filename for file_id, stored in names.items()},
        has_more=has_more,
        q=q or "",
        found=found,
    )


@router.get("/console/vector_stores/{store_id}/files/{file_id}")
async def vector_store_file_page(request: Request, store_id: str, file_id: str) -> Response:
    service = _vector_stores(request)
    try:
        vector_store = await service.get(store_id, _scope())
        attached = await service.get_file(store_id, file_id, _scope())
        chunks = await service.content(store_id, file_id, _scope())
    except ResponsaError as error:
        return error_page(request, error)
    stored = await _store(request).get_file(file_id, _scope())
    return render(
        request,
        "vector_store_file.html",
        "vector_stores",
        vector_store=vector_store,
        attached=attached,
        filename=stored.filename if stored is not None else file_id,
        chunks=chunks,
    )


@router.get("/console/recordings")
async def recordings_page(request: Request) -> Response:
    if not _may_see_recordings(request):
        return error_page(request, NotFound("Recordings are shown to admins only."))
    upstreams = request.app.state.upstreams
    settings = request.app.state.settings
    groups = upstreams.index.by_test() if upstreams.index is not None else {}
    tree = sorted(groups.items(), key=lambda pair: (pair[0] is None, pair[0] or ""))
    hits = upstreams.hits
    return render(
        request,
        "recordings.html",
        "recordings",
        mode=settings.recording_mode,
        directories=[str(d) for d in settings.recording_dirs],
        tree=tree,
        counts=dict(hits.counts) if hits is not None else {},
        recent=list(reversed(hits.recent)) if hits is not None else [],
        started=hits.started if hits is not None else None,
        words=views.RECORDING_WORDS,
    )


@router.get("/console/playground")
async def playground_page(request: Request) -> Response:
    registry = request.app.state.engine.registry
    models = [m.id for m in registry.models if m.model_type == "llm"]
    return render(request, "playground.html", "playground", models=models)
