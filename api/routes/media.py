"""The pictures and texts of `ledger.media`, served to the web app and the demo's items: from our
own server, so that a page never needs another host."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.errors import ERROR_RESPONSES
from ledger.media import media_file

router = APIRouter(prefix="/media", tags=["media"], responses=ERROR_RESPONSES)

# Generated from the code alone: a day in any cache, then revalidated by its ETag.
CACHE_CONTROL = "public, max-age=86400"


@router.get(
    "/{path:path}",
    response_class=Response,
    responses={
        200: {
            "content": {"image/png": {}, "text/plain": {}},
            "description": "a generated picture (pets/<n>.png) or text (texts/<n>.txt)",
        },
        304: {"description": "unchanged since the ETag in If-None-Match"},
    },
)
def media(path: str, request: Request) -> Response:
    """A picture or text the repository generates: `pets/<0-9999>.png` (a cat, a dog or a bird)
    or `texts/<0-5>.txt`. 404 `unknown_media` for anything else."""
    found = media_file(path)
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": found.etag}
    if found.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(found.content, media_type=found.content_type, headers=headers)
