"""A dataset's own media: the buyer uploads files, items refer to them as `"media:<name>"`, and
whoever is shown an item gets signed URLs under /v1/media that open only for them, only while
they may still see the item, each opening logged for the buyer. (The public generated pictures
of the demo are another router: api/routes/media.py, /media/...)"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import Buyer, NowDep, PathId, RuntimeDep, SessionDep
from api.errors import ERROR_RESPONSES
from ledger.dataset import service as datasets
from ledger.kit.errors import LedgerError
from ledger.kit.types import MAX_ROW_ID
from ledger.media_access import service as media
from ledger.media_access.schemas import ItemView, MediaAccessPublic, MediaObjectPublic
from ledger.runtime import Runtime
from ledger.storage import MAX_MEDIA_BYTES, MediaTooLarge
from ledger.storage.signing import MediaGrant

router = APIRouter(prefix="/v1", tags=["media"], responses=ERROR_RESPONSES)

_MEDIA_ERRORS: dict[int | str, dict[str, object]] = {
    413: {"model": ERROR_RESPONSES[422]["model"], "description": "media_too_large"},
    415: {"model": ERROR_RESPONSES[422]["model"], "description": "media_type_refused"},
}
MediaName = Annotated[str, Path(max_length=300, description="e.g. clip.wav or frames/0001.png")]


class MissingContentType(LedgerError):
    status_code = 415
    code = "media_type_refused"


@router.put(
    "/datasets/{dataset_id}/media/{name:path}",
    response_model=MediaObjectPublic,
    responses={**_MEDIA_ERRORS, 201: {"model": MediaObjectPublic, "description": "stored"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def upload_media(
    dataset_id: PathId,
    name: MediaName,
    request: Request,
    response: Response,
    caller: Buyer,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
) -> MediaObjectPublic:
    """Uploads a media file into your dataset: the raw bytes as the body, their type in
    Content-Type (a picture, sound, video, plain text, CSV, JSON, or application/octet-stream
    for point clouds; 415 `media_type_refused` otherwise), at most 50 MiB (413
    `media_too_large`). Items refer to it as `"media:<name>"`. Stored encrypted with the
    dataset's key. The same name with the same bytes again is the same file (200); with other
    bytes, 409 `media_name_taken`. 201 when new."""
    await run_in_threadpool(
        datasets.get_owned_dataset, session, dataset_id=dataset_id, buyer=caller.address
    )
    await run_in_threadpool(session.rollback)  # the upload runs its own transaction
    vault = runtime.vault
    content_type = request.headers.get("content-type")
    if not content_type:
        raise MissingContentType("send the file's type in Content-Type (image/png, audio/wav...)")
    declared = request.headers.get("content-length")
    # refused before a byte of the body is read when the headers already say so
    vault.check_upload(int(declared) if declared and declared.isdigit() else 1, content_type)
    media.check_upload_name(vault, dataset_id, name)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_MEDIA_BYTES:
            raise MediaTooLarge(f"a media file is at most {MAX_MEDIA_BYTES} bytes")
    stored, created = await run_in_threadpool(
        media.upload,
        runtime.db,
        vault,
        dataset_id=dataset_id,
        name=name,
        content=bytes(body),
        content_type=content_type,
        now=now,
    )
    response.status_code = 201 if created else 200
    return stored


@router.get("/datasets/{dataset_id}/media", response_model=list[MediaObjectPublic])
def list_media(
    dataset_id: PathId,
    caller: Buyer,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> list[MediaObjectPublic]:
    """The media files of your dataset, by name."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    return media.media_of(session, dataset_id=dataset.id, limit=limit, offset=offset)


@router.get("/datasets/{dataset_id}/media-access", response_model=list[MediaAccessPublic])
def media_access_log(
    dataset_id: PathId,
    caller: Buyer,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> list[MediaAccessPublic]:
    """Who opened your dataset's media, newest first: the wallet, why it was let in (holding
    the item's lease, reviewing, buying, operating), which item and file, when. Page with
    `offset`."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    return list(media.access_log(session, dataset_id=dataset.id, limit=limit, offset=offset))


@router.get("/datasets/{dataset_id}/items/{item_id}", response_model=ItemView)
def get_item(
    dataset_id: PathId,
    item_id: PathId,
    caller: Buyer,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
) -> ItemView:
    """One item of your dataset as annotators see it, its media as signed URLs for you."""
    dataset = datasets.get_owned_dataset(session, dataset_id=dataset_id, buyer=caller.address)
    return media.item_view(
        session, runtime.vault, dataset=dataset, item_id=item_id, viewer=caller.address, now=now
    )


@router.get(
    "/media/{dataset_id}/{item_id}/{name:path}",
    response_class=Response,
    responses={
        200: {
            "content": {"application/octet-stream": {}},
            "description": "the file, under the content type it was uploaded with",
        },
        206: {"description": "the byte range a `Range: bytes=a-b` header asked for"},
    },
)
async def open_media(
    dataset_id: PathId,
    item_id: PathId,
    name: MediaName,
    request: Request,
    runtime: RuntimeDep,
    wallet: Annotated[str, Query(max_length=42)] = "",
    token: Annotated[str, Query(max_length=80)] = "",
) -> Response:
    """A media file through the signed URL an item was shown with (no sign-in: the URL says who
    it is for). 403 `media_url_invalid` for a URL we did not issue or that was altered,
    `media_url_expired` once its time is up (ask for the item again), `media_access_denied`
    when its wallet may no longer see the item (its lease ended). One byte range may be asked
    for (`Range`), as players do. Each opening is logged for the dataset's buyer."""
    now = runtime.clock()
    grant = runtime.vault.verify(dataset_id, item_id, name, wallet, token, now=now)
    async with runtime.db.request_turns:
        opening = await run_in_threadpool(_authorize, runtime, grant, now)
    found = await run_in_threadpool(media.read, runtime.vault, opening)
    wanted = _byte_range(request.headers.get("range"), len(found.content))
    if wanted is None or wanted[0] == 0:
        # a video or clip is read in ranges as it plays: its first range is the opening
        async with runtime.db.request_turns:
            await run_in_threadpool(_log, runtime, opening, now)
    filename = name.rsplit("/", 1)[-1]
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
        "Content-Disposition": f'inline; filename="{filename}"',
        "Accept-Ranges": "bytes",
    }
    if wanted is None:
        return Response(found.content, media_type=found.content_type, headers=headers)
    first, last = wanted
    headers["Content-Range"] = f"bytes {first}-{last}/{len(found.content)}"
    return Response(
        found.content[first : last + 1],
        status_code=206,
        media_type=found.content_type,
        headers=headers,
    )


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range `Range: bytes=a-b` (or `a-`, or `-n`) asks for, within the file; None
    for no range, or one this does not serve (several ranges, or beyond the end): then the
    whole file is sent, which a client takes as well."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    start, _, end = header[len("bytes=") :].strip().partition("-")
    if not (start.isdigit() or end.isdigit()) or (start and not start.isdigit()):
        return None
    if end and not end.isdigit():
        return None
    if not start:  # the last n bytes
        count = int(end)
        return (max(size - count, 0), size - 1) if count else None
    first = int(start)
    last = min(int(end), size - 1) if end else size - 1
    return (first, last) if first <= last else None


def _authorize(runtime: Runtime, grant: MediaGrant, now: dt.datetime) -> media.Opening:
    with runtime.db.unit_of_work() as session:
        return media.authorize(session, grant=grant, operators=runtime.operators(), now=now)


def _log(runtime: Runtime, opening: media.Opening, now: dt.datetime) -> None:
    with runtime.db.unit_of_work() as session:  # an audit record: durable
        media.log_opening(session, opening, now=now)
