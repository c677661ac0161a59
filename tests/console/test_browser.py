"""The console in a real browser (Debian's chromium, driven by Playwright): objects made through
the SDK, then found, followed, cancelled and chatted with on the pages, by keyboard and mouse.
Each test saves screenshots (conftest.ARTIFACTS) to look at."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.console.conftest import Console, recording_config
from tests.support import Process, start_server

pytestmark = pytest.mark.browser


@pytest.fixture()
def context(browser: Any, browser_console: Console) -> Iterator[Any]:
    made = browser.new_context(base_url=browser_console.server.url, viewport={"width": 1280, "height": 900})
    made.set_default_timeout(20_000)
    yield made
    made.close()


def sign_in(context: Any, key: str, then: str = "/console/responses") -> Any:
    """A page signed in through the sign-in form, on `then` (the page first asked for)."""
    page = context.new_page()
    page.goto(then)
    assert "/console/login" in page.url  # no session yet: the sign-in page
    page.get_by_label("API key or token").fill(key)
    page.get_by_label("API key or token").press("Enter")  # the keyboard submits the form
    page.wait_for_url(lambda url: "/console/login" not in url and url.endswith(then))
    return page


def test_find_a_response_its_chain_and_its_upstream_calls(
    context: Any, browser_console: Console, shoot: Any
) -> None:
    from playwright.sync_api import expect

    client = browser_console.client(browser_console.alice, test_id="console-browser-chain")
    first = client.responses.create(model="gpt-4o-mini", input="Where is the lighthouse?")
    second = client.responses.create(
        model="gpt-4o-mini", input="And how tall is it?", previous_response_id=first.id
    )
    conversation = client.conversations.create()
    client.responses.create(
        model="gpt-4o-mini", input="A turn in a conversation", conversation=conversation.id
    )
    page = sign_in(context, browser_console.alice)
    expect(page.get_by_role("heading", name="Responses")).to_be_visible()
    table = page.get_by_role("table", name="Responses")
    expect(table.get_by_text("Where is the lighthouse?")).to_be_visible()
    shoot(page, "table")
    # Text search narrows the table.
    page.get_by_label("Text").fill("lighthouse")
    page.get_by_role("button", name="Filter").click()
    expect(table.get_by_role("row")).to_have_count(2)  # the header and the one match
    # Open the second turn, then follow the chain back and forth.
    page.goto("/console/responses")
    page.get_by_role("link", name=f"Response {second.id}").click()
    expect(page.get_by_role("heading", name=f"Response {second.id}")).to_be_visible()
    expect(page.get_by_role("region", name="Input").get_by_text("And how tall is it?")).to_be_visible()
    expect(page.get_by_role("region", name="Output").get_by_text("Hello from gpt-4o-mini!")).to_be_visible()
    calls = page.get_by_role("region", name="Upstream calls")
    expect(calls.get_by_text("recorded", exact=True)).to_be_visible()
    expect(page.get_by_text("Time to first token")).to_be_visible()
    shoot(page, "detail")
    page.get_by_role("navigation", name="Response chain").get_by_role("link", name=first.id).click()
    expect(page.get_by_role("heading", name=f"Response {first.id}")).to_be_visible()
    page.get_by_role("navigation", name="Response chain").get_by_role("link", name=second.id).click()
    expect(page.get_by_role("heading", name=f"Response {second.id}")).to_be_visible()
    # The conversation's thread.
    page.get_by_role("link", name="Conversations").click()
    page.get_by_role("link", name=conversation.id).click()
    expect(page.get_by_role("region", name="Thread").get_by_text("A turn in a conversation")).to_be_visible()
    # The dark theme, kept across pages.
    page.get_by_role("button", name="Switch between dark and light theme").click()
    theme = page.evaluate("document.documentElement.dataset.theme")
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == theme
    shoot(page, "conversation-theme")


def test_follow_and_cancel_a_background_job(context: Any, browser_console: Console, shoot: Any) -> None:
    from playwright.sync_api import expect

    client = browser_console.client(browser_console.alice)
    job = client.responses.create(model="slow-long", input="Count slowly", background=True)
    page = sign_in(context, browser_console.alice, "/console/jobs")
    row = page.get_by_role("row").filter(has_text=job.id)
    expect(row).to_be_visible()
    shoot(page, "jobs")
    row.get_by_role("link", name=job.id).click()
    live = page.get_by_role("region", name="Live progress")
    expect(live.get_by_text(re.compile(r"\d+ events · last: response\.output_text\.delta"))).to_be_visible()
    expect(live.locator("[data-text]")).to_contain_text("tick1")  # the streamed text, as it arrives
    shoot(page, "live")
    live.get_by_role("button", name="Cancel this response").click()
    expect(page.locator("#status")).to_have_text("cancelled")
    assert client.responses.retrieve(job.id).status == "cancelled"
    page.goto("/console/jobs")
    expect(page.get_by_role("row").filter(has_text=job.id).get_by_text("cancelled")).to_be_visible()


def test_playground_chats_with_streaming(context: Any, browser_console: Console, shoot: Any) -> None:
    from playwright.sync_api import expect

    page = sign_in(context, browser_console.alice, "/console/playground")
    page.get_by_label("Model", exact=True).fill("gpt-4o-mini")
    page.get_by_label("Message").fill("Hi there")
    page.get_by_role("button", name="Send").click()
    chat = page.get_by_role("region", name="Chat")
    expect(chat.locator(".turn-assistant")).to_have_text(re.compile("Hello from gpt-4o-mini!"))
    first_link = chat.locator("[data-last] a")
    expect(first_link).to_have_text(re.compile("^resp_"))
    first_id = first_link.inner_text()
    page.get_by_label("Message").fill("Once more")
    page.get_by_label("Message").press("Tab")
    page.keyboard.press("Enter")  # Send, by keyboard
    expect(chat.locator(".turn-assistant")).to_have_count(2)
    expect(first_link).not_to_have_text(first_id)
    second_id = first_link.inner_text()
    page.get_by_text("Raw events").click()
    expect(page.locator("[data-events]")).to_contain_text("response.output_text.delta")
    shoot(page, "playground")
    client = browser_console.client(browser_console.alice)
    assert client.responses.retrieve(second_id).previous_response_id == first_id
    # A bad functions list is refused on the page, before any request.
    page.get_by_label("Functions (JSON list of function tools)").fill("{not json")
    page.get_by_label("Message").fill("With tools")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_contain_text("Functions")


def test_an_owner_cannot_open_another_owners_pages(
    context: Any, browser: Any, browser_console: Console, shoot: Any
) -> None:
    from playwright.sync_api import expect

    alice = browser_console.client(browser_console.alice)
    private = alice.responses.create(model="gpt-4o-mini", input="Alice's secret plan")
    page = sign_in(context, browser_console.bob)
    expect(page.get_by_text("Alice's secret plan")).to_have_count(0)
    page.goto(f"/console/responses/{private.id}")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_text("Alice's secret plan")).to_have_count(0)
    page.goto("/console/recordings")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    shoot(page, "refused")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile("/console/login"))
    page.wait_for_load_state()
    signed_out = context.new_page()
    signed_out.goto(f"/console/responses/{private.id}")
    assert "/console/login" in signed_out.url  # the cookie is gone
    # An admin sees it.
    admin = browser.new_context(base_url=browser_console.server.url)
    try:
        page = sign_in(admin, browser_console.admin, f"/console/responses/{private.id}")
        expect(page.get_by_text("Alice's secret plan")).to_be_visible()
    finally:
        admin.close()


def test_files_and_a_vector_store_search(context: Any, browser_console: Console, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    client = browser_console.client(browser_console.alice)
    notes = tmp_path / "harbour.txt"
    notes.write_text("The harbour lighthouse is 42 metres tall and was built in 1871.\n")
    uploaded = client.files.create(file=(notes.name, notes.read_bytes()), purpose="assistants")
    store = client.vector_stores.create(name="harbour notes", file_ids=[uploaded.id])
    for _ in range(300):
        if client.vector_stores.retrieve(store.id).file_counts.completed == 1:
            break
        time.sleep(0.1)
    page = sign_in(context, browser_console.alice, "/console/files")
    expect(page.get_by_role("table", name="Files").get_by_text("harbour.txt")).to_be_visible()
    page.get_by_role("link", name="Vector stores").click()
    page.get_by_role("link", name="harbour notes").click()
    search = page.get_by_role("searchbox", name="Search")
    search.fill("how tall is the lighthouse")
    search.press("Enter")
    results = page.get_by_role("region", name="Search results")
    expect(results.get_by_text("42 metres tall")).to_be_visible()
    page.get_by_role("region", name="Files").get_by_role("link", name="harbour.txt").click()
    expect(page.get_by_text("built in 1871")).to_be_visible()


@contextlib.contextmanager
def replaying(tmp: Path, recordings: Path, fake: Process) -> Iterator[Any]:
    """A second server replaying what the console's server recorded (open: no keys). It indexes
    the recordings when it starts."""
    config = recording_config(tmp, fake, f"sqlite:///{tmp / 'replay.db'}", recordings, "replay")
    server = start_server(tmp, "replay", {}, ("--config", str(config)))
    try:
        yield server
    finally:
        server.stop()


def test_a_replay_miss_shows_its_diff(
    browser: Any, browser_console: Console, fake_upstream: Process, tmp_path: Path, shoot: Any
) -> None:

    recorder = browser_console.client(browser_console.alice, test_id="console-browser-miss")
    recorder.responses.create(model="gpt-4o-mini", input="The recorded question")
    with replaying(tmp_path, browser_console.recordings, fake_upstream) as server:
        _miss_and_look(browser, server, shoot)


def _miss_and_look(browser: Any, server: Any, shoot: Any) -> None:
    from playwright.sync_api import expect

    replayer = server.client(test_id="console-browser-miss")
    replayed = replayer.responses.create(model="gpt-4o-mini", input="The recorded question")
    assert replayed.output_text == "Hello from gpt-4o-mini!"
    with pytest.raises(openai.APIStatusError) as missed:
        replayer.responses.create(model="gpt-4o-mini", input="A question never recorded")
    assert missed.value.status_code == 500
    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        page.goto("/console/recordings")  # an open server: no sign-in
        expect(page.get_by_text("1 replayed")).to_be_visible()
        expect(page.get_by_text("1 missed")).to_be_visible()
        miss = page.locator("details.miss").first
        expect(miss).to_contain_text("differs at messages[0].content")
        expect(miss.locator("pre.diff")).to_contain_text("A question never recorded")
        page.get_by_text("console-browser-miss", exact=True).first.click()  # its branch of the tree
        shoot(page, "recordings")
        # The failed response shows the same diff on its upstream call.
        page.goto("/console/responses?status=failed")
        page.get_by_role("table", name="Responses").get_by_role("link").first.click()
        calls = page.get_by_role("region", name="Upstream calls")
        expect(calls.get_by_text("missed", exact=True)).to_be_visible()
        expect(calls.locator("pre.diff")).to_contain_text("The recorded question")
        shoot(page, "miss")
    finally:
        context.close()


AXE = Path(__file__).resolve().parents[1] / "clients" / "node_modules" / "axe-core" / "axe.min.js"


def test_every_page_passes_axe(context: Any, browser_console: Console, shoot: Any) -> None:
    """axe-core's WCAG 2 A/AA rules on every page, in both themes: no serious or critical
    violation (labels, names, contrast, landmarks, keyboard focus)."""
    if not AXE.is_file():
        pytest.skip(f"axe-core is not installed ({AXE}): npm ci --prefix tests/clients")
    client = browser_console.client(browser_console.admin)
    made = client.responses.create(model="gpt-4o-mini", input="A question for the accessibility checks")
    conversation = client.conversations.create()
    page = sign_in(context, browser_console.admin)
    paths = [
        "/console/responses",
        f"/console/responses/{made.id}",
        "/console/conversations",
        f"/console/conversations/{conversation.id}",
        "/console/jobs",
        "/console/files",
        "/console/vector_stores",
        "/console/recordings",
        "/console/playground",
        "/console/responses/resp_missing",
    ]
    found: list[str] = []
    for theme in ("light", "dark"):
        page.evaluate(f"localStorage.setItem('responsa-theme', '{theme}')")
        for path in paths:
            page.goto(path)
            page.add_script_tag(path=str(AXE))
            result = page.evaluate(
                "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})"
            )
            for violation in result["violations"]:
                if violation["impact"] in ("serious", "critical"):
                    targets = [node["target"] for node in violation["nodes"][:3]]
                    found.append(f"{theme} {path}: {violation['id']} ({violation['help']}) at {targets}")
    page.goto("/console/responses")
    shoot(page, "dark")
    assert not found, "\n".join(found)
    # The check itself can fail: an input with no label is a critical violation.
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<input id=canary>')")
    page.add_script_tag(path=str(AXE))
    canary = page.evaluate("axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})")
    assert any(v["id"] == "label" and v["impact"] == "critical" for v in canary["violations"])
