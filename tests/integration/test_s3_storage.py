"""The media vault against a real S3-compatible server over HTTP: boto3 signing and sending real
requests, a server parsing them and keeping the objects.

The server is moto's (`moto[server]` from PyPI, `python -m moto.server`): of the S3-compatible
servers this machine can install (PyPI, npm and Debian only), it is the one that is both
maintained and light. Debian 12 packages neither MinIO, SeaweedFS nor Garage; its `radosgw`
needs a whole Ceph cluster (monitors, OSDs) behind it; npm's `s3rver` has had no real change in
years. moto is a pure-Python package that starts in about a second, implements the S3 REST API
(path-style buckets, PutObject, GetObject, HeadObject, DeleteObject, S3's XML errors) and is
already how boto3 itself is commonly tested. It does not check request signatures, so these
tests show what we send and how we read answers and errors, not that a store accepts our
credentials.

The fixture starts the server on port 0, so the system picks a free port, reads the port the
server reports, waits until it answers, and stops it at the end of the module.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import httpx
import pytest

from ledger.storage import (
    BadBlobKey,
    BlobNotFound,
    MasterKey,
    MediaVault,
    S3BlobStore,
    SealBroken,
    StorageUnavailable,
)

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

ACCESS_KEY, SECRET_KEY, REGION = "test-access-key", "test-secret-key", "us-east-1"
PNG = b"\x89PNG\r\n\x1a\n" + b"a picture of a cat " * 64


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("moto") / "server.log"
    with log_path.open("wb") as log:
        # the server logs every request: to a file, so that no pipe fills up and stalls it
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield _wait_until_serving(server, log_path)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _wait_until_serving(server: subprocess.Popen[bytes], log_path: Path) -> str:
    """The endpoint once the server both said which port it took and answered a request."""
    deadline = time.monotonic() + 60
    endpoint = None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"moto server exited ({server.returncode}):\n{log_path.read_text()}")
        if endpoint is None:
            found = re.search(r"Running on (http://127\.0\.0\.1:\d+)", log_path.read_text())
            endpoint = found[1] if found else None
        if endpoint is not None:
            try:
                httpx.get(endpoint + "/", timeout=2)
                return endpoint
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    pytest.fail(f"moto server did not answer within 60 s:\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def raw_client(s3_endpoint: str) -> S3Client:
    """A plain boto3 client, independent of our store: to make buckets and look at what the
    bucket really holds."""
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )


@pytest.fixture
def bucket(raw_client: S3Client) -> str:
    name = f"media-{uuid.uuid4().hex[:12]}"
    raw_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def store(s3_endpoint: str, bucket: str) -> S3BlobStore:
    return S3BlobStore(s3_endpoint, bucket, ACCESS_KEY, SECRET_KEY, REGION)


@pytest.fixture
def vault(store: S3BlobStore) -> MediaVault:
    return MediaVault(store, MasterKey.generate())


def test_store_read_delete_through_s3(vault: MediaVault, raw_client: S3Client, bucket: str) -> None:
    wrapped = vault.wrap_new_dataset_key(5)
    stored = vault.store(5, "scene-1/cam0/000001.png", PNG, "image/png", wrapped_key=wrapped)
    assert vault.exists(5, "scene-1/cam0/000001.png")

    # what the bucket holds is ciphertext: neither the picture nor its type appear in it
    listed = raw_client.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["datasets/5/media/scene-1/cam0/000001.png"]
    raw = raw_client.get_object(Bucket=bucket, Key=listed[0]["Key"])["Body"].read()
    assert len(raw) == stored.stored_size
    assert raw != PNG
    assert b"a picture of a cat" not in raw
    assert b"image/png" not in raw

    got = vault.read(5, "scene-1/cam0/000001.png", wrapped_key=wrapped)
    assert (got.content, got.content_type) == (PNG, "image/png")

    vault.delete(5, "scene-1/cam0/000001.png")
    assert not vault.exists(5, "scene-1/cam0/000001.png")
    assert raw_client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    vault.delete(5, "scene-1/cam0/000001.png")  # deleting again is harmless
    with pytest.raises(BlobNotFound) as caught:
        vault.read(5, "scene-1/cam0/000001.png", wrapped_key=wrapped)
    assert caught.value.code == "blob_not_found"
    assert caught.value.status_code == 404


def test_missing_object(store: S3BlobStore) -> None:
    with pytest.raises(BlobNotFound, match="never/written"):
        store.get("never/written")
    assert not store.exists("never/written")


def test_a_larger_object_round_trips(vault: MediaVault) -> None:
    wrapped = vault.wrap_new_dataset_key(1)
    clip = bytes(range(256)) * (8 * 1024 * 4)  # 8 MiB
    vault.store(1, "clip.mp4", clip, "video/mp4", wrapped_key=wrapped)
    assert vault.read(1, "clip.mp4", wrapped_key=wrapped).content == clip


def test_swapped_objects_in_the_bucket_do_not_open(
    vault: MediaVault, raw_client: S3Client, bucket: str
) -> None:
    wrapped = vault.wrap_new_dataset_key(2)
    vault.store(2, "cat.png", PNG, "image/png", wrapped_key=wrapped)
    vault.store(2, "dog.png", PNG + b"dog", "image/png", wrapped_key=wrapped)

    def raw(key: str) -> bytes:
        body: bytes = raw_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    cat, dog = raw("datasets/2/media/cat.png"), raw("datasets/2/media/dog.png")
    raw_client.put_object(Bucket=bucket, Key="datasets/2/media/cat.png", Body=dog)
    raw_client.put_object(Bucket=bucket, Key="datasets/2/media/dog.png", Body=cat)
    for name in ("cat.png", "dog.png"):
        with pytest.raises(SealBroken):
            vault.read(2, name, wrapped_key=wrapped)
    # and a dataset's object read with another dataset's key
    other = vault.wrap_new_dataset_key(3)
    with pytest.raises(SealBroken):
        vault.read(2, "cat.png", wrapped_key=other)


def test_bad_keys_are_refused_before_any_request(store: S3BlobStore) -> None:
    for key in ("../escape", "/abs", "a//b", "a b"):
        with pytest.raises(BadBlobKey):
            store.put(key, b"x")


def test_a_missing_bucket_or_a_dead_endpoint_is_storage_unavailable(s3_endpoint: str) -> None:
    missing = S3BlobStore(s3_endpoint, f"no-such-{uuid.uuid4().hex[:8]}", ACCESS_KEY, SECRET_KEY)
    with pytest.raises(StorageUnavailable, match="no such bucket") as caught:
        missing.put("a", b"x")
    assert caught.value.status_code == 503
    assert caught.value.code == "storage_unavailable"

    with socket.socket() as sock:  # a port nothing listens on: bound, then released
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = S3BlobStore(
        f"http://127.0.0.1:{port}",
        "bucket",
        ACCESS_KEY,
        SECRET_KEY,
        timeout_seconds=2,
        max_attempts=1,
    )
    with pytest.raises(StorageUnavailable, match="did not answer") as down:
        dead.get("a")
    assert SECRET_KEY not in down.value.message
    assert SECRET_KEY not in repr(dead)
