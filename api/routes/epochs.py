"""Operators settle epochs; auditors read them and check proofs against the chain."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import Auditor, Operator, RuntimeDep, SessionDep
from api.errors import ERROR_RESPONSES
from ledger.audit import service as audit
from ledger.audit.schemas import EpochPublic, ProofCheck, ProofVerdict
from ledger.kit.errors import Conflict
from ledger.settlement import repository
from ledger.settlement.service import payout_tree_dump, settle

router = APIRouter(prefix="/v1", tags=["epochs"], responses=ERROR_RESPONSES)


class SettleOut(BaseModel):
    epoch: EpochPublic | None
    message: str


class OperatorKeyMissing(Conflict):
    code = "operator_key_missing"


@router.post("/epochs", response_model=SettleOut)
def settle_now(_caller: Operator, runtime: RuntimeDep) -> SettleOut:
    """Settles an epoch now: pays every verified, unpaid label that its escrow can cover."""
    if runtime.operator is None:
        raise OperatorKeyMissing(
            "this instance has no operator key (LABEL_LEDGER_OPERATOR_KEY): it cannot post roots"
        )
    # settle() runs its own units of work: the chain is touched between them.
    epoch = settle(runtime.db, runtime.chain, runtime.deployment, runtime.operator)
    if epoch is None:
        return SettleOut(epoch=None, message="nothing to settle: no verified, unpaid label")
    with runtime.db.unit_of_work() as session:
        public = audit.to_public(session, audit.get_epoch(session, epoch.number))
    return SettleOut(epoch=public, message=f"epoch {epoch.number} is on chain")


@router.get("/epochs", response_model=list[EpochPublic])
def list_epochs(_caller: Auditor, session: SessionDep) -> list[EpochPublic]:
    return [audit.to_public(session, e) for e in repository.list_epochs(session)]


@router.get("/epochs/{number}", response_model=EpochPublic)
def get_epoch(number: int, _caller: Auditor, session: SessionDep) -> EpochPublic:
    return audit.to_public(session, audit.get_epoch(session, number))


@router.get("/epochs/{number}/payout-tree")
def get_payout_tree(number: int, _caller: Auditor, session: SessionDep) -> dict[str, object]:
    """The epoch's payout tree as an OpenZeppelin standard-v1 dump (load it with
    `StandardMerkleTree.load` from `@openzeppelin/merkle-tree`)."""
    return payout_tree_dump(audit.get_epoch(session, number))


@router.post("/audit/proofs", response_model=ProofVerdict)
def check_proof(
    body: ProofCheck, _caller: Auditor, session: SessionDep, runtime: RuntimeDep
) -> ProofVerdict:
    """Checks a proof against the root the chain holds for the epoch."""
    return audit.check_proof(
        session, check=body, client=runtime.chain, deployment=runtime.deployment
    )
