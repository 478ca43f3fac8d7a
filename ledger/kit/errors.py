"""One error hierarchy: every domain error carries an HTTP status and a stable machine code.

The API turns any `LedgerError` into `{"error": {"code", "message"}}`; services never raise
HTTP exceptions themselves.
"""

from __future__ import annotations

from typing import ClassVar


class LedgerError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(LedgerError, ValueError):
    status_code = 400
    code = "bad_request"


class Unauthorized(LedgerError):
    status_code = 401
    code = "unauthorized"


class Forbidden(LedgerError, PermissionError):
    status_code = 403
    code = "forbidden"


class NotFound(LedgerError, LookupError):
    status_code = 404
    code = "not_found"


class Conflict(LedgerError):
    status_code = 409
    code = "conflict"


class Unprocessable(LedgerError, ValueError):
    status_code = 422
    code = "invalid_input"


class ChainUnavailable(LedgerError, ConnectionError):
    status_code = 503
    code = "chain_unavailable"


class ChainStateMismatch(LedgerError):
    """The chain disagrees with what we recorded: stop and alarm rather than guess."""

    status_code = 409
    code = "chain_state_mismatch"
