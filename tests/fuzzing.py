"""schemathesis against a running Responsa: cases generated from its own `/openapi.json`.

    schema = load(server.url)
    tally = fuzz_operation(schema, operation, cases=30)   # one Tally per operation
    assert not tally.failures, tally.describe()

Each case is sent over real HTTP and its response checked by schemathesis: no 5xx, a status
the document lists, a content type it lists, a body that matches the schema declared for
that status. Half the cases are schema-valid (positive), half deliberately invalid
(negative: they must be an OpenAI-shaped 4xx). Generation is derandomized, so a run with the
same document and case count sends the same requests. Shared by tests/api/test_schemathesis.py
(a few dozen cases per route) and bench/fuzz.py (many more).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class Tally:
    """What one operation's cases gave: how many ran, statuses seen, failures by check."""

    label: str
    cases: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # failure kind -> a curl reproducing it

    def describe(self) -> str:
        lines = [f"{self.label}: {self.cases} cases, statuses {dict(sorted(self.statuses.items()))}"]
        for kind, count in self.failures.most_common():
            lines.append(f"  {count} x {kind}\n    {self.examples[kind]}")
        return "\n".join(lines)


def load(base_url: str) -> Any:
    return schemathesis.openapi.from_url(base_url + "/openapi.json")


def operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def _failures(exc: BaseException) -> list[Failure]:
    if isinstance(exc, FailureGroup):
        return list(exc.exceptions)
    if isinstance(exc, Failure):
        return [exc]
    raise exc


def existing_ids(base_url: str, http: requests.Session) -> dict[str, str]:
    """Path parameters naming objects that exist: a background response (stored, with input
    items), a conversation with two items, a model, an uploaded file, in a vector store by a
    batch, a prompt. Made afresh for each operation, so one operation's deletes leave the next its own."""
    response = http.post(
        base_url + "/v1/responses",
        json={"model": "openai/gpt-4o", "input": [{"role": "user", "content": "hi"}], "background": True},
        timeout=30,
    ).json()
    items = [{"type": "message", "role": "user", "content": "one"}, {"role": "user", "content": "two"}]
    conversation = http.post(base_url + "/v1/conversations", json={"items": items}, timeout=30).json()
    assert "id" in conversation, conversation
    listed = http.get(f"{base_url}/v1/conversations/{conversation['id']}/items", timeout=30).json()
    uploaded = http.post(
        base_url + "/v1/files", data={"purpose": "user_data"}, files={"file": ("a.txt", b"a")}, timeout=30
    ).json()
    store = http.post(base_url + "/v1/vector_stores", json={"name": "fuzz"}, timeout=30).json()
    batch = http.post(
        f"{base_url}/v1/vector_stores/{store['id']}/file_batches",
        json={"file_ids": [uploaded["id"]]},
        timeout=30,
    ).json()
    prompt = http.post(base_url + "/v1/prompts", json={"prompt": "{{ x }}", "variables": ["x"]}, timeout=30)
    return {
        "prompt_id": prompt.json()["prompt_id"],
        "vector_store_id": store["id"],
        "batch_id": batch["id"],
        "file_id": uploaded["id"],
        "response_id": response["id"],
        "conversation_id": conversation["id"],
        "item_id": listed["data"][0]["id"],
        "model_id": "openai/gpt-4o",
        "connector_id": "fuzz",  # no connector is configured there: its routes answer 404
    }


def fuzz_operation(
    schema: Any, operation: Any, *, cases: int, session: requests.Session | None = None
) -> Tally:
    """Send `cases` generated requests to `operation` (positive and negative, with generated
    path parameters or ones naming existing objects) and check every response; failures are
    counted, never raised, so every case runs."""
    tally = Tally(operation.label)
    http = session or requests.Session()
    base_url = schema.get_base_url().rstrip("/")
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    strategies = [operation.as_strategy(generation_mode=mode) for mode in modes]
    names = [p.name for p in operation.path_parameters]
    if names:
        known = existing_ids(base_url, http)
        fixed = {name: known[name] for name in names}
        strategies += [operation.as_strategy(generation_mode=mode, path_parameters=fixed) for mode in modes]
    strategy = st.one_of(strategies)

    @hypothesis.settings(
        max_examples=cases,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(strategy)
    def run(case: Any) -> None:
        tally.cases += 1
        try:
            response = case.call(session=http, timeout=30)
        except Exception as exc:  # a connection broken mid-answer, a timeout: counted, not raised
            kind = f"no complete response: {type(exc).__name__}"
            tally.failures[kind] += 1
            tally.examples.setdefault(kind, f"{case.as_curl_command()}\n    {str(exc)[:500]}")
            return
        tally.statuses[response.status_code] += 1
        checks = CHECKS
        if response.status_code == 503 and '"code":"service_unavailable"' in response.text:
            checks = CHECKS[1:]  # documented: `guardrails` with no safety provider (as the peer)
        try:
            case.validate_response(response, checks=checks)
        except (Failure, FailureGroup) as exc:
            for failure in _failures(exc):
                kind = f"{type(failure).__name__}: {failure.title}"
                tally.failures[kind] += 1
                tally.examples.setdefault(
                    kind,
                    f"{case.as_curl_command()}\n    -> {response.status_code} {response.text[:300]}\n"
                    f"    {failure.message[:1500]}",
                )

    started = time.monotonic()
    run()
    tally.seconds = time.monotonic() - started
    if session is None:
        http.close()
    return tally
