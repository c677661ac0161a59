"""What the console's pages do, as JSON routes their scripts call (`static/console.js`):

    POST /console/login                        {"token": "rsk-..."} -> the session cookie
    GET  /console/login/oidc                   "Sign in with <issuer>": to the issuer (PKCE)
    GET  /console/login/callback               back from the issuer -> the session cookie
    POST /console/logout
    POST /console/api/responses                the playground: the API's own create route
    POST /console/api/conversations            a conversation for the playground to continue
    GET  /console/api/responses/{id}/events    a background response's stored events (SSE)
    POST /console/api/responses/{id}/cancel    the API's own cancel route

The last four are the API's route functions, called with the console's principal (signed in
by cookie): the console has no second way to make, follow or cancel a response.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import RedirectResponse, Response

from responsa.api import conversations, responses
from responsa.api.deps import json_response, read_json, store
from responsa.api.responses import SEQUENCE_MAX
from responsa.auth.oidc_login import FLOW_COOKIE, FLOW_S, OidcLogin
from responsa.auth.sessions import cookie_header, read_cookie
from responsa.console.pages import error_page, safe_next
from responsa.errors import InvalidRequest, NotFound, ResponsaError, Unauthorized
from responsa.store.base import Store

router = APIRouter(include_in_schema=False)


@router.post("/console/login")
async def login(request: Request) -> Response:
    """Check a key or token as the API would, then keep it in the session cookie."""
    body = await read_json(request)
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token.strip():
        raise InvalidRequest("Paste an API key (rsk-...) or a token from your issuer.", param="token")
    token = token.strip()
    guard = request.app.guard
    if not guard.auth_on:
        return json_response({"owner": "", "admin": False, "open": True})
    principal = await guard.token_principal(token)
    cookie = guard.sessions.open_session(token, api_key=guard.is_api_key(token))
    answer = json_response({"owner": principal.owner, "admin": principal.admin})
    answer.headers["Set-Cookie"] = cookie_header(cookie, secure=request.url.scheme == "https")
    return answer


def _oidc(request: Request) -> OidcLogin:
    login: OidcLogin | None = request.app.state.oidc_login
    if login is None:
        raise NotFound("Signing in through an issuer is not configured (auth.oidc.console_client_id).")
    return login


def _callback(request: Request) -> str:
    return str(request.base_url) + "console/login/callback"


def _flow_cookie(value: str, secure: bool, max_age: int = FLOW_S) -> str:
    # Lax, not Strict: it must come back with the issuer's redirect, a navigation from its site.
    flags = f"{FLOW_COOKIE}={value}; Path=/console/login; Max-Age={max_age}; HttpOnly; SameSite=Lax"
    return flags + ("; Secure" if secure else "")


@router.get("/console/login/oidc")
async def oidc_start(request: Request, next: str = "/console/responses") -> Response:
    try:
        url, flow = await _oidc(request).start(_callback(request), safe_next(next))
    except ResponsaError as error:
        return error_page(request, error)
    answer = RedirectResponse(url, status_code=303)
    answer.headers["Set-Cookie"] = _flow_cookie(flow, request.url.scheme == "https")
    return answer


@router.get("/console/login/callback")
async def oidc_callback(
    request: Request,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Response:
    """Back from the issuer: check the state, trade the code, and sign in whom the API would."""
    secure = request.url.scheme == "https"
    try:
        login = _oidc(request)
        if error is not None:
            raise Unauthorized(f"The sign-in service refused: {error_description or error}.")
        if not code or not state:
            raise InvalidRequest("The sign-in service sent no code back: start again.", param="code")
        flow = login.flow(read_cookie(request.headers.get("cookie", ""), FLOW_COOKIE), state)
        token = await login.finish(code, flow, _callback(request))
        await request.app.guard.token_principal(token)  # the API's own check of the token
    except ResponsaError as failure:
        return error_page(request, failure)
    answer = RedirectResponse(safe_next(str(flow.get("next") or "")), status_code=303)
    session = request.app.guard.sessions.open_session(token, api_key=False)
    answer.raw_headers.append((b"set-cookie", cookie_header(session, secure).encode()))
    answer.raw_headers.append((b"set-cookie", _flow_cookie("", secure, max_age=0).encode()))
    return answer


@router.post("/console/logout")
async def logout(request: Request) -> Response:
    answer = json_response({"signed_out": True})
    answer.headers["Set-Cookie"] = cookie_header("", secure=request.url.scheme == "https", max_age=0)
    return answer


@router.post("/console/api/responses")
async def create_response(request: Request) -> Response:
    return await responses.create_response(request)


@router.post("/console/api/conversations")
async def create_conversation(request: Request, store: Annotated[Store, Depends(store)]) -> Response:
    return await conversations.create_conversation(request, store)


@router.get("/console/api/responses/{response_id}/events")
async def response_events(
    response_id: str,
    store: Annotated[Store, Depends(store)],
    starting_after: Annotated[int | None, Query(ge=-1, le=SEQUENCE_MAX)] = None,
) -> Response:
    return await responses.retrieve_response(response_id, store, stream=True, starting_after=starting_after)


@router.post("/console/api/responses/{response_id}/cancel")
async def cancel_response(response_id: str, store: Annotated[Store, Depends(store)]) -> Response:
    return await responses.cancel_response(response_id, store)
