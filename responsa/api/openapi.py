"""The OpenAPI document (`GET /openapi.json`): what every route takes and what it can answer.

Each route declares its own contract next to its code, with `operation(...)`:

    @router.post("/v1/conversations", **operation(ok="Conversation", body=CreateConversationRequest,
                                                  errors=BODY))

* `body` is the pydantic model that validates the request (the one `parse_body` uses), so the
  documented schema is the enforced one;
* `ok` names the success schema: an SDK type (`openai.types...`), or one of the few wire
  shapes the SDK lacks, defined below (`ResponseList`, `ModelList`, ...); `stream` names the
  schemas of a stream's events, and adds `text/event-stream` beside it; `status=204` is a
  success with no body (`DELETE /v1/prompts/{prompt_id}`, as the reference server answers it);
* `errors` lists the statuses the route itself can return; `document` adds the guard's
  (`auth/guard.py`) to every route: 400 (a bad Host header), 401 (authentication on; not
  `/v1/health`) and, for POST and PUT routes, 415 (a body that is not JSON). Every error has the
  OpenAI envelope, `ErrorResponse`. Bodies are JSON, but for the one upload route
  (`POST /v1/files`, multipart/form-data: `form`).

`document(app)` builds FastAPI's document once and finishes it: FastAPI adds a 422 with its
own validation-error schema to every route with parameters, which this server never sends
(validation errors are 400s, `api/handlers.py`), so those go; the schemas above become
components.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from openai.types import FileDeleted, Model, VectorStore, VectorStoreDeleted, VectorStoreSearchResponse
from openai.types import FileObject as SdkFileObject
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.conversations import (
    Conversation,
    ConversationDeletedResource,
    ConversationItem,
    ConversationItemList,
)
from openai.types.responses import (
    InputTokenCountResponse,
    Response,
    ResponseCompactionItem,
    ResponseItemList,
    ResponseStreamEvent,
    ResponseUsage,
)
from openai.types.responses.response_input_item import Message as InputMessage
from openai.types.vector_stores import (
    FileContentResponse,
    VectorStoreFile,
    VectorStoreFileBatch,
    VectorStoreFileDeleted,
)
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from starlette.responses import Response as StarletteResponse

from responsa.auth.guard import BODY_METHODS, OPEN_PATHS
from responsa.engine.conversations import CONVERSATION_ID
from responsa.engine.request import (
    ChatCompletionRequest,
    CompactRequest,
    CreateConversationRequest,
    CreateEmbeddingRequest,
    CreateItemsRequest,
    CreateResponseRequest,
    InputTokensRequest,
    UpdateConversationRequest,
)
from responsa.files.storage import EXPIRY_RANGE_S, PURPOSES
from responsa.prompts.requests import CreatePromptRequest, SetDefaultVersionRequest, UpdatePromptRequest
from responsa.vector_stores.requests import (
    CreateFileBatchRequest,
    CreateVectorStoreFileRequest,
    CreateVectorStoreRequest,
    SearchVectorStoreRequest,
    UpdateVectorStoreFileRequest,
    UpdateVectorStoreRequest,
)

Status = int | Literal["4XX"]


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    """Every error this server sends: `{"error": {"message", "type", "param", "code"}}`."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorBody


class ResponseList(BaseModel):
    """`GET /v1/responses`: a cursor page of stored responses (the SDK has no type for it)."""

    object: Literal["list"]
    data: list[Response]
    first_id: str
    last_id: str
    has_more: bool


class ResponseDeleted(BaseModel):
    id: str
    object: Literal["response"]
    deleted: Literal[True]


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[Model]


class ProviderHealth(BaseModel):
    status: str


class ProviderInfo(BaseModel):
    api: str
    provider_id: str
    provider_type: str
    config: dict[str, Any]
    health: ProviderHealth


class ProviderList(BaseModel):
    data: list[ProviderInfo]


class Health(BaseModel):
    status: Literal["OK"]


class Connector(BaseModel):
    """A configured MCP connector (`tools/connectors.py`), the reference server's shape."""

    connector_type: Literal["mcp"]
    connector_id: str
    url: str
    server_label: str | None
    server_name: str | None
    server_description: str | None
    server_version: str | None


class ConnectorList(BaseModel):
    object: Literal["list"]
    data: list[Connector]


class ConnectorTool(BaseModel):
    name: str
    description: str | None
    input_schema: dict[str, Any] | None


class ConnectorToolList(BaseModel):
    object: Literal["list"]
    data: list[ConnectorTool]


class CompactionResult(BaseModel):
    """`response.compaction` as sent: the SDK's `CompactedResponse` types its output as output
    items, which have no user message, yet the output is the history's user messages (input
    messages) followed by one compaction item."""

    id: str
    object: Literal["response.compaction"]
    created_at: int
    output: list[InputMessage | ResponseCompactionItem]
    usage: ResponseUsage


class EmbeddingItem(BaseModel):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str  # a string with `encoding_format: base64` (the SDK's type says floats)


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    """`POST /v1/embeddings`: the SDK's `CreateEmbeddingResponse`, with base64 vectors allowed."""

    object: Literal["list"]
    data: list[EmbeddingItem]
    model: str
    usage: EmbeddingUsage


class FileObject(SdkFileObject):
    """The SDK's `FileObject`, with every purpose an upload may have: its type lacks `evals`."""

    purpose: Literal[  # type: ignore[assignment]
        "assistants",
        "assistants_output",
        "batch",
        "batch_output",
        "fine-tune",
        "fine-tune-results",
        "vision",
        "user_data",
        "evals",
    ]


class FileList(BaseModel):
    """`GET /v1/files`: a cursor page of files."""

    object: Literal["list"]
    data: list[FileObject]
    first_id: str
    last_id: str
    has_more: bool


class VectorStoreList(BaseModel):
    object: Literal["list"]
    data: list[VectorStore]
    first_id: str
    last_id: str
    has_more: bool


class VectorStoreFileList(BaseModel):
    object: Literal["list"]
    data: list[VectorStoreFile]
    first_id: str
    last_id: str
    has_more: bool


class VectorStoreSearchResultsPage(BaseModel):
    object: Literal["vector_store.search_results.page"]
    search_query: list[str]
    data: list[VectorStoreSearchResponse]
    has_more: bool
    next_page: str | None


class VectorStoreFileContentPage(BaseModel):
    object: Literal["vector_store.file_content.page"]
    data: list[FileContentResponse]
    has_more: bool
    next_page: str | None


class Prompt(BaseModel):
    """A version of a prompt template, in the reference server's (OGX) shape (the SDK has none)."""

    prompt: str | None
    version: int = Field(ge=1)
    prompt_id: str
    variables: list[str]
    is_default: bool


class PromptList(BaseModel):
    """`GET /v1/prompts` and `.../versions`: OGX's `ListPromptsResponse`, every row, no cursor."""

    data: list[Prompt]


# `POST /v1/files`: the multipart form the SDK sends (`expires_after` flattened to two fields).
FILE_UPLOAD: dict[str, Any] = {
    "type": "object",
    "required": ["file", "purpose"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "The file, with its file name."},
        "purpose": {"type": "string", "enum": list(PURPOSES)},
        "expires_after[anchor]": {"type": "string", "enum": ["created_at"]},
        "expires_after[seconds]": {
            "type": "integer",
            "minimum": EXPIRY_RANGE_S[0],
            "maximum": EXPIRY_RANGE_S[1],
        },
    },
}
BINARY = {"*/*": {"schema": {"type": "string", "format": "binary"}}}

# Every schema the document names, by component name.
SCHEMAS: dict[str, Any] = {
    "ErrorResponse": ErrorResponse,
    "CreateResponseRequest": CreateResponseRequest,
    "CreateConversationRequest": CreateConversationRequest,
    "UpdateConversationRequest": UpdateConversationRequest,
    "CreateItemsRequest": CreateItemsRequest,
    "ChatCompletionRequest": ChatCompletionRequest,
    "CompactRequest": CompactRequest,
    "InputTokensRequest": InputTokensRequest,
    "CreateEmbeddingRequest": CreateEmbeddingRequest,
    "EmbeddingList": EmbeddingList,
    "CompactedResponse": CompactionResult,
    "InputTokenCountResponse": InputTokenCountResponse,
    "Response": Response,
    "ResponseStreamEvent": ResponseStreamEvent,
    "ResponseList": ResponseList,
    "ResponseDeleted": ResponseDeleted,
    "ResponseItemList": ResponseItemList,
    "Conversation": Conversation,
    "ConversationDeletedResource": ConversationDeletedResource,
    "ConversationItem": ConversationItem,
    "ConversationItemList": ConversationItemList,
    "ChatCompletion": ChatCompletion,
    "ChatCompletionChunk": ChatCompletionChunk,
    "Model": Model,
    "ModelList": ModelList,
    "ProviderList": ProviderList,
    "Health": Health,
    "Connector": Connector,
    "ConnectorList": ConnectorList,
    "ConnectorToolList": ConnectorToolList,
    "FileObject": FileObject,
    "FileList": FileList,
    "FileDeleted": FileDeleted,
    "CreateVectorStoreRequest": CreateVectorStoreRequest,
    "UpdateVectorStoreRequest": UpdateVectorStoreRequest,
    "CreateVectorStoreFileRequest": CreateVectorStoreFileRequest,
    "UpdateVectorStoreFileRequest": UpdateVectorStoreFileRequest,
    "CreateFileBatchRequest": CreateFileBatchRequest,
    "SearchVectorStoreRequest": SearchVectorStoreRequest,
    "VectorStore": VectorStore,
    "VectorStoreList": VectorStoreList,
    "VectorStoreDeleted": VectorStoreDeleted,
    "VectorStoreFile": VectorStoreFile,
    "VectorStoreFileList": VectorStoreFileList,
    "VectorStoreFileDeleted": VectorStoreFileDeleted,
    "VectorStoreFileBatch": VectorStoreFileBatch,
    "VectorStoreSearchResultsPage": VectorStoreSearchResultsPage,
    "VectorStoreFileContentPage": VectorStoreFileContentPage,
    "CreatePromptRequest": CreatePromptRequest,
    "UpdatePromptRequest": UpdatePromptRequest,
    "SetDefaultVersionRequest": SetDefaultVersionRequest,
    "Prompt": Prompt,
    "PromptList": PromptList,
}

ERRORS: dict[Status, str] = {
    400: "Invalid request: a bad parameter, body, header or id (OpenAI's invalid_request_error).",
    401: "Authentication is on and the request carries no valid API key or JWT.",
    404: "Not found: the object (or, for an upstream call, the model) does not exist for this caller.",
    409: "Conflict with the object's state.",
    403: "The upstream refused the request (its own error, passed through), or an upload came from a "
    "web page whose origin is not allowed.",
    413: "The request body, or its decoded form, is larger than the limit (RESPONSA_MAX_BODY_BYTES; "
    "for an upload, RESPONSA_MAX_FILE_BYTES).",
    415: "A request body that is not `Content-Type: application/json`.",
    424: "A tool server (MCP) the request names could not be used.",
    429: "Too many requests: a per-owner limit, or the upstream's rate limit (with Retry-After).",
    500: "In replay mode, no recording matches the upstream call (code `replay_miss`).",
    502: "The upstream failed, timed out or could not be reached.",
    503: "The request asks for a capability this server has not configured (`guardrails`: no "
    "safety provider).",
    "4XX": "Any other 4xx the upstream answered, passed through with its message, type, param and code.",
}

# A route that reads a JSON body (`api/deps.read_json`); 429: no turn for a large one (`api/bodies.py`).
BODY: tuple[Status, ...] = (400, 413, 429)
UPSTREAM: tuple[Status, ...] = (403, 404, 429, 500, 502, "4XX")  # a route that calls the model


def ref(name: str) -> dict[str, str]:
    if name not in SCHEMAS:
        raise KeyError(f"no schema named {name!r} in responsa.api.openapi.SCHEMAS")
    return {"$ref": f"#/components/schemas/{name}"}


def _error(status: Status) -> dict[str, Any]:
    return {"description": ERRORS[status], "content": {"application/json": {"schema": ref("ErrorResponse")}}}


DONE = {"type": "object", "required": ["data"], "properties": {"data": {"const": "[DONE]"}}}


def _event_stream(events: tuple[str, ...]) -> dict[str, Any]:
    """The schema of one server-sent event (`api/sse.py`), as schemathesis reads them: `data`
    holds JSON matching one of `events`; the stream ends with `data: [DONE]`."""
    data = {"anyOf": [ref(name) for name in events]} if len(events) > 1 else ref(events[0])
    event = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "event": {"type": "string"},
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": data},
        },
    }
    return {"description": "One server-sent event (`stream: true`).", "anyOf": [event, DONE]}


def operation(
    *,
    ok: str | None,
    body: type[BaseModel] | None = None,
    form: dict[str, Any] | None = None,
    errors: Iterable[Status] = (),
    stream: tuple[str, ...] = (),
    headers: Iterable[dict[str, Any]] = (),
    status: Literal[200, 204] = 200,
) -> dict[str, Any]:
    """Keyword arguments for a route decorator: its body, success schema, the schemas of its
    stream's events (when it streams) and the error statuses the route itself can return
    (`document` adds the guard's). `ok=None` is a route that answers bytes of any type, or,
    with `status=204`, nothing; `form` is the schema of a multipart/form-data body."""
    content: dict[str, Any] = {"application/json": {"schema": ref(ok)}} if ok is not None else dict(BINARY)
    if stream:
        content["text/event-stream"] = {"schema": _event_stream(stream)}
    success: dict[str, Any] = {"description": "Success.", "content": content}
    if status == 204:
        success = {"description": "Success: no content."}
    responses: dict[int | str, Any] = {status: success}
    responses.update({code: _error(code) for code in errors})
    extra: dict[str, Any] = {}
    if headers:
        extra["parameters"] = [{"in": "header", "required": False, **header} for header in headers]
    if body is not None:
        schema = ref(body.__name__)
        extra["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    if form is not None:
        extra["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": form}}}
    kwargs: dict[str, Any] = {"responses": responses, "openapi_extra": extra}
    if ok is None:  # no JSON default beside the bytes
        kwargs["response_class"] = StarletteResponse
    if status != 200:
        kwargs["status_code"] = status
    return kwargs


def _guard_errors(path: str, method: str) -> list[Status]:
    """What `auth/guard.py` can answer before any route."""
    statuses: list[Status] = [400]  # a Host header that does not name this server
    if path not in OPEN_PATHS:
        statuses.append(401)
    if method.upper() in BODY_METHODS:
        statuses.append(415)
    return statuses


def components() -> dict[str, Any]:
    """JSON schemas of every named schema and of what they refer to, in one namespace (the
    SDK has several classes of one name; pydantic gives those their module path)."""
    mode: Literal["validation"] = "validation"  # what the SDK accepts is what we must send
    adapters = [(name, mode, TypeAdapter(kind)) for name, kind in SCHEMAS.items()]
    tops, shared = TypeAdapter.json_schemas(adapters, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(shared.get("$defs", {}))
    for (name, _), schema in tops.items():
        if schema == ref(name):
            continue
        if name in schemas:  # pydantic renames every class of a shared name, so this cannot be
            raise ValueError(f"two schemas named {name!r}")
        schemas[name] = schema  # a renamed SDK class, or a union: an alias component
    return schemas


# Path parameters whose form the route checks (`engine/conversations.check_id`): a 400 otherwise.
PATTERNS = {"conversation_id": f"^{CONVERSATION_ID.pattern}$"}


def _finish(doc: dict[str, Any]) -> None:
    for path, operations in doc.get("paths", {}).items():
        for method, op in operations.items():
            for parameter in op.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] in PATTERNS:
                    parameter["schema"]["pattern"] = PATTERNS[parameter["name"]]
            responses = op.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's; validation errors are 400s here
            for status in _guard_errors(path, method):
                responses.setdefault(str(status), _error(status))
            op["responses"] = dict(sorted(responses.items()))
    doc.setdefault("components", {})["schemas"] = components()


def document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, built on first use."""
    if app.openapi_schema is None:
        doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
        _finish(doc)
        app.openapi_schema = doc
    return app.openapi_schema
