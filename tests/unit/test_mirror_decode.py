"""The mirror's log decoder: the same values web3's ABI machinery gives, and a clear refusal of
any log that does not have the shape its event promises."""

from __future__ import annotations

import os
import random
from typing import Any

import pytest
from eth_utils import to_checksum_address
from web3 import Web3

from ledger.chain.artifacts import event_topic, load_artifact
from ledger.chain.client import Deployment, PaymentToken
from ledger.mirror.events import EventDecoder, LogDecodeError, _checksummed

LEDGER = "0x" + "22" * 20
TOKEN = "0x" + "5f" * 20
TRANSFER = "0x" + event_topic(load_artifact("IERC20").abi, "Transfer").hex()
CREATED = "0x" + event_topic(load_artifact("LabelLedger").abi, "DatasetCreated").hex()


@pytest.fixture
def decoder() -> EventDecoder:
    deployment = Deployment(
        chain_id=31337,
        deployer=LEDGER,
        operator=LEDGER,
        guardian=LEDGER,
        deployment_block=1,
        ledger=LEDGER,
        timelock=0,
        payment_tokens=[PaymentToken(TOKEN, 1, seed_balances=False)],
    )
    return EventDecoder(deployment)


def word(value: int | str) -> str:
    if isinstance(value, str):
        return "0x" + value.lower().removeprefix("0x").rjust(64, "0")
    return "0x" + f"{value:064x}"


def raw_log(address: str, topics: list[str], data: str, **changes: Any) -> dict[str, Any]:
    log = {
        "address": address,
        "topics": topics,
        "data": data,
        "blockNumber": "0x10",
        "blockHash": "0x" + "ab" * 32,
        "transactionHash": "0x" + "cd" * 32,
        "logIndex": "0x3",
        "removed": False,
    }
    log.update(changes)
    return log


def test_transfers_decode_to_what_web3_decodes(decoder: EventDecoder) -> None:
    contract = Web3().eth.contract(abi=load_artifact("IERC20").abi)
    rng = random.Random(3)  # noqa: S311 (test values, not secrets)
    for _ in range(200):
        sender, recipient = "0x" + os.urandom(20).hex(), "0x" + os.urandom(20).hex()
        value = rng.randrange(2**256)
        log = raw_log(TOKEN, [TRANSFER, word(sender), word(recipient)], word(value)[2:])
        log["data"] = "0x" + log["data"]
        ours = decoder.decode(log)
        assert ours is not None
        theirs = contract.events.Transfer().process_log(
            {
                **log,
                "topics": [bytes.fromhex(t[2:]) for t in log["topics"]],
                "data": bytes.fromhex(log["data"][2:]),
                "blockNumber": 16,
                "logIndex": 3,
                "transactionIndex": 0,
                "blockHash": bytes.fromhex("ab" * 32),
                "transactionHash": bytes.fromhex("cd" * 32),
            }
        )
        assert ours.args == dict(theirs["args"])
        assert (ours.event, ours.block_number, ours.log_index) == ("Transfer", 16, 3)
        assert ours.address == to_checksum_address(TOKEN)


def test_checksums_match_eth_utils() -> None:
    for _ in range(2_000):
        address = "0x" + os.urandom(20).hex()
        assert _checksummed(address) == to_checksum_address(address)


def test_other_contracts_and_unfollowed_events_are_ignored(decoder: EventDecoder) -> None:
    look_alike = raw_log("0x" + "99" * 20, [TRANSFER, word(1), word(2)], word(5))
    assert decoder.decode(look_alike) is None
    approval = "0x" + event_topic(load_artifact("IERC20").abi, "Approval").hex()
    assert decoder.decode(raw_log(TOKEN, [approval, word(1), word(2)], word(5))) is None


@pytest.mark.parametrize(
    ("topics", "data", "message"),
    [
        ([TRANSFER, word(1)], word(5), "2 topics, expected 3"),
        ([TRANSFER, word(1), word(2)], word(5) + "00", "33 data bytes, expected 32"),
        ([TRANSFER, word(1), "0x" + "ff" * 32], word(5), "has high bytes set"),
    ],
)
def test_a_malformed_transfer_is_refused_with_its_transaction(
    decoder: EventDecoder, topics: list[str], data: str, message: str
) -> None:
    with pytest.raises(LogDecodeError, match=message) as refused:
        decoder.decode(raw_log(TOKEN, topics, data))
    assert "Transfer in tx 0x" + "cd" * 32 in str(refused.value)


def test_a_small_uint_that_does_not_fit_is_refused(decoder: EventDecoder) -> None:
    """DatasetCreated's feeBps is a uint16: a word above 65535 is not a real log of ours."""
    salt = "0x" + "01" * 32
    topics = [CREATED, word(7), word(LEDGER), word(1)]
    created = raw_log(LEDGER, topics, word(250) + salt[2:])
    decoded = decoder.decode(created)
    assert decoded is not None
    assert (decoded.args["feeBps"], decoded.args["salt"], decoded.args["token"]) == (250, salt, 1)

    with pytest.raises(LogDecodeError, match="65536 does not fit uint16"):
        decoder.decode(raw_log(LEDGER, topics, word(2**16) + salt[2:]))
