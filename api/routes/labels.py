"""Annotators' and reviewers' endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import Annotator, CallerDep, Reviewer, RuntimeDep, SessionDep
from api.errors import ERROR_RESPONSES
from ledger.annotation import buyers, repository
from ledger.annotation import service as annotation
from ledger.annotation.models import LabelStatus
from ledger.annotation.schemas import (
    BuyerRecord,
    EarningsPublic,
    LabelCreate,
    LabelPublic,
    NextItem,
    ReviewCreate,
    StandingPublic,
)
from ledger.annotation.standing import standing_public
from ledger.claim import service as claims
from ledger.claim.schemas import ClaimBundle
from ledger.dataset import service as datasets
from ledger.dataset.models import Item
from ledger.kit.db import utcnow
from ledger.kit.types import checksum

router = APIRouter(prefix="/v1", tags=["labels"], responses=ERROR_RESPONSES)


@router.get("/datasets/{dataset_id}/next-item", response_model=NextItem)
def next_item(dataset_id: int, caller: Annotator, session: SessionDep) -> NextItem:
    """The next item for you to label in this dataset (gold items look like any other)."""
    return annotation.next_item(session, annotator=caller.address, dataset_id=dataset_id)


@router.post("/labels", response_model=LabelPublic, status_code=201)
def submit_label(body: LabelCreate, caller: Annotator, session: SessionDep) -> LabelPublic:
    label = annotation.submit_label(session, annotator=caller.address, spec=body, now=utcnow())
    item = session.get(Item, label.item_id)
    assert item is not None
    return annotation.to_public(label, item)


@router.get("/me/labels", response_model=list[LabelPublic])
def my_labels(
    caller: Annotator,
    session: SessionDep,
    status: LabelStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[LabelPublic]:
    """Your labels: pending, verified (with what each earns and its epoch) or rejected (why)."""
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
def my_standing(dataset_id: int, caller: Annotator, session: SessionDep) -> StandingPublic:
    """Your reputation on a dataset: the score, its tier and reward multiplier, whether you still
    receive its items, your qualification, and every count the score is computed from."""
    dataset = datasets.get_dataset(session, dataset_id)
    return standing_public(session, dataset=dataset, annotator=caller.address)


@router.get("/buyers/{address}/record", response_model=BuyerRecord)
def buyer_record(address: str, _caller: CallerDep, session: SessionDep) -> BuyerRecord:
    """A buyer's rejection rate, median review time and dispute outcomes (also on each of their
    datasets as `buyer_record`): what annotators see before they take the work."""
    return buyers.buyer_record(session, checksum(address))


@router.get("/reviews/queue", response_model=list[LabelPublic])
def review_queue(
    caller: Reviewer,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[LabelPublic]:
    """Pending labels of the datasets you review, oldest first."""
    rows = repository.review_queue(session, reviewer=caller.address, limit=limit)
    return [annotation.to_public(label, item) for label, item in rows]


@router.post("/labels/{label_id}/review", response_model=LabelPublic)
def review(label_id: int, body: ReviewCreate, caller: Reviewer, session: SessionDep) -> LabelPublic:
    """Accept, or reject with a reason."""
    label = annotation.review_label(
        session, reviewer=caller.address, label_id=label_id, spec=body, now=utcnow()
    )
    item = session.get(Item, label.item_id)
    assert item is not None
    return annotation.to_public(label, item)
