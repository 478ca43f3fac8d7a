"""Media and confidentiality through the real API, on SQLite and PostgreSQL, with a real chain:
a buyer uploads files, items refer to them, annotators, reviewers and buyers are shown signed
URLs of their own, and /v1/media opens one only for whom it was issued while they may still see
the item, each opening in the buyer's access log. Time is moved by the runtime's clock, never by
sleeping. One round trip goes through an S3-compatible server (moto's, as in
test_s3_storage.py)."""

from __future__ import annotations

import datetime as dt
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, text

from ledger.apiclient import ApiUser
from ledger.dataset.models import Item
from ledger.kit.config import Settings
from ledger.media_access.models import MediaAccess, MediaObject
from ledger.storage import MAX_MEDIA_BYTES
from ledger.storage.setup import vault_from
from tests.conftest import Instance
from tests.integration.test_api import (
    create_dataset,
    error_of,
    fund,
    http,  # noqa: F401 (a fixture)
    refused,
    rows,
    upload,
    user,
)
from tests.integration.test_s3_storage import (  # noqa: F401 (fixtures)
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    s3_endpoint,
)
from tests.support import Chain

pytestmark = pytest.mark.chain

# a WAV header and some samples: what matters is that the bytes come back the same
WAV = b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(range(256)) * 8
PNG = b"\x89PNG\r\n\x1a\n" + b"a confidential picture " * 40
SECRET_TEXT = "the buyer's confidential caption 7f3a"


def put_media(
    who: ApiUser, dataset_id: int, name: str, content: bytes, content_type: str
) -> httpx.Response:
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {who.token}"}
    return who.http.put(f"/v1/datasets/{dataset_id}/media/{name}", content=content, headers=headers)


def path_and_query(url: str) -> tuple[str, dict[str, str]]:
    parts = urllib.parse.urlsplit(url)
    return parts.path, dict(urllib.parse.parse_qsl(parts.query))


@dataclass
class Scene:
    instance: Instance
    http: httpx.Client
    buyer: ApiUser
    dataset: dict[str, Any]

    @property
    def id(self) -> int:
        return int(self.dataset["id"])


ITEMS = [
    {"id": f"clip-{n}", "data": {"audio": "media:clip.wav", "caption": SECRET_TEXT}}
    for n in range(3)
] + [{"id": "own-url", "data": {"url": "https://buyer.example/own.png"}}]


@pytest.fixture
def scene(instance: Instance, http: httpx.Client, chain: Chain) -> Scene:  # noqa: F811
    """An open dataset whose items refer to an uploaded clip."""
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain)
    assert put_media(buyer, dataset["id"], "clip.wav", WAV, "audio/wav").status_code == 201
    assert upload(buyer, dataset["id"], ITEMS) == {"created": 4, "gold": 0}
    fund(chain, buyer, buyer.get(f"/v1/datasets/{dataset['id']}"))
    return Scene(instance, http, buyer, dataset)


@pytest.fixture
def clock(instance: Instance) -> Iterator[list[dt.datetime]]:
    """The API's clock, set by the test: `clock[0] = ...` moves it."""
    now = [dt.datetime.now(dt.UTC)]
    instance.runtime.clock = lambda: now[0]
    return now


def access_log(scene: Scene) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = scene.buyer.get(f"/v1/datasets/{scene.id}/media-access")
    return found


# --- who opens what ---


def test_lease_holder_opens_the_media_and_the_buyer_sees_who(
    scene: Scene, chain: Chain, clock: list[dt.datetime]
) -> None:
    annotator = user(scene.http, chain, "annotator")
    served = annotator.get(f"/v1/datasets/{scene.id}/next-item")
    url = served["data"]["audio"]
    path, query = path_and_query(url)
    # the web app tells audio from pictures by the extension the path ends with
    assert path == f"/v1/media/{scene.id}/{served['item_id']}/clip.wav"
    assert query["wallet"] == annotator.address.lower()
    assert served["data"]["caption"] == SECRET_TEXT

    opened = scene.http.get(url)  # no sign-in: the URL says whom it is for
    assert opened.status_code == 200, opened.text
    assert opened.content == WAV
    assert opened.headers["content-type"] == "audio/wav"
    assert opened.headers["x-content-type-options"] == "nosniff"
    assert opened.headers["cache-control"] == "private, no-store"
    assert opened.headers["content-disposition"] == 'inline; filename="clip.wav"'
    # a player reads in ranges: a range from the start is an opening, later ones are not
    part = scene.http.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.content == WAV[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(WAV)}"
    rest = scene.http.get(url, headers={"Range": "bytes=100-"})
    assert rest.content == WAV[100:]

    log = access_log(scene)
    assert [(e["wallet"], e["role"], e["item_id"], e["object_name"]) for e in log] == [
        (annotator.address, "annotator", served["item_id"], "clip.wav")
    ] * 2
    assert log[0]["external_id"] == served["external_id"]
    assert log[0]["id"] > log[1]["id"]  # newest first
    assert [
        e["id"]
        for e in scene.buyer.get(
            f"/v1/datasets/{scene.id}/media-access", params={"limit": 1, "offset": 1}
        )
    ] == [log[1]["id"]]

    # once the lease ends (labelled), the same URL no longer opens, though not expired yet
    annotator.post("/v1/labels", json={"item_id": served["item_id"], "value": "cat"})
    error_of(scene.http.get(url), 403, "media_access_denied")
    assert len(access_log(scene)) == 2


def test_other_annotators_and_buyers_cannot_open_or_read_an_item(
    scene: Scene, chain: Chain, clock: list[dt.datetime]
) -> None:
    holder = user(scene.http, chain, "annotator")
    served = holder.get(f"/v1/datasets/{scene.id}/next-item")
    path, query = path_and_query(served["data"]["audio"])

    # another annotator, with their own lease on another item of the dataset, puts their wallet
    # in the holder's URL: the signature is the holder's
    other = user(scene.http, chain, "annotator")
    theirs = other.get(f"/v1/datasets/{scene.id}/next-item")
    assert theirs["item_id"] != served["item_id"]
    forged = {"wallet": other.address.lower(), "token": query["token"]}
    error_of(scene.http.get(path, params=forged), 403, "media_url_invalid")
    # and their own valid URL, pointed at the holder's item, is not a URL for that item
    _, own = path_and_query(theirs["data"]["audio"])
    error_of(scene.http.get(path, params=own), 403, "media_url_invalid")

    # an annotator of another dataset, and another buyer, read nothing of this one
    stranger = user(scene.http, chain, "buyer", "annotator")
    item = f"/v1/datasets/{scene.id}/items/{served['item_id']}"
    refused(403, "not_dataset_buyer", lambda: stranger.get(item))
    refused(403, "not_dataset_buyer", lambda: stranger.get(f"/v1/datasets/{scene.id}/media"))
    refused(403, "not_dataset_buyer", lambda: stranger.get(f"/v1/datasets/{scene.id}/media-access"))
    refused(403, "missing_role", lambda: holder.get(item))
    assert access_log(scene) == []


def test_a_private_datasets_items_reach_only_its_workforce_while_admitted(
    instance: Instance,
    http: httpx.Client,  # noqa: F811
    chain: Chain,
    clock: list[dt.datetime],
) -> None:
    buyer = user(http, chain, "buyer")
    member, stranger = user(http, chain, "annotator"), user(http, chain, "annotator")
    dataset = create_dataset(buyer, chain, private=True, workforce=[member.address])
    assert put_media(buyer, dataset["id"], "clip.wav", WAV, "audio/wav").status_code == 201
    upload(buyer, dataset["id"], ITEMS)
    fund(chain, buyer, buyer.get(f"/v1/datasets/{dataset['id']}"))

    next_item = f"/v1/datasets/{dataset['id']}/next-item"
    refused(404, "dataset_not_found", lambda: stranger.get(next_item))
    served = member.get(next_item)
    url = served["data"]["audio"]
    assert http.get(url).status_code == 200
    # dismissed: the lease ends with it, and so does the URL, before it expires
    buyer.delete(f"/v1/datasets/{dataset['id']}/workforce/{member.address}")
    error_of(http.get(url), 403, "media_access_denied")
    refused(404, "dataset_not_found", lambda: member.get(next_item))


def test_an_expired_url_is_refused_and_next_item_gives_a_fresh_one(
    scene: Scene, chain: Chain, clock: list[dt.datetime]
) -> None:
    annotator = user(scene.http, chain, "annotator")
    served = annotator.get(f"/v1/datasets/{scene.id}/next-item")
    url = served["data"]["audio"]
    clock[0] += dt.timedelta(seconds=601)  # the URL lives 10 minutes (and so does the lease)
    error_of(scene.http.get(url), 403, "media_url_expired")
    again = annotator.get(f"/v1/datasets/{scene.id}/next-item")
    assert again["item_id"] == served["item_id"]
    assert again["data"]["audio"] != url
    assert scene.http.get(again["data"]["audio"]).content == WAV


def test_a_tampered_url_is_refused(scene: Scene, chain: Chain, clock: list[dt.datetime]) -> None:
    annotator = user(scene.http, chain, "annotator")
    served = annotator.get(f"/v1/datasets/{scene.id}/next-item")
    path, query = path_and_query(served["data"]["audio"])
    expiry, mac = query["token"].split(".")
    flipped = mac[:5] + ("A" if mac[5] != "A" else "B") + mac[6:]
    later = str(int(expiry) + 3600)
    for changed_path, params in [
        (path, query | {"token": f"{expiry}.{flipped}"}),  # another signature
        (path, query | {"token": f"{later}.{mac}"}),  # a longer life
        (path, query | {"token": "garbage"}),
        (path, {"wallet": query["wallet"]}),  # no token
        (path.replace("clip.wav", "other.wav"), query),  # another file
        (path.replace(f"/{served['item_id']}/", f"/{served['item_id'] + 1}/"), query),
    ]:
        error_of(scene.http.get(changed_path, params=params), 403, "media_url_invalid")
    assert access_log(scene) == []


def test_reviewer_and_buyer_are_shown_urls_of_their_own(
    scene: Scene, chain: Chain, clock: list[dt.datetime]
) -> None:
    reviewer = user(scene.http, chain)
    scene.buyer.post(f"/v1/datasets/{scene.id}/reviewers", json={"address": reviewer.address})
    annotator = user(scene.http, chain, "annotator")
    served = annotator.get(f"/v1/datasets/{scene.id}/next-item")
    annotator.post("/v1/labels", json={"item_id": served["item_id"], "value": "dog"})

    (entry,) = reviewer.get("/v1/reviews/queue")
    review_url = entry["item_data"]["audio"]
    assert path_and_query(review_url)[1]["wallet"] == reviewer.address.lower()
    assert scene.http.get(review_url).content == WAV

    shown = scene.buyer.get(f"/v1/datasets/{scene.id}/items/{served['item_id']}")
    assert shown["external_id"] == served["external_id"]
    assert shown["data"]["caption"] == SECRET_TEXT
    assert scene.http.get(shown["data"]["audio"]).content == WAV

    assert [(e["wallet"], e["role"]) for e in access_log(scene)] == [
        (scene.buyer.address, "buyer"),
        (reviewer.address, "reviewer"),
    ]


def test_a_buyers_own_url_is_shown_as_given(
    scene: Scene, chain: Chain, clock: list[dt.datetime]
) -> None:
    with scene.instance.runtime.db.unit_of_work() as session:
        own_id = session.scalar(select(Item.id).where(Item.external_id == "own-url"))
    shown = scene.buyer.get(f"/v1/datasets/{scene.id}/items/{own_id}")
    assert shown["data"] == {"url": "https://buyer.example/own.png"}


# --- at rest ---


def test_item_data_and_media_are_not_stored_in_plaintext(scene: Scene) -> None:
    runtime = scene.instance.runtime
    with runtime.db.engine.connect() as connection:
        raw = (
            connection.execute(
                text("SELECT sealed_data FROM items WHERE dataset_id = :d"), {"d": scene.id}
            )
            .scalars()
            .all()
        )
        key = connection.execute(
            text("SELECT data_key FROM datasets WHERE id = :d"), {"d": scene.id}
        ).scalar_one()
    assert len(raw) == 4
    for sealed in raw:
        assert SECRET_TEXT.encode() not in bytes(sealed)
        assert b"clip.wav" not in bytes(sealed)
        assert b"buyer.example" not in bytes(sealed)
    assert len(bytes(key)) == 69
    stored = runtime.settings.media_path() / f"datasets/{scene.id}/media/clip.wav"
    assert stored.is_file()
    assert WAV[:64] not in stored.read_bytes()
    assert b"audio/wav" not in stored.read_bytes()
    assert runtime.settings.master_key_path().stat().st_mode & 0o777 == 0o600


# --- uploads ---


def test_uploads_are_idempotent_and_listed(scene: Scene) -> None:
    again = put_media(scene.buyer, scene.id, "clip.wav", WAV, "audio/wav")
    assert again.status_code == 200, again.text
    assert again.json()["reference"] == "media:clip.wav"
    before = rows(scene.instance, MediaObject)
    clash = put_media(scene.buyer, scene.id, "clip.wav", WAV + b"x", "audio/wav")
    error_of(clash, 409, "media_name_taken")
    assert rows(scene.instance, MediaObject) == before
    assert put_media(scene.buyer, scene.id, "frames/0001.png", PNG, "image/png").status_code == 201
    listed = scene.buyer.get(f"/v1/datasets/{scene.id}/media")
    assert [(m["name"], m["content_type"], m["size"]) for m in listed] == [
        ("clip.wav", "audio/wav", len(WAV)),
        ("frames/0001.png", "image/png", len(PNG)),
    ]


def test_bad_uploads_are_refused_and_store_nothing(
    instance: Instance,
    http: httpx.Client,  # noqa: F811
    chain: Chain,
) -> None:
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain)
    media_dir = instance.runtime.settings.media_path()

    def nothing_stored() -> None:
        assert rows(instance, MediaObject, MediaAccess, Item) == {
            "media_objects": 0,
            "media_access": 0,
            "items": 0,
        }
        assert not list(media_dir.rglob("*.*"))

    too_large = put_media(
        buyer, dataset["id"], "big.wav", b"\0" * (MAX_MEDIA_BYTES + 1), "audio/wav"
    )
    error_of(too_large, 413, "media_too_large")
    error_of(
        put_media(buyer, dataset["id"], "page.html", b"<script>", "text/html"),
        415,
        "media_type_refused",
    )
    error_of(
        put_media(buyer, dataset["id"], "pic.svg", b"<svg/>", "image/svg+xml"),
        415,
        "media_type_refused",
    )
    error_of(put_media(buyer, dataset["id"], ".hid.png", PNG, "image/png"), 422, "bad_media_name")
    error_of(put_media(buyer, dataset["id"], "empty.png", b"", "image/png"), 422, "media_empty")
    error_of(put_media(buyer, dataset["id"], "frames/1", PNG, "image/png"), 422, "bad_media_name")
    other = user(http, chain, "buyer")
    error_of(put_media(other, dataset["id"], "pic.png", PNG, "image/png"), 403, "not_dataset_buyer")
    annotator = user(http, chain, "annotator")
    error_of(put_media(annotator, dataset["id"], "pic.png", PNG, "image/png"), 403, "missing_role")
    nothing_stored()

    # an item naming a file the dataset has none of refuses the whole upload
    records = [
        {"id": "fine", "data": {"text": "media: a word, not a reference"}},
        {"id": "bad", "data": {"frames": ["media:missing.png"]}},
    ]
    caught = refused(422, "unknown_media_reference", lambda: upload(buyer, dataset["id"], records))
    assert "missing.png" in caught.message
    assert "item 1" in caught.message
    refused(
        422,
        "unknown_media_reference",
        lambda: upload(buyer, dataset["id"], [{"id": "x", "data": "media:../../etc/passwd"}]),
    )
    nothing_stored()


# --- S3 ---


@pytest.fixture
def s3_settings(s3_endpoint: str) -> Settings:  # noqa: F811
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    ).create_bucket(Bucket=bucket)
    return Settings(
        media_store="s3",
        s3_endpoint_url=s3_endpoint,
        s3_bucket=bucket,
        s3_region=REGION,
        s3_access_key_id=SecretStr(ACCESS_KEY),
        s3_secret_access_key=SecretStr(SECRET_KEY),
    )


def test_upload_and_open_through_an_s3_store(
    instance: Instance,
    http: httpx.Client,  # noqa: F811
    chain: Chain,
    s3_settings: Settings,
    tmp_path: Path,
) -> None:
    s3_settings.master_key_file = tmp_path / "s3-master.key"
    instance.runtime.vault = vault_from(s3_settings)
    buyer = user(http, chain, "buyer")
    dataset = create_dataset(buyer, chain)
    assert put_media(buyer, dataset["id"], "scan/cloud.bin", PNG, "application/octet-stream")
    assert upload(buyer, dataset["id"], [{"id": "c", "data": {"cloud": "media:scan/cloud.bin"}}])
    with instance.runtime.db.unit_of_work() as session:
        item_id = session.scalar(select(Item.id).where(Item.dataset_id == dataset["id"]))
    shown = buyer.get(f"/v1/datasets/{dataset['id']}/items/{item_id}")
    assert shown["data"]["cloud"].split("?")[0].endswith("/scan/cloud.bin")
    opened = http.get(shown["data"]["cloud"])
    assert opened.status_code == 200
    assert opened.content == PNG
    assert opened.headers["content-type"] == "application/octet-stream"
    # nothing went to the local directory
    assert not instance.runtime.settings.media_path().exists() or not list(
        instance.runtime.settings.media_path().rglob("*.bin")
    )
