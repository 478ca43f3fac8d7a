"""Short-lived access tokens for one media object, for one wallet.

An annotator's browser fetches an item's picture or clip with a plain `<img>`/`<video>` request,
which carries no session header; the URL itself must say who may fetch what until when. A token
is `<expiry>.<signature>`: the expiry in unix seconds, and an HMAC-SHA256 (URL-safe base64,
unpadded) over the dataset id, item id, media name, wallet (lowercased) and that expiry. The
wallet travels in the URL beside the token, so the access log can say who each fetch was for,
and a URL that leaks names the annotator it was issued to.

Verification checks the signature first, in constant time, and the expiry only after: an altered
or foreign token is `media_url_invalid` whatever its expiry, and `media_url_expired` is said only
of a token we really issued, so a client can tell "reload for a fresh link" from "no access".
The clock is always the caller's (`now`), never read here, so tests and the service can move it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass

from ledger.kit.errors import Forbidden
from ledger.storage.crypto import frame

_WALLET = re.compile(r"0x[0-9a-fA-F]{40}")
# an expiry of at most 12 digits (past the year 33000), a 32-byte MAC in 43 base64url characters
_TOKEN = re.compile(r"(0|[1-9][0-9]{0,11})\.([A-Za-z0-9_-]{43})")
_PURPOSE = "label-ledger media url v1"


class MediaUrlExpired(Forbidden):
    """A token we issued whose time is up: the client should ask for a fresh URL."""

    code = "media_url_expired"


class MediaUrlInvalid(Forbidden):
    """Not a token we issued for this object and wallet (altered, for another item, another
    wallet, or malformed)."""

    code = "media_url_invalid"


@dataclass(frozen=True)
class MediaGrant:
    """What a valid token allows: `wallet` may read `name` of item `item_id` of `dataset_id`
    while the time is before `expires` (unix seconds)."""

    dataset_id: int
    item_id: int
    name: str
    wallet: str  # lowercase 0x address
    expires: int


def unix_time(moment: dt.datetime) -> float:
    """Seconds since the epoch of a timezone-aware moment; a naive one is refused, since it would
    be read in the machine's local zone and move every expiry by hours."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamps for media URLs must be timezone-aware (UTC)")
    return moment.timestamp()


def normalize_wallet(wallet: str) -> str:
    """The wallet as tokens sign it: lowercase 0x hex. `ValueError` when it is not an address."""
    if not isinstance(wallet, str) or not _WALLET.fullmatch(wallet):
        raise ValueError(f"{str(wallet)[:60]!r} is not a 0x wallet address")
    return wallet.lower()


class UrlSigner:
    """Signs and checks media access tokens with one secret key (at least 32 bytes; `MediaVault`
    derives it from the master key)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a URL signing key is at least 32 bytes")
        self._key = bytes(key)

    def __repr__(self) -> str:
        return "UrlSigner(<secret>)"

    def _mac(self, dataset_id: int, item_id: int, name: str, wallet: str, expires: int) -> bytes:
        message = frame(_PURPOSE, dataset_id, item_id, name, wallet, expires)
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def sign(self, grant: MediaGrant) -> str:
        """The token for `grant`."""
        wallet = normalize_wallet(grant.wallet)
        if not 0 <= grant.expires < 10**12:
            raise ValueError(f"expiry {grant.expires} is not a unix time in seconds")
        mac = self._mac(grant.dataset_id, grant.item_id, grant.name, wallet, grant.expires)
        return f"{grant.expires}.{_b64(mac)}"

    def verify(
        self, dataset_id: int, item_id: int, name: str, wallet: str, token: str, *, now: dt.datetime
    ) -> MediaGrant:
        """The grant `token` gives `wallet` on this object, or `MediaUrlInvalid` (not ours, or
        not for this object and wallet) or `MediaUrlExpired` (ours, but `now` is at or past its
        expiry)."""
        match = _TOKEN.fullmatch(token) if isinstance(token, str) else None
        if match is None:
            raise MediaUrlInvalid("this media URL's token is malformed")
        try:
            wallet = normalize_wallet(wallet)
        except ValueError:
            raise MediaUrlInvalid("this media URL names no valid wallet") from None
        expires = int(match[1])
        expected = self._mac(dataset_id, item_id, name, wallet, expires)
        # Compared as text, not decoded: base64 lets several spellings decode to the same bytes,
        # and an altered character must never pass.
        if not hmac.compare_digest(match[2].encode(), _b64(expected).encode()):
            raise MediaUrlInvalid(
                "this media URL was not issued for this item, file and wallet, or was altered"
            )
        if unix_time(now) >= expires:
            raise MediaUrlExpired("this media URL has expired: ask for the item's media again")
        return MediaGrant(dataset_id, item_id, name, wallet, expires)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
