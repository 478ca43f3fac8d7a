"""Property tests of LabelLedger's accounting, against the real contract on Anvil.

A Hypothesis state machine sends random sequences of real transactions to one LabelLedger (v2:
escrow, epochs, claims and the LABEL token in one contract) and keeps a plain Python model of
what every balance and record should be: datasets created and funded (with approvals and with
ERC-2612 permits), closes requested and finalized (with time travel past the grace period, and
too early), epochs proposed with random debits plus the dataset's fee on top, accepted after the
timelock (and too early), revoked by the guardian, claims one leaf at a time and pushed with a
multiproof, LABEL transfers, pause and unpause, fee changes and withdrawals, and an attacker's
attempts at everything that is not theirs. Each refusal must be the exact custom error, with the
arguments the model predicts, both simulated and as a mined transaction, and must leave
everything as it was. After every step these hold on chain:

* per payment token, the ledger holds at least, and by design exactly, the funds not yet debited
  (``available`` of every dataset) plus the debited-but-unclaimed pool (``owed``) plus the fees
  not withdrawn;
* ``owed`` equals what the latest root (the pending one, else the accepted one) entitles
  annotators to and they have not claimed yet;
* no account has claimed more than its cumulative entitlement in the latest *accepted* root;
* LABEL's total supply equals the LABEL claimed, and the sum of the known holders' balances;
* no token leaves the set of known holders (supply minus their balances never moves);
* a buyer's balances never fall in a step someone else sent; a dataset's undebited funds shrink
  only in an epoch proposal (by the root proposer) or a finalized close (refunded to its buyer);
  only its buyer starts a close, nobody finishes one before the grace period, and its buyer,
  token and fee never change;
* the attacker never gains LABEL, a claim, or a role;
* the chain equals the model: every dataset record, balance, supply, ``tokenState``, ``claimed``,
  the accepted and the pending epoch, the payout root, the epoch commitments, pause and fee.

Each example runs inside an ``evm_snapshot``/``evm_revert`` pair, so examples are independent.
CI runs a fixed seed and a fixed budget. To run longer, or with another seed::

    LABEL_LEDGER_PROPERTY_EXAMPLES=2000 LABEL_LEDGER_PROPERTY_SEED=7 \\
        .venv/bin/python -m pytest tests/property -q

(``LABEL_LEDGER_PROPERTY_STEPS`` sets the steps per example; see tests/property/README.md.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, TypeVar, cast

import pytest
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.abi import get_abi_output_types
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import BlockIdentifier, RPCEndpoint, TxReceipt

from ledger.chain.artifacts import artifacts_dir, load_artifact
from ledger.chain.client import ChainClient, account_from_key
from ledger.merkle import StandardMerkleTree

# --- the budget: CI runs the defaults; the environment runs it longer or with another seed ---

EXAMPLES = int(os.environ.get("LABEL_LEDGER_PROPERTY_EXAMPLES", "10"))
STEPS = int(os.environ.get("LABEL_LEDGER_PROPERTY_STEPS", "40"))
SEED = int(os.environ.get("LABEL_LEDGER_PROPERTY_SEED", "3"))
LONGER = (
    "LABEL_LEDGER_PROPERTY_EXAMPLES" in os.environ or "LABEL_LEDGER_PROPERTY_STEPS" in os.environ
)

pytestmark = [
    pytest.mark.chain,
    # a longer run outlasts the suite's 600 s per-test timeout by design
    *([pytest.mark.timeout(0)] if LONGER else []),
]

# --- the cast, the tokens and the amounts ---

BUYERS = 3
ANNOTATORS = 4
# allowlist indices: two 6-decimal DevStablecoins, and a fee-on-transfer token (1% burnt per
# transfer) that the ledger must refuse whenever a deposit would arrive short
DUSD, EURC, FOT = 1, 2, 3
TOKENS = (DUSD, EURC, FOT)
UNLISTED = 4
FOT_FEE_BPS = 100
SALTS = 6  # few salts per creator, so a creator sometimes reuses one (DatasetExists)
UNIT = 10**6  # the payment tokens and LABEL all have 6 decimals
MAX_DEPOSIT = 5_000 * UNIT
MAX_FEE_BPS = 1_000
BPS = 10_000
TIMELOCK = 24 * 3600
GRACE = 7 * 24 * 3600
# Time travel keeps every deadline at least this far from the chain's clock, so whether one has
# passed never depends on how many seconds the transactions in between took.
MARGIN = 3600
SEND_GAS = 3_000_000
MINED_REVERT_GAS = 3_000_000
PERMIT_DEADLINE = 2**64
ZERO_ADDRESS = "0x" + "00" * 20
ZERO_HASH = b"\x00" * 32
PAYOUT_ENCODING = ["address", "uint16", "uint256", "uint256"]
LABEL_ROOT = keccak(text="label-ledger property test: label root")
CONTENT_HASH = keccak(text="label-ledger property test: content hash")
OPEN, CLOSING, CLOSED = 1, 2, 3
# a dataset id nobody created: what every "unknown dataset" move aims at
NOWHERE = int.from_bytes(keccak(text="label-ledger property test: a dataset nobody created"))

ADMIN_ROLE = ZERO_HASH
ROOT_PROPOSER_ROLE = keccak(text="ROOT_PROPOSER_ROLE")
GUARDIAN_ROLE = keccak(text="GUARDIAN_ROLE")
PAUSER_ROLE = keccak(text="PAUSER_ROLE")

T = TypeVar("T")


def role_account(role: str) -> LocalAccount:
    """A fixed key per role, so a failing sequence replays with the same addresses."""
    return account_from_key("0x" + keccak(text=f"label-ledger property test: {role}").hex())


def dataset_id_of(buyer: str, salt: bytes) -> int:
    """LabelLedger.datasetIdOf, computed independently."""
    return int.from_bytes(keccak(abi_encode(["address", "bytes32"], [buyer, salt])))


def salt_of(number: int) -> bytes:
    return number.to_bytes(32, "big")


def fee_of(debit: int, fee_bps: int) -> int:
    return debit * fee_bps // BPS


def largest_debit(available: int, fee_bps: int) -> int:
    """The largest debit whose debit plus fee fits in `available`."""
    debit = available * BPS // (BPS + fee_bps)
    while debit + 1 + fee_of(debit + 1, fee_bps) <= available:
        debit += 1
    return debit


def debits_hash(dataset_ids: Sequence[int], debits: Sequence[int]) -> bytes:
    return keccak(abi_encode(["uint256[]", "uint256[]"], [list(dataset_ids), list(debits)]))


def commitment_of(payout_root: bytes) -> bytes:
    return keccak(abi_encode(["bytes32"] * 3, [payout_root, LABEL_ROOT, CONTENT_HASH]))


def shown(value: object) -> str:
    """One error argument as `describe` prints it: addresses checksummed, bytes as hex."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str):
        return to_checksum_address(value)
    return str(int(value)) if isinstance(value, int) else str(value)


def revert(name: str, *args: object) -> str:
    """A custom error as the decoder below prints it."""
    return f"{name}({', '.join(shown(arg) for arg in args)})"


def split(total: int, weights: Sequence[int]) -> list[int]:
    """`total` shared in proportion to `weights` (all to the first when every weight is 0);
    the shares always add up to `total` exactly, as the proposer's entitlements must."""
    if not any(weights):
        weights = [1, *[0] * (len(weights) - 1)]
    whole = sum(weights)
    shares = [total * weight // whole for weight in weights]
    first = next(index for index, weight in enumerate(weights) if weight)
    shares[first] += total - sum(shares)
    return shares


def mostly(usual: st.SearchStrategy[T], *rare: T) -> st.SearchStrategy[T]:
    """Drawn from `usual` seven times in eight, else one of `rare`; shrinks towards `usual`."""
    return st.integers(0, 7).flatmap(lambda n: st.sampled_from(rare) if n == 7 else usual)


def multiproof(
    tree: StandardMerkleTree, values: Sequence[Sequence[object]]
) -> tuple[list[Sequence[object]], list[str], list[bool]]:
    """claimMany's leaves (in the order the proof consumes them), proof and flags."""
    proven = tree.get_multiproof(list(values))
    return list(proven.leaves), list(proven.proof), list(proven.proof_flags)


# --- talking to the node: raw transactions with local nonces, reverts decoded exactly ---


@dataclass(frozen=True)
class Call:
    """One contract function with its arguments, not yet sent."""

    contract: Contract
    function: str
    args: tuple[Any, ...] = ()

    @property
    def data(self) -> str:
        return str(self.contract.encode_abi(self.function, args=list(self.args)))


class Node:
    """Sends and simulates calls on the session's Anvil, and decodes every revert exactly."""

    def __init__(self, client: ChainClient, abis: Sequence[Sequence[dict[str, Any]]]) -> None:
        self.client = client
        self.w3: Web3 = client.w3
        self.chain_id = client.chain_id
        self.gas_price = 2 * int(self.w3.eth.gas_price) + 10**9
        self.nonces: dict[str, int] = {}
        self.errors: dict[bytes, tuple[str, list[str]]] = {}
        for abi in abis:
            for item in abi:
                if item["type"] == "error":
                    types = [i["type"] for i in item["inputs"]]
                    selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
                    self.errors[selector] = (item["name"], types)

    def rpc(self, method: str, *params: Any) -> Any:
        response = self.w3.provider.make_request(RPCEndpoint(method), list(params))
        assert "error" not in response, response
        return response["result"]

    def forget_nonces(self) -> None:
        self.nonces.clear()

    def _nonce(self, address: str) -> int:
        if address not in self.nonces:
            checksummed = to_checksum_address(address)
            self.nonces[address] = self.w3.eth.get_transaction_count(checksummed, "pending")
        return self.nonces[address]

    def describe(self, data: str | bytes | None) -> str:
        raw = bytes.fromhex(data[2:]) if isinstance(data, str) else (data or b"")
        if len(raw) < 4:
            return "reverted without a reason"
        known = self.errors.get(raw[:4])
        if known is None:
            return f"reverted with unknown error 0x{raw.hex()}"
        name, types = known
        return f"{name}({', '.join(shown(v) for v in abi_decode(types, raw[4:]))})"

    def simulate(self, call: Call, sender: LocalAccount) -> str | None:
        """The custom error `call` reverts with, decoded; None if it would succeed."""
        request = {
            "from": sender.address,
            "to": call.contract.address,
            "data": call.data,
            "gas": hex(SEND_GAS),
        }
        response = self.w3.provider.make_request(RPCEndpoint("eth_call"), [request, "latest"])
        if "error" not in response:
            return None
        error = response["error"]
        data = error.get("data") if isinstance(error, dict) else None
        if isinstance(data, dict):
            data = data.get("data")
        return self.describe(data)

    def send(self, call: Call, sender: LocalAccount, *, gas: int = SEND_GAS) -> TxReceipt:
        """Signs and sends without simulating first; the caller checks the status."""
        return self._send_raw(sender, {"to": call.contract.address, "data": call.data, "gas": gas})

    def _send_raw(self, sender: LocalAccount, fields: dict[str, Any]) -> TxReceipt:
        tx = {
            "from": sender.address,
            "value": 0,
            "gasPrice": self.gas_price,
            "nonce": self._nonce(sender.address),
            "chainId": self.chain_id,
            **fields,
        }
        raw = bytes(sender.sign_transaction(tx).raw_transaction)
        try:
            tx_hash = self.w3.eth.send_raw_transaction(raw)
        except Exception:
            self.nonces.pop(sender.address, None)
            raise
        self.nonces[sender.address] += 1
        return self.w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=0.01)

    def transact(self, call: Call, sender: LocalAccount) -> TxReceipt:
        """Sends a call that must succeed."""
        receipt = self.send(call, sender)
        if receipt["status"] != 1:
            reason = self.simulate(call, sender)
            raise AssertionError(f"{call.function}{call.args} by {sender.address}: {reason}")
        return receipt

    def deploy(self, abi: Any, bytecode: str, sender: LocalAccount, *args: Any) -> Contract:
        data = (
            self.w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args).data_in_transaction
        )
        receipt = self._send_raw(sender, {"data": data, "gas": 8_000_000})
        assert receipt["status"] == 1, receipt
        return cast(Contract, self.w3.eth.contract(address=receipt["contractAddress"], abi=abi))

    def timestamp(self, block: BlockIdentifier = "latest") -> int:
        return int(self.w3.eth.get_block(block)["timestamp"])


# --- the world every example starts from ---


@dataclass(frozen=True)
class World:
    node: Node
    ledger: Contract
    tokens: dict[int, Contract]  # allowlist index -> payment token
    admin: LocalAccount
    proposer: LocalAccount
    guardian: LocalAccount
    pauser: LocalAccount
    buyers: tuple[LocalAccount, ...]
    annotators: tuple[LocalAccount, ...]
    attacker: LocalAccount
    treasury: str

    @property
    def actors(self) -> tuple[LocalAccount, ...]:
        """Everyone who sends transactions: "anyone" in a rule picks from these."""
        return (
            *self.buyers,
            *self.annotators,
            self.attacker,
            self.proposer,
            self.guardian,
            self.pauser,
            self.admin,
        )

    @property
    def creators(self) -> tuple[LocalAccount, ...]:
        """Who opens datasets: the buyers, and the attacker (whose ids must never hit theirs)."""
        return (*self.buyers, self.attacker)

    @property
    def holders(self) -> tuple[str, ...]:
        """Every address that may hold our tokens: no token may ever go anywhere else."""
        return (*(actor.address for actor in self.actors), self.ledger.address, self.treasury)

    @property
    def claimants(self) -> tuple[str, ...]:
        return (*(a.address for a in self.annotators), self.attacker.address)

    @property
    def token_addresses(self) -> tuple[str, ...]:
        """Every token the invariants watch: the payment tokens and LABEL (the ledger)."""
        return (*(self.tokens[i].address for i in TOKENS), self.ledger.address)

    def address_of(self, token: int) -> str:
        return self.tokens[token].address


def _fee_on_transfer_artifact() -> tuple[list[dict[str, Any]], str]:
    path = artifacts_dir() / "contracts/test/FeeOnTransferToken.sol/FeeOnTransferToken.json"
    data = json.loads(path.read_text())
    return data["abi"], data["bytecode"]


@pytest.fixture
def world(anvil: Any) -> Iterator[World]:
    """A fresh LabelLedger with its roles, three listed payment tokens and funded accounts.

    Deployed by this test's own keys inside a snapshot of the session's Anvil, so none of it
    outlives the test and nothing else's deployment is touched.
    """
    url = getattr(anvil, "rpc_url", None) or anvil.url
    client = ChainClient(url)
    ledger_artifact = load_artifact("LabelLedger")
    coin_artifact = load_artifact("DevStablecoin")
    fot_abi, fot_bytecode = _fee_on_transfer_artifact()
    node = Node(client, [ledger_artifact.abi, coin_artifact.abi, fot_abi])
    snapshot = node.rpc("evm_snapshot")
    try:
        admin, proposer, guardian, pauser = (
            role_account(role) for role in ("admin", "root proposer", "guardian", "pauser")
        )
        buyers = tuple(role_account(f"buyer {n}") for n in range(BUYERS))
        annotators = tuple(role_account(f"annotator {n}") for n in range(ANNOTATORS))
        attacker = role_account("attacker")
        for account in (admin, proposer, guardian, pauser, *buyers, *annotators, attacker):
            node.rpc("anvil_setBalance", account.address, hex(10**24))
        ledger = node.deploy(
            ledger_artifact.abi, ledger_artifact.bytecode, admin, admin.address, TIMELOCK
        )
        tokens = {
            DUSD: node.deploy(coin_artifact.abi, coin_artifact.bytecode, admin),
            EURC: node.deploy(coin_artifact.abi, coin_artifact.bytecode, admin),
            FOT: node.deploy(fot_abi, fot_bytecode, admin),
        }
        for role, holder in (
            (ROOT_PROPOSER_ROLE, proposer),
            (GUARDIAN_ROLE, guardian),
            (PAUSER_ROLE, pauser),
        ):
            node.transact(Call(ledger, "grantRole", (role, holder.address)), admin)
        for index in TOKENS:
            node.transact(Call(ledger, "listToken", (tokens[index].address,)), admin)
        assert ledger.functions.tokenIndexOf(tokens[FOT].address).call() == FOT
        yield World(
            node=node,
            ledger=ledger,
            tokens=tokens,
            admin=admin,
            proposer=proposer,
            guardian=guardian,
            pauser=pauser,
            buyers=buyers,
            annotators=annotators,
            attacker=attacker,
            treasury=role_account("treasury").address,
        )
    finally:
        node.forget_nonces()
        assert node.rpc("evm_revert", snapshot) is True


# --- reading the chain: every view the invariants need, in one JSON-RPC batch ---


@dataclass(frozen=True)
class DatasetRecord:
    """ILabelLedger.Dataset: what the model expects and what dataset(id) returns."""

    buyer: str
    token: int
    fee_bps: int = 0
    status: int = OPEN
    close_requested_at: int = 0
    available: int = 0
    debited: int = 0


NO_DATASET = DatasetRecord(buyer=ZERO_ADDRESS, token=0, status=0)


class Reader:
    """Many eth_calls in one HTTP round trip: a few ms for the whole state."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def read(self, calls: Sequence[Call]) -> list[Any]:
        requests = []
        output_types = []
        for call in calls:
            request = {"to": call.contract.address, "data": call.data}
            requests.append((RPCEndpoint("eth_call"), [request, "latest"]))
            abi = next(e for e in call.contract.abi if e.get("name") == call.function)
            output_types.append(get_abi_output_types(abi))
        provider: Any = self._node.w3.provider
        responses = provider.make_batch_request(requests)
        assert isinstance(responses, list), responses
        values = []
        for response, types in zip(responses, output_types, strict=True):
            assert "error" not in response, response
            decoded = abi_decode(types, bytes.fromhex(response["result"][2:]))
            values.append(decoded[0] if len(decoded) == 1 else decoded)
        return values


@dataclass(frozen=True)
class Observed:
    """The chain's state, as far as the accounting goes."""

    balances: dict[tuple[str, str], int]  # (token address, holder)
    supply: dict[str, int]
    states: dict[int, tuple[int, int]]  # token index -> (owed, fees)
    claimed: dict[tuple[str, int], tuple[int, int]]  # (account, token) -> (payment, reward)
    datasets: dict[int, DatasetRecord]
    accepted_epoch: int
    pending: tuple[int, bytes, int]  # (epoch, root, proposedAt), zeros when none
    payout_root: bytes
    commitments: dict[int, bytes]
    paused: bool
    fee_bps: int
    roles: dict[tuple[bytes, str], bool]


def observe(world: World, reader: Reader, dataset_ids: Sequence[int], epochs: int) -> Observed:
    ledger = world.ledger
    contracts = {
        address: world.node.client.contract("IERC20", address) for address in world.token_addresses
    }
    balance_keys = [(token, holder) for token in contracts for holder in world.holders]
    claimed_keys = [(account, token) for account in world.claimants for token in TOKENS]
    role_keys: list[tuple[bytes, str]] = [
        (role, world.attacker.address)
        for role in (ADMIN_ROLE, ROOT_PROPOSER_ROLE, GUARDIAN_ROLE, PAUSER_ROLE)
    ]
    calls = [
        *(Call(contracts[token], "balanceOf", (holder,)) for token, holder in balance_keys),
        *(Call(contract, "totalSupply") for contract in contracts.values()),
        *(Call(ledger, "tokenState", (token,)) for token in TOKENS),
        *(Call(ledger, "claimed", key) for key in claimed_keys),
        *(Call(ledger, "dataset", (dataset_id,)) for dataset_id in dataset_ids),
        *(Call(ledger, "epochCommitment", (epoch,)) for epoch in range(1, epochs + 1)),
        *(Call(ledger, "hasRole", key) for key in role_keys),
        Call(ledger, "acceptedEpoch"),
        Call(ledger, "pendingEpoch"),
        Call(ledger, "payoutRoot"),
        Call(ledger, "paused"),
        Call(ledger, "feeBps"),
    ]
    values = iter(reader.read(calls))
    balances = {key: next(values) for key in balance_keys}
    supply = {token: next(values) for token in contracts}
    states = {token: cast(tuple[int, int], tuple(next(values))) for token in TOKENS}
    claimed = {key: cast(tuple[int, int], tuple(next(values))) for key in claimed_keys}
    datasets = {}
    for dataset_id in dataset_ids:
        buyer, token, fee_bps, status, requested_at, available, debited = next(values)
        datasets[dataset_id] = DatasetRecord(
            to_checksum_address(buyer), token, fee_bps, status, requested_at, available, debited
        )
    commitments = {epoch: next(values) for epoch in range(1, epochs + 1)}
    roles = {key: next(values) for key in role_keys}
    accepted_epoch = next(values)
    pending = cast(tuple[int, bytes, int], tuple(next(values)))
    payout_root, paused, fee_bps = next(values), next(values), next(values)
    return Observed(
        balances=balances,
        supply=supply,
        states=states,
        claimed=claimed,
        datasets=datasets,
        accepted_epoch=accepted_epoch,
        pending=pending,
        payout_root=payout_root,
        commitments=commitments,
        paused=paused,
        fee_bps=fee_bps,
        roles=roles,
    )


# --- the model's records ---


@dataclass(frozen=True)
class Leaf:
    """One payout leaf with its proof: (account, token, cumulative payment, cumulative reward)."""

    account: str
    token: int
    payment: int
    reward: int
    proof: list[str] = field(default_factory=list)

    @property
    def value(self) -> list[object]:
        return [self.account, self.token, self.payment, self.reward]


@dataclass(frozen=True)
class Root:
    """A proposed payout root and what it entitles every annotator to, cumulatively."""

    tree: StandardMerkleTree
    entitled: dict[tuple[str, int], tuple[int, int]]

    @property
    def root(self) -> bytes:
        return bytes.fromhex(self.tree.root[2:])

    def leaf(self, account: str, token: int) -> Leaf:
        payment, reward = self.entitled[(account, token)]
        proof = self.tree.get_proof([account, token, payment, reward])
        return Leaf(account, token, payment, reward, proof)


@dataclass(frozen=True)
class Pending:
    epoch: int
    root: Root
    dataset_ids: tuple[int, ...]
    debits: tuple[int, ...]
    proposed_at: int

    @property
    def acceptable_at(self) -> int:
        return self.proposed_at + TIMELOCK


@dataclass(frozen=True)
class Strike:
    """What one attack aims at."""

    dataset_id: int
    victim: str  # an annotator
    token: int
    amount: int


ACTORS = BUYERS + ANNOTATORS + 5  # buyers, annotators, attacker, proposer, guardian, pauser, admin
actor_indices = st.integers(0, ACTORS - 1)
annotator_indices = st.integers(0, ANNOTATORS - 1)
# which dataset a move aims at: an index into the open ones (modulo their number), else
# CLOSING_PICK, CLOSED_PICK or NOWHERE_PICK (an id nobody created)
CLOSING_PICK, CLOSED_PICK, NOWHERE_PICK = -1, -2, -3
dataset_picks = mostly(st.integers(0, 63), CLOSING_PICK, CLOSED_PICK, NOWHERE_PICK)
deposits = mostly(st.integers(1, MAX_DEPOSIT), 0)
# the payment token a dataset is created in: usually a DevStablecoin, sometimes the
# fee-on-transfer token, the empty index 0 or one nobody listed
token_picks = mostly(st.sampled_from((DUSD, EURC)), FOT, 0, UNLISTED)
# how a payer gets ready to deposit: the faucet and an exact approval, or one of them is missing
preparations = mostly(st.just("mint and approve"), "approve only", "mint only")
# how a debit in a proposed epoch relates to what its dataset holds; the rare ones are refused
debit_kinds = mostly(
    st.sampled_from(("fits", "all of it", "zero")),
    "one too much",
    "too much",
    "unknown dataset",
    "closed dataset",
)
PROPOSER_MISTAKES = (
    "repeat the epoch",
    "skip an epoch",
    "length mismatch",
    "not the proposer",
    "empty root",
)
WAITS = (
    "past the timelock",
    "short of the timelock",
    "past a grace period",
    "an hour",
    "a day",
    "eight days",
)


def has_dataset(machine: LedgerAccounting) -> bool:
    return bool(machine.datasets)


def has_open_dataset(machine: LedgerAccounting) -> bool:
    """Once no dataset is open, closing one is only ever refused (which some steps still try,
    aiming at a closing or closed one): spend the steps on something else."""
    return any(record.status == OPEN for record in machine.datasets.values())


class LedgerAccounting(RuleBasedStateMachine):
    """Random sequences of real transactions against a model of what each must do."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.node = world.node
        self.ledger = world.ledger
        self.ledger_address = world.ledger.address
        self.reader = Reader(self.node)
        self.snapshot = self.node.rpc("evm_snapshot")
        start = observe(world, self.reader, [NOWHERE], 0)
        assert start.accepted_epoch == 0, "a fresh ledger"
        assert start.pending == (0, ZERO_HASH, 0)
        assert start.supply[self.ledger_address] == 0
        assert not any(any(state) for state in start.states.values())

        # the model
        self.balances = dict(start.balances)
        self.supply = dict(start.supply)
        self.allowances: dict[tuple[int, str], int] = {
            (token, actor.address): 0 for token in TOKENS for actor in world.actors
        }
        self.states: dict[int, tuple[int, int]] = dict(start.states)
        self.claimed: dict[tuple[str, int], tuple[int, int]] = dict(start.claimed)
        self.datasets: dict[int, DatasetRecord] = {}
        self.opened: list[int] = []  # dataset ids in the order they were created
        zero: dict[tuple[str, int], tuple[int, int]] = dict.fromkeys(
            ((a.address, t) for a in world.annotators for t in TOKENS), (0, 0)
        )
        self.accepted: list[Root] = []  # every accepted root, oldest first
        self.entitled: dict[tuple[str, int], tuple[int, int]] = (
            zero  # what the accepted root entitles to (all zero before one)
        )
        self.pending: Pending | None = None
        self.commitments: dict[int, bytes] = {}
        self.fee_bps = 0
        self.paused = False

        # for the invariants that compare the chain with itself
        self.outside_supply = {
            token: start.supply[token] - sum(start.balances[(token, h)] for h in world.holders)
            for token in world.token_addresses
        }
        self.sender: str | None = None
        self.step = ""
        self.buyer_balances = {b.address: self._balances_of(start, b.address) for b in world.buyers}
        self.dataset_records: dict[int, DatasetRecord] = {}
        self._observed: Observed | None = start

    def teardown(self) -> None:
        self.node.forget_nonces()
        assert self.node.rpc("evm_revert", self.snapshot) is True

    # -- sending --

    def _begin(self, sender: LocalAccount, step: str) -> None:
        """Every rule starts here: who sends this step's transactions; the old reading is stale."""
        self.sender = sender.address
        self.step = step
        self._observed = None

    def _send(self, call: Call, sender: LocalAccount) -> TxReceipt:
        return self.node.transact(call, sender)

    def _refused(self, call: Call, sender: LocalAccount, expected: str) -> None:
        """`call` reverts with exactly `expected`: simulated, and as a transaction mined anyway."""
        assert self.node.simulate(call, sender) == expected
        receipt = self.node.send(call, sender, gas=MINED_REVERT_GAS)
        assert receipt["status"] == 0, f"{call.function} was mined and succeeded"
        assert receipt["gasUsed"] < MINED_REVERT_GAS, "it ran out of gas instead of reverting"
        assert not receipt["logs"]

    def _events(self, receipt: TxReceipt, event: str) -> list[tuple[Any, ...]]:
        logs = getattr(self.ledger.events, event)().process_receipt(receipt, errors=DISCARD)
        return [tuple(log.args.values()) for log in logs]

    def _token(self, token: int) -> Contract:
        return self.world.tokens[token]

    def _address(self, token: int) -> str:
        return self.world.address_of(token)

    def _before(self, deadline: int) -> bool:
        """Whether the next block comes before `deadline`; time travel keeps them far apart."""
        now = self.node.timestamp()
        assert abs(deadline - now) > 60, "a deadline is too close to the clock to predict"
        return now < deadline

    def _prepare(self, payer: LocalAccount, token: int, amount: int, preparation: str) -> None:
        """The payer mints `amount` at the faucet and approves the ledger for exactly that."""
        contract = self._token(token)
        if preparation in ("mint and approve", "mint only"):
            self._send(Call(contract, "mint", (payer.address, amount)), payer)
            self.balances[(contract.address, payer.address)] += amount
            self.supply[contract.address] += amount
        if preparation in ("mint and approve", "approve only"):
            self._send(Call(contract, "approve", (self.ledger_address, amount)), payer)
            self.allowances[(token, payer.address)] = amount

    def _deposit_refusal(self, dataset_id: int, token: int, payer: str, amount: int) -> str | None:
        """What `_deposit` reverts with, if anything: the token's transferFrom, then the check
        that all of it arrived."""
        allowance = self.allowances[(token, payer)]
        if allowance < amount:
            return revert("ERC20InsufficientAllowance", self.ledger_address, allowance, amount)
        balance = self.balances[(self._address(token), payer)]
        if balance < amount:
            return revert("ERC20InsufficientBalance", payer, balance, amount)
        received = amount - self._transfer_fee(token, amount)
        if received != amount:
            return revert("DatasetShortDeposit", dataset_id, amount, received)
        return None

    def _transfer_fee(self, token: int, amount: int) -> int:
        return amount * FOT_FEE_BPS // BPS if token == FOT else 0

    def _deposit(self, dataset_id: int, token: int, payer: str, amount: int) -> None:
        self.allowances[(token, payer)] -= amount
        self._move(token, payer, self.ledger_address, amount)
        record = self.datasets[dataset_id]
        self.datasets[dataset_id] = replace(record, available=record.available + amount)

    def _move(self, token: int, source: str, target: str, amount: int) -> None:
        """A transfer as the token does it: the fee-on-transfer token burns 1% on the way."""
        address = self._address(token)
        burnt = self._transfer_fee(token, amount)
        self.balances[(address, source)] -= amount
        self.balances[(address, target)] += amount - burnt
        self.supply[address] -= burnt

    def _pick(self, pick: int) -> int:
        """The dataset `pick` aims at; when there is none such, any dataset, else NOWHERE."""
        by_status = {
            CLOSING_PICK: [d for d in self.opened if self.datasets[d].status == CLOSING],
            CLOSED_PICK: [d for d in self.opened if self.datasets[d].status == CLOSED],
            NOWHERE_PICK: [NOWHERE],
        }
        candidates = by_status.get(
            pick, [d for d in self.opened if self.datasets[d].status == OPEN]
        )
        candidates = candidates or self.opened or [NOWHERE]
        return candidates[max(pick, 0) % len(candidates)]

    def _not_paused(self) -> str | None:
        return revert("LedgerPaused") if self.paused else None

    def _unauthorized(self, account: LocalAccount, role: bytes, holder: LocalAccount) -> str | None:
        if account.address == holder.address:
            return None
        return revert("AccessControlUnauthorizedAccount", account.address, role)

    # -- datasets: create, fund, close --

    @initialize(
        openings=st.lists(
            st.tuples(
                st.integers(0, BUYERS - 1),
                st.sampled_from((DUSD, EURC)),
                st.integers(1, MAX_DEPOSIT),
            ),
            min_size=1,
            max_size=3,
        ),
        fee_bps=st.sampled_from((250, MAX_FEE_BPS)),
    )
    def buyers_create_datasets(self, openings: list[tuple[int, int, int]], fee_bps: int) -> None:
        """Start with a fee (the admin may set 0 later) and a few datasets, so the first steps
        have something to work on."""
        self.admin_sets_fee(fee_bps, None)
        for salt, (buyer, token, amount) in enumerate(openings):
            self.create_dataset(buyer, token, salt, amount, "mint and approve")

    @rule(
        creator=st.integers(0, BUYERS),
        token=token_picks,
        salt=st.integers(0, SALTS - 1),
        amount=deposits,
        preparation=preparations,
    )
    def create_dataset(
        self, creator: int, token: int, salt: int, amount: int, preparation: str
    ) -> None:
        """A buyer (or the attacker) creates and funds a dataset (0 creates it empty)."""
        payer = self.world.creators[creator]
        self._begin(payer, "create")
        dataset_id = dataset_id_of(payer.address, salt_of(salt))
        if token == FOT:
            # a few units arrive whole (1% of them rounds to 0); anything more arrives short
            amount %= 2 * BPS // FOT_FEE_BPS
            preparation = "mint and approve"
        call = Call(self.ledger, "createAndFund", (salt_of(salt), token, amount))
        if token in TOKENS:
            self._prepare(payer, token, amount, preparation)
        expected = self._not_paused()
        if expected is None and token not in TOKENS:
            expected = revert("LedgerUnknownToken", token)
        if expected is None and dataset_id in self.datasets:
            expected = revert("DatasetExists", dataset_id)
        expected = expected or self._deposit_refusal(dataset_id, token, payer.address, amount)
        if expected is not None:
            self._refused(call, payer, expected)
            return
        receipt = self._send(call, payer)
        assert self._events(receipt, "DatasetCreated") == [
            (dataset_id, payer.address, token, self.fee_bps, salt_of(salt))
        ]
        self.datasets[dataset_id] = DatasetRecord(payer.address, token, self.fee_bps)
        self.opened.append(dataset_id)
        self._deposit(dataset_id, token, payer.address, amount)

    @precondition(has_dataset)
    @rule(
        funder=actor_indices,
        dataset=dataset_picks,
        amount=deposits,
        preparation=preparations,
        how=mostly(st.sampled_from(("fund", "fundWithPermit")), "someone else's permit"),
    )
    def fund(self, funder: int, dataset: int, amount: int, preparation: str, how: str) -> None:
        """Anyone tops up a dataset from their own wallet, with an approval or a permit signed
        in the same call (a permit signed by someone else is ignored, and the approval decides)."""
        payer = self.world.actors[funder]
        self._begin(payer, "fund")
        dataset_id = self._pick(dataset)
        record = self.datasets.get(dataset_id)
        token = record.token if record else DUSD
        if token == FOT:
            amount %= 2 * BPS // FOT_FEE_BPS
            preparation = "mint and approve"
        if how != "fund":
            preparation = "mint only" if preparation == "mint and approve" else preparation
        self._prepare(payer, token, amount, preparation)
        if how == "fund":
            call = Call(self.ledger, "fund", (dataset_id, amount))
        else:
            signer = payer
            if how == "someone else's permit":
                others = (self.world.attacker, *self.world.buyers)
                signer = next(a for a in others if a.address != payer.address)
            v, r, s = self._permit(signer, token, amount)
            call = Call(
                self.ledger, "fundWithPermit", (dataset_id, amount, PERMIT_DEADLINE, v, r, s)
            )
        expected = self._not_paused()
        if expected is None and record is None:
            expected = revert("DatasetUnknown", dataset_id)
        if expected is None and record is not None and record.status != OPEN:
            expected = revert("DatasetNotOpen", dataset_id, record.status)
        allowance = self.allowances[(token, payer.address)]
        if expected is None and how == "fundWithPermit" and token != FOT:
            self.allowances[(token, payer.address)] = amount  # the permit is good
        if expected is None:
            expected = self._deposit_refusal(dataset_id, token, payer.address, amount)
        if expected is not None:
            self.allowances[(token, payer.address)] = allowance  # the permit reverted too
            self._refused(call, payer, expected)
            return
        receipt = self._send(call, payer)
        available = self.datasets[dataset_id].available + amount
        assert self._events(receipt, "DatasetFunded") == [
            (dataset_id, payer.address, amount, available)
        ]
        self._deposit(dataset_id, token, payer.address, amount)

    def _permit(self, signer: LocalAccount, token: int, amount: int) -> tuple[int, bytes, bytes]:
        """An ERC-2612 permit for the ledger, signed by `signer` for `signer` (v, r, s). The
        fee-on-transfer token has no permit: the ledger ignores the failed call."""
        contract = self._token(token)
        nonce = 0 if token == FOT else contract.functions.nonces(signer.address).call()
        message = {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Permit": [
                    {"name": "owner", "type": "address"},
                    {"name": "spender", "type": "address"},
                    {"name": "value", "type": "uint256"},
                    {"name": "nonce", "type": "uint256"},
                    {"name": "deadline", "type": "uint256"},
                ],
            },
            "primaryType": "Permit",
            "domain": {
                "name": "Dev USD",
                "version": "1",
                "chainId": self.node.chain_id,
                "verifyingContract": contract.address,
            },
            "message": {
                "owner": signer.address,
                "spender": self.ledger_address,
                "value": amount,
                "nonce": nonce,
                "deadline": PERMIT_DEADLINE,
            },
        }
        signed = signer.sign_typed_data(full_message=message)
        return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")

    @precondition(has_open_dataset)
    @rule(dataset=dataset_picks, closer=mostly(st.none(), *range(ACTORS)), top_up=st.booleans())
    def request_close(self, dataset: int, closer: int | None, top_up: bool) -> None:
        """Usually the dataset's buyer starts closing it; anyone else is refused. A closing
        dataset takes no more funds (`top_up`: the buyer tries anyway)."""
        dataset_id = self._pick(dataset)
        record = self.datasets.get(dataset_id)
        if closer is None and record is not None:
            sender = next(a for a in self.world.creators if a.address == record.buyer)
        else:
            sender = self.world.actors[closer or 0]
        self._begin(sender, "request close")
        call = Call(self.ledger, "requestClose", (dataset_id,))
        if record is None:
            self._refused(call, sender, revert("DatasetUnknown", dataset_id))
        elif sender.address != record.buyer:
            self._refused(call, sender, revert("DatasetNotBuyer", dataset_id, sender.address))
        elif record.status != OPEN:
            self._refused(call, sender, revert("DatasetNotOpen", dataset_id, record.status))
        else:
            receipt = self._send(call, sender)
            requested_at = self.node.timestamp(receipt["blockNumber"])
            assert self._events(receipt, "DatasetCloseRequested") == [
                (dataset_id, requested_at + GRACE)
            ]
            self.datasets[dataset_id] = replace(
                record, status=CLOSING, close_requested_at=requested_at
            )
            if top_up and record.token != FOT:
                self._prepare(sender, record.token, UNIT, "mint and approve")
                expected = self._not_paused() or revert("DatasetNotOpen", dataset_id, CLOSING)
                self._refused(Call(self.ledger, "fund", (dataset_id, UNIT)), sender, expected)

    @precondition(lambda self: any(r.status != OPEN for r in self.datasets.values()))
    @rule(
        dataset=mostly(st.just(CLOSING_PICK), CLOSED_PICK, 0, NOWHERE_PICK),
        caller=actor_indices,
        wait=mostly(st.just(True), False),
    )
    def finalize_close(self, dataset: int, caller: int, wait: bool) -> None:
        """Anyone finishes a close once its grace period is over (usually after waiting for it;
        too early is refused); the buyer gets exactly what is left. A closed one refunds what
        came back since (a revoked epoch's debits), usually nothing."""
        sender = self.world.actors[caller]
        self._begin(sender, "finalize close")
        dataset_id = self._pick(dataset)
        record = self.datasets.get(dataset_id)
        if wait and record is not None and record.status == CLOSING:
            self._travel("past a grace period", record.close_requested_at + GRACE)
        call = Call(self.ledger, "finalizeClose", (dataset_id,))
        if record is None:
            self._refused(call, sender, revert("DatasetUnknown", dataset_id))
            return
        if record.status == OPEN:
            self._refused(call, sender, revert("DatasetNotClosing", dataset_id, OPEN))
            return
        due = record.close_requested_at + GRACE
        if record.status == CLOSING and self._before(due):
            self._refused(call, sender, revert("DatasetCloseNotDue", dataset_id, due))
            return
        receipt = self._send(call, sender)
        assert self._events(receipt, "DatasetClosed") == [
            (dataset_id, record.buyer, record.available)
        ]
        self._move(record.token, self.ledger_address, record.buyer, record.available)
        self.datasets[dataset_id] = replace(record, status=CLOSED, available=0)

    # -- time --

    @rule(wait=st.sampled_from(WAITS))
    def time_passes(self, wait: str) -> None:
        """Time passes: to just past or well short of a deadline, or a fixed while."""
        self._observed = None
        self.sender, self.step = None, "time passes"
        self._travel(wait)

    def _travel(self, wait: str, deadline: int | None = None) -> None:
        """evm_increaseTime and evm_mine, by `wait` (past `deadline` if one is given, else past
        the next one); never to within MARGIN of any deadline."""
        now = self.node.timestamp()
        deadlines = [
            r.close_requested_at + GRACE for r in self.datasets.values() if r.status == CLOSING
        ]
        if self.pending is not None:
            deadlines.append(self.pending.acceptable_at)
        ahead = sorted(d for d in deadlines if d > now)
        pending_at = self.pending.acceptable_at if self.pending else now + TIMELOCK
        target = {
            "past the timelock": pending_at + MARGIN,
            "short of the timelock": pending_at - 3 * MARGIN,
            "past a grace period": (deadline or (ahead[0] if ahead else now + GRACE)) + MARGIN,
            "an hour": now + 3600,
            "a day": now + 24 * 3600,
            "eight days": now + 8 * 24 * 3600,
        }[wait]
        if target <= now + MARGIN and wait.startswith("past"):
            return  # long past already
        target = max(target, now + 2 * MARGIN)
        moved = True
        while moved:
            moved = False
            for other in deadlines:
                if abs(target - other) < MARGIN:
                    target, moved = other + MARGIN, True
        self.node.rpc("evm_increaseTime", target - now)
        self.node.rpc("evm_mine")

    # -- epochs --

    @rule(
        debits=st.lists(st.tuples(dataset_picks, debit_kinds, st.integers(0, 2**40)), max_size=3),
        weights=st.lists(
            st.integers(0, 3), min_size=len(TOKENS) * ANNOTATORS, max_size=len(TOKENS) * ANNOTATORS
        ),
        rewards=st.lists(
            st.integers(0, 5 * UNIT),
            min_size=len(TOKENS) * ANNOTATORS,
            max_size=len(TOKENS) * ANNOTATORS,
        ),
        mistake=mostly(st.none(), *PROPOSER_MISTAKES),
        wait=st.booleans(),
    )
    def propose_epoch(
        self,
        debits: list[tuple[int, str, int]],
        weights: list[int],
        rewards: list[int],
        mistake: str | None,
        wait: bool,
    ) -> None:
        """The root proposer debits some datasets (each plus its fee) and shares exactly the
        debits among the annotators, per token, plus LABEL rewards. A pending epoch past its
        timelock is accepted first; one inside it refuses the proposal. Some debits are too
        large, for an unknown or a closed dataset, and sink the whole proposal. `wait` lets the
        pending epoch's timelock pass first."""
        proposer = self.world.proposer
        if mistake == "not the proposer":
            proposer = self.world.actors[sum(weights) % (ACTORS - 1)]  # anyone but the admin
            proposer = self.world.attacker if proposer == self.world.proposer else proposer
        self._begin(proposer, "propose")
        if wait and self.pending is not None:
            self._travel("past the timelock")
        accepting = self.pending is not None and not self._before(self.pending.acceptable_at)
        base = self.pending.root.entitled if accepting and self.pending else self.entitled
        accepted_epoch = len(self.accepted) + (1 if accepting else 0)
        available = {dataset_id: r.available for dataset_id, r in self.datasets.items()}
        paid = dict.fromkeys(TOKENS, 0)
        fees = dict.fromkeys(TOKENS, 0)
        dataset_ids: list[int] = []
        amounts: list[int] = []
        expected: str | None = None
        for pick, kind, noise in debits:
            planned = self._plan_debit(pick, kind, noise, available)
            if planned is None:
                continue
            dataset_id, amount = planned
            dataset_ids.append(dataset_id)
            amounts.append(amount)
            expected = expected or self._debit_refusal(dataset_id, amount, available)
            if expected is None:
                record = self.datasets[dataset_id]
                fee = fee_of(amount, record.fee_bps)
                available[dataset_id] -= amount + fee
                paid[record.token] += amount
                fees[record.token] += fee
        root = self._root(self._entitle(base, paid, weights, rewards))
        epoch = accepted_epoch + 1
        if mistake in ("repeat the epoch", "skip an epoch"):
            epoch += -1 if mistake == "repeat the epoch" else 1
        ids_arg = [*dataset_ids, NOWHERE] if mistake == "length mismatch" else dataset_ids
        payout_root = ZERO_HASH if mistake == "empty root" else root.root
        call = Call(
            self.ledger,
            "proposeEpoch",
            (epoch, payout_root, LABEL_ROOT, CONTENT_HASH, ids_arg, amounts),
        )
        # the contract's order of checks
        ordered = [
            self._unauthorized(proposer, ROOT_PROPOSER_ROLE, self.world.proposer),
            revert("EpochEmptyRoot") if payout_root == ZERO_HASH else None,
            revert("EpochPending", self.pending.epoch)
            if self.pending is not None and not accepting
            else None,
            revert("EpochOutOfOrder", epoch, accepted_epoch + 1)
            if epoch != accepted_epoch + 1
            else None,
            revert("EpochDebitsLengthMismatch", len(ids_arg), len(amounts))
            if len(ids_arg) != len(amounts)
            else None,
            expected,
        ]
        refusal = next((e for e in ordered if e is not None), None)
        if refusal is not None:
            self._refused(call, proposer, refusal)
            return
        receipt = self._send(call, proposer)
        proposed_at = self.node.timestamp(receipt["blockNumber"])
        if accepting:
            assert self.pending is not None
            assert self._events(receipt, "EpochAccepted") == [
                (self.pending.epoch, self.pending.root.root)
            ]
            self._accept()
        else:
            assert self._events(receipt, "EpochAccepted") == []
        assert self._events(receipt, "EpochProposed") == [
            (
                epoch,
                root.root,
                LABEL_ROOT,
                CONTENT_HASH,
                dataset_ids,
                amounts,
                proposed_at + TIMELOCK,
            )
        ]
        for dataset_id, amount in zip(dataset_ids, amounts, strict=True):
            record = self.datasets[dataset_id]
            self.datasets[dataset_id] = replace(
                record,
                available=record.available - amount - fee_of(amount, record.fee_bps),
                debited=record.debited + amount,
            )
        for token in TOKENS:
            owed, fee_pool = self.states[token]
            self.states[token] = (owed + paid[token], fee_pool + fees[token])
        self.pending = Pending(epoch, root, tuple(dataset_ids), tuple(amounts), proposed_at)
        self.commitments[epoch] = commitment_of(root.root)

    def _entitle(
        self,
        base: dict[tuple[str, int], tuple[int, int]],
        paid: dict[int, int],
        weights: list[int],
        rewards: list[int],
    ) -> dict[tuple[str, int], tuple[int, int]]:
        """`base` plus, per token, exactly what was paid shared by `weights`, and LABEL."""
        entitled = dict(base)
        for index, token in enumerate(TOKENS):
            token_weights = weights[index * ANNOTATORS : (index + 1) * ANNOTATORS]
            shares = split(paid[token], token_weights)
            for n, (annotator, share) in enumerate(zip(self.world.annotators, shares, strict=True)):
                payment, reward = entitled[(annotator.address, token)]
                entitled[(annotator.address, token)] = (
                    payment + share,
                    reward + rewards[index * ANNOTATORS + n],
                )
        return entitled

    def _plan_debit(
        self, pick: int, kind: str, noise: int, available: dict[int, int]
    ) -> tuple[int, int] | None:
        """One (dataset, debit) of a proposal; None when no dataset has funds for a fitting one."""
        if kind in ("unknown dataset", "closed dataset"):
            closed = [d for d in self.opened if self.datasets[d].status == CLOSED]
            targets = [NOWHERE] if kind == "unknown dataset" else closed
            return (targets[pick % len(targets)], noise % MAX_DEPOSIT) if targets else None
        debitable = [d for d in self.opened if self.datasets[d].status != CLOSED]
        if kind == "zero":
            return (debitable[pick % len(debitable)], 0) if debitable else None
        if kind in ("fits", "all of it"):
            candidates = [
                d for d in debitable if largest_debit(available[d], self.datasets[d].fee_bps) > 0
            ]
            if not candidates:
                return None
            dataset_id = candidates[pick % len(candidates)]
            most = largest_debit(available[dataset_id], self.datasets[dataset_id].fee_bps)
            return dataset_id, most if kind == "all of it" else 1 + noise % most
        if not debitable:
            return None
        dataset_id = debitable[pick % len(debitable)]
        most = largest_debit(available[dataset_id], self.datasets[dataset_id].fee_bps)
        return dataset_id, most + (1 if kind == "one too much" else 1 + noise % MAX_DEPOSIT)

    def _debit_refusal(self, dataset_id: int, amount: int, available: dict[int, int]) -> str | None:
        """What `_debit` reverts with, in its order of checks."""
        record = self.datasets.get(dataset_id)
        if record is None:
            return revert("DatasetUnknown", dataset_id)
        if record.status == CLOSED:
            return revert("DatasetIsClosed", dataset_id)
        needed = amount + fee_of(amount, record.fee_bps)
        if needed > available[dataset_id]:
            return revert("DatasetInsufficientFunds", dataset_id, available[dataset_id], needed)
        return None

    def _root(self, entitled: dict[tuple[str, int], tuple[int, int]]) -> Root:
        """Every annotator's cumulatives in every payment token, zeros included."""
        values = [
            [annotator.address, token, *entitled[(annotator.address, token)]]
            for annotator in self.world.annotators
            for token in TOKENS
        ]
        return Root(StandardMerkleTree.of(values, PAYOUT_ENCODING), entitled)

    def _accept(self) -> None:
        assert self.pending is not None
        self.accepted.append(self.pending.root)
        self.entitled = self.pending.root.entitled
        self.pending = None

    @precondition(lambda self: self.pending is not None)
    @rule(caller=actor_indices, wait=st.booleans(), again=st.booleans())
    def accept_epoch(self, caller: int, wait: bool, again: bool) -> None:
        """Anyone accepts the pending epoch once its timelock has passed (often after waiting
        for it); before, it is refused with the time it becomes acceptable. Once accepted,
        nothing is pending."""
        sender = self.world.actors[caller]
        self._begin(sender, "accept")
        pending = self.pending
        assert pending is not None
        if wait:
            self._travel("past the timelock")
        call = Call(self.ledger, "acceptEpoch")
        if self._before(pending.acceptable_at):
            expected = revert("EpochTimelocked", pending.epoch, pending.acceptable_at)
            self._refused(call, sender, expected)
            return
        receipt = self._send(call, sender)
        assert self._events(receipt, "EpochAccepted") == [(pending.epoch, pending.root.root)]
        self._accept()
        if again:
            self._refused(call, sender, revert("EpochNonePending"))

    @precondition(lambda self: self.pending is not None)
    @rule(
        caller=mostly(st.none(), *range(ACTORS)),
        mistake=mostly(st.none(), "other debits", "other datasets", "fees withdrawn"),
        again=st.booleans(),
    )
    def revoke_epoch(self, caller: int | None, mistake: str | None, again: bool) -> None:
        """The guardian drops the pending epoch with the lists it was proposed with, within its
        timelock: every debit and its fee go back to their datasets, even when the admin has
        withdrawn fees since the proposal (`withdrawFees` leaves the pending epoch's alone).
        Other lists, another sender, or a revoke after the timelock are refused."""
        pending = self.pending
        if mistake == "fees withdrawn" and pending is not None:
            charged = {self.datasets[d].token for d in pending.dataset_ids if d in self.datasets}
            for token in sorted(charged):
                self.withdraw_fees(token, "treasury", None)
            mistake = None
        sender = self.world.guardian if caller is None else self.world.actors[caller]
        self._begin(sender, "revoke")
        dataset_ids = list(pending.dataset_ids) if pending else []
        debits = list(pending.debits) if pending else []
        if mistake == "other debits":
            debits = [*debits[:-1], debits[-1] + 1] if debits else [1]
            dataset_ids = dataset_ids or [self._pick(0)]
        elif mistake == "other datasets":
            dataset_ids, debits = [*dataset_ids, NOWHERE], [*debits, 0]
        call = Call(self.ledger, "revokeEpoch", (dataset_ids, debits))
        expected = self._unauthorized(sender, GUARDIAN_ROLE, self.world.guardian)
        if expected is None and pending is None:
            expected = revert("EpochNonePending")
        if expected is None and pending is not None and not self._before(pending.acceptable_at):
            expected = revert("EpochRevokeWindowClosed", pending.epoch, pending.acceptable_at)
        if expected is None and pending is not None and mistake is not None:
            expected = revert(
                "EpochDebitsMismatch",
                debits_hash(pending.dataset_ids, pending.debits),
                debits_hash(dataset_ids, debits),
            )
        states = dict(self.states)
        expected = expected or self._undo_refusal(dataset_ids, debits, states)
        if expected is not None:
            self._refused(call, sender, expected)
            return
        assert pending is not None
        receipt = self._send(call, sender)
        assert self._events(receipt, "EpochRevoked") == [(pending.epoch,)]
        self.states = states
        for dataset_id, debit in zip(dataset_ids, debits, strict=True):
            record = self.datasets[dataset_id]
            self.datasets[dataset_id] = replace(
                record,
                available=record.available + debit + fee_of(debit, record.fee_bps),
                debited=record.debited - debit,
            )
        del self.commitments[pending.epoch]
        self.pending = None
        if again:
            self._refused(call, sender, revert("EpochNonePending"))

    def _undo_refusal(
        self, dataset_ids: list[int], debits: list[int], states: dict[int, tuple[int, int]]
    ) -> str | None:
        """What `_undoDebit` reverts with over the lists, if anything; it updates `states`."""
        for dataset_id, debit in zip(dataset_ids, debits, strict=True):
            record = self.datasets[dataset_id]
            owed, fees = states[record.token]
            fee = fee_of(debit, record.fee_bps)
            if owed < debit:
                return revert("LedgerOwedShortfall", record.token, owed, debit)
            assert fees >= fee, "withdrawFees left the pending epoch's fees in place"
            states[record.token] = (owed - debit, fees - fee)
        return None

    # -- claims --

    def _root_for(self, which: str) -> Root:
        """The accepted root, an older accepted one, or the pending one (not claimable yet);
        whichever there is when there is no such root (a rule runs only when one of them is)."""
        pending = [self.pending.root] if self.pending else []
        roots = {
            "accepted": self.accepted[-1:],
            "older": self.accepted[-2:-1] or self.accepted[-1:],
            "pending": pending,
        }[which]
        return (roots or self.accepted[-1:] or pending)[0]

    def _leaf(self, account: str, token: int, which: str) -> Leaf:
        """The leaf and proof of `account` in `token` from `_root_for(which)`."""
        return self._root_for(which).leaf(account, token)

    def _predict_pay(
        self,
        leaf: Leaf,
        claimed: dict[tuple[str, int], tuple[int, int]],
        states: dict[int, tuple[int, int]],
    ) -> tuple[str | None, int, int]:
        """`_pay` for one proven leaf: the refusal, else (None, payment, reward); it updates
        the `claimed` and `states` given."""
        done_payment, done_reward = claimed[(leaf.account, leaf.token)]
        payment = max(leaf.payment - done_payment, 0)
        reward = max(leaf.reward - done_reward, 0)
        owed, fees = states[leaf.token]
        if payment > owed:
            return revert("LedgerOwedShortfall", leaf.token, owed, payment), 0, 0
        claimed[(leaf.account, leaf.token)] = (
            max(leaf.payment, done_payment),
            max(leaf.reward, done_reward),
        )
        states[leaf.token] = (owed - payment, fees)
        return None, payment, reward

    def _paid(self, receipt: TxReceipt, paid: list[tuple[str, int, int, int]]) -> None:
        """The model follows the payments the chain made, which must be the predicted ones."""
        assert self._events(receipt, "Claimed") == paid
        for account, token, payment, reward in paid:
            self._move(token, self.ledger_address, account, payment)
            self.supply[self.ledger_address] += reward
            self.balances[(self.ledger_address, account)] += reward

    def _claim(self, caller: LocalAccount, leaf: Leaf) -> None:
        call = Call(
            self.ledger, "claim", (leaf.account, leaf.token, leaf.payment, leaf.reward, leaf.proof)
        )
        proven = bool(self.accepted) and self.accepted[-1].tree.verify(leaf.value, leaf.proof)
        claimed, states = dict(self.claimed), dict(self.states)
        expected = self._not_paused()
        if expected is None and not proven:
            expected = revert("ClaimInvalidProof", leaf.account, leaf.token)
        payment = reward = 0
        if expected is None:
            expected, payment, reward = self._predict_pay(leaf, claimed, states)
        if expected is not None:
            self._refused(call, caller, expected)
            return
        receipt = self._send(call, caller)
        self._paid(
            receipt, [(leaf.account, leaf.token, payment, reward)] if payment or reward else []
        )
        self.claimed, self.states = claimed, states

    def _claim_many(self, caller: LocalAccount, root: Root, leaves: list[Leaf]) -> None:
        """claimMany with the multiproof of `leaves` in `root`, in the order it lists them."""
        ordered, proof, flags = multiproof(root.tree, [leaf.value for leaf in leaves])
        by_value = {json.dumps([str(v) for v in leaf.value]): leaf for leaf in leaves}
        in_order = [by_value[json.dumps([str(v) for v in value])] for value in ordered]
        args = [(leaf.account, leaf.token, leaf.payment, leaf.reward) for leaf in in_order]
        call = Call(self.ledger, "claimMany", (args, proof, flags))
        proven = bool(self.accepted) and root.root == self.accepted[-1].root
        claimed, states = dict(self.claimed), dict(self.states)
        expected = self._not_paused()
        if expected is None and not proven:
            expected = revert("ClaimInvalidMultiproof")
        paid: list[tuple[str, int, int, int]] = []
        for leaf in in_order if expected is None else []:
            expected, payment, reward = self._predict_pay(leaf, claimed, states)
            if expected is not None:
                break
            if payment or reward:
                paid.append((leaf.account, leaf.token, payment, reward))
        if expected is not None:
            self._refused(call, caller, expected)
            return
        receipt = self._send(call, caller)
        self._paid(receipt, paid)
        self.claimed, self.states = claimed, states

    @precondition(lambda self: self.accepted)
    @rule(
        caller=st.none() | actor_indices,
        annotator=annotator_indices,
        token=st.sampled_from(TOKENS),
        which=mostly(st.just("accepted"), "older", "pending"),
        twice=st.booleans(),
    )
    def claim(
        self, caller: int | None, annotator: int, token: int, which: str, twice: bool
    ) -> None:
        """An annotator claims one leaf (or anyone does for them), sometimes with a leaf of an
        older or of the pending root, sometimes twice: the second pays nothing."""
        account = self.world.annotators[annotator]
        sender = account if caller is None else self.world.actors[caller]
        self._begin(sender, "claim")
        leaf = self._leaf(account.address, token, which)
        self._claim(sender, leaf)
        if twice:
            before = observe(self.world, self.reader, [], 0)
            self._claim(sender, leaf)
            after = observe(self.world, self.reader, [], 0)
            assert after.balances == before.balances, "a repeated claim paid again"
            assert after.supply == before.supply

    @precondition(lambda self: self.accepted)
    @rule(
        caller=actor_indices,
        pairs=st.lists(
            st.tuples(annotator_indices, st.sampled_from(TOKENS)),
            min_size=1,
            max_size=6,
            unique=True,
        ),
        which=mostly(st.just("accepted"), "older", "pending"),
        twice=st.booleans(),
    )
    def claim_many(
        self, caller: int, pairs: list[tuple[int, int]], which: str, twice: bool
    ) -> None:
        """Anyone pushes several annotators' payouts with one multiproof; pushing the same
        leaves again pays nothing."""
        sender = self.world.actors[caller]
        self._begin(sender, "claim many")
        root = self._root_for(which)
        leaves = [root.leaf(self.world.annotators[a].address, t) for a, t in pairs]
        self._claim_many(sender, root, leaves)
        if twice:
            before = observe(self.world, self.reader, [], 0)
            self._claim_many(sender, root, leaves)
            after = observe(self.world, self.reader, [], 0)
            assert after.balances == before.balances, "a repeated push paid again"

    @precondition(lambda self: self.supply[self.ledger_address])
    @rule(
        holder=annotator_indices,
        to=mostly(st.none(), *range(ACTORS)),
        share=st.integers(1, 4),
        extra=mostly(st.just(0), 1),
    )
    def transfer_label(self, holder: int, to: int | None, share: int, extra: int) -> None:
        """An annotator holding LABEL moves some or all of it (or more than it has), usually to
        another annotator who has claimed: balance and claimed counters share a storage word,
        and the counters must not move."""
        label = self.ledger_address
        holding = [a for a in self.world.annotators if self.balances[(label, a.address)]]
        sender = holding[holder % len(holding)] if holding else self.world.annotators[holder]
        self._begin(sender, "transfer LABEL")
        if to is None:
            claimers = [
                a.address
                for a in self.world.annotators
                if a.address != sender.address
                and any(self.claimed[(a.address, t)] != (0, 0) for t in TOKENS)
            ]
            target = claimers[holder % len(claimers)] if claimers else self.world.admin.address
        else:
            target = self.world.actors[to].address
        if target == self.world.attacker.address:
            target = self.world.admin.address  # nobody hands the attacker anything
        balance = self.balances[(label, sender.address)]
        amount = balance * share // 4 + extra * (balance + 1)
        call = Call(self.ledger, "transfer", (target, amount))
        if amount > balance:
            self._refused(
                call, sender, revert("ERC20InsufficientBalance", sender.address, balance, amount)
            )
            return
        self._send(call, sender)
        self.balances[(self.ledger_address, sender.address)] -= amount
        self.balances[(self.ledger_address, target)] += amount

    # -- the admin's and the pauser's moves --

    @rule(caller=mostly(st.none(), *range(ACTORS)))
    def pause_or_unpause(self, caller: int | None) -> None:
        """The pauser flips the pause (twice the same way is refused); anyone else is refused."""
        sender = self.world.pauser if caller is None else self.world.actors[caller]
        self._begin(sender, "pause")
        function = "unpause" if self.paused else "pause"
        if caller is not None and caller % 3 == 1:
            function = "pause" if self.paused else "unpause"  # the wrong way round
        call = Call(self.ledger, function)
        expected = self._unauthorized(sender, PAUSER_ROLE, self.world.pauser)
        if expected is None and (function == "pause") == self.paused:
            expected = revert("LedgerPaused" if self.paused else "LedgerNotPaused")
        if expected is not None:
            self._refused(call, sender, expected)
            return
        receipt = self._send(call, sender)
        assert self._events(receipt, "Paused" if function == "pause" else "Unpaused") == [
            (sender.address,)
        ]
        self.paused = function == "pause"

    @rule(
        act=st.sampled_from(("set the fee", "withdraw fees")),
        fee_bps=mostly(st.integers(0, MAX_FEE_BPS), MAX_FEE_BPS + 1),
        token=mostly(st.sampled_from(TOKENS), 0, UNLISTED),
        treasury=mostly(st.just("treasury"), "zero"),
        caller=mostly(st.none(), *range(ACTORS)),
    )
    def admin_acts(
        self, act: str, fee_bps: int, token: int, treasury: str, caller: int | None
    ) -> None:
        """The admin sets the fee or withdraws fees (anyone else is refused)."""
        if act == "set the fee":
            self.admin_sets_fee(fee_bps, caller)
        else:
            if token in TOKENS:  # usually one with fees to withdraw
                accrued = [t for t in TOKENS if self.states[t][1]] or list(TOKENS)
                token = accrued[token % len(accrued)]
            self.withdraw_fees(token, treasury, caller)

    def admin_sets_fee(self, fee_bps: int, caller: int | None) -> None:
        """The admin sets the fee for datasets created from now on; above MAX_FEE_BPS is refused."""
        sender = self.world.admin if caller is None else self.world.actors[caller]
        self._begin(sender, "set fee")
        call = Call(self.ledger, "setFeeBps", (fee_bps,))
        expected = self._unauthorized(sender, ADMIN_ROLE, self.world.admin)
        if expected is None and fee_bps > MAX_FEE_BPS:
            expected = revert("LedgerFeeTooHigh", fee_bps, MAX_FEE_BPS)
        if expected is not None:
            self._refused(call, sender, expected)
            return
        self._send(call, sender)
        self.fee_bps = fee_bps

    def withdraw_fees(self, token: int, treasury: str, caller: int | None) -> None:
        """The admin sends a token's accrued fees to the treasury, except those the pending
        epoch took while the guardian may still revoke it."""
        sender = self.world.admin if caller is None else self.world.actors[caller]
        self._begin(sender, "withdraw fees")
        to = self.world.treasury if treasury == "treasury" else ZERO_ADDRESS
        call = Call(self.ledger, "withdrawFees", (token, to))
        expected = self._unauthorized(sender, ADMIN_ROLE, self.world.admin)
        if expected is None and to == ZERO_ADDRESS:
            expected = revert("LedgerZeroAddress")
        if expected is None and token not in TOKENS:
            expected = revert("LedgerUnknownToken", token)
        if expected is not None:
            self._refused(call, sender, expected)
            return
        owed, fees = self.states[token]
        reserved = self._revocable_fees(token)
        receipt = self._send(call, sender)
        assert self._events(receipt, "FeesWithdrawn") == [(token, to, fees - reserved)]
        self._move(token, self.ledger_address, to, fees - reserved)
        self.states[token] = (owed, reserved)

    def _revocable_fees(self, token: int) -> int:
        """The fees the pending epoch took in `token`, while the guardian may still revoke it."""
        pending = self.pending
        if pending is None or not self._before(pending.acceptable_at):
            return 0
        return sum(
            fee_of(debit, self.datasets[dataset_id].fee_bps)
            for dataset_id, debit in zip(pending.dataset_ids, pending.debits, strict=True)
            if self.datasets[dataset_id].token == token
        )

    # -- the attacker --

    def _attack_request_close(self, strike: Strike) -> None:
        """Start closing someone else's dataset."""
        attacker = self.world.attacker.address
        theirs = [d for d in self.opened if self.datasets[d].buyer != attacker]
        dataset_id = theirs[strike.amount % len(theirs)] if theirs else NOWHERE
        expected = (
            revert("DatasetUnknown", dataset_id)
            if dataset_id == NOWHERE
            else revert("DatasetNotBuyer", dataset_id, attacker)
        )
        self._refused(
            Call(self.ledger, "requestClose", (dataset_id,)), self.world.attacker, expected
        )

    def _attack_finalize_early(self, strike: Strike) -> None:
        """Finish a close before its grace period is over, or one nobody started."""
        early = [
            d
            for d in self.opened
            if self.datasets[d].status == OPEN
            or (
                self.datasets[d].status == CLOSING
                and self._before(self.datasets[d].close_requested_at + GRACE)
            )
        ]
        if not early:
            return
        dataset_id = early[strike.amount % len(early)]
        record = self.datasets[dataset_id]
        expected = (
            revert("DatasetNotClosing", dataset_id, OPEN)
            if record.status == OPEN
            else revert("DatasetCloseNotDue", dataset_id, record.close_requested_at + GRACE)
        )
        self._refused(
            Call(self.ledger, "finalizeClose", (dataset_id,)), self.world.attacker, expected
        )

    def _attack_fund_closing(self, strike: Strike) -> None:
        """Put money into a closing or closed dataset, which would only go back to its buyer."""
        shut = [d for d in self.opened if self.datasets[d].status != OPEN]
        if not shut:
            return
        dataset_id = shut[strike.amount % len(shut)]
        record = self.datasets[dataset_id]
        if record.token == FOT:
            return
        self._prepare(self.world.attacker, record.token, strike.amount, "mint and approve")
        expected = self._not_paused() or revert("DatasetNotOpen", dataset_id, record.status)
        call = Call(self.ledger, "fund", (dataset_id, strike.amount))
        self._refused(call, self.world.attacker, expected)

    def _attack_propose(self, strike: Strike) -> None:
        """Propose a root entitling the attacker, debiting a dataset to pay for it."""
        attacker = self.world.attacker.address
        tree = StandardMerkleTree.of(
            [[attacker, strike.token, strike.amount, strike.amount]], PAYOUT_ENCODING
        )
        call = Call(
            self.ledger,
            "proposeEpoch",
            (
                len(self.accepted) + 1,
                bytes.fromhex(tree.root[2:]),
                LABEL_ROOT,
                CONTENT_HASH,
                [strike.dataset_id],
                [strike.amount],
            ),
        )
        expected = revert("AccessControlUnauthorizedAccount", attacker, ROOT_PROPOSER_ROLE)
        self._refused(call, self.world.attacker, expected)

    def _attack_revoke(self, strike: Strike) -> None:
        """Revoke the pending epoch (its debits would go back to the datasets)."""
        pending = self.pending
        lists = ([*pending.dataset_ids], [*pending.debits]) if pending else ([], [])
        expected = revert(
            "AccessControlUnauthorizedAccount", self.world.attacker.address, GUARDIAN_ROLE
        )
        self._refused(Call(self.ledger, "revokeEpoch", lists), self.world.attacker, expected)

    def _attack_admin(self, strike: Strike) -> None:
        """Everything the admin may do: fees, the allowlist, roles."""
        attacker = self.world.attacker.address
        calls = [
            Call(self.ledger, "withdrawFees", (strike.token, attacker)),
            Call(self.ledger, "setFeeBps", (strike.amount % (MAX_FEE_BPS + 1),)),
            Call(self.ledger, "listToken", (attacker,)),
            Call(self.ledger, "grantRole", (ROOT_PROPOSER_ROLE, attacker)),
            Call(self.ledger, "grantRole", (ADMIN_ROLE, attacker)),
            Call(self.ledger, "revokeRole", (GUARDIAN_ROLE, self.world.guardian.address)),
        ]
        call = calls[strike.amount % len(calls)]
        expected = revert("AccessControlUnauthorizedAccount", attacker, ADMIN_ROLE)
        self._refused(call, self.world.attacker, expected)

    def _attack_pause(self, strike: Strike) -> None:
        call = Call(self.ledger, "unpause" if strike.amount % 2 else "pause")
        expected = revert(
            "AccessControlUnauthorizedAccount", self.world.attacker.address, PAUSER_ROLE
        )
        self._refused(call, self.world.attacker, expected)

    def _forged_claim(self, leaf: Leaf) -> None:
        expected = self._not_paused() or revert("ClaimInvalidProof", leaf.account, leaf.token)
        call = Call(
            self.ledger, "claim", (leaf.account, leaf.token, leaf.payment, leaf.reward, leaf.proof)
        )
        self._refused(call, self.world.attacker, expected)

    def _attack_inflate_claim(self, strike: Strike) -> None:
        """The victim's real proof with a larger cumulative (the tokens would even go to them)."""
        if not self.accepted:
            return
        real = self._leaf(strike.victim, strike.token, "accepted")
        if strike.amount % 2:
            self._forged_claim(replace(real, payment=real.payment + strike.amount))
        else:
            self._forged_claim(replace(real, reward=real.reward + strike.amount))

    def _attack_claim_victims_leaf(self, strike: Strike) -> None:
        """The victim's leaf and proof, claimed for the attacker's own account."""
        if not self.accepted:
            return
        real = self._leaf(strike.victim, strike.token, "accepted")
        self._forged_claim(replace(real, account=self.world.attacker.address))

    def _attack_forged_push(self, strike: Strike) -> None:
        """A multiproof of real leaves, one of them inflated."""
        if not self.accepted:
            return
        root = self.accepted[-1]
        leaves = [root.leaf(a.address, strike.token) for a in self.world.annotators]
        ordered, proof, flags = multiproof(root.tree, [leaf.value for leaf in leaves])
        args = [(v[0], int(str(v[1])), int(str(v[2])), int(str(v[3]))) for v in ordered]
        victim = strike.amount % len(args)
        account, token, payment, reward = args[victim]
        args[victim] = (account, token, payment + strike.amount, reward)
        expected = self._not_paused() or revert("ClaimInvalidMultiproof")
        self._refused(
            Call(self.ledger, "claimMany", (args, proof, flags)), self.world.attacker, expected
        )

    def _attack_spend_approval(self, strike: Strike) -> None:
        """Buyers approve only the ledger: nobody else can draw on it, neither on a payment
        token nor on LABEL."""
        buyer = self.world.buyers[strike.amount % BUYERS].address
        attacker = self.world.attacker.address
        contract = self.ledger if strike.amount % 3 == 0 else self._token(strike.token)
        call = Call(contract, "transferFrom", (buyer, attacker, strike.amount))
        self._refused(
            call,
            self.world.attacker,
            revert("ERC20InsufficientAllowance", attacker, 0, strike.amount),
        )

    def _attack_fund_with_victims_permit(self, strike: Strike) -> None:
        """Fund with a permit a buyer signed for themselves: the permit names its signer as the
        owner, so from the attacker it is ignored, and the attacker's own allowance decides."""
        open_ = [d for d in self.opened if self.datasets[d].status == OPEN]
        if not open_ or self.paused:
            return
        dataset_id = open_[strike.amount % len(open_)]
        token = self.datasets[dataset_id].token
        if token == FOT:
            return
        buyer = self.world.buyers[strike.amount % BUYERS]
        v, r, s = self._permit(buyer, token, strike.amount)
        call = Call(
            self.ledger, "fundWithPermit", (dataset_id, strike.amount, PERMIT_DEADLINE, v, r, s)
        )
        allowance = self.allowances[(token, self.world.attacker.address)]
        if allowance >= strike.amount:
            return  # the attacker's own approval would fund it, legitimately
        expected = revert(
            "ERC20InsufficientAllowance", self.ledger_address, allowance, strike.amount
        )
        self._refused(call, self.world.attacker, expected)

    ATTACKS: ClassVar[dict[str, Callable[[LedgerAccounting, Strike], None]]] = {
        "start closing another's dataset": _attack_request_close,
        "finalize a close early": _attack_finalize_early,
        "fund a closing or closed dataset": _attack_fund_closing,
        "propose an epoch": _attack_propose,
        "revoke the pending epoch": _attack_revoke,
        "act as the admin": _attack_admin,
        "pause or unpause": _attack_pause,
        "inflate a victim's cumulative": _attack_inflate_claim,
        "claim a victim's leaf as its own": _attack_claim_victims_leaf,
        "push a forged multiproof": _attack_forged_push,
        "spend a buyer's approval": _attack_spend_approval,
        "fund with a buyer's permit": _attack_fund_with_victims_permit,
    }

    @rule(
        attack=st.sampled_from(sorted(ATTACKS)),
        dataset=dataset_picks,
        victim=annotator_indices,
        token=st.sampled_from(TOKENS),
        amount=st.integers(1, MAX_DEPOSIT),
    )
    def attacker_strikes(
        self, attack: str, dataset: int, victim: int, token: int, amount: int
    ) -> None:
        """Whatever the attacker tries on what is not theirs fails, and moves nothing."""
        self._begin(self.world.attacker, "attack")
        strike = Strike(
            dataset_id=self._pick(dataset),
            victim=self.world.annotators[victim].address,
            token=token,
            amount=amount,
        )
        self.ATTACKS[attack](self, strike)

    # -- the invariants, on the chain's own views after every step --

    def _observe(self) -> Observed:
        if self._observed is None:
            epochs = max([*self.commitments, len(self.accepted)], default=0) + 1
            self._observed = observe(self.world, self.reader, [*self.opened, NOWHERE], epochs)
        return self._observed

    def _balances_of(self, seen: Observed, holder: str) -> dict[str, int]:
        return {token: seen.balances[(token, holder)] for token in self.world.token_addresses}

    @invariant()
    def ledger_holds_exactly_what_it_owes(self) -> None:
        """Per payment token: balance >= undebited funds + owed + fees, and in this design
        exactly equal (anything above would be stuck; anything below, unpaid)."""
        seen = self._observe()
        for token in TOKENS:
            address = self._address(token)
            undebited = sum(r.available for r in seen.datasets.values() if r.token == token)
            owed, fees = seen.states[token]
            held = seen.balances[(address, self.ledger_address)]
            assert held >= undebited + owed + fees, f"the ledger is short of token {token}"
            assert held == undebited + owed + fees, f"the ledger holds stray token {token}"

    @invariant()
    def owed_is_what_annotators_have_not_claimed(self) -> None:
        """What the latest root (pending, else accepted) entitles to and is not claimed yet."""
        seen = self._observe()
        latest = self.pending.root.entitled if self.pending else self.entitled
        for token in TOKENS:
            unclaimed = sum(
                latest[(a.address, token)][0] - seen.claimed[(a.address, token)][0]
                for a in self.world.annotators
            )
            assert seen.states[token][0] == unclaimed

    @invariant()
    def nobody_claims_beyond_the_accepted_entitlement(self) -> None:
        seen = self._observe()
        for (account, token), (payment, reward) in seen.claimed.items():
            entitled_payment, entitled_reward = self.entitled.get((account, token), (0, 0))
            assert payment <= entitled_payment, f"{account} claimed beyond its payment"
            assert reward <= entitled_reward, f"{account} claimed beyond its LABEL"

    @invariant()
    def label_supply_is_label_claimed(self) -> None:
        seen = self._observe()
        label = self.ledger_address
        claimed = sum(reward for _, reward in seen.claimed.values())
        assert seen.supply[label] == claimed
        assert sum(seen.balances[(label, h)] for h in self.world.holders) == claimed

    @invariant()
    def tokens_stay_with_known_holders(self) -> None:
        seen = self._observe()
        for token in self.world.token_addresses:
            held = sum(seen.balances[(token, holder)] for holder in self.world.holders)
            assert seen.supply[token] - held == self.outside_supply[token]

    @invariant()
    def buyers_funds_fall_only_by_their_own_hand(self) -> None:
        """A buyer's balances never fall in a step someone else sent (a refund by anyone, or a
        gift of LABEL, only raises them)."""
        seen = self._observe()
        for buyer in self.world.buyers:
            now = self._balances_of(seen, buyer.address)
            if buyer.address != self.sender:
                before = self.buyer_balances[buyer.address]
                assert all(now[t] >= before[t] for t in now), (
                    f"buyer {buyer.address}'s balances fell in a {self.step} sent by {self.sender}"
                )
            self.buyer_balances[buyer.address] = now

    @invariant()
    def escrowed_funds_leave_only_by_an_epoch_or_a_due_close(self) -> None:
        """A dataset's undebited funds shrink only in a proposal by the root proposer or a
        finalized close; only its buyer starts a close; buyer, token and fee never change."""
        seen = self._observe()
        for dataset_id, record in seen.datasets.items():
            before = self.dataset_records.get(dataset_id, NO_DATASET)
            if before != NO_DATASET:
                assert (record.buyer, record.token, record.fee_bps) == (
                    before.buyer,
                    before.token,
                    before.fee_bps,
                )
            if record.available < before.available:
                assert (self.step, self.sender) == ("propose", self.world.proposer.address) or (
                    self.step == "finalize close" and record.status == CLOSED
                ), f"funds of {dataset_id} left in a {self.step} sent by {self.sender}"
            if record.status != before.status and before != NO_DATASET:
                if record.status == CLOSING:
                    assert self.sender == record.buyer
                else:
                    assert (record.status, self.step) == (CLOSED, "finalize close")
                    assert record.close_requested_at + GRACE <= self.node.timestamp()
            self.dataset_records[dataset_id] = record

    @invariant()
    def attacker_gains_nothing(self) -> None:
        seen = self._observe()
        attacker = self.world.attacker.address
        assert seen.balances[(self.ledger_address, attacker)] == 0
        assert not any(seen.claimed[(attacker, token)] != (0, 0) for token in TOKENS)
        assert not any(seen.roles.values())

    @invariant()
    def the_chain_equals_the_model(self) -> None:
        seen = self._observe()
        assert seen.datasets == {**self.datasets, NOWHERE: NO_DATASET}
        assert seen.balances == self.balances
        assert seen.supply == self.supply
        assert seen.states == self.states
        assert seen.claimed == self.claimed
        assert seen.accepted_epoch == len(self.accepted)
        assert seen.payout_root == (self.accepted[-1].root if self.accepted else ZERO_HASH)
        pending = self.pending
        expected_pending = (
            (pending.epoch, pending.root.root, pending.proposed_at)
            if pending
            else (0, ZERO_HASH, 0)
        )
        assert seen.pending == expected_pending
        assert {e: c for e, c in seen.commitments.items() if c != ZERO_HASH} == self.commitments
        assert seen.paused == self.paused
        assert seen.fee_bps == self.fee_bps


SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,  # a step is a few real transactions
    database=None,  # the seed, not a local database, decides what runs
    suppress_health_check=[HealthCheck.too_slow],
)


def test_accounting_identities_hold_for_any_sequence(world: World) -> None:
    @seed(SEED)
    class Machine(LedgerAccounting):
        def __init__(self) -> None:
            super().__init__(world)

    run_state_machine_as_test(Machine, settings=SETTINGS)
