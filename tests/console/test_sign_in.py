"""Signing in to the console through an OIDC issuer (the authorization-code flow with PKCE),
against a fake issuer on loopback: in the browser, and each way it must refuse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.console.conftest import console_config
from tests.console.idp import FakeIssuer
from tests.support import Process, Server, start_server


@pytest.fixture(scope="module")
def issuer() -> Iterator[FakeIssuer]:
    fake = FakeIssuer(user="carol")
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, fake_upstream: Process, issuer: FakeIssuer
) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("sign-in")
    config = console_config(tmp, fake_upstream, issuer.config())
    started = start_server(tmp, "sign-in", {}, ("--config", str(config)))
    yield started
    started.stop()


def test_sign_in_with_the_issuer_in_the_browser(browser: Any, server: Server, issuer: FakeIssuer) -> None:
    from playwright.sync_api import expect

    mine = server.client(api_key=issuer.token()).responses.create(
        model="gpt-4o-mini", input="Carol's question"
    )
    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        page.goto(f"/console/responses/{mine.id}")
        assert "/console/login" in page.url
        page.get_by_role("link", name="Sign in with https://issuer.test").click()
        page.wait_for_url(lambda url: url.endswith(f"/console/responses/{mine.id}"))
        expect(page.get_by_text("Carol's question").first).to_be_visible()
        expect(page.get_by_text("signed in as")).to_contain_text("carol")
        exchange = issuer.exchanges[-1]
        assert exchange["grant_type"] == "authorization_code" and len(exchange["code_verifier"]) >= 43
        assert exchange["redirect_uri"] == server.url + "/console/login/callback"
    finally:
        context.close()


def _start(server: Server) -> tuple[httpx.Client, dict[str, str]]:
    """A client that began a sign-in: its flow cookie, and the issuer's query."""
    client = httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)
    server.clients.append(client)  # type: ignore[arg-type]  # closed when the server stops
    begun = client.get("/console/login/oidc", params={"next": "/console/jobs"})
    assert begun.status_code == 303
    cookie = begun.headers["set-cookie"]
    assert "SameSite=Lax" in cookie and "Path=/console/login" in cookie and "HttpOnly" in cookie
    query = {k: v[0] for k, v in parse_qs(urlparse(begun.headers["location"]).query).items()}
    assert query["code_challenge_method"] == "S256" and query["client_id"] == "responsa-console"
    return client, query


def _authorize(issuer: FakeIssuer, query: dict[str, str]) -> dict[str, str]:
    """What the issuer sends the browser back with (its redirect's query)."""
    asked = httpx.get(issuer.url + "/authorize", params=query, follow_redirects=False)
    assert asked.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlparse(asked.headers["location"]).query).items()}


def test_the_flow_signs_in_only_with_its_own_state(server: Server, issuer: FakeIssuer) -> None:
    client, query = _start(server)
    back = _authorize(issuer, query)
    wrong = client.get("/console/login/callback", params={**back, "state": "forged"})
    assert wrong.status_code == 400 and "state does not match" in wrong.text
    stranger = httpx.get(server.url + "/console/login/callback", params=back, follow_redirects=False)
    assert stranger.status_code == 400  # no flow cookie: a link someone else started
    done = client.get("/console/login/callback", params=back)
    assert done.status_code == 303 and done.headers["location"] == "/console/jobs"
    assert client.get("/console/jobs").status_code == 200  # signed in
    again = client.get("/console/login/callback", params=back)  # the flow cookie was spent
    assert again.status_code == 400 and "start again" in again.text


def test_refusals_from_the_issuer_and_tokens_the_api_would_not_take(
    server: Server, issuer: FakeIssuer
) -> None:
    client, _ = _start(server)
    denied = client.get("/console/login/callback", params={"error": "access_denied", "state": "x"})
    assert denied.status_code == 401 and "access_denied" in denied.text
    client, query = _start(server)
    back = _authorize(issuer, {**query, "code_challenge": "not-the-verifiers"})
    refused = client.get("/console/login/callback", params=back)
    assert refused.status_code == 401 and "bad code or verifier" in refused.text
    client, query = _start(server)
    back = _authorize(issuer, query)
    issuer.claims = {"aud": "someone-else"}
    try:
        wrong_audience = client.get("/console/login/callback", params=back)
    finally:
        issuer.claims = {}
    assert wrong_audience.status_code == 401 and "not valid" in wrong_audience.text
    assert client.get("/console/jobs").status_code == 303  # still signed out
