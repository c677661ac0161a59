"""`/v1/files` routes: upload (multipart/form-data), list, retrieve, content, delete.

An upload is read as it arrives: the file part is spooled to a temporary file (Starlette's
`UploadFile`), never held whole in memory while the body is parsed, and a body larger than
`max_file_bytes` (plus a little for the form's other fields) is refused with a 413 as soon as
it is seen to be. Storage and lookups are `files/storage.py`.
"""

from __future__ import annotations

import urllib.parse
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.types import Message

from responsa.api.deps import Order, json_response, list_page, scope
from responsa.api.openapi import FILE_UPLOAD, operation
from responsa.auth.principal import current_principal
from responsa.errors import InvalidRequest, PayloadTooLarge
from responsa.files import storage
from responsa.files.storage import Files
from responsa.store.base import StoredFile

router = APIRouter()

FORM_SLACK = 64 * 1024  # the boundaries, part headers and the small fields beside the file
Limit = Annotated[int, Query(ge=1, le=10000)]


async def files(request: Request) -> Files:
    result: Files = request.app.state.files
    return result


def shown(file: StoredFile) -> dict[str, object]:
    """The SDK's `FileObject`."""
    return {
        "id": file.id,
        "object": "file",
        "bytes": file.bytes,
        "created_at": file.created_at,
        "expires_at": file.expires_at,
        "filename": file.filename,
        "purpose": file.purpose,
        "status": "processed",
        "status_details": None,
    }


async def _read_form(request: Request, limit: int) -> FormData:
    """The multipart form, its body counted as it arrives: over `limit` (and the slack) is a 413."""
    too_large = PayloadTooLarge(
        f"The file is larger than the limit of {limit} bytes (setting max_file_bytes).", param="file"
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + FORM_SLACK:
        raise too_large
    seen = 0

    async def counting() -> Message:
        nonlocal seen
        message = await request.receive()
        seen += len(message.get("body", b""))
        if seen > limit + FORM_SLACK:
            raise too_large
        return message

    counted = Request(request.scope, counting)
    try:
        return await counted.form(max_files=1, max_fields=8)
    except HTTPException as exc:  # python-multipart could not parse it
        raise InvalidRequest(f"The multipart/form-data body could not be read: {exc.detail}.") from None


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if isinstance(value, UploadFile):
        raise InvalidRequest(f"Invalid value for '{name}': expected a text field, not a file.", param=name)
    return value


@router.post("/v1/files", **operation(ok="FileObject", form=FILE_UPLOAD, errors=(400, 403, 413, 429)))
async def create_file(request: Request, files: Annotated[Files, Depends(files)]) -> Response:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        raise InvalidRequest(
            "Uploads are multipart/form-data, with the fields 'file' and 'purpose'.", param="file"
        )
    form = await _read_form(request, files.limit)
    try:
        purpose = storage.check_purpose(_field(form, "purpose"))
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest("Missing required parameter: 'file' (a file part).", param="file")
        expires = storage.expiry_seconds(
            _field(form, "expires_after[anchor]"), _field(form, "expires_after[seconds]")
        )
        filename = storage.check_filename(upload.filename)
        size = upload.size if upload.size is not None else 0
        await upload.seek(0)
        owner = current_principal.get().owner
        stored = await files.create(upload.file, size, filename, upload.content_type, purpose, expires, owner)
    finally:
        await form.close()
    return json_response(shown(stored))


@router.get("/v1/files", **operation(ok="FileList", errors=(400,)))
async def list_files(
    files: Annotated[Files, Depends(files)],
    after: str | None = None,
    limit: Limit = 10000,
    order: Order = "desc",
    purpose: str | None = None,
) -> Response:
    page = await files.list(after=after, limit=limit, order=order, purpose=purpose, owner=scope())
    return list_page([shown(file) for file in page.rows], page.has_more)


@router.get("/v1/files/{file_id}", **operation(ok="FileObject", errors=(400, 404)))
async def retrieve_file(file_id: str, files: Annotated[Files, Depends(files)]) -> Response:
    return json_response(shown(await files.get(file_id, scope())))


@router.get("/v1/files/{file_id}/content", **operation(ok=None, errors=(400, 404)))
async def file_content(file_id: str, files: Annotated[Files, Depends(files)]) -> Response:
    file = await files.get(file_id, scope())
    path = files.local_path(file)
    if path is not None:
        return FileResponse(path, media_type=file.content_type, filename=file.filename)
    disposition = f"attachment; filename*=utf-8''{urllib.parse.quote(file.filename)}"
    return Response(
        await files.content(file),
        media_type=file.content_type,
        headers={"content-disposition": disposition},
    )


@router.delete("/v1/files/{file_id}", **operation(ok="FileDeleted", errors=(400, 404)))
async def delete_file(request: Request, file_id: str, files: Annotated[Files, Depends(files)]) -> Response:
    await files.delete(file_id, scope())
    await request.app.state.vector_stores.detach_everywhere(file_id)  # its chunks go too
    return json_response({"id": file_id, "object": "file", "deleted": True})
