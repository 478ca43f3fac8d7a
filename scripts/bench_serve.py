"""API processes benchmark: label pairs per second (GET next-item, then POST the label for the
item it served, as scripts/bench_load.py measures a pair) when `label-ledger serve --workers N`
runs 1, 2 and 4 API processes on one PostgreSQL database, all in the same run, with the CPU each
process used sampled from /proc while it runs: the API processes, the database's PostgreSQL
backends (and PostgreSQL's own background processes), and the load client.

Run it as `./scripts/bench-serve` (options: `--help`); the default run takes about 3 minutes on
2 cores. What it does:

1. Starts its own Anvil on a free port, deploys the LabelLedger with dUSD, creates a fresh
   PostgreSQL database (bench_load's: `bench_load_<random>`) through `--pg-admin-url`, dropped at
   the end, and
   brings it to the schema with `label-ledger db upgrade`.
2. Starts one `label-ledger worker` (the mirror, so funded datasets open; settlement off), then
   for each N of `--api-workers` (default 1,2,4), in that order on one port: starts
   `label-ledger serve --workers N`, waits for /v1/health and for N API processes, signs in
   (once, on the first) a buyer and `--annotators` annotators (default 30), makes sure a funded
   dataset with room for the round exists (bench_load's Workbench: JSONL uploads, createAndFund),
   runs bench_load's pair loops (its minimal keep-alive asyncio client, one connection per
   annotator, opened at once; the kernel spreads them over the API processes, each listening
   on a socket of its own, ledger/serving.py) for a 2 s warm-up and then `--seconds` (default
   20), and stops the server with SIGTERM.
3. While a measured phase runs, a thread reads /proc/<pid>/stat every 0.25 s for: every API
   process (uvicorn's workers, or the single serve process), every PostgreSQL backend connected
   to the benchmark's database (`postgres: ... <database> ...` in its command line; a backend
   that appears during the phase counts from zero), PostgreSQL's other processes (WAL writer,
   checkpointer, ...), and this process (the load client); and /proc/stat for the whole
   machine's busy share (other work on the machine shows there).
4. Prints one row per N: pairs/s, the pair p50 and p99, the cores each group used (CPU seconds
   over the phase's seconds), each API process's cores, and the machine's busy cores; `--json`
   writes them. Every call must answer 2xx (next-item's 409 `items_reserved` is retried, its
   404 `queue_empty` would end the loop); any other answer fails the round, with its code.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import make_url
from web3.types import RPCEndpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_load as load

from ledger.chain.client import ChainClient, account_from_key
from ledger.chain.deploy import deploy_all
from ledger.chain.devnode import DEV_KEYS, Anvil, free_port

console = Console(width=150)
SCRIPT = Path(sys.executable).parent / "label-ledger"
SAMPLE_SECONDS = 0.25
#: N processes importing the service at once on a busy 2-core machine take a while.
START_TIMEOUT = 300.0


# --- CPU from /proc ---------------------------------------------------------------------------


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def postgres_processes(database: str) -> tuple[list[int], list[int]]:
    """(backends connected to `database`, PostgreSQL's background processes)."""
    backends, background = [], []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        line = cmdline(int(entry.name))
        if not line.startswith("postgres:"):
            continue
        words = line.split()
        if f" {database} " in f" {line} ":
            backends.append(int(entry.name))
        elif len(words) >= 3 and "(" not in line:
            background.append(int(entry.name))
    return backends, background


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


class CpuSampler:
    """CPU seconds per group of processes over a phase, sampled from /proc in a thread."""

    def __init__(self, api_pids: list[int], database: str) -> None:
        self.api_pids = api_pids
        self.database = database
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.group: dict[int, str] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, *, initial: bool = False) -> None:
        backends, background = postgres_processes(self.database)
        pids = dict.fromkeys(self.api_pids, "api")
        pids |= dict.fromkeys(backends, "postgres backends")
        pids |= dict.fromkeys(background, "postgres background")
        pids[os.getpid()] = "load client"
        for pid, group in pids.items():
            used = load.cpu_seconds(pid)
            if pid not in self.first:
                # a backend born during the phase has used (about) nothing before it
                self.first[pid] = used if initial else 0.0
                self.group[pid] = group
            self.last[pid] = max(used, self.last.get(pid, 0.0))

    def _run(self) -> None:
        while not self.stop.wait(SAMPLE_SECONDS):
            self._sample()

    def __enter__(self) -> CpuSampler:
        self.machine = machine_ticks()
        self.started = time.perf_counter()
        self._sample(initial=True)
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self._sample()
        self.seconds = time.perf_counter() - self.started
        busy, total = machine_ticks()
        self.machine_busy_cores = (
            (busy - self.machine[0]) / max(total - self.machine[1], 1) * (os.cpu_count() or 1)
        )

    def cores(self, group: str) -> float:
        used = sum(self.last[p] - self.first[p] for p, g in self.group.items() if g == group)
        return used / self.seconds

    def per_api_process(self) -> list[float]:
        return [(self.last[p] - self.first[p]) / self.seconds for p in self.api_pids]


# --- one round --------------------------------------------------------------------------------


@dataclass
class Round:
    api_workers: int
    pairs: int
    seconds: float
    pairs_per_second: float
    pair_p50_ms: float
    pair_p99_ms: float
    ended_by: str
    cores: dict[str, float] = field(default_factory=dict)
    api_process_cores: list[float] = field(default_factory=list)
    machine_busy_cores: float = 0.0
    refusals: str = "-"


def settings_env(database_url: str, chain: load.Chain, workdir: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "COLUMNS": "200",
        "LABEL_LEDGER_DATABASE_URL": database_url,
        "LABEL_LEDGER_RPC_URL": chain.client.rpc_url,
        "LABEL_LEDGER_PUBLIC_RPC_URL": chain.client.rpc_url,
        "LABEL_LEDGER_DEPLOYMENT_FILE": str(chain.deployment_file),
        "LABEL_LEDGER_SIWE_DOMAIN": f"127.0.0.1:{port}",
        "LABEL_LEDGER_SIWE_URI": f"http://127.0.0.1:{port}",
        "LABEL_LEDGER_MIRROR_POLL_SECONDS": "0.2",
        "LABEL_LEDGER_SETTLE_EVERY_SECONDS": "0",
        "LABEL_LEDGER_PUBLISH_DIR": str(workdir / "published"),
    }


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        child = subprocess.Popen(
            [str(SCRIPT), *args],
            env=env,
            cwd=log.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=load._die_with_parent,  # noqa: PLW1509 (no thread of ours runs yet)
        )
    try:
        yield child
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def api_processes(serve: subprocess.Popen[bytes], workers: int) -> list[int]:
    """The processes that answer requests: serve itself, or uvicorn's N workers under it."""
    if workers == 1:
        return [serve.pid]
    deadline = time.monotonic() + load.OPEN_TIMEOUT
    while True:
        found = [p for p in children_of(serve.pid) if "spawn_main" in cmdline(p)]
        # each listens on a socket of its own (ledger/serving.py) once it has started
        if len(found) == workers and all(listening(p) for p in found):
            return found
        if time.monotonic() > deadline:
            raise load.BenchFailed(f"serve --workers {workers} started {len(found)} processes")
        time.sleep(0.1)


def listening(pid: int) -> bool:
    """Whether process `pid` holds a listening TCP socket."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                return True
    return False


def wait_healthy(url: str, child: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if child.poll() is not None:
            raise load.BenchFailed(f"label-ledger exited ({child.returncode}); see {log}")
        with_answer = False
        with suppress(httpx.HTTPError):
            with_answer = httpx.get(f"{url}/v1/health", timeout=5).status_code == 200
        if with_answer:
            return
        if time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise load.BenchFailed(
                f"no /v1/health answer within {START_TIMEOUT:.0f}s; its log ends:\n{tail}"
            )
        time.sleep(0.1)


def measure(
    bench: load.Workbench,
    workers: int,
    pids: list[int],
    database: str,
    args: argparse.Namespace,
) -> Round:
    tokens = bench.annotator_tokens[: args.annotators]
    endpoint = bench.server.endpoint
    rng = random.Random(f"bench-serve {workers}")  # noqa: S311 (label values)
    refusals = load.Refusals()
    dataset = bench.dataset_with_room(args.size, args.seconds)
    load.run_phase(
        bench,
        f"{workers} API process(es): warm-up",
        load.WARM_UP_SECONDS,
        partial(
            load.pair_phase,
            endpoint,
            tokens,
            dataset,
            seconds=load.WARM_UP_SECONDS,
            refusals=refusals,
            rng=rng,
        ),
    )
    dataset = bench.dataset_with_room(args.size, args.seconds)
    with CpuSampler(pids, database) as cpu:
        pairs = load.run_phase(
            bench,
            f"{workers} API process(es): label pairs",
            args.seconds,
            partial(
                load.pair_phase,
                endpoint,
                tokens,
                dataset,
                seconds=args.seconds,
                refusals=refusals,
                rng=rng,
            ),
        )
    if pairs.ended_by != "errors":
        fastest = max(bench.fastest_pairs_per_second or 0.0, pairs.per_second)
        bench.fastest_pairs_per_second = fastest
    if not refusals.ok:
        raise load.BenchFailed(f"unexpected answers: {refusals.short()}")
    return Round(
        api_workers=workers,
        pairs=pairs.pairs,
        seconds=pairs.seconds,
        pairs_per_second=pairs.per_second,
        pair_p50_ms=pairs.pair.p50,
        pair_p99_ms=pairs.pair.p99,
        ended_by=pairs.ended_by,
        cores={
            group: cpu.cores(group)
            for group in ("api", "postgres backends", "postgres background", "load client")
        },
        api_process_cores=cpu.per_api_process(),
        machine_busy_cores=cpu.machine_busy_cores,
        refusals=refusals.short(),
    )


def run(args: argparse.Namespace, workdir: Path) -> list[Round]:
    rounds: list[Round] = []
    with Anvil(log_path=workdir / "anvil.log") as anvil:
        client = ChainClient(anvil.rpc_url)
        with console.status("deploying the ledger on a fresh Anvil..."):
            deployment = deploy_all(client, account_from_key(DEV_KEYS[0]), with_dev_token=True)
        deployment_file = workdir / "deployment.json"
        deployment.save(deployment_file)
        buyer = account_from_key(DEV_KEYS[1])
        client.w3.provider.make_request(
            RPCEndpoint("anvil_setBalance"), [buyer.address, hex(10**24)]
        )
        chain = load.Chain(client, deployment, deployment_file, buyer)
        args.database_url = None
        with load.database("postgresql", args, workdir) as (url, version):
            database = make_url(url).database or ""
            port = free_port()
            env = settings_env(url, chain, workdir, port)
            upgraded = subprocess.run(
                [str(SCRIPT), "db", "upgrade"], env=env, capture_output=True, check=False
            )
            if upgraded.returncode != 0:
                raise load.BenchFailed(f"db upgrade failed: {upgraded.stdout.decode()[-500:]}")
            console.print(
                f"PostgreSQL {version}, database {database}; {os.cpu_count()} cores; "
                f"{args.annotators} annotators, {args.seconds:g}s per round"
            )
            with process(["worker", "--jobs", "mirror"], env, workdir / "worker.log"):
                rounds = serve_rounds(args, chain, env, port, workdir, database)
    return rounds


def serve_rounds(
    args: argparse.Namespace,
    chain: load.Chain,
    env: dict[str, str],
    port: int,
    workdir: Path,
    database: str,
) -> list[Round]:
    rounds: list[Round] = []
    url = f"http://127.0.0.1:{port}"
    tokens: list[str] = []
    datasets: dict[int, load.BenchDataset] = {}
    fastest: float | None = None
    buyer_token: str | None = None
    for workers in args.api_workers:
        log = workdir / f"serve-{workers}.log"
        command = ["serve", "--port", str(port), "--workers", str(workers)]
        with (
            process(command, env, log) as serve,
            httpx.Client(base_url=url, timeout=load.SETUP_TIMEOUT) as http,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[figures]}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as progress,
        ):
            wait_healthy(url, serve, log)
            pids = api_processes(serve, workers)
            server = load.Server(load.Endpoint("127.0.0.1", port, pids[0]), url, log)
            bench = load.Workbench(
                load.DatabaseRun("postgresql", "", url), server, chain, http, progress
            )
            # one set of users and datasets for every round: sessions live in the database
            if not tokens:
                bench.sign_in(load.annotator_wallets(args.annotators))
                tokens = bench.annotator_tokens
            else:
                bench.buyer.token = buyer_token
                bench.annotator_tokens = tokens
            buyer_token = bench.buyer.token
            bench.datasets = datasets
            bench.fastest_pairs_per_second = fastest
            measured = measure(bench, workers, pids, database, args)
            fastest = bench.fastest_pairs_per_second
            rounds.append(measured)
            show_round(measured)
    return rounds


def show_round(measured: Round) -> None:
    console.print(
        f"  {measured.api_workers} API process(es): {measured.pairs_per_second:.1f} pairs/s, "
        f"p50 {measured.pair_p50_ms:.0f} ms; cores: API "
        f"{measured.cores['api']:.2f} ("
        + " + ".join(f"{c:.2f}" for c in measured.api_process_cores)
        + f"), PostgreSQL {measured.cores['postgres backends']:.2f} + "
        f"{measured.cores['postgres background']:.2f}, client "
        f"{measured.cores['load client']:.2f}; machine busy {measured.machine_busy_cores:.2f}"
    )


def print_table(rounds: list[Round]) -> None:
    table = Table(title="label pairs by API processes (PostgreSQL)")
    for column in (
        "API processes",
        "pairs/s",
        "x 1 process",
        "pair p50 / p99 ms",
        "API cores (each)",
        "PG backends",
        "PG other",
        "client",
        "machine busy",
        "other work",
    ):
        table.add_column(column, justify="right")
    single = rounds[0].pairs_per_second if rounds else 0.0
    for r in rounds:
        table.add_row(
            str(r.api_workers),
            f"{r.pairs_per_second:.1f}",
            f"{r.pairs_per_second / single:.2f}" if single else "-",
            f"{r.pair_p50_ms:.0f} / {r.pair_p99_ms:.0f}",
            f"{r.cores['api']:.2f} (" + ", ".join(f"{c:.2f}" for c in r.api_process_cores) + ")",
            f"{r.cores['postgres backends']:.2f}",
            f"{r.cores['postgres background']:.2f}",
            f"{r.cores['load client']:.2f}",
            f"{r.machine_busy_cores:.2f} of {os.cpu_count()}",
            f"{r.machine_busy_cores - sum(r.cores.values()):.2f}",
        )
    console.print(table)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument(
        "--api-workers",
        type=load._counts,
        default=[1, 2, 4],
        help="API processes per round, comma-separated (default 1,2,4)",
    )
    parser.add_argument("--annotators", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each round")
    parser.add_argument("--size", type=int, default=20_000, help="items per dataset")
    parser.add_argument(
        "--pg-admin-url",
        default=load.DEFAULT_PG_ADMIN_URL,
        help="PostgreSQL connection that creates (and drops) a fresh bench_load_* database",
    )
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.annotators < 1:
        parser.error("--seconds and --annotators must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, load._interrupt)  # a kill still drops the database
    try:
        with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
            rounds = run(args, Path(tmp))
    except load.BenchFailed as exc:
        console.print(f"[red]the benchmark could not run[/]: {exc}")
        return 2
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        return 130
    print_table(rounds)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rounds], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
