"""What an annotator's claim costs on an L2 beyond its gas: the L1 data fee.

On a rollup the L2 gas of a claim is cheap; most of what the sender pays is the rollup posting
the transaction's bytes to L1. Both models price the *compressed* signed transaction:

OP stack (Base, OP Mainnet and their Sepolias), since Fjord (op-geth `core/types/rollup_cost.go`,
the OP specs "Fjord L1-Cost fee changes (FastLZ estimator)"):

    size   = max(MIN_TX_SIZE * 1e6, INTERCEPT + FASTLZ_COEF * flz_compress_len(signed tx))
    fee    = size * (base_fee_scalar * l1_base_fee * 16 + blob_base_fee_scalar * blob_base_fee)
             / 1e12
    INTERCEPT = -42_585_600, FASTLZ_COEF = 836_500, MIN_TX_SIZE = 100 (hard-coded in the
    protocol); the two scalars have 6 decimals and are each chain's own (set by its operator,
    readable from the GasPriceOracle predeploy 0x420000000000000000000000000000000000000F).

Arbitrum (Nitro, ArbOS L1 pricing): the poster fee is `l1_price_per_unit * 16 * compressed
size`, the size being the brotli-compressed signed transaction; the price per unit follows
what the batch poster paid on L1 (ArbGasInfo at 0x6c, `getL1BaseFeeEstimate`). Brotli is not
in Python's standard library: we compress with zlib (DEFLATE) as a stand-in, which on ABI
calldata (runs of zero bytes, hashes that do not compress) comes within a few bytes of it.

Assumed prices (`ASSUMPTIONS`, stated in every estimate): an L1 base fee of 5 gwei and an L1
blob base fee of 1 gwei; the scalars below as last published for each chain (Base: 2269 /
1055762, OP Mainnet: 5227 / 1014213; their Sepolias are assumed to match); Arbitrum's price per
unit is the blob base fee / 16 (its batches are blobs, one blob gas per byte). The live figures
move with L1 and the chains' settings, so the estimate is an order of magnitude for comparing
`claim` with `claimMany`, not a quote.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from ledger.chain.networks import Network

GWEI = 10**9

# OP stack Fjord constants (protocol constants, op-geth rollup_cost.go)
FJORD_INTERCEPT = -42_585_600
FJORD_FASTLZ_COEF = 836_500
FJORD_MIN_TX_SIZE = 100


@dataclass(frozen=True)
class L1Prices:
    """The figures an L1 data fee depends on besides the transaction."""

    l1_base_fee: int = 5 * GWEI
    blob_base_fee: int = 1 * GWEI
    base_fee_scalar: int = 0  # OP stack, 6 decimals
    blob_base_fee_scalar: int = 0
    # ArbOS L1 price per unit (16 units per compressed byte). Batches go to L1 in blobs (ArbOS
    # 20 on), one blob gas per byte, and the price follows what the poster paid: about the
    # blob base fee / 16 per unit.
    arbitrum_price_per_unit: int = 1 * GWEI // 16

    def describe(self, model: str) -> str:
        if model == "op-stack":
            return (
                f"L1 base fee {self.l1_base_fee / GWEI:g} gwei, blob base fee "
                f"{self.blob_base_fee / GWEI:g} gwei, baseFeeScalar {self.base_fee_scalar}, "
                f"blobBaseFeeScalar {self.blob_base_fee_scalar} (assumed; Fjord formula)"
            )
        return (
            f"L1 price per unit {self.arbitrum_price_per_unit / GWEI:g} gwei (a 1 gwei blob "
            "base fee / 16), 16 units per compressed byte (assumed; zlib standing in for brotli)"
        )


ASSUMPTIONS: dict[str, L1Prices] = {
    "base": L1Prices(base_fee_scalar=2269, blob_base_fee_scalar=1_055_762),
    "base-sepolia": L1Prices(base_fee_scalar=2269, blob_base_fee_scalar=1_055_762),
    "optimism": L1Prices(base_fee_scalar=5227, blob_base_fee_scalar=1_014_213),
    "op-sepolia": L1Prices(base_fee_scalar=5227, blob_base_fee_scalar=1_014_213),
    "arbitrum-one": L1Prices(),
    "arbitrum-sepolia": L1Prices(),
}


def flz_compress_len(data: bytes) -> int:
    """The length of `data` compressed by FastLZ level 1 as the OP stack counts it (op-geth's
    FlzCompressLen, Solady's LibZip.flzCompress): hash table of 8192 entries, matches of 3+
    bytes within 8192 bytes back, literal runs of up to 32 bytes."""

    def u24(i: int) -> int:
        return data[i] | (data[i + 1] << 8) | (data[i + 2] << 16)

    def slot(value: int) -> int:
        return ((value * 2654435769) >> 19) & 0x1FFF

    def literals(count: int, size: int) -> int:
        size += 0x21 * (count // 0x20)
        rest = count % 0x20
        return size + rest + 1 if rest else size

    def match(length: int, size: int) -> int:
        length -= 1
        size += 3 * (length // 262)
        return size + 3 if length % 262 >= 6 else size + 2

    n = len(data)
    limit = n - 13 if n >= 13 else 0
    table = [0] * 8192
    index, anchor, size = 2, 0, 0
    while index < limit:
        while True:
            sequence = u24(index)
            h = slot(sequence)
            reference = table[h]
            table[h] = index
            distance = index - reference
            if index >= limit:
                break
            index += 1
            if distance < 8192 and sequence == u24(reference):
                break
        if index >= limit:
            break
        index -= 1
        if index > anchor:
            size = literals(index - anchor, size)
        # the match's length: bytes equal from reference+3 / index+3 up to limit + 9
        p, q, end = reference + 3, index + 3, limit + 9
        length = 0
        span = end - q
        while length < span:
            if data[p + length] != data[q + length]:
                span = 0  # op-geth stops after the first difference, having counted it
            length += 1
        size = match(length, size)
        index += length
        table[slot(u24(index))] = index
        index += 1
        table[slot(u24(index))] = index
        index += 1
        anchor = index
    return literals(n - anchor, size)


def op_stack_l1_fee(signed_tx: bytes, prices: L1Prices) -> tuple[int, int]:
    """(fee in wei, FastLZ size) of `signed_tx` under the Fjord formula."""
    compressed = flz_compress_len(signed_tx)
    size = max(FJORD_MIN_TX_SIZE * 10**6, FJORD_INTERCEPT + FJORD_FASTLZ_COEF * compressed)
    scaled = (
        prices.base_fee_scalar * prices.l1_base_fee * 16
        + prices.blob_base_fee_scalar * prices.blob_base_fee
    )
    return size * scaled // 10**12, compressed


def arbitrum_l1_fee(signed_tx: bytes, prices: L1Prices) -> tuple[int, int]:
    """(fee in wei, compressed size) of `signed_tx` under ArbOS L1 pricing."""
    compressed = len(zlib.compress(signed_tx, 6))
    return prices.arbitrum_price_per_unit * 16 * compressed, compressed


# A throwaway key: the estimate signs a representative transaction so the envelope (nonce,
# fees, gas, signature) is counted as the rollup counts it. It never holds anything.
_SAMPLE_SIGNER = cast(LocalAccount, Account.from_key("0x" + "11" * 32))


def sample_signed_tx(to: str, data: bytes | str, chain_id: int) -> bytes:
    """`data` sent to `to` as a typical type-2 transaction of an annotator's, signed."""
    payload = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else data
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": chain_id,
        "nonce": 7,
        "maxPriorityFeePerGas": 1_000_000,  # 0.001 gwei
        "maxFeePerGas": 20_000_000,
        "gas": 150_000,
        "to": to_checksum_address(to),
        "value": 0,
        "data": payload,
    }
    return bytes(_SAMPLE_SIGNER.sign_transaction(tx).raw_transaction)


@dataclass(frozen=True)
class L1FeeEstimate:
    network: str
    model: str
    tx_bytes: int  # the signed transaction
    compressed_bytes: int
    fee_wei: int
    assumptions: str


def estimate(
    network: Network, to: str, data: bytes | str, prices: L1Prices | None = None
) -> L1FeeEstimate | None:
    """The L1 data fee of sending `data` to `to` on `network`; None when it has no L1 fee."""
    if not network.is_l2:
        return None
    prices = prices or ASSUMPTIONS[network.name]
    signed = sample_signed_tx(to, data, network.chain_id)
    if network.l1_fee_model == "op-stack":
        fee, compressed = op_stack_l1_fee(signed, prices)
    else:
        fee, compressed = arbitrum_l1_fee(signed, prices)
    return L1FeeEstimate(
        network=network.name,
        model=network.l1_fee_model,
        tx_bytes=len(signed),
        compressed_bytes=compressed,
        fee_wei=fee,
        assumptions=prices.describe(network.l1_fee_model),
    )


def calldata_bytes(data: bytes | str) -> int:
    payload = data.removeprefix("0x") if isinstance(data, str) else data.hex()
    return len(payload) // 2


__all__ = [
    "ASSUMPTIONS",
    "L1FeeEstimate",
    "L1Prices",
    "arbitrum_l1_fee",
    "calldata_bytes",
    "estimate",
    "flz_compress_len",
    "op_stack_l1_fee",
    "sample_signed_tx",
]


def _report(request: dict[str, Any]) -> dict[str, Any]:
    """For scripts/gas-report.js: each named list of transactions `{to, data}` measured on
    each of `networks`: calldata bytes, signed and compressed sizes, and L1 data fees, summed
    over the list."""
    from ledger.chain.networks import network_named  # noqa: PLC0415 (the script's entry only)

    networks = [network_named(name) for name in request["networks"]]
    out: dict[str, Any] = {
        "assumptions": {
            n.name: ASSUMPTIONS[n.name].describe(n.l1_fee_model) for n in networks if n.is_l2
        },
        "calls": {},
    }
    for key, txs in request["calls"].items():
        row: dict[str, Any] = {
            "calldataBytes": sum(calldata_bytes(tx["data"]) for tx in txs),
            "networks": {},
        }
        for network in networks:
            found = [estimate(network, tx["to"], tx["data"]) for tx in txs]
            shown = [f for f in found if f is not None]
            row["networks"][network.name] = {
                "txBytes": sum(f.tx_bytes for f in shown),
                "compressedBytes": sum(f.compressed_bytes for f in shown),
                "feeWei": str(sum(f.fee_wei for f in shown)),
            }
        out["calls"][key] = row
    return out


if __name__ == "__main__":
    import json
    import sys

    json.dump(_report(json.load(sys.stdin)), sys.stdout, indent=1, sort_keys=True)
