"""The Store interface: what the engine and the routes need from persistence.

    store = SqlStore("sqlite:///responsa.db")
    await store.start()                   # connects and applies migrations
    await store.save_response(stored)     # one write per finished response
    stored = await store.get_response("resp_...")
    await store.save_response(stored, conversation_items=[...])   # ... and its conversation turn

Conversation turns are serialized by a lease in the database (`acquire_turn` / `release_turn`),
so replicas on one PostgreSQL serialize them too.

Implementations raise nothing for missing rows: lookups return None and deletes return False;
the engine decides which error the client sees.

Ownership: responses, conversations, files and prompts carry an `owner` (their items, events and jobs follow
them). Every lookup takes `owner`: a row of another owner is "missing" (so the client sees a
404, never whether it exists); `owner=None` means any owner (admin keys).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from responsa.types import ChatMessages, Item

Order = Literal["asc", "desc"]


@dataclass(slots=True)
class StoredResponse:
    id: str
    created_at: int
    model: str
    status: str
    response: dict[str, Any]
    input_items: list[Item] = field(default_factory=list)
    messages: ChatMessages = field(default_factory=list)
    previous_response_id: str | None = None
    conversation_id: str | None = None
    owner: str = ""
    # What the server saw while making it (`observability/watch.ResponseWatch.trace`): time to
    # first output, duration, and each upstream call with its recording outcome. Never sent to
    # API clients; the console shows it.
    trace: dict[str, Any] | None = None


@dataclass(slots=True)
class ResponseFilter:
    """What the console narrows a list of responses to (every field optional): a status, a
    conversation, the response continued, text found in the first input or output text, and a
    `created_at` range."""

    status: str | None = None
    conversation_id: str | None = None
    previous_response_id: str | None = None  # the responses that continue this one
    text: str | None = None
    created_after: int | None = None
    created_before: int | None = None


@dataclass(slots=True)
class JobRow:
    """A background response's job as the console lists it: its state, the replica (worker)
    holding it, and its response's model and status."""

    response_id: str
    state: str
    worker: str | None
    created_at: float
    attempts: int
    cancel_requested: bool
    finished_at: float | None
    model: str
    status: str


@dataclass(slots=True)
class ConversationPage:
    rows: list[StoredConversation]
    has_more: bool


@dataclass(slots=True)
class StoredConversation:
    id: str
    created_at: int
    metadata: dict[str, str]
    owner: str = ""


@dataclass(slots=True)
class ApiKey:
    """An API key's record; the key itself is never stored, only its SHA-256."""

    id: str
    name: str
    owner: str
    admin: bool
    key_hash: str
    created_at: int
    revoked_at: int | None = None


@dataclass(slots=True)
class ItemPage:
    items: list[Item]
    has_more: bool


@dataclass(slots=True)
class Job:
    """A background response to run: its create request and the caller's context."""

    response_id: str
    request: dict[str, Any]
    context: dict[str, Any]
    attempts: int = 0
    kind: str = "response"  # or "ingest": `response_id` is then the ingest job's key


@dataclass(slots=True)
class IdempotencyRecord:
    """A claimed `Idempotency-Key`: the request it was first used with, the response that request
    runs, and the answer it gave (None while it runs)."""

    request_hash: str
    response_id: str
    created_at: float
    result: dict[str, Any] | None = None


@dataclass(slots=True)
class Page:
    rows: list[StoredResponse]
    has_more: bool


@dataclass(slots=True)
class StoredFile:
    """An uploaded file's metadata (`/v1/files`); its bytes are read apart (`file_data`)."""

    id: str
    created_at: int
    filename: str
    purpose: str
    bytes: int
    content_type: str
    expires_at: int | None = None
    owner: str = ""


@dataclass(slots=True)
class FilePage:
    rows: list[StoredFile]
    has_more: bool


@dataclass(slots=True)
class StoredPrompt:
    """One version of a prompt template (`/v1/prompts`): its text with `{{ name }}`
    placeholders, the variable names it declares, and whether it is the prompt's default."""

    id: str
    version: int
    prompt: str
    variables: list[str]
    is_default: bool
    created_at: int
    owner: str = ""


class Store(ABC):
    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def save_response(
        self, stored: StoredResponse, conversation_items: list[Item] | None = None, *, existing: bool = False
    ) -> None:
        """Insert or replace a response with its items and messages, and append
        `conversation_items` to `stored.conversation_id`, all in one transaction. With
        `existing`, only a response still stored is updated (a background response deleted
        while it ran stays deleted)."""

    @abstractmethod
    async def get_response(self, response_id: str, owner: str | None = None) -> StoredResponse | None: ...

    @abstractmethod
    async def response_status(self, response_id: str) -> str | None:
        """Just the status (cheap to poll); None if no such response."""

    @abstractmethod
    async def delete_response(self, response_id: str, owner: str | None = None) -> bool:
        """Delete a response with everything of it: its events, its job, its item index rows."""

    @abstractmethod
    async def find_items(self, item_ids: list[str], owner: str | None = None) -> dict[str, Item]:
        """Stored items by id: input and output items of stored responses (the newest response
        holding an id wins) and conversation items; ids found nowhere are left out."""

    @abstractmethod
    async def server_key(self, name: str, make: Callable[[], str]) -> str:
        """The server's key `name`, made with `make()` the first time (once, across replicas)."""

    @abstractmethod
    async def list_responses(
        self,
        *,
        after: str | None,
        before: str | None,
        limit: int,
        order: Order,
        model: str | None,
        owner: str | None = None,
        where: ResponseFilter | None = None,
    ) -> Page | None:
        """A page of responses; None when the `after`/`before` cursor names no stored response."""

    @abstractmethod
    async def list_conversations(
        self, *, after: str | None, limit: int, owner: str | None = None
    ) -> ConversationPage | None:
        """Conversations, newest first; None when `after` names no conversation of the owner's."""

    @abstractmethod
    async def list_jobs(self, *, limit: int, owner: str | None = None) -> list[JobRow]:
        """The background response jobs still kept, queued and running first, then the newest."""

    # Conversations

    @abstractmethod
    async def create_conversation(self, conversation: StoredConversation, items: list[Item]) -> None: ...

    @abstractmethod
    async def get_conversation(
        self, conversation_id: str, owner: str | None = None
    ) -> StoredConversation | None: ...

    @abstractmethod
    async def update_conversation(
        self, conversation_id: str, metadata: dict[str, str], owner: str | None = None
    ) -> StoredConversation | None: ...

    @abstractmethod
    async def delete_conversation(self, conversation_id: str, owner: str | None = None) -> bool:
        """Delete a conversation and its items."""

    @abstractmethod
    async def add_items(
        self, conversation_id: str, items: list[Item], created_at: int, owner: str | None = None
    ) -> bool:
        """Append items (an item whose id is already there is replaced in place); False if no
        such conversation (of this owner)."""

    @abstractmethod
    async def list_items(
        self, conversation_id: str, *, after: str | None, limit: int | None, order: Order
    ) -> ItemPage | None:
        """Items in order; None when `after` names no item of the conversation."""

    @abstractmethod
    async def all_items(self, conversation_id: str, owner: str | None = None) -> list[Item] | None:
        """Every item in order, read together with the conversation; None if it does not exist."""

    @abstractmethod
    async def item_ids(self, conversation_id: str) -> list[str]:
        """The ids of the conversation's items in order (cheap: no item is decoded)."""

    @abstractmethod
    async def get_item(self, conversation_id: str, item_id: str) -> Item | None: ...

    @abstractmethod
    async def delete_item(self, conversation_id: str, item_id: str) -> bool: ...

    @abstractmethod
    async def acquire_turn(self, conversation_id: str, owner: str, ttl_s: float) -> bool | None:
        """Take the conversation's turn lease if it is free or lapsed: True if taken, False if
        held by another owner, None if the conversation does not exist. Also renews one's own."""

    @abstractmethod
    async def release_turn(self, conversation_id: str, owner: str) -> None: ...

    # Background jobs and their events

    @abstractmethod
    async def enqueue(self, stored: StoredResponse, job: Job, events: list[dict[str, Any]]) -> None:
        """Store the queued response, its job and its first events in one transaction."""

    @abstractmethod
    async def active_jobs(self, owner: str) -> int:
        """How many background responses of this owner are queued or running."""

    @abstractmethod
    async def queued_jobs(self) -> int:
        """How many background responses wait for a worker, on every replica (for metrics)."""

    @abstractmethod
    async def claim_job(self, owner: str, lease_s: float) -> Job | None:
        """Take the oldest job that is queued or whose lease lapsed (a dead worker's)."""

    @abstractmethod
    async def renew_job(self, response_id: str, owner: str, lease_s: float) -> bool | None:
        """Extend the lease: True if cancellation was requested, False if not, None if lost."""

    @abstractmethod
    async def job_active(self, response_id: str) -> bool:
        """Whether the response's job is queued or running: its worker may still store events."""

    @abstractmethod
    async def finish_job(self, response_id: str, owner: str) -> None: ...

    @abstractmethod
    async def release_job(self, response_id: str, owner: str) -> None:
        """Give a job back (graceful shutdown) so another worker continues it now."""

    @abstractmethod
    async def request_cancel(self, response_id: str) -> bool:
        """Ask the job's worker to stop; False when the job had not started (it is then done)."""

    @abstractmethod
    async def append_events(self, response_id: str, events: list[dict[str, Any]]) -> None:
        """Store events in one transaction, each under its `sequence_number`; nothing when the
        response was deleted meanwhile."""

    @abstractmethod
    async def events_after(self, response_id: str, after: int) -> list[tuple[int, dict[str, Any]]]: ...

    @abstractmethod
    async def last_event_seq(self, response_id: str) -> int | None:
        """The highest stored sequence number of the response's events; None if it has none."""

    @abstractmethod
    async def wait_for_events(self, response_id: str, timeout: float) -> None:
        """Sleep until new events may exist (PostgreSQL: LISTEN/NOTIFY; SQLite: polling)."""

    # API keys

    @abstractmethod
    async def remove_finished_jobs(self, before: float) -> int:
        """Remove the rows of jobs that finished before `before` (their responses stay)."""

    # Idempotency keys (`Idempotency-Key` on create requests), per owner.
    @abstractmethod
    async def claim_key(
        self, owner: str, key: str, request_hash: str, response_id: str, now: float
    ) -> IdempotencyRecord | None:
        """Claim the key for a new request: None if it was free, else the existing claim."""

    @abstractmethod
    async def key_record(self, owner: str, key: str) -> IdempotencyRecord | None: ...

    @abstractmethod
    async def settle_key(self, owner: str, key: str, response_id: str, result: dict[str, Any]) -> None:
        """Keep the answer the claiming request gave, for repeats to get."""

    @abstractmethod
    async def release_key(self, owner: str, key: str, response_id: str) -> None:
        """Give up an unanswered claim (the request failed or its client left): a retry runs."""

    @abstractmethod
    async def remove_expired_keys(self, before: float) -> int: ...

    @abstractmethod
    async def add_api_key(self, key: ApiKey) -> None: ...

    @abstractmethod
    async def api_key(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or not."""

    @abstractmethod
    async def list_api_keys(self) -> list[ApiKey]: ...

    @abstractmethod
    async def revoke_api_key(self, key_id: str, when: int) -> bool: ...

    @abstractmethod
    async def has_api_keys(self) -> bool:
        """Whether any key that is not revoked exists."""

    # Files (an expired file is missing, as a deleted one is)

    @abstractmethod
    async def save_file(self, file: StoredFile, data: bytes | None) -> None:
        """Store a file's metadata and, unless its bytes live elsewhere (None), its bytes."""

    @abstractmethod
    async def get_file(self, file_id: str, owner: str | None = None) -> StoredFile | None: ...

    @abstractmethod
    async def find_files(self, file_ids: list[str], owner: str | None = None) -> dict[str, StoredFile]:
        """The files with these ids; ids of no file (for this owner) are left out."""

    @abstractmethod
    async def file_data(self, file_id: str) -> bytes | None:
        """A file's bytes kept in the database, or None (no such file, or kept elsewhere)."""

    @abstractmethod
    async def list_files(
        self, *, after: str | None, limit: int, order: Order, purpose: str | None, owner: str | None = None
    ) -> FilePage | None:
        """A page of files; None when the `after` cursor names no file of this owner."""

    @abstractmethod
    async def delete_file(self, file_id: str, owner: str | None = None) -> bool:
        """Delete a file's metadata and its bytes in the database, at once and for good."""

    # Prompt templates: a prompt and its numbered versions, one of them the default

    @abstractmethod
    async def save_prompt(self, prompt: StoredPrompt) -> None:
        """Store a new prompt with its first version (the default)."""

    @abstractmethod
    async def get_prompt(
        self, prompt_id: str, version: int | None = None, owner: str | None = None
    ) -> StoredPrompt | None:
        """One version of a prompt (None: its default version)."""

    @abstractmethod
    async def list_prompts(self, owner: str | None = None) -> list[StoredPrompt]:
        """The default version of every prompt, newest prompt first."""

    @abstractmethod
    async def prompt_versions(self, prompt_id: str, owner: str | None = None) -> list[StoredPrompt] | None:
        """Every version of a prompt, oldest first; None when there is no such prompt."""

    @abstractmethod
    async def add_prompt_version(
        self, prompt: StoredPrompt, after: int, make_default: bool, owner: str | None = None
    ) -> bool:
        """Store `prompt` (its `version` is `after + 1`) if `after` is still the prompt's latest
        version; False when it is not (another update came first) or the prompt is gone."""

    @abstractmethod
    async def set_default_prompt_version(
        self, prompt_id: str, version: int, owner: str | None = None
    ) -> StoredPrompt | None:
        """Make a version the default and return it; None when the prompt has no such version."""

    @abstractmethod
    async def delete_prompt(self, prompt_id: str, owner: str | None = None) -> bool:
        """Delete a prompt with every version."""
