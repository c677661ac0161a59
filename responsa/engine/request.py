"""The body of `POST /v1/responses`, validated.

The SDK ships request bodies only as TypedDicts, so this is one of the few models we define.
Fields follow the order of the API reference. Every field the Responses API defines is declared
here, so it is consumed (or mapped by `engine/translate.py`), never forwarded as is: a strict
upstream rejects fields Chat Completions does not know. Truly unknown top-level fields are kept
(pydantic `extra="allow"`) and forwarded upstream as `extra_body` (vLLM sampling options ride
there).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from openai.types.shared import ReasoningEffort
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    with_config,
)
from typing_extensions import TypedDict

from responsa.errors import InvalidRequest

BaseModelT = TypeVar("BaseModelT", bound=BaseModel)
Short = Annotated[str, StringConstraints(max_length=64)]


def _metadata_limits(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 16:
        raise ValueError("metadata can hold at most 16 key-value pairs")
    for key in value:
        if len(key) > 64:
            raise ValueError(f"metadata key {key[:20]!r}... is longer than 64 characters")
    return value


# At most 16 pairs, keys up to 64 characters, values up to 512: the OpenAI limits.
Metadata = Annotated[
    dict[str, Annotated[str, StringConstraints(max_length=512)]], AfterValidator(_metadata_limits)
]


SummaryMode = Literal["auto", "concise", "detailed"]


@with_config(ConfigDict(extra="allow"))
class ReasoningOptions(TypedDict, total=False):
    """`reasoning`: the keys the API defines are checked, since the response echoes them (other
    keys are kept)."""

    effort: ReasoningEffort
    summary: SummaryMode | None
    generate_summary: SummaryMode | None


@with_config(ConfigDict(extra="allow"))
class TextOptions(TypedDict, total=False):
    """`text`: `format` is checked by `engine/translate.py`, `verbosity` here."""

    format: dict[str, Any] | None
    verbosity: Literal["low", "medium", "high"] | None


class CreateResponseRequest(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1, max_length=256)
    input: str | list[dict[str, Any]]
    access_programs: dict[str, Any] | None = None
    background: bool = False
    background_options: dict[str, Any] | None = None
    client_metadata: dict[str, Any] | None = None
    context_management: list[dict[str, Any]] | None = None
    conversation: str | dict[str, Any] | None = None
    # The reference server's safety shields (sent with `extra_body`): refused while no safety
    # provider is configured (`engine/run.py`), never forwarded upstream.
    guardrails: list[str | dict[str, Any]] | None = None
    image: dict[str, Any] | None = None
    include: list[str] | None = None
    instructions: str | None = None
    max_output_tokens: int | None = Field(default=None, ge=16)
    max_tool_calls: int | None = Field(default=None, ge=1)
    metadata: Metadata | None = None
    moderation: dict[str, Any] | None = None
    parallel_tool_calls: bool | None = True
    previous_response_id: str | None = None
    prompt: dict[str, Any] | None = None
    prompt_cache_key: Short | None = None
    prompt_cache_options: dict[str, Any] | None = None
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    reasoning: ReasoningOptions | None = None
    safety_identifier: Short | None = None
    service_tier: Literal["auto", "default", "flex", "scale", "priority", "fast", "ultrafast"] | None = None
    store: bool = True
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    text: TextOptions | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    top_p: float | None = Field(default=None, ge=0, le=1)
    truncation: Literal["auto", "disabled"] | None = None
    user: str | None = None
    # Not in the OpenAI API; other servers' clients send them.
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    max_infer_iters: int | None = Field(default=None, ge=1)

    @property
    def extra_fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @property
    def conversation_id(self) -> str | None:
        if isinstance(self.conversation, dict):
            value = self.conversation.get("id")
            return value if isinstance(value, str) else None
        return self.conversation


_TYPE_TAG = re.compile(
    r"^(str|int|float|bool|none|list|dict|literal|function-\w+|constrained-\w+|nullable|union|"
    r"tagged-union|lax-or-strict|json-or-python)(\[.*\])?$"
)
_JSON_TYPES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


def invalid_from_validation(exc: ValidationError) -> InvalidRequest:
    """The first validation problem as an OpenAI-style 400 naming the parameter."""
    err = exc.errors(include_url=False)[0]
    raw_loc = [str(part) for part in err["loc"]]
    loc = [part for part in raw_loc if not _TYPE_TAG.match(part)]
    param = ".".join(loc) if loc else None
    kind = err["type"]
    if kind == "missing":
        return InvalidRequest(
            f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
        )
    if len(loc) < len(raw_loc) and (kind.endswith("_type") or kind.endswith("_parsing")):
        got = _JSON_TYPES.get(type(err.get("input")), "a value of another type")
        return InvalidRequest(
            f"Invalid type for '{param}': got {got}, which is not accepted here.",
            param=param,
            code="invalid_type",
        )
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return InvalidRequest(
            f"Invalid type for '{param}': {err['msg'][0].lower()}{err['msg'][1:]}.",
            param=param,
            code="invalid_type",
        )
    message = err["msg"].removeprefix("Value error, ")
    return InvalidRequest(f"Invalid value for '{param}': {message}.", param=param, code="invalid_value")


def parse_create_request(data: object) -> CreateResponseRequest:
    return parse_body(CreateResponseRequest, data)


class CompactRequest(BaseModel):
    """The body of `POST /v1/responses/compact` (the API reference's fields, in its order)."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1, max_length=256)
    image: dict[str, Any] | None = None
    input: str | list[dict[str, Any]] | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    prompt_cache_key: Short | None = None
    prompt_cache_options: dict[str, Any] | None = None
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    service_tier: str | None = None


class InputTokensRequest(BaseModel):
    """The body of `POST /v1/responses/input_tokens`: what a create request would send."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1, max_length=256)
    conversation: str | dict[str, Any] | None = None
    input: str | list[dict[str, Any]] | None = None
    instructions: str | None = None
    parallel_tool_calls: bool | None = None
    previous_response_id: str | None = None
    reasoning: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    tool_choice: str | dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    truncation: Literal["auto", "disabled"] | None = None


class CreateConversationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    items: list[dict[str, Any]] | None = None
    metadata: Metadata | None = None


class UpdateConversationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    metadata: Metadata


class CreateItemsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    items: list[dict[str, Any]]


class ChatCompletionRequest(BaseModel):
    """The body of the `POST /v1/chat/completions` pass-through: checked only as far as routing
    needs it (a model, some messages, whether to stream); every other field goes upstream as sent,
    for the upstream to judge."""

    model_config = ConfigDict(extra="allow", strict=True)

    messages: list[dict[str, Any]] = Field(min_length=1)
    model: str = Field(min_length=1, max_length=256)
    stream: bool | None = None


# OpenAI's limits: at most 2048 inputs a request, none of them empty.
EmbeddingText = Annotated[str, StringConstraints(min_length=1)]
EmbeddingTokens = Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]


class CreateEmbeddingRequest(BaseModel):
    """The body of `POST /v1/embeddings`, fields in the API reference's order: one text, a list
    of texts, or token arrays (one, or a list of them), for the model's provider to embed."""

    model_config = ConfigDict(extra="forbid", strict=True)

    input: (
        EmbeddingText
        | Annotated[list[EmbeddingText], Field(min_length=1, max_length=2048)]
        | EmbeddingTokens
        | Annotated[list[EmbeddingTokens], Field(min_length=1, max_length=2048)]
    )
    model: str = Field(min_length=1, max_length=256)
    dimensions: int | None = Field(default=None, ge=1)
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None


def parse_body(model: type[BaseModelT], data: object) -> BaseModelT:
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_type")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from_validation(exc) from None
