"""Files: upload, look up, read and delete, with the bytes in the database or a directory.

    files = Files(store, directory=None, limit=64 << 20)
    stored = await files.create(upload, size, "notes.txt", "text/plain", "user_data", None, owner)
    data = await files.content(stored)       # the bytes, from wherever they live
    await files.delete(stored.id, owner)     # metadata and bytes, for good

In the database (the default) every replica reads the same bytes; a directory (`files_dir`)
suits one machine. A file of another owner, a deleted or an expired one is not found (404).
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import BinaryIO

from responsa.errors import InvalidRequest, NotFound, PayloadTooLarge
from responsa.store.base import FilePage, Order, Store, StoredFile

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
BATCH_EXPIRY_S = 30 * 86400  # OpenAI's default for purpose=batch
EXPIRY_RANGE_S = (3600, 30 * 86400)  # what `expires_after.seconds` may be
MAX_FILENAME = 512
OCTET_STREAM = "application/octet-stream"


def new_file_id() -> str:
    return f"file-{secrets.token_hex(12)}"


def content_type(filename: str, declared: str | None = None) -> str:
    """The type guessed from the file name, else the one the upload declared, else bytes."""
    guessed = mimetypes.guess_type(filename)[0]
    if guessed:
        return guessed
    declared = (declared or "").split(";")[0].strip().lower()
    return declared if declared and "/" in declared and len(declared) <= 255 else OCTET_STREAM


def check_purpose(purpose: object) -> str:
    if purpose not in PURPOSES:
        raise InvalidRequest(
            f"Invalid value for 'purpose': expected one of {', '.join(PURPOSES)}, got {purpose!r}.",
            param="purpose",
        )
    return str(purpose)


def check_filename(filename: str | None) -> str:
    name = os.path.basename((filename or "").replace("\\", "/"))
    if not name or len(name) > MAX_FILENAME or "\x00" in name:
        raise InvalidRequest(
            f"Invalid value for 'file': the upload needs a file name of 1 to {MAX_FILENAME} characters.",
            param="file",
        )
    return name


def expiry_seconds(anchor: str | None, seconds: str | None) -> int | None:
    """`expires_after[anchor]` and `expires_after[seconds]` (form fields) as seconds, or None."""
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        raise InvalidRequest(
            "Invalid value for 'expires_after.anchor': expected 'created_at'.", param="expires_after.anchor"
        )
    low, high = EXPIRY_RANGE_S
    if seconds is None or not seconds.strip().isdigit() or not low <= int(seconds) <= high:
        raise InvalidRequest(
            f"Invalid value for 'expires_after.seconds': expected an integer from {low} to {high}.",
            param="expires_after.seconds",
        )
    return int(seconds)


def not_found(file_id: str, param: str = "file_id") -> NotFound:
    return NotFound(f"No such File object: {file_id}", param=param)


def _copy(source: BinaryIO, target: Path) -> None:
    """Write `source` to `target` whole or not at all (a temporary name, then a rename)."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        with partial.open("wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


class Files:
    def __init__(self, store: Store, directory: Path | None = None, limit: int = 64 << 20) -> None:
        self.store = store
        self.directory = directory.expanduser() if directory is not None else None
        self.limit = limit
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"The file is larger than the limit of {self.limit} bytes (setting max_file_bytes).",
            param="file",
        )

    def _path(self, file_id: str) -> Path | None:
        return self.directory / file_id if self.directory is not None else None

    async def create(
        self,
        source: BinaryIO,
        size: int,
        filename: str,
        declared_type: str | None,
        purpose: str,
        expires_after_s: int | None,
        owner: str,
    ) -> StoredFile:
        """Store an upload (`source` at its start, `size` bytes) and return its record."""
        if size > self.limit:
            raise self.too_large()
        now = int(time.time())
        if expires_after_s is None and purpose == "batch":
            expires_after_s = BATCH_EXPIRY_S
        stored = StoredFile(
            id=new_file_id(),
            created_at=now,
            filename=filename,
            purpose=purpose,
            bytes=size,
            content_type=content_type(filename, declared_type),
            expires_at=now + expires_after_s if expires_after_s is not None else None,
            owner=owner,
        )
        path = self._path(stored.id)
        if path is None:
            await self.store.save_file(stored, await asyncio.to_thread(source.read))
            return stored
        await asyncio.to_thread(_copy, source, path)
        try:
            await self.store.save_file(stored, None)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return stored

    async def get(self, file_id: str, owner: str | None) -> StoredFile:
        found = await self.store.get_file(file_id, owner)
        if found is None:
            raise not_found(file_id)
        return found

    async def find(self, file_ids: list[str], owner: str | None) -> dict[str, StoredFile]:
        return await self.store.find_files(file_ids, owner) if file_ids else {}

    def local_path(self, file: StoredFile) -> Path | None:
        """Where the file's bytes are on this machine (`files_dir`), or None (the database)."""
        path = self._path(file.id)
        return path if path is not None and path.is_file() else None

    async def content(self, file: StoredFile) -> bytes:
        """The file's bytes. A file stored under the other setting (the database, or a directory)
        than the server runs with now is a 404 too, naming where its bytes were."""
        data = await self.store.file_data(file.id)
        if data is None and (path := self.local_path(file)) is not None:
            data = await asyncio.to_thread(path.read_bytes)
        if data is None:
            raise NotFound(
                f"The content of file {file.id} is not available on this server "
                "(it was stored with another files_dir setting).",
                param="file_id",
            )
        return data

    async def list(
        self, *, after: str | None, limit: int, order: Order, purpose: str | None, owner: str | None
    ) -> FilePage:
        page = await self.store.list_files(
            after=after, limit=limit, order=order, purpose=purpose, owner=owner
        )
        if page is None:
            raise InvalidRequest(f"Invalid value for 'after': no file '{after}'.", param="after")
        return page

    async def delete(self, file_id: str, owner: str | None) -> None:
        if not await self.store.delete_file(file_id, owner):
            raise not_found(file_id)
        path = self._path(file_id)
        if path is not None:
            await asyncio.to_thread(path.unlink, True)
