"""SQLAlchemy table definitions, shared by SQLite and PostgreSQL.

JSON payloads are stored as text encoded by orjson: both databases store it the same way, and
the server never queries inside it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
Serial = BigInteger().with_variant(Integer(), "sqlite")

responses = Table(
    "responses",
    metadata,
    Column("pk", Serial, primary_key=True, autoincrement=True),
    Column("id", String(80), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("model", String(256), nullable=False),
    Column("status", String(32), nullable=False),
    Column("previous_response_id", String(80)),
    Column("conversation_id", String(80)),
    Column("response", Text, nullable=False),  # the Response object, minus nothing
    Column("input_items", Text, nullable=False),  # the items given to this response
    Column("messages", Text, nullable=False),  # upstream chat messages to continue from
    Column("owner", String(120), nullable=False, server_default=""),  # "" when the server runs open
    # The first input text and output text, cut short (`store/preview.py`): the console's table
    # shows them and its text search reads them, without opening `response`.
    Column("input_text", Text, nullable=False, server_default=""),
    Column("output_text", Text, nullable=False, server_default=""),
    Column("trace", Text),  # timings and upstream calls (`StoredResponse.trace`), JSON
    Index("ix_responses_created", "created_at", "pk"),
    Index("ix_responses_owner_created", "owner", "created_at", "pk"),
    Index("ix_responses_model_created", "model", "created_at", "pk"),
    Index("ix_responses_status_created", "status", "created_at", "pk"),
    Index("ix_responses_conversation_created", "conversation_id", "created_at", "pk"),
    Index("ix_responses_previous_created", "previous_response_id", "created_at", "pk"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("next_position", BigInteger, nullable=False),  # reserved atomically by each append
    Column("turn_owner", String(80)),  # the response running a turn right now, if any
    Column("turn_expires_at", Float),  # when that lease lapses unless renewed
    Column("owner", String(120), nullable=False, server_default=""),
    Index("ix_conversations_created", "created_at", "id"),
    Index("ix_conversations_owner_created", "owner", "created_at", "id"),
)

conversation_items = Table(
    "conversation_items",
    metadata,
    Column("pk", Serial, primary_key=True, autoincrement=True),
    Column("conversation_id", String(80), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("id", String(120), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("item", Text, nullable=False),  # the item as given; message content keeps its shape
    UniqueConstraint("conversation_id", "id", name="uq_conversation_items_id"),
    Index("ix_conversation_items_position", "conversation_id", "position"),
    Index("ix_conversation_items_item_id", "id"),
)

# Which stored response holds an item (input or output) with this id: `item_reference` inputs.
response_items = Table(
    "response_items",
    metadata,
    Column("item_id", String(120), primary_key=True),
    Column("response_id", String(80), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_response_items_response", "response_id"),
)

# Keys the server makes once and every replica shares (the reasoning sealing key).
server_keys = Table(
    "server_keys",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

background_jobs = Table(
    "background_jobs",
    metadata,
    Column("response_id", String(80), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("request", Text, nullable=False),  # the validated create request, as JSON
    Column("context", Text, nullable=False),  # test id and provider data of the creating request
    Column("state", String(16), nullable=False),  # queued | running | done
    Column("owner", String(80)),  # the worker holding the lease
    Column("lease_expires_at", Float),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("finished_at", Float),  # the row is removed `job_retention_s` after this
    # `response` (response_id is the response's id) or `ingest` (a file to read into a vector
    # store; response_id is then the job's key, `vectors.ingest.job_key`)
    Column("kind", String(16), nullable=False, server_default="response"),
    Index("ix_background_jobs_state", "state", "created_at"),
)

# `Idempotency-Key` of create requests: the first request with a key runs, a repeat gets its
# answer (`result`, once there is one). Removed a day after `created_at`.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("owner", String(120), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("response_id", String(80), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("result", Text),
    Index("ix_idempotency_keys_created", "created_at"),
)

response_events = Table(
    "response_events",
    metadata,
    Column("response_id", String(80), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("event", Text, nullable=False),
)

# API keys (`responsa keys create`): only a SHA-256 of the key is kept; the key is shown once.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("owner", String(120), nullable=False),
    Column("admin", Boolean, nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
)

# Uploaded files (`/v1/files`): the metadata here, the bytes in `file_contents` (or, with
# `files_dir`, in that directory: then no content row). Deleting a file removes both.
files = Table(
    "files",
    metadata,
    Column("pk", Serial, primary_key=True, autoincrement=True),
    Column("id", String(80), nullable=False, unique=True),
    Column("owner", String(120), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger),
    Column("filename", Text, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("content_type", String(255), nullable=False),
    Index("ix_files_owner_created", "owner", "created_at", "pk"),
    Index("ix_files_created", "created_at", "pk"),
)

file_contents = Table(
    "file_contents",
    metadata,
    Column("file_id", String(80), ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
    Column("data", LargeBinary, nullable=False),  # bytea on PostgreSQL, BLOB on SQLite
)

# Prompt templates (`/v1/prompts`): a prompt names its latest and its default version; each
# version's text and declared variables (a JSON list) are a row of `prompt_versions`.
prompts = Table(
    "prompts",
    metadata,
    Column("pk", Serial, primary_key=True, autoincrement=True),
    Column("id", String(80), nullable=False, unique=True),
    Column("owner", String(120), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("latest_version", Integer, nullable=False),
    Column("default_version", Integer, nullable=False),
    Index("ix_prompts_owner_created", "owner", "created_at", "pk"),
    Index("ix_prompts_created", "created_at", "pk"),
)

prompt_versions = Table(
    "prompt_versions",
    metadata,
    Column("prompt_id", String(80), ForeignKey("prompts.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("prompt", Text, nullable=False),
    Column("variables", Text, nullable=False),
)

# Vector stores (`/v1/vector_stores`). `version` goes up with every change to what a search
# sees (chunks, attributes), so a process's cached vectors know when they are stale.
vector_stores = Table(
    "vector_stores",
    metadata,
    Column("pk", Serial, primary_key=True, autoincrement=True),
    Column("id", String(80), nullable=False, unique=True),
    Column("owner", String(120), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("expires_after", Text),
    Column("expires_at", BigInteger),
    Column("last_active_at", BigInteger),
    Column("embedding_model", String(256), nullable=False),
    Column("version", BigInteger, nullable=False, server_default="0"),
    Index("ix_vector_stores_owner_created", "owner", "created_at", "pk"),
)

vector_store_batches = Table(
    "vector_store_batches",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("vector_store_id", String(80), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("cancelled", Boolean, nullable=False, server_default="0"),
)

vector_store_files = Table(
    "vector_store_files",
    metadata,
    Column("pk", Serial, primary_key=True, autoincrement=True),
    Column("vector_store_id", String(80), nullable=False),
    Column("file_id", String(80), nullable=False),
    Column("batch_id", String(80)),
    Column("created_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # in_progress | completed | failed | cancelled
    Column("last_error", Text),  # {"code", "message"} as JSON
    Column("attributes", Text, nullable=False),
    Column("chunking", Text, nullable=False),  # the resolved chunking strategy, as JSON
    Column("usage_bytes", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("vector_store_id", "file_id", name="uq_vector_store_files"),
    Index("ix_vector_store_files_batch", "batch_id"),
)

vector_store_chunks = Table(
    "vector_store_chunks",
    metadata,
    Column("pk", Serial, primary_key=True, autoincrement=True),
    Column("vector_store_id", String(80), nullable=False),
    Column("file_id", String(80), nullable=False),
    Column("position", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("vector", LargeBinary, nullable=False),  # float32, little-endian
    Index("ix_vector_store_chunks_file", "vector_store_id", "file_id", "position"),
)
