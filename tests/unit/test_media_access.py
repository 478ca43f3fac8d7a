"""Media references in item data, and the vault a service builds from its settings: the master
key file made once with mode 0600 and reused, the local store in the state directory, an S3
store refused at start when half configured. Real files in a temporary directory."""

from __future__ import annotations

import datetime as dt
import logging
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from ledger.kit.config import Settings
from ledger.media_access.references import (
    UnknownMediaReference,
    check_name,
    reference_in,
    referenced_names,
    with_urls,
)
from ledger.storage import LocalBlobStore, MasterKey, MediaVault, S3BlobStore
from ledger.storage.setup import StorageMisconfigured, load_or_create_master_key, vault_from

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
WALLET = "0x" + "ab" * 20


def test_a_reference_is_media_colon_and_a_name_without_whitespace() -> None:
    assert reference_in("media:clip.wav") == "clip.wav"
    assert reference_in("media:frames/0001.png") == "frames/0001.png"
    assert reference_in("media: print and radio") is None  # text, not a reference
    assert reference_in("https://buyer.example/a.png") is None
    assert reference_in("see media:clip.wav") is None  # only a whole string refers


def test_references_are_found_at_any_depth_in_values_never_in_keys() -> None:
    data = {
        "media:key.png": "caption",
        "frames": ["media:f/1.png", {"next": "media:f/2.png"}, 3, None, True],
        "audio": "media:clip.wav",
        "url": "https://buyer.example/x.jpg",
    }
    assert referenced_names(data) == {"f/1.png", "f/2.png", "clip.wav"}
    assert referenced_names("media:one.txt") == {"one.txt"}
    assert referenced_names([1, 2.5, "plain"]) == set()


def test_names_that_could_not_be_stored_are_unknown_references() -> None:
    check_name("clips/a-1.wav", where="item 0")
    for bad in ("../etc/passwd", "/abs.png", ".hidden.png", "a//b.png", "x?y.png"):
        with pytest.raises(UnknownMediaReference) as caught:
            check_name(bad, where="item 3")
        assert caught.value.message.startswith("item 3: media:")
        assert caught.value.status_code == 422


def test_urls_replace_references_and_leave_the_rest_as_given(tmp_path: Path) -> None:
    vault = MediaVault(LocalBlobStore(tmp_path), MasterKey.generate())
    data = {"a": ["media:clip.wav", "text"], "b": {"c": "media:p/q.png"}, "n": 1}
    shown = with_urls(data, lambda name: vault.signed_path(4, 9, name, WALLET, now=NOW))
    assert shown["a"][0].startswith("/v1/media/4/9/clip.wav?wallet=0x")
    assert shown["b"]["c"].startswith("/v1/media/4/9/p/q.png?")
    assert (shown["a"][1], shown["n"]) == ("text", 1)
    assert data["a"][0] == "media:clip.wav"  # the input is not changed


def test_first_start_writes_a_private_master_key_and_later_starts_reuse_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(deployment_file=tmp_path / "state" / "deployment.json")
    with caplog.at_level(logging.DEBUG):
        first = vault_from(settings)
    key_file = tmp_path / "state" / "master.key"
    assert settings.master_key_path() == key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secret = key_file.read_text().strip()
    assert len(secret) == 64
    assert secret not in caplog.text  # its id may be logged, never the key
    assert isinstance(first.blobs, LocalBlobStore)
    assert first.blobs.root == tmp_path / "state" / "media"

    wrapped = first.wrap_new_dataset_key(3)
    again = vault_from(settings)
    assert again.unwrap(3, wrapped) == first.unwrap(3, wrapped)
    assert key_file.read_text().strip() == secret


def test_an_explicit_key_file_and_media_directory_are_used(tmp_path: Path) -> None:
    written = MasterKey.write_new(tmp_path / "given.key")
    settings = Settings(master_key_file=tmp_path / "given.key", media_dir=tmp_path / "blobs")
    vault = vault_from(settings)
    assert load_or_create_master_key(tmp_path / "given.key") == written
    assert vault.unwrap(1, MediaVault(vault.blobs, written).wrap_new_dataset_key(1)) is not None
    assert isinstance(vault.blobs, LocalBlobStore)
    assert vault.blobs.root == tmp_path / "blobs"


def test_an_s3_store_needs_every_setting(tmp_path: Path) -> None:
    base = {"master_key_file": tmp_path / "m.key", "media_store": "s3"}
    with pytest.raises(StorageMisconfigured) as caught:
        vault_from(Settings(**base, s3_endpoint_url="http://127.0.0.1:9"))
    assert "LABEL_LEDGER_S3_BUCKET" in caught.value.message
    assert "LABEL_LEDGER_S3_SECRET_ACCESS_KEY" in caught.value.message
    complete = Settings(
        **base,
        s3_endpoint_url="http://127.0.0.1:9",
        s3_bucket="media",
        s3_access_key_id=SecretStr("id"),
        s3_secret_access_key=SecretStr("very-secret"),
    )
    vault = vault_from(complete)
    assert isinstance(vault.blobs, S3BlobStore)
    assert "very-secret" not in repr(vault) + repr(complete)
