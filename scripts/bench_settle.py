"""Benchmark of settling an epoch end to end (issue 15): labels per second, and where the time
goes, at 100k and 1M verified labels on PostgreSQL (and 100k on SQLite), beside the code before
the change (commit 24b6a85's `ledger/`) building the same epoch in the same round.

Run it as `./scripts/bench-settle` (options: `--help`). `--sizes 20000 --skip-sqlite` takes
about a minute; the defaults (100k and 1M on PostgreSQL, 100k on SQLite) about seven minutes on
two cores, most of it filling the databases and the baseline's builds.

What it does, per database and size:

1. Starts its own Anvil and deploys the LabelLedger (timelock 0, a 2.5% fee) with two payment
   tokens (dev stablecoins). Creates `--datasets` datasets through the service (classes; the
   buyers are Anvil's dev keys), funds each on chain with `createAndFund(salt, ...)` in one of the
   two tokens, one of them with too little for its labels (its funds run out midway), and asks
   to close another (`requestClose`: its labels made after that are not paid); then runs the
   chain mirror's catch-up so the database holds every dataset's ledger record.
2. Fills a fresh database (PostgreSQL: a database of its own, dropped at the end; SQLite: a
   temporary file) with N items and N verified labels straight in SQL (COPY on PostgreSQL),
   not through the API: `--annotators` annotators, one label per item, verified 80% by review,
   10% by consensus ("2/3"), 7% on gold (the item's committed answer) and 3% automatically, in
   verification order across the datasets.
3. Baseline: the code before the change, `git archive <--baseline> ledger` into a temporary
   directory, run in a child process against the same database: its `build_epoch` in a
   transaction that is rolled back (nothing stored), timed. Skipped above `--baseline-max`
   labels (it would take many minutes and gigabytes), and said so.
4. Ours, in a child process of its own (its peak RSS is the settlement's alone): `build_epoch`
   and the commit, then `post_epoch` and `accept_epoch` on Anvil, then the publication written
   to a directory (`ledger.settlement.publish.publish`). Every phase is timed by wrapping the
   functions that do it: select (the payable rows read from the database), compute (budgets,
   entitlements, label hashes, leaves), trees (both Merkle trees built), tree JSON (their
   standard-v1 dumps), manifest (the verdicts document, the keccak of each file, the manifest),
   insert (the epoch row, entitlements, debits and ledger entries, and the commit), assign (the
   labels' rows in label_payments), propose+accept, publication.
5. Checks what it built: the chain holds the epoch's commitment and payout root, every label it
   counts is assigned to it, and where the baseline ran, both built the very same epoch (label
   count, payout root, label root, content hash), or the benchmark stops as void.

Labels per second = labels paid / (build + commit + propose + accept); with the publication
also printed. The goal: >= 20,000 labels/s end to end at 100k and 1M on PostgreSQL.
`--json PATH` writes every figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if __name__ == "__main__" and os.environ.get("BENCH_SETTLE_CHILD") != "baseline":
    sys.path.insert(0, str(REPO))

from eth_utils.address import to_checksum_address  # noqa: E402
from eth_utils.crypto import keccak  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CLASSES = ["cat", "dog", "bird", "fish"]
FEE_BPS = 250
PRICES = [200_000, 250_000, 300_000, 500_000]  # dUSD-like, 6 decimals
REWARD = 10**6  # 1 LABEL
CLOSE_GRACE_PERIOD = 7 * 24 * 3600

console = Console(stderr=True)


def say(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


# --- the workload -----------------------------------------------------------------------------


@dataclass
class Workload:
    rpc_url: str
    deployment_path: Path
    database_url: str
    labels: int


def _annotator(i: int) -> str:
    return to_checksum_address(keccak(text=f"bench-settle annotator {i}")[12:])


def setup_chain_and_datasets(
    database_url: str, rpc_url: str, workdir: Path, args: argparse.Namespace, labels: int
) -> Workload:
    """Deploys, creates and funds the datasets, mirrors them; returns the workload's facts."""
    from ledger.auth.models import Role  # noqa: PLC0415
    from ledger.auth.service import grant_role  # noqa: PLC0415
    from ledger.chain.client import ChainClient, account_from_key  # noqa: PLC0415
    from ledger.chain.deploy import deploy_all  # noqa: PLC0415
    from ledger.chain.devnode import DEV_KEYS  # noqa: PLC0415
    from ledger.dataset import service as datasets  # noqa: PLC0415
    from ledger.dataset.schemas import DatasetCreate, VerificationSpec  # noqa: PLC0415
    from ledger.kit.db import Database  # noqa: PLC0415
    from ledger.kit.migrate import upgrade  # noqa: PLC0415
    from ledger.mirror.service import Mirror  # noqa: PLC0415
    from ledger.storage import LocalBlobStore, MasterKey, MediaVault  # noqa: PLC0415

    client = ChainClient(rpc_url)
    operator = account_from_key(DEV_KEYS[0])
    nonce = int(client.w3.eth.get_transaction_count(operator.address, "pending"))
    second = client.deploy("DevStablecoin", operator, nonce=nonce)
    deployment = deploy_all(
        client,
        operator,
        with_dev_token=True,
        payment_tokens=(second,),
        fee_bps=FEE_BPS,
        timelock=0,
    )
    deployment_path = workdir / "deployment.json"
    deployment.save(deployment_path)
    ledger = client.contract("LabelLedger", deployment.ledger)
    vault = MediaVault(LocalBlobStore(workdir / "blobs"), MasterKey.generate())
    # the previous release's schema (revision 0001), which the baseline's code reads; ours runs
    # after `upgrade_to_head` (revision 0002 moved which epoch paid a label out of `labels`)
    upgrade(database_url, target="0001")
    db = Database(database_url)
    per_dataset = labels // args.datasets + 1
    try:
        for d in range(args.datasets):
            token = deployment.payment_tokens[d % 2]
            buyer = account_from_key(DEV_KEYS[1 + d % (len(DEV_KEYS) - 1)])
            price = PRICES[d % len(PRICES)]
            with db.unit_of_work() as session:
                grant_role(session, address=buyer.address, role=Role.buyer)
                dataset = datasets.create_dataset(
                    session,
                    buyer=buyer.address,
                    spec=DatasetCreate(
                        name=f"bench {d}",
                        label_classes=CLASSES,
                        payment_token=token.address,
                        price_per_label=price,
                        reward_per_label=REWARD,
                        verification=VerificationSpec(gold_reveal_seconds=0),
                    ),
                    allowed_tokens=deployment.payment_token_addresses,
                    vault=vault,
                )
                salt = dataset.salt
            # enough for its labels and the fee, but dataset 1 only for about 60% of them
            funds = price * per_dataset * (1 + FEE_BPS / 10_000) * (0.6 if d == 1 else 1.05)
            funds = int(funds)
            erc20 = client.contract("DevStablecoin", token.address)
            client.transact(erc20.functions.mint(buyer.address, funds), buyer)
            client.transact(erc20.functions.approve(deployment.ledger, funds), buyer)
            client.transact(
                ledger.functions.createAndFund(bytes.fromhex(salt[2:]), token.index, funds),
                buyer,
            )
            if d == 2:  # closing: labels made after its close was asked for are not paid
                chain_id = int(ledger.functions.datasetIdOf(buyer.address, salt).call())
                client.transact(ledger.functions.requestClose(chain_id), buyer)
            if d % 10 == 9 or d == args.datasets - 1:
                say(f"  {d + 1}/{args.datasets} datasets created and funded on chain")
        Mirror(db, client, deployment).sync_once()
        say("  the mirror caught up with the chain")
    finally:
        db.engine.dispose()
    return Workload(rpc_url, deployment_path, database_url, labels)


def fill_labels(workload: Workload, args: argparse.Namespace) -> None:  # noqa: PLR0915
    """N items and N verified labels, straight in SQL (COPY on PostgreSQL)."""
    from ledger.dataset.models import Dataset  # noqa: PLC0415
    from ledger.kit.db import UINT256_DIGITS, Database, insert_many  # noqa: PLC0415
    from ledger.mirror.models import ChainDataset  # noqa: PLC0415
    from ledger.publication import item_id_hash  # noqa: PLC0415

    rng = random.Random(15)  # noqa: S311 (a benchmark's workload, not a secret)
    db = Database(workload.database_url)
    postgres = db.engine.dialect.name == "postgresql"

    def when(value: dt.datetime) -> Any:
        return value if postgres else value.strftime("%Y-%m-%d %H:%M:%S.%f")

    def uint(value: int) -> Any:
        return value if postgres else str(value).zfill(UINT256_DIGITS)

    def flag(value: bool) -> Any:
        return value if postgres else int(value)

    try:
        with db.unit_of_work() as session:
            rows = session.execute(
                select(
                    Dataset.id,
                    Dataset.item_key,
                    Dataset.gold_nonce,
                    Dataset.price_per_label,
                    ChainDataset.close_due_at,
                ).join(ChainDataset, ChainDataset.dataset_id == Dataset.chain_dataset_id)
            ).all()
            reviewers = [_annotator(10**6 + i) for i in range(20)]
            annotators = [_annotator(i) for i in range(args.annotators)]
            insert_many(
                session,
                "accounts",
                ("address", "created_at"),
                [(a, when(dt.datetime.now(dt.UTC))) for a in annotators],
            )
        datasets = [tuple(r) for r in rows]
        # the closing dataset's close was asked "now": half its labels were made after it
        close_asked = {
            r[0]: dt.datetime.fromtimestamp(r[4] - CLOSE_GRACE_PERIOD, dt.UTC)
            for r in rows
            if r[4] is not None
        }
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        n, batch = workload.labels, 50_000
        with db.unit_of_work() as session:
            first_item = (
                int(session.execute(text("SELECT COALESCE(MAX(id), 0) FROM items")).scalar_one())
                + 1
            )
        item_rows: list[tuple[Any, ...]] = []
        label_rows: list[tuple[Any, ...]] = []
        done = 0
        for i in range(n):
            dataset_id, item_key, _gold_nonce, price, _due = datasets[i % len(datasets)]
            external = f"item-{i}"
            item_hash = item_id_hash(item_key, external)
            draw = rng.random()
            method = (
                "review"
                if draw < 0.8
                else "consensus"
                if draw < 0.9
                else "gold"
                if draw < 0.97
                else "auto"
            )
            value = rng.choice(CLASSES)
            gold = method == "gold"
            created = start + dt.timedelta(milliseconds=50 * i)
            if dataset_id in close_asked and i % 2:
                created = close_asked[dataset_id] + dt.timedelta(seconds=1 + i % 100)
            decided = start + dt.timedelta(hours=1, milliseconds=50 * i)
            item_id = first_item + i
            item_rows.append(
                (
                    item_id,
                    dataset_id,
                    external,
                    b"bench: not read by settlement",
                    item_hash,
                    value if gold else None,
                    flag(gold),
                    1,
                    1,
                    0,
                    when(created),
                )
            )
            label_rows.append(
                (
                    dataset_id,
                    item_id,
                    annotators[rng.randrange(len(annotators))],
                    value,
                    "0x" + rng.randbytes(32).hex(),
                    "verified",
                    method,
                    rng.choice(reviewers) if method == "review" else None,
                    "2/3" if method == "consensus" else None,
                    flag(False),
                    flag(True),
                    1,
                    when(decided),
                    uint(price),
                    uint(REWARD),
                    when(created),
                )
            )
            if len(item_rows) == batch or i == n - 1:
                with db.unit_of_work() as session:
                    insert_many(
                        session,
                        "items",
                        (
                            "id",
                            "dataset_id",
                            "external_id",
                            "sealed_data",
                            "item_hash",
                            "gold_label",
                            "gold",
                            "places",
                            "places_taken",
                            "skips",
                            "created_at",
                        ),
                        item_rows,
                    )
                    insert_many(
                        session,
                        "labels",
                        (
                            "dataset_id",
                            "item_id",
                            "annotator",
                            "value",
                            "salt",
                            "status",
                            "method",
                            "reviewer",
                            "agreement",
                            "warmup",
                            "holds_place",
                            "instructions_version",
                            "decided_at",
                            "price",
                            "reward",
                            "created_at",
                        ),
                        label_rows,
                    )
                done += len(item_rows)
                item_rows, label_rows = [], []
                say(f"  {done:,}/{n:,} items and verified labels inserted")
        with db.unit_of_work() as session:
            if postgres:
                session.execute(
                    text("SELECT setval(pg_get_serial_sequence('items', 'id'), MAX(id)) FROM items")
                )
                session.execute(text("ANALYZE"))
            else:
                session.execute(text("ANALYZE"))
    finally:
        db.engine.dispose()


# --- the measured runs (each in a child process) ----------------------------------------------


def _rss_mb() -> float:
    import resource  # noqa: PLC0415

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_baseline(database_url: str, deployment_path: str) -> dict[str, Any]:
    """The code before the change: its build_epoch, rolled back."""
    import ledger  # noqa: PLC0415
    from ledger.chain.client import Deployment  # noqa: PLC0415
    from ledger.kit.db import Database  # noqa: PLC0415
    from ledger.settlement.build import build_epoch  # noqa: PLC0415

    say(f"  baseline code from {Path(ledger.__file__).parent}")
    # the deployment file as the older code knew it (later fields such as `network` left out)
    known = {f.name for f in dataclasses.fields(Deployment)}
    saved = json.loads(Path(deployment_path).read_text())
    older = Path(deployment_path).with_name("deployment-baseline.json")
    older.write_text(json.dumps({k: v for k, v in saved.items() if k in known}))
    deployment = Deployment.load(older)
    db = Database(database_url)
    session = db.sessions()
    try:
        started = time.perf_counter()
        epoch = build_epoch(session, deployment=deployment, now=dt.datetime.now(dt.UTC))
        session.flush()
        seconds = time.perf_counter() - started
        assert epoch is not None
        result = {
            "build": seconds,
            "labels": epoch.label_count,
            "payout_root": epoch.payout_root,
            "label_root": epoch.label_root,
            "content_hash": epoch.content_hash,
        }
    finally:
        session.rollback()
        session.close()
        db.engine.dispose()
    result["peak_rss_mb"] = _rss_mb()
    return result


class _Timer:
    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def add(self, phase: str, seconds: float) -> None:
        self.spent[phase] = self.spent.get(phase, 0.0) + seconds

    def wrap(self, owner: Any, name: str, phase: str) -> None:
        original = getattr(owner, name)

        def timed(*a: Any, **k: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                self.add(phase, time.perf_counter() - started)

        setattr(owner, name, timed)


def child_ours(  # noqa: PLR0915 (one measured run, phase by phase)
    database_url: str, deployment_path: str, publish_dir: str
) -> dict[str, Any]:
    from ledger.chain.client import ChainClient, Deployment, account_from_key  # noqa: PLC0415
    from ledger.chain.devnode import DEV_KEYS  # noqa: PLC0415
    from ledger.kit.db import Database  # noqa: PLC0415
    from ledger.merkle import StandardMerkleTree  # noqa: PLC0415
    from ledger.settlement import build, publish  # noqa: PLC0415
    from ledger.settlement import select as select_sql  # noqa: PLC0415
    from ledger.settlement.models import Epoch, EpochStatus  # noqa: PLC0415
    from ledger.settlement.service import accept_epoch, epoch_commitment, post_epoch  # noqa: PLC0415

    deployment = Deployment.load(Path(deployment_path))
    rpc_url = os.environ["BENCH_SETTLE_RPC"]
    client = ChainClient(rpc_url)
    operator = account_from_key(DEV_KEYS[0])
    db = Database(database_url)
    timer = _Timer()

    rows = select_sql.payable_rows

    def timed_rows(session: Any) -> Iterator[Any]:
        iterator = iter(rows(session))
        while True:
            started = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                timer.add("select", time.perf_counter() - started)
                return
            timer.add("select", time.perf_counter() - started)
            yield batch

    select_sql.payable_rows = timed_rows  # type: ignore[assignment]
    timer.wrap(build, "_select_payable", "select+compute")
    timer.wrap(build, "build_epoch_files_from_leaves", "files")
    of = StandardMerkleTree.of.__func__  # type: ignore[attr-defined]
    dumps = StandardMerkleTree.dumps

    def timed_of(cls: Any, *a: Any, **k: Any) -> Any:
        started = time.perf_counter()
        try:
            return of(cls, *a, **k)
        finally:
            timer.add("trees", time.perf_counter() - started)

    def timed_dumps(self: Any) -> str:
        started = time.perf_counter()
        try:
            return dumps(self)
        finally:
            timer.add("tree JSON", time.perf_counter() - started)

    StandardMerkleTree.of = classmethod(timed_of)  # type: ignore[method-assign,assignment]
    StandardMerkleTree.dumps = timed_dumps  # type: ignore[method-assign]
    timer.wrap(select_sql, "assign_labels", "assign")
    # the epoch's SQL writes: in a thread beside the build on PostgreSQL, inline on SQLite; what
    # the build waited for is the time inline, or blocked in `finish` for the thread to end
    add_write = build._Writes.add

    def timed_add(writes: Any, job: Any) -> None:
        def timed_job() -> None:
            started = time.perf_counter()
            try:
                job()
            finally:
                spent = time.perf_counter() - started
                timer.add("writes", spent)
                if not writes.beside:
                    timer.add("writes waited", spent)

        add_write(writes, timed_job)

    build._Writes.add = timed_add  # type: ignore[method-assign]
    timer.wrap(build._Writes, "finish", "writes waited")

    profiler = None
    if os.environ.get("BENCH_SETTLE_PROFILE"):
        from pyinstrument import Profiler  # noqa: PLC0415 (not a dependency: pip install it)

        profiler = Profiler(interval=0.005)
    try:
        started = time.perf_counter()
        if profiler is not None:
            profiler.start()
        cpu_started = time.process_time()
        with db.unit_of_work() as session:
            backend = _backend_pid(session)
            server_cpu_started = _cpu_seconds(backend)
            epoch = build.build_epoch(session, deployment=deployment, now=dt.datetime.now(dt.UTC))
            assert epoch is not None, "nothing to settle: the fill went wrong"
            number, labels = epoch.number, epoch.label_count
            roots = (epoch.payout_root, epoch.label_root, epoch.content_hash)
            sizes = {
                "label_tree": len(epoch.label_tree),
                "payout_tree": len(epoch.payout_tree),
                "verdicts": len(epoch.verdicts),
                "manifest": len(epoch.manifest),
            }
            built = time.perf_counter()
            del epoch
            session.commit()
            server_cpu_now = _cpu_seconds(backend)
            server_cpu = (
                server_cpu_now - server_cpu_started
                if server_cpu_now is not None and server_cpu_started is not None
                else None
            )
        committed = time.perf_counter()
        client_cpu = time.process_time() - cpu_started
        if profiler is not None:
            profiler.stop()
            Path(os.environ["BENCH_SETTLE_PROFILE"]).write_text(profiler.output_text(color=False))
        say(f"  epoch {number} built: {labels:,} labels in {committed - started:.1f} s; proposing")
        if profiler is not None:
            profiler = Profiler(interval=0.005)
            profiler.start()
        proposed = post_epoch(db, client, deployment, operator, number)
        assert proposed is not None
        accepted = accept_epoch(db, client, deployment, operator, number)
        assert accepted is not None
        assert accepted.status is EpochStatus.accepted
        done = time.perf_counter()
        if profiler is not None:
            profiler.stop()
            where = Path(os.environ["BENCH_SETTLE_PROFILE"])
            where.with_name(where.stem + "-propose-accept.txt").write_text(
                profiler.output_text(color=False)
            )
        say(f"  accepted on chain in {done - committed:.1f} s; writing the publication")
        publish.publish(db, deployment, Path(publish_dir))
        published = time.perf_counter()
        ledger = client.contract("LabelLedger", deployment.ledger)
        assert bytes(ledger.functions.epochCommitment(number).call()) == epoch_commitment(*roots)
        assert "0x" + bytes(ledger.functions.payoutRoot().call()).hex() == roots[0]
        with db.unit_of_work() as session:
            assert session.get(Epoch, number) is not None
            assigned = session.execute(
                text("SELECT COUNT(*) FROM label_payments WHERE epoch = :n"), {"n": number}
            ).scalar_one()
            assert assigned == labels, (assigned, labels)
    finally:
        db.engine.dispose()
    spent = timer.spent
    select_s = spent.get("select", 0.0)
    files = spent.get("files", 0.0)
    phases = {
        "select": select_s,
        "compute": spent.get("select+compute", 0.0) - select_s,
        "trees": spent.get("trees", 0.0),
        "tree JSON": spent.get("tree JSON", 0.0),
        "manifest": files - spent.get("trees", 0.0) - spent.get("tree JSON", 0.0),
        "SQL writes waited for": spent.get("writes waited", 0.0),
    }
    build_total = built - started
    # the rest of the build: reading the last entitlements, the epoch row's insert, the commit
    phases["epoch row, commit, rest"] = committed - started - sum(phases.values())
    phases["propose+accept"] = done - committed
    phases["publication"] = published - done
    beside = {  # not in the total: on PostgreSQL, in a thread while the phases above ran
        "SQL writes, all (assign, rows, texts)": spent.get("writes", 0.0),
        "of which assign": spent.get("assign", 0.0),
    }
    return {
        "labels": labels,
        "build": build_total,
        "build+commit": committed - started,
        "end_to_end": done - started,
        "with_publication": published - started,
        "phases": phases,
        "beside": beside,
        "sizes": sizes,
        "payout_root": roots[0],
        "label_root": roots[1],
        "content_hash": roots[2],
        "peak_rss_mb": _rss_mb(),
        # CPU seconds the build and its commit took: this process, and the PostgreSQL backend
        # serving it (None on SQLite, or where /proc cannot be read): what the wall-clock time
        # would shrink to on a machine nobody else uses, roughly
        "build_cpu": client_cpu,
        "build_server_cpu": server_cpu,
    }


def _backend_pid(session: Any) -> int | None:
    if session.get_bind().dialect.name != "postgresql":
        return None
    return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of a local process (the PostgreSQL backend), from /proc."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_child(kind: str, env_extra: dict[str, str], *argv: str) -> dict[str, Any]:
    env = dict(os.environ, BENCH_SETTLE_CHILD=kind, **env_extra)
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, *argv],
        env=env,
        stdout=subprocess.PIPE,
        check=False,
        cwd=env_extra.get("BENCH_SETTLE_CWD", str(REPO)),
    )
    if done.returncode != 0:
        raise SystemExit(f"the {kind} run failed (exit {done.returncode}): see its output above")
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


# --- databases, Anvil -------------------------------------------------------------------------


@contextmanager
def database(kind: str, args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, str]]:
    """(URL, server version) of an empty database; a PostgreSQL one is dropped at the end."""
    if kind == "sqlite":
        yield (
            f"sqlite:///{workdir / f'settle-{uuid.uuid4().hex[:6]}.sqlite'}",
            sqlite3.sqlite_version,
        )
        return
    name = f"helper_e_bench_settle_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.pg_admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            version = str(conn.execute(text("SHOW server_version")).scalar_one())
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(args.pg_admin_url).set(database=name)
            yield url.render_as_string(hide_password=False), version
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def anvil() -> Iterator[str]:
    from ledger.chain.devnode import Anvil  # noqa: PLC0415

    node = Anvil().start()
    try:
        yield node.rpc_url
    finally:
        node.stop()


@contextmanager
def baseline_tree(rev: str) -> Iterator[Path]:
    """`ledger/` as of `rev`, in a temporary directory (git archive: the repository is not
    touched)."""
    where = Path(tempfile.mkdtemp(prefix="bench-settle-baseline-"))
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", rev, "ledger"], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(where)], input=archive.stdout, check=True)
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


# --- one round ----------------------------------------------------------------------------------


def one_round(kind: str, size: int, args: argparse.Namespace, base: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-settle-") as tmp, anvil() as rpc_url:
        workdir = Path(tmp)
        with database(kind, args, workdir) as (url, version):
            say(f"[bold]{kind}, {size:,} labels[/bold] ({version}): setting up")
            started = time.perf_counter()
            workload = setup_chain_and_datasets(url, rpc_url, workdir, args, size)
            fill_labels(workload, args)
            say(f"  filled in {time.perf_counter() - started:.0f} s")
            result: dict[str, Any] = {"database": kind, "version": version, "size": size}
            if base is not None and size <= args.baseline_max:
                say("  baseline (24b6a85's build_epoch, rolled back): running")
                result["baseline"] = run_child(
                    "baseline",
                    {"PYTHONPATH": str(base), "BENCH_SETTLE_CWD": str(base)},
                    url,
                    str(workload.deployment_path),
                )
                say(
                    f"  baseline built {result['baseline']['labels']:,} labels in "
                    f"{result['baseline']['build']:.1f} s"
                )
            else:
                result["baseline"] = None
            from ledger.kit.migrate import upgrade  # noqa: PLC0415

            upgraded = time.perf_counter()
            upgrade(url)
            say(f"  database upgraded to head in {time.perf_counter() - upgraded:.1f} s")
            say("  ours: build, propose, accept, publish")
            env = {"BENCH_SETTLE_RPC": rpc_url}
            if args.profile:
                env["BENCH_SETTLE_PROFILE"] = f"{args.profile}-{kind}-{size}.txt"
            result["ours"] = run_child(
                "ours",
                env,
                url,
                str(workload.deployment_path),
                str(workdir / "published"),
            )
            ours, baseline = result["ours"], result["baseline"]
            if baseline is not None:
                same = all(
                    ours[k] == baseline[k]
                    for k in ("payout_root", "label_root", "content_hash", "labels")
                )
                result["same_epoch_as_baseline"] = same
                if not same:
                    raise SystemExit(
                        "ours built another epoch than the baseline: the benchmark is void"
                    )
            return result


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> bool:
    out = Console(width=max(Console().width, 150))
    table = Table(title="settling one epoch end to end (build + commit + propose + accept)")
    for column in (
        "database",
        "labels paid",
        "end to end s",
        "labels/s",
        "+ publication labels/s",
        "baseline build s",
        "our build s (+ commit)",
        "build speed-up",
        "peak RSS MB (ours / baseline)",
        "our build CPU s (ours + server)",
    ):
        table.add_column(column, justify="right")
    passed = True
    for r in results:
        ours, base = r["ours"], r["baseline"]
        rate = ours["labels"] / ours["end_to_end"]
        if r["database"] == "postgresql" and rate < 20_000:
            passed = False
        table.add_row(
            r["database"],
            f"{ours['labels']:,} of {r['size']:,}",
            f"{ours['end_to_end']:.2f}",
            f"{rate:,.0f}",
            f"{ours['labels'] / ours['with_publication']:,.0f}",
            f"{base['build']:.2f}" if base else f"not run (> {args.baseline_max:,})",
            f"{ours['build']:.2f} ({ours['build+commit']:.2f})",
            f"{base['build'] / ours['build']:.1f}x" if base else "-",
            f"{ours['peak_rss_mb']:,.0f} / {base['peak_rss_mb']:,.0f}"
            if base
            else f"{ours['peak_rss_mb']:,.0f} / -",
            f"{ours['build_cpu']:.1f} + "
            + (f"{ours['build_server_cpu']:.1f}" if ours["build_server_cpu"] is not None else "-"),
        )
    out.print(table)
    phases = Table(title="where the time goes (ours, seconds)")
    phases.add_column("phase")
    for r in results:
        phases.add_column(f"{r['database']} {r['size']:,}", justify="right")
    names = list(results[0]["ours"]["phases"]) if results else []
    for name in names:
        phases.add_row(name, *(f"{r['ours']['phases'][name]:.2f}" for r in results))
    phases.add_row("total", *(f"{r['ours']['with_publication']:.2f}" for r in results))
    beside = list(results[0]["ours"].get("beside", {})) if results else []
    for name in beside:
        phases.add_row(
            f"beside (thread on PostgreSQL): {name}",
            *(f"{r['ours']['beside'][name]:.2f}" for r in results),
        )
    out.print(phases)
    out.print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    out.print(f"goal (>= 20,000 labels/s end to end on PostgreSQL): {'PASS' if passed else 'FAIL'}")
    return passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="labels per round, PostgreSQL")
    parser.add_argument("--sqlite-sizes", default="100000", help="labels per round, SQLite")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--datasets", type=int, default=50)
    parser.add_argument("--annotators", type=int, default=2_000)
    parser.add_argument("--baseline", default="24b6a85", help="git revision of the baseline")
    parser.add_argument("--baseline-max", type=int, default=100_000, help="largest baseline run")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument(
        "--profile",
        type=Path,
        help="write a pyinstrument profile of our build and commit here, per round (a file "
        "name prefix; needs `.venv/bin/pip install pyinstrument`, not a dependency)",
    )
    parser.add_argument("--enforce", action="store_true", help="exit 1 when the goal is missed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("child_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "baseline":
        print(json.dumps(child_baseline(*args.child_args)))
        return 0
    if args.child == "ours":
        print(json.dumps(child_ours(*args.child_args)))
        return 0
    rounds = []
    if not args.skip_pg:
        rounds += [("postgresql", int(s)) for s in args.sizes.split(",") if s]
    if not args.skip_sqlite:
        rounds += [("sqlite", int(s)) for s in args.sqlite_sizes.split(",") if s]
    results = []
    with nullcontext() if args.no_baseline else baseline_tree(args.baseline) as base:
        for kind, size in rounds:
            results.append(one_round(kind, size, args, base))
    passed = report(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 1 if args.enforce and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
