"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from api import errors
from api.routes import auth, chain, datasets, disputes, epochs, labels, media
from ledger.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="label-ledger",
        version="0.1.0",
        description=(
            "Escrowed pay per verified label. Sign in with your wallet (EIP-4361), then use the "
            "endpoints of your role. Amounts are integers in token base units."
        ),
    )
    app.state.runtime = runtime
    errors.install(app)
    for module in (auth, datasets, labels, disputes, epochs, chain, media):
        app.include_router(module.router)
    app.include_router(chain.metrics_router)
    return app
