"""Writes and serves the publication (ledger/publication.py): what auditors check against the
chain. Everything in it is a function of what was settled, so writing it again is harmless."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.chain.client import Deployment
from ledger.dataset.models import Dataset
from ledger.kit.db import Database
from ledger.mirror import repository as mirror
from ledger.publication import (
    GOLD,
    LABEL_TREE,
    MANIFEST,
    PAYOUT_TREE,
    TERMS,
    VERDICTS,
    DatasetFiles,
    EpochFiles,
    index_document,
    write_publication,
)
from ledger.settlement.models import Epoch, EpochStatus
from ledger.settlement.service import epoch_files

log = logging.getLogger(__name__)

#: Epochs the chain has seen: a built epoch not yet proposed may still be discarded.
PUBLISHED_STATUSES = (EpochStatus.proposed, EpochStatus.accepting, EpochStatus.accepted)


def published_epochs(session: Session) -> list[Epoch]:
    return list(
        session.scalars(
            select(Epoch).where(Epoch.status.in_(PUBLISHED_STATUSES)).order_by(Epoch.number)
        )
    )


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


def publication(session: Session) -> tuple[list[EpochFiles], list[DatasetFiles]]:
    epochs = [epoch_files(e) for e in published_epochs(session)]
    datasets = [
        files
        for dataset in session.scalars(select(Dataset).order_by(Dataset.id))
        if (files := dataset_files(session, dataset)) is not None
    ]
    return epochs, datasets


def publish(db: Database, deployment: Deployment, directory: Path) -> Path:
    """Writes every proposed epoch and every on-chain dataset's terms (and revealed gold) under
    `directory`, which can then be copied anywhere (an object store, IPFS)."""
    with db.unit_of_work() as session:
        epochs, datasets = publication(session)
    write_publication(
        directory,
        chain_id=deployment.chain_id,
        ledger=deployment.ledger,
        epochs=epochs,
        datasets=datasets,
    )
    log.info("published %s epoch(s) and %s dataset(s) to %s", len(epochs), len(datasets), directory)
    return directory


def published_file(session: Session, deployment: Deployment, path: str) -> str | None:
    """One file of the publication by its relative path (what the directory would hold), or
    None. Serves `label-ledger audit --epochs <base URL>` without a copy on disk."""
    parts = path.strip("/").split("/")
    if parts == ["index.json"]:
        epochs, datasets = publication(session)
        return index_document(
            chain_id=deployment.chain_id,
            ledger=deployment.ledger,
            epochs=[e.number for e in epochs],
            datasets=[d.dataset_id for d in datasets],
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
