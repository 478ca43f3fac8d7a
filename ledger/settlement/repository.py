"""All SQL about epochs, entitlements and ledger entries."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, exists, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from ledger.annotation.models import Label, LabelPayment, LabelStatus, VerificationMethod
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


def unpaid() -> ColumnElement[bool]:
    """A label no epoch has paid: no row of it in label_payments."""
    return ~exists().where(LabelPayment.label_id == Label.id)


def has_payable_labels(session: Session) -> bool:
    return (
        session.scalar(
            select(Label.id)
            .where(
                Label.status == LabelStatus.verified,
                unpaid(),
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
            unpaid(),
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
    """Puts the labels in `epoch` (a row each in label_payments); every one must still be
    unpaid, or the whole epoch rolls back.

    The epoch's entitlements already count these labels: silently skipping one that another
    process assigned meanwhile would pay it twice. The primary key decides: a label another
    epoch holds is not inserted again (ON CONFLICT DO NOTHING), and a count short of the labels
    refuses the epoch. PostgreSQL: one INSERT over the ids as an array; SQLite: one prepared
    INSERT run for each id.
    """
    connection = session.connection()
    # in key order: each page of the primary key's index is visited once, in turn
    ordered = sorted(label_ids)
    if connection.dialect.name == "postgresql":
        result = connection.execute(
            text(
                "INSERT INTO label_payments (label_id, epoch) "
                "SELECT paid.id, :epoch FROM unnest(CAST(:ids AS integer[])) AS paid(id) "
                "ON CONFLICT (label_id) DO NOTHING"
            ),
            {"epoch": epoch, "ids": ordered},
        )
        assigned = result.rowcount
    else:
        driver: Any = connection.connection.driver_connection
        before = driver.total_changes
        driver.executemany(
            "INSERT INTO label_payments (label_id, epoch) VALUES (?, ?) "
            "ON CONFLICT (label_id) DO NOTHING",
            ((label_id, epoch) for label_id in ordered),
        )
        assigned = driver.total_changes - before
    if assigned != len(ordered):
        raise LabelsTakenMeanwhile(
            f"{len(ordered) - assigned} label(s) were paid by another epoch while epoch {epoch} "
            "was being built; nothing was stored, settle again"
        )


def labels_paid_in(
    session: Session, *, epoch: int, annotator: str
) -> Sequence[tuple[Label, Dataset, Item]]:
    return session.execute(
        select(Label, Dataset, Item)
        .join(Dataset, Dataset.id == Label.dataset_id)
        .join(Item, Item.id == Label.item_id)
        .join(LabelPayment, LabelPayment.label_id == Label.id)
        .where(LabelPayment.epoch == epoch, Label.annotator == annotator)
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
    session.execute(delete(LabelPayment).where(LabelPayment.epoch == number))
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
