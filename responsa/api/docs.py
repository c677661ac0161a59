"""`/docs`: the interactive API reference (Swagger UI) over `/openapi.json`, served offline.

FastAPI's own `/docs` page loads Swagger UI from a CDN, so it is blank without network; here the
page and its assets come from the `swagger-ui-bundle` package. The page, its assets and the
document are open even with authentication on (`auth/guard.OPEN_PATHS`): they describe the API
and hold no data; "Authorize" in the page sends a key with the requests it makes.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)

ASSETS = {
    "/docs/swagger-ui-bundle.js": ("swagger-ui-bundle.js", "text/javascript"),
    "/docs/swagger-ui.css": ("swagger-ui.css", "text/css"),
    "/docs/favicon-32x32.png": ("favicon-32x32.png", "image/png"),
}
PATHS = frozenset({"/docs", "/openapi.json", *ASSETS})


@cache
def _asset(name: str) -> bytes:
    import swagger_ui_bundle  # type: ignore[import-untyped]

    return (Path(swagger_ui_bundle.swagger_ui_path) / name).read_bytes()


@router.get("/docs")
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Responsa API",
        swagger_js_url="/docs/swagger-ui-bundle.js",
        swagger_css_url="/docs/swagger-ui.css",
        swagger_favicon_url="/docs/favicon-32x32.png",
    )


def _serve(path: str, name: str, media_type: str) -> None:
    async def asset() -> Response:
        return Response(_asset(name), media_type=media_type, headers={"Cache-Control": "max-age=86400"})

    router.add_api_route(path, asset, methods=["GET"])


for _path, (_name, _type) in ASSETS.items():
    _serve(_path, _name, _type)
