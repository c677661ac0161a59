"""Every HTTP request passes the guard before any route:

1. its `Host` header names this server (`trusted_hosts`; default the bound host, localhost,
   127.0.0.1 and ::1), so a web page cannot reach a local server through DNS rebinding;
2. a request with a body says `Content-Type: application/json` (a browser's cross-site "simple"
   request is `text/plain` or form-encoded, and is refused before it does anything); only an
   upload (`POST /v1/files`) is `multipart/form-data`, and as a web page could send that one
   across sites, one with an `Origin` header is refused (403) unless the origin is allowed;
3. with authentication on, it carries `Authorization: Bearer <key or JWT>`: an API key (`rsk-`,
   looked up by hash, so a revoked key fails at once on every replica) or a JWT (`oidc.py`).
   `/v1/health` needs none. With authentication off, everyone is the `OPEN` principal.

A WebSocket handshake passes the same checks (it has no body), and one more: a browser may open
a WebSocket to any site, with no CORS preflight, so a handshake with an `Origin` header is
refused (403) unless that origin is in `cors_allow_origins`; SDK clients send none.

The console (`/console`, `responsa/console/`) is signed in to with a session cookie instead of
the header (a page load cannot send one; `sessions.py`); its sign-in page and static
files need none, and a console POST whose `Origin` is another site's is refused (403).

    guard = Guard(settings, store, auth_on=True)
    principal = await guard.check(scope)      # or raises a ResponsaError: 400, 401, 403, 415
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from starlette.types import Scope

from responsa.auth.keys import PREFIX, hash_key
from responsa.auth.oidc import JwtVerifier
from responsa.auth.principal import OPEN, Principal
from responsa.auth.sessions import read_cookie
from responsa.config import Settings
from responsa.errors import Forbidden, InvalidRequest, Unauthorized, UnsupportedMediaType
from responsa.store.base import Store

if TYPE_CHECKING:
    from responsa.auth.sessions import Sessions

# Health, and the API reference (`api/docs.py`): no data behind them.
OPEN_PATHS = frozenset(
    {
        "/v1/health",
        "/docs",
        "/openapi.json",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-ui.css",
        "/docs/favicon-32x32.png",
    }
)
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
UPLOAD_PATHS = frozenset({"/v1/files"})  # the routes that take multipart/form-data
CONSOLE = "/console"
CONSOLE_OPEN = ("/console/login", "/console/static/")  # no data behind them


async def authentication_on(settings: Settings, store: Store) -> bool:
    """Authentication is on when an OIDC issuer is configured or any API key is active."""
    return settings.oidc is not None or await store.has_api_keys()


def is_console(path: str) -> bool:
    return path == CONSOLE or path.startswith(CONSOLE + "/")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _host_name(value: str) -> str:
    """`example.com:8321` -> `example.com`; `[::1]:8321` -> `::1`."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    def __init__(self, settings: Settings, store: Store, auth_on: bool) -> None:
        self.store = store
        self.auth_on = auth_on
        hosts = settings.trusted_hosts or (settings.bind_host, *LOOPBACK_HOSTS)
        # Bound to every interface with no list: the names it is reached by are unknown (and such a
        # bind needs authentication, which rebinding cannot supply).
        wildcard = not settings.trusted_hosts and settings.bind_host in ("0.0.0.0", "::")
        self.any_host = "*" in hosts or wildcard
        self.hosts = frozenset(_host_name(host) for host in hosts)
        self.jwt = JwtVerifier(settings.oidc) if settings.oidc is not None else None
        self.origins = frozenset(settings.cors_allow_origins)
        self.sessions: Sessions | None = None  # set when the console is served

    def describe(self) -> str:
        if not self.auth_on:
            return "authentication off: no API key and no OIDC issuer configured, loopback only"
        if self.jwt is not None:
            return f"authentication: API keys and JWTs from {self.jwt.config.issuer}"
        return "authentication: API keys"

    async def check(self, scope: Scope) -> Principal:
        if "\x00" in scope["path"]:
            raise InvalidRequest("The URL path contains a NUL character.", code="invalid_url")
        if b"%00" in scope["query_string"]:  # PostgreSQL text cannot hold U+0000; nowhere is it meaningful
            raise InvalidRequest("The URL query contains a NUL character (%00).", code="invalid_url")
        headers = dict(scope["headers"])
        self._check_host(headers.get(b"host", b"").decode("latin-1"))
        method = scope.get("method", "GET")  # a WebSocket handshake is a GET
        if method in BODY_METHODS and self._check_body_type(headers, scope["path"]):
            self._check_origin(headers.get(b"origin"), "Uploads")
        if scope["type"] == "websocket":
            self._check_origin(headers.get(b"origin"))
        path = scope["path"]
        if self.sessions is not None and is_console(path):
            return await self._console(self.sessions, headers, method, path)
        # A CORS preflight carries no credentials; the CORS middleware answers it (when on).
        if not self.auth_on or path in OPEN_PATHS or method == "OPTIONS":
            return OPEN
        return await self._authenticate(headers.get(b"authorization", b"").decode("latin-1"))

    async def _console(
        self, sessions: Sessions, headers: dict[bytes, bytes], method: str, path: str
    ) -> Principal:
        """A console request: signed in by its session cookie (or an `Authorization` header)."""
        origin = headers.get(b"origin")
        if method in BODY_METHODS and origin is not None:
            host = headers.get(b"host", b"").decode("latin-1").lower()
            if origin.decode("latin-1").lower().split("://", 1)[-1] != host:
                raise Forbidden(
                    "Console actions are accepted only from the console's own pages.",
                    code="origin_not_allowed",
                )
        if not self.auth_on or path.startswith(CONSOLE_OPEN):
            return OPEN
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if authorization:
            return await self._authenticate(authorization)
        cookie = read_cookie(headers.get(b"cookie", b"").decode("latin-1"))
        if cookie is None:
            raise Unauthorized("Sign in to the console with an API key or a token.", code="login_required")
        return await sessions.principal(cookie, self)

    async def _active_key(self, key_hash: str) -> Principal | None:
        """The owner of the API key with this hash, if the key exists and is not revoked."""
        record = await self.store.api_key(key_hash)
        if record is None or (record.revoked_at is not None and record.revoked_at <= time.time()):
            return None
        return Principal(record.owner, record.admin)

    async def key_principal(self, key_hash: str) -> Principal:
        """The owner of an active API key, by the key's hash; Unauthorized when none is."""
        principal = await self._active_key(key_hash)
        if principal is None:
            raise Unauthorized("That API key is not valid (unknown or revoked).")
        return principal

    def _check_host(self, host: str) -> None:
        if self.any_host:
            return
        if _host_name(host) not in self.hosts:
            raise InvalidRequest(
                f"Invalid Host header {host!r}: this server answers only to {', '.join(sorted(self.hosts))} "
                "(setting trusted_hosts).",
                code="invalid_host",
            )

    def _check_origin(self, origin: bytes | None, what: str = "WebSocket connections") -> None:
        if origin is None or "*" in self.origins or origin.decode("latin-1") in self.origins:
            return
        raise Forbidden(
            f"{what} from the web page origin {origin.decode('latin-1')!r} are not "
            "allowed (setting cors_allow_origins).",
            code="origin_not_allowed",
        )

    @staticmethod
    def _check_body_type(headers: dict[bytes, bytes], path: str) -> bool:
        """Whether the body is an upload (multipart); a body of any other type is refused (415)."""
        has_body = headers.get(b"content-length", b"0") not in (b"0", b"") or b"transfer-encoding" in headers
        if not has_body:
            return False
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if kind == b"multipart/form-data" and path in UPLOAD_PATHS:
            return True
        if kind != b"application/json":
            raise UnsupportedMediaType(
                "Request bodies must be JSON (Content-Type: application/json), "
                f"not {kind.decode() or 'untyped'}."
            )
        return False

    async def _authenticate(self, authorization: str) -> Principal:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized(
                "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' "
                "(create one with `responsa keys create`).",
                code="missing_api_key",
            )
        return await self.token_principal(token)

    def is_api_key(self, token: str) -> bool:
        return token.startswith(PREFIX) or self.jwt is None

    async def token_principal(self, token: str) -> Principal:
        """Who an API key or a JWT names; Unauthorized when it names nobody."""
        if self.is_api_key(token):
            principal = await self._active_key(hash_key(token))
            if principal is None:
                shown = token[:8] + "…" if len(token) > 8 else "…"
                raise Unauthorized(f"Incorrect API key provided: {shown}.")
            return principal
        assert self.jwt is not None
        return await self.jwt.verify(token)
