"""A small HTTP client of our API that signs in with a wallet: used by the demo and the tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from ledger.auth.siwe import SiweMessage


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ApiUser:
    """One wallet's session with the API."""

    def __init__(self, http: httpx.Client, wallet: LocalAccount) -> None:
        self.http = http
        self.wallet = wallet
        self.token: str | None = None

    @property
    def address(self) -> str:
        return str(self.wallet.address)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response = self.http.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 400:
            error = response.json().get("error", {})
            raise ApiError(response.status_code, error.get("code", "?"), error.get("message", ""))
        return response.json() if response.content else None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def sign_in_message(self, *, lifetime: dt.timedelta = dt.timedelta(minutes=10)) -> str:
        nonce = self.post("/v1/auth/nonce")
        now = dt.datetime.now(dt.UTC)
        return SiweMessage(
            domain=nonce["domain"],
            address=self.address,
            statement=nonce["statement"],
            uri=nonce["uri"],
            chain_id=nonce["chain_id"],
            nonce=nonce["nonce"],
            issued_at=now,
            expiration_time=now + lifetime,
        ).text()

    def sign(self, message: str) -> str:
        return "0x" + self.wallet.sign_message(encode_defunct(text=message)).signature.hex()

    def sign_in(self, *roles: str) -> ApiUser:
        message = self.sign_in_message()
        session = self.post(
            "/v1/auth/session", json={"message": message, "signature": self.sign(message)}
        )
        self.token = session["access_token"]
        for role in roles:
            self.post("/v1/me/roles", json={"role": role})
        return self
