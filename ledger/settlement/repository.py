"""All SQL about epochs, entitlements and ledger entries."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ledger.annotation.models import Label, LabelStatus, VerificationMethod
from ledger.dataset.models import Dataset, Item
from ledger.kit.errors import Conflict
from ledger.mirror.models import ChainEpoch
from ledger.settlement.models import (
    Entitlement,
    Epoch,
    EpochDebit,
    EpochStatus,
    LedgerEntry,
)

log = logging.getLogger(__name__)


def last_epoch(session: Session) -> Epoch | None:
    return session.scalars(select(Epoch).order_by(Epoch.number.desc()).limit(1)).first()


def unaccepted_epoch(session: Session) -> Epoch | None:
    """The epoch not yet claimable (built, being proposed, proposed or being accepted)."""
    return session.scalars(
        select(Epoch).where(Epoch.status != EpochStatus.accepted).order_by(Epoch.number).limit(1)
    ).first()


def latest_accepted_epoch(session: Session) -> Epoch | None:
    return session.scalars(
        select(Epoch)
        .where(Epoch.status == EpochStatus.accepted)
        .order_by(Epoch.number.desc())
        .limit(1)
    ).first()


def mirrored_proposal(session: Session, number: int) -> ChainEpoch | None:
    return session.get(ChainEpoch, number)


def has_payable_labels(session: Session) -> bool:
    return (
        session.scalar(
            select(Label.id)
            .where(
                Label.status == LabelStatus.verified,
                Label.epoch.is_(None),
                Label.warmup.is_(False),
                Label.sealed_until.is_(None),
            )
            .limit(1)
        )
        is not None
    )


def payable_labels(session: Session) -> Sequence[tuple[Label, Dataset, Item]]:
    """Verified labels not yet in any epoch, in the order they were verified."""
    return session.execute(
        select(Label, Dataset, Item)
        .join(Dataset, Dataset.id == Label.dataset_id)
        .join(Item, Item.id == Label.item_id)
        .where(
            Label.status == LabelStatus.verified,
            Label.epoch.is_(None),
            Label.warmup.is_(False),  # a qualification warm-up is graded, not paid
            Label.sealed_until.is_(None),  # a gold verdict is paid once it is revealed
        )
        .order_by(Label.decided_at, Label.id)
    ).all()


def entitlements_at(session: Session, epoch: int) -> dict[tuple[str, int], tuple[int, int]]:
    """(account, token index) -> (cumulative payment, cumulative reward) as of `epoch`."""
    rows = session.scalars(select(Entitlement).where(Entitlement.epoch == epoch))
    return {
        (row.account, row.token_index): (row.cumulative_payment, row.cumulative_reward)
        for row in rows
    }


def account_entitlements(session: Session, *, epoch: int, account: str) -> Sequence[Entitlement]:
    return session.scalars(
        select(Entitlement)
        .where(Entitlement.epoch == epoch, Entitlement.account == account)
        .order_by(Entitlement.token_index)
    ).all()


def debits_of(session: Session, epoch: int) -> Sequence[EpochDebit]:
    """In the order they were proposed on chain (the revocation must repeat that list)."""
    return session.scalars(
        select(EpochDebit).where(EpochDebit.epoch == epoch).order_by(EpochDebit.chain_dataset_id)
    ).all()


class LabelsTakenMeanwhile(Conflict):
    code = "labels_taken_meanwhile"


def assign_labels(session: Session, *, label_ids: Sequence[int], epoch: int) -> None:
    """Puts the labels in `epoch`; every one must still be unpaid, or the whole epoch rolls back.

    The epoch's entitlements already count these labels: silently skipping one that another
    process assigned meanwhile would pay it twice.
    """
    assigned = 0
    for start in range(0, len(label_ids), 500):
        result = session.execute(
            update(Label)
            .where(Label.id.in_(label_ids[start : start + 500]), Label.epoch.is_(None))
            .values(epoch=epoch)
        )
        assigned += result.rowcount  # type: ignore[attr-defined]
    if assigned != len(label_ids):
        raise LabelsTakenMeanwhile(
            f"{len(label_ids) - assigned} label(s) were paid by another epoch while epoch {epoch} "
            "was being built; nothing was stored, settle again"
        )


def labels_paid_in(
    session: Session, *, epoch: int, annotator: str
) -> Sequence[tuple[Label, Dataset, Item]]:
    return session.execute(
        select(Label, Dataset, Item)
        .join(Dataset, Dataset.id == Label.dataset_id)
        .join(Item, Item.id == Label.item_id)
        .where(Label.epoch == epoch, Label.annotator == annotator)
        .order_by(Label.id)
    ).all()


def unpublished_gold_rejections(session: Session) -> Sequence[tuple[Label, Dataset, Item]]:
    """Labels rejected on gold that no epoch's verdicts have published yet."""
    return session.execute(
        select(Label, Dataset, Item)
        .join(Dataset, Dataset.id == Label.dataset_id)
        .join(Item, Item.id == Label.item_id)
        .where(
            Label.status == LabelStatus.rejected,
            Label.method == VerificationMethod.gold,
            Label.published_in.is_(None),
            Label.sealed_until.is_(None),
        )
        .order_by(Label.id)
    ).all()


def mark_published(session: Session, *, label_ids: Sequence[int], epoch: int) -> None:
    for start in range(0, len(label_ids), 500):
        session.execute(
            update(Label)
            .where(Label.id.in_(label_ids[start : start + 500]))
            .values(published_in=epoch)
        )


def discard_epoch(session: Session, number: int, *, reason: str = "") -> None:
    """Removes an epoch the chain will never pay (never proposed, reverted or revoked), freeing
    its labels for the next one. Any later epoch is built on its entitlements and must go
    first: use `discard_from`."""
    epoch = session.get(Epoch, number)
    if epoch is not None and epoch.status is not EpochStatus.built:
        # the chain saw it (or may have): say what goes, for whoever reads the log
        log.warning(
            "discarding epoch %s (%s, root %s, content %s, %s labels): %s",
            number,
            epoch.status,
            epoch.payout_root,
            epoch.content_hash,
            epoch.label_count,
            reason or "discarded",
        )
    session.execute(update(Label).where(Label.epoch == number).values(epoch=None))
    session.execute(update(Label).where(Label.published_in == number).values(published_in=None))
    for table in (LedgerEntry, Entitlement, EpochDebit):
        session.execute(delete(table).where(table.epoch == number))
    session.execute(delete(Epoch).where(Epoch.number == number))


def discard_from(session: Session, number: int, *, reason: str) -> list[int]:
    """Discards epoch `number` and every later one, newest first (each builds on the
    cumulative entitlements of the one before it); returns the numbers discarded."""
    numbers = list(
        session.scalars(
            select(Epoch.number).where(Epoch.number >= number).order_by(Epoch.number.desc())
        )
    )
    for each in numbers:
        discard_epoch(
            session, each, reason=reason if each == number else f"built on epoch {number}: {reason}"
        )
    return numbers


def epochs_from(session: Session, number: int) -> Sequence[Epoch]:
    """Epoch `number` and every later one, oldest first."""
    return session.scalars(select(Epoch).where(Epoch.number >= number).order_by(Epoch.number)).all()


def list_epochs(session: Session) -> Sequence[Epoch]:
    return session.scalars(select(Epoch).order_by(Epoch.number)).all()
