"""The web app and the API's docs, both served by this server alone (no CDN: they work without
internet). The app is built by ./scripts/setup into web/dist: its files are served as they are,
and every other GET outside the API's own paths answers its index.html, so that the app's
client routes (/datasets/3/label) load on a reload or a shared link. /docs is Swagger UI from the
assets the build copies into web/dist/swagger (the pinned swagger-ui-dist package)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from starlette.convertors import Convertor, register_url_convertor

from ledger.kit.errors import LedgerError, NotFound

WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
SWAGGER = "/swagger"
#: Vite names these files by their content's hash: they never change under a name.
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
REVALIDATE = {"Cache-Control": "no-cache"}


class WebAppNotBuilt(LedgerError):
    status_code = 503
    code = "web_app_not_built"


class ClientPath(Convertor[str]):
    """Any path but the API's own (/v1/..., /docs, /openapi.json, /metrics, /media/...): those
    keep their answers, an unknown /v1 path its JSON 404."""

    regex: ClassVar[str] = r"(?!(?:v1|media|docs)(?:/|$)|(?:openapi\.json|metrics)$).*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("client_path", ClientPath())


def _not_built(what: str) -> WebAppNotBuilt:
    return WebAppNotBuilt(
        f"{what} is not built: run ./scripts/setup (it builds web/ into web/dist), then reload"
    )


def router(dist: Path = WEB_DIST) -> APIRouter:
    """The routes of the app built into `dist`. Include it after every other router."""
    root = dist.resolve()
    web = APIRouter(include_in_schema=False)

    @web.get("/docs")
    async def docs() -> HTMLResponse:
        if not (root / "swagger" / "swagger-ui-bundle.js").is_file():
            raise _not_built("Swagger UI, which /docs shows,")
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="label-ledger API",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
            # Swagger UI would otherwise show a badge fetched from its online validator.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @web.api_route("/{path:client_path}", methods=["GET", "HEAD"])
    async def web_app(path: str) -> FileResponse:
        index = root / "index.html"
        if not index.is_file():
            raise _not_built("The web app")
        if path:
            asset = (root / path).resolve()
            if asset.is_relative_to(root) and asset.is_file():
                return FileResponse(
                    asset, headers=IMMUTABLE if path.startswith("assets/") else REVALIDATE
                )
            if "." in path.rsplit("/", 1)[-1]:
                # a file name the build does not have (an old asset, a typo): not the app's page
                raise NotFound(f"no file /{path}; reload the page to load the current app")
        return FileResponse(index, headers=REVALIDATE)

    return web
