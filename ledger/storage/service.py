"""The media vault: a dataset's files stored encrypted under its own key, read back only through
that key, and handed to annotators as short-lived signed URLs.

What the caller (the dataset service) keeps: for each dataset, the wrapped data key that
`wrap_new_dataset_key` returns, in its own database row. Every call that touches a dataset's data
takes that wrapped key; the vault unwraps it (binding it to the dataset id, so a row copied onto
another dataset does not open) and never keeps a plain key beyond the call. Deleting the wrapped
key makes the dataset's stored objects unreadable everywhere they were copied.

Where objects go: `datasets/<dataset id>/media/<name>` in the blob store. Each object holds its
content type and content, sealed with associated data naming the dataset and that key, so an
object copied or swapped to another name or dataset fails to open instead of showing the wrong
picture for an item.

Limits, enforced on `store` with stable codes:
- at most 50 MiB per object (`media_too_large`, 413). Objects are sealed and read whole, in
  memory (AES-GCM in one pass, as a blob store's put and get take bytes), so a request holds about
  three copies of its object; 50 MiB keeps that near 150 MiB per request while fitting what
  annotators are asked to look at: photos, audio clips, short video clips, a lidar sweep. Longer
  recordings are better cut into clips, each its own item, than streamed in one.
- a content type from `DEFAULT_CONTENT_TYPES` (`media_type_refused`, 415). The API serves these
  bytes back from our own origin to annotators' browsers under the type given here, so nothing a
  browser would run is accepted: no HTML, SVG, XML, JavaScript or PDF. Point clouds (.pcd, .ply,
  .las, KITTI .bin) go as `application/octet-stream`, which a browser never renders.
- no empty object (`media_empty`): a zero-byte upload is a failed upload, not an item.
"""

from __future__ import annotations

import datetime as dt
import struct
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from ledger.kit.errors import LedgerError, Unprocessable
from ledger.media import MediaFile
from ledger.storage.blobs import BadBlobKey, BlobStore, check_key
from ledger.storage.crypto import (
    DataKey,
    MasterKey,
    SealBroken,
    frame,
    open_sealed,
    seal,
)
from ledger.storage.signing import MediaGrant, UrlSigner, normalize_wallet, unix_time

MAX_MEDIA_BYTES = 50 * 1024 * 1024
#: How long a signed media URL lives at most; `signed_path` also never outlives the lease.
URL_TTL_SECONDS = 600
MAX_NAME_LENGTH = 300

DEFAULT_CONTENT_TYPES = frozenset(
    {
        # pictures
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/gif",
        "image/avif",
        "image/bmp",
        "image/tiff",
        # sound
        "audio/mpeg",
        "audio/wav",
        "audio/x-wav",
        "audio/ogg",
        "audio/flac",
        "audio/webm",
        "audio/mp4",
        "audio/aac",
        # video
        "video/mp4",
        "video/webm",
        "video/ogg",
        "video/quicktime",
        # text
        "text/plain",
        "text/plain; charset=utf-8",
        "text/csv",
        "text/csv; charset=utf-8",
        "application/json",
        # point clouds and other binary formats: downloaded, never rendered
        "application/octet-stream",
    }
)


class MediaTooLarge(LedgerError):
    status_code = 413
    code = "media_too_large"


class MediaTypeRefused(LedgerError):
    status_code = 415
    code = "media_type_refused"


class MediaEmpty(Unprocessable):
    code = "media_empty"


class BadMediaName(Unprocessable):
    code = "bad_media_name"


@dataclass(frozen=True)
class MediaLimits:
    max_bytes: int = MAX_MEDIA_BYTES
    content_types: frozenset[str] = field(default=DEFAULT_CONTENT_TYPES)


@dataclass(frozen=True)
class StoredMedia:
    """What `store` wrote: `size` is the content's, `stored_size` the sealed object's."""

    dataset_id: int
    name: str
    content_type: str
    size: int
    stored_size: int


def normalize_content_type(value: str) -> str:
    """A content type in one spelling: lowercase, one space after each `;`, none around `=`
    (`Text/Plain;Charset=UTF-8` becomes `text/plain; charset=utf-8`)."""
    parts = [part.strip().lower() for part in value.split(";")]
    params = ["=".join(p.strip() for p in param.split("=", 1)) for param in parts[1:]]
    return "; ".join([parts[0], *params])


class MediaVault:
    """Encrypted media by dataset over any `BlobStore`, with signed URLs for annotators.

    `master_key` wraps the datasets' keys and, through HKDF, gives the URL signing key: one
    secret to configure. `path_prefix` is where the API serves media; `signed_path` returns
    `<path_prefix>/<dataset id>/<item id>/<name>?wallet=<0x...>&token=<token>`, and the route
    passes those same parts to `verify`."""

    def __init__(
        self,
        blobs: BlobStore,
        master_key: MasterKey,
        *,
        limits: MediaLimits | None = None,
        url_ttl_seconds: int = URL_TTL_SECONDS,
        path_prefix: str = "/v1/media",
    ) -> None:
        if url_ttl_seconds <= 0:
            raise ValueError("url_ttl_seconds must be positive")
        self.blobs = blobs
        self._master = master_key
        self.limits = limits or MediaLimits()
        self.url_ttl_seconds = url_ttl_seconds
        self.path_prefix = path_prefix.rstrip("/")
        self._signer = UrlSigner(master_key.derive("media-url-signing"))

    def __repr__(self) -> str:
        return f"MediaVault({self.blobs!r}, master key {self._master.key_id})"

    # --- the datasets' keys ---

    def wrap_new_dataset_key(self, dataset_id: int) -> bytes:
        """A new random data key for `dataset_id`, wrapped by the master key: the caller stores
        these bytes (69 of them) with the dataset and passes them back as `wrapped_key`."""
        return self._master.wrap(DataKey.generate(), _dataset_context(dataset_id))

    def unwrap(self, dataset_id: int, wrapped_key: bytes) -> DataKey:
        """The dataset's data key; `SealBroken` if `wrapped_key` is not this dataset's (another
        dataset's row, altered bytes), `MasterKeyMismatch` if another master key wrapped it."""
        return self._master.unwrap(wrapped_key, _dataset_context(dataset_id))

    # --- media ---

    @staticmethod
    def blob_key(dataset_id: int, name: str) -> str:
        """Where the object `name` of `dataset_id` is kept in the blob store."""
        _check_id(dataset_id, "dataset id")
        if len(name) > MAX_NAME_LENGTH:
            raise BadMediaName(f"a media name has at most {MAX_NAME_LENGTH} characters")
        try:
            check_key(name)
        except BadBlobKey as exc:
            raise BadMediaName(exc.message.replace("blob key", "media name")) from None
        return f"datasets/{dataset_id}/media/{name}"

    def check_upload(self, size: int, content_type: str) -> str:
        """The normalized content type if `store` would take `size` bytes of `content_type`,
        else the error it would give: the API can check an upload's declared length and type
        before reading its body."""
        if size > self.limits.max_bytes:
            raise MediaTooLarge(
                f"a media file is at most {self.limits.max_bytes} bytes; this one is {size}"
            )
        if size <= 0:
            raise MediaEmpty("a media file cannot be empty")
        normalized = normalize_content_type(content_type)
        if normalized not in self.limits.content_types:
            raise MediaTypeRefused(
                f"content type {content_type[:100]!r} is not accepted; accepted: "
                + ", ".join(sorted(self.limits.content_types))
            )
        return normalized

    def store(
        self,
        dataset_id: int,
        name: str,
        content: bytes,
        content_type: str,
        *,
        wrapped_key: bytes,
    ) -> StoredMedia:
        """Seals `content` (with its content type) under the dataset's key and puts it at
        `blob_key(dataset_id, name)`, replacing any object of that name."""
        key = self.blob_key(dataset_id, name)
        normalized = self.check_upload(len(content), content_type)
        data_key = self.unwrap(dataset_id, wrapped_key)
        ctype = normalized.encode()
        plaintext = struct.pack(">H", len(ctype)) + ctype + content
        sealed = seal(data_key, plaintext, _media_context(dataset_id, key))
        self.blobs.put(key, sealed)
        return StoredMedia(dataset_id, name, normalized, len(content), len(sealed))

    def read(self, dataset_id: int, name: str, *, wrapped_key: bytes) -> MediaFile:
        """The content and content type `store` put there; `BlobNotFound` if nothing is stored
        under that name, `SealBroken` if what is stored is not that object."""
        key = self.blob_key(dataset_id, name)
        data_key = self.unwrap(dataset_id, wrapped_key)
        plaintext = open_sealed(data_key, self.blobs.get(key), _media_context(dataset_id, key))
        (length,) = struct.unpack(">H", plaintext[:2])
        if len(plaintext) < 2 + length:  # authenticated: only a bug of ours could write this
            raise SealBroken(f"stored object {key!r} has a truncated header")
        return MediaFile(plaintext[2 + length :], plaintext[2 : 2 + length].decode())

    def exists(self, dataset_id: int, name: str) -> bool:
        return self.blobs.exists(self.blob_key(dataset_id, name))

    def delete(self, dataset_id: int, name: str) -> None:
        """Removes the object; nothing happens if there is none."""
        self.blobs.delete(self.blob_key(dataset_id, name))

    # --- item data kept in the caller's database ---

    def seal_item_data(
        self, dataset_id: int, item_ref: str, data: bytes, *, wrapped_key: bytes
    ) -> bytes:
        """An item's data (its JSON, say) sealed under the dataset's key, for the caller to keep
        in its own row. `item_ref` is what the sealed bytes belong to (the item's external id):
        the same must be given to open them, so data copied onto another item does not open."""
        return seal(self.unwrap(dataset_id, wrapped_key), data, _item_context(dataset_id, item_ref))

    def open_item_data(
        self, dataset_id: int, item_ref: str, sealed: bytes, *, wrapped_key: bytes
    ) -> bytes:
        return open_sealed(
            self.unwrap(dataset_id, wrapped_key), sealed, _item_context(dataset_id, item_ref)
        )

    def item_sealer(self, dataset_id: int, *, wrapped_key: bytes) -> Callable[[str, bytes], bytes]:
        """`seal_item_data` for many items of one dataset: the data key is unwrapped once, not
        once per item (an upload of 100,000 items would otherwise spend seconds unwrapping). The
        key lives as long as the returned function, which the caller drops with its upload."""
        data_key = self.unwrap(dataset_id, wrapped_key)

        def sealer(item_ref: str, data: bytes) -> bytes:
            return seal(data_key, data, _item_context(dataset_id, item_ref))

        return sealer

    # --- signed URLs for annotators ---

    def signed_path(
        self,
        dataset_id: int,
        item_id: int,
        name: str,
        wallet: str,
        *,
        now: dt.datetime,
        not_after: dt.datetime | None = None,
    ) -> str:
        """A URL path (with its query) by which `wallet` may fetch `name` of item `item_id` until
        `now` + the vault's URL lifetime, or until `not_after` (the end of the wallet's lease on
        the item) if that is sooner. The caller checks the lease; this only signs."""
        self.blob_key(dataset_id, name)
        _check_id(item_id, "item id")
        expires = int(unix_time(now)) + self.url_ttl_seconds
        if not_after is not None:
            expires = min(expires, int(unix_time(not_after)))
        if expires <= unix_time(now):
            raise ValueError("not_after is already past: a lease that ended grants no URL")
        wallet = normalize_wallet(wallet)
        token = self._signer.sign(MediaGrant(dataset_id, item_id, name, wallet, expires))
        query = urllib.parse.urlencode({"wallet": wallet, "token": token})
        path = urllib.parse.quote(f"{dataset_id}/{item_id}/{name}")
        return f"{self.path_prefix}/{path}?{query}"

    def verify(
        self,
        dataset_id: int,
        item_id: int,
        name: str,
        wallet: str,
        token: str,
        *,
        now: dt.datetime,
    ) -> MediaGrant:
        """The grant a signed URL's parts give, or `MediaUrlInvalid` / `MediaUrlExpired`. The
        returned grant (wallet, object, expiry) is what the access log records."""
        return self._signer.verify(dataset_id, item_id, name, wallet, token, now=now)


def _check_id(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Unprocessable(f"a {what} is a whole number, not {value!r}")


def _dataset_context(dataset_id: int) -> bytes:
    _check_id(dataset_id, "dataset id")
    return frame("dataset", dataset_id)


def _media_context(dataset_id: int, blob_key: str) -> bytes:
    return frame("media", dataset_id, blob_key)


def _item_context(dataset_id: int, item_ref: str) -> bytes:
    return frame("item data", dataset_id, item_ref)
