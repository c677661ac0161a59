"""The one place errors become HTTP responses: `{"error": {"message", "type", "param", "code"}}`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from responsa.api.deps import json_response
from responsa.engine.request import invalid_from_validation
from responsa.errors import InvalidRequest, ResponsaError

log = logging.getLogger("responsa.api")


def error_response(error: ResponsaError) -> Response:
    response = json_response(error.to_body(), error.status_code)
    # SDK clients retry 5xx by default; only transient upstream failures are worth it.
    response.headers["x-should-retry"] = "true" if error.retryable else "false"
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response


async def _responsa_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ResponsaError)
    return error_response(exc)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    loc = [str(p) for p in errors[0].get("loc", ())[1:]] if errors else []
    message = errors[0].get("msg", "invalid request") if errors else "invalid request"
    param = ".".join(loc) or None
    return error_response(
        InvalidRequest(f"Invalid value for '{param}': {message}.", param=param, code="invalid_value")
    )


async def _pydantic_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    return error_response(invalid_from_validation(exc))


METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(routes: list[BaseRoute], scope: Scope) -> list[str]:
    """The methods that `routes` serve at `scope`'s path (asked of each route through the public
    `matches`: FastAPI's included routers are routes too)."""
    return [
        method
        for method in METHODS
        if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in routes)
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (404, 405):
        # An unknown route, or a method a route lacks: OpenAI's 404 "Invalid URL" either way (a
        # path such as /v1/responses/compact matches a route's template without naming anything
        # that exists, so a 405 would claim too much), with `Allow` naming the methods the path
        # does serve, when it serves any.
        message = f"Invalid URL ({request.method} {request.url.path})"
        body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
        response = json_response(body, 404)
        allow = allowed_methods(request.app.router.routes, request.scope)
        if allow:
            response.headers["Allow"] = ", ".join(allow)
        return response
    kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
    body = {"error": {"message": str(exc.detail), "type": kind, "param": None, "code": None}}
    return json_response(body, exc.status_code)


async def _unexpected(_: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return error_response(ResponsaError("The server had an error while processing your request."))


HANDLERS: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
    ResponsaError: _responsa_error,
    RequestValidationError: _validation_error,
    ValidationError: _pydantic_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}


def install(app: FastAPI) -> None:
    for exc_type, handler in HANDLERS.items():
        app.add_exception_handler(exc_type, handler)


def plain_endpoint(handler: Callable[[Request], Awaitable[Response]]) -> ASGIApp:
    """`handler` as a bare ASGI app, for a route taken before FastAPI's routing and middleware
    (see `responsa.app.Responsa`): its errors become the same responses as everywhere else."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except Exception as exc:
            handle = next(HANDLERS[k] for k in type(exc).__mro__ if k in HANDLERS)
            response = await handle(request, exc)
        await response(scope, receive, send)

    return app
