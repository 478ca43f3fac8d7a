"""Gas fees on a real Anvil of the test's own: EIP-1559 fees under the cap, the clear refusal
above it, and a stuck transaction replaced (same nonce, fees +12.5%) by `send_until_mined`,
whose stored bytes are what was broadcast and which never makes a third transaction when called
again after a crash."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from web3.types import RPCEndpoint

from ledger.chain.client import (
    ChainClient,
    StaleTransaction,
    account_from_key,
    decode_transaction,
)
from ledger.chain.devnode import DEV_KEYS, Anvil
from ledger.chain.fees import GWEI, GasPriceAboveCap, bumped

OPERATOR = account_from_key(DEV_KEYS[0])
HOLDER = account_from_key(DEV_KEYS[1]).address


@pytest.fixture
def node() -> Iterator[Anvil]:
    """An Anvil of this test alone: the tests change its base fee and its mining."""
    with Anvil() as anvil:
        yield anvil


def rpc(client: ChainClient, method: str, *params: Any) -> Any:
    response = client.w3.provider.make_request(RPCEndpoint(method), list(params))
    assert "error" not in response, response
    return response["result"]


def dusd(client: ChainClient) -> Any:
    address = client.deploy("DevStablecoin", OPERATOR, nonce=0)
    return client.contract("DevStablecoin", address)


def nonce_used(client: ChainClient) -> int:
    return int(client.w3.eth.get_transaction_count(OPERATOR.address, "latest"))


def test_sign_offers_twice_the_base_fee_plus_tip_as_type_2(node: Anvil) -> None:
    client = ChainClient(node.rpc_url)
    token = dusd(client)
    raw = client.sign(token.functions.mint(HOLDER, 5), OPERATOR)
    fields = decode_transaction(raw)
    base = int(client.w3.eth.get_block("pending")["baseFeePerGas"])
    tip = int(client.w3.eth.max_priority_fee)
    assert fields["type"] == 2
    assert fields["maxPriorityFeePerGas"] == tip
    assert fields["maxFeePerGas"] == 2 * base + tip
    receipt = client.wait(client.broadcast(raw))
    assert receipt["status"] == 1
    assert token.functions.balanceOf(HOLDER).call() == 5


def test_the_cap_is_never_exceeded_and_a_base_fee_above_it_is_refused_clearly(
    node: Anvil,
) -> None:
    client = ChainClient(node.rpc_url, max_fee_per_gas_gwei=5)
    token = dusd(client)
    # base 3 gwei: 2 x 3 + tip is above the 5 gwei cap, so the offer is the cap itself
    rpc(client, "anvil_setNextBlockBaseFeePerGas", hex(3 * GWEI))
    fields = decode_transaction(client.sign(token.functions.mint(HOLDER, 1), OPERATOR))
    assert fields["maxFeePerGas"] == 5 * GWEI
    assert fields["maxPriorityFeePerGas"] <= 5 * GWEI
    # base 6 gwei, above the cap: nothing is signed, and the message says what to do
    rpc(client, "anvil_setNextBlockBaseFeePerGas", hex(6 * GWEI))
    before = int(client.w3.eth.get_transaction_count(OPERATOR.address, "pending"))
    with pytest.raises(GasPriceAboveCap) as refused:
        client.sign(token.functions.mint(HOLDER, 1), OPERATOR)
    assert refused.value.code == "gas_price_above_cap"
    assert refused.value.status_code == 409
    message = refused.value.message
    for said in ("6 gwei", "5 gwei", "LABEL_LEDGER_MAX_FEE_PER_GAS_GWEI", "nothing was signed"):
        assert said in message
    assert int(client.w3.eth.get_transaction_count(OPERATOR.address, "pending")) == before


def test_a_replacement_bumps_both_fees_by_an_eighth_and_keeps_the_rest(node: Anvil) -> None:
    client = ChainClient(node.rpc_url)
    token = dusd(client)
    raw = client.sign(token.functions.mint(HOLDER, 7), OPERATOR)
    again = client.replace(raw, OPERATOR)
    old, new = decode_transaction(raw), decode_transaction(again)
    for same in ("nonce", "to", "data", "value", "gas", "chainId", "type"):
        assert new[same] == old[same], same
    assert new["maxFeePerGas"] >= bumped(old["maxFeePerGas"]) > old["maxFeePerGas"]
    assert new["maxPriorityFeePerGas"] >= bumped(old["maxPriorityFeePerGas"])
    # a cap the bump would pass: refused, nothing signed
    capped = ChainClient(node.rpc_url, max_fee_per_gas_gwei=old["maxFeePerGas"] / GWEI)
    with pytest.raises(GasPriceAboveCap, match=r"12\.5% above the stuck one"):
        capped.replace(raw, OPERATOR)
    # another key may not replace it
    with pytest.raises(ValueError, match="not from the signer"):
        client.replace(raw, account_from_key(DEV_KEYS[1]))


def _make_stuck(client: ChainClient, raw: bytes) -> None:
    """Broadcasts `raw` with automine off, then makes the next blocks' base fee far above what
    it offers and mines one: it stays in the pool, unmined."""
    rpc(client, "evm_setAutomine", False)
    client.broadcast(raw)
    offered = decode_transaction(raw)["maxFeePerGas"]
    rpc(client, "anvil_setNextBlockBaseFeePerGas", hex(offered * 20))
    rpc(client, "evm_mine")
    assert client.receipt(client.tx_hash_of(raw)) is None
    assert int(client.w3.eth.get_block("pending")["baseFeePerGas"]) > offered


def test_a_stuck_transaction_is_replaced_stored_first_and_mined_once(node: Anvil) -> None:
    client = ChainClient(node.rpc_url, max_fee_per_gas_gwei=10_000)
    token = dusd(client)
    nonce = nonce_used(client)
    raw = client.sign(token.functions.mint(HOLDER, 11), OPERATOR)
    _make_stuck(client, raw)
    rpc(client, "evm_setIntervalMining", 1)

    stored: list[bytes] = []
    unknown_to_node: list[bool] = []

    def store(new_raw: bytes) -> None:
        # called before the broadcast: the node must not know the replacement yet
        response = client.w3.provider.make_request(
            RPCEndpoint("eth_getTransactionByHash"), [client.tx_hash_of(new_raw)]
        )
        unknown_to_node.append(response.get("result") is None)
        stored.append(new_raw)

    receipt = client.send_until_mined(raw, OPERATOR, store=store, stuck_after=1.5, timeout=60)
    assert receipt["status"] == 1
    assert len(stored) >= 1
    mined_hash = "0x" + bytes(receipt["transactionHash"]).hex()
    # the mined transaction is the last stored version, byte for byte
    assert mined_hash == client.tx_hash_of(stored[-1])
    assert bytes(client.w3.eth.get_raw_transaction(mined_hash)) == stored[-1]
    assert mined_hash != client.tx_hash_of(raw)
    assert client.receipt(client.tx_hash_of(raw)) is None
    assert unknown_to_node
    assert all(unknown_to_node)
    fields = decode_transaction(stored[-1])
    assert fields["nonce"] == nonce
    assert nonce_used(client) == nonce + 1  # the nonce is used once
    assert token.functions.balanceOf(HOLDER).call() == 11  # paid once

    # called again with the stored bytes (a restart): the same receipt, nothing new sent
    again = client.send_until_mined(
        stored[-1], OPERATOR, store=stored.append, stuck_after=1.5, timeout=30
    )
    assert again["transactionHash"] == receipt["transactionHash"]
    # and with the original bytes (a restart that stored nothing): the mined version is found
    # by its nonce, nothing new sent
    first = client.send_until_mined(raw, OPERATOR, store=stored.append, stuck_after=1.5, timeout=30)
    assert first["transactionHash"] == receipt["transactionHash"]
    assert nonce_used(client) == nonce + 1
    assert token.functions.balanceOf(HOLDER).call() == 11


class Crash(Exception):
    pass


def test_a_crash_after_storing_resends_the_stored_bytes_and_no_third_transaction(
    node: Anvil,
) -> None:
    client = ChainClient(node.rpc_url, max_fee_per_gas_gwei=10_000)
    token = dusd(client)
    nonce = nonce_used(client)
    raw = client.sign(token.functions.mint(HOLDER, 13), OPERATOR)
    _make_stuck(client, raw)

    database: list[bytes] = []

    def store_then_crash(new_raw: bytes) -> None:
        database.append(new_raw)  # committed...
        raise Crash("the process died before broadcasting")  # ...and then the process died

    with pytest.raises(Crash):
        client.send_until_mined(raw, OPERATOR, store=store_then_crash, stuck_after=0.5, timeout=30)
    assert len(database) == 1
    replacement = database[0]
    assert client.receipt(client.tx_hash_of(replacement)) is None  # never broadcast

    # the restart sends what was stored; blocks come every second from now on
    rpc(client, "evm_setIntervalMining", 1)
    versions: list[bytes] = []
    receipt = client.send_until_mined(
        replacement, OPERATOR, store=versions.append, stuck_after=30, timeout=60
    )
    assert "0x" + bytes(receipt["transactionHash"]).hex() == client.tx_hash_of(replacement)
    assert versions == []  # no third version was made
    assert nonce_used(client) == nonce + 1
    assert token.functions.balanceOf(HOLDER).call() == 13


def test_a_nonce_taken_by_another_transaction_is_stale(node: Anvil) -> None:
    client = ChainClient(node.rpc_url)
    token = dusd(client)
    nonce = nonce_used(client)
    ours = client.sign(token.functions.mint(HOLDER, 1), OPERATOR, nonce=nonce)
    other = client.sign(token.functions.mint(HOLDER, 2), OPERATOR, nonce=nonce)
    client.wait(client.broadcast(other))
    with pytest.raises(StaleTransaction, match="other than this one"):
        client.send_until_mined(ours, OPERATOR, store=lambda _: None, stuck_after=1, timeout=10)


def test_send_until_mined_runs_beside_other_threads(node: Anvil) -> None:
    """A plain case: mined at once with automine on, no replacement, nothing stored."""
    client = ChainClient(node.rpc_url)
    token = dusd(client)
    stored: list[bytes] = []
    results: list[int] = []
    raw = client.sign(token.functions.mint(HOLDER, 3), OPERATOR)
    worker = threading.Thread(
        target=lambda: results.append(
            client.send_until_mined(raw, OPERATOR, store=stored.append, stuck_after=5, timeout=20)[
                "status"
            ]
        )
    )
    worker.start()
    worker.join(timeout=30)
    assert results == [1]
    assert stored == []
