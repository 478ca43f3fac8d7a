"""Where the audit reads the publication from, and the error it stops on when it cannot start."""

from __future__ import annotations

from pathlib import Path

import httpx

from ledger.kit.errors import BadRequest


class AuditInputError(BadRequest):
    """The audit cannot start: a missing publication, a wrong deployment file, no node."""

    code = "audit_input"


class Source:
    """A publication: a directory, or the same layout under an http(s) base URL."""

    def __init__(self, location: str | Path) -> None:
        text = str(location)
        self.location = text
        self._http: httpx.Client | None = None
        if text.startswith(("http://", "https://")):
            self._base = text.rstrip("/") + "/"
            self._http = httpx.Client(timeout=30.0, follow_redirects=True)
            self._dir: Path | None = None
        else:
            self._dir = Path(text)
            if not self._dir.is_dir():
                raise AuditInputError(
                    f"publication directory {text} does not exist: pass --epochs the directory "
                    "(or base URL) the service publishes to"
                )

    def read(self, relative: str) -> bytes | None:
        """The bytes of one file, None if the publication does not have it."""
        if self._dir is not None:
            path = self._dir / relative
            return path.read_bytes() if path.is_file() else None
        assert self._http is not None
        url = self._base + relative
        try:
            response = self._http.get(url)
        except httpx.HTTPError as exc:
            raise AuditInputError(f"cannot fetch {url}: {exc}; is the URL right?") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise AuditInputError(f"fetching {url} answered HTTP {response.status_code}")
        return response.content

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
