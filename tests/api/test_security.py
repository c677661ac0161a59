"""Authentication and isolation: API keys and OIDC JWTs, two owners (and an admin) on one server
and on a second replica of the same database, the Host and Content-Type guards, and the refusal
to serve a public address without authentication."""

from __future__ import annotations

import contextlib
import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import openai
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support import HTTP, ROOT, Process, Server, base_env, keys_cli, new_key, start_server, upstream_env

ISSUER, AUDIENCE = "https://issuer.test", "responsa"


class Jwks:
    """A JWKS endpoint on loopback, and tokens signed with its key (or another one)."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        body = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, key: Any = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "carol", "iat": now, "exp": now + 600, **claims}
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": "k1"})


class Secured:
    def __init__(self, tmp: Path, db_url: str, fake: Process, jwks: Jwks) -> None:
        self.db_url = db_url
        self.alice, _ = new_key(db_url, "--name", "alice", "--owner", "alice")
        self.bob, self.bob_id = new_key(db_url, "--name", "bob", "--owner", "bob")
        self.admin, _ = new_key(db_url, "--name", "ops", "--admin")
        self.config = tmp / "responsa.yaml"
        self.config.write_text(
            f"""
providers:
  openai: {{type: openai, base_url: "{fake.url}/v1", api_key: k, serve_any_model: true}}
default_provider: openai
auth:
  oidc: {{issuer: "{ISSUER}", audience: {AUDIENCE}, jwks_url: "{jwks.url}", admin_claim: is_admin}}
db_url: "{db_url}"
"""
        )
        self.servers = [self.start(tmp, "one")]

    def start(self, tmp: Path, name: str) -> Server:
        return start_server(tmp, name, {"RESPONSA_DB_URL": self.db_url}, ("--config", str(self.config)))

    def client(self, key: str, server: int = 0) -> openai.OpenAI:
        return self.servers[server].client(api_key=key)


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    endpoint = Jwks()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory, db_url: str, fake_upstream: Process, jwks: Jwks
) -> Iterator[Secured]:
    from tests.support import new_database

    with new_database(
        "sqlite" if db_url.startswith("sqlite") else "postgresql", tmp_path_factory.mktemp("sdb")
    ) as url:
        setup = Secured(tmp_path_factory.mktemp("secured"), url, fake_upstream, jwks)
        setup.servers.append(setup.start(tmp_path_factory.mktemp("replica"), "two"))
        yield setup
        for server in setup.servers:
            server.stop()


def status(server: Server, method: str, path: str, key: str | None, **kwargs: Any) -> int:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return HTTP.request(method, server.url + path, headers=headers, timeout=10, **kwargs).status_code


def test_every_route_but_health_needs_a_key(secured: Secured) -> None:
    server = secured.servers[0]
    assert status(server, "GET", "/v1/health", None) == 200
    # the API reference holds no data: open, page, assets and document (served offline)
    for path in ("/docs", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/openapi.json"):
        assert status(server, "GET", path, None) == 200, path
    page = HTTP.get(server.url + "/docs").text
    assert "/docs/swagger-ui-bundle.js" in page and "cdn" not in page and "/openapi.json" in page
    assert status(server, "GET", "/redoc", None) == 401  # nothing else is open
    for method, path in [("GET", "/v1/responses"), ("GET", "/v1/models"), ("POST", "/v1/conversations")]:
        assert status(server, method, path, None) == 401
        assert status(server, method, path, "rsk-wrong") == 401
    resp = HTTP.get(server.url + "/v1/responses", headers={"authorization": "Bearer rsk-wrongkey"})
    assert (
        resp.json()["error"]["code"] == "invalid_api_key" and "rsk-wron…" in resp.json()["error"]["message"]
    )


@pytest.mark.parametrize("replica", [0, 1])
def test_owners_never_reach_each_others_objects(secured: Secured, replica: int) -> None:
    alice, bob = secured.client(secured.alice), secured.client(secured.bob, replica)
    mine = alice.responses.create(model="gpt-4o", input="secret of alice")
    conversation = alice.conversations.create(items=[{"type": "message", "role": "user", "content": "hi"}])
    background = alice.responses.create(model="slow", input="x", background=True)
    server = secured.servers[replica]
    for method, path in [
        ("GET", f"/v1/responses/{mine.id}"),
        ("GET", f"/v1/responses/{mine.id}/input_items"),
        ("DELETE", f"/v1/responses/{mine.id}"),
        ("POST", f"/v1/responses/{background.id}/cancel"),
        ("GET", f"/v1/responses/{background.id}?stream=true&starting_after=-1"),
        ("GET", f"/v1/conversations/{conversation.id}"),
        ("DELETE", f"/v1/conversations/{conversation.id}"),
        ("GET", f"/v1/conversations/{conversation.id}/items"),
    ]:
        assert status(server, method, path, secured.bob) == 404, (method, path)
    assert (
        status(server, "POST", f"/v1/conversations/{conversation.id}", secured.bob, json={"metadata": {}})
        == 404
    )
    assert (
        status(
            server,
            "POST",
            f"/v1/conversations/{conversation.id}/items",
            secured.bob,
            json={"items": [{"role": "user", "content": "x"}]},
        )
        == 404
    )
    with pytest.raises(openai.NotFoundError):
        bob.responses.create(model="gpt-4o", input="x", previous_response_id=mine.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.create(model="gpt-4o", input="x", conversation=conversation.id)
    with pytest.raises(openai.BadRequestError, match="no stored item"):
        bob.responses.create(model="gpt-4o", input=[{"type": "item_reference", "id": mine.output[0].id}])  # type: ignore[typeddict-item]
    listed = {
        r["id"]
        for r in HTTP.get(
            server.url + "/v1/responses", headers={"authorization": f"Bearer {secured.bob}"}
        ).json()["data"]
    }
    assert mine.id not in listed and background.id not in listed
    # Alice still has all of it, and can continue it.
    assert alice.responses.retrieve(mine.id).output_text == "Hello from gpt-4o!"
    assert (
        alice.responses.create(model="gpt-4o", input="more", previous_response_id=mine.id).status
        == "completed"
    )
    assert len(alice.conversations.items.list(conversation.id).data) == 1


def test_admin_sees_every_owner(secured: Secured) -> None:
    mine = secured.client(secured.alice).responses.create(model="gpt-4o", input="x")
    admin = secured.client(secured.admin)
    assert admin.responses.retrieve(mine.id).id == mine.id
    listed = HTTP.get(
        secured.servers[0].url + "/v1/responses",
        params={"limit": 100},
        headers={"authorization": f"Bearer {secured.admin}"},
    ).json()["data"]
    assert mine.id in {r["id"] for r in listed}


def test_revoked_key_fails_at_once_on_every_replica(secured: Secured, db_url: str) -> None:
    key, key_id = new_key(secured.db_url, "--name", "temp")
    assert all(status(s, "GET", "/v1/responses", key) == 200 for s in secured.servers)
    assert keys_cli(secured.db_url, "revoke", key_id).returncode == 0
    assert all(status(s, "GET", "/v1/responses", key) == 401 for s in secured.servers)
    listed = keys_cli(secured.db_url, "list").stdout
    assert f"{key_id}\ttemp" in listed and "revoked" in listed and key not in listed


def test_jwt_owners(secured: Secured, jwks: Jwks) -> None:
    server = secured.servers[0]
    carol = jwks.token()
    mine = server.client(api_key=carol).responses.create(model="gpt-4o", input="x")
    assert status(server, "GET", f"/v1/responses/{mine.id}", carol) == 200
    assert status(server, "GET", f"/v1/responses/{mine.id}", secured.alice) == 404
    assert status(server, "GET", f"/v1/responses/{mine.id}", jwks.token(sub="dave")) == 404
    assert status(server, "GET", f"/v1/responses/{mine.id}", jwks.token(sub="dave", is_admin=True)) == 200
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for bad in (
        jwks.token(exp=int(time.time()) - 3600),
        jwks.token(aud="someone-else"),
        jwks.token(iss="https://other.test"),
        jwks.token(sub=None),
        jwks.token(key=other),
        "not.a.jwt",
    ):
        assert status(server, "GET", "/v1/responses", bad) == 401


def test_host_and_content_type_guards(secured: Secured) -> None:
    server = secured.servers[0]
    auth = {"authorization": f"Bearer {secured.alice}"}
    rebound = HTTP.get(server.url + "/v1/responses", headers={**auth, "host": "evil.example:8321"})
    assert rebound.status_code == 400 and rebound.json()["error"]["code"] == "invalid_host"
    for kind in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {**auth, **({"content-type": kind} if kind else {})}
        resp = httpx.post(
            server.url + "/v1/responses", content=b'{"model":"gpt-4o","input":"x"}', headers=headers
        )
        assert resp.status_code == 415, kind
    preflight = HTTP.options(
        server.url + "/v1/responses",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers  # CORS is off by default


def test_public_bind_without_auth_refuses_to_start(tmp_path: Path) -> None:
    env = {**base_env(), "RESPONSA_DB_URL": f"sqlite:///{tmp_path / 'open.db'}", "OPENAI_API_KEY": "k"}
    done = subprocess.run(
        [sys.executable, "-m", "responsa", "serve", "--host", "0.0.0.0", "--port", "9"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2 and "without authentication" in done.stderr


def test_mcp_urls_pass_the_outbound_policy(tmp_path: Path, fake_upstream: Process) -> None:
    """Without an allow-list, a client cannot make the server connect to loopback (or any private
    address); the refusal does not depend on whether anything listens there."""
    env = upstream_env(fake_upstream, RESPONSA_OUTBOUND_ALLOW="nothing.example")
    with start_server(tmp_path, "guarded", env) as server:
        client = server.client()
        for url in ("http://127.0.0.1:9/mcp", f"{fake_upstream.url}/mcp", "http://localhost:1/sse"):
            tool = {"type": "mcp", "server_label": "x", "server_url": url, "require_approval": "never"}
            with pytest.raises(openai.BadRequestError) as info:
                client.responses.create(model="openai/gpt-4o", input="x", tools=[tool])  # type: ignore[list-item]
            assert info.value.body["param"] == "tools[0].server_url"  # type: ignore[index]
            assert "not a public address" in info.value.message


def test_no_secret_is_left_at_rest(tmp_path: Path, fake_upstream: Process, boiling: Process) -> None:
    """A background job's MCP authorization and provider-data key are stored sealed while it
    runs and cleared when it ends: no table of the database holds them afterwards, nor the log."""
    import sqlite3

    db = tmp_path / "secrets.db"
    env = upstream_env(fake_upstream, RESPONSA_DB_URL=f"sqlite:///{db}")
    secrets = ("mcp-token-s3cr3t", "hdr-s3cr3t", "tvly-s3cr3t")
    with start_server(tmp_path, "secrets", env) as server:
        client = server.client(
            default_headers={"X-OGX-Provider-Data": json.dumps({"tavily_search_api_key": secrets[2]})}
        )
        tool = {
            "type": "mcp",
            "server_label": "boiling",
            "server_url": boiling.mcp_url,  # type: ignore[attr-defined]
            "authorization": secrets[0],
            "headers": {"X-Extra": secrets[1]},
            "require_approval": "never",
        }
        queued = client.responses.create(model="openai/tool-call", input="x", tools=[tool], background=True)  # type: ignore[list-item]
        deadline = time.monotonic() + 30
        while (
            client.responses.retrieve(queued.id).status in ("queued", "in_progress")
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert client.responses.retrieve(queued.id).status == "completed"
        while time.monotonic() < deadline:  # the worker ends the job right after the last event
            with contextlib.closing(sqlite3.connect(db)) as conn:
                if conn.execute("SELECT state FROM background_jobs").fetchone() == ("done",):
                    break
            time.sleep(0.05)
        log = server.log.read_text()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        dump = "\n".join(repr(row) for table in tables for row in conn.execute(f'SELECT * FROM "{table}"'))
    assert "mcp_call" in dump  # the response itself is there
    for secret in secrets:
        assert secret not in dump and secret not in log, secret


def test_per_owner_limits(tmp_path: Path, fake_upstream: Process) -> None:
    env = upstream_env(fake_upstream, RESPONSA_MAX_CONCURRENT_PER_OWNER="1", RESPONSA_MAX_JOBS_PER_OWNER="1")
    with start_server(tmp_path, "limits", env) as server:
        client = server.client()
        body = {"model": "openai/slow", "input": "x", "stream": True}
        with HTTP.stream("POST", server.url + "/v1/responses", json=body) as running:
            assert running.status_code == 200
            lines = running.iter_lines()
            next(lines)  # the first stream is under way (and kept open: `lines` stays referenced)
            second = HTTP.post(server.url + "/v1/responses", json={"model": "openai/gpt-4o", "input": "x"})
            assert second.status_code == 429 and second.headers["retry-after"] == "1"
            assert second.json()["error"]["code"] == "rate_limit_exceeded"
            assert any(line == "data: [DONE]" for line in lines)
        assert client.responses.create(model="openai/gpt-4o", input="x").status == "completed"  # freed
        queued = client.responses.create(model="openai/slow", input="x", background=True)
        with pytest.raises(openai.RateLimitError):
            client.responses.create(model="openai/slow", input="y", background=True)
        client.responses.cancel(queued.id)


def test_redirects_pass_the_outbound_policy_too(
    tmp_path: Path, fake_upstream: Process, boiling: Process
) -> None:
    """An allow-listed MCP URL that redirects to a destination the policy refuses: the redirect is
    not followed there. (The MCP SDK follows no cross-origin redirect itself; every request the
    session does make passes the policy too.)"""
    target = boiling.mcp_url.replace("127.0.0.1", "localhost")  # type: ignore[attr-defined]
    env = upstream_env(fake_upstream, RESPONSA_OUTBOUND_ALLOW=f"127.0.0.1:{fake_upstream.port}")
    with start_server(tmp_path, "redirects", env) as server:
        tool = {
            "type": "mcp",
            "server_label": "bounced",
            "server_url": f"{fake_upstream.url}/redirect?to={target}",
            "require_approval": "never",
        }
        resp = HTTP.post(
            server.url + "/v1/responses", json={"model": "openai/gpt-4o", "input": "x", "tools": [tool]}
        )
    assert resp.status_code == 424, resp.text
    message = resp.json()["error"]["message"]
    assert "not followed" in message or "not a public address" in message
