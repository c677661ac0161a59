"""`/v1/connectors`: the MCP servers the config names (`tools/connectors.py`), without their
credentials, and the tools each one offers (listed live, with the connector's credentials)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from responsa.api.deps import engine, json_response
from responsa.api.openapi import operation
from responsa.engine.run import Engine

router = APIRouter()


@router.get("/v1/connectors", **operation(ok="ConnectorList"))
async def list_connectors(engine: Annotated[Engine, Depends(engine)]) -> Response:
    return json_response(engine.connectors.listed())


@router.get("/v1/connectors/{connector_id}", **operation(ok="Connector", errors=(404,)))
async def get_connector(connector_id: str, engine: Annotated[Engine, Depends(engine)]) -> Response:
    return json_response(engine.connectors.shown(connector_id))


@router.get("/v1/connectors/{connector_id}/tools", **operation(ok="ConnectorToolList", errors=(404, 424)))
async def list_connector_tools(connector_id: str, engine: Annotated[Engine, Depends(engine)]) -> Response:
    engine.connectors.get(connector_id)  # 404 first
    server = engine.connectors.server(connector_id, "connector", None, {}, None)
    tools = await engine.mcp.list_tools(server)
    data = [{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in tools]
    return json_response({"object": "list", "data": data})
