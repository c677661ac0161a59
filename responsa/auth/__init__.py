"""Who is calling, and what they may see.

    principal.py   Principal (owner, admin) and the context variable routes read it from
    keys.py        API keys: made, hashed, shown once (`responsa keys create|list|revoke`)
    oidc.py        bearer JWTs verified against an issuer's JWKS (PyJWT)
    guard.py       every HTTP request passes here first: Host check (DNS rebinding), JSON-only
                   bodies (no cross-site "simple" POSTs), then a key or a JWT -> Principal

This package may import `store/` (key records) and `errors`; the engine and the store know only
owners (strings), never how a caller proved who it is.
"""
