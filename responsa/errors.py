"""Typed errors. Raise them anywhere; one handler in `api/handlers.py` writes the wire envelope.

    ResponsaError                 500 server_error (base: never raised directly for user input)
    ├── InvalidRequest            400 invalid_request_error  (bad parameter, bad JSON, bad item)
    │   ├── PayloadTooLarge       413 invalid_request_error
    │   └── UnsupportedMediaType  415 invalid_request_error (POST bodies are JSON only)
    ├── Unauthorized              401 invalid_request_error, code invalid_api_key
    ├── Forbidden                 403 invalid_request_error (a WebSocket from a web page's origin)
    ├── TooManyRequests           429 requests, code rate_limit_exceeded (per-owner limits)
    ├── NotFound                  404 invalid_request_error  (response, model, conversation ...)
    ├── Conflict                  409 invalid_request_error
    ├── UpstreamError             the upstream's own status (4xx, 429) or 502; carries the
    │                             provider's code and Retry-After
    └── ReplayMiss                500 server_error, code "replay_miss", never retried by SDKs

Every error renders as `{"error": {"message", "type", "param", "code"}}`, the shape of the
OpenAI API.
"""

from __future__ import annotations

from typing import Any


class ResponsaError(Exception):
    status_code = 500
    error_type = "server_error"
    default_code: str | None = "server_error"
    retryable = False

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code

    def to_body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(ResponsaError):
    status_code = 400
    error_type = "invalid_request_error"
    default_code: str | None = None


class PayloadTooLarge(InvalidRequest):
    status_code = 413
    default_code = "request_too_large"


class UnsupportedMediaType(InvalidRequest):
    status_code = 415
    default_code = "unsupported_media_type"


class Unauthorized(ResponsaError):
    status_code = 401
    error_type = "invalid_request_error"
    default_code = "invalid_api_key"


class Forbidden(ResponsaError):
    status_code = 403
    error_type = "invalid_request_error"
    default_code = "forbidden"


class TooManyRequests(ResponsaError):
    status_code = 429
    error_type = "requests"
    default_code = "rate_limit_exceeded"
    retryable = True

    def __init__(self, message: str, retry_after: str = "1") -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(ResponsaError):
    status_code = 404
    error_type = "invalid_request_error"
    default_code = "not_found"


class DuplicateItem(InvalidRequest):
    """An item id given again in one conversation (OpenAI's wording, its code)."""

    def __init__(self, item_id: str, param: str | None = None) -> None:
        super().__init__(
            f"Duplicate item found with id {item_id}. An item id is used once per conversation: "
            "remove the duplicate item, or give the new item a new id.",
            param=param,
            code="duplicate_item",
        )


class Conflict(ResponsaError):
    status_code = 409
    error_type = "invalid_request_error"
    default_code = None


class ServiceUnavailable(ResponsaError):
    """A capability the request asks for is not configured on this server (a safety provider
    for `guardrails`): 503, as the reference server answers."""

    status_code = 503
    error_type = "server_error"
    default_code = "service_unavailable"


# Provider error codes that the Responses API documents for `response.error.code`; anything
# else an upstream reports becomes `server_error`.
RESPONSE_ERROR_CODES = frozenset(
    {
        "server_error",
        "rate_limit_exceeded",
        "invalid_prompt",
        "vector_store_timeout",
        "invalid_image",
        "invalid_image_format",
        "invalid_base64_image",
        "invalid_image_url",
        "image_too_large",
        "image_too_small",
        "image_parse_error",
        "image_content_policy_violation",
        "invalid_image_mode",
        "image_file_too_large",
        "unsupported_image_media_type",
        "empty_image_file",
        "failed_to_download_image",
        "image_file_not_found",
    }
)
_CODE_ALIASES = {"invalid_base64": "invalid_base64_image"}


class UpstreamError(ResponsaError):
    """The inference provider failed. `status_code` mirrors a 4xx from the provider (so a bad
    image is still the client's 400, a rate limit a 429); anything else is a 502. 429 and 5xx
    are retryable and keep the upstream's `Retry-After`."""

    default_code = "server_error"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message, param=param, code=code)
        self.upstream_status = status_code
        self.retry_after = retry_after
        if status_code is not None and 400 <= status_code < 500:
            self.status_code = status_code
            self.error_type = error_type or "invalid_request_error"
            self.retryable = status_code in (408, 409, 429)  # what the SDKs retry
        else:
            self.status_code = 502
            self.error_type = "server_error"
            self.retryable = True
        self.provider = provider
        self.model = model

    @property
    def response_code(self) -> str:
        """The code for `response.error.code`: the provider's, when the Responses API knows it."""
        code = _CODE_ALIASES.get(self.code or "", self.code)
        return code if code in RESPONSE_ERROR_CODES else "server_error"


class ReplayMiss(ResponsaError):
    """No recording answers a request in replay mode. It names the closest recording of the same
    test, if any (`closest`: its file name), the request fields where they differ (`differs`)
    and a text diff of the two bodies (`diff`), which the console shows."""

    default_code = "replay_miss"

    def __init__(
        self, message: str, *, closest: str | None = None, differs: list[str] | None = None, diff: str = ""
    ) -> None:
        super().__init__(message)
        self.closest = closest
        self.differs = differs or []
        self.diff = diff
