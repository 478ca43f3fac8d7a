"""The L1 data fee estimate (ledger/chain/l1fee.py): FastLZ sizes against the reference
vectors op-geth's and maili's tests check against Solady's on-chain LibZip, the Fjord formula
against the protocol's own upper bound, Arbitrum's per-byte pricing, and the claim bundle's
computed fields."""

from __future__ import annotations

import os
import zlib

import pytest

from ledger.chain import l1fee
from ledger.chain.networks import network_named
from ledger.claim.schemas import ClaimBundle

# Reference vectors (input, FastLZ length): op-geth core/types/rollup_cost_test.go and
# op-rs/maili crates/flz, both checked there against LibZip.flzCompress run in the EVM.
SAMPLE_CALL = bytes.fromhex(
    "02f901550a758302df1483be21b88304743f94f80e51afb613d764fa61751affd3313c190a86bb870151bd62"
    "fd12adb8e41ef24f3f000000000000000000000000000000000000000000000000000000000000006e000000"
    "000000000000000000af88d065e77c8cc2239327c5edb3a432268e5831000000000000000000000000000000"
    "000000000000000000000000000003c1e50000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000000000000000000000a0000000000"
    "00000000000000000000000000000000000000000000000000000148c89ed219d02f1a5be012c689b4f5b731"
    "827bebe000000000000000000000000c001a033fd89cb37c31b2cba46b6466e040c61fc9b2a3675a7f5f493eb"
    "d5ad77c497f8a07cdf65680e238392693019b4092f610222e71b7cec06449cb922b93b6a12744e"
)
VECTORS = [
    (b"", 0),
    (bytes(1000), 21),
    (bytes([42]) * 1000, 21),
    (bytes.fromhex("FACADE"), 4),
    (SAMPLE_CALL, 202),
]


@pytest.mark.parametrize(("data", "length"), VECTORS)
def test_fastlz_length_matches_the_reference(data: bytes, length: int) -> None:
    assert l1fee.flz_compress_len(data) == length


def test_fastlz_length_grows_with_data_that_never_repeats() -> None:
    data = b""
    previous = 0
    for byte in range(256):
        data += bytes([byte])
        current = l1fee.flz_compress_len(data)
        assert current > previous
        previous = current


def upper_bound_fee(unsigned_size: int, prices: l1fee.L1Prices) -> int:
    """GasPriceOracle.getL1FeeUpperBound (OP specs, Fjord predeploys): FastLZ's worst case."""
    size = unsigned_size + 68
    flz = size + size // 255 + 16
    estimated = max(
        l1fee.FJORD_MIN_TX_SIZE * 10**6, l1fee.FJORD_INTERCEPT + l1fee.FJORD_FASTLZ_COEF * flz
    )
    scaled = (
        prices.base_fee_scalar * prices.l1_base_fee * 16
        + prices.blob_base_fee_scalar * prices.blob_base_fee
    )
    return estimated * scaled // 10**12


@pytest.mark.parametrize("network", ["base", "optimism", "base-sepolia", "op-sepolia"])
def test_op_stack_fee_is_within_the_protocols_upper_bound_and_grows_with_entropy(
    network: str,
) -> None:
    prices = l1fee.ASSUMPTIONS[network]
    to = "0x" + "ab" * 20
    zeros = l1fee.estimate(network_named(network), to, bytes(4) + bytes(800))
    noise = l1fee.estimate(network_named(network), to, bytes(4) + os.urandom(800))
    assert zeros is not None
    assert noise is not None
    for found in (zeros, noise):
        assert found.model == "op-stack"
        assert 0 < found.fee_wei <= upper_bound_fee(found.tx_bytes - 67, prices)
        assert network in found.assumptions or "Fjord" in found.assumptions
    # zero bytes compress; random ones do not, and cost more
    assert zeros.compressed_bytes < noise.compressed_bytes
    assert zeros.fee_wei < noise.fee_wei
    # a tiny transaction pays the protocol's minimum size
    tiny, _ = l1fee.op_stack_l1_fee(b"\x01" * 10, prices)
    scaled = prices.base_fee_scalar * prices.l1_base_fee * 16
    scaled += prices.blob_base_fee_scalar * prices.blob_base_fee
    assert tiny == l1fee.FJORD_MIN_TX_SIZE * 10**6 * scaled // 10**12


@pytest.mark.parametrize("network", ["arbitrum-one", "arbitrum-sepolia"])
def test_arbitrum_fee_is_sixteen_units_per_compressed_byte(network: str) -> None:
    prices = l1fee.ASSUMPTIONS[network]
    data = bytes(4) + bytes(400) + os.urandom(200)
    found = l1fee.estimate(network_named(network), "0x" + "cd" * 20, data)
    assert found is not None
    signed = l1fee.sample_signed_tx("0x" + "cd" * 20, data, network_named(network).chain_id)
    assert found.tx_bytes == len(signed)
    assert found.compressed_bytes == len(zlib.compress(signed, 6)) < len(signed)
    assert found.fee_wei == prices.arbitrum_price_per_unit * 16 * found.compressed_bytes


def test_the_dev_chain_has_no_l1_fee() -> None:
    assert l1fee.estimate(network_named("dev"), "0x" + "ab" * 20, b"\x00" * 100) is None


def bundle(chain_id: int, data: str) -> ClaimBundle:
    ledger = "0x" + "22" * 20
    return ClaimBundle(
        account="0x" + "11" * 20,
        epoch=1,
        root="0x" + "00" * 32,
        ledger=ledger,
        chain_id=chain_id,
        entitlements=[],
        label_root="0x" + "00" * 32,
        labels=[],
        to=ledger,
        data=data,
        pending=None,
    )


def test_the_claim_bundle_states_its_calldata_and_l1_fee_on_an_l2() -> None:
    data = "0x" + os.urandom(4).hex() + "00" * 200 + os.urandom(300).hex()
    on_dev = bundle(31337, data).model_dump(mode="json")
    assert on_dev["calldata_bytes"] == 504
    assert on_dev["l1_data_fee"] is None
    on_base = bundle(8453, data).model_dump(mode="json")
    assert on_base["calldata_bytes"] == 504
    fee = on_base["l1_data_fee"]
    expected = l1fee.estimate(network_named("base"), "0x" + "22" * 20, data)
    assert expected is not None
    assert fee["fee_wei"] == expected.fee_wei > 0
    assert (fee["network"], fee["model"]) == ("base", "op-stack")
    assert "assumed" in fee["assumptions"]
    on_arbitrum = bundle(42161, data).model_dump(mode="json")
    assert on_arbitrum["l1_data_fee"]["model"] == "arbitrum"
    # a bundle read back from its JSON (a saved bundle) keeps the same figures
    assert ClaimBundle.model_validate(on_base).model_dump(mode="json") == on_base
    # the API documents both fields
    schema = ClaimBundle.model_json_schema(mode="serialization")
    assert {"calldata_bytes", "l1_data_fee"} <= set(schema["properties"])
