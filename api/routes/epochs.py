"""Operators settle epochs; auditors read them and check proofs against the chain."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from api.deps import Auditor, Operator, PathId, RuntimeDep, SessionDep
from api.errors import ERROR_RESPONSES
from ledger.audit import service as audit
from ledger.audit.schemas import EpochPublic, ProofCheck, ProofVerdict
from ledger.jobs import settle_and_publish
from ledger.kit.errors import Conflict, NotFound
from ledger.settlement import repository
from ledger.settlement.models import EpochStatus
from ledger.settlement.publish import published_file
from ledger.settlement.service import label_tree_dump, payout_tree_dump

router = APIRouter(prefix="/v1", tags=["epochs"], responses=ERROR_RESPONSES)


class SettleOut(BaseModel):
    epoch: EpochPublic | None
    message: str


class EpochsNow(BaseModel):
    """The epoch claims are paid against, and the one proposed after it, if any."""

    accepted: EpochPublic | None
    pending: EpochPublic | None


class PublishedFileNotFound(NotFound):
    code = "published_file_not_found"


class OperatorKeyMissing(Conflict):
    code = "operator_key_missing"


@router.post("/epochs", response_model=SettleOut)
def settle_now(_caller: Operator, runtime: RuntimeDep) -> SettleOut:
    """Settles an epoch now: proposes every verified, unpaid label its dataset's funds (fee
    included) cover, and accepts it once the ledger's timelock allows.

    One settlement runs at a time across every API process and worker on the database: while
    another runs this answers 409 `epoch_in_flight` at once (retry shortly), and it never moves
    or drops an epoch another settlement is working on."""
    if runtime.operator is None:
        raise OperatorKeyMissing(
            "this instance has no operator key (LABEL_LEDGER_OPERATOR_KEY): it cannot post roots"
        )
    # settle() runs its own units of work: the chain is touched between them.
    epoch = settle_and_publish(runtime, runtime.operator)
    if epoch is None:
        return SettleOut(epoch=None, message="nothing to settle: no verified, unpaid label")
    with runtime.db.unit_of_work() as session:
        public = audit.to_public(session, audit.get_epoch(session, epoch.number))
    message = (
        f"epoch {epoch.number} is accepted on chain: claimable"
        if public.status == EpochStatus.accepted
        else f"epoch {epoch.number} is proposed on chain; claimable once accepted, from unix "
        f"time {public.acceptable_at}"
    )
    return SettleOut(epoch=public, message=message)


@router.get("/epochs", response_model=list[EpochPublic])
def list_epochs(_caller: Auditor, session: SessionDep) -> list[EpochPublic]:
    return [audit.to_public(session, e) for e in repository.list_epochs(session)]


@router.get("/epochs/current", response_model=EpochsNow)
def current_epochs(_caller: Auditor, session: SessionDep) -> EpochsNow:
    """The accepted epoch (claims are paid against it) and the pending one (proposed, inside
    its timelock, not claimable yet)."""
    accepted = repository.latest_accepted_epoch(session)
    pending = repository.unaccepted_epoch(session)
    return EpochsNow(
        accepted=audit.to_public(session, accepted) if accepted else None,
        pending=audit.to_public(session, pending) if pending else None,
    )


@router.get("/epochs/{number}", response_model=EpochPublic)
def get_epoch(number: PathId, _caller: Auditor, session: SessionDep) -> EpochPublic:
    return audit.to_public(session, audit.get_epoch(session, number))


@router.get("/epochs/{number}/payout-tree")
def get_payout_tree(number: PathId, _caller: Auditor, session: SessionDep) -> dict[str, object]:
    """The epoch's payout tree as an OpenZeppelin standard-v1 dump (load it with
    `StandardMerkleTree.load` from `@openzeppelin/merkle-tree`)."""
    return payout_tree_dump(audit.get_epoch(session, number))


@router.get("/epochs/{number}/label-tree")
def get_label_tree(number: PathId, _caller: Auditor, session: SessionDep) -> dict[str, object]:
    """Every label the epoch paid, as a standard-v1 dump; its root is the epoch's label root."""
    return label_tree_dump(audit.get_epoch(session, number))


@router.get("/epochs/{number}/manifest", response_class=Response)
def get_manifest(number: PathId, _caller: Auditor, session: SessionDep) -> Response:
    """The epoch's manifest, byte for byte: its keccak256 is the content hash on chain."""
    return Response(
        content=audit.get_epoch(session, number).manifest, media_type="application/json"
    )


@router.post("/audit/proofs", response_model=ProofVerdict)
def check_proof(
    body: ProofCheck, _caller: Auditor, session: SessionDep, runtime: RuntimeDep
) -> ProofVerdict:
    """Checks a payout proof against the root the chain holds (or commits to) for the epoch."""
    return audit.check_proof(
        session, check=body, client=runtime.chain, deployment=runtime.deployment
    )


@router.get("/published/{path:path}", response_class=Response, tags=["audit"])
def get_published(path: str, session: SessionDep, runtime: RuntimeDep) -> Response:
    """The publication auditors check against the chain, file by file, in the layout of the
    directory each settlement writes (`index.json`, `epochs/<n>/manifest.json`,
    `payout-tree.json`, `label-tree.json`, `verdicts.json`, `datasets/<id>/terms.json` and, once
    closed, `gold.json`). Public: it holds hashes, amounts and addresses, no item data or label
    content. `label-ledger audit --epochs <this URL>/v1/published` reads it."""
    text = published_file(session, runtime.deployment, path)
    if text is None:
        raise PublishedFileNotFound(f"no published file {path!r}")
    return Response(content=text, media_type="application/json")
