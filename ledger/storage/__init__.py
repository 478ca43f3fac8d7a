"""Media by reference: files kept in a blob store (a local directory, or any S3-compatible
store), sealed with a key per dataset, and served to the annotator holding an item's lease
through short-lived signed URLs. `MediaVault` is the one entry point the services need; the
modules below it (blobs, crypto, signing) each do one of those things."""

from ledger.storage.blobs import (
    BadBlobKey,
    BlobKeyConflict,
    BlobNotFound,
    BlobStore,
    LocalBlobStore,
    S3BlobStore,
    StorageUnavailable,
)
from ledger.storage.crypto import (
    BadKeyMaterial,
    DataKey,
    MasterKey,
    MasterKeyMismatch,
    SealBroken,
    open_sealed,
    seal,
)
from ledger.storage.service import (
    DEFAULT_CONTENT_TYPES,
    MAX_MEDIA_BYTES,
    BadMediaName,
    MediaEmpty,
    MediaLimits,
    MediaTooLarge,
    MediaTypeRefused,
    MediaVault,
    StoredMedia,
)
from ledger.storage.signing import MediaGrant, MediaUrlExpired, MediaUrlInvalid, UrlSigner

__all__ = [
    "DEFAULT_CONTENT_TYPES",
    "MAX_MEDIA_BYTES",
    "BadBlobKey",
    "BadKeyMaterial",
    "BadMediaName",
    "BlobKeyConflict",
    "BlobNotFound",
    "BlobStore",
    "DataKey",
    "LocalBlobStore",
    "MasterKey",
    "MasterKeyMismatch",
    "MediaEmpty",
    "MediaGrant",
    "MediaLimits",
    "MediaTooLarge",
    "MediaTypeRefused",
    "MediaUrlExpired",
    "MediaUrlInvalid",
    "MediaVault",
    "S3BlobStore",
    "SealBroken",
    "StorageUnavailable",
    "StoredMedia",
    "UrlSigner",
    "open_sealed",
    "seal",
]
