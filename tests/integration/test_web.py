"""The web app and /docs as a real instance serves them: the app's page at `/` and at its client
routes, /docs from our own copy of Swagger UI (no URL of another host), the API's unknown paths
still in the JSON envelope, and a clear 503 where the app was never built."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.routes.web import WEB_DIST
from ledger.chain.devnode import free_port
from tests.conftest import Instance

pytestmark = pytest.mark.chain

#: src="...", href="..." and Swagger UI's `url: '...'`
REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|\burl\s*:\s*["']([^"']+)["']""")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    # What is checked here is routing, not storage: SQLite alone.
    return f"sqlite:///{tmp_path / 'ledger.sqlite'}"


@pytest.fixture
def http(instance: Instance) -> Iterator[httpx.Client]:
    assert (WEB_DIST / "index.html").is_file(), "web/dist is not built: run ./scripts/setup"
    with httpx.Client(base_url=instance.url, timeout=30) as client:
        yield client


def references(html: str) -> list[str]:
    return [a or b for a, b in REFERENCE.findall(html)]


def test_root_and_client_routes_answer_the_apps_page(http: httpx.Client) -> None:
    root = http.get("/")
    assert root.status_code == 200
    assert root.headers["content-type"].startswith("text/html")
    assert '<div id="root">' in root.text
    for route in ("/datasets", "/datasets/3/label", "/me/labels", "/account", "/no/such/page"):
        page = http.get(route)
        assert (page.status_code, page.text) == (200, root.text), route
    # everything the page loads is ours and is there
    assets = references(root.text)
    assert any(url.startswith("/assets/") and url.endswith(".js") for url in assets), assets
    for url in assets:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        asset = http.get(url)
        assert asset.status_code == 200, url
        if url.startswith("/assets/"):
            assert "immutable" in asset.headers["cache-control"]


def test_docs_load_only_our_own_urls(http: httpx.Client) -> None:
    docs = http.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert "http://" not in docs.text
    assert "https://" not in docs.text
    urls = references(docs.text)
    assert sorted(urls) == sorted(
        [
            "/openapi.json",
            "/swagger/favicon-32x32.png",
            "/swagger/swagger-ui-bundle.js",
            "/swagger/swagger-ui.css",
        ]
    )
    for url in urls:
        assert http.get(url).status_code == 200, url
    assert "SwaggerUIBundle" in http.get("/swagger/swagger-ui-bundle.js").text
    assert http.get("/openapi.json").json()["info"]["title"] == "label-ledger"
    assert http.get("/redoc").text == http.get("/").text  # no CDN-loaded ReDoc page left


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/no-such-route"),
        ("GET", "/v1"),
        ("POST", "/v1/no/such/route"),
        ("GET", "/v1/datasets/1/no-such-thing"),
        ("GET", "/assets/no-such-chunk.js"),
    ],
)
def test_unknown_api_paths_keep_their_json_404(http: httpx.Client, method: str, path: str) -> None:
    answer = http.request(method, path)
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["code"] == "not_found"


def test_known_routes_keep_their_answers(http: httpx.Client) -> None:
    assert http.get("/v1/health").json()["status"] == "ok"
    assert http.get("/metrics").text.startswith("# TYPE")
    wrong_method = http.delete("/v1/health")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


def test_without_a_build_the_app_says_to_run_setup(instance: Instance, tmp_path: Path) -> None:
    # a second server over the same runtime, serving an app that was never built
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(instance.runtime, web_dist=tmp_path / "never-built"),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the second server did not start within 20s"
        time.sleep(0.05)
    try:
        unbuilt(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        serving.join(timeout=10)


def unbuilt(url: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for path in ("/", "/datasets/1/label", "/docs"):
            answer = client.get(path)
            assert answer.status_code == 503, path
            error = answer.json()["error"]
            assert error["code"] == "web_app_not_built"
            assert "./scripts/setup" in error["message"]
        assert client.get("/v1/health").status_code == 200
        assert client.get("/v1/nothing").json()["error"]["code"] == "not_found"
