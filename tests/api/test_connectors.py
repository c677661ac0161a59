"""Connectors: MCP servers named in the config and used by `connector_id`, their credentials
kept server-side; the reference server's connector recording replays with its config form."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.api.test_tool_replay import BOILING, INPUTS, _ids
from tests.support import HTTP, SEEDS, Process, Server, start_mcp_server, start_server, upstream_env


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """The boiling-point MCP server, which wants `Authorization: Bearer connector-secret`."""
    with start_mcp_server(tmp_path_factory.mktemp("mcp"), "boiling", "--token", "connector-secret") as proc:
        yield proc


@pytest.fixture(scope="module")
def configured(
    tmp_path_factory: pytest.TempPathFactory, fake_upstream: Process, guarded: Process
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("connectors")
    config = tmp / "responsa.yaml"
    connectors = {
        "boil": {
            "url": guarded.mcp_url,  # type: ignore[attr-defined]
            "server_label": "localmcp",
            "description": "Boiling points",
            "authorization": "connector-secret",
            "headers": {"X-Team": "lab"},
        }
    }
    config.write_text(json.dumps({"connectors": connectors}))
    # Only the upstream's loopback address is allowed: the connector's is allowed as a connector.
    env = upstream_env(fake_upstream, RESPONSA_OUTBOUND_ALLOW="203.0.113.1")
    server = start_server(tmp, "connectors", env, ("--config", str(config)))
    yield server
    server.stop()


def test_connectors_are_listed_without_credentials(configured: Server) -> None:
    listed = HTTP.get(configured.url + "/v1/connectors").json()
    assert listed["object"] == "list"
    assert listed["data"] == [
        {
            "connector_type": "mcp",
            "connector_id": "boil",
            "url": listed["data"][0]["url"],
            "server_label": "localmcp",
            "server_name": None,
            "server_description": "Boiling points",
            "server_version": None,
        }
    ]
    assert "connector-secret" not in HTTP.get(configured.url + "/v1/connectors/boil").text
    tools = HTTP.get(configured.url + "/v1/connectors/boil/tools").json()  # listed with its token
    assert {t["name"] for t in tools["data"]} == BOILING
    missing = HTTP.get(configured.url + "/v1/connectors/nope")
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "connector_id"


def test_a_response_uses_a_connector_by_id(configured: Server) -> None:
    response = configured.client().responses.create(
        model="openai/tool-call",
        input="Boiling point?",
        tools=[{"type": "mcp", "connector_id": "boil", "require_approval": "never"}],  # type: ignore[list-item]
    )
    listing, call = response.output[0], response.output[1]
    assert listing.type == "mcp_list_tools" and listing.server_label == "localmcp"
    assert call.type == "mcp_call" and call.error is None, call
    echoed = response.tools[0]
    assert echoed.type == "mcp" and echoed.connector_id == "boil" and echoed.server_label == "localmcp"
    stored = HTTP.get(configured.url + f"/v1/responses/{response.id}").text
    assert "connector-secret" not in stored and "X-Team" not in stored


def test_unknown_connector_is_400(configured: Server) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        configured.client().responses.create(
            model="openai/tool-call",
            input="x",
            tools=[{"type": "mcp", "server_label": "x", "connector_id": "gmail"}],  # type: ignore[list-item]
        )
    assert caught.value.body["param"] == "tools[0].connector_id"  # type: ignore[index]
    assert "boil" in caught.value.message  # the known ones are named


@pytest.fixture(scope="module")
def ogx_configured(
    tmp_path_factory: pytest.TempPathFactory, shared_dir: Path, boiling: Process
) -> Iterator[Server]:
    """The peer's recordings replayed, the connector given in the peer's own config form."""
    tmp = tmp_path_factory.mktemp("ogx-connectors")
    config = tmp / "run.yaml"
    entry = {"connector_id": "test-mcp-connector", "url": boiling.mcp_url}  # type: ignore[attr-defined]
    config.write_text(json.dumps({"connectors": [entry]}))
    env = {
        "RESPONSA_RECORDING_MODE": "replay",
        "RESPONSA_RECORDING_DIR": os.pathsep.join([str(SEEDS), str(shared_dir / "recordings")]),
        "RESPONSA_TRANSLATION": "ogx",
    }
    server = start_server(tmp, "ogx-connectors", env, ("--config", str(config)))
    yield server
    server.stop()


@pytest.mark.parametrize("test_id", _ids("test_response_connector_resolution_mcp_tool"))
def test_peer_connector_resolution_replays(ogx_configured: Server, test_id: str) -> None:
    response = ogx_configured.client(test_id).responses.create(
        model="openai/gpt-4o",
        input=INPUTS[test_id],
        tools=[{"type": "mcp", "server_label": "localmcp", "connector_id": "test-mcp-connector"}],  # type: ignore[list-item]
    )
    listing, call = response.output[0], response.output[1]
    assert listing.type == "mcp_list_tools" and {t.name for t in listing.tools} == BOILING
    assert call.type == "mcp_call" and call.name == "get_boiling_point" and "-100" in (call.output or "")
    assert response.status == "completed" and "boiling point" in response.output_text.lower()
