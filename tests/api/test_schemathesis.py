"""schemathesis over every route of `/openapi.json`, against a real server (tests/fuzzing.py):
no 5xx, and every status, content type and body as the document declares, for schema-valid
and deliberately invalid requests alike. `bench/fuzz.py` runs the same with many more cases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import fuzzing
from tests.support import HTTP, Process, Server, new_database, start_server, upstream_env

CASES = 30  # per operation; generation is derandomized, so every run sends the same requests


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fake_upstream: Process
) -> Iterator[Server]:
    """A server of its own, on a fresh database: fuzzing stores hundreds of objects."""
    tmp = tmp_path_factory.mktemp("fuzz")
    with new_database(request.param, tmp) as url:
        server = start_server(tmp, "fuzz", upstream_env(fake_upstream, RESPONSA_DB_URL=url))
        yield server
        server.stop()


def test_every_route_holds_to_the_document(fuzzed_server: Server) -> None:
    schema = fuzzing.load(fuzzed_server.url)
    operations = fuzzing.operations(schema)
    paths = HTTP.get(fuzzed_server.url + "/openapi.json").json()["paths"]
    assert len(operations) == sum(len(methods) for methods in paths.values()) == 54
    tallies = [fuzzing.fuzz_operation(schema, operation, cases=CASES) for operation in operations]
    assert all(tally.cases >= 1 for tally in tallies)  # a route with no input has one possible case
    report = "\n".join(tally.describe() for tally in tallies if tally.failures)
    assert not report, report
    assert sum(tally.statuses[200] for tally in tallies) > 60  # successes were checked, not only errors
