"""`label-ledger audit`: checks every payout from the chain's logs and the publication alone.

Nothing here reads our database. The auditor gets:

- the chain, through one JSON-RPC URL: every LabelLedger log from the deployment block to the
  audited block (the head unless told), and views (`eth_call`) at that same block;
- the publication (`ledger.publication`): a directory, or the same layout under an http(s) base
  URL, with `index.json`, the epochs' manifests, Merkle dumps and verdicts, and the datasets'
  terms and revealed gold answers;
- the deployment file, for the ledger's address, its deployment block and the payment tokens'
  allowlist indices.

It runs thirteen named checks (`CHECKS`), each `pass`, `fail` or `pending` (cannot be decided yet,
say gold answers a still-open dataset has not revealed), with a one-line summary and the rows at
fault. Every check works from data loaded once: logs in ranges that halve when the node refuses
them, all views in JSON-RPC batches, each dump parsed once, then dictionaries and single passes
over the leaves (an epoch of 100k labels is a few seconds, mostly rebuilding its tree).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
from eth_utils.crypto import keccak
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ledger.chain.artifacts import event_topic, load_artifact
from ledger.chain.client import Deployment
from ledger.kit.errors import BadRequest
from ledger.merkle import InvalidDumpError, StandardMerkleTree
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
from ledger.publication import (
    GOLD,
    GOLD_FORMAT,
    INDEX,
    LABEL_LEAF_ENCODING,
    LABEL_TREE,
    MANIFEST,
    MANIFEST_FORMAT,
    METHOD_CODES,
    METHOD_NAMES,
    PAYOUT_LEAF_ENCODING,
    PAYOUT_TREE,
    TERMS,
    TERMS_FORMAT,
    VERDICTS,
    VERDICTS_FORMAT,
)

PASSED: Final = "pass"
FAILED: Final = "fail"
PENDING: Final = "pending"

CHECKS: Final = (
    "epochs-published",
    "commitments",
    "dumps",
    "terms",
    "debits",
    "entitlements",
    "prices",
    "overlap",
    "verdicts",
    "gold",
    "claims",
    "supply",
    "escrow",
)

BPS: Final = 10_000
ZERO32: Final = "0x" + "00" * 32
INITIAL_LOG_RANGE: Final = 100_000  # blocks per eth_getLogs; halved while the node refuses
SHOWN_ROWS: Final = 20  # rows per check in the human output (the JSON has them all)

# The ledger events the mirror follows, less LABEL `Transfer`s (every holder's moves: supply and
# claims come from `Claimed` and the views) and `TokenListed` (the deployment file lists tokens).
_EVENTS: Final = tuple(e for e in LEDGER_EVENTS if e not in {"Transfer", "TokenListed"})
_ADDRESS_RE: Final = re.compile(r"0x[0-9a-fA-F]{40}")
_HASH_RE: Final = re.compile(r"0x[0-9a-f]{64}")
_GOLD: Final = METHOD_CODES["gold"]
_APPEAL: Final = METHOD_CODES["appeal"]  # paid beyond the overlap: takes no place

#: What a terms-v2 `verification` object means when it leaves a field out: the service's
#: defaults (`VerificationSpec` in ledger/dataset/schemas.py; a unit test holds them equal).
DEFAULT_METHOD: Final = "review"
DEFAULT_PLACES: Final = {"overlap": 1, "gold_overlap": 10, "consensus_k": 3, "consensus_max_k": 5}

_TOKEN_STATE = selector("tokenState(uint16)")
_DATASET = selector("dataset(uint256)")
_CLAIMED = selector("claimed(address,uint16)")
_COMMITMENT = selector("epochCommitment(uint64)")
_PAYOUT_ROOT = selector("payoutRoot()")
_ACCEPTED_EPOCH = selector("acceptedEpoch()")

#: (stage, done, total): what the audit is doing, for a progress bar.
Progress = Callable[[str, int, int], None]
Row = dict[str, str]


class AuditInputError(BadRequest):
    """The audit cannot start: a missing publication, a wrong deployment file, no node."""

    code = "audit_input"


# --- the report -------------------------------------------------------------------------------


@dataclass
class CheckResult:
    name: str
    status: str  # pass, fail or pending
    summary: str
    rows: list[Row] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "summary": self.summary,
            "rows": self.rows,
        }


@dataclass
class AuditReport:
    block: int
    chain_id: int
    ledger: str
    checks: list[CheckResult]

    @property
    def ok(self) -> bool:
        """No check failed (pending ones are not failures)."""
        return all(c.status != FAILED for c in self.checks)

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "block": self.block,
            "chainId": self.chain_id,
            "ledger": self.ledger,
            "checks": [c.to_json() for c in self.checks],
        }

    def renderable(self, max_rows: int = SHOWN_ROWS) -> RenderableType:
        """A table of the checks, then the first `max_rows` rows of each check not passed."""
        title = f"audit of ledger {self.ledger} on chain {self.chain_id} at block {self.block}"
        table = Table(title=title)
        table.add_column("check")
        table.add_column("status")
        table.add_column("summary", overflow="fold")
        styles = {PASSED: "green", FAILED: "bold red", PENDING: "yellow"}
        for check in self.checks:
            table.add_row(check.name, Text(check.status, style=styles[check.status]), check.summary)
        parts: list[RenderableType] = [table]
        for check in self.checks:
            if not check.rows:
                continue
            columns = list(dict.fromkeys(k for row in check.rows[:max_rows] for k in row))
            shown = min(max_rows, len(check.rows))
            rows = Table(title=f"{check.name}: {shown} of {len(check.rows)} row(s)")
            for column in columns:
                rows.add_column(column, overflow="fold")
            for row in check.rows[:max_rows]:
                rows.add_row(*(row.get(c, "") for c in columns))
            parts.append(rows)
        verdict = (
            Text("every check passed or is pending", style="green")
            if self.ok
            else Text(
                "FAILED: " + ", ".join(c.name for c in self.checks if c.status == FAILED),
                style="bold red",
            )
        )
        parts.append(verdict)
        return Group(*parts)

    def print(self, console: Console, max_rows: int = SHOWN_ROWS) -> None:
        console.print(self.renderable(max_rows))


def _result(
    name: str, rows: list[Row], ok: str, *, pending: list[Row] | None = None
) -> CheckResult:
    if rows:
        summary = f"{len(rows)} problem(s); first: {_describe(rows[0])}"
        return CheckResult(name, FAILED, summary, rows + (pending or []))
    if pending:
        return CheckResult(name, PENDING, f"{ok}; {len(pending)} pending", pending)
    return CheckResult(name, PASSED, ok)


def _describe(row: Row) -> str:
    """The first row in a few words: where (epoch, file, dataset or account), then what."""
    where = [f"{k} {row[k]}" for k in ("epoch", "file", "token") if k in row]
    for key in ("account", "annotator", "dataset"):
        if key in row:
            where.append(f"{key} {row[key][:10]}...")
            break
    return f"{', '.join(where)}: {row.get('problem', '')}" if where else row.get("problem", "")


# --- the publication ---------------------------------------------------------------------------


class Source:
    """A publication: a directory, or the same layout under an http(s) base URL."""

    def __init__(self, location: str | Path) -> None:
        text = str(location)
        self.location = text
        self._http: httpx.Client | None = None
        if text.startswith(("http://", "https://")):
            self._base = text.rstrip("/") + "/"
            self._http = httpx.Client(timeout=30.0, follow_redirects=True)
            self._dir: Path | None = None
        else:
            self._dir = Path(text)
            if not self._dir.is_dir():
                raise AuditInputError(
                    f"publication directory {text} does not exist: pass --epochs the directory "
                    "(or base URL) the service publishes to"
                )

    def read(self, relative: str) -> bytes | None:
        """The bytes of one file, None if the publication does not have it."""
        if self._dir is not None:
            path = self._dir / relative
            return path.read_bytes() if path.is_file() else None
        assert self._http is not None
        url = self._base + relative
        try:
            response = self._http.get(url)
        except httpx.HTTPError as exc:
            raise AuditInputError(f"cannot fetch {url}: {exc}; is the URL right?") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise AuditInputError(f"fetching {url} answered HTTP {response.status_code}")
        return response.content

    def close(self) -> None:
        if self._http is not None:
            self._http.close()


def _hash(data: bytes) -> str:
    return "0x" + keccak(data).hex()


def _hex32(value: object) -> str:
    return str(value).lower()


def _id_hex(dataset_id: int) -> str:
    return "0x" + dataset_id.to_bytes(32, "big").hex()


@dataclass(frozen=True)
class ManifestDebit:
    dataset_id: int
    token: int
    fee_bps: int
    debit: int
    fee: int
    labels: int
    terms_hash: str


@dataclass
class Manifest:
    chain_id: int
    ledger: str
    epoch: int
    payout_root: str
    label_root: str
    payout_encoding: list[str]
    label_encoding: list[str]
    methods: dict[str, str]
    label_count: int
    gold_rejected_count: int
    datasets: list[ManifestDebit]
    files: dict[str, str]
    previous_payout_root: str | None

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        doc = json.loads(data)
        if doc.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format is {doc.get('format')!r}, not {MANIFEST_FORMAT}")
        return cls(
            chain_id=int(doc["chainId"]),
            ledger=str(doc["ledger"]),
            epoch=int(doc["epoch"]),
            payout_root=_hex32(doc["payoutRoot"]),
            label_root=_hex32(doc["labelRoot"]),
            payout_encoding=[str(t) for t in doc["payoutLeafEncoding"]],
            label_encoding=[str(t) for t in doc["labelLeafEncoding"]],
            methods={str(k): str(v) for k, v in doc["methods"].items()},
            label_count=int(doc["labelCount"]),
            gold_rejected_count=int(doc["goldRejectedCount"]),
            datasets=[
                ManifestDebit(
                    dataset_id=int(d["datasetId"], 16),
                    token=int(d["token"]),
                    fee_bps=int(d["feeBps"]),
                    debit=int(d["debit"]),
                    fee=int(d["fee"]),
                    labels=int(d["labels"]),
                    terms_hash=_hex32(d["termsHash"]),
                )
                for d in doc["datasets"]
            ],
            files={str(k): _hex32(v) for k, v in doc["files"].items()},
            previous_payout_root=(
                None if doc["previousPayoutRoot"] is None else _hex32(doc["previousPayoutRoot"])
            ),
        )


#: (datasetId, itemIdHash, annotator (lowercase), labelHash, method code, payment, reward)
LabelLeaf = tuple[int, str, str, str, int, int, int]
#: (datasetId, itemIdHash, annotator (lowercase), labelHash)
LabelKey = tuple[int, str, str, str]
#: (datasetId, itemIdHash)
ItemKey = tuple[int, str]
#: (epoch, "paid" or "rejected", label, answer hash it was graded against, its graded hash)
GoldVerdict = tuple[int, str, LabelKey, str, str]


@dataclass
class Verdicts:
    # -> [(method, evidence, graded)]: for gold, the answer hash and the label's graded hash
    paid: dict[LabelKey, list[tuple[str, str | None, str | None]]]
    rejected: list[tuple[LabelKey, str, str]]  # (key, answer hash, graded hash)
    count_paid: int


@dataclass
class EpochFiles:
    """One published epoch as loaded; a part is None when missing or unusable (see `problems`)."""

    number: int
    manifest_bytes: bytes | None = None
    manifest: Manifest | None = None
    payout: dict[tuple[str, int], tuple[int, int]] | None = None  # (account, token) -> cumul.
    payout_root: str | None = None
    labels: list[LabelLeaf] | None = None
    label_root: str | None = None
    verdicts: Verdicts | None = None
    problems: list[Row] = field(default_factory=list)  # for `dumps`
    manifest_problem: str | None = None  # for `commitments`


@dataclass
class Terms:
    raw_hash: str
    buyer: str
    payment_token: str
    price: int
    reward: int
    gold_commitment: str | None
    # the reputation tiers' reward multipliers the terms allow (only 1x without tiers)
    multipliers_bps: tuple[int, ...] = (BPS,)
    # how many labels an item is paid (appeals aside): `overlap` under review, k and up to
    # `consensus_max_k` under consensus, `gold_overlap` for a gold item whatever the method
    method: str = DEFAULT_METHOD
    overlap: int = DEFAULT_PLACES["overlap"]
    consensus_k: int = DEFAULT_PLACES["consensus_k"]
    consensus_max_k: int = DEFAULT_PLACES["consensus_max_k"]
    gold_overlap: int = DEFAULT_PLACES["gold_overlap"]

    @property
    def rewards(self) -> set[int]:
        """Every reward a label of this dataset may carry."""
        return {self.reward * m // BPS for m in self.multipliers_bps}

    def allowance(self, *, gold: bool) -> tuple[int, str]:
        """The most labels one item is paid, appeals aside, and the term that says so (as
        `VerificationSpec.max_places` fills the item's places)."""
        if gold:
            return self.gold_overlap, "gold_overlap, for a gold item"
        if self.method == "consensus":
            return self.consensus_max_k, "consensus_max_k, under consensus"
        return self.overlap, "overlap, under review"

    @classmethod
    def parse(cls, data: bytes) -> Terms:
        doc = json.loads(data)
        if doc.get("format") != TERMS_FORMAT:
            raise ValueError(f"format is {doc.get('format')!r}, not {TERMS_FORMAT}")
        commitment = doc.get("goldCommitment")
        verification = doc["verification"]
        if not isinstance(verification, dict):
            raise ValueError(f"verification {verification!r} is not an object")
        method = verification.get("method", DEFAULT_METHOD)
        if method not in ("review", "consensus"):
            raise ValueError(f"verification method {method!r} is neither review nor consensus")
        multipliers = verification.get("reward_multipliers_bps", [BPS])
        return cls(
            raw_hash=_hash(data),
            buyer=str(doc["buyer"]),
            payment_token=str(doc["paymentToken"]),
            price=int(doc["pricePerLabel"]),
            reward=int(doc["rewardPerLabel"]),
            gold_commitment=None if commitment is None else _hex32(commitment),
            multipliers_bps=tuple(int(m) for m in multipliers),
            method=method,
            overlap=_places(verification, "overlap"),
            consensus_k=_places(verification, "consensus_k"),
            consensus_max_k=_places(verification, "consensus_max_k"),
            gold_overlap=_places(verification, "gold_overlap"),
        )


def _places(verification: Mapping[str, Any], name: str) -> int:
    """A count of labels from the terms' verification, its default when left out."""
    value = verification.get(name, DEFAULT_PLACES[name])
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"verification {name} {value!r} is not a positive integer")
    return value


# --- the chain ---------------------------------------------------------------------------------


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
                _hex32(args["payoutRoot"]),
                _hex32(args["labelRoot"]),
                _hex32(args["contentHash"]),
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
            self.accepted[number] = _hex32(args["payoutRoot"])
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
                _hex32(args["salt"]),
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


def _fee(debit: int, fee_bps: int) -> int:
    return debit * fee_bps // BPS


# --- the audit ---------------------------------------------------------------------------------


def audit(
    rpc_url: str,
    deployment: Deployment,
    source: str | Path,
    *,
    block: int | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Audits `deployment`'s ledger at `block` (the head by default) against the publication at
    `source` (directory or base URL). Raises `AuditInputError` (or `ChainUnavailable`) when it
    cannot start; every finding is in the report."""
    rpc = MirrorRpc(rpc_url, attempts=3, backoff_base=0.2, backoff_max=2.0)
    publication = Source(source)
    try:
        return _Auditor(rpc, deployment, publication, block, progress or _quiet).run()
    finally:
        publication.close()
        rpc.close()


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None


class _Auditor:
    def __init__(
        self,
        rpc: MirrorRpc,
        deployment: Deployment,
        source: Source,
        block: int | None,
        progress: Progress,
    ) -> None:
        self.rpc = rpc
        self.deployment = deployment
        self.source = source
        self.requested_block = block
        self.progress = progress
        self.block = 0
        self.history = ChainHistory()
        self.epochs: dict[int, EpochFiles] = {}
        self.index_epochs: list[int] = []
        self.index_datasets: list[int] = []
        self.index_problems: list[Row] = []
        self.terms: dict[int, Terms] = {}
        self.terms_problems: dict[int, str] = {}
        self.gold_raw: dict[int, bytes] = {}
        self.views: dict[str, Any] = {}

    # -- loading ---------------------------------------------------------------------------------

    def run(self) -> AuditReport:
        self._connect()
        self._read_index()
        self._read_logs()
        self._load_epochs()
        self._load_datasets()
        self._read_views()
        checks: list[CheckResult] = []
        for number, name in enumerate(CHECKS):
            self.progress("checking " + name, number, len(CHECKS))
            method: Callable[[], CheckResult] = getattr(self, "check_" + name.replace("-", "_"))
            checks.append(method())
        self.progress("done", len(CHECKS), len(CHECKS))
        return AuditReport(self.block, self.deployment.chain_id, self.deployment.ledger, checks)

    def _connect(self) -> None:
        try:
            chain_id = int(str(self.rpc.call("eth_chainId", [])), 16)
        except RpcFailed as exc:
            reason = getattr(exc.__cause__, "reason", exc.message)
            raise AuditInputError(
                f"cannot reach the chain at {self.rpc.url} ({reason}); pass --rpc (or set "
                "LABEL_LEDGER_RPC_URL) to a running node of the deployment's chain"
            ) from exc
        if chain_id != self.deployment.chain_id:
            raise AuditInputError(
                f"the node is on chain {chain_id}, the deployment file on chain "
                f"{self.deployment.chain_id}: pass the matching --rpc or --deployment"
            )
        head = self.rpc.head()
        block = head if self.requested_block is None else self.requested_block
        if not self.deployment.deployment_block <= block <= head:
            raise AuditInputError(
                f"block {block} is outside the ledger's history (deployed at block "
                f"{self.deployment.deployment_block}, head {head})"
            )
        self.block = block

    def _read_index(self) -> None:
        raw = self.source.read(INDEX)
        if raw is None:
            raise AuditInputError(
                f"{self.source.location} has no {INDEX}: is it a label-ledger publication?"
            )
        try:
            index = json.loads(raw)
            self.index_epochs = sorted(int(n) for n in index["epochs"])
            self.index_datasets = sorted(int(d, 16) for d in index["datasets"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditInputError(f"{INDEX} is not a publication index: {exc}") from exc
        if int(index.get("chainId", -1)) != self.deployment.chain_id:
            self.index_problems.append(
                {
                    "file": INDEX,
                    "problem": f"chainId {index.get('chainId')} is not the deployment's "
                    f"{self.deployment.chain_id}",
                }
            )
        if str(index.get("ledger", "")).lower() != self.deployment.ledger.lower():
            self.index_problems.append(
                {
                    "file": INDEX,
                    "problem": f"ledger {index.get('ledger')} is not the deployment's "
                    f"{self.deployment.ledger}",
                }
            )

    def _read_logs(self) -> None:
        abi = load_artifact("LabelLedger").abi
        topics = ["0x" + event_topic(abi, name).hex() for name in _EVENTS]
        decoder = EventDecoder(self.deployment)
        first, last = self.deployment.deployment_block, self.block
        start, size = first, INITIAL_LOG_RANGE
        decoded: list[DecodedLog] = []
        while start <= last:
            stop = min(last, start + size - 1)
            try:
                raw = self.rpc.logs([self.deployment.ledger], topics, start, stop)
            except RangeTooLarge:
                if size == 1:
                    raise
                size = max(1, size // 2)
                continue
            for log in raw:
                event = decoder.decode(log)
                if event is not None:
                    decoded.append(event)
            self.progress("reading chain logs", stop - first + 1, last - first + 1)
            start = stop + 1
        decoded.sort(key=lambda e: (e.block_number, e.log_index))
        for event in decoded:
            self.history.apply(event)
        self.history.logs = len(decoded)

    def _load_epochs(self) -> None:
        numbers = sorted(set(self.index_epochs) | set(self.history.proposals))
        for done, number in enumerate(numbers):
            self.progress(f"loading epoch {number}", done, len(numbers))
            self.epochs[number] = self._load_epoch(number)
        self.progress("loaded epochs", len(numbers), len(numbers))

    def _load_epoch(self, number: int) -> EpochFiles:
        files = EpochFiles(number)
        folder = f"epochs/{number}/"
        files.manifest_bytes = self.source.read(folder + MANIFEST)
        if files.manifest_bytes is None:
            return files
        try:
            files.manifest = Manifest.parse(files.manifest_bytes)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            files.manifest_problem = f"manifest.json does not parse: {exc!r}"
            files.problems.append({"epoch": str(number), "file": MANIFEST, "problem": str(exc)})
            return files
        manifest = files.manifest
        where = {"epoch": str(number)}
        for encoding, expected, what in (
            (manifest.payout_encoding, PAYOUT_LEAF_ENCODING, "payoutLeafEncoding"),
            (manifest.label_encoding, LABEL_LEAF_ENCODING, "labelLeafEncoding"),
        ):
            if tuple(encoding) != expected:
                files.problems.append(
                    {**where, "file": MANIFEST, "problem": f"{what} {encoding} != {list(expected)}"}
                )
        if manifest.methods != {str(c): n for c, n in METHOD_NAMES.items()}:
            files.problems.append(
                {**where, "file": MANIFEST, "problem": f"methods {manifest.methods} unexpected"}
            )
        payout = self._load_dump(files, PAYOUT_TREE, manifest.payout_root, PAYOUT_LEAF_ENCODING)
        if payout is not None:
            files.payout_root = payout.root
            files.payout = self._payout_leaves(files, payout)
        labels = self._load_dump(files, LABEL_TREE, manifest.label_root, LABEL_LEAF_ENCODING)
        if labels is not None:
            files.label_root = labels.root
            files.labels = [
                (
                    int(v[0]),
                    str(v[1]).lower(),
                    str(v[2]).lower(),
                    str(v[3]).lower(),
                    int(v[4]),
                    int(v[5]),
                    int(v[6]),
                )
                for _, v in labels.entries()
            ]
            if len(files.labels) != manifest.label_count:
                files.problems.append(
                    {
                        **where,
                        "file": LABEL_TREE,
                        "problem": f"{len(files.labels)} label leaves, manifest labelCount "
                        f"{manifest.label_count}",
                    }
                )
        self._load_verdicts(files)
        return files

    def _load_dump(
        self, files: EpochFiles, name: str, root: str, encoding: tuple[str, ...]
    ) -> StandardMerkleTree | None:
        assert files.manifest is not None
        where = {"epoch": str(files.number), "file": name}
        raw = self.source.read(f"epochs/{files.number}/{name}")
        if raw is None:
            files.problems.append({**where, "problem": "missing"})
            return None
        digest, expected = _hash(raw), files.manifest.files.get(name)
        trusted = digest == expected
        if not trusted:
            files.problems.append(
                {**where, "problem": f"keccak256 {digest} != manifest files[{name}] {expected}"}
            )
        try:
            tree = StandardMerkleTree.loads(raw)
        except InvalidDumpError as exc:
            files.problems.append(
                {**where, "problem": f"invalid dump: {exc}", **_bad_leaf(raw, exc)}
            )
            return None
        if tree.leaf_encoding != encoding:
            files.problems.append(
                {**where, "problem": f"leafEncoding {list(tree.leaf_encoding)} != {list(encoding)}"}
            )
            return None
        if tree.root != root:
            files.problems.append(
                {**where, "problem": f"rebuilt root {tree.root} != manifest root {root}"}
            )
            return None
        # a file other than the one the manifest names is not what the epoch committed to: the
        # checks that need it say so instead of checking it
        return tree if trusted else None

    def _payout_leaves(
        self, files: EpochFiles, tree: StandardMerkleTree
    ) -> dict[tuple[str, int], tuple[int, int]]:
        leaves: dict[tuple[str, int], tuple[int, int]] = {}
        for index, value in tree.entries():
            key = (str(value[0]).lower(), int(value[1]))
            if key in leaves:
                files.problems.append(
                    {
                        "epoch": str(files.number),
                        "file": PAYOUT_TREE,
                        "account": str(value[0]),
                        "token": str(value[1]),
                        "problem": f"second leaf for this account and token (values[{index}])",
                    }
                )
            leaves[key] = (int(value[2]), int(value[3]))
        return leaves

    def _load_verdicts(self, files: EpochFiles) -> None:
        assert files.manifest is not None
        where = {"epoch": str(files.number), "file": VERDICTS}
        raw = self.source.read(f"epochs/{files.number}/{VERDICTS}")
        if raw is None:
            files.problems.append({**where, "problem": "missing"})
            return
        digest, expected = _hash(raw), files.manifest.files.get(VERDICTS)
        if digest != expected:
            files.problems.append(
                {**where, "problem": f"keccak256 {digest} != manifest files[{VERDICTS}] {expected}"}
            )
            return
        try:
            doc = json.loads(raw)
            if doc.get("format") != VERDICTS_FORMAT or int(doc["epoch"]) != files.number:
                raise ValueError(f"format {doc.get('format')!r}, epoch {doc.get('epoch')!r}")
            paid: dict[LabelKey, list[tuple[str, str | None, str | None]]] = defaultdict(list)
            for entry in doc["paid"]:
                dataset, item, annotator, label, method, evidence, graded = entry
                key = (int(dataset, 16), item.lower(), annotator.lower(), label.lower())
                paid[key].append(
                    (
                        str(method),
                        None if evidence is None else str(evidence),
                        None if graded is None else str(graded).lower(),
                    )
                )
            rejected = [
                ((int(d, 16), i.lower(), a.lower(), lh.lower()), str(ans).lower(), str(g).lower())
                for d, i, a, lh, ans, g in doc["goldRejected"]
            ]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            files.problems.append({**where, "problem": f"does not parse: {exc!r}"})
            return
        files.verdicts = Verdicts(dict(paid), rejected, len(doc["paid"]))
        if len(rejected) != files.manifest.gold_rejected_count:
            files.problems.append(
                {
                    **where,
                    "problem": f"{len(rejected)} gold rejections, manifest goldRejectedCount "
                    f"{files.manifest.gold_rejected_count}",
                }
            )

    def _dataset_ids(self) -> list[int]:
        """Every dataset the audit looks at: debited on chain or in a manifest, or published."""
        ids = set(self.index_datasets)
        for proposal in self.history.proposals.values():
            ids.update(d for d, _ in proposal.debits)
        for files in self.epochs.values():
            if files.manifest is not None:
                ids.update(d.dataset_id for d in files.manifest.datasets)
        return sorted(ids)

    def _load_datasets(self) -> None:
        ids = self._dataset_ids()
        for done, dataset_id in enumerate(ids):
            self.progress("loading dataset terms", done, len(ids))
            folder = f"datasets/{_id_hex(dataset_id)}/"
            raw = self.source.read(folder + TERMS)
            if raw is None:
                self.terms_problems[dataset_id] = "terms.json is not published"
            else:
                try:
                    self.terms[dataset_id] = Terms.parse(raw)
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    self.terms_problems[dataset_id] = f"terms.json does not parse: {exc!r}"
            gold = self.source.read(folder + GOLD)
            if gold is not None:
                self.gold_raw[dataset_id] = gold

    def _read_views(self) -> None:
        """Every view the checks need, in batches, at the audited block."""
        ledger = self.deployment.ledger
        calls: list[tuple[str, tuple[str, str]]] = [
            ("payoutRoot", (ledger, _PAYOUT_ROOT)),
            ("acceptedEpoch", (ledger, _ACCEPTED_EPOCH)),
            ("totalSupply", (ledger, TOTAL_SUPPLY)),
        ]
        for number in self.history.proposals:
            calls.append((f"commitment:{number}", (ledger, _COMMITMENT + word(number))))
        for token in self.deployment.payment_tokens:
            calls.append((f"tokenState:{token.index}", (ledger, _TOKEN_STATE + word(token.index))))
            calls.append((f"balance:{token.index}", (token.address, BALANCE_OF + word(ledger))))
        for dataset_id in self.history.datasets:
            calls.append((f"dataset:{dataset_id}", (ledger, _DATASET + word(dataset_id))))
        for account, token_index in self.history.claims:
            data = _CLAIMED + word(account) + word(token_index)
            calls.append((f"claimed:{account}:{token_index}", (ledger, data)))
        self.progress("reading views", 0, len(calls))
        answers = self.rpc.eth_calls([c for _, c in calls], self.block)
        self.views = {name: _words(a) for (name, _), a in zip(calls, answers, strict=True)}
        self.progress("reading views", len(calls), len(calls))

    # -- helpers ---------------------------------------------------------------------------------

    def _live(self) -> list[int]:
        return sorted(self.history.proposals)

    def _usable(self, number: int) -> EpochFiles | None:
        """The epoch's files when its manifest, both trees and verdicts all loaded."""
        files = self.epochs.get(number)
        if files is None or files.manifest is None or files.payout is None:
            return None
        if files.labels is None or files.verdicts is None:
            return None
        return files

    def _skipped(self, numbers: Iterable[int]) -> str:
        missing = [str(n) for n in numbers]
        if not missing:
            return ""
        return f" (not checked for epoch(s) {', '.join(missing)}: files missing or unusable)"

    def _token_of(self, dataset_id: int) -> int | None:
        dataset = self.history.datasets.get(dataset_id)
        return None if dataset is None else dataset.token

    # -- 1. epochs-published ---------------------------------------------------------------------

    def check_epochs_published(self) -> CheckResult:
        rows = list(self.index_problems)
        for number in self._live():
            files = self.epochs[number]
            if number not in self.index_epochs:
                rows.append(
                    {
                        "epoch": str(number),
                        "problem": f"proposed on chain (block "
                        f"{self.history.proposals[number].block}) but not in {INDEX}",
                    }
                )
            elif files.manifest_bytes is None:
                rows.append(
                    {
                        "epoch": str(number),
                        "problem": "in index.json but its manifest.json is missing",
                    }
                )
        for number in self.index_epochs:
            if number not in self.history.proposals:
                why = "revoked on chain" if number in self.history.revoked else "never proposed"
                rows.append(
                    {
                        "epoch": str(number),
                        "problem": f"published but {why} (as of block {self.block})",
                    }
                )
        live = self._live()
        return _result(
            "epochs-published",
            rows,
            f"{len(live)} live epoch(s) on chain, all published, nothing else published",
        )

    # -- 2. commitments --------------------------------------------------------------------------

    def check_commitments(self) -> CheckResult:
        rows: list[Row] = []
        for number in self._live():
            rows.extend(self._commitment_rows(number))
        rows.extend(self._accepted_root_rows())
        return _result(
            "commitments",
            rows,
            f"{len(self._live())} manifest(s) hash to their contentHash and carry the proposed "
            f"roots; accepted epoch {self.history.latest_accepted}'s root is the chain's",
        )

    def _commitment_rows(self, number: int) -> list[Row]:
        proposal, files = self.history.proposals[number], self.epochs[number]
        where = {"epoch": str(number)}
        rows: list[Row] = []
        encoded = b"".join(
            bytes.fromhex(h[2:])
            for h in (proposal.payout_root, proposal.label_root, proposal.content_hash)
        )
        expected = _hash(encoded)
        on_chain = "0x" + f"{self.views[f'commitment:{number}'][0]:064x}"
        if on_chain != expected:
            rows.append(
                {
                    **where,
                    "problem": f"epochCommitment({number}) {on_chain} != keccak256("
                    f"abi.encode(payoutRoot, labelRoot, contentHash)) {expected}",
                }
            )
        if files.manifest_bytes is None:
            return rows
        content = _hash(files.manifest_bytes)
        if content != proposal.content_hash:
            rows.append(
                {
                    **where,
                    "problem": f"keccak256(manifest.json) {content} != proposed "
                    f"contentHash {proposal.content_hash}",
                }
            )
        manifest = files.manifest
        if manifest is None:
            rows.append({**where, "problem": files.manifest_problem or "manifest unusable"})
            return rows
        for what, published, proposed in (
            ("payoutRoot", manifest.payout_root, proposal.payout_root),
            ("labelRoot", manifest.label_root, proposal.label_root),
        ):
            if published != proposed:
                rows.append(
                    {
                        **where,
                        "problem": f"manifest {what} {published} != proposed "
                        f"{proposed} (block {proposal.block})",
                    }
                )
        if manifest.epoch != number:
            rows.append({**where, "problem": f"manifest says epoch {manifest.epoch}"})
        # the epoch builds on the one before it: the proposal the chain took for number - 1
        before = self.history.proposals.get(number - 1)
        previous = before.payout_root if before is not None else None
        if manifest.previous_payout_root != previous:
            rows.append(
                {
                    **where,
                    "problem": f"manifest previousPayoutRoot {manifest.previous_payout_root} "
                    f"!= epoch {number - 1}'s payout root on chain {previous}",
                }
            )
        if manifest.chain_id != self.deployment.chain_id:
            rows.append(
                {
                    **where,
                    "problem": f"manifest chainId {manifest.chain_id} != "
                    f"{self.deployment.chain_id}",
                }
            )
        if manifest.ledger.lower() != self.deployment.ledger.lower():
            rows.append(
                {
                    **where,
                    "problem": f"manifest ledger {manifest.ledger} != {self.deployment.ledger}",
                }
            )
        return rows

    def _accepted_root_rows(self) -> list[Row]:
        rows: list[Row] = []
        latest = self.history.latest_accepted
        chain_root = "0x" + f"{self.views['payoutRoot'][0]:064x}"
        chain_epoch = self.views["acceptedEpoch"][0]
        if chain_epoch != latest:
            rows.append(
                {
                    "epoch": str(chain_epoch),
                    "problem": f"acceptedEpoch() is {chain_epoch}, "
                    f"the EpochAccepted logs say {latest}",
                }
            )
        if latest == 0:
            if chain_root != ZERO32:
                rows.append(
                    {"epoch": "0", "problem": f"payoutRoot() {chain_root} with no epoch accepted"}
                )
            return rows
        event_root = self.history.accepted[latest]
        if chain_root != event_root:
            rows.append(
                {
                    "epoch": str(latest),
                    "problem": f"payoutRoot() {chain_root} != EpochAccepted root {event_root}",
                }
            )
        files = self.epochs.get(latest)
        manifest = None if files is None else files.manifest
        if manifest is not None and manifest.payout_root != chain_root:
            rows.append(
                {
                    "epoch": str(latest),
                    "problem": f"payoutRoot() {chain_root} != "
                    f"accepted epoch's manifest payoutRoot {manifest.payout_root}",
                }
            )
        return rows

    # -- 3. dumps --------------------------------------------------------------------------------

    def check_dumps(self) -> CheckResult:
        rows: list[Row] = []
        checked = 0
        for number in sorted(self.epochs):
            files = self.epochs[number]
            rows.extend(files.problems)
            if files.manifest is not None:
                checked += 1
        return _result(
            "dumps",
            rows,
            f"{checked} epoch(s): every dump loads, rebuilds its manifest's root "
            "and hashes to the manifest's files entry",
        )

    # -- 4. terms --------------------------------------------------------------------------------

    def check_terms(self) -> CheckResult:
        rows: list[Row] = []
        ids = self._dataset_ids()
        for dataset_id in ids:
            rows.extend(self._terms_rows(dataset_id))
        for number in self._live():
            manifest = self.epochs[number].manifest
            for debit in manifest.datasets if manifest is not None else []:
                chain = self.history.datasets.get(debit.dataset_id)
                if chain is not None and debit.terms_hash != chain.salt:
                    rows.append(
                        {
                            "epoch": str(number),
                            "dataset": _id_hex(debit.dataset_id),
                            "problem": f"manifest termsHash {debit.terms_hash} != salt "
                            f"{chain.salt}",
                        }
                    )
        return _result(
            "terms",
            rows,
            f"{len(ids)} dataset(s): terms.json hashes to the salt the buyer "
            "created it with, same buyer and token",
        )

    def _terms_rows(self, dataset_id: int) -> list[Row]:
        where = {"dataset": _id_hex(dataset_id)}
        chain = self.history.datasets.get(dataset_id)
        if chain is None:
            return [{**where, "problem": "no DatasetCreated event for this id"}]
        rows: list[Row] = []
        derived = int.from_bytes(
            keccak(bytes(12) + bytes.fromhex(chain.buyer[2:]) + bytes.fromhex(chain.salt[2:])),
            "big",
        )
        if derived != dataset_id:
            rows.append({**where, "problem": "id != keccak256(abi.encode(buyer, salt))"})
        problem = self.terms_problems.get(dataset_id)
        if problem is not None:
            return [*rows, {**where, "problem": problem}]
        terms = self.terms[dataset_id]
        if terms.raw_hash != chain.salt:
            rows.append(
                {**where, "problem": f"keccak256(terms.json) {terms.raw_hash} != salt {chain.salt}"}
            )
        if terms.buyer.lower() != chain.buyer.lower():
            rows.append({**where, "problem": f"terms buyer {terms.buyer} != creator {chain.buyer}"})
        token = next(
            (t.address for t in self.deployment.payment_tokens if t.index == chain.token), None
        )
        if token is None or terms.payment_token.lower() != token.lower():
            rows.append(
                {
                    **where,
                    "problem": f"terms paymentToken {terms.payment_token} != token "
                    f"index {chain.token} ({token})",
                }
            )
        return rows

    # -- 5. debits -------------------------------------------------------------------------------

    def check_debits(self) -> CheckResult:
        rows: list[Row] = []
        skipped: list[int] = []
        for number in self._live():
            files = self._usable(number)
            if files is None:
                skipped.append(number)
                continue
            rows.extend(self._debit_rows(files, self.history.proposals[number]))
        return _result(
            "debits",
            rows,
            "manifests debit what the chain debited, with the chain's fees, and "
            "each dataset's labels add up to its debit" + self._skipped(skipped),
        )

    def _debit_rows(self, files: EpochFiles, proposal: Proposal) -> list[Row]:
        assert files.manifest is not None
        assert files.labels is not None
        where = {"epoch": str(files.number)}
        rows: list[Row] = []
        proposed: dict[int, int] = defaultdict(int)
        for dataset_id, debit in proposal.debits:
            proposed[dataset_id] += debit
        published: dict[int, ManifestDebit] = {}
        for entry in files.manifest.datasets:
            if entry.dataset_id in published:
                rows.append(
                    {
                        **where,
                        "dataset": _id_hex(entry.dataset_id),
                        "problem": "listed twice in the manifest",
                    }
                )
            published[entry.dataset_id] = entry
        sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for leaf in files.labels:
            acc = sums[leaf[0]]
            acc[0] += leaf[5]
            acc[1] += 1
        for dataset_id in sorted(set(proposed) | set(published) | set(sums)):
            rows.extend(
                {**where, "dataset": _id_hex(dataset_id), "problem": p}
                for p in self._dataset_debit_problems(
                    proposed.get(dataset_id),
                    published.get(dataset_id),
                    sums.get(dataset_id),
                    self.history.datasets.get(dataset_id),
                )
            )
        return rows

    def _dataset_debit_problems(
        self,
        proposed: int | None,
        entry: ManifestDebit | None,
        sums: list[int] | None,
        chain: ChainDataset | None,
    ) -> list[str]:
        if entry is None:
            return [
                f"debited {proposed} on chain but not in the manifest"
                if proposed is not None
                else "labels paid in the label tree but no debit in the manifest"
            ]
        if proposed is None:
            return [f"manifest debits {entry.debit}, the chain proposal does not debit it"]
        problems: list[str] = []
        if entry.debit != proposed:
            problems.append(f"manifest debit {entry.debit} != proposed {proposed}")
        if chain is not None:
            fee = _fee(entry.debit, chain.fee_bps)
            if entry.fee != fee:
                problems.append(
                    f"manifest fee {entry.fee} != debit*feeBps//10000 = {fee} "
                    f"(feeBps {chain.fee_bps} on chain)"
                )
            if entry.fee_bps != chain.fee_bps:
                problems.append(f"manifest feeBps {entry.fee_bps} != {chain.fee_bps} on chain")
            if entry.token != chain.token:
                problems.append(f"manifest token {entry.token} != {chain.token} on chain")
        paid, count = sums if sums is not None else [0, 0]
        if paid != entry.debit:
            problems.append(f"label leaves pay {paid} in total, debit is {entry.debit}")
        if count != entry.labels:
            problems.append(f"{count} label leaves, manifest says {entry.labels} labels")
        return problems

    # -- 6. entitlements -------------------------------------------------------------------------

    def check_entitlements(self) -> CheckResult:
        rows: list[Row] = []
        skipped: list[int] = []
        previous: dict[tuple[str, int], tuple[int, int]] | None = {}
        for number in self._live():
            files = self._usable(number)
            if files is None or previous is None:
                skipped.append(number)
                previous = None if files is None else files.payout
                continue
            assert files.payout is not None
            rows.extend(self._entitlement_rows(files, previous))
            previous = files.payout
        return _result(
            "entitlements",
            rows,
            "each epoch's payout leaves add exactly its labels to the "
            "previous cumulatives, per account and token" + self._skipped(skipped),
        )

    def _entitlement_rows(
        self, files: EpochFiles, previous: dict[tuple[str, int], tuple[int, int]]
    ) -> list[Row]:
        assert files.payout is not None
        assert files.labels is not None
        number = str(files.number)
        rows: list[Row] = []
        earned: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
        for leaf in files.labels:
            token = self._token_of(leaf[0])
            if token is not None:
                acc = earned[(leaf[2], token)]
                acc[0] += leaf[5]
                acc[1] += leaf[6]
        debited: dict[int, int] = defaultdict(int)
        for dataset_id, debit in self.history.proposals[files.number].debits:
            token = self._token_of(dataset_id)
            if token is not None:
                debited[token] += debit
        now_sum: dict[int, int] = defaultdict(int)
        before_sum: dict[int, int] = defaultdict(int)
        for (_, token), (payment, _reward) in files.payout.items():
            now_sum[token] += payment
        for (_, token), (payment, _reward) in previous.items():
            before_sum[token] += payment
        for token in sorted(set(now_sum) | set(before_sum) | set(debited)):
            delta = now_sum[token] - before_sum[token]
            if delta != debited[token]:
                rows.append(
                    {
                        "epoch": number,
                        "token": str(token),
                        "problem": f"cumulative "
                        f"payments grew by {delta}, the epoch debited {debited[token]}",
                    }
                )
        for key in sorted(set(files.payout) | set(previous) | set(earned)):
            rows.extend(
                self._account_rows(
                    number, key, files.payout.get(key), previous.get(key), earned.get(key, [0, 0])
                )
            )
        return rows

    def _account_rows(
        self,
        number: str,
        key: tuple[str, int],
        now: tuple[int, int] | None,
        before: tuple[int, int] | None,
        earned: list[int],
    ) -> list[Row]:
        where = {"epoch": number, "account": key[0], "token": str(key[1])}
        if now is None:
            if before is not None:
                return [{**where, "problem": f"leaf {before} of the previous epoch disappeared"}]
            return [
                {**where, "problem": f"labels earn {tuple(earned)} but there is no payout leaf"}
            ]
        base = before or (0, 0)
        rows: list[Row] = []
        for i, what in enumerate(("payment", "reward")):
            delta = now[i] - base[i]
            if delta < 0:
                rows.append(
                    {**where, "problem": f"cumulative {what} decreased from {base[i]} to {now[i]}"}
                )
            elif delta != earned[i]:
                rows.append(
                    {
                        **where,
                        "problem": f"cumulative {what} grew by {delta} "
                        f"({base[i]} -> {now[i]}), its labels earn {earned[i]}",
                    }
                )
        return rows

    # -- 7. prices -------------------------------------------------------------------------------

    def check_prices(self) -> CheckResult:
        rows: list[Row] = []
        skipped: list[int] = []
        count = 0
        for number in self._live():
            files = self._usable(number)
            if files is None:
                skipped.append(number)
                continue
            assert files.labels is not None
            for leaf in files.labels:
                count += 1
                terms = self.terms.get(leaf[0])
                if terms is None:
                    rows.append(_leaf_row(number, leaf, "no usable terms.json for its dataset"))
                    continue
                if leaf[5] != terms.price:
                    rows.append(
                        _leaf_row(number, leaf, f"payment {leaf[5]} != pricePerLabel {terms.price}")
                    )
                if leaf[6] not in terms.rewards:
                    allowed = ", ".join(str(r) for r in sorted(terms.rewards))
                    rows.append(
                        _leaf_row(
                            number,
                            leaf,
                            f"reward {leaf[6]} is none the terms allow ({allowed}: rewardPerLabel "
                            f"{terms.reward} times a committed tier multiplier)",
                        )
                    )
        return _result(
            "prices",
            rows,
            f"{count} label(s) each pay their dataset's price and reward" + self._skipped(skipped),
        )

    # -- 8. overlap -----------------------------------------------------------------------------

    def check_overlap(self) -> CheckResult:
        usable: list[EpochFiles] = []
        skipped: list[int] = []
        for number in self._live():
            files = self._usable(number)
            if files is None:
                skipped.append(number)
            else:
                usable.append(files)
        paid, gold = _paid_places(usable)
        gold |= self._revealed_gold_items()
        rows = _overlap_rows(paid, gold, self.terms)
        unchecked = len({dataset_id for dataset_id, _ in paid} - set(self.terms))
        without_terms = (
            f" (not checked for {unchecked} dataset(s) without usable terms.json)"
            if unchecked
            else ""
        )
        return _result(
            "overlap",
            rows,
            f"{len(paid)} item(s): none is paid more labels than its terms allow (overlap, "
            "consensus_max_k, or gold_overlap for a gold item; appeals aside)"
            + without_terms
            + self._skipped(skipped),
        )

    def _revealed_gold_items(self) -> set[ItemKey]:
        """The items each revealed gold.json names, where it is the one the terms committed to
        (`gold` reports one that is not)."""
        items: set[ItemKey] = set()
        for dataset_id, raw in self.gold_raw.items():
            terms = self.terms.get(dataset_id)
            if terms is None or terms.gold_commitment != _hash(raw):
                continue
            try:
                answers = _gold_answers(raw)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # reported by `gold`
            items.update((dataset_id, item) for item in answers)
        return items

    # -- 9. verdicts -----------------------------------------------------------------------------

    def check_verdicts(self) -> CheckResult:
        rows: list[Row] = []
        skipped: list[int] = []
        paid_in: dict[tuple[int, str, str], int] = {}
        for number in self._live():
            files = self._usable(number)
            if files is None:
                skipped.append(number)
                continue
            rows.extend(self._verdict_rows(files, paid_in))
        return _result(
            "verdicts",
            rows,
            f"{len(paid_in)} label(s): each has exactly one matching paid "
            "verdict with its method and evidence, and is paid once" + self._skipped(skipped),
        )

    def _verdict_rows(
        self, files: EpochFiles, paid_in: dict[tuple[int, str, str], int]
    ) -> list[Row]:
        assert files.labels is not None
        assert files.verdicts is not None
        number = files.number
        rows: list[Row] = []
        verdicts = files.verdicts.paid
        used: set[LabelKey] = set()
        for leaf in files.labels:
            key: LabelKey = (leaf[0], leaf[1], leaf[2], leaf[3])
            entries = verdicts.get(key, [])
            problem = _verdict_problem(leaf[4], entries, key in used)
            used.add(key)
            if problem is not None:
                rows.append(_leaf_row(number, leaf, problem))
            once = (leaf[0], leaf[1], leaf[2])
            if once in paid_in:
                rows.append(
                    _leaf_row(
                        number,
                        leaf,
                        f"this annotator's label on this item was "
                        f"already paid in epoch {paid_in[once]}",
                    )
                )
            else:
                paid_in[once] = number
        for key in sorted(set(verdicts) - used):
            rows.append(
                {
                    "epoch": str(number),
                    "dataset": _id_hex(key[0]),
                    "item": key[1],
                    "annotator": key[2],
                    "labelHash": key[3],
                    "problem": "paid verdict without a label leaf",
                }
            )
        for key, answer, graded in files.verdicts.rejected:
            if not (_HASH_RE.fullmatch(answer) and _HASH_RE.fullmatch(graded)):
                rows.append(
                    {
                        "epoch": str(number),
                        "dataset": _id_hex(key[0]),
                        "item": key[1],
                        "annotator": key[2],
                        "problem": "gold rejection without answer and graded hashes "
                        f"({answer}, {graded})",
                    }
                )
        return rows

    # -- 10. gold --------------------------------------------------------------------------------

    def check_gold(self) -> CheckResult:
        by_dataset: dict[int, list[GoldVerdict]] = defaultdict(list)
        skipped: list[int] = []
        for number in self._live():
            files = self._usable(number)
            if files is None:
                skipped.append(number)
                continue
            assert files.verdicts is not None
            for key, entries in files.verdicts.paid.items():
                for method, evidence, graded in entries:
                    if method == "gold":
                        verdict = (number, "paid", key, str(evidence).lower(), str(graded))
                        by_dataset[key[0]].append(verdict)
            for key, answer, graded in files.verdicts.rejected:
                by_dataset[key[0]].append((number, "rejected", key, answer, graded))
        rows: list[Row] = []
        pending: list[Row] = []
        committed = 0
        for dataset_id in sorted(set(by_dataset) | set(self.terms)):
            terms = self.terms.get(dataset_id)
            if terms is not None and terms.gold_commitment is not None:
                committed += 1
            found, waiting = self._gold_rows(dataset_id, terms, by_dataset.get(dataset_id, []))
            rows.extend(found)
            pending.extend(waiting)
        return _result(
            "gold",
            rows,
            f"{committed} dataset(s) with gold: reveals match their commitments and "
            "every gold verdict follows the revealed answers" + self._skipped(skipped),
            pending=pending,
        )

    def _gold_rows(
        self, dataset_id: int, terms: Terms | None, verdicts: list[GoldVerdict]
    ) -> tuple[list[Row], list[Row]]:
        where = {"dataset": _id_hex(dataset_id)}
        rows = [
            _gold_row(n, kind, key, p)
            for n, kind, key, ans, graded in verdicts
            if (p := _gold_self_problem(kind, ans, graded)) is not None
        ]
        if terms is None:
            return rows, []  # reported by `terms`
        if terms.gold_commitment is None:
            rows.extend(
                _gold_row(
                    n, kind, key, "gold verdict on a dataset whose terms commit to no gold answers"
                )
                for n, kind, key, _answer, _graded in verdicts
            )
            return rows, []
        raw = self.gold_raw.get(dataset_id)
        chain = self.history.datasets.get(dataset_id)
        if raw is None:
            if chain is not None and chain.closed:
                rows.append(
                    {
                        **where,
                        "problem": f"closed without revealing gold.json (commitment "
                        f"{terms.gold_commitment}, {len(verdicts)} gold verdict(s))",
                    }
                )
                return rows, []
            return rows, [
                {
                    **where,
                    "status": "pending",
                    "problem": f"open: gold answers not "
                    f"revealed yet, {len(verdicts)} gold verdict(s) to check then",
                }
            ]
        rows.extend(_reveal_rows(where, terms.gold_commitment, raw, verdicts))
        return rows, []

    # -- 11. claims ------------------------------------------------------------------------------

    def check_claims(self) -> CheckResult:
        rows: list[Row] = []
        latest = self.history.latest_accepted
        leaves: dict[tuple[str, int], tuple[int, int]] | None = {}
        if latest:
            files = self.epochs.get(latest)
            leaves = None if files is None else files.payout
        for (account, token), (payment, reward) in sorted(self.history.claims.items()):
            where = {"account": account, "token": str(token)}
            view = self.views[f"claimed:{account}:{token}"]
            if (view[0], view[1]) != (payment, reward):
                rows.append(
                    {
                        **where,
                        "problem": f"claimed() view {tuple(view[:2])} != Claimed "
                        f"events' sums {(payment, reward)}",
                    }
                )
            if leaves is None:
                continue
            cumulative = leaves.get((account, token), (0, 0))
            if payment > cumulative[0] or reward > cumulative[1]:
                rows.append(
                    {
                        **where,
                        "problem": f"claimed {(payment, reward)} (payment, reward) > "
                        f"entitlement {cumulative} in accepted epoch {latest}",
                    }
                )
        against = (
            f"entitlement in accepted epoch {latest}"
            if leaves is not None
            else f"entitlement (not checked: accepted epoch {latest}'s payout tree is missing or "
            "unusable)"
        )
        return _result(
            "claims",
            rows,
            f"{len(self.history.claims)} claimant(s) claimed at most their {against}; claimed() "
            "agrees with the Claimed logs",
        )

    # -- 12. supply ------------------------------------------------------------------------------

    def check_supply(self) -> CheckResult:
        minted = sum(r for _, r in self.history.claims.values())
        supply = self.views["totalSupply"][0]
        rows: list[Row] = []
        if supply != minted:
            rows.append(
                {
                    "token": "LABEL",
                    "problem": f"totalSupply() {supply} != sum of Claimed rewards {minted}",
                }
            )
        return _result("supply", rows, f"LABEL totalSupply() {supply} == claimed rewards")

    # -- 13. escrow ------------------------------------------------------------------------------

    def check_escrow(self) -> CheckResult:
        debits: dict[int, int] = defaultdict(int)  # per token
        fees: dict[int, int] = defaultdict(int)
        per_dataset: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # debit, fee
        for proposal in self.history.proposals.values():
            for dataset_id, debit in proposal.debits:
                chain = self.history.datasets.get(dataset_id)
                if chain is None:
                    continue
                fee = _fee(debit, chain.fee_bps)
                debits[chain.token] += debit
                fees[chain.token] += fee
                per_dataset[dataset_id][0] += debit
                per_dataset[dataset_id][1] += fee
        paid: dict[int, int] = defaultdict(int)
        for (_, token), (payment, _reward) in self.history.claims.items():
            paid[token] += payment
        rows: list[Row] = []
        available: dict[int, int] = defaultdict(int)
        for dataset_id, chain in sorted(self.history.datasets.items()):
            view = self.views[f"dataset:{dataset_id}"]
            available[chain.token] += view[5]
            rows.extend(self._dataset_escrow_rows(chain, view, per_dataset[dataset_id]))
        for listed in self.deployment.payment_tokens:
            i = listed.index
            owed, held = self.views[f"tokenState:{i}"][:2]
            balance = self.views[f"balance:{i}"][0]
            where = {"token": f"{i} ({listed.address})"}
            if owed != debits[i] - paid[i]:
                rows.append(
                    {
                        **where,
                        "problem": f"owed {owed} != debits {debits[i]} - claimed "
                        f"payments {paid[i]}",
                    }
                )
            if held != fees[i] - self.history.withdrawn[i]:
                rows.append(
                    {
                        **where,
                        "problem": f"fees {held} != epoch fees {fees[i]} - withdrawn "
                        f"{self.history.withdrawn[i]}",
                    }
                )
            if balance < owed + held + available[i]:
                rows.append(
                    {
                        **where,
                        "problem": f"balanceOf(ledger) {balance} < owed {owed} + fees "
                        f"{held} + available {available[i]}",
                    }
                )
        return _result(
            "escrow",
            rows,
            f"{len(self.deployment.payment_tokens)} payment token(s): the ledger "
            "holds what it owes, its fees and every dataset's available funds",
        )

    def _dataset_escrow_rows(
        self, chain: ChainDataset, view: list[int], debited: list[int]
    ) -> list[Row]:
        where = {"dataset": _id_hex(chain.dataset_id)}
        rows: list[Row] = []
        available, debited_view = view[5], view[6]
        if debited_view != debited[0]:
            rows.append(
                {
                    **where,
                    "problem": f"dataset().debited {debited_view} != proposed debits {debited[0]}",
                }
            )
        expected = chain.funded - debited[0] - debited[1] - chain.refunded
        if available != expected:
            rows.append(
                {
                    **where,
                    "problem": f"dataset().available {available} != funded "
                    f"{chain.funded} - debits {debited[0]} - fees {debited[1]} - refunds "
                    f"{chain.refunded}",
                }
            )
        return rows


# --- row helpers -------------------------------------------------------------------------------


def _bad_leaf(raw: bytes, exc: InvalidDumpError) -> Row:
    """For a dump whose values[i] does not match its leaf: that value, so the row names it."""
    found = re.search(r"values\[(\d+)\]", str(exc))
    if found is None:
        return {}
    try:
        value = json.loads(raw)["values"][int(found[1])]["value"]
    except (ValueError, KeyError, IndexError, TypeError):
        return {}
    return {"leaf": json.dumps(value)}


def _leaf_row(epoch: int, leaf: LabelLeaf, problem: str) -> Row:
    return {
        "epoch": str(epoch),
        "dataset": _id_hex(leaf[0]),
        "item": leaf[1],
        "annotator": leaf[2],
        "labelHash": leaf[3],
        "method": METHOD_NAMES.get(leaf[4], str(leaf[4])),
        "payment": str(leaf[5]),
        "reward": str(leaf[6]),
        "problem": problem,
    }


def _paid_places(epochs: Iterable[EpochFiles]) -> tuple[dict[ItemKey, list[int]], set[ItemKey]]:
    """Per item, the epoch of each label leaf that took one of its places (every method but
    appeal); and the items the epochs show as gold (a gold leaf or verdict, paid or rejected)."""
    paid: dict[ItemKey, list[int]] = defaultdict(list)
    gold: set[ItemKey] = set()
    for files in epochs:
        assert files.labels is not None
        assert files.verdicts is not None
        for leaf in files.labels:
            if leaf[4] == _GOLD:
                gold.add((leaf[0], leaf[1]))
            if leaf[4] != _APPEAL:
                paid[(leaf[0], leaf[1])].append(files.number)
        for key, entries in files.verdicts.paid.items():
            if any(method == "gold" for method, _evidence, _graded in entries):
                gold.add((key[0], key[1]))
        gold.update((key[0], key[1]) for key, _answer, _graded in files.verdicts.rejected)
    return dict(paid), gold


def _overlap_rows(
    paid: Mapping[ItemKey, list[int]], gold: set[ItemKey], terms: Mapping[int, Terms]
) -> list[Row]:
    """The items paid more labels than their dataset's terms allow. `paid`: per item, the epoch
    of each leaf that took a place; a dataset without usable terms is reported by `terms`."""
    rows: list[Row] = []
    for (dataset_id, item), epochs in sorted(paid.items()):
        dataset_terms = terms.get(dataset_id)
        if dataset_terms is None:
            continue
        allowed, term = dataset_terms.allowance(gold=(dataset_id, item) in gold)
        if len(epochs) <= allowed:
            continue
        rows.append(
            {
                "dataset": _id_hex(dataset_id),
                "item": item,
                "paid": str(len(epochs)),
                "allowed": str(allowed),
                "epochs": ", ".join(str(n) for n in sorted(set(epochs))),
                "problem": f"{len(epochs)} labels paid on this item (appeals aside), its terms "
                f"allow {allowed} ({term})",
            }
        )
    return rows


def _verdict_problem(
    code: int, entries: list[tuple[str, str | None, str | None]], seen: bool
) -> str | None:
    if seen:
        return "the same label leaf appears twice"
    if len(entries) != 1:
        return f"{len(entries)} paid verdicts for this label (expected 1)"
    method, evidence, graded = entries[0]
    if METHOD_CODES.get(method) != code:
        return f"leaf method {METHOD_NAMES.get(code, code)} != verdict method {method}"
    # a review names its reviewer, an appeal who upheld the dispute (a reviewer or an operator)
    decider = {"review": "reviewer", "appeal": "decider"}.get(method)
    if decider is not None and (evidence is None or not _ADDRESS_RE.fullmatch(evidence)):
        return f"{method} verdict without a {decider} address (evidence {evidence})"
    if method == "gold" and not (
        evidence is not None
        and graded is not None
        and _HASH_RE.fullmatch(evidence.lower())
        and _HASH_RE.fullmatch(graded)
    ):
        return f"gold verdict without answer and graded hashes ({evidence}, {graded})"
    return None


def _gold_self_problem(kind: str, answer: str, graded: str) -> str | None:
    """A gold verdict against itself: paid only if the label graded as the answer."""
    if kind == "paid" and graded != answer:
        return f"paid on gold but its graded hash {graded} != the answer hash {answer}"
    if kind == "rejected" and graded == answer:
        return "rejected on gold but its graded hash equals the answer hash"
    return None


def _reveal_rows(where: Row, commitment: str, raw: bytes, verdicts: list[GoldVerdict]) -> list[Row]:
    """A revealed gold.json against its commitment, then the gold verdicts against it."""
    digest = _hash(raw)
    if digest != commitment:
        return [
            {**where, "problem": f"keccak256(gold.json) {digest} != goldCommitment {commitment}"}
        ]
    try:
        answers = _gold_answers(raw)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return [{**where, "problem": f"gold.json does not parse: {exc!r}"}]
    return _revealed_rows(answers, verdicts)


def _gold_answers(raw: bytes) -> dict[str, str]:
    """A revealed gold.json's answers: item hash -> answer hash."""
    doc = json.loads(raw)
    if doc.get("format") != GOLD_FORMAT:
        raise ValueError(f"format {doc.get('format')!r}")
    return {str(i).lower(): str(a).lower() for i, a in doc["answers"]}


def _revealed_rows(answers: Mapping[str, str], verdicts: list[GoldVerdict]) -> list[Row]:
    """Gold verdicts against the revealed answers (item hash -> answer hash)."""
    rows: list[Row] = []
    for number, kind, key, answer, graded in verdicts:
        revealed = answers.get(key[1])
        if revealed is None:
            problem = "item is not among the revealed gold items"
        elif answer != revealed:
            problem = f"answer hash {answer} != revealed {revealed}"
        elif kind == "paid" and graded != revealed:
            problem = "paid label differs from the revealed answer"
        elif kind == "rejected" and graded == revealed:
            problem = "rejected label equals the revealed answer"
        else:
            continue
        rows.append(_gold_row(number, kind, key, problem))
    return rows


def _gold_row(epoch: int, kind: str, key: LabelKey, problem: str) -> Row:
    return {
        "epoch": str(epoch),
        "verdict": kind,
        "dataset": _id_hex(key[0]),
        "item": key[1],
        "annotator": key[2],
        "labelHash": key[3],
        "problem": problem,
    }
