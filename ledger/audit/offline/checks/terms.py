"""Check `terms`: each dataset's published terms are the ones it was created with."""

from __future__ import annotations

from eth_utils.crypto import keccak

from ledger.audit.offline.encoding import id_hex
from ledger.audit.offline.inputs import AuditInputs
from ledger.audit.offline.report import CheckResult, Row, result


def check(inputs: AuditInputs) -> CheckResult:
    """For every dataset the audit meets (published, or debited on chain or in a manifest): a
    DatasetCreated log created it; its id is keccak256(abi.encode(buyer, salt)); its terms.json
    is published, parses, and hashes to that salt; the terms name the creator as buyer and the
    payment token of the dataset's token index. And each manifest's termsHash for a dataset is
    its salt."""
    rows: list[Row] = []
    ids = inputs.dataset_ids()
    for dataset_id in ids:
        rows.extend(_terms_rows(inputs, dataset_id))
    for number in inputs.live():
        manifest = inputs.epochs[number].manifest
        for debit in manifest.datasets if manifest is not None else []:
            chain = inputs.history.datasets.get(debit.dataset_id)
            if chain is not None and debit.terms_hash != chain.salt:
                rows.append(
                    {
                        "epoch": str(number),
                        "dataset": id_hex(debit.dataset_id),
                        "problem": f"manifest termsHash {debit.terms_hash} != salt {chain.salt}",
                    }
                )
    return result(
        "terms",
        rows,
        f"{len(ids)} dataset(s): terms.json hashes to the salt the buyer "
        "created it with, same buyer and token",
    )


def _terms_rows(inputs: AuditInputs, dataset_id: int) -> list[Row]:
    where = {"dataset": id_hex(dataset_id)}
    chain = inputs.history.datasets.get(dataset_id)
    if chain is None:
        return [{**where, "problem": "no DatasetCreated event for this id"}]
    rows: list[Row] = []
    derived = int.from_bytes(
        keccak(bytes(12) + bytes.fromhex(chain.buyer[2:]) + bytes.fromhex(chain.salt[2:])),
        "big",
    )
    if derived != dataset_id:
        rows.append({**where, "problem": "id != keccak256(abi.encode(buyer, salt))"})
    problem = inputs.terms_problems.get(dataset_id)
    if problem is not None:
        return [*rows, {**where, "problem": problem}]
    terms = inputs.terms[dataset_id]
    if terms.raw_hash != chain.salt:
        rows.append(
            {**where, "problem": f"keccak256(terms.json) {terms.raw_hash} != salt {chain.salt}"}
        )
    if terms.buyer.lower() != chain.buyer.lower():
        rows.append({**where, "problem": f"terms buyer {terms.buyer} != creator {chain.buyer}"})
    token = next(
        (t.address for t in inputs.deployment.payment_tokens if t.index == chain.token), None
    )
    if token is None or terms.payment_token.lower() != token.lower():
        rows.append(
            {
                **where,
                "problem": f"terms paymentToken {terms.payment_token} != token "
                f"index {chain.token} ({token})",
            }
        )
    return rows
