"""The mirror under the faults a real chain and real providers inflict: reorgs, rollbacks, a
process killed mid-batch, rate limits, dropped and hung connections, refused and silently
truncated log queries. Each test ends by comparing the mirror with the chain at the mirror's own
cursor block (`tests.mirror_support`).

Reorgs come from Anvil itself: `anvil_reorg` with params `[depth, [[tx, block_offset], ...]]`
replaces the last `depth` blocks with as many new ones (same height), `tx` being a JSON
transaction request from an unlocked dev account (or raw signed bytes) and `block_offset` in
`0..depth-1` counting from the first replaced block; blocks given no transaction are mined empty,
and the orphaned transactions are dropped, not returned to the pool. `anvil_rollback(depth)`
removes the last `depth` blocks. Both keep the fixture's `evm_snapshot` usable as long as they do
not reach below the block it was taken at, which every test here makes sure of.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3.contract.contract import ContractFunction

from ledger.chain.devnode import free_port
from ledger.kit.db import Database
from ledger.kit.errors import ChainUnavailable
from ledger.merkle import StandardMerkleTree
from ledger.mirror import repository
from ledger.mirror.service import Mirror, MirrorReorgTooDeep
from tests.mirror_support import (
    assert_logs_match_chain,
    assert_mirror_matches_chain,
    followed_logs,
    mirror_cursor,
    mirror_rows,
)
from tests.rpcproxy import (
    RpcProxy,
    delay,
    drop,
    hang,
    http_error,
    max_logs,
    max_range,
    reset,
    rpc_error,
    truncate_logs,
)
from tests.support import Chain

pytestmark = pytest.mark.chain

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_HTTP = requests.Session()  # keep-alive to Anvil for the many small requests below
PAYOUT_LEAF = ["address", "uint16", "uint256", "uint256"]
# Fast retries: the faults below are meant to be ridden out in milliseconds, not seconds.
FAST_RETRIES = {
    "backoff_base_seconds": 0.005,
    "backoff_max_seconds": 0.05,
    "rpc_attempts": 12,
    "rpc_timeout": 2.0,
}


def make_mirror(db: Database, chain: Chain, **options: Any) -> Mirror:
    return Mirror(db, chain.client, chain.deployment, **options)


def recipient(name: str) -> str:
    return to_checksum_address(keccak(text=f"mirror-faults-{name}")[:20])


def requests_for(
    chain: Chain, key: LocalAccount, calls: Sequence[ContractFunction]
) -> list[dict[str, str]]:
    """`calls` as transaction requests with consecutive nonces from the account's next one. The
    senders are Anvil's unlocked dev accounts, so Anvil signs: much faster than eth_account."""
    nonce = chain.client.w3.eth.get_transaction_count(key.address, "pending")
    return [
        {**as_request(call, key), "nonce": hex(nonce + offset)} for offset, call in enumerate(calls)
    ]


def mine_each(chain: Chain, key: LocalAccount, calls: Sequence[ContractFunction]) -> None:
    """Sends `calls` one at a time, each mined by automine in a block of its own; every one must
    succeed. (Never several at once: when two arrive together automine may put both in one
    block and later mine an empty one, which would shift the block counts the reorg tests rely
    on; in a concurrently served batch, one that arrives ahead of its nonce can even be
    stranded in the pool.)"""
    for tx in requests_for(chain, key, calls):
        tx_hash = _call(chain, "eth_sendTransaction", tx)
        deadline = time.monotonic() + 30
        while (receipt := _call(chain, "eth_getTransactionReceipt", tx_hash)) is None:
            assert time.monotonic() < deadline, f"{tx_hash} not mined within 30s"
            time.sleep(0.001)
        assert receipt["status"] == "0x1", f"a generated transaction failed: {receipt}"


def _call(chain: Chain, method: str, *params: Any) -> Any:
    """A raw JSON-RPC call over a kept-alive connection (web3's formatters cost ~ms a call)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    answer = _HTTP.post(chain.client.rpc_url, json=body, timeout=60).json()
    assert "error" not in answer, answer
    return answer["result"]


def as_request(call: ContractFunction, sender: LocalAccount) -> dict[str, str]:
    """A JSON transaction request for anvil_reorg (Anvil signs it for its unlocked dev account)."""
    return {
        "from": sender.address,
        "to": call.address,
        "data": call._encode_transaction_data(),
        "gas": hex(300_000),
    }


def transfers(chain: Chain, count: int, *, seed: int, prefix: str) -> list[ContractFunction]:
    """`count` dUSD transfers of seeded amounts to a few recipients named `prefix`-n."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test data)
    return [
        chain.dusd.functions.transfer(
            recipient(f"{prefix}-{rng.randrange(12)}"), rng.randrange(1, 500)
        )
        for _ in range(count)
    ]


def busy_chain(chain: Chain, transfer_count: int) -> set[str]:
    """A funded dataset, a mint and `transfer_count` transfers, one block each; returns the
    accounts involved."""
    chain.fund_dataset(b"\x07" * 32, 5_000)
    operator = chain.operator
    mine_each(chain, operator, [chain.dusd.functions.mint(operator.address, 10**12)])
    calls = transfers(chain, transfer_count, seed=transfer_count, prefix="busy")
    mine_each(chain, operator, calls)
    return {operator.address, chain.buyer.address} | {call.args[0] for call in calls}


def assert_mirrored_at_head(db: Database, chain: Chain, accounts: set[str]) -> None:
    """The mirror reached the head, equals the chain there, and holds each log exactly once."""
    assert_at_head(db, chain)
    assert_mirror_matches_chain(db, chain, accounts=accounts)
    assert_logs_match_chain(db, chain)


def assert_at_head(db: Database, chain: Chain) -> None:
    cursor = mirror_cursor(db, chain)
    assert cursor == chain.head(), f"mirror cursor {cursor}, chain head {chain.head()}"


# --- reorgs -------------------------------------------------------------------------------------


def paid_epoch(chain: Chain, salt: bytes) -> tuple[StandardMerkleTree, str, str]:
    """A funded dataset and an accepted epoch paying two annotators (leaves 0 and 1: 600 dUSD and
    50 LABEL, 300 dUSD and 20 LABEL); returns the tree and the two annotators."""
    annotator, other, index = recipient("annotator"), recipient("other"), chain.dusd_index
    tree = StandardMerkleTree.of(
        [[annotator, index, 600, 50], [other, index, 300, 20]], PAYOUT_LEAF
    )
    ledger, operator, buyer = chain.ledger, chain.operator, chain.buyer
    funding = [
        chain.dusd.functions.mint(buyer.address, 1_000),
        chain.dusd.functions.approve(ledger.address, 1_000),
        ledger.functions.createAndFund(salt, index, 1_000),
    ]
    mine_each(chain, buyer, funding)
    dataset_id = ledger.functions.datasetIdOf(buyer.address, salt).call()
    zero = HexBytes(b"\x00" * 32)
    propose = ledger.functions.proposeEpoch(1, HexBytes(tree.root), zero, zero, [dataset_id], [900])
    mine_each(chain, operator, [propose, ledger.functions.acceptEpoch()])
    return tree, annotator, other


def claim(chain: Chain, tree: StandardMerkleTree, leaf: int) -> ContractFunction:
    account, index, payment, reward = dict(tree.entries())[leaf]  # as the tree's strings
    proof = [HexBytes(node) for node in tree.get_proof(leaf)]
    amounts = (int(str(index)), int(str(payment)), int(str(reward)))
    return chain.ledger.functions.claim(account, *amounts, proof)


@pytest.mark.parametrize("depth", range(1, 11))
def test_reorg_replaces_the_orphaned_branch(fresh_chain: Chain, db: Database, depth: int) -> None:
    """A reorg of `depth` blocks whose new branch pays other accounts other amounts (dUSD
    transfers, and a LABEL-minting claim by another annotator) is detected at the next sync: the
    mirror undoes the orphaned blocks, applies the new ones and ends equal to the chain, with no
    trace of the orphaned branch (its recipients hold 0, its claim and LABEL mint are gone)."""
    chain = fresh_chain
    tree, annotator, other = paid_epoch(chain, bytes([depth]) * 32)
    dusd, operator, index = chain.dusd, chain.operator, chain.dusd_index
    mine_each(chain, operator, [dusd.functions.mint(operator.address, 1_000_000)])
    mirror = make_mirror(db, chain, max_block_range=3)  # chunks that straddle the fork
    mirror.sync_once()

    fork = chain.head()[0]
    orphans = [recipient(f"orphan-{i}") for i in range(depth - 1)]
    orphaned = [dusd.functions.transfer(to, 100 + i) for i, to in enumerate(orphans)]
    mine_each(chain, operator, [claim(chain, tree, 0), *orphaned])
    assert chain.head()[0] == fork + depth
    mirror.sync_once()
    assert_at_head(db, chain)
    with db.unit_of_work() as session:
        assert repository.claimed(session, annotator, index) == (600, 50)

    replacements = [recipient(f"replacement-{i}") for i in range(depth)]
    pairs: list[list[Any]] = [
        [as_request(dusd.functions.transfer(to, 1_000 + 7 * i), operator), i]
        for i, to in enumerate(replacements)
    ]
    pairs.append([as_request(claim(chain, tree, 1), operator), depth - 1])
    head_before = chain.head()
    chain.rpc("anvil_reorg", depth, pairs)
    assert chain.head()[0] == head_before[0]
    assert chain.head()[1] != head_before[1]
    mine_each(
        chain, operator, [dusd.functions.mint(recipient(f"after-{i}"), 5) for i in range(depth % 3)]
    )
    # the new branch is what we meant it to be
    assert tuple(chain.ledger.functions.claimed(annotator, index).call()) == (0, 0)
    assert tuple(chain.ledger.functions.claimed(other, index).call()) == (300, 20)
    assert dusd.functions.balanceOf(replacements[-1]).call() == 1_000 + 7 * (depth - 1)

    mirror.sync_once()

    assert_at_head(db, chain)
    accounts = {annotator, other, operator.address, *orphans, *replacements}
    assert_mirror_matches_chain(db, chain, accounts=accounts)
    assert_logs_match_chain(db, chain)
    with db.unit_of_work() as session:
        assert all(repository.get_balance(session, dusd.address, to) == 0 for to in orphans)
        assert repository.get_balance(session, dusd.address, annotator) == 0
        assert repository.get_balance(session, chain.ledger.address, annotator) == 0
        assert repository.claimed(session, annotator, index) == (0, 0)
        assert repository.claimed(session, other, index) == (300, 20)


@pytest.mark.parametrize(("depth", "new_blocks"), [(1, 1), (3, 1), (2, 5)])
def test_rollback_then_other_blocks(
    fresh_chain: Chain, db: Database, depth: int, new_blocks: int
) -> None:
    """`anvil_rollback` removes the last blocks and other ones are mined in their place, to a
    shorter, equal or greater height than the mirror's cursor: the mirror follows the new chain."""
    chain = fresh_chain
    operator = chain.operator
    mine_each(chain, operator, [chain.dusd.functions.mint(operator.address, 10**9)])
    mine_each(chain, operator, transfers(chain, 4, seed=1, prefix="before"))
    mirror = make_mirror(db, chain, max_block_range=2)
    mirror.sync_once()
    top = chain.head()[0]
    orphaned = [recipient(f"rolled-back-{i}") for i in range(depth)]
    mine_each(
        chain,
        operator,
        [chain.dusd.functions.transfer(to, 50 + i) for i, to in enumerate(orphaned)],
    )
    assert chain.head()[0] == top + depth
    mirror.sync_once()

    chain.rpc("anvil_rollback", depth)
    fresh = [recipient(f"after-rollback-{i}") for i in range(new_blocks)]
    mine_each(
        chain, operator, [chain.dusd.functions.transfer(to, 70 + i) for i, to in enumerate(fresh)]
    )
    assert chain.head()[0] == top + new_blocks
    assert all(chain.dusd.functions.balanceOf(to).call() == 0 for to in orphaned)

    mirror.sync_once()

    assert_at_head(db, chain)
    assert_mirror_matches_chain(db, chain, accounts={operator.address, *orphaned, *fresh})
    assert_logs_match_chain(db, chain)


def test_reorg_deeper_than_the_limit_stops_the_mirror_and_changes_nothing(
    fresh_chain: Chain, db: Database
) -> None:
    """A fork deeper than `max_reorg_depth` is refused with MirrorReorgTooDeep, every time it is
    tried, and the mirror's tables (cursor included) stay exactly as they were."""
    chain = fresh_chain
    operator = chain.operator
    mine_each(chain, operator, [chain.dusd.functions.mint(operator.address, 10**9)])
    mine_each(chain, operator, transfers(chain, 7, seed=2, prefix="deep"))  # 7 blocks to fork in
    mirror = make_mirror(db, chain, max_reorg_depth=4)
    mirror.sync_once()
    before = mirror_rows(db)
    cursor = mirror_cursor(db, chain)

    pairs = [[as_request(chain.dusd.functions.transfer(recipient("deep-fork"), 9), operator), 0]]
    chain.rpc("anvil_reorg", 6, pairs)
    for _ in range(2):
        with pytest.raises(MirrorReorgTooDeep):
            mirror.sync_once()
        assert mirror_cursor(db, chain) == cursor
        assert mirror_rows(db) == before


# --- a mirror process killed at random moments ----------------------------------------------------


class MirrorProcess:
    """`label-ledger mirror` as a child process, configured by environment variables only."""

    def __init__(self, database_url: str, deployment_file: Path, rpc_url: str, log: Path) -> None:
        env = {
            **os.environ,
            "LABEL_LEDGER_DATABASE_URL": database_url,
            "LABEL_LEDGER_RPC_URL": rpc_url,
            "LABEL_LEDGER_DEPLOYMENT_FILE": str(deployment_file),
            "LABEL_LEDGER_CONFIRMATIONS": "0",
            "LABEL_LEDGER_MIRROR_MAX_BLOCK_RANGE": "2",
            "LABEL_LEDGER_MIRROR_POLL_SECONDS": "0.05",
        }
        self.log = log
        with log.open("ab") as output:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [str(PROJECT_ROOT / ".venv" / "bin" / "label-ledger"), "mirror"],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Waits until `condition` holds; fails if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                pytest.fail(
                    f"the mirror exited with {self.process.returncode} before {what}:\n"
                    + self.log.read_text(errors="replace")[-4000:]
                )
            assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
            time.sleep(0.005)

    def stop(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def test_mirror_process_killed_mid_batch_resumes_without_loss_or_double_count(
    chain: Chain, db: Database, database_url: str, tmp_path: Path
) -> None:
    """`label-ledger mirror`, two blocks per transaction, is SIGKILLed at seeded random moments
    (once its cursor passes a random block, plus a random few milliseconds) while it works
    through hundreds of transfers, more arriving between kills; restarted, it finishes at the
    head with the chain's state and every log stored exactly once, and its own reconciliation
    finds no drift."""
    rng = random.Random(20261121)  # noqa: S311
    accounts = busy_chain(chain, 240)
    deployment_file = tmp_path / "deployment.json"
    chain.deployment.save(deployment_file)
    start_mirror = partial(
        MirrorProcess, database_url, deployment_file, chain.client.rpc_url, tmp_path / "mirror.log"
    )

    def cursor_block() -> int:
        cursor = mirror_cursor(db, chain)
        return -1 if cursor is None else cursor[0]

    for round_number in range(3):
        start, head = max(cursor_block(), chain.deployment.deployment_block), chain.head()[0]
        kill_after = rng.randrange(start + 1, (start + head) // 2)
        mirror = start_mirror()
        try:
            mirror.wait_for(lambda k=kill_after: cursor_block() >= k, 30, f"block {kill_after}")
            time.sleep(rng.uniform(0.0, 0.03))
        finally:
            mirror.stop(signal.SIGKILL)
        assert cursor_block() < head, "the mirror finished before it could be killed"
        calls = transfers(chain, 15, seed=round_number, prefix="between-kills")
        mine_each(chain, chain.operator, calls)
        accounts |= {call.args[0] for call in calls}

    mirror = start_mirror()
    try:
        head = chain.head()[0]
        mirror.wait_for(lambda: cursor_block() == head, 60, "the head")
    finally:
        mirror.stop(signal.SIGINT)
    assert_mirrored_at_head(db, chain, accounts)
    report = make_mirror(db, chain).reconcile(repair=False)  # the mirror's own check agrees
    assert report.ok, report.drift


# --- a faulty RPC provider between the mirror and the node ---------------------------------------


@pytest.fixture
def proxy(chain: Chain) -> Iterator[RpcProxy]:
    with RpcProxy(chain.client.rpc_url, seed=7) as running:
        yield running


def test_rate_limits_are_waited_out(chain: Chain, db: Database, proxy: RpcProxy) -> None:
    """HTTP 429 (with Retry-After), HTTP 503 and JSON-RPC "rate limit exceeded" answers on a
    quarter of all calls only slow the mirror down: it retries and mirrors everything."""
    accounts = busy_chain(chain, 40)
    proxy.faults = [
        http_error(503, times=2),
        http_error(429, retry_after=0.01, probability=0.15),
        rpc_error(-32005, "rate limit exceeded", probability=0.1),
    ]
    mirror = make_mirror(db, chain, max_block_range=5, rpc_url=proxy.url, **FAST_RETRIES)

    mirror.sync_once()

    assert proxy.fired["http_error"] >= 3
    assert proxy.fired["rpc_error"] >= 1
    assert_mirrored_at_head(db, chain, accounts)


def test_dropped_reset_and_hung_connections_are_retried(
    chain: Chain, db: Database, proxy: RpcProxy
) -> None:
    """Connections closed without an answer, reset, or left hanging past the client's timeout,
    and slow answers, on any call: the mirror retries each and mirrors everything."""
    accounts = busy_chain(chain, 30)
    proxy.faults = [
        drop(times=2),
        reset(method="eth_getLogs", times=2),
        hang(5.0, method="eth_getBlockByNumber", times=1),
        hang(5.0, method="eth_getLogs", times=1),
        delay(0.05, probability=0.2),
        drop(probability=0.05),
    ]
    options = {**FAST_RETRIES, "rpc_timeout": 0.5}
    mirror = make_mirror(db, chain, max_block_range=8, rpc_url=proxy.url, **options)

    mirror.sync_once()

    assert proxy.fired["drop"] >= 2
    assert proxy.fired["reset"] == 2
    assert proxy.fired["hang"] == 2
    assert proxy.fired["delay"] >= 1
    assert_mirrored_at_head(db, chain, accounts)


def test_a_node_that_never_answers_raises_chain_unavailable_after_the_attempts(
    chain: Chain, db: Database, proxy: RpcProxy
) -> None:
    """A node that answers every call with HTTP 503 gets exactly `rpc_attempts` tries of the first
    call; then sync_once raises ChainUnavailable and the database is untouched."""
    busy_chain(chain, 3)
    make_mirror(db, chain).sync_once()
    before = mirror_rows(db)
    mine_each(chain, chain.operator, transfers(chain, 3, seed=3, prefix="unreachable"))
    proxy.faults = [http_error(503)]
    mirror = make_mirror(db, chain, rpc_url=proxy.url, backoff_base_seconds=0.001, rpc_attempts=3)

    with pytest.raises(ChainUnavailable):
        mirror.sync_once()

    assert sum(proxy.requests.values()) == 3
    assert proxy.fired["http_error"] == 3
    assert mirror_rows(db) == before


def test_a_refused_connection_raises_chain_unavailable(chain: Chain, db: Database) -> None:
    """Nothing listens at the RPC address (connection refused): after its attempts sync_once
    raises ChainUnavailable, quickly, and writes nothing."""
    busy_chain(chain, 3)
    make_mirror(db, chain).sync_once()
    before = mirror_rows(db)
    nowhere = f"http://127.0.0.1:{free_port()}"
    mirror = make_mirror(db, chain, rpc_url=nowhere, backoff_base_seconds=0.001, rpc_attempts=3)
    started = time.monotonic()

    with pytest.raises(ChainUnavailable):
        mirror.sync_once()

    assert time.monotonic() - started < 5
    assert mirror_rows(db) == before


def test_a_mirror_asked_to_stop_ends_its_retries_at_once(chain: Chain, db: Database) -> None:
    """Ctrl-C on `up` while its node is away: the mirror is in a long backoff between attempts
    (here up to 30 s each, eight attempts); setting its stop event ends the wait at once with
    ChainUnavailable, makes no further attempt and writes nothing."""
    busy_chain(chain, 3)
    make_mirror(db, chain).sync_once()
    before = mirror_rows(db)
    nowhere = f"http://127.0.0.1:{free_port()}"
    mirror = make_mirror(db, chain, rpc_url=nowhere, backoff_base_seconds=20, rpc_attempts=8)
    stop = threading.Event()
    mirror.rpc.stop_with(stop)
    threading.Timer(1.0, stop.set).start()
    started = time.monotonic()

    with pytest.raises(ChainUnavailable, match="stopped while retrying"):
        mirror.sync(should_stop=stop.is_set)

    assert time.monotonic() - started < 5  # not the minutes its backoff would have waited
    assert mirror.rpc.stats.retries == 1  # the first wait was cut short; no attempt after it
    assert mirror_rows(db) == before


def test_refused_log_ranges_make_the_mirror_shrink_its_range(
    chain: Chain, db: Database, proxy: RpcProxy
) -> None:
    """A provider that caps log queries at 16 blocks ("block range is too large") and at a few
    logs ("query returned more than N results", N just above the most logs in one block), and
    refuses the first query outright ("more than 10000 results"): the mirror splits its ranges
    until they pass and misses nothing."""
    accounts = busy_chain(chain, 60)
    per_block = Counter(log["blockNumber"] for log in followed_logs(chain, chain.head()[0]))
    cap = max(per_block.values()) + 1
    proxy.faults = [
        rpc_error(-32005, "query returned more than 10000 results", method="eth_getLogs", times=1),
        max_range(16),
        max_logs(cap),
    ]
    # most blocks lie deeper than max_reorg_depth: final, so read by range
    options = {"max_block_range": 2000, "max_reorg_depth": 8, **FAST_RETRIES}
    mirror = make_mirror(db, chain, rpc_url=proxy.url, **options)

    mirror.sync_once()

    assert proxy.fired["rpc_error"] == 1
    assert proxy.fired["max_range"] >= 1
    assert proxy.fired["max_logs"] >= 1
    assert_mirrored_at_head(db, chain, accounts)


def test_silently_truncated_log_answers_do_not_lose_logs(
    chain: Chain, db: Database, proxy: RpcProxy
) -> None:
    """A provider that cuts eth_getLogs answers to their first 4 entries without saying so (the
    first three times an answer is longer): the mirror still applies every log."""
    accounts = busy_chain(chain, 40)
    proxy.faults = [truncate_logs(4, times=3)]
    # most blocks lie deeper than max_reorg_depth: final, so read by range
    options = {"max_block_range": 2000, "max_reorg_depth": 8, **FAST_RETRIES}
    mirror = make_mirror(db, chain, rpc_url=proxy.url, **options)

    mirror.sync_once()

    assert proxy.fired["truncate_logs"] >= 1
    assert_mirrored_at_head(db, chain, accounts)
