"""`GET /media/...`: the pictures and texts the demo's items (and the web app's pages) show,
served by the real API, cacheable, and nothing else: anything unknown is a 404 in the error
envelope, whatever path it tries."""

from __future__ import annotations

import httpx
import pytest

from ledger.media import TEXTS, pet
from tests.conftest import Instance
from tests.integration.test_api import http

pytestmark = pytest.mark.chain
__all__ = ["http"]  # the API client fixture, shared with test_api


def test_a_picture_is_served_as_png_and_revalidated_by_its_etag(
    instance: Instance, http: httpx.Client
) -> None:
    served = http.get("/media/pets/42.png")
    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == "image/png"
    assert served.content == pet(42).png
    assert served.headers["cache-control"] == "public, max-age=86400"
    etag = served.headers["etag"]
    again = http.get("/media/pets/42.png", headers={"If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["etag"] == etag
    other = http.get("/media/pets/43.png", headers={"If-None-Match": etag})
    assert other.status_code == 200
    assert other.headers["etag"] != etag


def test_a_text_is_served_as_utf8(instance: Instance, http: httpx.Client) -> None:
    served = http.get(f"/media/texts/{len(TEXTS) - 1}.txt")
    assert served.status_code == 200
    assert served.headers["content-type"] == "text/plain; charset=utf-8"
    assert served.text == TEXTS[-1].text  # not ASCII: Tromsø


@pytest.mark.parametrize(
    "path",
    [
        "/media/pets/10000.png",
        "/media/pets/cat.png",
        "/media/nothing",
        "/media/",
        "/media/..%2F..%2Fpyproject.toml",
        "/media/pets/..%2F..%2F..%2Fpyproject.toml",
        "/media/%2Fetc%2Fpasswd",
    ],
)
def test_anything_else_is_a_404_in_the_error_envelope(
    instance: Instance, http: httpx.Client, path: str
) -> None:
    answer = http.get(path)
    assert answer.status_code == 404, answer.text
    error = answer.json()["error"]
    assert error["code"] in {"unknown_media", "not_found"}, error
    assert "root:" not in answer.text  # no file content leaks
    if path.startswith("/media/pets/1"):
        assert error["code"] == "unknown_media"
        assert "pets/0.png to pets/9999.png" in error["message"]


def test_the_route_is_in_the_openapi_schema(instance: Instance, http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    assert "/media/{path}" in paths
