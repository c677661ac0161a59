"""`GET /openapi.json` describes every route as it behaves: bodies, successes and errors."""

from __future__ import annotations

from typing import Any

import pytest

from responsa.engine import request as models
from responsa.prompts import requests as prompt_models
from responsa.vector_stores import requests as vector_store_models
from tests.support import HTTP, Server


@pytest.fixture()
def doc(live_server: Server) -> dict[str, Any]:
    result: dict[str, Any] = HTTP.get(live_server.url + "/openapi.json").json()
    return result


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [r for v in value.values() for r in refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in refs(v)]
    return []


BODIES = {
    ("POST", "/v1/responses"): "CreateResponseRequest",
    ("POST", "/v1/conversations"): "CreateConversationRequest",
    ("POST", "/v1/conversations/{conversation_id}"): "UpdateConversationRequest",
    ("POST", "/v1/conversations/{conversation_id}/items"): "CreateItemsRequest",
    ("POST", "/v1/chat/completions"): "ChatCompletionRequest",
    ("POST", "/v1/responses/compact"): "CompactRequest",
    ("POST", "/v1/responses/input_tokens"): "InputTokensRequest",
    ("POST", "/v1/embeddings"): "CreateEmbeddingRequest",
    ("POST", "/v1/vector_stores"): "CreateVectorStoreRequest",
    ("POST", "/v1/vector_stores/{vector_store_id}"): "UpdateVectorStoreRequest",
    ("POST", "/v1/vector_stores/{vector_store_id}/search"): "SearchVectorStoreRequest",
    ("POST", "/v1/vector_stores/{vector_store_id}/files"): "CreateVectorStoreFileRequest",
    ("POST", "/v1/vector_stores/{vector_store_id}/files/{file_id}"): "UpdateVectorStoreFileRequest",
    ("POST", "/v1/vector_stores/{vector_store_id}/file_batches"): "CreateFileBatchRequest",
    ("POST", "/v1/prompts"): "CreatePromptRequest",
    ("POST", "/v1/prompts/{prompt_id}"): "UpdatePromptRequest",
    ("PUT", "/v1/prompts/{prompt_id}"): "UpdatePromptRequest",
    ("PUT", "/v1/prompts/{prompt_id}/set-default-version"): "SetDefaultVersionRequest",
}
MODEL_MODULES = (models, vector_store_models, prompt_models)
NO_CONTENT = {("DELETE", "/v1/prompts/{prompt_id}")}  # a 204, as the reference server answers it


def test_every_post_body_is_the_model_that_validates_it(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for method, path, op in operations(doc):
        if (method, path) == ("POST", "/v1/files"):  # the one multipart body: the SDK's form
            (kind,) = op["requestBody"]["content"]
            form = op["requestBody"]["content"][kind]["schema"]
            assert kind == "multipart/form-data" and form["required"] == ["file", "purpose"]
            assert form["properties"]["file"] == {**form["properties"]["file"], "format": "binary"}
            continue
        name = BODIES.get((method, path))
        if name is None:  # cancel takes no body
            assert "requestBody" not in op, (method, path)
            continue
        body = op["requestBody"]
        assert body["required"] is True
        assert body["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{name}"}
        model = next(getattr(m, name) for m in MODEL_MODULES if hasattr(m, name))
        expected = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for nested, schema in expected.pop("$defs", {}).items():
            assert schemas[nested] == schema
        assert schemas[name] == expected
    assert {(m, p) for m, p, op in operations(doc) if "requestBody" in op} == {*BODIES, ("POST", "/v1/files")}


def test_errors_are_real_and_openai_shaped(doc: dict[str, Any]) -> None:
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for method, path, op in operations(doc):
        statuses = set(op["responses"])
        assert "422" not in statuses, (method, path)
        assert ("204" if (method, path) in NO_CONTENT else "200") in statuses and "400" in statuses
        assert ("401" in statuses) == (path != "/v1/health")
        assert ("415" in statuses) == (method in ("POST", "PUT"))
        for status, response in op["responses"].items():
            if status == "204":
                assert "content" not in response, (method, path)
            elif status != "200":
                assert response["content"] == {"application/json": {"schema": error_ref}}, (path, status)
        calls_upstream = (method, path) in {
            ("POST", "/v1/responses"),
            ("POST", "/v1/chat/completions"),
            ("POST", "/v1/responses/compact"),  # the summary call
            ("POST", "/v1/embeddings"),
            ("POST", "/v1/vector_stores/{vector_store_id}/search"),  # the query is embedded
            ("GET", "/v1/models/{model_id}"),  # whether the provider lists the model
        }
        assert ("502" in statuses) == calls_upstream, (method, path)  # the upstream's failures
        assert ("4XX" in statuses) == (calls_upstream and method == "POST"), (method, path)
        # a POST body waits for a turn when large; the upstream may say 429 too
        assert ("429" in statuses) == ("requestBody" in op), (method, path)
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    error = schemas["ErrorBody"]
    assert error["required"] == ["message", "type", "param", "code"]
    assert error["additionalProperties"] is False


def test_successes_have_schemas_and_every_reference_resolves(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for method, path, op in operations(doc):
        if (method, path) in NO_CONTENT:
            continue
        content = op["responses"]["200"]["content"]
        if path == "/v1/files/{file_id}/content":  # the file's bytes, of its own type
            assert content == {"*/*": {"schema": {"type": "string", "format": "binary"}}}
            continue
        assert content["application/json"]["schema"]["$ref"].startswith("#/components/schemas/"), (
            method,
            path,
        )
    streams = {
        (m, p)
        for m, p, op in operations(doc)
        if "text/event-stream" in op["responses"].get("200", {}).get("content", {})
    }
    assert streams == {
        ("POST", "/v1/responses"),
        ("GET", "/v1/responses/{response_id}"),
        ("POST", "/v1/chat/completions"),
    }
    for reference in refs(doc):
        assert reference.removeprefix("#/components/schemas/") in schemas, reference
    assert doc["paths"]["/v1/responses/{response_id}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"] == {"$ref": "#/components/schemas/Response"}
