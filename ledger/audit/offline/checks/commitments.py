"""Check `commitments`: each published manifest is the one the chain committed to."""

from __future__ import annotations

from typing import Final

from ledger.audit.offline.encoding import hash_hex
from ledger.audit.offline.inputs import AuditInputs
from ledger.audit.offline.report import CheckResult, Row, result

ZERO32: Final = "0x" + "00" * 32


def check(inputs: AuditInputs) -> CheckResult:
    """For each live epoch: epochCommitment(n) is keccak256(abi.encode(payoutRoot, labelRoot,
    contentHash)) of its proposal; keccak256 of manifest.json is the proposed contentHash; the
    manifest carries the proposed payout and label roots, its own epoch number, the deployment's
    chain and ledger, and as previousPayoutRoot the payout root proposed for the epoch before.
    And the chain's accepted epoch is the one the EpochAccepted logs say last, with payoutRoot()
    the root it was accepted with (zero before any) and its manifest's payout root."""
    rows: list[Row] = []
    for number in inputs.live():
        rows.extend(_commitment_rows(inputs, number))
    rows.extend(_accepted_root_rows(inputs))
    return result(
        "commitments",
        rows,
        f"{len(inputs.live())} manifest(s) hash to their contentHash and carry the proposed "
        f"roots; accepted epoch {inputs.history.latest_accepted}'s root is the chain's",
    )


def _commitment_rows(inputs: AuditInputs, number: int) -> list[Row]:
    proposal, files = inputs.history.proposals[number], inputs.epochs[number]
    where = {"epoch": str(number)}
    rows: list[Row] = []
    encoded = b"".join(
        bytes.fromhex(h[2:])
        for h in (proposal.payout_root, proposal.label_root, proposal.content_hash)
    )
    expected = hash_hex(encoded)
    on_chain = "0x" + f"{inputs.views[f'commitment:{number}'][0]:064x}"
    if on_chain != expected:
        rows.append(
            {
                **where,
                "problem": f"epochCommitment({number}) {on_chain} != keccak256("
                f"abi.encode(payoutRoot, labelRoot, contentHash)) {expected}",
            }
        )
    if files.manifest_bytes is None:
        return rows
    content = hash_hex(files.manifest_bytes)
    if content != proposal.content_hash:
        rows.append(
            {
                **where,
                "problem": f"keccak256(manifest.json) {content} != proposed "
                f"contentHash {proposal.content_hash}",
            }
        )
    manifest = files.manifest
    if manifest is None:
        rows.append({**where, "problem": files.manifest_problem or "manifest unusable"})
        return rows
    for what, published, proposed in (
        ("payoutRoot", manifest.payout_root, proposal.payout_root),
        ("labelRoot", manifest.label_root, proposal.label_root),
    ):
        if published != proposed:
            rows.append(
                {
                    **where,
                    "problem": f"manifest {what} {published} != proposed "
                    f"{proposed} (block {proposal.block})",
                }
            )
    if manifest.epoch != number:
        rows.append({**where, "problem": f"manifest says epoch {manifest.epoch}"})
    # the epoch builds on the one before it: the proposal the chain took for number - 1
    before = inputs.history.proposals.get(number - 1)
    previous = before.payout_root if before is not None else None
    if manifest.previous_payout_root != previous:
        rows.append(
            {
                **where,
                "problem": f"manifest previousPayoutRoot {manifest.previous_payout_root} "
                f"!= epoch {number - 1}'s payout root on chain {previous}",
            }
        )
    if manifest.chain_id != inputs.deployment.chain_id:
        rows.append(
            {
                **where,
                "problem": f"manifest chainId {manifest.chain_id} != {inputs.deployment.chain_id}",
            }
        )
    if manifest.ledger.lower() != inputs.deployment.ledger.lower():
        rows.append(
            {
                **where,
                "problem": f"manifest ledger {manifest.ledger} != {inputs.deployment.ledger}",
            }
        )
    return rows


def _accepted_root_rows(inputs: AuditInputs) -> list[Row]:
    rows: list[Row] = []
    latest = inputs.history.latest_accepted
    chain_root = "0x" + f"{inputs.views['payoutRoot'][0]:064x}"
    chain_epoch = inputs.views["acceptedEpoch"][0]
    if chain_epoch != latest:
        rows.append(
            {
                "epoch": str(chain_epoch),
                "problem": f"acceptedEpoch() is {chain_epoch}, the EpochAccepted logs say {latest}",
            }
        )
    if latest == 0:
        if chain_root != ZERO32:
            rows.append(
                {"epoch": "0", "problem": f"payoutRoot() {chain_root} with no epoch accepted"}
            )
        return rows
    event_root = inputs.history.accepted[latest]
    if chain_root != event_root:
        rows.append(
            {
                "epoch": str(latest),
                "problem": f"payoutRoot() {chain_root} != EpochAccepted root {event_root}",
            }
        )
    files = inputs.epochs.get(latest)
    manifest = None if files is None else files.manifest
    if manifest is not None and manifest.payout_root != chain_root:
        rows.append(
            {
                "epoch": str(latest),
                "problem": f"payoutRoot() {chain_root} != "
                f"accepted epoch's manifest payoutRoot {manifest.payout_root}",
            }
        )
    return rows
