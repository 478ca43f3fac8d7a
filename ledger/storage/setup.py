"""The media vault a running service uses, built once from its settings: the master key from its
file (made on first start), and the blob store the settings name."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

from ledger.kit.config import Settings
from ledger.kit.errors import LedgerError
from ledger.storage.blobs import BlobStore, LocalBlobStore, S3BlobStore
from ledger.storage.crypto import BadKeyMaterial, MasterKey
from ledger.storage.service import MediaVault

log = logging.getLogger(__name__)


class StorageMisconfigured(LedgerError):
    """Settings that name no usable store (say, S3 without a bucket): said at start, not at the
    first upload."""

    code = "storage_misconfigured"


def load_or_create_master_key(path: Path) -> MasterKey:
    """The master key in `path`; when there is no such file, a new key written there with mode
    0600 (never over an existing file: `MasterKey.write_new` refuses, so two processes starting
    at once both end up with the one that was written first)."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            key = MasterKey.write_new(path)
        except BadKeyMaterial:
            if not path.exists():
                raise
            # another process wrote it between our look and our write: use theirs
        else:
            log.info("wrote a new master key %s to %s (mode 0600)", key.key_id, path)
            return key
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "the master key file %s is readable by others (mode %o): chmod 600 it", path, mode
        )
    return MasterKey.from_file(path)


def blob_store_from(settings: Settings) -> BlobStore:
    if settings.media_store == "local":
        return LocalBlobStore(settings.media_path())
    missing = [
        name
        for name, value in (
            ("LABEL_LEDGER_S3_ENDPOINT_URL", settings.s3_endpoint_url),
            ("LABEL_LEDGER_S3_BUCKET", settings.s3_bucket),
            ("LABEL_LEDGER_S3_ACCESS_KEY_ID", settings.s3_access_key_id),
            ("LABEL_LEDGER_S3_SECRET_ACCESS_KEY", settings.s3_secret_access_key),
        )
        if not value
    ]
    if missing:
        raise StorageMisconfigured(
            "LABEL_LEDGER_MEDIA_STORE=s3 needs " + ", ".join(missing) + " to be set as well"
        )
    endpoint, bucket = settings.s3_endpoint_url or "", settings.s3_bucket or ""
    access, secret = settings.s3_access_key_id, settings.s3_secret_access_key
    return S3BlobStore(
        endpoint,
        bucket,
        access.get_secret_value() if access else "",
        secret.get_secret_value() if secret else "",
        region=settings.s3_region,
    )


def vault_from(settings: Settings) -> MediaVault:
    """The vault of a running service: its master key (made on first start) and its store."""
    return MediaVault(
        blob_store_from(settings),
        load_or_create_master_key(settings.master_key_path()),
        url_ttl_seconds=settings.media_url_ttl_seconds,
        path_prefix="/v1/media",
    )
