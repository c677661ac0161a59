"""Request bodies of `/v1/vector_stores` (the SDK ships them only as TypedDicts), fields in
the API reference's order. `chunking_strategy` and `filters` are checked by
`chunking.resolve_strategy` and `filters.compile_filter`, whose errors name the exact field."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Metadata = Annotated[dict[str, Annotated[str, Field(max_length=512)]], Field(max_length=16)]
Attributes = Annotated[dict[str, Annotated[str, Field(max_length=512)] | bool | float], Field(max_length=16)]
FileIds = Annotated[list[Annotated[str, Field(min_length=1, max_length=80)]], Field(max_length=500)]


class StoreExpiresAfter(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    anchor: Literal["last_active_at"]
    days: int = Field(ge=1, le=365)


class CreateVectorStoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    chunking_strategy: dict[str, Any] | None = None
    description: str | None = Field(default=None, max_length=512)
    expires_after: StoreExpiresAfter | None = None
    file_ids: FileIds | None = None
    metadata: Metadata | None = None
    name: str | None = Field(default=None, max_length=256)


class UpdateVectorStoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    expires_after: StoreExpiresAfter | None = None
    metadata: Metadata | None = None
    name: str | None = Field(default=None, max_length=256)


class CreateVectorStoreFileRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    file_id: str = Field(min_length=1, max_length=80)
    attributes: Attributes | None = None
    chunking_strategy: dict[str, Any] | None = None


class UpdateVectorStoreFileRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    attributes: Attributes | None


class CreateFileBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    attributes: Attributes | None = None
    chunking_strategy: dict[str, Any] | None = None
    file_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=80)]], Field(min_length=1, max_length=500)
    ]


class SearchRankingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    ranker: Literal["none", "auto", "default-2024-11-15"] = "auto"
    score_threshold: float = Field(default=0.0, ge=0.0, le=1.0)


class SearchVectorStoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    query: (
        Annotated[str, Field(min_length=1)]
        | Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1, max_length=20)]
    )
    filters: dict[str, Any] | None = None
    max_num_results: int = Field(default=10, ge=1, le=50)
    ranking_options: SearchRankingOptions | None = None
    rewrite_query: bool = False
    # Responsa's extension (send with `extra_body`): how candidates are found, `search.py`.
    search_mode: Literal["hybrid", "vector", "keyword"] = "hybrid"
