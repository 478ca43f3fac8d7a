"""A local Anvil is only ever the one we started: two started on one port at once (two `up`s on a
shared machine, or test workers side by side) never end up sharing one chain."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from ledger.chain.devnode import Anvil, AnvilPortTaken, AnvilStateUnreadable, free_port
from ledger.cli import start_local_chain


def rpc(node: Anvil, method: str, *params: object) -> object:
    answer = httpx.post(
        node.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    ).json()
    return answer["result"]


def alive(node: Anvil) -> bool:
    return node.process is not None and node.process.poll() is None


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as nodes:
        yield nodes


def test_an_anvil_whose_port_another_node_holds_says_so_instead_of_using_that_node(
    stack: ExitStack,
) -> None:
    first = stack.enter_context(Anvil())
    second = Anvil(port=first.port)
    stack.callback(second.stop)
    with pytest.raises(AnvilPortTaken, match=f"port {first.port} is taken"):
        second.start()
    assert not alive(second)
    assert alive(first)


def test_two_anvils_started_on_one_port_at_once_one_starts_and_the_other_says_so(
    stack: ExitStack,
) -> None:
    port = free_port()
    nodes = [Anvil(port=port), Anvil(port=port)]
    for node in nodes:
        stack.callback(node.stop)

    def start(node: Anvil) -> str:
        try:
            node.start()
        except AnvilPortTaken:
            return "taken"
        return "started"

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(start, nodes))
    assert sorted(outcomes) == ["started", "taken"]
    winner = nodes[outcomes.index("started")]
    loser = nodes[outcomes.index("taken")]
    assert alive(winner)
    assert not alive(loser)


def test_a_port_chosen_here_and_taken_before_anvil_binds_it_is_chosen_again(
    stack: ExitStack,
) -> None:
    node = Anvil()
    stack.callback(node.stop)
    chosen = node.port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", chosen))
        squatter.listen()
        node.start()
    assert node.port != chosen
    assert alive(node)
    assert rpc(node, "eth_chainId") == hex(31337)


def test_up_takes_a_free_port_when_two_start_on_the_usual_one_at_once(
    stack: ExitStack, tmp_path: Path
) -> None:
    usual = free_port()  # stands in for 8545, which this machine may be using
    states = [tmp_path / "a", tmp_path / "b"]
    for state in states:
        state.mkdir()
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(start_local_chain, state, usual) for state in states]
        chains = [future.result() for future in futures]
    for chain in chains:
        stack.callback(chain.stop)
    assert sorted(chain.port == usual for chain in chains) == [False, True]
    assert all(alive(chain) for chain in chains)
    # Two chains, not one: a block mined on one is not on the other.
    first, second = chains
    before = rpc(second, "eth_blockNumber")
    rpc(first, "evm_mine")
    assert rpc(second, "eth_blockNumber") == before
    assert rpc(first, "eth_blockNumber") != before


# --- the chain's state across a kill -9 (issue 15) -----------------------------------------------


def send_value(node: Anvil, to: str = "0x000000000000000000000000000000000000dEaD") -> str:
    """A plain transfer from Anvil's first (unlocked) dev account, mined at once by automine."""
    sender = rpc(node, "eth_accounts")[0]  # type: ignore[index]
    tx_hash = rpc(node, "eth_sendTransaction", {"from": sender, "to": to, "value": "0x1"})
    assert isinstance(tx_hash, str)
    return tx_hash


def head_of(node: Anvil) -> tuple[int, str]:
    block = rpc(node, "eth_getBlockByNumber", "latest", False)
    assert isinstance(block, dict)
    return int(block["number"], 16), str(block["hash"])


def saved_head(state: Path) -> int | None:
    if not state.exists():
        return None
    number = json.loads(state.read_bytes()).get("best_block_number")
    return int(number) if number is not None else None


def test_transactions_mined_more_than_an_interval_before_a_kill_survive_a_restart(
    stack: ExitStack, tmp_path: Path
) -> None:
    """The state file is rewritten (atomically) within about one `state_interval` of a new block,
    so what was mined longer ago than that survives `kill -9` of the chain; only the last
    moments may be lost, which the settlement and the mirror recover from."""
    state = tmp_path / "anvil-state.json"
    node = Anvil(state_path=state, state_interval=0.2)
    stack.callback(node.stop)
    node.start()
    kept = [send_value(node) for _ in range(3)]
    mined = time.monotonic()
    number, block_hash = head_of(node)
    while saved_head(state) != number:
        assert time.monotonic() - mined < 10, "the state was not saved within 10s of the block"
        time.sleep(0.02)
    lag = time.monotonic() - mined
    late = send_value(node)  # sent right before the kill: may or may not be saved
    node.kill()
    assert lag < 2, f"the last block reached the state file {lag:.2f}s after it was mined"

    again = Anvil(state_path=state, state_interval=0.2)
    stack.callback(again.stop)
    again.start()
    for tx_hash in kept:
        receipt = rpc(again, "eth_getTransactionReceipt", tx_hash)
        assert isinstance(receipt, dict)
        assert receipt["status"] == "0x1"
    # the same blocks, by hash: a mirror that applied them finds them still canonical
    block = rpc(again, "eth_getBlockByNumber", hex(number), False)
    assert isinstance(block, dict)
    assert block["hash"] == block_hash
    # the late one is either there with its block, or gone with it: never half of it
    late_receipt = rpc(again, "eth_getTransactionReceipt", late)
    assert head_of(again)[0] == (number if late_receipt is None else number + 1)


def test_an_idle_chain_is_not_dumped_again_and_a_stop_saves_the_last_block(
    stack: ExitStack, tmp_path: Path
) -> None:
    state = tmp_path / "anvil-state.json"
    node = Anvil(state_path=state, state_interval=0.1)
    stack.callback(node.stop)
    node.start()
    send_value(node)
    deadline = time.monotonic() + 10
    while node.dumps == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)  # idle: five intervals, the head did not move
    assert node.dumps == 1
    last = send_value(node)
    node.stop()  # a clean stop writes the last block even within the interval
    again = Anvil(state_path=state)
    stack.callback(again.stop)
    again.start()
    assert rpc(again, "eth_getTransactionReceipt", last) is not None


def test_a_torn_state_file_stops_the_start_with_what_to_do(tmp_path: Path) -> None:
    state = tmp_path / "anvil-state.json"
    state.write_text('{"block": {"number": "0x1"}, "accounts": {')  # cut short mid-write
    node = Anvil(state_path=state)
    with pytest.raises(AnvilStateUnreadable, match="move it aside"):
        node.start()
    assert node.process is None
