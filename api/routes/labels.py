"""Annotators' and reviewers' endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import (
    Annotator,
    BearerDep,
    CallerDep,
    NowDep,
    PathId,
    Reviewer,
    RuntimeDep,
    SessionDep,
    in_one_hop,
)
from api.errors import ERROR_RESPONSES
from ledger.annotation import buyers, repository
from ledger.annotation import service as annotation
from ledger.annotation.models import LabelStatus
from ledger.annotation.schemas import (
    BuyerRecord,
    EarningsPublic,
    LabelAndNext,
    LabelCreate,
    LabelPublic,
    NextItem,
    ReviewCreate,
    ReviewEntry,
    SkipCreate,
    StandingPublic,
)
from ledger.annotation.standing import standing_public
from ledger.auth.models import Role
from ledger.claim import service as claims
from ledger.claim.schemas import ClaimBundle
from ledger.dataset import service as datasets
from ledger.dataset.models import Item
from ledger.kit.types import MAX_ROW_ID, checksum
from ledger.media_access import service as media

router = APIRouter(prefix="/v1", tags=["labels"], responses=ERROR_RESPONSES)


# The calls a crowd makes all the time run in one hop to a worker thread (`in_one_hop`): the
# sign-in check, the work and the commit in one unit of work.


@router.get("/datasets/{dataset_id}/next-item", response_model=NextItem)
async def next_item(
    dataset_id: PathId, credentials: BearerDep, runtime: RuntimeDep, now: NowDep
) -> NextItem:
    """The next item for you to label in this dataset, reserved for you for the dataset's lease
    time (`lease_expires_at`): nobody else is served it until you label, skip or release it, or
    the lease expires. Asking again while you hold it returns the same item. You are never
    served an item twice; gold items look like any other."""
    return await in_one_hop(
        runtime,
        credentials,
        Role.annotator,
        lambda session, caller: annotation.next_item(
            session,
            annotator=caller.address,
            dataset_id=dataset_id,
            now=now,
            vault=runtime.vault,
        ),
    )


@router.post("/labels", response_model=LabelPublic, status_code=201)
async def submit_label(
    body: LabelCreate, credentials: BearerDep, runtime: RuntimeDep, now: NowDep
) -> LabelPublic:
    """Labels an item: the one next-item reserved for you, or any item nobody holds that still
    has a free place (409 `item_full` / `item_reserved` otherwise). The answer is `pending`
    until the label is verified; a verdict on a gold item stays sealed for the dataset's
    `gold_reveal_seconds`."""
    return await in_one_hop(
        runtime,
        credentials,
        Role.annotator,
        lambda session, caller: annotation.submit_label(
            session, annotator=caller.address, spec=body, now=now
        ),
    )


@router.post("/labels/and-next", response_model=LabelAndNext, status_code=201)
async def submit_label_and_next(
    body: LabelCreate, credentials: BearerDep, runtime: RuntimeDep, now: NowDep
) -> LabelAndNext:
    """Submit and next, in one round trip: labels the item as POST /v1/labels does, then reserves
    the next item of the same dataset for you as GET next-item does (`next`). When none can be
    served now, the label is stored all the same and `next_refusal` says why."""
    return await in_one_hop(
        runtime,
        credentials,
        Role.annotator,
        lambda session, caller: annotation.label_and_next(
            session, annotator=caller.address, spec=body, now=now, vault=runtime.vault
        ),
    )


@router.post("/items/{item_id}/skip", status_code=204)
async def skip_item(
    item_id: PathId, body: SkipCreate, credentials: BearerDep, runtime: RuntimeDep, now: NowDep
) -> None:
    """Gives back the item you hold, optionally saying why (`unclear`, `broken_media`,
    `offensive`, `other`, and a comment): its buyer sees the reasons per item. You are not
    served it again; an item enough annotators skip is set aside for its buyer."""
    await in_one_hop(
        runtime,
        credentials,
        Role.annotator,
        lambda session, caller: annotation.skip(
            session, annotator=caller.address, item_id=item_id, spec=body, now=now
        ),
    )


@router.post("/items/{item_id}/release", status_code=204)
async def release_item(
    item_id: PathId, credentials: BearerDep, runtime: RuntimeDep, now: NowDep
) -> None:
    """Gives back the item you hold, for another annotator (you are not served it again)."""
    await in_one_hop(
        runtime,
        credentials,
        Role.annotator,
        lambda session, caller: annotation.release(
            session, annotator=caller.address, item_id=item_id, now=now
        ),
    )


@router.get("/me/labels", response_model=list[LabelPublic])
def my_labels(
    caller: Annotator,
    session: SessionDep,
    status: LabelStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> list[LabelPublic]:
    """Your labels: pending, verified (with what each earns and its epoch) or rejected (why). A
    verdict on a gold item shows once it is revealed."""
    rows = repository.labels_with_items(
        session, annotator=caller.address, status=status, limit=limit, offset=offset
    )
    return [annotation.to_public(label, item) for label, item in rows]


@router.get("/me/earnings", response_model=EarningsPublic)
def my_earnings(caller: Annotator, session: SessionDep, runtime: RuntimeDep) -> EarningsPublic:
    return annotation.earnings(
        session, annotator=caller.address, label_token=runtime.deployment.label_token
    )


@router.get("/me/claim", response_model=ClaimBundle)
def my_claim(caller: Annotator, session: SessionDep, runtime: RuntimeDep) -> ClaimBundle:
    """Your proofs for the epoch the ledger has accepted and a ready `claim` (one payment token)
    or `claimMany` (several) transaction for any wallet; `pending` shows a proposed epoch that
    is not claimable yet and when it can be accepted."""
    return claims.claim_bundle(
        session, account=caller.address, deployment=runtime.deployment, client=runtime.chain
    )


@router.get("/proofs/{account}", response_model=ClaimBundle, tags=["audit"])
def proof_bundle(
    account: str, session: SessionDep, runtime: RuntimeDep, response: Response
) -> ClaimBundle:
    """An annotator's proof bundle for the accepted epoch, as a file to keep: their payout
    leaves with proofs, the labels the epoch paid them with label-tree proofs, and a ready
    transaction. Public, like the trees it is cut from. With it anyone can claim for the
    account from any wallet or script, also without this service (see the README)."""
    address = checksum(account)
    bundle = claims.claim_bundle(
        session, account=address, deployment=runtime.deployment, client=runtime.chain
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="label-ledger-proofs-{address}-epoch-{bundle.epoch}.json"'
    )
    return bundle


@router.get("/me/datasets/{dataset_id}/standing", response_model=StandingPublic)
def my_standing(dataset_id: PathId, caller: Annotator, session: SessionDep) -> StandingPublic:
    """Your reputation on a dataset: the score, its tier and reward multiplier, whether you still
    receive its items, your qualification, and every count the score is computed from (verdicts
    on gold items once they are revealed)."""
    dataset = datasets.visible_dataset(session, dataset_id=dataset_id, viewer=caller.address)
    return standing_public(session, dataset=dataset, annotator=caller.address)


@router.get("/buyers/{address}/record", response_model=BuyerRecord)
def buyer_record(address: str, _caller: CallerDep, session: SessionDep) -> BuyerRecord:
    """A buyer's rejection rate, median review time and dispute outcomes (also on each of their
    datasets as `buyer_record`): what annotators see before they take the work."""
    return buyers.buyer_record(session, checksum(address))


@router.get("/reviews/queue", response_model=list[ReviewEntry])
def review_queue(
    caller: Reviewer,
    session: SessionDep,
    runtime: RuntimeDep,
    now: NowDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ReviewEntry]:
    """Pending labels of the datasets you review, oldest first, each with its item's data (its
    media as signed URLs for you, for a few minutes)."""
    rows = repository.review_queue(session, reviewer=caller.address, limit=limit)
    return [
        ReviewEntry(
            **annotation.to_public(label, item).model_dump(),
            item_data=media.shown_item_data(
                runtime.vault,
                datasets.get_dataset(session, item.dataset_id),
                item_id=item.id,
                external_id=item.external_id,
                sealed=item.sealed_data,
                wallet=caller.address,
                now=now,
            ),
        )
        for label, item in rows
    ]


@router.post("/labels/{label_id}/review", response_model=LabelPublic)
def review(
    label_id: PathId, body: ReviewCreate, caller: Reviewer, session: SessionDep, now: NowDep
) -> LabelPublic:
    """Accept, or reject with a reason."""
    label = annotation.review_label(
        session, reviewer=caller.address, label_id=label_id, spec=body, now=now
    )
    item = session.get(Item, label.item_id)
    assert item is not None
    return annotation.to_public(label, item)
