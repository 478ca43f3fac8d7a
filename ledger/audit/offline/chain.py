"""The chain as the audit reads it: the ledger's logs folded into a `ChainHistory` (live
proposals, accepted roots, datasets, claims, withdrawn fees), and the views the checks need, all
read at the audited block."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ledger.audit.offline.encoding import hex32
from ledger.audit.offline.report import Progress
from ledger.audit.offline.source import AuditInputError
from ledger.chain.artifacts import event_topic, load_artifact
from ledger.chain.client import Deployment
from ledger.mirror.events import LEDGER_EVENTS, ArgValue, DecodedLog, EventDecoder
from ledger.mirror.rpc import (
    BALANCE_OF,
    TOTAL_SUPPLY,
    MirrorRpc,
    RangeTooLarge,
    RpcFailed,
    selector,
    word,
)

INITIAL_LOG_RANGE: Final = 100_000  # blocks per eth_getLogs; halved while the node refuses

# The ledger events the mirror follows, less LABEL `Transfer`s (every holder's moves: supply and
# claims come from `Claimed` and the views) and `TokenListed` (the deployment file lists tokens).
_EVENTS: Final = tuple(e for e in LEDGER_EVENTS if e not in {"Transfer", "TokenListed"})

_TOKEN_STATE = selector("tokenState(uint16)")
_DATASET = selector("dataset(uint256)")
_CLAIMED = selector("claimed(address,uint16)")
_COMMITMENT = selector("epochCommitment(uint64)")
_PAYOUT_ROOT = selector("payoutRoot()")
_ACCEPTED_EPOCH = selector("acceptedEpoch()")


@dataclass
class Proposal:
    epoch: int
    payout_root: str
    label_root: str
    content_hash: str
    debits: list[tuple[int, int]]  # (datasetId, debit) as proposed
    block: int


@dataclass
class ChainDataset:
    dataset_id: int
    buyer: str
    token: int
    fee_bps: int
    salt: str
    funded: int = 0
    refunded: int = 0
    close_requested: bool = False
    closed: bool = False


@dataclass
class ChainHistory:
    proposals: dict[int, Proposal] = field(default_factory=dict)  # live: not revoked
    revoked: set[int] = field(default_factory=set)  # numbers whose last proposal was revoked
    accepted: dict[int, str] = field(default_factory=dict)  # epoch -> root
    latest_accepted: int = 0
    datasets: dict[int, ChainDataset] = field(default_factory=dict)
    claims: dict[tuple[str, int], list[int]] = field(default_factory=dict)  # -> [pay, reward]
    withdrawn: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    logs: int = 0

    def apply(self, log: DecodedLog) -> None:
        args, event = log.args, log.event
        if event == "EpochProposed":
            number = _int(args["epoch"])
            self.proposals[number] = Proposal(
                number,
                hex32(args["payoutRoot"]),
                hex32(args["labelRoot"]),
                hex32(args["contentHash"]),
                list(zip(_ints(args["datasetIds"]), _ints(args["debits"]), strict=True)),
                log.block_number,
            )
            self.revoked.discard(number)
        elif event == "EpochRevoked":
            number = _int(args["epoch"])
            self.proposals.pop(number, None)
            self.revoked.add(number)
        elif event == "EpochAccepted":
            number = _int(args["epoch"])
            self.accepted[number] = hex32(args["payoutRoot"])
            self.latest_accepted = max(self.latest_accepted, number)
        elif event == "Claimed":
            key = (str(args["account"]).lower(), _int(args["token"]))
            sums = self.claims.setdefault(key, [0, 0])
            sums[0] += _int(args["payment"])
            sums[1] += _int(args["reward"])
        else:
            self._apply_dataset(event, args)

    def _apply_dataset(self, event: str, args: Mapping[str, ArgValue]) -> None:
        if event == "FeesWithdrawn":
            self.withdrawn[_int(args["token"])] += _int(args["amount"])
            return
        dataset_id = _int(args["datasetId"])
        if event == "DatasetCreated":
            self.datasets[dataset_id] = ChainDataset(
                dataset_id,
                str(args["buyer"]),
                _int(args["token"]),
                _int(args["feeBps"]),
                hex32(args["salt"]),
            )
            return
        dataset = self.datasets.get(dataset_id)
        if dataset is None:  # cannot happen on this contract: every id is created first
            return
        if event == "DatasetFunded":
            dataset.funded += _int(args["amount"])
        elif event == "DatasetCloseRequested":
            dataset.close_requested = True
        elif event == "DatasetClosed":
            dataset.closed = True
            dataset.refunded += _int(args["refund"])


def _int(value: ArgValue) -> int:
    assert isinstance(value, int)
    return value


def _ints(value: ArgValue) -> list[int]:
    assert isinstance(value, list)
    return value


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 32], "big") for i in range(0, len(data), 32)]


def audited_block(rpc: MirrorRpc, deployment: Deployment, requested: int | None) -> int:
    """The block to audit at (the head unless `requested`), once the node is the deployment's
    chain's and the block within the ledger's history."""
    try:
        chain_id = int(str(rpc.call("eth_chainId", [])), 16)
    except RpcFailed as exc:
        reason = getattr(exc.__cause__, "reason", exc.message)
        raise AuditInputError(
            f"cannot reach the chain at {rpc.url} ({reason}); pass --rpc (or set "
            "LABEL_LEDGER_RPC_URL) to a running node of the deployment's chain"
        ) from exc
    if chain_id != deployment.chain_id:
        raise AuditInputError(
            f"the node is on chain {chain_id}, the deployment file on chain "
            f"{deployment.chain_id}: pass the matching --rpc or --deployment"
        )
    head = rpc.head()
    block = head if requested is None else requested
    if not deployment.deployment_block <= block <= head:
        raise AuditInputError(
            f"block {block} is outside the ledger's history (deployed at block "
            f"{deployment.deployment_block}, head {head})"
        )
    return block


def read_history(
    rpc: MirrorRpc, deployment: Deployment, block: int, progress: Progress
) -> ChainHistory:
    """Every ledger log from the deployment block to `block`, in ranges that halve while the
    node refuses them, applied in order."""
    abi = load_artifact("LabelLedger").abi
    topics = ["0x" + event_topic(abi, name).hex() for name in _EVENTS]
    decoder = EventDecoder(deployment)
    first, last = deployment.deployment_block, block
    start, size = first, INITIAL_LOG_RANGE
    decoded: list[DecodedLog] = []
    while start <= last:
        stop = min(last, start + size - 1)
        try:
            raw = rpc.logs([deployment.ledger], topics, start, stop)
        except RangeTooLarge:
            if size == 1:
                raise
            size = max(1, size // 2)
            continue
        for log in raw:
            event = decoder.decode(log)
            if event is not None:
                decoded.append(event)
        progress("reading chain logs", stop - first + 1, last - first + 1)
        start = stop + 1
    decoded.sort(key=lambda e: (e.block_number, e.log_index))
    history = ChainHistory()
    for event in decoded:
        history.apply(event)
    history.logs = len(decoded)
    return history


def read_views(
    rpc: MirrorRpc, deployment: Deployment, history: ChainHistory, block: int, progress: Progress
) -> dict[str, list[int]]:
    """Every view the checks need, in batches, at the audited block."""
    ledger = deployment.ledger
    calls: list[tuple[str, tuple[str, str]]] = [
        ("payoutRoot", (ledger, _PAYOUT_ROOT)),
        ("acceptedEpoch", (ledger, _ACCEPTED_EPOCH)),
        ("totalSupply", (ledger, TOTAL_SUPPLY)),
    ]
    for number in history.proposals:
        calls.append((f"commitment:{number}", (ledger, _COMMITMENT + word(number))))
    for token in deployment.payment_tokens:
        calls.append((f"tokenState:{token.index}", (ledger, _TOKEN_STATE + word(token.index))))
        calls.append((f"balance:{token.index}", (token.address, BALANCE_OF + word(ledger))))
    for dataset_id in history.datasets:
        calls.append((f"dataset:{dataset_id}", (ledger, _DATASET + word(dataset_id))))
    for account, token_index in history.claims:
        data = _CLAIMED + word(account) + word(token_index)
        calls.append((f"claimed:{account}:{token_index}", (ledger, data)))
    progress("reading views", 0, len(calls))
    answers = rpc.eth_calls([c for _, c in calls], block)
    views = {name: _words(a) for (name, _), a in zip(calls, answers, strict=True)}
    progress("reading views", len(calls), len(calls))
    return views
