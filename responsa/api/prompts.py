"""`/v1/prompts` routes: create, list (default versions), retrieve (`?version=N`), update (a new
version), set the default version, list versions, delete. The shapes and routes are the
reference server's (OGX), whose client (`client.prompts`) they serve; an update is also taken
as `POST`, this API's verb for updates elsewhere. The logic is `prompts/service.py`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from responsa.api.deps import json_response, read_json, scope
from responsa.api.openapi import BODY, operation
from responsa.auth.principal import current_principal
from responsa.engine.request import parse_body
from responsa.prompts.requests import (
    MAX_VERSION,
    CreatePromptRequest,
    SetDefaultVersionRequest,
    UpdatePromptRequest,
)
from responsa.prompts.service import Prompts
from responsa.store.base import StoredPrompt

router = APIRouter()

PROMPT = "/v1/prompts/{prompt_id}"


async def service(request: Request) -> Prompts:
    result: Prompts = request.app.state.prompts
    return result


Service = Annotated[Prompts, Depends(service)]
VersionQuery = Annotated[int | None, Query(ge=1, le=MAX_VERSION)]


def shown(prompt: StoredPrompt) -> dict[str, object]:
    """OGX's `Prompt`."""
    return {
        "prompt": prompt.prompt,
        "version": prompt.version,
        "prompt_id": prompt.id,
        "variables": prompt.variables,
        "is_default": prompt.is_default,
    }


def listed(prompts: list[StoredPrompt]) -> Response:
    """OGX's `ListPromptsResponse`: every row at once, no cursor."""
    return json_response({"data": [shown(prompt) for prompt in prompts]})


@router.post("/v1/prompts", **operation(ok="Prompt", body=CreatePromptRequest, errors=BODY))
async def create_prompt(request: Request, prompts: Service) -> Response:
    body = parse_body(CreatePromptRequest, await read_json(request))
    return json_response(shown(await prompts.create(body, current_principal.get().owner)))


@router.get("/v1/prompts", **operation(ok="PromptList"))
async def list_prompts(prompts: Service) -> Response:
    return listed(await prompts.defaults(scope()))


@router.get(PROMPT, **operation(ok="Prompt", errors=(400, 404)))
async def retrieve_prompt(prompt_id: str, prompts: Service, version: VersionQuery = None) -> Response:
    return json_response(shown(await prompts.get(prompt_id, version, scope())))


@router.put(PROMPT, **operation(ok="Prompt", body=UpdatePromptRequest, errors=(*BODY, 404)))
@router.post(PROMPT, **operation(ok="Prompt", body=UpdatePromptRequest, errors=(*BODY, 404)))
async def update_prompt(prompt_id: str, request: Request, prompts: Service) -> Response:
    body = parse_body(UpdatePromptRequest, await read_json(request))
    return json_response(shown(await prompts.update(prompt_id, body, scope())))


@router.delete(PROMPT, **operation(ok=None, status=204, errors=(400, 404)))
async def delete_prompt(prompt_id: str, prompts: Service) -> Response:
    await prompts.delete(prompt_id, scope())
    return Response(status_code=204)


@router.put(
    PROMPT + "/set-default-version",
    **operation(ok="Prompt", body=SetDefaultVersionRequest, errors=(*BODY, 404)),
)
async def set_default_version(prompt_id: str, request: Request, prompts: Service) -> Response:
    body = parse_body(SetDefaultVersionRequest, await read_json(request))
    return json_response(shown(await prompts.set_default(prompt_id, body.version, scope())))


@router.get(PROMPT + "/versions", **operation(ok="PromptList", errors=(400, 404)))
async def list_prompt_versions(prompt_id: str, prompts: Service) -> Response:
    return listed(await prompts.versions(prompt_id, scope()))
