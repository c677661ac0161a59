"""Per-request context that must follow every upstream call made for the request (tool loop
included): the caller's test id, for recording keys, and its provider data (per-request keys
such as `tavily_search_api_key`). The API layer sets both from the request headers.

`current_upstream` is the record of the upstream call being made now (`observability/watch.
UpstreamWatch`), where the recorder notes whether it was recorded, replayed or missed."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

current_test_id: ContextVar[str | None] = ContextVar("responsa_test_id", default=None)
current_provider_data: ContextVar[dict[str, Any] | None] = ContextVar("responsa_provider_data", default=None)
current_upstream: ContextVar[dict[str, Any] | None] = ContextVar("responsa_upstream", default=None)
