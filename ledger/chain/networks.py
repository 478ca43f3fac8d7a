"""The networks `label-ledger deploy --network NAME` knows: chain id, the payment token it
defaults to, how deep the mirror waits and may undo, and how its fees work.

The payment token on every public network is Circle's native USDC (an ERC-20 with EIP-2612
`permit`, 6 decimals), the address Circle lists for that chain ("USDC contract addresses" in
Circle's developer docs; bridged USDC.e is a different token and is not used).

Confirmations and reorg depth on a rollup (the L2 reasoning, per network below):

- The sequencer orders transactions and answers at once: a block it gives out is a *soft*
  confirmation (the "unsafe" head). It becomes "safe" when the batch holding it is posted to
  L1 (OP stack: typically within a few minutes; Arbitrum: within minutes too), and "finalized"
  when that L1 block is final (about two L1 epochs, ~13 minutes).
- An unsafe block is reorged only if the sequencer equivocates or its batch never lands on L1;
  both are rare, and short when they happen. So `confirmations` (what the API shows as
  confirmed) is a few seconds of blocks past the soft confirmation, and `max_reorg_depth` (what
  the mirror can undo and replay; a deeper fork stops it with an alarm, never silently) covers
  the time until the batch is on L1 with room to spare. Counting blocks, a network with
  shorter blocks needs more of them for the same time.
- The local dev chain (Anvil) never reorgs on its own: no confirmations, the mirror's default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ledger.kit.errors import BadRequest

L1FeeModel = Literal["none", "op-stack", "arbitrum"]


class UnknownNetwork(BadRequest):
    code = "unknown_network"


@dataclass(frozen=True)
class Network:
    name: str  # what --network and LABEL_LEDGER_NETWORK take
    title: str
    chain_id: int
    usdc: str | None  # Circle's native USDC; None on the dev chain (it deploys dUSD)
    confirmations: int
    max_reorg_depth: int
    block_time: float  # seconds, the sequencer's target
    l1_fee_model: L1FeeModel
    testnet: bool
    aliases: tuple[str, ...] = ()

    @property
    def is_l2(self) -> bool:
        return self.l1_fee_model != "none"


DEV = Network(
    name="dev",
    title="local dev chain (Anvil)",
    chain_id=31337,
    usdc=None,
    confirmations=0,
    max_reorg_depth=64,
    block_time=1.0,
    l1_fee_model="none",
    testnet=True,
    aliases=("local", "anvil"),
)

NETWORKS: tuple[Network, ...] = (
    DEV,
    # OP stack, 2 s blocks. 10 blocks (20 s) past the sequencer's answer counts as confirmed;
    # 300 blocks (10 min) covers the batcher posting the block to L1 several times over.
    Network(
        name="base",
        title="Base",
        chain_id=8453,
        usdc="0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        confirmations=10,
        max_reorg_depth=300,
        block_time=2.0,
        l1_fee_model="op-stack",
        testnet=False,
    ),
    # Testnets: fewer confirmations (less at stake), the same five minutes or more of reorg
    # window; a fork deeper than it still stops the mirror.
    Network(
        name="base-sepolia",
        title="Base Sepolia",
        chain_id=84532,
        usdc="0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        confirmations=5,
        max_reorg_depth=150,
        block_time=2.0,
        l1_fee_model="op-stack",
        testnet=True,
    ),
    # Arbitrum (Nitro), ~0.25 s blocks: 40 blocks is 10 s; 1200 blocks is 5 min, in which the
    # sequencer's batch normally reaches L1 (the sequencer feed itself is final in practice).
    Network(
        name="arbitrum-one",
        title="Arbitrum One",
        chain_id=42161,
        usdc="0xaf88d065e77c8cC2239327C5EDb3A432268e5831",
        confirmations=40,
        max_reorg_depth=1200,
        block_time=0.25,
        l1_fee_model="arbitrum",
        testnet=False,
        aliases=("arbitrum",),
    ),
    Network(
        name="arbitrum-sepolia",
        title="Arbitrum Sepolia",
        chain_id=421614,
        usdc="0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d",
        confirmations=20,
        max_reorg_depth=1200,
        block_time=0.25,
        l1_fee_model="arbitrum",
        testnet=True,
    ),
    # OP Mainnet: the OP stack as Base, 2 s blocks.
    Network(
        name="optimism",
        title="OP Mainnet",
        chain_id=10,
        usdc="0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85",
        confirmations=10,
        max_reorg_depth=300,
        block_time=2.0,
        l1_fee_model="op-stack",
        testnet=False,
        aliases=("op-mainnet", "op"),
    ),
    Network(
        name="op-sepolia",
        title="OP Sepolia",
        chain_id=11155420,
        usdc="0x5fd84259d66Cd46123540766Be93DFE6D43130D7",
        confirmations=5,
        max_reorg_depth=150,
        block_time=2.0,
        l1_fee_model="op-stack",
        testnet=True,
    ),
)


def network_named(name: str) -> Network:
    """The network called `name` (or one of its aliases), case-insensitive."""
    wanted = name.strip().lower()
    for network in NETWORKS:
        if wanted == network.name or wanted in network.aliases:
            return network
    known = ", ".join(n.name for n in NETWORKS)
    raise UnknownNetwork(f"no network named {name!r}: choose one of {known}")


def network_of_chain(chain_id: int) -> Network | None:
    """The known network with this chain id, None for any other chain."""
    for network in NETWORKS:
        if network.chain_id == chain_id:
            return network
    return None


__all__ = ["DEV", "NETWORKS", "L1FeeModel", "Network", "UnknownNetwork", "network_named"]
