"""Where stored bytes live: a directory on this machine by default, any S3-compatible store in
production. A blob store knows nothing of datasets or encryption (`ledger.storage.service` does);
it keeps opaque bytes under a key, and both stores refuse the same keys, so data written in
development under a key can move to production under the same key.

Keys are one or more segments joined by `/`, each segment starting with a letter or digit and
made of letters, digits, `.`, `_` and `-`. That leaves no way to spell `..`, an absolute path, a
hidden file or a URL-special character, so a key can be joined to a directory or put in a URL as
it is; it also means the local store's temporary files (`.<name>.<random>.tmp`) are never keys.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from ledger.kit.errors import Conflict, LedgerError, NotFound, Unprocessable

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

#: Keys are joined to a directory and sent to S3, whose own limit is 1024 bytes; 512 leaves room
#: for a store's prefix and for deep folders of item files.
MAX_KEY_LENGTH = 512

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class BlobNotFound(NotFound):
    """No object under the key (never written, or deleted)."""

    code = "blob_not_found"


class BadBlobKey(Unprocessable):
    code = "bad_blob_key"


class BlobKeyConflict(Conflict):
    """The local store cannot hold both `a` and `a/b`: one would have to be a file and a folder.
    (S3 can; keys chosen by `MediaVault` never need both.)"""

    code = "blob_key_conflict"


class StorageUnavailable(LedgerError, ConnectionError):
    """The store did not answer, refused our credentials, or has no such bucket: an operator's
    problem, not the caller's, so it is a 503 whose message names the store but no secret."""

    status_code = 503
    code = "storage_unavailable"


def check_key(key: str) -> str:
    """`key` if it is a valid blob key (see the module's docstring), else `BadBlobKey` saying
    what is wrong with it."""
    if not isinstance(key, str) or not key:
        raise BadBlobKey("a blob key must be a non-empty string")
    shown = repr(key[:100])
    if len(key) > MAX_KEY_LENGTH:
        raise BadBlobKey(f"blob key {shown}... is longer than {MAX_KEY_LENGTH} characters")
    if key.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", key):
        raise BadBlobKey(f"blob key {shown} is an absolute path; keys are relative")
    segments = key.split("/")
    if ".." in segments or "." in segments:
        raise BadBlobKey(f"blob key {shown} has a '.' or '..' segment")
    for segment in segments:
        if not segment:
            raise BadBlobKey(f"blob key {shown} has an empty segment (a '//' or a trailing '/')")
        if not _SEGMENT.fullmatch(segment):
            raise BadBlobKey(
                f"blob key {shown}: each '/'-separated segment starts with a letter or digit "
                f"and has only letters, digits, '.', '_' and '-'"
            )
    return key


class BlobStore(Protocol):
    """Whole objects by key. `put` replaces what was there; `delete` of a missing key does
    nothing (as S3 does), so a retried delete is harmless."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes:
        """The bytes under `key`, or `BlobNotFound`."""
        ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...


class LocalBlobStore:
    """Files under `root`, one per key, the key being the relative path.

    A put writes a temporary file beside the target, flushes it to disk and renames it over the
    target (`os.replace`, atomic on POSIX), so a reader sees the old object or the new one, never
    a part of either, and a crash leaves at worst a stray `.tmp` file, never a torn object."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise BlobKeyConflict(
                f"cannot store {key!r}: a part of its folder path is already a stored object"
            ) from exc
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        replaced = False
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
            replaced = True
        except IsADirectoryError as exc:
            raise BlobKeyConflict(
                f"cannot store {key!r}: other objects are stored under {key + '/'!r}"
            ) from exc
        finally:
            # Only a temporary file that was not renamed: once renamed, its name is free and may
            # already be another writer's.
            if not replaced:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
        _fsync_dir(path.parent)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise BlobNotFound(f"no stored object {key!r}") from exc

    def delete(self, key: str) -> None:
        path = self._path(key)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            if not path.is_dir():
                path.unlink()
                _fsync_dir(path.parent)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def _fsync_dir(folder: Path) -> None:
    """Makes a rename or unlink in `folder` durable: without it a power cut can undo it."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


AddressingStyle = Literal["path", "virtual", "auto"]


class S3BlobStore:
    """Objects in one bucket of an S3-compatible store (AWS S3, MinIO, Ceph RGW, Garage, R2...),
    through boto3.

    Path-style addressing by default (`endpoint/bucket/key`): every S3-compatible server accepts
    it, while virtual-hosted buckets need DNS that self-hosted stores rarely have. Checksums are
    sent and checked only where the S3 API requires them, since several S3-compatible servers
    reject the CRC headers boto3 adds by default; the integrity of what we read is checked anyway
    by AES-GCM's tag in `MediaVault`.

    The secret key goes to the client and is kept nowhere else: not in an attribute, not in
    `repr`, not in any error message."""

    def __init__(
        self,
        endpoint_url: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        *,
        addressing_style: AddressingStyle = "path",
        timeout_seconds: float = 30.0,
        max_attempts: int = 3,
    ) -> None:
        # Imported here, not at the top: boto3 takes a noticeable part of a second to import, and
        # a service on the local store never needs it.
        import boto3  # noqa: PLC0415
        import botocore.config  # noqa: PLC0415

        self.endpoint_url = endpoint_url
        self.bucket = bucket
        config = botocore.config.Config(
            region_name=region,
            signature_version="s3v4",
            s3={"addressing_style": addressing_style},
            connect_timeout=timeout_seconds,
            read_timeout=timeout_seconds,
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
        )
        self._client: S3Client = session.client("s3", endpoint_url=endpoint_url, config=config)

    def __repr__(self) -> str:
        return f"S3BlobStore({self.endpoint_url!r}, bucket={self.bucket!r})"

    def put(self, key: str, data: bytes) -> None:
        check_key(key)
        with self._errors(key):
            self._client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType="application/octet-stream"
            )

    def get(self, key: str) -> bytes:
        check_key(key)
        with self._errors(key):
            answer = self._client.get_object(Bucket=self.bucket, Key=key)
            body = answer["Body"]
            try:
                return body.read()
            finally:
                body.close()

    def delete(self, key: str) -> None:
        check_key(key)
        with self._errors(key):
            self._client.delete_object(Bucket=self.bucket, Key=key)

    def exists(self, key: str) -> bool:
        check_key(key)
        try:
            with self._errors(key):
                self._client.head_object(Bucket=self.bucket, Key=key)
        except BlobNotFound:
            return False
        return True

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        """Turns boto3's errors into ours: a missing object into `BlobNotFound`, anything else
        that stops the call into `StorageUnavailable`."""
        import botocore.exceptions  # noqa: PLC0415

        where = f"bucket {self.bucket!r} at {self.endpoint_url}"
        try:
            yield
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "NoSuchBucket":
                raise StorageUnavailable(f"{where}: no such bucket") from exc
            if code in ("NoSuchKey", "NotFound", "404") or status == 404:
                raise BlobNotFound(f"no stored object {key!r} in {where}") from exc
            raise StorageUnavailable(
                f"{where} refused the request for {key!r}: {code or status} "
                f"{error.get('Message', '')}".rstrip()
            ) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise StorageUnavailable(f"{where} did not answer: {exc}") from exc
