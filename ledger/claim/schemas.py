"""An annotator's claim bundle: everything needed to claim on chain without our service."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, computed_field

from ledger.chain import l1fee
from ledger.chain.networks import network_of_chain


class EntitlementProof(BaseModel):
    """One payout leaf: cumulative entitlements for labels paid in one payment token."""

    token: str  # the payment token's address
    token_index: int  # its allowlist index on the ledger: the leaf's `token`
    cumulative_payment: int
    cumulative_reward: int  # LABEL, 6 decimals
    claimed_payment: int  # as mirrored from the chain
    claimed_reward: int
    claimable_payment: int
    claimable_reward: int
    proof: list[str]


class LabelProof(BaseModel):
    """One label the epoch paid you, as its label-tree leaf, with the proof that it is in the
    tree whose root the chain committed to. `leaf` is `(datasetId, itemIdHash, annotator,
    labelHash, method, payment, reward)`, decimal strings and 0x hex as in the standard-v1 dump."""

    leaf: list[str]
    method: str
    proof: list[str]


class PendingEpoch(BaseModel):
    """A proposed epoch that is not claimable until the ledger accepts it."""

    epoch: int
    payout_root: str
    acceptable_at: int | None = Field(description="unix time from which anyone may accept it")


class L1DataFee(BaseModel):
    """What posting the claim transaction to L1 adds to its gas on a rollup: an estimate at
    stated prices (`ledger/chain/l1fee.py`), for comparing, not a quote."""

    network: str
    model: Literal["op-stack", "arbitrum"]
    tx_bytes: int = Field(description="the signed transaction's size")
    compressed_bytes: int = Field(description="its size as the rollup compresses it")
    fee_wei: int = Field(description="the L1 data fee in wei of the chain's native ETH")
    assumptions: str = Field(description="the L1 prices and scalars the estimate takes")


class ClaimBundle(BaseModel):
    account: str
    epoch: int = Field(description="the accepted epoch the proofs are for")
    root: str
    ledger: str
    chain_id: int
    entitlements: list[EntitlementProof]
    label_root: str = Field(description="the epoch's label root (committed on chain with it)")
    labels: list[LabelProof] = Field(description="your labels this epoch paid, with proofs")
    # A ready transaction: send `data` to `to` from any wallet (anyone may claim for anyone).
    # One leaf: `claim`; several: `claimMany` with one multiproof.
    to: str
    data: str
    pending: PendingEpoch | None

    @computed_field(  # type: ignore[prop-decorator]
        description="size of `data`: on an L2 what the sender pays for is mostly this"
    )
    @property
    def calldata_bytes(self) -> int:
        return l1fee.calldata_bytes(self.data)

    @computed_field(  # type: ignore[prop-decorator]
        description="the L1 data fee of sending `data`, on an L2 network only"
    )
    @property
    def l1_data_fee(self) -> L1DataFee | None:
        network = network_of_chain(self.chain_id)
        found = l1fee.estimate(network, self.to, self.data) if network else None
        if found is None:
            return None
        return L1DataFee(
            network=found.network,
            model="op-stack" if found.model == "op-stack" else "arbitrum",
            tx_bytes=found.tx_bytes,
            compressed_bytes=found.compressed_bytes,
            fee_wei=found.fee_wei,
            assumptions=found.assumptions,
        )
