"""`/v1/vector_stores` routes: stores, their files (and each file's parsed `/content`), file
batches and search. The logic is `vector_stores/service.py`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from responsa.api.deps import Limit, Order, json_response, list_page, read_json, scope
from responsa.api.openapi import BODY, UPSTREAM, operation
from responsa.auth.principal import current_principal
from responsa.engine.request import parse_body
from responsa.vector_stores.requests import (
    CreateFileBatchRequest,
    CreateVectorStoreFileRequest,
    CreateVectorStoreRequest,
    SearchVectorStoreRequest,
    UpdateVectorStoreFileRequest,
    UpdateVectorStoreRequest,
)
from responsa.vector_stores.service import VectorStores, shown_batch, shown_file, shown_store

router = APIRouter()

Status = Annotated[Literal["in_progress", "completed", "failed", "cancelled"] | None, Query(alias="filter")]
STORE = "/v1/vector_stores/{vector_store_id}"
FILE = STORE + "/files/{file_id}"
BATCH = STORE + "/file_batches/{batch_id}"


async def service(request: Request) -> VectorStores:
    result: VectorStores = request.app.state.vector_stores
    return result


Service = Annotated[VectorStores, Depends(service)]


@router.post(
    "/v1/vector_stores", **operation(ok="VectorStore", body=CreateVectorStoreRequest, errors=(*BODY, 404))
)
async def create_vector_store(request: Request, vs: Service) -> Response:
    body = parse_body(CreateVectorStoreRequest, await read_json(request))
    return json_response(shown_store(await vs.create(body, current_principal.get().owner)))


@router.get("/v1/vector_stores", **operation(ok="VectorStoreList", errors=(400,)))
async def list_vector_stores(
    vs: Service, after: str | None = None, before: str | None = None, limit: Limit = 20, order: Order = "desc"
) -> Response:
    rows, more = await vs.list_stores(after=after, before=before, limit=limit, order=order, owner=scope())
    return list_page([shown_store(row) for row in rows], more)


@router.get(STORE, **operation(ok="VectorStore", errors=(400, 404)))
async def retrieve_vector_store(vector_store_id: str, vs: Service) -> Response:
    return json_response(shown_store(await vs.get(vector_store_id, scope())))


@router.post(STORE, **operation(ok="VectorStore", body=UpdateVectorStoreRequest, errors=(*BODY, 404)))
async def update_vector_store(vector_store_id: str, request: Request, vs: Service) -> Response:
    body = parse_body(UpdateVectorStoreRequest, await read_json(request))
    return json_response(shown_store(await vs.update(vector_store_id, body, scope())))


@router.delete(STORE, **operation(ok="VectorStoreDeleted", errors=(400, 404)))
async def delete_vector_store(vector_store_id: str, vs: Service) -> Response:
    await vs.delete(vector_store_id, scope())
    return json_response({"id": vector_store_id, "object": "vector_store.deleted", "deleted": True})


@router.post(
    STORE + "/search",
    **operation(ok="VectorStoreSearchResultsPage", body=SearchVectorStoreRequest, errors=BODY + UPSTREAM),
)
async def search_vector_store(vector_store_id: str, request: Request, vs: Service) -> Response:
    body = parse_body(SearchVectorStoreRequest, await read_json(request))
    return json_response(await vs.search(vector_store_id, body, scope()))


@router.post(
    STORE + "/files",
    **operation(ok="VectorStoreFile", body=CreateVectorStoreFileRequest, errors=(*BODY, 404)),
)
async def attach_file(vector_store_id: str, request: Request, vs: Service) -> Response:
    body = parse_body(CreateVectorStoreFileRequest, await read_json(request))
    return json_response(shown_file(await vs.attach(vector_store_id, body, scope())))


@router.get(STORE + "/files", **operation(ok="VectorStoreFileList", errors=(400, 404)))
async def list_files(
    vector_store_id: str,
    vs: Service,
    after: str | None = None,
    before: str | None = None,
    limit: Limit = 20,
    order: Order = "desc",
    status: Status = None,
) -> Response:
    rows, more = await vs.list_files(
        vector_store_id, scope(), after=after, before=before, limit=limit, order=order, status=status
    )
    return list_page([shown_file(row) for row in rows], more)


@router.get(FILE, **operation(ok="VectorStoreFile", errors=(400, 404)))
async def retrieve_file(vector_store_id: str, file_id: str, vs: Service) -> Response:
    return json_response(shown_file(await vs.get_file(vector_store_id, file_id, scope())))


@router.post(FILE, **operation(ok="VectorStoreFile", body=UpdateVectorStoreFileRequest, errors=(*BODY, 404)))
async def update_file(vector_store_id: str, file_id: str, request: Request, vs: Service) -> Response:
    body = parse_body(UpdateVectorStoreFileRequest, await read_json(request))
    return json_response(shown_file(await vs.update_file(vector_store_id, file_id, body.attributes, scope())))


@router.delete(FILE, **operation(ok="VectorStoreFileDeleted", errors=(400, 404)))
async def detach_file(vector_store_id: str, file_id: str, vs: Service) -> Response:
    await vs.detach(vector_store_id, file_id, scope())
    return json_response({"id": file_id, "object": "vector_store.file.deleted", "deleted": True})


@router.get(FILE + "/content", **operation(ok="VectorStoreFileContentPage", errors=(400, 404)))
async def file_content(vector_store_id: str, file_id: str, vs: Service) -> Response:
    texts = await vs.content(vector_store_id, file_id, scope())
    data = [{"type": "text", "text": text} for text in texts]
    return json_response(
        {"object": "vector_store.file_content.page", "data": data, "has_more": False, "next_page": None}
    )


@router.post(
    STORE + "/file_batches",
    **operation(ok="VectorStoreFileBatch", body=CreateFileBatchRequest, errors=(*BODY, 404)),
)
async def create_batch(vector_store_id: str, request: Request, vs: Service) -> Response:
    body = parse_body(CreateFileBatchRequest, await read_json(request))
    return json_response(shown_batch(await vs.create_batch(vector_store_id, body, scope())))


@router.get(BATCH, **operation(ok="VectorStoreFileBatch", errors=(400, 404)))
async def retrieve_batch(vector_store_id: str, batch_id: str, vs: Service) -> Response:
    return json_response(shown_batch(await vs.get_batch(vector_store_id, batch_id, scope())))


@router.post(BATCH + "/cancel", **operation(ok="VectorStoreFileBatch", errors=(400, 404)))
async def cancel_batch(vector_store_id: str, batch_id: str, vs: Service) -> Response:
    return json_response(shown_batch(await vs.cancel_batch(vector_store_id, batch_id, scope())))


@router.get(BATCH + "/files", **operation(ok="VectorStoreFileList", errors=(400, 404)))
async def list_batch_files(
    vector_store_id: str,
    batch_id: str,
    vs: Service,
    after: str | None = None,
    before: str | None = None,
    limit: Limit = 20,
    order: Order = "desc",
    status: Status = None,
) -> Response:
    rows, more = await vs.list_files(
        vector_store_id,
        scope(),
        after=after,
        before=before,
        limit=limit,
        order=order,
        status=status,
        batch_id=batch_id,
    )
    return list_page([shown_file(row) for row in rows], more)
