"""The chain mirror against a real Anvil, the real compiled contracts and a real database.

One Anvil and one deployment serve the whole module; each test runs between an evm_snapshot and
an evm_revert, on a database of its own (a SQLite file, or a fresh PostgreSQL schema).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from web3.contract import Contract

from ledger.chain.client import ChainClient
from ledger.chain.deploy import deploy_all
from ledger.chain.devnode import free_port
from ledger.kit.db import Database
from ledger.kit.errors import ChainUnavailable
from ledger.merkle import StandardMerkleTree
from ledger.mirror import reconcile as reconcile_module
from ledger.mirror import repository
from ledger.mirror.models import (
    ChainBlock,
    ChainLog,
    Reconciliation,
    TokenBalance,
    TokenSupply,
)
from ledger.mirror.service import Mirror, MirrorReorgTooDeep
from tests.mirror_support import mirror_rows
from tests.support import Chain

pytestmark = pytest.mark.chain

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def make_mirror(db: Database, chain: Chain, **options: Any) -> Mirror:
    return Mirror(db, chain.client, chain.deployment, **options)


def assert_balances_match_chain(db: Database, token: Contract, accounts: set[str]) -> None:
    """Every mirrored balance of `token`, and every account named, equals balanceOf on chain."""
    with db.unit_of_work() as session:
        rows = session.scalars(select(TokenBalance).where(TokenBalance.token == token.address))
        mirrored = {row.account: row.balance for row in rows}
        supply = repository.total_supply(session, token.address)
    assert set(accounts) <= set(mirrored)
    for account, balance in mirrored.items():
        assert balance == token.functions.balanceOf(account).call(), account
    assert supply == token.functions.totalSupply().call()
    assert sum(mirrored.values()) == supply


def recipient(n: int) -> str:
    return to_checksum_address(keccak(text=f"mirror-test-recipient-{n}")[:20])


# --- the tests ---


def test_sync_once_mirrors_a_funded_dataset(chain: Chain, db: Database) -> None:
    dataset_id = chain.fund_dataset(b"\x01" * 32, 250_000)
    mirror = make_mirror(db, chain)

    # the deployment's TokenListed, the mint's Transfer, DatasetCreated, the deposit's Transfer,
    # DatasetFunded (role events and Approval are not followed)
    assert mirror.sync_once() == 5

    buyer, token, fee_bps, status, _, available, debited = chain.dataset(dataset_id)
    head_number, head_hash = chain.head()
    with db.unit_of_work() as session:
        record = repository.get_chain_dataset(session, dataset_id)
        assert record is not None
        assert (record.buyer, record.token_index, record.fee_bps) == (buyer, token, fee_bps)
        assert (record.status, status) == ("open", 1)
        assert (record.token, record.salt) == (chain.dusd.address, "0x" + "01" * 32)
        assert (record.available, record.debited) == (available, debited)
        assert (record.funded, record.refunded, record.fees) == (250_000, 0, 0)
        assert repository.get_balance(session, chain.dusd.address, chain.buyer.address) == 0
        assert repository.balances(session, chain.deployment.ledger.lower()) == {
            chain.dusd.address: 250_000
        }
        status_row = repository.mirror_status(session, chain.deployment.chain_id)
        assert status_row is not None
        assert (status_row.block_number, status_row.block_hash) == (head_number, head_hash)
    assert_balances_match_chain(db, chain.dusd, {chain.buyer.address, chain.deployment.ledger})

    assert mirror.sync_once() == 0


def test_sync_once_over_an_applied_range_applies_nothing_twice(chain: Chain, db: Database) -> None:
    chain.fund_dataset(b"\x02" * 32, 1_000)
    chain.send(chain.dusd.functions.mint(chain.operator.address, 77), chain.operator)
    chain.send(chain.dusd.functions.transfer(recipient(1), 7), chain.operator)
    mirror = make_mirror(db, chain, max_block_range=2)
    assert mirror.sync_once() == 7
    before = mirror_rows(db)

    # back to before the deployment, and then to halfway, each time with the block's true hash
    start = chain.deployment.deployment_block - 1
    middle = (start + chain.head()[0]) // 2
    for cursor in (start, middle):
        with db.unit_of_work() as session:
            repository.move_cursor(
                session, chain.deployment.chain_id, cursor, chain.block_hash(cursor)
            )
        assert mirror.sync_once() == 0
        assert mirror_rows(db) == before


def test_sync_in_small_chunks_matches_balance_of_for_every_address(
    chain: Chain, db: Database
) -> None:
    dusd, operator, buyer = chain.dusd, chain.operator, chain.buyer
    chain.send(dusd.functions.mint(operator.address, 10_000), operator)
    chain.send(dusd.functions.mint(buyer.address, 10_000), buyer)
    mirror = make_mirror(db, chain, max_block_range=3)
    accounts = {operator.address, buyer.address}

    for n in range(16):
        sender = operator if n % 2 else buyer
        to = recipient(n % 5) if n % 3 else (buyer.address if n % 2 else operator.address)
        accounts.add(to)
        chain.send(dusd.functions.transfer(to, 100 + n), sender)
        if n == 7:  # a sync mid-way: the mirror picks up where its cursor stopped
            assert mirror.sync_once() == 1 + 2 + 8  # TokenListed, two mints, eight transfers

    assert mirror.sync_once() == 8
    assert_balances_match_chain(db, dusd, accounts)
    with db.unit_of_work() as session:
        blocks = session.scalars(select(ChainBlock).order_by(ChainBlock.number)).all()
        status = repository.mirror_status(session, chain.deployment.chain_id)
    assert status is not None
    assert status.block_number == chain.head()[0]
    # consecutive recorded blocks link up: each one's parent is the one before it
    by_number = {block.number: block for block in blocks}
    for block in blocks:
        parent = by_number.get(block.number - 1)
        if parent is not None:
            assert block.parent_hash == parent.hash


def payout_tree(annotator: str, index: int, payment: int, reward: int) -> StandardMerkleTree:
    # a second leaf, so the tree has a real proof
    other = recipient(43)
    return StandardMerkleTree.of(
        [[annotator, index, payment, reward], [other, index, 1, 1]],
        ["address", "uint16", "uint256", "uint256"],
    )


def test_epoch_proposal_acceptance_claim_and_close_are_mirrored(chain: Chain, db: Database) -> None:
    dataset_id = chain.fund_dataset(b"\x03" * 32, 1_000)
    annotator, index = recipient(42), chain.dusd_index
    tree = payout_tree(annotator, index, 600, 50)
    ledger, operator = chain.ledger, chain.operator
    label_root, content_hash = HexBytes(b"\x0a" * 32), HexBytes(b"\x0b" * 32)
    chain.send(
        ledger.functions.proposeEpoch(
            1, HexBytes(tree.root), label_root, content_hash, [int(dataset_id, 16)], [600]
        ),
        operator,
    )
    chain.send(ledger.functions.acceptEpoch(), operator)
    proof = [HexBytes(node) for node in tree.get_proof(0)]
    chain.send(ledger.functions.claim(annotator, index, 600, 50, proof), operator)
    chain.send(ledger.functions.requestClose(int(dataset_id, 16)), chain.buyer)
    chain.warp_to(chain.now() + 7 * 24 * 3600)
    chain.send(ledger.functions.finalizeClose(int(dataset_id, 16)), chain.buyer)

    make_mirror(db, chain).sync_once()

    with db.unit_of_work() as session:
        epoch = repository.get_chain_epoch(session, 1)
        assert epoch is not None
        assert (epoch.status, epoch.payout_root) == ("accepted", tree.root)
        assert (epoch.label_root, epoch.content_hash) == ("0x" + "0a" * 32, "0x" + "0b" * 32)
        assert epoch.debits == [[dataset_id, "600"]]
        on_chain = ledger.functions.claimed(annotator, index).call()
        assert repository.claimed(session, annotator, index) == tuple(on_chain) == (600, 50)
        assert repository.reward_claimed(session, annotator) == 50
        record = repository.get_chain_dataset(session, dataset_id)
        assert record is not None
        _, _, _, status, _, available, debited = chain.dataset(dataset_id)
        assert (record.status, status) == ("closed", 3)
        assert (record.available, record.debited) == (available, debited)
        assert (record.funded, record.debited, record.refunded) == (1_000, 600, 400)
        events = sorted(session.scalars(select(ChainLog.event)))
    for event in ("EpochProposed", "EpochAccepted", "Claimed", "DatasetCloseRequested"):
        assert events.count(event) == 1, event
    assert events.count("DatasetClosed") == 1
    assert ledger.functions.totalSupply().call() == 50
    assert_balances_match_chain(db, ledger, {annotator})
    assert_balances_match_chain(
        db, chain.dusd, {annotator, chain.buyer.address, chain.deployment.ledger}
    )


def test_revoked_epoch_is_mirrored_with_its_debits_and_fees_returned(
    redeploy: Callable[..., Chain], db: Database
) -> None:
    chain = redeploy(timelock=3600, fee_bps=500)
    dataset_id = chain.fund_dataset(b"\x05" * 32, 1_000)
    tree = payout_tree(recipient(1), chain.dusd_index, 400, 0)
    ledger, operator = chain.ledger, chain.operator
    args = ([int(dataset_id, 16)], [400])
    zero = HexBytes(b"\x00" * 32)
    chain.send(ledger.functions.proposeEpoch(1, HexBytes(tree.root), zero, zero, *args), operator)
    mirror = make_mirror(db, chain)
    mirror.sync_once()
    with db.unit_of_work() as session:
        record = repository.get_chain_dataset(session, dataset_id)
        assert record is not None
        assert (record.available, record.debited, record.fees) == (1_000 - 420, 400, 20)
        token = repository.get_ledger_token(session, chain.dusd_index)
        assert token is not None
        assert token.fees == 20 == ledger.functions.tokenState(chain.dusd_index).call()[1]

    chain.send(ledger.functions.revokeEpoch(*args), operator)
    mirror.sync_once()

    with db.unit_of_work() as session:
        epoch = repository.get_chain_epoch(session, 1)
        assert epoch is not None
        assert epoch.status == "revoked"
        record = repository.get_chain_dataset(session, dataset_id)
        assert record is not None
        assert (record.available, record.debited, record.fees) == (1_000, 0, 0)
        assert record.available == chain.dataset(dataset_id)[5]
    # the same number proposed again replaces the revoked proposal
    chain.send(ledger.functions.proposeEpoch(1, HexBytes(tree.root), zero, zero, *args), operator)
    mirror.sync_once()
    with db.unit_of_work() as session:
        epoch = repository.get_chain_epoch(session, 1)
        assert epoch is not None
        assert epoch.status == "pending"


def test_sync_once_stops_when_no_stored_block_is_on_chain_any_more(
    chain: Chain, db: Database
) -> None:
    """A fork below everything the mirror can undo is an alarm, and changes nothing."""
    chain.fund_dataset(b"\x05" * 32, 7)
    mirror = make_mirror(db, chain)
    mirror.sync_once()
    with db.unit_of_work() as session:
        cursor = repository.get_cursor(session, chain.deployment.chain_id)
        assert cursor is not None
        cursor.block_hash = "0x" + "ab" * 32
        for block in session.scalars(select(ChainBlock)):
            block.hash = "0x" + "cd" * 32
    before = mirror_rows(db)

    with pytest.raises(MirrorReorgTooDeep, match="Nothing was changed"):
        mirror.sync_once()
    assert mirror_rows(db) == before


def test_run_syncs_until_stopped_and_backs_off_while_the_node_is_down(
    chain: Chain, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    chain.fund_dataset(b"\x04" * 32, 5)
    head = chain.head()[0]

    def status_block() -> int | None:
        with db.unit_of_work() as session:
            status = repository.mirror_status(session, chain.deployment.chain_id)
        return None if status is None else status.block_number

    stop = threading.Event()
    runner = threading.Thread(
        target=make_mirror(db, chain).run, args=(stop,), kwargs={"poll_seconds": 0.05}
    )
    runner.start()
    deadline = time.monotonic() + 10
    while status_block() != head and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    runner.join(timeout=10)
    assert not runner.is_alive()
    assert status_block() == head

    down = ChainClient(f"http://127.0.0.1:{free_port()}", timeout=1)
    down.w3.provider.exception_retry_configuration = None  # type: ignore[attr-defined]
    unreachable = Mirror(db, down, chain.deployment, rpc_attempts=2, backoff_base_seconds=0.01)
    stop = threading.Event()
    caplog.set_level(logging.ERROR, logger="ledger.mirror.service")
    runner = threading.Thread(
        target=unreachable.run,
        args=(stop,),
        kwargs={"poll_seconds": 0.05, "max_backoff_seconds": 0.1},
    )
    runner.start()
    deadline = time.monotonic() + 10
    while len(caplog.records) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    runner.join(timeout=10)
    assert not runner.is_alive()
    assert len(caplog.records) >= 2
    assert all("retrying" in record.getMessage() for record in caplog.records)


# --- confirmations, pending balances, reconciliation ---


def test_blocks_above_the_confirmation_depth_show_as_pending_only(
    chain: Chain, db: Database
) -> None:
    """With 2 confirmations the two newest blocks are not applied: their transfers show in the
    pending balance, and become confirmed once two more blocks are mined."""
    dusd, operator = chain.dusd, chain.operator
    chain.send(dusd.functions.mint(operator.address, 1_000), operator)
    mirror = make_mirror(db, chain, confirmations=2)
    chain.send(dusd.functions.transfer(recipient(20), 30), operator)  # head - 1
    chain.send(dusd.functions.transfer(recipient(20), 12), operator)  # head
    mirror.sync_once()

    head = chain.head()[0]
    with db.unit_of_work() as session:
        cursor = repository.get_cursor(session, chain.deployment.chain_id)
        assert cursor is not None
        assert cursor.block_number == head - 2
        assert repository.get_balance(session, dusd.address, operator.address) == 1_000
        assert repository.pending_balance(session, dusd.address, operator.address) == 958
        assert repository.get_balance(session, dusd.address, recipient(20)) == 0
        assert repository.pending_balance(session, dusd.address, recipient(20)) == 42

    chain.rpc("anvil_mine", 2)
    mirror.sync_once()
    with db.unit_of_work() as session:
        assert repository.get_balance(session, dusd.address, recipient(20)) == 42
        assert repository.pending_balance(session, dusd.address, recipient(20)) == 42
    assert_balances_match_chain(db, dusd, {operator.address, recipient(20)})


def test_reconcile_finds_drift_reports_it_and_repairs_by_resyncing(
    chain: Chain, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A mirrored balance that differs from the chain is drift: reconciliation reports the exact
    row (report, stored record, log line) and re-syncs from the last good reconciliation, which
    mends a row that blocks since then changed; the next reconciliation finds none."""
    dusd, operator = chain.dusd, chain.operator
    chain.fund_dataset(b"\x06" * 32, 900)
    chain.send(dusd.functions.mint(operator.address, 500), operator)
    chain.send(dusd.functions.transfer(recipient(30), 125), operator)
    mirror = make_mirror(db, chain)
    mirror.sync_once()
    clean = mirror.reconcile()
    assert clean.ok
    assert clean.checked >= 6  # balances, both supplies, the dataset

    chain.send(dusd.functions.transfer(recipient(31), 5), operator)
    mirror.sync_once()
    with db.unit_of_work() as session:
        row = session.get(TokenBalance, (dusd.address, recipient(31)))
        assert row is not None
        row.balance = 4  # what a lost log would leave

    caplog.set_level(logging.ERROR, logger="ledger.mirror.reconcile")
    drifted = mirror.reconcile(repair=True)
    assert not drifted.ok
    assert drifted.drift_count == 1
    assert drifted.drift == [
        {
            "what": "balanceOf",
            "key": f"{dusd.address}/{recipient(31)}",
            "mirror": "4",
            "chain": "5",
        }
    ]
    assert "DRIFT" in caplog.text
    assert drifted.repaired_from == clean.block_number  # the last good point, still undoable
    with db.unit_of_work() as session:
        last = repository.last_reconciliation(session, chain.deployment.chain_id)
        assert last is not None
        assert (last.drift_count, last.repaired_from) == (1, clean.block_number)

    mirror.sync_once()
    assert mirror.reconcile().ok
    assert_balances_match_chain(db, dusd, {operator.address, recipient(30), recipient(31)})


def test_reconcile_rebuilds_from_the_deployment_block_without_an_undoable_good_point(
    chain: Chain, db: Database
) -> None:
    """Drift with no good reconciliation to return to, or older than the last good one (so no
    replay touches it): everything is re-read from the deployment block."""
    dusd, operator = chain.dusd, chain.operator
    chain.send(dusd.functions.mint(operator.address, 500), operator)
    mirror = make_mirror(db, chain)
    mirror.sync_once()
    for _ in range(2):  # first without a good point, then with one the replay cannot mend from
        with db.unit_of_work() as session:
            supply = session.get(TokenSupply, dusd.address)
            assert supply is not None
            supply.total_supply += 1

        report = mirror.reconcile()
        assert [row["what"] for row in report.drift] == ["totalSupply"]
        assert report.repaired_from == chain.deployment.deployment_block
        with db.unit_of_work() as session:
            assert repository.get_cursor(session, chain.deployment.chain_id) is None
        mirror.sync_once()
        assert mirror.reconcile().ok


def test_a_token_with_holders_from_before_the_deployment_is_seeded_from_balance_of(
    chain: Chain, db: Database
) -> None:
    """A payment token that existed before the ledger (as USDC would): an account's opening
    balance comes from balanceOf just before the mirror first sees it, so a transfer from an
    old holder neither stops the mirror nor leaves its balance wrong."""
    operator, client = chain.operator, chain.client
    nonce = client.w3.eth.get_transaction_count(operator.address, "pending")
    old_token = client.contract(
        "DevStablecoin", client.deploy("DevStablecoin", operator, nonce=nonce)
    )
    chain.send(old_token.functions.mint(operator.address, 10_000), operator)
    chain.send(old_token.functions.transfer(recipient(40), 2_500), operator)
    deployment = deploy_all(client, operator, payment_tokens=(old_token.address,))
    assert deployment.payment_tokens[0].seed_balances

    chain.send(old_token.functions.transfer(recipient(41), 700), operator)  # an old holder
    chain.send(old_token.functions.mint(recipient(40), 1), operator)  # supply moves too
    mirror = Mirror(db, client, deployment, max_block_range=1)
    mirror.sync_once()

    assert_balances_match_chain(db, old_token, {operator.address, recipient(41), recipient(40)})
    assert mirror.reconcile().ok


def test_two_mirrors_on_one_database_never_count_a_log_twice(chain: Chain, db: Database) -> None:
    """Two writers (a second mirror, or a repair while the mirror runs) racing chunk by chunk:
    each chunk's transaction checks the cursor it builds on, so the loser retries and every log
    is applied exactly once."""
    dusd, operator = chain.dusd, chain.operator
    chain.send(dusd.functions.mint(operator.address, 10_000), operator)
    for n in range(12):
        chain.send(dusd.functions.transfer(recipient(50 + n % 4), 10 + n), operator)
    mirrors = [make_mirror(db, chain, max_block_range=1) for _ in range(2)]
    errors: list[BaseException] = []

    def follow(mirror: Mirror) -> None:
        for _ in range(200):
            try:
                mirror.sync_once()
                return
            except (ChainUnavailable, OperationalError):
                # MirrorCursorMoved, or SQLite refusing a writer with a stale snapshot: the
                # run loop retries both the same way
                continue
            except BaseException as exc:  # reported to the test thread
                errors.append(exc)
                return

    threads = [threading.Thread(target=follow, args=(m,)) for m in mirrors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    with db.unit_of_work() as session:
        logs = session.scalars(select(ChainLog)).all()
        assert len({(log.block_hash, log.log_index) for log in logs}) == len(logs)
    assert_balances_match_chain(
        db, dusd, {operator.address, *(recipient(50 + n) for n in range(4))}
    )


def test_old_reconciliations_are_forgotten_but_the_last_good_one_is_kept(
    chain: Chain, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile_module, "KEEP_RECONCILIATIONS", 3)
    dusd, operator = chain.dusd, chain.operator
    chain.send(dusd.functions.mint(operator.address, 500), operator)
    mirror = make_mirror(db, chain)
    mirror.sync_once()
    good = mirror.reconcile()
    for _ in range(4):  # drifting ones, not repaired
        with db.unit_of_work() as session:
            supply = session.get(TokenSupply, dusd.address)
            assert supply is not None
            supply.total_supply = 501
        assert not mirror.reconcile(repair=False).ok
    with db.unit_of_work() as session:
        rows = session.scalars(select(Reconciliation).order_by(Reconciliation.id)).all()
        assert [row.drift_count for row in rows] == [0, 1, 1, 1]
        assert rows[0].block_number == good.block_number
