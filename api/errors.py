"""Every error leaves as `{"error": {"code", "message"}}` with a stable code; a request that fails
validation also lists its offending fields (`"fields": [{"loc", "message"}]`)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.kit.errors import LedgerError

log = logging.getLogger(__name__)


class FieldError(BaseModel):
    loc: str  # the field's path in the request, dotted: "verification.overlap", "label_classes.0"
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    # Present on `invalid_input` only: each field the request got wrong, for a form to show the
    # message beside its input.
    fields: list[FieldError] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def _error(
    status: int, code: str, message: str, *, fields: list[FieldError] | None = None
) -> JSONResponse:
    body: dict[str, object] = {"code": code, "message": message}
    if fields is not None:
        body["fields"] = [field.model_dump() for field in fields]
    return JSONResponse(status_code=status, content={"error": body})


# Documented on every route so clients see the error shape in OpenAPI.
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (400, "Malformed request"),
        (401, "Not signed in, or the token expired"),
        (403, "Signed in without the needed role or ownership"),
        (404, "No such thing"),
        (409, "Conflicts with the current state"),
        (422, "Input outside what is allowed"),
    )
}


def install(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def _ledger_error(_request: Request, exc: LedgerError) -> JSONResponse:
        return _error(exc.status_code, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            FieldError(
                loc=".".join(str(p) for p in err["loc"] if p != "body") or "body",
                message=err["msg"],
            )
            for err in exc.errors()
        ]
        problems = "; ".join(f"{field.loc}: {field.message}" for field in fields)
        return _error(422, "invalid_input", problems, fields=fields)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # logged with its traceback by the server; the client gets the envelope, not plain text
        log.error("unhandled error", exc_info=exc)
        return _error(500, "internal_error", "the service failed unexpectedly; it was logged")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}
        return _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))
