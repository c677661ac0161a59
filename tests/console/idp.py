"""A fake OIDC issuer on loopback for the console's sign-in: JWKS, an authorization endpoint
that signs `user` in at once (no page), and a token endpoint that checks the PKCE verifier."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER, AUDIENCE, CLIENT_ID = "https://issuer.test", "responsa", "responsa-console"


class FakeIssuer:
    def __init__(self, user: str = "carol") -> None:
        self.user = user
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.codes: dict[str, dict[str, str]] = {}
        self.exchanges: list[dict[str, str]] = []  # every token request's form
        self.claims: dict[str, Any] = {}  # claims the token endpoint's tokens get on top
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwks = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/jwks.json":
                    self._json(200, jwks)
                    return
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path != "/authorize" or query.get("client_id") != CLIENT_ID:
                    self._json(400, b'{"error": "invalid_request"}')
                    return
                code = secrets.token_urlsafe(16)
                issuer.codes[code] = query
                target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
                self.send_response(302)
                self.send_header("location", target)
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                issuer.exchanges.append(form)
                asked = issuer.codes.pop(form.get("code", ""), None)
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
                if (
                    asked is None
                    or asked.get("code_challenge") != challenge
                    or asked.get("redirect_uri") != form.get("redirect_uri")
                ):
                    self._json(
                        400, b'{"error": "invalid_grant", "error_description": "bad code or verifier"}'
                    )
                    return
                token = issuer.token(**issuer.claims)
                body = {"access_token": token, "token_type": "Bearer", "expires_in": 600}
                self._json(200, json.dumps(body).encode())

            def _json(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": self.user, "iat": now, "exp": now + 600, **claims}
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": "k1"})

    def config(self) -> str:
        """The `auth.oidc` section of a server that signs its console in here."""
        return (
            f'auth: {{oidc: {{issuer: "{ISSUER}", audience: {AUDIENCE}, jwks_url: "{self.url}/jwks.json", '
            f'console_client_id: {CLIENT_ID}, authorization_endpoint: "{self.url}/authorize", '
            f'token_endpoint: "{self.url}/token"}}}}'
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
