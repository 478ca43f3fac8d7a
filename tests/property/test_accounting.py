"""Property tests of the escrow and distributor accounting, against the real contracts on Anvil.

A Hypothesis state machine sends random sequences of real transactions (datasets opened and
funded, epochs posted with random debits and entitlements, claims by annotators and by others on
their behalf, closes with refunds, and an attacker's attempts at everything that is not theirs)
and keeps a plain Python model of what every balance and record should be. Each refusal must be
the exact custom error the model predicts, both simulated and as a mined transaction, and must
leave everything as it was. After every step these hold on chain:

* per payment token, the escrow holds at least, and by design exactly, the undebited funds of its
  open datasets plus the debited-but-unclaimed pool (``owed``);
* ``owed`` equals what annotators are entitled to and have not claimed yet;
* no account has claimed more than its latest cumulative entitlement;
* LABEL's total supply equals the LABEL claimed;
* no token leaves the set of known holders (supply minus their balances never moves);
* a buyer's balances change only in steps the buyer sent (their own deposits and refunds); a
  dataset's undebited funds shrink only when its buyer closes it or the operator posts an epoch;
* the attacker never gains LABEL or a claim;
* the chain equals the model: every dataset record, balance, supply, ``owed``, ``claimed``, the
  epoch and its root.

Each example runs inside an ``evm_snapshot``/``evm_revert`` pair, so examples are independent.
CI runs a fixed seed and a fixed budget. To run longer, or with another seed::

    LABEL_LEDGER_PROPERTY_EXAMPLES=2000 LABEL_LEDGER_PROPERTY_SEED=7 \\
        .venv/bin/python -m pytest tests/property -q

(``LABEL_LEDGER_PROPERTY_STEPS`` sets the steps per example; see tests/property/README.md.)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar

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
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import RPCEndpoint, TxReceipt

from ledger.chain.client import ChainTransactionFailed, account_from_key
from ledger.merkle import StandardMerkleTree
from tests.support import Chain

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

# --- the cast and the amounts ---

BUYERS = 3
ANNOTATORS = 4
PAYMENT_TOKENS = 2
SALTS = 6  # few salts per creator, so a creator sometimes reuses one (EscrowDatasetExists)
DUSD = 10**6  # both payment tokens have 6 decimals
LABEL = 10**18
MAX_DEPOSIT = 5_000 * DUSD
MINED_REVERT_GAS = 3_000_000
ZERO_ADDRESS = "0x" + "00" * 20
ZERO_ROOT = b"\x00" * 32
# a dataset id nobody created: what every "unknown dataset" move aims at
NOWHERE = keccak(text="label-ledger property test: a dataset nobody created")

T = TypeVar("T")


def role_account(role: str) -> LocalAccount:
    """A fixed key per role, so a failing sequence replays with the same addresses."""
    return account_from_key("0x" + keccak(text=f"label-ledger property test: {role}").hex())


def dataset_id_of(buyer: str, salt: bytes) -> bytes:
    """DatasetEscrow.datasetIdOf, computed independently."""
    return keccak(abi_encode(["address", "bytes32"], [buyer, salt]))


def salt_of(number: int) -> bytes:
    return number.to_bytes(32, "big")


def revert(name: str, *args: object) -> str:
    """A custom error as ``describe_revert`` prints it (addresses lowercase, bytes as hex)."""
    shown = []
    for arg in args:
        if isinstance(arg, bytes):
            shown.append("0x" + arg.hex())
        elif isinstance(arg, str):
            shown.append(arg.lower())
        else:
            shown.append(str(arg))
    return f"{name}({', '.join(shown)})"


def split(total: int, weights: Sequence[int]) -> list[int]:
    """`total` shared in proportion to `weights` (all to the first when every weight is 0);
    the shares always add up to `total` exactly, as the operator's entitlements must."""
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


# --- the world every example starts from ---


@dataclass(frozen=True)
class World:
    chain: Chain
    payment_tokens: tuple[Contract, ...]
    operator: LocalAccount
    buyers: tuple[LocalAccount, ...]
    annotators: tuple[LocalAccount, ...]
    attacker: LocalAccount

    @property
    def actors(self) -> tuple[LocalAccount, ...]:
        """Everyone who sends transactions: "anyone" in a rule picks from these."""
        return (*self.buyers, *self.annotators, self.attacker, self.operator)

    @property
    def creators(self) -> tuple[LocalAccount, ...]:
        """Who opens datasets: the buyers, and the attacker (whose ids must never hit theirs)."""
        return (*self.buyers, self.attacker)

    @property
    def holders(self) -> tuple[str, ...]:
        """Every address that may hold our tokens: no token may ever go anywhere else."""
        return (
            *(actor.address for actor in self.actors),
            self.chain.deployment.escrow,
            self.chain.deployment.distributor,
        )

    @property
    def claimants(self) -> tuple[str, ...]:
        return (*(a.address for a in self.annotators), self.attacker.address)

    @property
    def payment_addresses(self) -> tuple[str, ...]:
        return tuple(token.address for token in self.payment_tokens)

    @property
    def reward_tokens(self) -> tuple[str, ...]:
        """What entitlements are paid in: the payment tokens out of the escrow, LABEL minted."""
        return (*self.payment_addresses, self.chain.deployment.label_token)


@pytest.fixture
def world(chain: Chain) -> World:
    """The deployed contracts, a second payment token, and funded accounts for the cast.

    Inside the `chain` fixture's snapshot, so none of it outlives the test.
    """
    buyers = (chain.buyer, *(role_account(f"buyer {n}") for n in range(1, BUYERS)))
    annotators = tuple(role_account(f"annotator {n}") for n in range(ANNOTATORS))
    attacker = role_account("attacker")
    deployer = role_account("second payment token deployer")
    for account in (*buyers, *annotators, attacker, deployer):
        chain.rpc("anvil_setBalance", account.address, hex(10**21))
    nonce = chain.client.w3.eth.get_transaction_count(deployer.address)
    second = chain.client.deploy("DevStablecoin", deployer, nonce=nonce)
    return World(
        chain=chain,
        payment_tokens=(chain.dusd, chain.contract("DevStablecoin", second)),
        operator=chain.operator,
        buyers=buyers,
        annotators=annotators,
        attacker=attacker,
    )


# --- reading the chain: every view the invariants need, in one JSON-RPC batch ---


@dataclass(frozen=True)
class DatasetRecord:
    """IDatasetEscrow.Dataset: what the model expects and what dataset(id) returns."""

    buyer: str
    token: str
    closed: bool = False
    available: int = 0
    debited: int = 0


NO_DATASET = DatasetRecord(buyer=ZERO_ADDRESS, token=ZERO_ADDRESS)


class Reader:
    """Many eth_calls in one HTTP round trip: ~5 ms for the whole state instead of ~0.4 s."""

    def __init__(self, chain: Chain) -> None:
        self._chain = chain

    def read(self, calls: Sequence[tuple[Contract, str, Sequence[Any]]]) -> list[Any]:
        requests = []
        output_types = []
        for contract, function, args in calls:
            data = contract.encode_abi(function, args=list(args))
            requests.append((RPCEndpoint("eth_call"), [{"to": contract.address, "data": data}]))
            abi = next(e for e in contract.abi if e.get("name") == function)
            output_types.append(get_abi_output_types(abi))
        responses = self._chain.client.w3.provider.make_batch_request(requests)
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

    balances: dict[tuple[str, str], int]  # (token, holder)
    supply: dict[str, int]
    owed: dict[str, int]
    claimed: dict[tuple[str, str], int]  # (account, token)
    datasets: dict[bytes, DatasetRecord]
    epoch: int
    root: bytes


def observe(world: World, reader: Reader, dataset_ids: Sequence[bytes]) -> Observed:
    chain = world.chain
    escrow, distributor = chain.escrow, chain.distributor
    tokens = {address: chain.contract("IERC20", address) for address in world.reward_tokens}
    balance_keys = [(token, holder) for token in tokens for holder in world.holders]
    claimed_keys = [(account, token) for account in world.claimants for token in tokens]
    calls: list[tuple[Contract, str, Sequence[Any]]] = [
        *((tokens[token], "balanceOf", [holder]) for token, holder in balance_keys),
        *((contract, "totalSupply", []) for contract in tokens.values()),
        *((escrow, "owed", [token]) for token in tokens),
        *((distributor, "claimed", [account, token]) for account, token in claimed_keys),
        *((escrow, "dataset", [dataset_id]) for dataset_id in dataset_ids),
        (distributor, "currentEpoch", []),
        (distributor, "currentRoot", []),
    ]
    values = iter(reader.read(calls))
    balances = {key: next(values) for key in balance_keys}
    supply = {token: next(values) for token in tokens}
    owed = {token: next(values) for token in tokens}
    claimed = {key: next(values) for key in claimed_keys}
    datasets = {}
    for dataset_id in dataset_ids:
        buyer, token, closed, available, debited = next(values)
        datasets[dataset_id] = DatasetRecord(
            buyer=to_checksum_address(buyer),
            token=to_checksum_address(token),
            closed=closed,
            available=available,
            debited=debited,
        )
    epoch, root = next(values), next(values)
    return Observed(balances, supply, owed, claimed, datasets, epoch, root)


# --- the state machine ---


@dataclass(frozen=True)
class Payment:
    token: str
    amount: int
    cumulative: int


@dataclass(frozen=True)
class Strike:
    """What one attack aims at."""

    dataset_id: bytes
    victim: str  # an annotator
    token: str  # a reward token
    amount: int


@dataclass(frozen=True)
class Entitlement:
    token: str
    cumulative: int
    proof: list[str]

    def as_arg(self) -> tuple[str, int, list[str]]:
        return (self.token, self.cumulative, self.proof)


ACTORS = BUYERS + ANNOTATORS + 2  # buyers, annotators, the attacker, the operator
actor_indices = st.integers(0, ACTORS - 1)
annotator_indices = st.integers(0, ANNOTATORS - 1)
# which dataset a move aims at: an index into the open ones (modulo their number), else
# CLOSED_PICK (a closed one) or NOWHERE_PICK (an id nobody opened)
CLOSED_PICK, NOWHERE_PICK = -1, -2
dataset_picks = mostly(st.integers(0, 63), CLOSED_PICK, NOWHERE_PICK)
deposits = mostly(st.integers(1, MAX_DEPOSIT), 0)  # 0 is refused with EscrowZeroAmount
# how a payer gets ready to deposit: the faucet and an exact approval, or one of them is missing
preparations = mostly(st.just("mint and approve"), "approve only", "mint only")
OPERATOR_MISTAKES = (
    "repeat the epoch",
    "skip an epoch",
    "empty root",
    "length mismatch",
    "renounce",
)
# how a debit in a posted epoch relates to what its dataset holds; the rare ones are refused
debit_kinds = mostly(
    st.sampled_from(("fits", "all of it")), "one too much", "too much", "zero", "unknown dataset"
)


def has_open_dataset(machine: EscrowAccounting) -> bool:
    """Once every dataset is closed, funding and closing are only ever refused (which some steps
    still try, aiming at a closed one): spend the steps on something else."""
    return any(not record.closed for record in machine.datasets.values())


class EscrowAccounting(RuleBasedStateMachine):
    """Random sequences of real transactions against a model of what each must do."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.chain = world.chain
        self.escrow_address = self.chain.deployment.escrow
        self.label_address = self.chain.deployment.label_token
        self.reader = Reader(self.chain)
        self.snapshot = self.chain.rpc("evm_snapshot")
        start = observe(world, self.reader, [NOWHERE])
        assert start.epoch == 0, "the deployment is fresh: no epoch posted yet"
        assert start.supply[self.label_address] == 0
        assert not any(start.owed.values())
        assert not any(start.claimed.values())

        # the model
        self.balances = dict(start.balances)
        self.supply = dict(start.supply)
        self.allowances = {
            (token, actor.address): 0 for token in world.payment_addresses for actor in world.actors
        }
        self.owed = dict(start.owed)
        self.claimed = dict(start.claimed)
        self.datasets: dict[bytes, DatasetRecord] = {}
        self.opened: list[bytes] = []  # dataset ids in the order they were opened
        self.trees: list[StandardMerkleTree] = []  # one per posted epoch
        self.entitled_at: list[dict[tuple[str, str], int]] = []  # cumulatives per epoch
        self.entitled = dict.fromkeys(self.claimed, 0)

        # for the invariants that compare the chain with itself
        self.outside_supply = {
            token: start.supply[token] - sum(start.balances[(token, h)] for h in world.holders)
            for token in world.reward_tokens
        }
        self.sender: str | None = None
        self.buyer_balances = {
            buyer.address: self._balances_of(start, buyer.address) for buyer in world.buyers
        }
        self.dataset_records: dict[bytes, DatasetRecord] = {}
        self._observed: Observed | None = start

    def teardown(self) -> None:
        assert self.chain.rpc("evm_revert", self.snapshot) is True

    # -- sending --

    def _begin(self, sender: LocalAccount) -> None:
        """Every rule starts here: who sends this step's transactions; the old reading is stale."""
        self.sender = sender.address
        self._observed = None

    def _send(self, call: ContractFunction, sender: LocalAccount) -> TxReceipt:
        return self.chain.send(call, sender)

    def _refused(self, call: ContractFunction, sender: LocalAccount, expected: str) -> None:
        """`call` reverts with exactly `expected`: simulated, and as a transaction mined anyway."""
        client = self.chain.client
        assert self._simulated_revert(call, sender) == expected
        # with the gas given there is no simulation: the node mines it and the EVM reverts it
        tx = call.build_transaction(
            {
                "from": sender.address,
                "nonce": client.w3.eth.get_transaction_count(sender.address, "pending"),
                "gas": MINED_REVERT_GAS,
                "chainId": client.chain_id,
            }
        )
        raw = bytes(sender.sign_transaction(tx).raw_transaction)
        receipt = client.w3.eth.wait_for_transaction_receipt(
            client.broadcast(raw), poll_latency=0.01
        )
        assert receipt["status"] == 0, f"{call.fn_name} was mined and succeeded"
        assert receipt["gasUsed"] < MINED_REVERT_GAS, "it ran out of gas instead of reverting"
        assert not receipt["logs"]

    def _simulated_revert(self, call: ContractFunction, sender: LocalAccount) -> str | None:
        """The custom error `call` would revert with, decoded by the chain client; None if none."""
        try:
            self.chain.client.sign(call, sender)
        except ChainTransactionFailed as refusal:
            return refusal.message.removeprefix(f"{call.fn_name} would revert: ")
        return None

    def _token(self, address: str) -> Contract:
        return self.chain.contract("DevStablecoin", address)

    def _prepare(self, payer: LocalAccount, token: str, amount: int, preparation: str) -> None:
        """The payer mints `amount` at the faucet and approves the escrow for exactly that."""
        if preparation in ("mint and approve", "mint only"):
            self._send(self._token(token).functions.mint(payer.address, amount), payer)
            self.balances[(token, payer.address)] += amount
            self.supply[token] += amount
        if preparation in ("mint and approve", "approve only"):
            self._send(self._token(token).functions.approve(self.escrow_address, amount), payer)
            self.allowances[(token, payer.address)] = amount

    def _pull_refusal(self, token: str, payer: str, amount: int) -> str | None:
        """What the escrow's transferFrom(payer, escrow, amount) reverts with, if anything."""
        allowance = self.allowances[(token, payer)]
        if allowance < amount:
            return revert("ERC20InsufficientAllowance", self.escrow_address, allowance, amount)
        balance = self.balances[(token, payer)]
        if balance < amount:
            return revert("ERC20InsufficientBalance", payer, balance, amount)
        return None

    def _pull(self, token: str, payer: str, amount: int) -> None:
        self.allowances[(token, payer)] -= amount
        self._move(token, payer, self.escrow_address, amount)

    def _move(self, token: str, source: str, target: str, amount: int) -> None:
        self.balances[(token, source)] -= amount
        self.balances[(token, target)] += amount

    def _pick(self, pick: int) -> bytes:
        """The dataset `pick` aims at; when there is none such, any dataset, else NOWHERE."""
        closed = [d for d in self.opened if self.datasets[d].closed]
        candidates = {
            CLOSED_PICK: closed,
            NOWHERE_PICK: [NOWHERE],
        }.get(pick, [d for d in self.opened if not self.datasets[d].closed])
        candidates = candidates or self.opened or [NOWHERE]
        return candidates[max(pick, 0) % len(candidates)]

    def _open(self, dataset_id: bytes, record: DatasetRecord) -> None:
        self.datasets[dataset_id] = record
        self.opened.append(dataset_id)

    # -- datasets: open, fund, close --

    @initialize(
        openings=st.lists(
            st.tuples(
                st.integers(0, BUYERS - 1),
                st.integers(0, PAYMENT_TOKENS - 1),
                st.integers(1, MAX_DEPOSIT),
            ),
            min_size=1,
            max_size=3,
        )
    )
    def buyers_open_datasets(self, openings: list[tuple[int, int, int]]) -> None:
        """Start with a few datasets, so the first steps have something to work on."""
        for salt, (buyer, token, amount) in enumerate(openings):
            self.create_dataset(buyer, token, salt, amount, "createAndFund", "mint and approve")

    @rule(
        creator=st.integers(0, BUYERS),
        token=mostly(st.integers(0, PAYMENT_TOKENS - 1), None),
        salt=st.integers(0, SALTS - 1),
        amount=deposits,
        how=st.sampled_from(("createAndFund", "createDataset")),
        preparation=preparations,
    )
    def create_dataset(
        self,
        creator: int,
        token: int | None,
        salt: int,
        amount: int,
        how: str,
        preparation: str,
    ) -> None:
        """A buyer (or the attacker) opens a dataset, funded or not; None is the zero token."""
        payer = self.world.creators[creator]
        self._begin(payer)
        token_address = ZERO_ADDRESS if token is None else self.world.payment_addresses[token]
        dataset_id = dataset_id_of(payer.address, salt_of(salt))
        escrow = self.chain.escrow.functions
        expected: str | None = None
        if token_address == ZERO_ADDRESS:
            expected = revert("EscrowZeroToken")
        elif dataset_id in self.datasets:
            expected = revert("EscrowDatasetExists", dataset_id)
        if how == "createDataset":
            call = escrow.createDataset(salt_of(salt), token_address)
            amount = 0
        else:
            call = escrow.createAndFund(salt_of(salt), token_address, amount)
            if token_address != ZERO_ADDRESS:
                self._prepare(payer, token_address, amount, preparation)
            if expected is None and amount == 0:
                expected = revert("EscrowZeroAmount")
            expected = expected or self._pull_refusal(token_address, payer.address, amount)
        if expected is not None:
            self._refused(call, payer, expected)
            return
        self._send(call, payer)
        self._open(dataset_id, DatasetRecord(buyer=payer.address, token=token_address))
        if amount:
            self._pull(token_address, payer.address, amount)
            self.datasets[dataset_id] = replace(self.datasets[dataset_id], available=amount)

    @precondition(has_open_dataset)
    @rule(
        funder=actor_indices,
        dataset=dataset_picks,
        amount=deposits,
        preparation=preparations,
    )
    def fund(self, funder: int, dataset: int, amount: int, preparation: str) -> None:
        """Anyone tops up any dataset (or one nobody opened) from their own wallet."""
        payer = self.world.actors[funder]
        self._begin(payer)
        dataset_id = self._pick(dataset)
        record = self.datasets.get(dataset_id)
        token = record.token if record else self.world.payment_addresses[0]
        self._prepare(payer, token, amount, preparation)
        call = self.chain.escrow.functions.fund(dataset_id, amount)
        if amount == 0:
            expected: str | None = revert("EscrowZeroAmount")
        elif record is None:
            expected = revert("EscrowUnknownDataset", dataset_id)
        elif record.closed:
            expected = revert("EscrowDatasetClosed", dataset_id)
        else:
            expected = self._pull_refusal(token, payer.address, amount)
        if expected is not None:
            self._refused(call, payer, expected)
            return
        self._send(call, payer)
        self._pull(token, payer.address, amount)
        self.datasets[dataset_id] = replace(record, available=record.available + amount)

    @precondition(has_open_dataset)
    @rule(dataset=dataset_picks, closer=mostly(st.none(), *range(ACTORS)))
    def close(self, dataset: int, closer: int | None) -> None:
        """Usually the dataset's buyer closes it and gets every undebited unit back."""
        dataset_id = self._pick(dataset)
        record = self.datasets.get(dataset_id)
        if closer is None and record is not None:
            sender = next(a for a in self.world.creators if a.address == record.buyer)
        else:
            sender = self.world.actors[closer or 0]
        self._begin(sender)
        call = self.chain.escrow.functions.close(dataset_id)
        if record is None:
            self._refused(call, sender, revert("EscrowUnknownDataset", dataset_id))
            return
        if sender.address != record.buyer:
            self._refused(call, sender, revert("EscrowNotBuyer", dataset_id, sender.address))
            return
        if record.closed:
            self._refused(call, sender, revert("EscrowDatasetClosed", dataset_id))
            return
        receipt = self._send(call, sender)
        closed = self.chain.escrow.events.DatasetClosed().process_receipt(receipt, errors=DISCARD)
        assert [event.args.refund for event in closed] == [record.available]
        self._move(record.token, self.escrow_address, record.buyer, record.available)
        self.datasets[dataset_id] = replace(record, closed=True, available=0)

    # -- epochs --

    @rule(
        debits=st.lists(st.tuples(dataset_picks, debit_kinds, st.integers(0, 2**40)), max_size=3),
        weights=st.lists(
            st.integers(0, 3),
            min_size=PAYMENT_TOKENS * ANNOTATORS,
            max_size=PAYMENT_TOKENS * ANNOTATORS,
        ),
        rewards=st.lists(st.integers(0, 5 * LABEL), min_size=ANNOTATORS, max_size=ANNOTATORS),
        mistake=mostly(st.none(), *OPERATOR_MISTAKES),
    )
    def post_epoch(
        self,
        debits: list[tuple[int, str, int]],
        weights: list[int],
        rewards: list[int],
        mistake: str | None,
    ) -> None:
        """The operator debits some datasets and shares exactly what they paid among the
        annotators, per token, plus LABEL rewards; some debits are bad and sink the whole post,
        and now and then the operator makes another mistake instead."""
        operator = self.world.operator
        self._begin(operator)
        if mistake is not None:
            self._operator_mistake(mistake)
            return
        available = {dataset_id: r.available for dataset_id, r in self.datasets.items()}
        paid = dict.fromkeys(self.world.payment_addresses, 0)
        dataset_ids: list[bytes] = []
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
                available[dataset_id] -= amount
                paid[self.datasets[dataset_id].token] += amount

        entitled = dict(self.entitled)
        for index, token in enumerate(self.world.payment_addresses):
            token_weights = weights[index * ANNOTATORS : (index + 1) * ANNOTATORS]
            for annotator, share in zip(
                self.world.annotators, split(paid[token], token_weights), strict=True
            ):
                entitled[(annotator.address, token)] += share
        for annotator, reward in zip(self.world.annotators, rewards, strict=True):
            entitled[(annotator.address, self.label_address)] += reward
        tree = self._tree(entitled)
        epoch = len(self.trees) + 1
        call = self.chain.distributor.functions.postEpoch(epoch, tree.root, dataset_ids, amounts)
        if expected is not None:
            self._refused(call, operator, expected)
            return
        self._send(call, operator)
        for dataset_id, amount in zip(dataset_ids, amounts, strict=True):
            record = self.datasets[dataset_id]
            self.datasets[dataset_id] = replace(
                record, available=record.available - amount, debited=record.debited + amount
            )
        for token, amount in paid.items():
            self.owed[token] += amount
        self.entitled = entitled
        self.entitled_at.append(entitled)
        self.trees.append(tree)

    def _plan_debit(
        self, pick: int, kind: str, noise: int, available: dict[bytes, int]
    ) -> tuple[bytes, int] | None:
        """One (dataset, amount) of a post; None when no dataset has funds for a fitting one."""
        if kind == "unknown dataset":
            return NOWHERE, 1 + noise % MAX_DEPOSIT
        if kind in ("fits", "all of it"):
            candidates = [dataset_id for dataset_id in self.opened if available[dataset_id]]
            if not candidates:
                return None
            dataset_id = candidates[pick % len(candidates)]
            left = available[dataset_id]
            return dataset_id, left if kind == "all of it" else 1 + noise % left
        dataset_id = self._pick(pick)
        if kind == "zero":
            return dataset_id, 0
        excess = 1 if kind == "one too much" else 1 + noise % MAX_DEPOSIT
        return dataset_id, available.get(dataset_id, 0) + excess

    def _debit_refusal(
        self, dataset_id: bytes, amount: int, available: dict[bytes, int]
    ) -> str | None:
        """What DatasetEscrow.debit reverts with, in its order of checks."""
        if amount == 0:
            return revert("EscrowZeroAmount")
        if dataset_id not in self.datasets:
            return revert("EscrowUnknownDataset", dataset_id)
        if amount > available[dataset_id]:
            return revert("EscrowInsufficientFunds", dataset_id, available[dataset_id], amount)
        return None

    def _tree(self, entitled: dict[tuple[str, str], int]) -> StandardMerkleTree:
        """Every annotator's cumulative entitlement in every reward token, zeros included."""
        values = [
            [annotator.address, token, str(entitled[(annotator.address, token)])]
            for annotator in self.world.annotators
            for token in self.world.reward_tokens
        ]
        return StandardMerkleTree.of(values, ["address", "address", "uint256"])

    def _operator_mistake(self, mistake: str) -> None:
        """The operator's own mistakes are refused too, and change nothing."""
        operator = self.world.operator
        distributor = self.chain.distributor.functions
        current = len(self.trees)
        root = bytes.fromhex(self._tree(self.entitled).root[2:])
        if mistake == "renounce":
            self._refused(
                distributor.renounceOwnership(), operator, revert("DistributorCannotRenounce")
            )
            return
        epoch = {"repeat the epoch": current, "skip an epoch": current + 2}.get(
            mistake, current + 1
        )
        if mistake == "empty root":
            root = ZERO_ROOT
        dataset_ids = [self._pick(0)] if mistake == "length mismatch" else []
        call = distributor.postEpoch(epoch, root, dataset_ids, [])
        if epoch != current + 1:
            expected = revert("DistributorEpochOutOfOrder", current + 1, epoch)
        elif root == ZERO_ROOT:
            expected = revert("DistributorEmptyRoot")
        else:
            expected = revert("DistributorLengthMismatch", 1, 0)
        self._refused(call, operator, expected)

    # -- claims --

    def _entitlement(self, account: str, token: str, epochs_back: int = 0) -> Entitlement:
        """The leaf and proof an annotator was given `epochs_back` epochs ago (0: the latest)."""
        if not self.trees:
            return Entitlement(token, 0, [])
        index = max(len(self.trees) - 1 - epochs_back, 0)
        cumulative = self.entitled_at[index][(account, token)]
        proof = self.trees[index].get_proof([account, token, str(cumulative)])
        return Entitlement(token, cumulative, proof)

    def _predict_claim(
        self, account: str, entitlements: Sequence[Entitlement]
    ) -> tuple[str | None, list[Payment]]:
        """What claim(account, entitlements) does: the error it reverts with, else what it pays."""
        if not self.trees:
            return revert("DistributorNoEpoch"), []
        tree = self.trees[-1]
        claimed: dict[str, int] = {}
        owed = dict(self.owed)
        payments = []
        for entitlement in entitlements:
            token, cumulative = entitlement.token, entitlement.cumulative
            if not tree.verify([account, token, str(cumulative)], entitlement.proof):
                return revert("DistributorInvalidProof", account, token, cumulative), []
            already = claimed.get(token, self.claimed[(account, token)])
            if cumulative <= already:
                continue
            amount = cumulative - already
            claimed[token] = cumulative
            if token != self.label_address:
                if amount > owed[token]:
                    return revert("EscrowInsufficientOwed", token, owed[token], amount), []
                owed[token] -= amount
            payments.append(Payment(token, amount, cumulative))
        return None, payments

    def _claim(
        self, caller: LocalAccount, account: str, entitlements: Sequence[Entitlement]
    ) -> list[Payment]:
        """Sends the claim; the model predicts its refusal or each payment, which must all go to
        `account` whoever sent it."""
        call = self.chain.distributor.functions.claim(account, [e.as_arg() for e in entitlements])
        expected, payments = self._predict_claim(account, entitlements)
        if expected is not None:
            self._refused(call, caller, expected)
            return []
        receipt = self._send(call, caller)
        events = self.chain.distributor.events.Claimed().process_receipt(receipt, errors=DISCARD)
        assert [
            (e.args.account, e.args.token, e.args.amount, e.args.cumulative) for e in events
        ] == [(account, p.token, p.amount, p.cumulative) for p in payments]
        for payment in payments:
            self.claimed[(account, payment.token)] = payment.cumulative
            if payment.token == self.label_address:
                self.supply[payment.token] += payment.amount
                self.balances[(payment.token, account)] += payment.amount
            else:
                self.owed[payment.token] -= payment.amount
                self._move(payment.token, self.escrow_address, account, payment.amount)
        return payments

    @precondition(lambda self: self.trees)  # before any epoch, only the attacker tries
    @rule(
        caller=st.none() | actor_indices,
        annotator=annotator_indices,
        tokens=st.lists(st.integers(0, PAYMENT_TOKENS), min_size=1, max_size=4),
        epochs_back=mostly(st.just(0), 1, 2),
        twice=st.booleans(),
    )
    def claim(
        self,
        caller: int | None,
        annotator: int,
        tokens: list[int],
        epochs_back: int,
        twice: bool,
    ) -> None:
        """An annotator claims (or anyone does for them), sometimes with an older leaf, sometimes
        the same claim twice: the second pays nothing."""
        account = self.world.annotators[annotator]
        sender = account if caller is None else self.world.actors[caller]
        self._begin(sender)
        entitlements = [
            self._entitlement(account.address, self.world.reward_tokens[token], epochs_back)
            for token in tokens
        ]
        self._claim(sender, account.address, entitlements)
        if twice:
            assert self._predict_claim(account.address, entitlements)[1] == []
            before = observe(self.world, self.reader, [])
            self._claim(sender, account.address, entitlements)
            after = observe(self.world, self.reader, [])
            assert after.balances == before.balances, "a repeated claim paid again"
            assert after.supply == before.supply

    # -- the attacker --

    def _attack_close(self, strike: Strike) -> None:
        """Close someone else's dataset (its refund would still go to its buyer)."""
        attacker = self.world.attacker.address
        theirs = [d for d in self.opened if self.datasets[d].buyer != attacker]
        dataset_id = theirs[strike.amount % len(theirs)] if theirs else NOWHERE
        if dataset_id == NOWHERE:
            expected = revert("EscrowUnknownDataset", dataset_id)
        else:
            expected = revert("EscrowNotBuyer", dataset_id, attacker)
        self._refused(self.chain.escrow.functions.close(dataset_id), self.world.attacker, expected)

    def _attack_fund_closed(self, strike: Strike) -> None:
        """Put money into a closed dataset, where nobody could ever get it out."""
        closed = [d for d in self.opened if self.datasets[d].closed]
        if not closed:
            return
        dataset_id = closed[strike.amount % len(closed)]
        token = self.datasets[dataset_id].token
        self._prepare(self.world.attacker, token, strike.amount, "mint and approve")
        self._refused(
            self.chain.escrow.functions.fund(dataset_id, strike.amount),
            self.world.attacker,
            revert("EscrowDatasetClosed", dataset_id),
        )

    def _attack_debit(self, strike: Strike) -> None:
        self._refused(
            self.chain.escrow.functions.debit(
                strike.dataset_id, len(self.trees) + 1, strike.amount
            ),
            self.world.attacker,
            revert("EscrowNotDistributor", self.world.attacker.address),
        )

    def _attack_pay_out(self, strike: Strike) -> None:
        attacker = self.world.attacker.address
        self._refused(
            self.chain.escrow.functions.payOut(strike.token, attacker, strike.amount),
            self.world.attacker,
            revert("EscrowNotDistributor", attacker),
        )

    def _attack_post_epoch(self, strike: Strike) -> None:
        """Post a root entitling the attacker, debiting a dataset to pay for it."""
        attacker = self.world.attacker.address
        tree = StandardMerkleTree.of(
            [[attacker, strike.token, str(strike.amount)]], ["address", "address", "uint256"]
        )
        call = self.chain.distributor.functions.postEpoch(
            len(self.trees) + 1, tree.root, [strike.dataset_id], [strike.amount]
        )
        self._refused(call, self.world.attacker, revert("DistributorNotOperator", attacker))

    def _attack_mint_label(self, strike: Strike) -> None:
        attacker = self.world.attacker.address
        self._refused(
            self.chain.label.functions.mint(attacker, strike.amount),
            self.world.attacker,
            revert("LabelTokenNotMinter", attacker),
        )

    def _forged_claim(self, account: str, entitlement: Entitlement) -> None:
        expected, _ = self._predict_claim(account, [entitlement])
        assert expected is not None, "the forged claim is valid: the test is wrong"
        call = self.chain.distributor.functions.claim(account, [entitlement.as_arg()])
        self._refused(call, self.world.attacker, expected)

    def _attack_inflate_claim(self, strike: Strike) -> None:
        """The victim's real proof with a larger cumulative (the tokens would even go to them)."""
        real = self._entitlement(strike.victim, strike.token)
        self._forged_claim(strike.victim, replace(real, cumulative=real.cumulative + strike.amount))

    def _attack_claim_victims_leaf(self, strike: Strike) -> None:
        """The victim's leaf and proof, claimed for the attacker's own account."""
        self._forged_claim(
            self.world.attacker.address, self._entitlement(strike.victim, strike.token)
        )

    def _attack_claim_with_victims_proof(self, strike: Strike) -> None:
        """A cumulative of the attacker's choosing, with the victim's proof."""
        proof = self._entitlement(strike.victim, strike.token).proof
        forged = Entitlement(strike.token, strike.amount, proof)
        self._forged_claim(self.world.attacker.address, forged)

    def _attack_take_operator(self, strike: Strike) -> None:
        attacker = self.world.attacker.address
        self._refused(
            self.chain.distributor.functions.transferOwnership(attacker),
            self.world.attacker,
            revert("OwnableUnauthorizedAccount", attacker),
        )

    def _attack_accept_operator(self, strike: Strike) -> None:
        attacker = self.world.attacker.address
        self._refused(
            self.chain.distributor.functions.acceptOwnership(),
            self.world.attacker,
            revert("OwnableUnauthorizedAccount", attacker),
        )

    def _attack_renounce_operator(self, strike: Strike) -> None:
        attacker = self.world.attacker.address
        self._refused(
            self.chain.distributor.functions.renounceOwnership(),
            self.world.attacker,
            revert("OwnableUnauthorizedAccount", attacker),
        )

    def _attack_spend_approval(self, strike: Strike) -> None:
        """Buyers approve only the escrow, and a refused deposit leaves that approval standing:
        nobody else can draw on it."""
        buyer = self.world.buyers[strike.amount % BUYERS].address
        token = self.world.payment_addresses[strike.amount % PAYMENT_TOKENS]
        attacker = self.world.attacker.address
        self._refused(
            self._token(token).functions.transferFrom(buyer, attacker, strike.amount),
            self.world.attacker,
            revert("ERC20InsufficientAllowance", attacker, 0, strike.amount),
        )

    ATTACKS: ClassVar[dict[str, Callable[[EscrowAccounting, Strike], None]]] = {
        "close another's dataset": _attack_close,
        "fund a closed dataset": _attack_fund_closed,
        "debit a dataset": _attack_debit,
        "pay itself out": _attack_pay_out,
        "post an epoch": _attack_post_epoch,
        "mint LABEL": _attack_mint_label,
        "inflate a victim's cumulative": _attack_inflate_claim,
        "claim a victim's leaf as its own": _attack_claim_victims_leaf,
        "claim with a victim's proof": _attack_claim_with_victims_proof,
        "take the operator role": _attack_take_operator,
        "accept the operator role": _attack_accept_operator,
        "renounce the operator role": _attack_renounce_operator,
        "spend a buyer's approval": _attack_spend_approval,
    }

    @rule(
        attack=st.sampled_from(sorted(ATTACKS)),
        dataset=dataset_picks,
        victim=annotator_indices,
        token=st.integers(0, PAYMENT_TOKENS),
        amount=st.integers(1, MAX_DEPOSIT),
    )
    def attacker_strikes(
        self, attack: str, dataset: int, victim: int, token: int, amount: int
    ) -> None:
        """Whatever the attacker tries on what is not theirs fails, and moves nothing."""
        self._begin(self.world.attacker)
        strike = Strike(
            dataset_id=self._pick(dataset),
            victim=self.world.annotators[victim].address,
            token=self.world.reward_tokens[token],
            amount=amount,
        )
        self.ATTACKS[attack](self, strike)

    # -- the invariants, on the chain's own views after every step --

    def _observe(self) -> Observed:
        if self._observed is None:
            self._observed = observe(self.world, self.reader, [*self.opened, NOWHERE])
        return self._observed

    def _balances_of(self, seen: Observed, holder: str) -> dict[str, int]:
        return {token: seen.balances[(token, holder)] for token in self.world.reward_tokens}

    @invariant()
    def escrow_holds_exactly_what_it_owes(self) -> None:
        """Per payment token: balance >= undebited funds of open datasets + owed, and in this
        design exactly equal (anything above would be stuck; anything below, unpaid)."""
        seen = self._observe()
        for token in self.world.payment_addresses:
            undebited = sum(
                r.available for r in seen.datasets.values() if r.token == token and not r.closed
            )
            held = seen.balances[(token, self.escrow_address)]
            assert held >= undebited + seen.owed[token], f"escrow short of {token}"
            assert held == undebited + seen.owed[token], f"escrow holds stray {token}"
        assert all(r.available == 0 for r in seen.datasets.values() if r.closed)

    @invariant()
    def owed_is_what_annotators_have_not_claimed(self) -> None:
        seen = self._observe()
        for token in self.world.payment_addresses:
            unclaimed = sum(
                self.entitled[(account, token)] - seen.claimed[(account, token)]
                for account in self.world.claimants
            )
            assert seen.owed[token] == unclaimed
        assert seen.owed[self.label_address] == 0

    @invariant()
    def nobody_claims_beyond_their_entitlement(self) -> None:
        seen = self._observe()
        for key, claimed in seen.claimed.items():
            assert claimed <= self.entitled[key], f"{key} claimed beyond its entitlement"

    @invariant()
    def label_supply_is_label_claimed(self) -> None:
        seen = self._observe()
        label_claimed = sum(
            seen.claimed[(account, self.label_address)] for account in self.world.claimants
        )
        assert seen.supply[self.label_address] == label_claimed

    @invariant()
    def tokens_stay_with_known_holders(self) -> None:
        seen = self._observe()
        for token in self.world.reward_tokens:
            held = sum(seen.balances[(token, holder)] for holder in self.world.holders)
            assert seen.supply[token] - held == self.outside_supply[token]

    @invariant()
    def buyers_funds_move_only_by_their_own_hand(self) -> None:
        """A buyer's balances change only in steps the buyer sent: their own deposits and
        refunds (and faucet mints). Nothing anyone else does reaches them."""
        seen = self._observe()
        for buyer in self.world.buyers:
            now = self._balances_of(seen, buyer.address)
            if buyer.address != self.sender:
                assert now == self.buyer_balances[buyer.address], (
                    f"buyer {buyer.address}'s balances moved in a step sent by {self.sender}"
                )
            self.buyer_balances[buyer.address] = now

    @invariant()
    def escrowed_funds_leave_only_by_their_buyer_or_an_epoch(self) -> None:
        """A dataset's undebited funds shrink only when its buyer closes it or the operator posts
        an epoch; only its buyer closes it; its buyer and token never change."""
        seen = self._observe()
        operator = self.world.operator.address
        for dataset_id, record in seen.datasets.items():
            before = self.dataset_records.get(dataset_id, NO_DATASET)
            if before != NO_DATASET:
                assert (record.buyer, record.token) == (before.buyer, before.token)
            if record.available < before.available:
                assert self.sender in (record.buyer, operator), (
                    f"funds of {dataset_id.hex()} left in a step sent by {self.sender}"
                )
            if record.closed != before.closed:
                assert self.sender == record.buyer
            self.dataset_records[dataset_id] = record

    @invariant()
    def attacker_gains_nothing(self) -> None:
        seen = self._observe()
        attacker = self.world.attacker.address
        assert seen.balances[(self.label_address, attacker)] == 0
        assert not any(seen.claimed[(attacker, token)] for token in self.world.reward_tokens)

    @invariant()
    def the_chain_equals_the_model(self) -> None:
        seen = self._observe()
        assert seen.datasets == {**self.datasets, NOWHERE: NO_DATASET}
        assert seen.balances == self.balances
        assert seen.supply == self.supply
        assert seen.owed == self.owed
        assert seen.claimed == self.claimed
        assert seen.epoch == len(self.trees)
        root = bytes.fromhex(self.trees[-1].root[2:]) if self.trees else ZERO_ROOT
        assert seen.root == root


SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,  # a step is a few real transactions
    database=None,  # the seed, not a local database, decides what runs
    suppress_health_check=[HealthCheck.too_slow],
)


def test_accounting_identities_hold_for_any_sequence(world: World) -> None:
    @seed(SEED)
    def machine() -> EscrowAccounting:
        return EscrowAccounting(world)

    run_state_machine_as_test(machine, settings=SETTINGS)
