"""The storage layer on real parts: files in a temporary directory, real AES-GCM and HMAC, and the
clock moved by passing another `now`. The same vault behaviour against a real S3-compatible
server is in tests/integration/test_s3_storage.py."""

from __future__ import annotations

import datetime as dt
import os
import stat
import threading
import urllib.parse
from pathlib import Path

import pytest

from ledger.kit.errors import Conflict, Forbidden, LedgerError, NotFound, Unprocessable
from ledger.storage import (
    MAX_MEDIA_BYTES,
    BadBlobKey,
    BadKeyMaterial,
    BadMediaName,
    BlobKeyConflict,
    BlobNotFound,
    DataKey,
    LocalBlobStore,
    MasterKey,
    MasterKeyMismatch,
    MediaEmpty,
    MediaGrant,
    MediaLimits,
    MediaTooLarge,
    MediaTypeRefused,
    MediaUrlExpired,
    MediaUrlInvalid,
    MediaVault,
    SealBroken,
    UrlSigner,
    open_sealed,
    seal,
)
from ledger.storage.crypto import OVERHEAD, VERSION, WRAPPED_KEY_BYTES, frame

NOW = dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.UTC)
WALLET = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01"
OTHER_WALLET = "0x1111111111111111111111111111111111111111"
PNG = b"\x89PNG\r\n\x1a\n" + b"a picture of a cat " * 64


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
def vault(store: LocalBlobStore) -> MediaVault:
    return MediaVault(store, MasterKey.generate())


def flip(data: bytes, at: int) -> bytes:
    changed = bytearray(data)
    changed[at] ^= 0x01
    return bytes(changed)


# --- the local blob store ---


def test_local_store_round_trip(store: LocalBlobStore) -> None:
    assert not store.exists("a/b/c.png")
    store.put("a/b/c.png", b"first")
    assert store.exists("a/b/c.png")
    assert store.get("a/b/c.png") == b"first"
    store.put("a/b/c.png", b"second")
    assert store.get("a/b/c.png") == b"second"
    assert (store.root / "a" / "b" / "c.png").read_bytes() == b"second"
    store.delete("a/b/c.png")
    assert not store.exists("a/b/c.png")
    store.delete("a/b/c.png")  # a second delete is harmless, as on S3
    assert not store.exists("a/b")  # a folder is not an object


def test_missing_object_is_a_domain_not_found(store: LocalBlobStore) -> None:
    store.put("a/b", b"x")
    for key in ("never/written", "a", "a/b/c"):
        with pytest.raises(BlobNotFound) as caught:
            store.get(key)
        assert isinstance(caught.value, NotFound)
        assert caught.value.status_code == 404
        assert caught.value.code == "blob_not_found"
        assert repr(key) in caught.value.message


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("", "non-empty"),
        ("../outside", "'..'"),
        ("a/../../outside", "'..'"),
        ("a/./b", "'.'"),
        ("/etc/passwd", "absolute"),
        ("\\windows", "absolute"),
        ("C:/x", "absolute"),
        ("a//b", "empty segment"),
        ("a/", "empty segment"),
        (".hidden", "starts with a letter or digit"),
        ("a/.x.tmp", "starts with a letter or digit"),
        ("with space", "only letters"),
        ("semi;colon", "only letters"),
        ("back\\slash", "only letters"),
        ("new\nline", "only letters"),
        ("ünïcode", "only letters"),
        ("a" * 513, "longer than 512"),
    ],
)
def test_bad_keys_are_refused_with_a_reason(tmp_path: Path, key: str, says: str) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    for attempt in (
        lambda: store.put(key, b"x"),
        lambda: store.get(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
    ):
        with pytest.raises(BadBlobKey, match="blob key") as caught:
            attempt()
        assert says in caught.value.message
        assert caught.value.code == "bad_blob_key"
        assert caught.value.status_code == 422
    # nothing was written anywhere, inside the root or beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blobs"]
    assert list((tmp_path / "blobs").iterdir()) == []


def test_put_is_atomic_readers_see_whole_objects_only(store: LocalBlobStore) -> None:
    """A reader racing a writer that keeps replacing one object sees one whole version or the
    other, never a truncated or mixed file (what writing in place would show)."""
    versions = (b"A" * 1_000_000, b"B" * 1_500_000)
    store.put("race/object.bin", versions[0])
    seen: list[bytes] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(store.get("race/object.bin"))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for round_ in range(60):
            store.put("race/object.bin", versions[round_ % 2])
    finally:
        done.set()
        reader.join(timeout=30)
    assert seen
    assert all(data in versions for data in seen), {len(d) for d in seen}
    assert [p.name for p in (store.root / "race").iterdir()] == ["object.bin"]  # no temp files


def test_a_failed_put_keeps_the_old_object_and_leaves_no_temporary_file(
    store: LocalBlobStore,
) -> None:
    store.put("a/b", b"inside")
    with pytest.raises(BlobKeyConflict) as caught:
        store.put("a", b"would hide a/b")  # 'a' is a folder here: the rename fails
    assert isinstance(caught.value, Conflict)
    assert caught.value.code == "blob_key_conflict"
    assert store.get("a/b") == b"inside"
    assert [p.name for p in (store.root / "a").iterdir()] == ["b"]
    assert [p.name for p in store.root.iterdir()] == ["a"]

    store.put("c", b"a file")
    with pytest.raises(BlobKeyConflict):
        store.put("c/d", b"under a file")
    assert store.get("c") == b"a file"


def test_new_files_are_private_to_the_service(store: LocalBlobStore) -> None:
    store.put("private/object", b"x")
    mode = stat.S_IMODE((store.root / "private" / "object").stat().st_mode)
    assert mode & 0o077 == 0


# --- sealing ---


def test_seal_round_trip_and_format() -> None:
    key = DataKey.generate()
    plaintext = b"the item's secret picture"
    sealed = seal(key, plaintext, b"where it belongs")
    assert sealed[0] == VERSION
    assert len(sealed) == len(plaintext) + OVERHEAD
    assert plaintext not in sealed
    assert open_sealed(key, sealed, b"where it belongs") == plaintext
    # a fresh random nonce each time: the same plaintext never seals to the same bytes
    again = seal(key, plaintext, b"where it belongs")
    assert again != sealed
    assert again[1:13] != sealed[1:13]
    assert open_sealed(key, seal(key, b"", b""), b"") == b""


@pytest.mark.parametrize("at", [0, 1, 12, 13, 20, -17, -1])
def test_any_changed_byte_is_detected(at: int) -> None:
    """Version byte, nonce, ciphertext, tag: a single flipped bit anywhere fails the check."""
    key = DataKey.generate()
    sealed = seal(key, b"0123456789" * 3, b"ad")
    with pytest.raises(SealBroken) as caught:
        open_sealed(key, flip(sealed, at), b"ad")
    assert caught.value.code == "seal_broken"
    assert caught.value.status_code == 500


def test_wrong_key_other_associated_data_or_short_input_do_not_open() -> None:
    key = DataKey.generate()
    sealed = seal(key, b"secret", frame("media", 1, "a.png"))
    with pytest.raises(SealBroken, match="authentication"):
        open_sealed(DataKey.generate(), sealed, frame("media", 1, "a.png"))
    with pytest.raises(SealBroken):
        open_sealed(key, sealed, frame("media", 2, "a.png"))
    with pytest.raises(SealBroken):
        open_sealed(key, sealed, frame("media", 1, "b.png"))
    with pytest.raises(SealBroken, match="at least"):
        open_sealed(key, sealed[: OVERHEAD - 1], frame("media", 1, "a.png"))
    with pytest.raises(SealBroken, match="version 2"):
        open_sealed(key, b"\x02" + sealed[1:], frame("media", 1, "a.png"))


def test_frame_is_unambiguous() -> None:
    assert frame("ab", "c") != frame("a", "bc")
    assert frame(12, 3) != frame(1, 23)
    assert frame("1") == frame(1)  # a number signs as its decimal text
    with pytest.raises(TypeError):
        frame(True)


# --- the master key and the datasets' keys ---


def test_master_key_file_written_private_loaded_and_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    written = MasterKey.write_new(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert len(text.strip()) == 64
    assert MasterKey.from_file(path) == written
    with pytest.raises(BadKeyMaterial, match="never replaced"):
        MasterKey.write_new(path)
    assert MasterKey.from_file(path) == written

    # what `openssl rand -hex 32` writes loads too
    other = tmp_path / "openssl.key"
    other.write_text(os.urandom(32).hex().upper() + "\n")
    assert MasterKey.from_file(other) != written


def test_bad_master_key_files_are_refused_without_showing_their_contents(tmp_path: Path) -> None:
    short = tmp_path / "short.key"
    short.write_text("ab" * 31)
    with pytest.raises(BadKeyMaterial, match="64 hex digits") as caught:
        MasterKey.from_file(short)
    assert "ab" * 31 not in caught.value.message
    with pytest.raises(BadKeyMaterial, match="cannot read"):
        MasterKey.from_file(tmp_path / "missing.key")
    with pytest.raises(BadKeyMaterial, match="32 bytes, not 16"):
        MasterKey(b"x" * 16)


def test_keys_never_show_themselves(store: LocalBlobStore) -> None:
    master = MasterKey.generate()
    secret = master.secret_bytes()
    for shown in (repr(master), str(master), repr(DataKey.generate())):
        assert "secret" in shown
        assert secret.hex() not in shown
    assert len(master.key_id) == 16
    assert master.key_id not in secret.hex()
    vault = MediaVault(store, master)
    assert secret.hex() not in repr(vault)
    assert master.key_id in repr(vault)


def test_derived_keys_differ_by_purpose_and_master() -> None:
    master = MasterKey.generate()
    assert master.derive("a") == master.derive("a")
    assert master.derive("a") != master.derive("b")
    assert MasterKey.generate().derive("a") != master.derive("a")


def test_dataset_keys_wrap_and_unwrap_bound_to_their_dataset(vault: MediaVault) -> None:
    wrapped = vault.wrap_new_dataset_key(7)
    assert len(wrapped) == WRAPPED_KEY_BYTES == 69
    assert vault.unwrap(7, wrapped) == vault.unwrap(7, wrapped)
    assert vault.unwrap(7, wrapped) != vault.unwrap(8, vault.wrap_new_dataset_key(8))
    assert vault.wrap_new_dataset_key(7) != wrapped  # a new random key each time

    with pytest.raises(SealBroken):
        vault.unwrap(8, wrapped)  # dataset 7's row copied onto dataset 8
    with pytest.raises(SealBroken):
        vault.unwrap(7, flip(wrapped, 30))
    with pytest.raises(SealBroken, match="69 bytes"):
        vault.unwrap(7, wrapped[:-1])


def test_a_key_wrapped_by_another_master_key_says_so(store: LocalBlobStore) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    wrapped = MediaVault(store, old).wrap_new_dataset_key(1)
    with pytest.raises(MasterKeyMismatch) as caught:
        MediaVault(store, new).unwrap(1, wrapped)
    assert old.key_id in caught.value.message
    assert new.key_id in caught.value.message
    assert caught.value.code == "master_key_mismatch"
    assert isinstance(caught.value, SealBroken)


# --- the vault: media ---


def test_store_and_read_round_trip(vault: MediaVault, store: LocalBlobStore) -> None:
    wrapped = vault.wrap_new_dataset_key(3)
    stored = vault.store(3, "scene-1/cam0/000001.png", PNG, "Image/PNG", wrapped_key=wrapped)
    assert stored.content_type == "image/png"
    assert stored.size == len(PNG)
    assert vault.exists(3, "scene-1/cam0/000001.png")

    raw = store.get("datasets/3/media/scene-1/cam0/000001.png")
    assert stored.stored_size == len(raw)
    assert PNG not in raw
    assert b"a picture of a cat" not in raw
    assert b"image/png" not in raw  # the content type is sealed too

    got = vault.read(3, "scene-1/cam0/000001.png", wrapped_key=wrapped)
    assert got.content == PNG
    assert got.content_type == "image/png"

    vault.delete(3, "scene-1/cam0/000001.png")
    assert not vault.exists(3, "scene-1/cam0/000001.png")
    with pytest.raises(BlobNotFound):
        vault.read(3, "scene-1/cam0/000001.png", wrapped_key=wrapped)


def test_swapped_objects_do_not_open(vault: MediaVault, store: LocalBlobStore) -> None:
    """Someone with write access to the store swaps two items' files: both reads fail instead of
    each item showing the other's picture."""
    wrapped = vault.wrap_new_dataset_key(1)
    vault.store(1, "cat.png", PNG, "image/png", wrapped_key=wrapped)
    vault.store(1, "dog.png", PNG + b"dog", "image/png", wrapped_key=wrapped)
    cat, dog = store.get("datasets/1/media/cat.png"), store.get("datasets/1/media/dog.png")
    store.put("datasets/1/media/cat.png", dog)
    store.put("datasets/1/media/dog.png", cat)
    for name in ("cat.png", "dog.png"):
        with pytest.raises(SealBroken):
            vault.read(1, name, wrapped_key=wrapped)


def test_a_flipped_byte_in_a_stored_object_is_detected(
    vault: MediaVault, store: LocalBlobStore
) -> None:
    wrapped = vault.wrap_new_dataset_key(1)
    vault.store(1, "clip.wav", b"RIFF....WAVE" * 100, "audio/wav", wrapped_key=wrapped)
    raw = store.get("datasets/1/media/clip.wav")
    for at in (0, 5, len(raw) // 2, len(raw) - 1):
        store.put("datasets/1/media/clip.wav", flip(raw, at))
        with pytest.raises(SealBroken):
            vault.read(1, "clip.wav", wrapped_key=wrapped)
    store.put("datasets/1/media/clip.wav", raw)
    assert vault.read(1, "clip.wav", wrapped_key=wrapped).content.startswith(b"RIFF")


def test_wrong_dataset_key_and_objects_moved_between_datasets(
    vault: MediaVault, store: LocalBlobStore
) -> None:
    first, second = vault.wrap_new_dataset_key(1), vault.wrap_new_dataset_key(2)
    vault.store(1, "a.png", PNG, "image/png", wrapped_key=first)
    # the other dataset's key row: refused before any object is read
    with pytest.raises(SealBroken):
        vault.read(1, "a.png", wrapped_key=second)
    # the object copied into the other dataset: its key does not open it
    store.put("datasets/2/media/a.png", store.get("datasets/1/media/a.png"))
    with pytest.raises(SealBroken):
        vault.read(2, "a.png", wrapped_key=second)
    # a master key other than the one that wrapped the dataset's key
    stranger = MediaVault(store, MasterKey.generate())
    with pytest.raises(MasterKeyMismatch):
        stranger.read(1, "a.png", wrapped_key=first)


def test_size_limit(store: LocalBlobStore) -> None:
    vault = MediaVault(store, MasterKey.generate(), limits=MediaLimits(max_bytes=1000))
    wrapped = vault.wrap_new_dataset_key(1)
    vault.store(1, "exactly.bin", b"x" * 1000, "application/octet-stream", wrapped_key=wrapped)
    with pytest.raises(MediaTooLarge, match="at most 1000 bytes; this one is 1001") as caught:
        vault.store(1, "over.bin", b"x" * 1001, "application/octet-stream", wrapped_key=wrapped)
    assert caught.value.status_code == 413
    assert caught.value.code == "media_too_large"
    assert not vault.exists(1, "over.bin")
    with pytest.raises(MediaEmpty) as empty:
        vault.store(1, "empty.bin", b"", "application/octet-stream", wrapped_key=wrapped)
    assert empty.value.code == "media_empty"

    default = MediaVault(store, MasterKey.generate())
    assert MAX_MEDIA_BYTES == 50 * 1024 * 1024
    assert default.check_upload(MAX_MEDIA_BYTES, "video/mp4") == "video/mp4"
    with pytest.raises(MediaTooLarge):
        default.check_upload(MAX_MEDIA_BYTES + 1, "video/mp4")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html",
        "text/html; charset=utf-8",
        "image/svg+xml",
        "application/xhtml+xml",
        "application/javascript",
        "text/javascript",
        "application/pdf",
        "text/xml",
        "text/plain; charset=latin-1",
        "",
        "image/png; evil=1",
    ],
)
def test_content_types_a_browser_would_run_are_refused(
    vault: MediaVault, content_type: str
) -> None:
    wrapped = vault.wrap_new_dataset_key(1)
    with pytest.raises(MediaTypeRefused) as caught:
        vault.store(1, "page", b"<script>alert(1)</script>", content_type, wrapped_key=wrapped)
    assert caught.value.status_code == 415
    assert caught.value.code == "media_type_refused"
    assert not vault.exists(1, "page")


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("image/jpeg", "image/jpeg"),
        ("Text/Plain;Charset=UTF-8", "text/plain; charset=utf-8"),
        ("audio/flac", "audio/flac"),
        ("video/webm", "video/webm"),
        ("application/octet-stream", "application/octet-stream"),  # point clouds
        ("application/json", "application/json"),
    ],
)
def test_accepted_content_types_are_stored_normalized(
    vault: MediaVault, given: str, stored: str
) -> None:
    wrapped = vault.wrap_new_dataset_key(1)
    assert vault.store(1, "f", b"data", given, wrapped_key=wrapped).content_type == stored
    assert vault.read(1, "f", wrapped_key=wrapped).content_type == stored


@pytest.mark.parametrize("name", ["../../etc/passwd", "/abs", "a//b", ".env", "x y", "a" * 301])
def test_bad_media_names_are_refused(vault: MediaVault, name: str) -> None:
    wrapped = vault.wrap_new_dataset_key(1)
    with pytest.raises(BadMediaName, match="media name") as caught:
        vault.store(1, name, PNG, "image/png", wrapped_key=wrapped)
    assert isinstance(caught.value, Unprocessable)
    assert caught.value.code == "bad_media_name"


def test_item_data_sealed_for_the_callers_database(vault: MediaVault) -> None:
    wrapped = vault.wrap_new_dataset_key(4)
    data = b'{"text": "The museum in Kyoto opens in May."}'
    sealed = vault.seal_item_data(4, "item-17", data, wrapped_key=wrapped)
    assert b"Kyoto" not in sealed
    assert vault.open_item_data(4, "item-17", sealed, wrapped_key=wrapped) == data
    with pytest.raises(SealBroken):
        vault.open_item_data(4, "item-18", sealed, wrapped_key=wrapped)  # copied to another item


# --- signed URLs ---


def parse(path: str) -> tuple[int, int, str, str, str]:
    """The parts an API route would take from a signed path."""
    parsed = urllib.parse.urlsplit(path)
    assert parsed.path.startswith("/v1/media/")
    dataset_id, item_id, name = urllib.parse.unquote(parsed.path[10:]).split("/", 2)
    query = dict(urllib.parse.parse_qsl(parsed.query, strict_parsing=True))
    assert set(query) == {"wallet", "token"}
    return int(dataset_id), int(item_id), name, query["wallet"], query["token"]


def test_signed_path_verifies_for_its_wallet_and_object(vault: MediaVault) -> None:
    path = vault.signed_path(3, 41, "scene-1/000001.png", WALLET, now=NOW)
    dataset_id, item_id, name, wallet, token = parse(path)
    assert (dataset_id, item_id, name) == (3, 41, "scene-1/000001.png")
    assert wallet == WALLET.lower()
    grant = vault.verify(dataset_id, item_id, name, wallet, token, now=NOW)
    assert grant == MediaGrant(
        3, 41, "scene-1/000001.png", WALLET.lower(), int(NOW.timestamp()) + 600
    )
    # the wallet is compared case-insensitively (a checksummed address is the same wallet)
    assert vault.verify(3, 41, name, WALLET, token, now=NOW) == grant


def test_expired_url(vault: MediaVault) -> None:
    _, _, name, wallet, token = parse(vault.signed_path(3, 41, "a.png", WALLET, now=NOW))
    last = NOW + dt.timedelta(seconds=599, microseconds=999_999)
    assert vault.verify(3, 41, name, wallet, token, now=last).wallet == WALLET.lower()
    for later in (NOW + dt.timedelta(seconds=600), NOW + dt.timedelta(days=1)):
        with pytest.raises(MediaUrlExpired) as caught:
            vault.verify(3, 41, name, wallet, token, now=later)
        assert caught.value.code == "media_url_expired"
        assert caught.value.status_code == 403
        assert isinstance(caught.value, Forbidden)


def test_a_url_never_outlives_the_lease(vault: MediaVault) -> None:
    lease_ends = NOW + dt.timedelta(seconds=90)
    path = vault.signed_path(3, 41, "a.png", WALLET, now=NOW, not_after=lease_ends)
    _, _, name, wallet, token = parse(path)
    vault.verify(3, 41, name, wallet, token, now=lease_ends - dt.timedelta(seconds=1))
    with pytest.raises(MediaUrlExpired):
        vault.verify(3, 41, name, wallet, token, now=lease_ends)
    with pytest.raises(ValueError, match="already past"):
        vault.signed_path(3, 41, "a.png", WALLET, now=NOW, not_after=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        vault.signed_path(3, 41, "a.png", WALLET, now=NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("dataset_id", "item_id", "name", "wallet"),
    [
        (3, 41, "a.png", OTHER_WALLET),  # another annotator
        (3, 42, "a.png", WALLET),  # another item
        (3, 41, "b.png", WALLET),  # another file of the item
        (4, 41, "a.png", WALLET),  # another dataset
        (3, 41, "a.png", "not a wallet"),
    ],
)
def test_a_url_is_for_its_object_and_wallet_only(
    vault: MediaVault, dataset_id: int, item_id: int, name: str, wallet: str
) -> None:
    _, _, _, _, token = parse(vault.signed_path(3, 41, "a.png", WALLET, now=NOW))
    with pytest.raises(MediaUrlInvalid) as caught:
        vault.verify(dataset_id, item_id, name, wallet, token, now=NOW)
    assert caught.value.code == "media_url_invalid"
    assert caught.value.status_code == 403


def test_tampered_tokens_are_invalid_even_when_expired(vault: MediaVault) -> None:
    _, _, _, _, token = parse(vault.signed_path(3, 41, "a.png", WALLET, now=NOW))
    expiry, signature = token.split(".")
    later = NOW + dt.timedelta(days=1)
    # a longer life, a shorter one: the signature no longer matches
    for other_expiry in (int(expiry) + 86_400, int(expiry) - 1):
        with pytest.raises(MediaUrlInvalid):
            vault.verify(3, 41, "a.png", WALLET, f"{other_expiry}.{signature}", now=NOW)
    # every character of the signature, changed to each of two others
    for at, char in enumerate(signature):
        for other in "A_" if char not in "A_" else "Bz":
            forged = f"{expiry}.{signature[:at]}{other}{signature[at + 1 :]}"
            with pytest.raises(MediaUrlInvalid):
                vault.verify(3, 41, "a.png", WALLET, forged, now=NOW)
            with pytest.raises(MediaUrlInvalid):  # not "expired": we never issued it
                vault.verify(3, 41, "a.png", WALLET, forged, now=later)
    malformed = ["", token + "=", token + "A", f"0{token}", f"{expiry}", f"x.{signature}", "a.b"]
    for bad in malformed:
        with pytest.raises(MediaUrlInvalid, match="malformed"):
            vault.verify(3, 41, "a.png", WALLET, bad, now=NOW)


def test_tokens_from_another_master_key_are_invalid(vault: MediaVault, tmp_path: Path) -> None:
    other = MediaVault(LocalBlobStore(tmp_path / "other"), MasterKey.generate())
    _, _, _, _, token = parse(other.signed_path(3, 41, "a.png", WALLET, now=NOW))
    with pytest.raises(MediaUrlInvalid):
        vault.verify(3, 41, "a.png", WALLET, token, now=NOW)


def test_url_signer_alone() -> None:
    signer = UrlSigner(b"k" * 32)
    grant = MediaGrant(1, 2, "x.png", WALLET, 2_000_000_000)
    token = signer.sign(grant)
    moment = dt.datetime.fromtimestamp(1_999_999_999, tz=dt.UTC)
    assert signer.verify(1, 2, "x.png", WALLET, token, now=moment).wallet == WALLET.lower()
    assert "<secret>" in repr(signer)
    with pytest.raises(ValueError, match="32 bytes"):
        UrlSigner(b"short")
    with pytest.raises(ValueError, match="not a 0x wallet"):
        signer.sign(MediaGrant(1, 2, "x.png", "0x1234", 2_000_000_000))


def test_every_error_is_a_ledger_error_with_a_stable_code() -> None:
    codes = {
        BlobNotFound: "blob_not_found",
        BadBlobKey: "bad_blob_key",
        BlobKeyConflict: "blob_key_conflict",
        SealBroken: "seal_broken",
        MasterKeyMismatch: "master_key_mismatch",
        BadKeyMaterial: "bad_key_material",
        MediaTooLarge: "media_too_large",
        MediaTypeRefused: "media_type_refused",
        MediaEmpty: "media_empty",
        BadMediaName: "bad_media_name",
        MediaUrlExpired: "media_url_expired",
        MediaUrlInvalid: "media_url_invalid",
    }
    for error, code in codes.items():
        assert issubclass(error, LedgerError)
        assert error.code == code
