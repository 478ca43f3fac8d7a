"""How item data names uploaded media: a JSON string `"media:<name>"`, anywhere in the item's
data (a value, at any depth; never a key), where `<name>` is an uploaded object of the same
dataset. `<name>` is a media name as the vault takes it: `/`-separated segments of letters,
digits, `.`, `_` and `-`, each starting with a letter or digit (`clip.wav`, `frames/0001.png`).

A string that starts with `media:` and has no whitespace is a reference: it must name an
uploaded object, or the upload is refused (`unknown_media_reference`); a text with whitespace in
it (`"media: print, radio"`) is only text. Any other string, an `https://` URL among them, is
shown as given: a buyer's own URL is guarded by the buyer's own host, not by this service.

When an item is shown, every reference becomes a signed URL path for the wallet it is shown to
(`/v1/media/<dataset>/<item>/<name>?wallet=...&token=...`), ending with the name, extension and
all, so a client can tell a picture from a clip by its URL."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ledger.kit.errors import Unprocessable
from ledger.storage.service import BadMediaName, MediaVault

PREFIX = "media:"
_WHITESPACE = re.compile(r"\s")


class UnknownMediaReference(Unprocessable):
    code = "unknown_media_reference"


def reference_in(value: str) -> str | None:
    """The media name `value` refers to, if it is a reference (see the module's docstring)."""
    if not value.startswith(PREFIX) or _WHITESPACE.search(value):
        return None
    return value[len(PREFIX) :]


def referenced_names(data: Any) -> set[str]:
    """Every media name the data refers to. Iterative, as `item_data_problem` is."""
    found: set[str] = set()
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            name = reference_in(value)
            if name is not None:
                found.add(name)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def check_name(name: str, *, where: str) -> None:
    """`UnknownMediaReference` if `name` could not be a media name at all."""
    try:
        MediaVault.blob_key(0, name)
    except BadMediaName as exc:
        raise UnknownMediaReference(
            f"{where}: {PREFIX}{name[:100]} is not a media name ({exc.message}); upload the file "
            "with PUT /v1/datasets/{id}/media/{name} and refer to it by that name"
        ) from None


def with_urls(data: Any, url_of: Callable[[str], str]) -> Any:
    """`data` with every reference replaced by `url_of(name)`; the rest is shared, not copied.
    Recursive: item data is at most MAX_DATA_DEPTH deep (checked on upload)."""
    if isinstance(data, str):
        name = reference_in(data)
        return data if name is None else url_of(name)
    if isinstance(data, dict):
        return {key: with_urls(value, url_of) for key, value in data.items()}
    if isinstance(data, list):
        return [with_urls(value, url_of) for value in data]
    return data
