"""The pictures, texts, audio clips, video and point clouds of `ledger.media`, served to the web
app and the demo's items: from our own server, so that a page never needs another host."""

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
            "content": {
                "image/png": {},
                "text/plain": {},
                "audio/wav": {},
                "audio/ogg": {},
                "video/webm": {},
                "application/octet-stream": {},
            },
            "description": "a generated picture (pets/<n>.png), text (texts/<n>.txt), audio "
            "clip (audio/<n>.wav), the video (video/shapes.webm) or a point cloud "
            "(clouds/<n>.bin: float32 x, y, z triples, little-endian) or a spoken sentence "
            "(speech/<n>.ogg)",
        },
        304: {"description": "unchanged since the ETag in If-None-Match"},
    },
)
def media(path: str, request: Request) -> Response:
    """A file the repository generates or ships: `pets/<0-9999>.png` (a cat, a dog or a bird),
    `texts/<0-5>.txt`, `audio/<0-5>.wav` (speech and music between silences),
    `video/shapes.webm` (a ball and a block moving, 10 frames a second) or `clouds/<0-3>.bin`
    (a lidar-like point cloud) or `speech/<0-2>.ogg` (a spoken sentence). 404 `unknown_media`
    for anything else."""
    found = media_file(path)
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": found.etag}
    if found.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(found.content, media_type=found.content_type, headers=headers)
