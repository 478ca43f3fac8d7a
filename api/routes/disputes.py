"""Annotators dispute rejections; another reviewer or an operator decides; histories."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Annotator, CallerDep, NowDep, PathId, RuntimeDep, SessionDep
from api.errors import ERROR_RESPONSES
from ledger.dispute import service as disputes
from ledger.dispute.schemas import (
    DisputeCreate,
    DisputeDecision,
    DisputePublic,
    DisputeToDecide,
    LabelHistory,
)

router = APIRouter(prefix="/v1", tags=["disputes"], responses=ERROR_RESPONSES)


@router.post("/labels/{label_id}/disputes", response_model=DisputePublic, status_code=201)
def open_dispute(
    label_id: PathId, body: DisputeCreate, caller: Annotator, session: SessionDep, now: NowDep
) -> DisputePublic:
    """Disputes your rejected label, with a comment, within its dataset's dispute window (once
    per label). A reviewer of the dataset other than the one who rejected it, or an operator,
    decides; an upheld dispute is paid by the next epoch."""
    dispute = disputes.open_dispute(
        session, annotator=caller.address, label_id=label_id, spec=body, now=now
    )
    return disputes.to_public(session, dispute)


@router.get("/me/disputes", response_model=list[DisputePublic])
def my_disputes(caller: Annotator, session: SessionDep) -> list[DisputePublic]:
    """Your disputes, newest first: open, upheld (the label is verified and paid next epoch) or
    denied, each with who decided and why. One read for the labels page, instead of each
    label's history."""
    return [
        disputes.to_public(session, d)
        for d in disputes.disputes_of(session, annotator=caller.address)
    ]


@router.get("/disputes/queue", response_model=list[DisputeToDecide])
def dispute_queue(
    caller: CallerDep, session: SessionDep, runtime: RuntimeDep, now: NowDep
) -> list[DisputeToDecide]:
    """Open disputes you may decide, oldest first, each with the disputed label's value and
    its item (its media as signed URLs for you)."""
    found = disputes.open_disputes_for(session, caller=caller.address, roles=set(caller.roles))
    return [
        disputes.to_decide(session, d, vault=runtime.vault, decider=caller.address, now=now)
        for d in found
    ]


@router.post("/disputes/{dispute_id}/decision", response_model=DisputePublic)
def decide_dispute(
    dispute_id: PathId,
    body: DisputeDecision,
    caller: CallerDep,
    session: SessionDep,
    now: NowDep,
) -> DisputePublic:
    """Upholds (the label is verified and paid next epoch) or denies a dispute, with a reason."""
    dispute = disputes.decide_dispute(
        session,
        caller=caller.address,
        roles=set(caller.roles),
        dispute_id=dispute_id,
        spec=body,
        now=now,
    )
    return disputes.to_public(session, dispute)


@router.get("/labels/{label_id}/history", response_model=LabelHistory)
def label_history(label_id: PathId, caller: CallerDep, session: SessionDep) -> LabelHistory:
    """Every step of a label: submitted, decided (how and why), disputed, dispute decided, and
    the epoch that paid it. For its annotator, the dataset's buyer and reviewers, operators."""
    return disputes.history(
        session, caller=caller.address, roles=set(caller.roles), label_id=label_id
    )
