"""Benchmark of the chain mirror's backfill (issue 4): events per second into SQLite and PostgreSQL,
beside the time to merely fetch and decode the same logs, in the same run.

Run it from anywhere as `./scripts/bench-mirror` (options: `--help`): about two minutes.

What it does, in order:

1. Starts its own Anvil on a free port (block gas limit raised so a 1,000-recipient payout fits in
   one block), deploys the LabelLedger with the dev stablecoin dUSD (payment token 1), and a
   `BareBatchTransfer` (contracts/test/baselines) holding freshly minted dUSD.
2. Generates `--events` real dUSD `Transfer` events (about 30 s for 100k): `bulkPayOut`
   transactions of `--batch` recipients each (one per block), drawn from `--holders` distinct
   addresses with varied amounts. `--empty-blocks` (default 9) empty blocks follow each
   transaction, and the mirror reads `--block-range` (default 100) blocks per chunk: 10 chunks
   of 10k logs, the most a hosted provider returns per eth_getLogs. (Each empty block costs Anvil
   ~10 ms: it recomputes its state root for every block.)
   Every event is more than `max_reorg_depth` (64) blocks below the head except the last ~6k,
   so most of the backfill is final and the tail is journaled for undo, as in a real catch-up.
3. Measures `--repeat` (default 3) interleaved rounds and reports each phase's median:
   - bare fetch+decode: the mirror's chunks (`--block-range` blocks from the deployment block to
     the head) fetched with raw `eth_getLogs` (the mirror's address and topic filter) over one
     keep-alive HTTP connection, parsed (orjson when installed), and decoded with
     `EventDecoder.decode`. No database, no block headers: the floor the mirror is judged against.
   - mirror -> SQLite: `Mirror(...).sync_once()` from an empty database (a fresh temp file).
   - mirror -> PostgreSQL: the same into a fresh schema of `--database-url`, dropped afterwards.
   Both mirror runs must apply exactly as many logs as the bare fetch decoded, and their dUSD
   balances and supply must equal what was sent (checked after the clock stops). The caches of
   `ledger.mirror` (checksummed addresses) are emptied before each phase, so none profits from
   the one before it.
4. Decoding alone, on `--sample` of those Transfer logs: web3's per-log ABI decoding
   (`contract.events.Transfer().process_log`, on logs as `w3.eth.get_logs` returns them) against
   `EventDecoder.decode` on the raw JSON logs (its input in the mirror) and on the same web3 logs.
   Best of 3 passes each with warm caches, as one pass takes milliseconds; plus one pass of ours
   with cold caches (every holder's address checksummed for the first time).

The bar: >= 20,000 events/s into SQLite, and each mirror run within 3x the bare fetch+decode
time. PASS or FAIL is printed; the exit status is 0 either way unless `--enforce`.
`--json PATH` writes every figure; `--profile` adds an unmeasured SQLite sync under cProfile and
prints where its time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import io
import json
import math
import os
import platform
import pstats
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import sqlalchemy
import web3
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import CreateSchema, DropSchema
from web3.contract import Contract
from web3.types import FilterParams, LogReceipt, RPCEndpoint

from ledger.chain.artifacts import artifacts_dir
from ledger.chain.client import ChainClient, Deployment, account_from_key
from ledger.chain.deploy import deploy_all
from ledger.chain.devnode import DEV_KEYS, AnvilMissing, find_anvil, free_port
from ledger.kit.db import Database
from ledger.mirror import repository
from ledger.mirror.events import EventDecoder
from ledger.mirror.service import Mirror

try:
    import orjson

    JSON_PARSER = f"orjson {orjson.__version__}"

    def _json_loads(content: bytes) -> Any:
        return orjson.loads(content)

    def _json_dumps(value: Any) -> bytes:
        return orjson.dumps(value)

except ImportError:  # pragma: no cover - orjson is expected, stdlib json is the fallback
    JSON_PARSER = "json (stdlib)"

    def _json_loads(content: bytes) -> Any:
        return json.loads(content)

    def _json_dumps(value: Any) -> bytes:
        return json.dumps(value).encode()


DEFAULT_PG_URL = os.environ.get(
    "LABEL_LEDGER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BAR_SQLITE_EVENTS_PER_SECOND = 20_000
BAR_RATIO_TO_BARE = 3.0
ANVIL_GAS_LIMIT = 2_000_000_000  # a block fits a 1,000-recipient payout (~30M gas) many times
GAS_PER_RECIPIENT = 45_000  # a first transfer to a new holder costs ~30k; the rest is refunded
BULK_ARTIFACT = Path("contracts/test/baselines/BareBatchTransfer.sol/BareBatchTransfer.json")
BULK_PAY_OUT_SELECTOR = keccak(text="bulkPayOut(address,address[],uint256[])")[:4]
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
PR_SET_PDEATHSIG = 1  # prctl option, from <linux/prctl.h>
HTTP_TIMEOUT = 300.0  # one eth_getLogs of a whole chunk, with --empty-blocks 0 all 100k logs

console = Console(highlight=False)


# --- figures --------------------------------------------------------------------------------------


@dataclass
class Phase:
    """One measured phase: how many events it handled and how long it took."""

    name: str
    events: int
    seconds: float
    detail: dict[str, float] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else math.inf


@dataclass
class DecoderFigure:
    name: str
    logs: int
    seconds: float

    @property
    def logs_per_second(self) -> float:
        return self.logs / self.seconds if self.seconds else math.inf


@dataclass
class Workload:
    """What was put on chain: the backfill's range and the balances it must arrive at."""

    deployment: Deployment
    rpc_url: str
    token: str  # dUSD
    payer: str  # the BareBatchTransfer contract
    transfers: int
    transactions: int
    minted: int
    expected_balances: dict[str, int]
    tx_blocks: list[tuple[int, int]]  # (block number, transfers in it), in order
    head: int
    seconds: float

    @property
    def first_block(self) -> int:
        return self.deployment.deployment_block


# --- the chain ------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the Anvil child: be sent SIGTERM if the benchmark is killed (Linux), not orphaned."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextmanager
def anvil_node() -> Iterator[str]:
    """Our own Anvil: `ledger.chain.devnode.Anvil` cannot raise the block gas limit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [
        find_anvil(),
        *("--host", "127.0.0.1", "--port", str(port), "--chain-id", "31337"),
        *("--gas-limit", str(ANVIL_GAS_LIMIT), "--silent"),
    ]
    # started before any thread of ours (rich's refresher comes later): preexec_fn is safe here
    process = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,  # noqa: PLW1509
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise AnvilMissing(f"anvil exited with code {process.returncode} at start")
            try:
                httpx.post(
                    url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
                )
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise AnvilMissing(f"anvil did not answer on {url} within 20s") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def anvil_version() -> str:
    try:
        out = subprocess.run(
            [find_anvil(), "--version"], capture_output=True, text=True, check=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError, AnvilMissing):
        return "unknown"
    first = out.splitlines()[0] if out else "unknown"
    return first.removeprefix("anvil").strip().removeprefix("Version:").strip()


def _holder(i: int) -> str:
    return to_checksum_address(keccak(text=f"bench-mirror holder {i}")[12:])


def _deploy_bulk(client: ChainClient, deployer: LocalAccount) -> Contract:
    path = artifacts_dir() / BULK_ARTIFACT
    if not path.exists():
        raise SystemExit(f"{path} not found: run ./scripts/setup (it compiles the contracts)")
    artifact = json.loads(path.read_text())
    w3 = client.w3
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor(deployer.address).build_transaction(
        {
            "from": deployer.address,
            "nonce": w3.eth.get_transaction_count(deployer.address, "pending"),
            "chainId": client.chain_id,
        }
    )
    signed = deployer.sign_transaction(cast(dict[str, Any], tx))
    receipt = client.wait(client.broadcast(bytes(signed.raw_transaction)))
    address = receipt["contractAddress"]
    assert address is not None
    return w3.eth.contract(address=address, abi=artifact["abi"])


def bulk_calldata(token: str, recipients: list[str], amounts: list[int]) -> bytes:
    """`bulkPayOut(token, recipients, amounts)` ABI-encoded by hand: every part is a 32-byte word,
    and eth_abi takes a quarter of a second for a 1,000-recipient payout."""
    n = len(recipients)
    words = [
        int(token, 16),
        3 * 32,  # where the recipients start, after the three head words
        3 * 32 + 32 * (1 + n),  # where the amounts start, after the recipients
        n,
        *(int(r, 16) for r in recipients),
        n,
        *amounts,
    ]
    return BULK_PAY_OUT_SELECTOR + b"".join(w.to_bytes(32, "big") for w in words)


def generate(rpc_url: str, args: argparse.Namespace) -> Workload:
    """Deploys, then sends `args.events` dUSD transfers in `bulkPayOut` batches (with progress)."""
    started = time.perf_counter()
    client = ChainClient(rpc_url, timeout=HTTP_TIMEOUT)
    w3 = client.w3
    deployer = account_from_key(DEV_KEYS[0])
    deployment = deploy_all(client, deployer, with_dev_token=True)
    token = deployment.token_address(1)
    dusd = client.contract("DevStablecoin", token)
    bulk = _deploy_bulk(client, deployer)

    # The plan: batches of recipients drawn from a fixed set of holders, with varied amounts.
    rng = random.Random(args.seed)  # noqa: S311 (a reproducible workload, not security)
    holders = [_holder(i) for i in range(args.holders)]
    batches: list[tuple[list[str], list[int]]] = []
    expected: dict[str, int] = {}
    for start in range(0, args.events, args.batch):
        size = min(args.batch, args.events - start)
        recipients = rng.choices(holders, k=size)
        amounts = [rng.randint(1, 5_000_000_000) for _ in range(size)]  # up to 5,000 dUSD
        for recipient, amount in zip(recipients, amounts, strict=True):
            expected[recipient] = expected.get(recipient, 0) + amount
        batches.append((recipients, amounts))
    minted = sum(sum(amounts) for _, amounts in batches)
    client.transact(dusd.functions.mint(bulk.address, minted), deployer)

    # Encoded and signed here with explicit gas and fees (no eth_estimateGas simulating a whole
    # payout), and one transaction ahead: the next one is prepared while Anvil runs this one.
    nonce = int(w3.eth.get_transaction_count(deployer.address, "pending"))
    base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas", 10**9))
    recipients, amounts = batches[0]
    assert bulk_calldata(token, recipients, amounts) == bytes.fromhex(
        bulk.encode_abi("bulkPayOut", args=[token, recipients, amounts]).removeprefix("0x")
    )

    def signed_payout(n: int) -> bytes:
        recipients, amounts = batches[n]
        tx: dict[str, Any] = {
            "to": bulk.address,
            "data": bulk_calldata(token, recipients, amounts),
            "gas": 100_000 + GAS_PER_RECIPIENT * len(recipients),
            "maxFeePerGas": 2 * base_fee + 10**9,
            "maxPriorityFeePerGas": 10**9,
            "nonce": nonce + n,
            "chainId": client.chain_id,
            "value": 0,
            "type": 2,
        }
        return bytes(deployer.sign_transaction(tx).raw_transaction)

    tx_blocks: list[tuple[int, int]] = []
    with Progress(
        TextColumn("generating dUSD transfers"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[txs]} txs"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("generate", total=args.events, txs=0)
        next_tx = signed_payout(0)
        for n in range(len(batches)):
            tx_hash = client.broadcast(next_tx)
            if n + 1 < len(batches):
                next_tx = signed_payout(n + 1)
            receipt = client.wait(tx_hash)
            tx_blocks.append((int(receipt["blockNumber"]), len(batches[n][0])))
            if args.empty_blocks:
                w3.provider.make_request(RPCEndpoint("anvil_mine"), [hex(args.empty_blocks)])
            progress.update(task, advance=len(batches[n][0]), txs=n + 1)

    return Workload(
        deployment=deployment,
        rpc_url=rpc_url,
        token=token,
        payer=str(bulk.address),
        transfers=args.events,
        transactions=len(batches),
        minted=minted,
        expected_balances=expected,
        tx_blocks=tx_blocks,
        head=int(w3.eth.block_number),
        seconds=time.perf_counter() - started,
    )


def chunks(first: int, last: int, block_range: int) -> Iterator[tuple[int, int]]:
    """The mirror's chunks: `block_range` blocks at a time from `first` to `last` inclusive."""
    for start in range(first, last + 1, block_range):
        yield start, min(start + block_range - 1, last)


def cold_caches() -> None:
    """Empties every functools cache of the mirror's modules (the decoder's checksummed
    addresses, say), so each phase starts as cold as a fresh process, whatever ran before it."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("ledger.mirror"):
            continue
        for value in vars(module).values():
            clear = getattr(value, "cache_clear", None)
            if callable(clear):
                clear()


# --- the measured phases --------------------------------------------------------------------------


class RawRpc:
    """Bare JSON-RPC over one keep-alive HTTP connection, answers parsed to plain JSON."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http = httpx.Client(
            timeout=HTTP_TIMEOUT, headers={"content-type": "application/json"}
        )

    def call(self, method: str, params: list[Any]) -> Any:
        payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        response = self._http.post(self.url, content=_json_dumps(payload))
        response.raise_for_status()
        answer = _json_loads(response.content)
        if "error" in answer:
            raise RuntimeError(f"{method} failed: {answer['error']}")
        return answer["result"]

    def logs(
        self, addresses: list[str], topics: list[str], first: int, last: int
    ) -> list[dict[str, Any]]:
        query = {
            "address": addresses,
            "topics": [topics],
            "fromBlock": hex(first),
            "toBlock": hex(last),
        }
        return cast(list[dict[str, Any]], self.call("eth_getLogs", [query]))

    def close(self) -> None:
        self._http.close()


def bare_fetch(workload: Workload, block_range: int) -> Phase:
    """eth_getLogs over the mirror's chunks with its filter, parsed and decoded; nothing stored."""
    decoder = EventDecoder(workload.deployment)
    addresses, topics = [str(a) for a in decoder.addresses], decoder.topics
    rpc = RawRpc(workload.rpc_url)
    try:
        rpc.logs(addresses, topics, workload.head, workload.head)  # connect outside the clock
        cold_caches()
        fetch = decode = 0.0
        events = 0
        started = time.perf_counter()
        for first, last in chunks(workload.first_block, workload.head, block_range):
            t0 = time.perf_counter()
            raw_logs = rpc.logs(addresses, topics, first, last)
            t1 = time.perf_counter()
            decoded = [d for d in map(decoder.decode, raw_logs) if d is not None]
            t2 = time.perf_counter()
            events += len(decoded)
            fetch += t1 - t0
            decode += t2 - t1
        seconds = time.perf_counter() - started
    finally:
        rpc.close()
    return Phase(
        "bare fetch+decode",
        events,
        seconds,
        {"fetch_and_parse_seconds": fetch, "decode_seconds": decode},
    )


def check_mirrored(db: Database, workload: Workload, *, sample: int = 200) -> None:
    """The mirror's dUSD state equals what was sent (a sample of holders, all of the supply)."""
    holders = sorted(workload.expected_balances)
    picked = random.Random(7).sample(holders, min(sample, len(holders)))  # noqa: S311
    with db.unit_of_work() as session:
        supply = repository.total_supply(session, workload.token)
        payer = repository.get_balance(session, workload.token, workload.payer)
        wrong = {
            h: (got, workload.expected_balances[h])
            for h in picked
            if (got := repository.get_balance(session, workload.token, h))
            != workload.expected_balances[h]
        }
    if supply != workload.minted or payer != 0 or wrong:
        raise SystemExit(
            f"the mirror's dUSD state is wrong: supply {supply} (minted {workload.minted}), "
            f"payer balance {payer} (expected 0), holders (got, expected): "
            f"{dict(list(wrong.items())[:5])}"
        )


def mirror_sync(
    name: str,
    database_url: str,
    workload: Workload,
    block_range: int,
    *,
    profiler: cProfile.Profile | None = None,
) -> Phase:
    """One backfill from an empty database: `Mirror.sync_once()` from the deployment block."""
    db = Database(database_url)
    try:
        db.create_schema()
        client = ChainClient(workload.rpc_url, timeout=HTTP_TIMEOUT)
        _ = client.chain_id  # asked once and cached: not part of a backfill
        mirror = Mirror(db, client, workload.deployment, max_block_range=block_range)
        cold_caches()
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        try:
            applied = mirror.sync_once()
        finally:
            if profiler is not None:
                profiler.disable()
        seconds = time.perf_counter() - started
        check_mirrored(db, workload)
    finally:
        db.engine.dispose()
    return Phase(name, applied, seconds)


@contextmanager
def postgres_schema(base_url: str) -> Iterator[tuple[str, str]]:
    """A fresh schema for one run, dropped afterwards: (database URL into it, server version)."""
    schema = f"bench_mirror_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    try:
        with admin.begin() as conn:
            version = str(conn.execute(text("SHOW server_version")).scalar_one())
            conn.execute(CreateSchema(schema))
        try:
            joiner = "&" if "?" in base_url else "?"
            yield f"{base_url}{joiner}options=-csearch_path%3D{schema}", version
        finally:
            with admin.begin() as conn:
                conn.execute(DropSchema(schema, cascade=True))
    finally:
        admin.dispose()


# --- decoding alone -------------------------------------------------------------------------------


def _best_of(passes: int, run: Callable[[], object]) -> float:
    best = math.inf
    for _ in range(passes):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def decoder_figures(workload: Workload, sample: int) -> list[DecoderFigure]:
    """web3's per-log ABI decoding against ours, on the same dUSD Transfer logs."""
    covered = 0
    last_block = workload.head
    for block, transfers in workload.tx_blocks:
        covered += transfers
        if covered >= sample:
            last_block = block
            break
    client = ChainClient(workload.rpc_url, timeout=HTTP_TIMEOUT)
    rpc = RawRpc(workload.rpc_url)
    try:
        raw_logs = rpc.logs([workload.token], [TRANSFER_TOPIC], workload.first_block, last_block)
    finally:
        rpc.close()
    web3_filter: FilterParams = {
        "address": to_checksum_address(workload.token),
        "topics": [TRANSFER_TOPIC],
        "fromBlock": workload.first_block,
        "toBlock": last_block,
    }
    web3_logs: list[LogReceipt] = list(client.w3.eth.get_logs(web3_filter))
    raw_logs, web3_logs = raw_logs[:sample], web3_logs[:sample]
    assert len(raw_logs) == len(web3_logs) == sample, (len(raw_logs), len(web3_logs))

    transfer = client.contract("DevStablecoin", workload.token).events.Transfer()
    decoder = EventDecoder(workload.deployment)
    # the two decoders must agree before their speeds mean anything
    for raw, formatted in zip(raw_logs, web3_logs, strict=True):
        ours, theirs = decoder.decode(raw), transfer.process_log(formatted)
        assert ours is not None
        assert (ours.block_number, ours.log_index) == (theirs.blockNumber, theirs.logIndex)
        assert ours.args == {k: theirs.args[k] for k in ("from", "to", "value")}

    cold_caches()
    cold = _best_of(1, lambda: [decoder.decode(log) for log in raw_logs])

    def web3_pass() -> None:
        for log in web3_logs:
            transfer.process_log(log)

    def ours_raw_pass() -> None:
        for log in raw_logs:
            decoder.decode(log)

    def ours_web3_pass() -> None:
        for log in web3_logs:
            decoder.decode(log)

    return [
        DecoderFigure(
            "web3 events.Transfer().process_log (web3 logs)", sample, _best_of(3, web3_pass)
        ),
        DecoderFigure("EventDecoder.decode (raw JSON logs)", sample, _best_of(3, ours_raw_pass)),
        DecoderFigure("EventDecoder.decode (web3 logs)", sample, _best_of(3, ours_web3_pass)),
        DecoderFigure("EventDecoder.decode (raw JSON logs, cold caches, 1 pass)", sample, cold),
    ]


# --- the report -----------------------------------------------------------------------------------


def machine_info(pg_version: str | None) -> dict[str, str | int | None]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "web3": web3.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg_version,
        "anvil": anvil_version(),
        "json_parser": JSON_PARSER,
    }


def median_phase(runs: list[Phase]) -> Phase:
    """The run of median time, with every run's seconds beside it. Rounds interleave the
    phases, so a slow spell of a shared machine slows all of them in the same round."""
    ordered = sorted(runs, key=lambda phase: phase.seconds)
    middle = ordered[len(ordered) // 2]
    detail = dict(middle.detail)
    detail.update({f"run_{i}_seconds": phase.seconds for i, phase in enumerate(runs, 1)})
    return Phase(middle.name, middle.events, statistics.median(p.seconds for p in runs), detail)


def bar_checks(bare: Phase, mirrors: list[Phase]) -> list[tuple[str, bool, str]]:
    checks: list[tuple[str, bool, str]] = []
    for phase in mirrors:
        if "SQLite" in phase.name:
            rate = phase.events_per_second
            checks.append(
                (
                    f"{phase.name} >= {BAR_SQLITE_EVENTS_PER_SECOND:,} events/s",
                    rate >= BAR_SQLITE_EVENTS_PER_SECOND,
                    f"{rate:,.0f} events/s",
                )
            )
    for phase in mirrors:
        ratio = phase.seconds / bare.seconds
        checks.append(
            (
                f"{phase.name} <= {BAR_RATIO_TO_BARE:g}x bare fetch+decode",
                ratio <= BAR_RATIO_TO_BARE,
                f"{ratio:.2f}x",
            )
        )
    return checks


def report(
    info: dict[str, str | int | None],
    workload: Workload,
    block_range: int,
    phases: list[Phase],
    decoders: list[DecoderFigure],
    checks: list[tuple[str, bool, str]],
    skipped: dict[str, str],
) -> None:
    console.print()
    console.print(
        f"[bold]mirror backfill benchmark[/] on {info['cores']} cores ({info['cpu']}), "
        f"Python {info['python']}, web3 {info['web3']}, SQLAlchemy {info['sqlalchemy']}, "
        f"SQLite {info['sqlite']}, PostgreSQL {info['postgresql'] or '-'}, "
        f"anvil {info['anvil']}, {info['json_parser']}"
    )
    chunk_count = len(list(chunks(workload.first_block, workload.head, block_range)))
    console.print(
        f"workload: {workload.transfers:,} dUSD transfers in {workload.transactions} bulkPayOut "
        f"txs to {len(workload.expected_balances):,} holders, blocks {workload.first_block}.."
        f"{workload.head} ({chunk_count} chunks of <= {block_range}), generated in "
        f"{workload.seconds:.1f}s"
    )
    bare = phases[0]
    rounds = sum(1 for key in bare.detail if key.startswith("run_"))
    table = Table(title=f"backfill: median of {rounds} interleaved rounds")
    for column in ("phase", "events", "seconds", "events/s", "x bare fetch"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for phase in phases:
        table.add_row(
            phase.name,
            f"{phase.events:,}",
            f"{phase.seconds:.2f}",
            f"{phase.events_per_second:,.0f}",
            f"{phase.seconds / bare.seconds:.2f}x",
        )
    for name, reason in skipped.items():
        table.add_row(name, "-", "-", "-", f"skipped: {reason}")
    console.print(table)
    console.print(
        f"bare fetch+decode split: fetch and parse {bare.detail['fetch_and_parse_seconds']:.2f}s, "
        f"decode {bare.detail['decode_seconds']:.2f}s"
    )

    if decoders:
        reference = decoders[0]
        table = Table(title="decoding alone (best of 3 passes, caches warm unless said)")
        for column in ("decoder", "logs", "seconds", "logs/s", "vs web3"):
            table.add_column(column, justify="left" if column == "decoder" else "right")
        for figure in decoders:
            table.add_row(
                figure.name,
                f"{figure.logs:,}",
                f"{figure.seconds:.3f}",
                f"{figure.logs_per_second:,.0f}",
                f"{reference.seconds / figure.seconds:.1f}x",
            )
        console.print(table)

    for name, passed, got in checks:
        verdict = "[bold green]PASS[/]" if passed else "[bold red]FAIL[/]"
        console.print(f"{verdict} {name}: {got}")


def write_json(
    path: Path,
    info: dict[str, str | int | None],
    workload: Workload,
    args: argparse.Namespace,
    phases: list[Phase],
    decoders: list[DecoderFigure],
    checks: list[tuple[str, bool, str]],
    skipped: dict[str, str],
) -> None:
    figures = {
        "machine": info,
        "workload": {
            "transfers": workload.transfers,
            "transactions": workload.transactions,
            "holders": len(workload.expected_balances),
            "first_block": workload.first_block,
            "head": workload.head,
            "block_range": args.block_range,
            "empty_blocks_per_tx": args.empty_blocks,
            "seed": args.seed,
            "generate_seconds": workload.seconds,
        },
        "phases": [
            {
                **asdict(p),
                "events_per_second": p.events_per_second,
                "ratio_to_bare": p.seconds / phases[0].seconds,
            }
            for p in phases
        ],
        "skipped": skipped,
        "decoders": [{**asdict(d), "logs_per_second": d.logs_per_second} for d in decoders],
        "bar": [{"check": name, "passed": ok, "value": got} for name, ok, got in checks],
        "passed": all(ok for _, ok, _ in checks),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")
    console.print(f"figures written to {path}")


def print_profile(profiler: cProfile.Profile, top: int, out: Path | None) -> None:
    if out is not None:
        profiler.dump_stats(out)
        console.print(f"profile written to {out} (python -m pstats {out})")
    for order in ("cumulative", "tottime"):
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).strip_dirs().sort_stats(order).print_stats(top)
        console.print(f"[bold]cProfile of one SQLite sync, top {top} by {order}[/]")
        console.print(stream.getvalue().strip(), markup=False, highlight=False)


# --- main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the chain mirror's backfill against a bare fetch+decode."
    )
    parser.add_argument("--events", type=int, default=100_000, help="dUSD transfers to generate")
    parser.add_argument("--batch", type=int, default=1_000, help="recipients per bulkPayOut tx")
    parser.add_argument("--holders", type=int, default=5_000, help="distinct recipients")
    parser.add_argument(
        "--empty-blocks",
        type=int,
        default=9,
        help="empty blocks mined after each tx, so the backfill spans several chunks (each "
        "costs Anvil ~10 ms)",
    )
    parser.add_argument(
        "--block-range",
        type=int,
        default=100,
        help="mirror max_block_range (default: 10 transfer blocks, 10k logs per eth_getLogs "
        "answer, the cap of most hosted providers)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of every phase; the median is reported"
    )
    parser.add_argument("--sample", type=int, default=5_000, help="logs for the decoder figures")
    parser.add_argument("--seed", type=int, default=4, help="workload seed (recipients, amounts)")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_PG_URL,
        help="PostgreSQL server (a fresh schema is created there and dropped); "
        "default LABEL_LEDGER_TEST_PG_URL or the tests' server",
    )
    parser.add_argument("--skip-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument("--json", type=Path, help="write every figure to this JSON file")
    parser.add_argument("--enforce", action="store_true", help="exit 1 when the bar is missed")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run an unmeasured SQLite sync under cProfile and print where the time goes",
    )
    parser.add_argument("--profile-top", type=int, default=15, help="entries per profile table")
    parser.add_argument("--profile-out", type=Path, help="dump the pstats file here")
    args = parser.parse_args(argv)
    for name in ("events", "batch", "holders", "block_range", "sample", "repeat"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.empty_blocks < 0:
        parser.error("--empty-blocks must be >= 0")
    args.sample = min(args.sample, args.events)
    return args


def done(phase: Phase) -> Phase:
    """Says how a phase went as soon as it ends (a killed run still leaves its figures)."""
    console.print(
        f"  {phase.events:,} events in {phase.seconds:.2f}s: {phase.events_per_second:,.0f}/s"
    )
    return phase


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    phases: list[Phase] = []
    skipped: dict[str, str] = {}
    pg_version: str | None = None
    profiler: cProfile.Profile | None = None
    with anvil_node() as rpc_url, tempfile.TemporaryDirectory(prefix="bench-mirror-") as tmp:
        workload = generate(rpc_url, args)

        runs: dict[str, list[Phase]] = {}
        for round_ in range(1, args.repeat + 1):
            console.print(f"round {round_} of {args.repeat}: bare fetch+decode ...")
            runs.setdefault("bare", []).append(done(bare_fetch(workload, args.block_range)))

            console.print(f"round {round_} of {args.repeat}: mirror -> SQLite ...")
            sqlite_url = f"sqlite:///{Path(tmp) / f'mirror-{round_}.sqlite'}"
            runs.setdefault("sqlite", []).append(
                done(mirror_sync("mirror -> SQLite", sqlite_url, workload, args.block_range))
            )

            if args.skip_postgres:
                skipped["mirror -> PostgreSQL"] = "--skip-postgres"
                continue
            console.print(f"round {round_} of {args.repeat}: mirror -> PostgreSQL ...")
            try:
                with postgres_schema(args.database_url) as (pg_url, pg_version):
                    runs.setdefault("postgres", []).append(
                        done(
                            mirror_sync("mirror -> PostgreSQL", pg_url, workload, args.block_range)
                        )
                    )
            except SQLAlchemyError as exc:
                reason = str(exc).splitlines()[0][:120]
                console.print(f"[yellow]PostgreSQL not measured: {reason}[/]")
                skipped["mirror -> PostgreSQL"] = "server unavailable"
        phases = [median_phase(runs[key]) for key in ("bare", "sqlite", "postgres") if key in runs]
        bare = phases[0]

        for phase in phases[1:]:
            if phase.events != bare.events:
                raise SystemExit(
                    f"{phase.name} applied {phase.events} logs, the bare fetch decoded "
                    f"{bare.events}: they must see the same logs"
                )

        console.print(f"measuring decoding alone on {args.sample:,} logs ...")
        decoders = decoder_figures(workload, args.sample)

        if args.profile:
            console.print("profiling one more SQLite sync (not measured) ...")
            profiler = cProfile.Profile()
            profiled_url = f"sqlite:///{Path(tmp) / 'profiled.sqlite'}"
            mirror_sync("profiled", profiled_url, workload, args.block_range, profiler=profiler)

    info = machine_info(pg_version)
    checks = bar_checks(bare, phases[1:])
    report(info, workload, args.block_range, phases, decoders, checks, skipped)
    if args.json is not None:
        write_json(args.json, info, workload, args, phases, decoders, checks, skipped)
    if profiler is not None:
        print_profile(profiler, args.profile_top, args.profile_out)
    passed = all(ok for _, ok, _ in checks)
    return 1 if args.enforce and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
