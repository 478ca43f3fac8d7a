"""A local Anvil is only ever the one we started: two started on one port at once (two `up`s on a
shared machine, or test workers side by side) never end up sharing one chain."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from ledger.chain.devnode import Anvil, AnvilPortTaken, free_port
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
