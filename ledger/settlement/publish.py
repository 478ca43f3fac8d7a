"""Writes and serves the publication (ledger/publication.py): what auditors check against the
chain. Everything in it is a function of what was settled, so writing it again is harmless."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.chain.client import Deployment
from ledger.dataset.models import Dataset
from ledger.kit.db import Database
from ledger.kit.joblock import try_job_lock
from ledger.mirror import repository as mirror
from ledger.publication import (
    GOLD,
    INDEX,
    LABEL_TREE,
    MANIFEST,
    PAYOUT_TREE,
    TERMS,
    VERDICTS,
    DatasetFiles,
    index_document,
    write_publication,
)
from ledger.settlement.models import Epoch, EpochStatus
from ledger.settlement.service import epoch_files

log = logging.getLogger(__name__)

#: Epochs the chain has seen: a built epoch not yet proposed may still be discarded.
PUBLISHED_STATUSES = (EpochStatus.proposed, EpochStatus.accepting, EpochStatus.accepted)


def published_numbers(session: Session) -> list[int]:
    """The epochs the chain has seen, by number (without loading their trees)."""
    return list(
        session.scalars(
            select(Epoch.number).where(Epoch.status.in_(PUBLISHED_STATUSES)).order_by(Epoch.number)
        )
    )


def published_posted(session: Session) -> list[tuple[int, dt.datetime | None]]:
    """(number, when proposed) of the epochs the chain has seen."""
    rows = session.execute(
        select(Epoch.number, Epoch.posted_at)
        .where(Epoch.status.in_(PUBLISHED_STATUSES))
        .order_by(Epoch.number)
    )
    return [(number, posted_at) for number, posted_at in rows]


def _written_before(manifest: Path, posted_at: dt.datetime | None) -> bool:
    """Whether `manifest` is missing or older than the proposal of the epoch now under its
    number (one `stat`, no read)."""
    try:
        written = manifest.stat().st_mtime
    except FileNotFoundError:
        return True
    return posted_at is not None and written < posted_at.timestamp()


def dataset_files(session: Session, dataset: Dataset) -> DatasetFiles | None:
    """A dataset's terms once it is on the ledger, with its gold answers once it is closed."""
    record = mirror.get_chain_dataset(session, dataset.chain_dataset_id)
    if record is None:
        return None
    closed = record.status == "closed"
    return DatasetFiles(
        dataset_id=dataset.chain_dataset_id,
        terms=dataset.terms,
        gold=dataset.gold_document if closed else None,
    )


def published_datasets(session: Session) -> list[DatasetFiles]:
    return [
        files
        for dataset in session.scalars(select(Dataset).order_by(Dataset.id))
        if (files := dataset_files(session, dataset)) is not None
    ]


#: The job lock publishers take (ledger/kit/joblock.py).
PUBLICATION_JOB = "publication"


def publish(db: Database, deployment: Deployment, directory: Path, *, wait: float = 0) -> bool:
    """Writes every proposed epoch and every on-chain dataset's terms (and revealed gold) under
    `directory`, which can then be copied anywhere (an object store, IPFS). An epoch's files
    never change once proposed, so only epochs not on disk yet are loaded and written: each
    settlement round costs a few small queries, not a reread of every tree.

    One publisher at a time across every process on the database (its job lock): one that
    finds another at work for longer than `wait` seconds skips and returns False, as the other
    writes the same files (and the next round writes whatever it read too early)."""
    with try_job_lock(db, PUBLICATION_JOB, wait=wait) as held:
        if not held:
            log.debug("another process is writing the publication: skipped")
            return False
        _publish(db, deployment, directory)
        return True


def _publish(db: Database, deployment: Deployment, directory: Path) -> None:
    with db.unit_of_work() as session:
        numbers = published_numbers(session)
        # An epoch the chain lost may be discarded and its number built again with other
        # contents, proposed after the old files were written: those are compared anew.
        missing = [
            n
            for n, posted_at in published_posted(session)
            if _written_before(directory / "epochs" / str(n) / MANIFEST, posted_at)
        ]
        epochs = [epoch_files(e) for n in missing if (e := session.get(Epoch, n)) is not None]
        datasets = published_datasets(session)
    write_publication(
        directory,
        chain_id=deployment.chain_id,
        ledger=deployment.ledger,
        epochs=epochs,
        datasets=datasets,
        indexed_epochs=numbers,
    )
    log.debug(
        "published %s new epoch(s), %s dataset(s) to %s", len(epochs), len(datasets), directory
    )


def published_file(session: Session, deployment: Deployment, path: str) -> str | None:
    """One file of the publication by its relative path (what the directory would hold), or
    None. Serves `label-ledger audit --epochs <base URL>` without a copy on disk."""
    parts = path.strip("/").split("/")
    if parts == [INDEX]:
        return index_document(
            chain_id=deployment.chain_id,
            ledger=deployment.ledger,
            epochs=published_numbers(session),
            datasets=[d.dataset_id for d in published_datasets(session)],
        )
    if len(parts) == 3 and parts[0] == "epochs" and parts[1].isdigit():
        epoch = session.get(Epoch, int(parts[1]))
        if epoch is None or epoch.status not in PUBLISHED_STATUSES:
            return None
        files = epoch_files(epoch)
        return {
            MANIFEST: files.manifest,
            PAYOUT_TREE: files.payout_tree,
            LABEL_TREE: files.label_tree,
            VERDICTS: files.verdicts,
        }.get(parts[2])
    if len(parts) == 3 and parts[0] == "datasets":
        dataset = session.scalar(
            select(Dataset).where(Dataset.chain_dataset_id == parts[1].lower())
        )
        found = dataset_files(session, dataset) if dataset is not None else None
        if found is None:
            return None
        return {TERMS: found.terms, GOLD: found.gold}.get(parts[2])
    return None
