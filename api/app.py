"""The FastAPI application factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from api import errors
from api.routes import auth, chain, datasets, disputes, epochs, kinds, labels, media, vault, web
from ledger.kit.config import Settings
from ledger.runtime import Runtime
from ledger.serving import end_with_supervisor


def create_app(runtime: Runtime, *, web_dist: Path = web.WEB_DIST) -> FastAPI:
    app = FastAPI(
        # /docs is served from our own copy of Swagger UI (api/routes/web.py), not a CDN
        docs_url=None,
        redoc_url=None,
        title="label-ledger",
        version="0.1.0",
        description=(
            "Escrowed pay per verified label. Sign in with your wallet (EIP-4361), then use the "
            "endpoints of your role. Amounts are integers in token base units."
        ),
    )
    app.state.runtime = runtime
    errors.install(app)
    for module in (auth, datasets, labels, disputes, epochs, chain, media, vault, kinds):
        app.include_router(module.router)
    app.include_router(chain.metrics_router)
    app.include_router(web.router(web_dist))  # last: it answers every path the API does not
    return app


def create_app_from_env() -> FastAPI:
    """The app of one API worker process, its Runtime built from the LABEL_LEDGER_* settings of
    its environment: uvicorn's factory for `label-ledger serve --workers N`
    (`api.app:create_app_from_env`, factory=True), which imports it in every worker. Nothing in
    it is shared between workers but the database and the chain."""
    end_with_supervisor()
    return create_app(Runtime.from_settings(Settings()))
