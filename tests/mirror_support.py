"""Checks of the mirror against the chain, at the block the mirror says it has applied.

`assert_mirror_matches_chain` reads the mirror's cursor (block number and hash) and asks the chain
for the same facts at that very block (eth_call with an EIP-1898 `{"blockHash", "requireCanonical"}`
block parameter), so a mirror that lags the head is still checked exactly, and a mirror whose
cursor sits on an orphaned block fails outright.
"""

from __future__ import annotations

from typing import Any

import requests
from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from sqlalchemy import select
from web3.contract.contract import ContractFunction

from ledger.kit.db import Database
from ledger.mirror import repository
from ledger.mirror.events import EventDecoder
from ledger.mirror.models import (
    ChainBlock,
    ChainDataset,
    ChainEpoch,
    ChainLog,
    ClaimedTotal,
    LedgerToken,
    MirrorCursor,
    TokenBalance,
    TokenSupply,
)
from tests.support import Chain

MIRROR_TABLES = (
    ChainBlock,
    ChainDataset,
    ChainEpoch,
    ChainLog,
    ClaimedTotal,
    LedgerToken,
    MirrorCursor,
    TokenBalance,
    TokenSupply,
)


def mirror_rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the mirror's state tables as sorted tuples (values as text): to prove
    that something changed nothing, or applied nothing twice."""
    with db.unit_of_work() as session:
        return {
            model.__tablename__: sorted(
                tuple(str(getattr(row, c.key)) for c in model.__table__.columns)
                for row in session.scalars(select(model))
            )
            for model in MIRROR_TABLES
        }


# ILabelLedger.DatasetStatus: None, Open, Closing, Closed
DATASET_STATUS = {1: "open", 2: "closing", 3: "closed"}


def mirror_cursor(db: Database, chain: Chain) -> tuple[int, str] | None:
    """The mirror's cursor as (block number, block hash), None before its first sync."""
    with db.unit_of_work() as session:
        status = repository.mirror_status(session, chain.deployment.chain_id)
    return None if status is None else (status.block_number, status.block_hash.lower())


def call_at(chain: Chain, call: ContractFunction, block_hash: str) -> Any:
    """`call` evaluated at the canonical block `block_hash` (EIP-1898); one value or a tuple."""
    data = call._encode_transaction_data()
    at = {"blockHash": block_hash, "requireCanonical": True}
    raw = chain.rpc("eth_call", {"to": call.address, "data": data}, at)
    types = [_abi_type(output) for output in call.abi.get("outputs", [])]
    values = abi_decode(types, bytes.fromhex(raw.removeprefix("0x")))
    return values[0] if len(values) == 1 else values


def _abi_type(output: Any) -> str:
    if output["type"].startswith("tuple"):
        inner = ",".join(_abi_type(component) for component in output["components"])
        return f"({inner}){output['type'][len('tuple') :]}"
    return str(output["type"])


def assert_mirror_matches_chain(
    db: Database, chain: Chain, *, accounts: set[str] | None = None
) -> tuple[int, str]:
    """Every mirrored fact equals the chain's at the mirror's cursor block; returns the cursor.

    Compared: each TokenBalance row, and the balance of every account in `accounts` (0 when the
    mirror has no row), against `balanceOf`; each token's supply against `totalSupply` (and the
    sum of its rows); each ChainDataset's buyer, token, status, available and debited against
    `dataset(id)`; each ClaimedTotal against `claimed(account, token)`. All differences are
    listed in the failure message.
    """
    cursor = mirror_cursor(db, chain)
    assert cursor is not None, "the mirror has no cursor: it never synced"
    number, block_hash = cursor
    canonical = chain.block_hash(number)
    assert canonical == block_hash, (
        f"the mirror's cursor is block {number} {block_hash}, which is not on the chain "
        f"(the chain's block {number} is {canonical})"
    )

    with db.unit_of_work() as session:
        balances = {(r.token, r.account): r.balance for r in session.scalars(select(TokenBalance))}
        supplies = {r.token: r.total_supply for r in session.scalars(select(TokenSupply))}
        datasets = {
            r.dataset_id: (r.buyer, r.token_index, r.status, r.available, r.debited)
            for r in session.scalars(select(ChainDataset))
        }
        claims = {
            (r.account, r.token_index): (r.payment, r.reward)
            for r in session.scalars(select(ClaimedTotal))
        }

    ledger = chain.ledger  # a new web3 contract object each time it is asked for
    tokens = {to_checksum_address(chain.deployment.ledger): ledger}
    for address in chain.deployment.payment_token_addresses:
        tokens[to_checksum_address(address)] = chain.contract("DevStablecoin", address)
    drift: list[str] = []
    for token_address, token in tokens.items():
        named = {(token_address, to_checksum_address(a)) for a in accounts or ()}
        for key in sorted(set(balances) | named):
            if key[0] != token_address:
                continue
            on_chain = call_at(chain, token.functions.balanceOf(key[1]), block_hash)
            if balances.get(key, 0) != on_chain:
                drift.append(f"balance {key}: mirror {balances.get(key)}, chain {on_chain}")
        supply = call_at(chain, token.functions.totalSupply(), block_hash)
        if supplies.get(token_address, 0) != supply:
            drift.append(
                f"supply {token_address}: mirror {supplies.get(token_address)}, chain {supply}"
            )
        summed = sum(b for (t, _), b in balances.items() if t == token_address)
        if summed != supply:
            drift.append(f"balances of {token_address} add up to {summed}, its supply is {supply}")
    for dataset_id, mirrored in sorted(datasets.items()):
        buyer, token_index, _, status, _, available, debited = call_at(
            chain, ledger.functions.dataset(int(dataset_id, 16)), block_hash
        )
        on_chain = (
            to_checksum_address(buyer),
            token_index,
            DATASET_STATUS.get(status, status),
            available,
            debited,
        )
        if mirrored != on_chain:
            drift.append(
                f"dataset {dataset_id} (buyer, token, status, available, debited): "
                f"mirror {mirrored}, chain {on_chain}"
            )
    for (account, token_index), mirrored_claim in sorted(claims.items()):
        claimed = tuple(call_at(chain, ledger.functions.claimed(account, token_index), block_hash))
        if mirrored_claim != claimed:
            drift.append(
                f"claimed ({account}, {token_index}): mirror {mirrored_claim}, chain {claimed}"
            )
    assert not drift, f"the mirror differs from the chain at block {number} {block_hash}:\n" + (
        "\n".join(drift)
    )
    return cursor


def followed_logs(chain: Chain, last_block: int) -> list[dict[str, Any]]:
    """The chain's logs that the mirror follows, from the deployment block to `last_block`."""
    decoder = EventDecoder(chain.deployment)
    query = {
        "address": decoder.addresses,
        "topics": [decoder.topics],
        "fromBlock": hex(chain.deployment.deployment_block),
        "toBlock": hex(last_block),
    }
    return [log for log in chain.rpc("eth_getLogs", query) if decoder.decode(log) is not None]


def canonical_hashes(chain: Chain, numbers: list[int]) -> dict[int, str | None]:
    """The chain's block hash at each of `numbers` (None above the head), in one batch."""
    body = [
        {"jsonrpc": "2.0", "id": n, "method": "eth_getBlockByNumber", "params": [hex(n), False]}
        for n in numbers
    ]
    answers = requests.post(chain.client.rpc_url, json=body, timeout=60).json() if body else []
    return {a["id"]: None if a["result"] is None else a["result"]["hash"] for a in answers}


def assert_logs_match_chain(db: Database, chain: Chain) -> None:
    """The mirror stored each followed log from the deployment block to its cursor exactly once,
    and no log of a block that is no longer on the chain; every block it recorded is the
    chain's block at that height."""
    cursor = mirror_cursor(db, chain)
    assert cursor is not None, "the mirror has no cursor: it never synced"
    on_chain = {
        (log["blockHash"].lower(), int(log["logIndex"], 16))
        for log in followed_logs(chain, cursor[0])
    }
    with db.unit_of_work() as session:
        blocks = {
            row.number: row.hash.lower()
            for row in session.scalars(
                select(ChainBlock).where(ChainBlock.chain_id == chain.deployment.chain_id)
            )
        }
        stored = [
            (row.block_hash.lower(), row.log_index)
            for row in session.scalars(
                select(ChainLog).where(ChainLog.chain_id == chain.deployment.chain_id)
            )
        ]
    duplicates = sorted(key for key in set(stored) if stored.count(key) > 1)
    missing, stale = sorted(on_chain - set(stored)), sorted(set(stored) - on_chain)
    differences: dict[str, list[Any]] = {
        "missing": missing,
        "not on the chain": stale,
        "stored twice": duplicates,
    }
    canonical = canonical_hashes(chain, sorted(blocks))
    differences["blocks not on the chain"] = sorted(
        (number, block_hash)
        for number, block_hash in blocks.items()
        if canonical[number] != block_hash
    )
    shown = {what: keys[:20] for what, keys in differences.items() if keys}
    assert not shown, (
        f"the mirror's logs up to block {cursor[0]} differ from the chain's "
        f"({len(stored)} stored, {len(on_chain)} on chain): {shown}"
    )
