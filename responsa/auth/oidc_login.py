"""Console sign-in through the OIDC issuer: the authorization-code flow with PKCE.

    login = OidcLogin(config, sealer)
    url, flow = login.start(redirect_uri, next_page)     # redirect there; `flow` is a cookie
    token = await login.finish(code, state, flow, redirect_uri)   # the issuer's access token

`start` makes a random `state` and PKCE verifier, seals both (with the page to return to and a
ten-minute deadline) into a short-lived cookie, and sends the browser to the issuer's
authorization endpoint. The issuer sends it back to `/console/login/callback` with a code;
`finish` checks the state against the cookie and trades the code (with the verifier, and the
client secret when one is configured) at the token endpoint. The access token must be a JWT the
API itself accepts (`oidc.JwtVerifier`: issuer, audience, signature): the console signs in
exactly whom the API would, and its session ends with that token.

The endpoints are the configured ones, else those the issuer's discovery document names
(`<issuer>/.well-known/openid-configuration`), fetched once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp

from responsa.config import OidcConfig
from responsa.crypto import Sealer
from responsa.errors import InvalidRequest, Unauthorized

FLOW_COOKIE = "responsa_console_login"
FLOW_PURPOSE = "console-login-flow"
FLOW_S = 600  # the issuer's sign-in page must come back within ten minutes
TIMEOUT = aiohttp.ClientTimeout(total=15)


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class OidcLogin:
    def __init__(self, config: OidcConfig, sealer: Sealer) -> None:
        if config.console_client_id is None:
            raise ValueError("auth.oidc.console_client_id is not set")
        self.config = config
        self.client_id = config.console_client_id
        self.sealer = sealer
        self._endpoints: tuple[str, str] | None = None
        if config.authorization_endpoint and config.token_endpoint:
            self._endpoints = (config.authorization_endpoint, config.token_endpoint)

    async def endpoints(self) -> tuple[str, str]:
        """The authorization and token endpoints: configured, else discovered."""
        if self._endpoints is None:
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                async with aiohttp.ClientSession(timeout=TIMEOUT) as session, session.get(url) as answer:
                    document: dict[str, Any] = await answer.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise Unauthorized(f"The sign-in service could not be reached ({url}: {exc}).") from None
            authorize, token = document.get("authorization_endpoint"), document.get("token_endpoint")
            if not isinstance(authorize, str) or not isinstance(token, str):
                raise Unauthorized(f"The issuer's discovery document ({url}) names no sign-in endpoints.")
            self._endpoints = (
                self.config.authorization_endpoint or authorize,
                self.config.token_endpoint or token,
            )
        return self._endpoints

    async def start(self, redirect_uri: str, next_page: str) -> tuple[str, str]:
        """Where to send the browser, and the flow cookie's value."""
        authorize, _ = await self.endpoints()
        state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        flow = self.sealer.seal(
            FLOW_PURPOSE,
            {"state": state, "verifier": verifier, "next": next_page, "exp": int(time.time()) + FLOW_S},
        )
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.config.console_scopes,
            "state": state,
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
        }
        separator = "&" if "?" in authorize else "?"
        return f"{authorize}{separator}{urlencode(query)}", flow

    def flow(self, cookie: str | None, state: str) -> dict[str, Any]:
        """The flow cookie's contents, if it is this sign-in's (its state) and still fresh."""
        if cookie is None:
            raise InvalidRequest("The sign-in was started elsewhere or long ago: start again.", param="state")
        data = self.sealer.open(FLOW_PURPOSE, cookie, param="state")
        expected = data.get("state")
        if not isinstance(expected, str) or not hmac.compare_digest(expected, state):
            raise InvalidRequest("The sign-in's state does not match: start again.", param="state")
        if not isinstance(data.get("exp"), int) or data["exp"] < time.time():
            raise InvalidRequest("The sign-in took too long: start again.", param="state")
        return data

    async def finish(self, code: str, flow: dict[str, Any], redirect_uri: str) -> str:
        """The access token the issuer gives for `code` (checked by the caller, as the API would)."""
        _, token_url = await self.endpoints()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "code_verifier": str(flow["verifier"]),
        }
        if self.config.console_client_secret:
            form["client_secret"] = self.config.console_client_secret
        try:
            async with (
                aiohttp.ClientSession(timeout=TIMEOUT) as session,
                session.post(token_url, data=form, headers={"accept": "application/json"}) as answer,
            ):
                body: Any = await answer.json(content_type=None)
                status = answer.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise Unauthorized(f"The sign-in service's token endpoint failed: {exc}.") from None
        if status != 200 or not isinstance(body, dict):
            reason = (body.get("error_description") or body.get("error")) if isinstance(body, dict) else None
            reason = reason or "no reason given"
            raise Unauthorized(f"The sign-in service refused the code (HTTP {status}: {reason}).")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise Unauthorized("The sign-in service gave no access token.")
        return token
