"""Console sign-in: a browser cannot send `Authorization` on a page load, so the console keeps
the caller's credential in a session cookie instead.

    sessions = Sessions(sealer)
    cookie = sessions.open_session(token, api_key=True)  # after the guard accepted the token
    principal = await sessions.principal(cookie, guard)  # on every console request

The cookie is sealed with the server key (`crypto.Sealer`, AES-GCM): it holds an API key's
SHA-256 (never the key), looked up again on every request so that a revoked key signs its
sessions out at once on every replica, or a JWT, verified again on every request so that the
session ends with the token. It is `HttpOnly` (page scripts cannot read it), `SameSite=Strict`
(no other site's page sends it) and scoped to `/console`; every console POST is JSON, which a
cross-site form cannot send, and the guard refuses one whose `Origin` is not this server.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from responsa.auth.keys import hash_key
from responsa.auth.principal import Principal
from responsa.crypto import Sealer
from responsa.errors import InvalidRequest, Unauthorized

if TYPE_CHECKING:
    from responsa.auth.guard import Guard

COOKIE = "responsa_console"
PURPOSE = "console-session"
INVALID = "Your console session is not valid: sign in again."
MAX_AGE_S = 12 * 3600  # a signed-in browser asks for the key again after half a day


class Sessions:
    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer

    def open_session(self, token: str, *, api_key: bool) -> str:
        """The cookie value for a credential the guard has just accepted."""
        expires = int(time.time()) + MAX_AGE_S
        if api_key:
            return self.sealer.seal(PURPOSE, {"key": hash_key(token), "exp": expires})
        return self.sealer.seal(PURPOSE, {"jwt": token, "exp": expires})

    async def principal(self, cookie: str, guard: Guard) -> Principal:
        """Who a session cookie signs in, checked again now; Unauthorized when it no longer
        does (expired, altered, sealed by another server key, key revoked, token expired)."""
        try:
            data = self.sealer.open(PURPOSE, cookie, param="cookie")
        except InvalidRequest:
            raise Unauthorized(INVALID, code="login_required") from None
        if not isinstance(data.get("exp"), int) or data["exp"] <= time.time():
            raise Unauthorized("Your console session has expired: sign in again.", code="login_required")
        if isinstance(data.get("key"), str):
            return await guard.key_principal(data["key"])
        if isinstance(data.get("jwt"), str) and guard.jwt is not None:
            return await guard.jwt.verify(data["jwt"])
        raise Unauthorized(INVALID, code="login_required")


def cookie_header(value: str, secure: bool, max_age: int = MAX_AGE_S) -> str:
    """The `Set-Cookie` value for a session (an empty value with max_age 0 signs out)."""
    flags = f"{COOKIE}={value}; Path=/console; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    return flags + ("; Secure" if secure else "")


def read_cookie(header: str, cookie: str = COOKIE) -> str | None:
    """A cookie's value (the session's by default) in a `Cookie` header, if it is there."""
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == cookie and value:
            return value
    return None
