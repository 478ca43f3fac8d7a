"""What the auditor read, once, before any check: `AuditInputs`, from the chain (logs and views
at the audited block) and the publication. Every check takes it and reads nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ledger.audit.offline.chain import ChainHistory, audited_block, read_history, read_views
from ledger.audit.offline.documents import EpochFiles, Terms
from ledger.audit.offline.publication import load_datasets, load_epochs, read_index
from ledger.audit.offline.report import Progress, Row
from ledger.audit.offline.source import Source
from ledger.chain.client import Deployment
from ledger.mirror.rpc import MirrorRpc


@dataclass(frozen=True)
class AuditInputs:
    """The chain and the publication as read for one audit, at `block`."""

    deployment: Deployment
    block: int
    history: ChainHistory
    epochs: dict[int, EpochFiles]  # every epoch published or live on chain
    index_epochs: list[int]
    index_datasets: list[int]
    index_problems: list[Row]  # index.json against the deployment, for `epochs-published`
    terms: dict[int, Terms]
    terms_problems: dict[int, str]  # why a dataset has no usable terms, for `terms`
    gold_raw: dict[int, bytes]  # the revealed gold.json files
    views: dict[str, list[int]]  # by name, as `chain.read_views` names them

    def live(self) -> list[int]:
        """The epochs live on chain (proposed, not revoked), in order."""
        return sorted(self.history.proposals)

    def usable(self, number: int) -> EpochFiles | None:
        """The epoch's files when its manifest, both trees and verdicts all loaded."""
        files = self.epochs.get(number)
        if files is None or files.manifest is None or files.payout is None:
            return None
        if files.labels is None or files.verdicts is None:
            return None
        return files

    def token_of(self, dataset_id: int) -> int | None:
        dataset = self.history.datasets.get(dataset_id)
        return None if dataset is None else dataset.token

    def dataset_ids(self) -> list[int]:
        """Every dataset the audit looks at: debited on chain or in a manifest, or published."""
        return dataset_ids(self.index_datasets, self.history, self.epochs)


def dataset_ids(
    published: list[int], history: ChainHistory, epochs: Mapping[int, EpochFiles]
) -> list[int]:
    """Every dataset the audit looks at: debited on chain or in a manifest, or published."""
    ids = set(published)
    for proposal in history.proposals.values():
        ids.update(d for d, _ in proposal.debits)
    for files in epochs.values():
        if files.manifest is not None:
            ids.update(d.dataset_id for d in files.manifest.datasets)
    return sorted(ids)


def read_inputs(
    rpc: MirrorRpc,
    deployment: Deployment,
    source: Source,
    block: int | None,
    progress: Progress,
) -> AuditInputs:
    """Reads everything the checks need: raises `AuditInputError` (or `ChainUnavailable`) when
    the audit cannot start."""
    audited = audited_block(rpc, deployment, block)
    index = read_index(source, deployment)
    history = read_history(rpc, deployment, audited, progress)
    epochs = load_epochs(source, sorted(set(index.epochs) | set(history.proposals)), progress)
    terms, terms_problems, gold_raw = load_datasets(
        source, dataset_ids(index.datasets, history, epochs), progress
    )
    views = read_views(rpc, deployment, history, audited, progress)
    return AuditInputs(
        deployment=deployment,
        block=audited,
        history=history,
        epochs=epochs,
        index_epochs=index.epochs,
        index_datasets=index.datasets,
        index_problems=index.problems,
        terms=terms,
        terms_problems=terms_problems,
        gold_raw=gold_raw,
        views=views,
    )
