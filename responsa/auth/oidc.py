"""Bearer JWTs from an OIDC issuer, verified with PyJWT against the issuer's JWKS.

    verifier = JwtVerifier(OidcConfig(issuer=..., audience=..., jwks_url=...))
    principal = await verifier.verify(token)     # Unauthorized if anything is wrong

Signature (RS/ES/PS algorithms only), `exp`, `nbf`, `iss` and `aud` are checked; the owner is the
`owner_claim` (default `sub`), an admin one whose `admin_claim` is true. The JWKS is fetched
(and cached by PyJWKClient) on a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import jwt

from responsa.auth.principal import Principal
from responsa.config import OidcConfig
from responsa.errors import Unauthorized

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"]


class JwtVerifier:
    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self.jwks = jwt.PyJWKClient(config.jwks_url or config.issuer.rstrip("/") + "/.well-known/jwks.json")

    def _decode(self, token: str) -> dict[str, Any]:
        key = self.jwks.get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=ALGORITHMS,
            audience=self.config.audience,
            issuer=self.config.issuer,
            options={"require": ["exp", "iss", "aud"]},
            leeway=self.config.leeway_s,
        )
        return claims

    async def verify(self, token: str) -> Principal:
        try:
            claims = await asyncio.to_thread(self._decode, token)
        except jwt.PyJWKClientError:
            raise Unauthorized("The token's signing key could not be found at the issuer.") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"The token is not valid: {exc}.") from None
        owner = claims.get(self.config.owner_claim)
        if not isinstance(owner, str) or not owner:
            raise Unauthorized(f"The token has no '{self.config.owner_claim}' claim naming its owner.")
        admin = bool(self.config.admin_claim and claims.get(self.config.admin_claim) is True)
        return Principal(owner, admin)
