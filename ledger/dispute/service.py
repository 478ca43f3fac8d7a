"""Disputes: within its dataset's dispute window, an annotator may appeal a rejection with a
comment. A reviewer of the dataset other than the one who rejected it, or an operator, decides;
never the annotator. An upheld dispute verifies the label, which the next epoch pays. Every step
goes into the label's history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.annotation.models import (
    Dispute,
    DisputeStatus,
    Label,
    LabelEvent,
    LabelStatus,
)
from ledger.annotation.service import LabelNotFound, record, reinstate
from ledger.auth.models import Role
from ledger.dataset import repository as dataset_repository
from ledger.dataset import service as datasets
from ledger.dataset.models import Item
from ledger.dispute.schemas import (
    DisputeCreate,
    DisputeDecision,
    DisputePublic,
    DisputeToDecide,
    DisputeVerdict,
    LabelEventPublic,
    LabelHistory,
)
from ledger.kit.db import hold_writes
from ledger.kit.errors import Conflict, Forbidden, NotFound
from ledger.media_access.service import shown_item_data
from ledger.storage.service import MediaVault


class NotYourLabel(Forbidden):
    code = "not_your_label"


class LabelNotRejected(Conflict):
    code = "label_not_rejected"


class DisputeWindowClosed(Conflict):
    code = "dispute_window_closed"


class AlreadyDisputed(Conflict):
    code = "already_disputed"


class DisputeNotFound(NotFound):
    code = "dispute_not_found"


class DisputeDecided(Conflict):
    code = "dispute_already_decided"


class NotADecider(Forbidden):
    code = "not_a_dispute_decider"


def _label(session: Session, label_id: int) -> Label:
    label = session.get(Label, label_id)
    if label is None:
        raise LabelNotFound(f"no label {label_id}")
    return label


def open_dispute(
    session: Session, *, annotator: str, label_id: int, spec: DisputeCreate, now: dt.datetime
) -> Dispute:
    hold_writes(session)
    label = _label(session, label_id)
    if label.annotator != annotator:
        raise NotYourLabel(f"label {label_id} is not yours: only its annotator disputes it")
    sealed = label.sealed_until is not None
    if label.status is not LabelStatus.rejected or label.decided_at is None or sealed:
        shown = LabelStatus.pending if sealed else label.status
        raise LabelNotRejected(f"label {label_id} is {shown}: only rejections are disputed")
    if session.scalar(select(Dispute).where(Dispute.label_id == label.id)) is not None:
        raise AlreadyDisputed(f"label {label_id} has been disputed already (one dispute a label)")
    dataset = datasets.get_dataset(session, label.dataset_id)
    window = dt.timedelta(seconds=datasets.verification_of(dataset).dispute_window_seconds)
    if now > label.decided_at + window:
        raise DisputeWindowClosed(
            f"label {label_id} was rejected at {label.decided_at.isoformat()}; disputes close "
            f"{window.days} days after a rejection"
        )
    dispute = Dispute(
        label_id=label.id,
        annotator=annotator,
        comment=spec.comment.strip(),
        rejected_by=label.reviewer,
        rejection_reason=label.reason,
        created_at=now,
    )
    session.add(dispute)
    record(session, label, "disputed", at=now, actor=annotator, detail=dispute.comment)
    session.flush()
    return dispute


def _may_decide(
    session: Session, *, caller: str, roles: set[Role], dispute: Dispute, label: Label
) -> bool:
    if caller in {dispute.annotator, dispute.rejected_by}:
        return False
    if Role.operator in roles:
        return True
    return dataset_repository.is_reviewer(session, label.dataset_id, caller)


def decide_dispute(
    session: Session,
    *,
    caller: str,
    roles: set[Role],
    dispute_id: int,
    spec: DisputeDecision,
    now: dt.datetime,
) -> Dispute:
    hold_writes(session)
    # locked: of two deciders at once, the second finds it decided
    dispute = session.get(Dispute, dispute_id, with_for_update=True)
    if dispute is None:
        raise DisputeNotFound(f"no dispute {dispute_id}")
    label = _label(session, dispute.label_id)
    if not _may_decide(session, caller=caller, roles=roles, dispute=dispute, label=label):
        raise NotADecider(
            "a dispute is decided by a reviewer of the dataset other than the one who rejected "
            "the label, or by an operator; never by its annotator"
        )
    if dispute.status is not DisputeStatus.open:
        raise DisputeDecided(f"dispute {dispute_id} is {dispute.status} already")
    reason = spec.reason.strip()
    upheld = spec.verdict is DisputeVerdict.uphold
    dispute.status = DisputeStatus.upheld if upheld else DisputeStatus.denied
    dispute.decided_by = caller
    dispute.decision_reason = reason
    dispute.decided_at = now
    record(session, label, f"dispute {dispute.status}", at=now, actor=caller, detail=reason)
    if upheld:
        dataset = datasets.get_dataset(session, label.dataset_id)
        reinstate(
            session, label, dataset, now=now, decider=caller, reason=f"dispute upheld: {reason}"
        )
    session.flush()
    return dispute


def open_disputes_for(session: Session, *, caller: str, roles: set[Role]) -> Sequence[Dispute]:
    """Open disputes the caller may decide, oldest first."""
    rows = session.execute(
        select(Dispute, Label)
        .join(Label, Label.id == Dispute.label_id)
        .where(Dispute.status == DisputeStatus.open)
        .order_by(Dispute.id)
    ).all()
    return [
        d
        for d, label in rows
        if _may_decide(session, caller=caller, roles=roles, dispute=d, label=label)
    ]


def disputes_of(session: Session, *, annotator: str) -> Sequence[Dispute]:
    """The annotator's own disputes, newest first, open and decided."""
    return session.scalars(
        select(Dispute).where(Dispute.annotator == annotator).order_by(Dispute.id.desc())
    ).all()


def to_public(session: Session, dispute: Dispute) -> DisputePublic:
    label = _label(session, dispute.label_id)
    return DisputePublic(
        id=dispute.id,
        label_id=label.id,
        dataset_id=label.dataset_id,
        annotator=dispute.annotator,
        comment=dispute.comment,
        status=dispute.status,
        rejected_by=dispute.rejected_by,
        rejection_reason=dispute.rejection_reason,
        decided_by=dispute.decided_by,
        decision_reason=dispute.decision_reason,
        created_at=dispute.created_at,
        decided_at=dispute.decided_at,
    )


def to_decide(
    session: Session, dispute: Dispute, *, vault: MediaVault, decider: str, now: dt.datetime
) -> DisputeToDecide:
    """An open dispute with what its decider needs to judge it: the label's value, its item
    (its media as signed URLs for the decider)."""
    label = _label(session, dispute.label_id)
    item = session.get(Item, label.item_id)
    assert item is not None
    return DisputeToDecide(
        **to_public(session, dispute).model_dump(),
        value=label.value,
        external_id=item.external_id,
        item_data=shown_item_data(
            vault,
            datasets.get_dataset(session, item.dataset_id),
            item_id=item.id,
            external_id=item.external_id,
            sealed=item.sealed_data,
            wallet=decider,
            now=now,
        ),
    )


def history(session: Session, *, caller: str, roles: set[Role], label_id: int) -> LabelHistory:
    """A label's history: for its annotator, the dataset's buyer and reviewers, operators."""
    label = _label(session, label_id)
    dataset = datasets.get_dataset(session, label.dataset_id)
    allowed = (
        caller in (label.annotator, dataset.buyer)
        or Role.operator in roles
        or dataset_repository.is_reviewer(session, dataset.id, caller)
    )
    if not allowed:
        raise NotYourLabel(f"label {label_id}'s history is for its annotator, buyer and reviewers")
    # The first step is the label itself: its row says when and by whom it was submitted.
    submitted = LabelEventPublic(
        at=label.created_at, kind="submitted", actor=label.annotator, detail=None
    )
    events = [submitted] + [
        LabelEventPublic(at=e.at, kind=e.kind, actor=e.actor, detail=e.detail)
        for e in session.scalars(
            select(LabelEvent).where(LabelEvent.label_id == label.id).order_by(LabelEvent.id)
        )
    ]
    # a sealed gold verdict is the buyer's to see (they hold the answers), nobody else's yet
    sealed = label.sealed_until is not None and caller != dataset.buyer
    status = LabelStatus.pending if sealed else label.status
    return LabelHistory(label_id=label.id, status=status, epoch=label.epoch, events=events)
