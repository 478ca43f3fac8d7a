"""Load benchmark of the annotation API: how many label pairs (GET next-item, then POST the label
for the item it served) the real service answers per second, and how fast, under 30 and 100
concurrent annotators over real HTTP, beside a baseline measured in the same run (GET /v1/me:
the sign-in check plus two reads), on SQLite and PostgreSQL, at 5k, 100k and 1M items; and how an
upload of 100k items compares with a bare SQLAlchemy Core `executemany` of the same rows.

Run it from anywhere as `./scripts/bench-load` (options: `--help`). On 2 cores a full default
run takes about 11 minutes when the server keeps up: per database about a minute of setup (100
sign-ins, the ingest round, 1.1M items uploaded through the API at 40-70k items/s) and 6 rounds
of ~43 s. A server that stalls lengthens each phase to its slowest answer (a phase waits for the
calls in flight, up to 120 s past its end): when every call under 100 annotators took 60 s, as
the service's did when this was written, it would take about 45 minutes.
`--sizes 5000 --annotators 30 --seconds 3 --repeat 1` takes under a minute.

What it does, in order:

1. Starts its own Anvil on a free port, deploys the LabelLedger with the dev stablecoin dUSD
   (`deploy_all(..., with_dev_token=True)`) and writes the deployment to a temporary directory.
2. For each database (SQLite: a fresh file; PostgreSQL: a fresh database `bench_load_<random>`
   created through `--pg-admin-url` and dropped at the end, even on failure, or `--database-url`,
   an empty database of yours), starts the API as a separate process with `label-ledger serve`
   on a free port (mirror polling every 0.2 s, no settlement), waits for /v1/health, signs in a
   buyer (Anvil's second dev account) and 100 annotator wallets once, and keeps their bearer
   tokens.
3. Ingest: uploads one item through the API into a scratch dataset and reads back the row the
   service stored, so the bare rows carry exactly what the service stores per item: the columns
   of `ledger.dataset.models.Item` as the model has them when it runs, with `dataset_id`,
   `external_id`, `sealed_data`, `item_hash` (`item_id_hash(dataset.item_key, id)`) and
   `gold_label` (None) set per item and every other column copied from that stored item (the
   probe item's own row, rebuilt that way, must equal what was stored but for the sealed data,
   which must be sealed, or the benchmark stops). Then times sealing each item's data as the
   service does (AES-256-GCM under a data key of the benchmark's own, `MediaVault.item_sealer`)
   and a bare `connection.execute(insert(Item.__table__), rows)` of `--ingest-items` (default
   100,000) rows in one transaction into a fresh dataset (its own engine on the same URL, made by
   `ledger.kit.db.make_engine`, so SQLite gets the service's pragmas), then the HTTP upload of
   the same items as JSONL into another fresh dataset, while a probe client calls GET /v1/me
   every ~20 ms on its own connection. Reports both times and their ratio, the server process's
   RSS growth (VmRSS before; the peak is reset through /proc/<pid>/clear_refs and read from
   VmHWM, and VmRSS is also sampled at each probe) and the probe's latency (max and p99) while
   the upload runs.
4. For each size (`--sizes`, default 5,000, 100,000 and 1,000,000 items) a dataset (classes cat,
   dog, bird; price 1 base unit, reward 1; default verification: review, overlap 1) is created,
   its items uploaded as JSONL (uploads of at most 100,000 items), then funded for every item on
   chain (mint, approve, `createAndFund(salt, token_index, amount)`) and awaited until the API
   says `open`. For each concurrency N (`--annotators`, default 30 and 100) a round:
   a 2 s warm-up (1 s of each loop below, not counted), then `--repeat` (default 2) times,
   interleaved: the baseline (N annotators each loop GET /v1/me for `--seconds`, default 10),
   then the label pairs (N annotators each loop next-item then POST /v1/labels
   {"item_id", "value": a random class} for `--seconds`). Figures are the medians over the
   repeats. A pair loop stops once 60% of its dataset's items are labelled (counting every
   earlier round on it), so no round runs out of items; before each repeat a fresh dataset of
   the size is made when the current one has less room left than the fastest pair rate seen so
   far (500/s until one is measured) could use in a warm-up and a phase, with a 25% margin. At
   5k a phase may still end early at the cap: its actual duration and count are reported.
   The load client runs in this process on asyncio with a minimal HTTP/1.1 keep-alive client on
   `asyncio.open_connection` (one connection per annotator, opened before the clock starts;
   Content-Length bodies only, chunked answers are refused), timed with `time.perf_counter()`
   per call, so it costs the server's machine as little CPU as possible. A pair's time is from
   sending next-item to the label's answer (the pair p50 is the p50 of those totals). Every call
   must answer 2xx, except next-item's 404 `queue_empty`, which ends that annotator's loop (and
   409 `items_reserved`, after which it asks again a little later, as a client would); any
   other answer ends the loop and fails the round, with its status, code and message shown (and
   the exceptions the server logged meanwhile). Each phase also reports the CPU time the API
   process used (/proc/<pid>/stat; PostgreSQL's own processes are not counted) and this
   client's.
5. Prints a table per database and the goals with PASS or FAIL and the figures behind each:
   (1) label pairs/s >= 0.5x the baseline's requests/s, per database and concurrency, at every
   size, measured through submit-and-next (one call labels the item and serves the next: a
   pair's work in one request, as an annotation tool's submit does), with the same pairs made
   as two separate calls shown beside it (INFO: each of the two pays the whole fixed cost of a
   request that the baseline pays once, which caps that form near 0.5x before any work);
   (2) the pair p50 at the largest size <= 1.3x the one at the smallest (5k to 1M by default),
   per database and concurrency; (3) POST /v1/labels p99 <= 4x its p50 under 30 annotators;
   (4) ingest: the upload <= 1.5x the bare executemany, RSS growth <= 100 MB, no probe call over
   200 ms during the upload. A round with an unexpected answer fails, and so does every goal
   its figures would enter; so does an ingest round whose upload is refused. The exit status is 0
   either way unless `--enforce` (1 if anything fails); 2 when the benchmark itself cannot run.
   `--json PATH` writes every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import datetime as dt
import json
import math
import os
import platform
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

import httpx
import orjson
import sqlalchemy
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from web3.contract import Contract
from web3.types import RPCEndpoint

from ledger.apiclient import ApiError, ApiUser
from ledger.chain.client import ChainClient, Deployment, account_from_key
from ledger.chain.deploy import deploy_all
from ledger.chain.devnode import DEV_KEYS, Anvil, free_port
from ledger.dataset.models import Dataset, Item
from ledger.kit.db import make_engine
from ledger.kit.errors import LedgerError
from ledger.publication import item_id_hash
from ledger.storage import LocalBlobStore, MasterKey, MediaVault

try:
    import orjson

    def _json_loads(content: bytes) -> Any:
        return orjson.loads(content)

except ImportError:  # pragma: no cover - orjson is expected, stdlib json is the fallback

    def _json_loads(content: bytes) -> Any:
        return json.loads(content)


CLASSES = ("cat", "dog", "bird")
PRICE = 1  # base units of dUSD per verified label
REWARD = 1  # LABEL base units per verified label
MAX_ITEMS_PER_UPLOAD = 100_000
LABELLED_SHARE_CAP = 0.6  # a dataset is never labelled past this share: its queue never runs dry
WARM_UP_SECONDS = 2.0
PAIR_RATE_GUESS = 500.0  # pairs/s assumed to size datasets before any round has measured one
ROOM_MARGIN = 1.25
PROBE_INTERVAL = 0.020
PROBE_LEAD = 0.2  # seconds of probing before the upload starts
STALL_SECONDS = 120.0  # a phase still unanswered this long after its end fails
SETUP_TIMEOUT = 1800.0  # one setup request (a 100k-item upload) may take this long
SESSION_HOURS = 12  # the server's default session lifetime; a run must fit in it
OPEN_TIMEOUT = 120.0  # seconds for a funded dataset to turn open, for the server to answer
DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PR_SET_PDEATHSIG = 1  # prctl option, from <linux/prctl.h>

GOAL_PAIR_RATIO = 0.5
GOAL_P50_GROWTH = 1.3
GOAL_LABEL_TAIL = 4.0
GOAL_TAIL_ANNOTATORS = 30
GOAL_INGEST_RATIO = 1.5
GOAL_INGEST_RSS_MB = 100.0
GOAL_PROBE_MAX_MS = 200.0

# wide enough for the results table when the output goes to a file or a pipe
console = Console(
    highlight=False,
    width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 180,
)


class BenchFailed(Exception):
    """The benchmark itself cannot go on (setup refused, server gone): exit 2."""


# --- figures --------------------------------------------------------------------------------------


def percentile(ordered: Sequence[float], share: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default) of sorted values."""
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * share
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Spread:
    """The latency of one kind of call, in milliseconds."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, seconds: list[float]) -> Spread:
        ordered = sorted(seconds)
        if not ordered:
            return cls(0, math.nan, math.nan, math.nan, math.nan, math.nan)
        return cls(
            count=len(ordered),
            p50=percentile(ordered, 0.50) * 1000,
            p95=percentile(ordered, 0.95) * 1000,
            p99=percentile(ordered, 0.99) * 1000,
            max=ordered[-1] * 1000,
            mean=statistics.fmean(ordered) * 1000,
        )


@dataclass
class Refusals:
    """Every answer that was not 2xx (or never came), per call, status and code: how many, the
    first message, and whether it was one the loop expects (next-item's 404 queue_empty)."""

    counts: dict[str, int] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)

    def add(self, call: str, status: int, code: str, message: str, *, expected: bool) -> None:
        key = f"{call} {status or '-'} {code}"
        self.counts[key] = self.counts.get(key, 0) + 1
        self.messages.setdefault(key, message)
        if not expected and key not in self.unexpected:
            self.unexpected.append(key)

    def add_reply(self, call: str, reply: Reply, *, expected: bool = False) -> None:
        code, message = reply.error()
        self.add(call, reply.status, code, message, expected=expected)

    def merge(self, other: Refusals, prefix: str) -> None:
        for key, count in other.counts.items():
            self.counts[f"{prefix} {key}"] = count
            self.messages[f"{prefix} {key}"] = other.messages[key]
        self.unexpected += [f"{prefix} {key}" for key in other.unexpected]

    @property
    def ok(self) -> bool:
        return not self.unexpected

    def short(self) -> str:
        return ", ".join(f"{key} x{count}" for key, count in self.counts.items()) or "-"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, from /proc/<pid>/stat (0 if unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass
class CpuUse:
    """CPU seconds the server process and this client used during a phase."""

    server: float
    client: float


class CpuClock:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.server = cpu_seconds(pid)
        self.client = time.process_time()

    def used(self) -> CpuUse:
        return CpuUse(
            server=cpu_seconds(self.pid) - self.server,
            client=time.process_time() - self.client,
        )


@dataclass
class BaselinePhase:
    requests: int
    seconds: float
    me: Spread
    cpu: CpuUse

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else math.nan


@dataclass
class PairPhase:
    dataset_id: int
    pairs: int
    seconds: float
    ended_by: str  # "time", "60% cap", "queue_empty" or "errors"
    next_item: Spread
    label: Spread
    pair: Spread
    cpu: CpuUse

    @property
    def per_second(self) -> float:
        return self.pairs / self.seconds if self.seconds else math.nan


@dataclass
class LoadRound:
    """One (database, size, concurrency): every repeat's phases and the medians over them."""

    database: str
    size: int
    annotators: int
    baselines: list[BaselinePhase] = field(default_factory=list)
    pairs: list[PairPhase] = field(default_factory=list)
    # the same work through POST /v1/labels/and-next: one call labels and serves the next
    and_next: list[PairPhase] = field(default_factory=list)
    refusals: Refusals = field(default_factory=Refusals)
    server_exceptions: dict[str, int] = field(default_factory=dict)  # logged during a failed one

    @property
    def baseline_per_second(self) -> float:
        return statistics.median(b.per_second for b in self.baselines)

    @property
    def pairs_per_second(self) -> float:
        return statistics.median(p.per_second for p in self.pairs)

    @property
    def ratio(self) -> float:
        baseline = self.baseline_per_second
        return self.pairs_per_second / baseline if baseline else math.nan

    @property
    def and_next_per_second(self) -> float:
        return statistics.median(p.per_second for p in self.and_next)

    @property
    def and_next_ratio(self) -> float:
        baseline = self.baseline_per_second
        return self.and_next_per_second / baseline if baseline else math.nan

    def and_next_call(self, name: str) -> float:
        return statistics.median(float(getattr(p.pair, name)) for p in self.and_next)

    def me(self, name: str) -> float:
        return statistics.median(float(getattr(b.me, name)) for b in self.baselines)

    def next_item(self, name: str) -> float:
        return statistics.median(float(getattr(p.next_item, name)) for p in self.pairs)

    def label(self, name: str) -> float:
        return statistics.median(float(getattr(p.label, name)) for p in self.pairs)

    def pair(self, name: str) -> float:
        return statistics.median(float(getattr(p.pair, name)) for p in self.pairs)

    def figures(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "size": self.size,
            "annotators": self.annotators,
            "baseline_requests_per_second": self.baseline_per_second,
            "me_ms": {q: self.me(q) for q in ("p50", "p95", "p99")},
            "pairs_per_second": self.pairs_per_second,
            "ratio_to_baseline": self.ratio,
            "next_item_ms": {q: self.next_item(q) for q in ("p50", "p95", "p99")},
            "label_ms": {q: self.label(q) for q in ("p50", "p95", "p99")},
            "pair_ms": {q: self.pair(q) for q in ("p50", "p95", "p99")},
            "and_next_pairs_per_second": self.and_next_per_second,
            "and_next_ratio_to_baseline": self.and_next_ratio,
            "and_next_ms": {q: self.and_next_call(q) for q in ("p50", "p95", "p99")},
            "ok": self.refusals.ok,
            "non_2xx": self.refusals.counts,
            "non_2xx_messages": self.refusals.messages,
            "server_exceptions": self.server_exceptions,
            "repeats": {
                "baseline": [asdict(b) | {"per_second": b.per_second} for b in self.baselines],
                "pairs": [asdict(p) | {"per_second": p.per_second} for p in self.pairs],
                "and_next": [asdict(p) | {"per_second": p.per_second} for p in self.and_next],
            },
        }


@dataclass
class IngestRound:
    items: int
    body_bytes: int
    bare_seconds: float
    upload_seconds: float
    rss_before_mib: float
    rss_peak_mib: float
    rss_after_mib: float
    peak_from: str  # "VmHWM after clear_refs" or "sampled VmRSS"
    probe: Spread  # GET /v1/me while the upload ran
    probe_before: Spread  # the same probe in the PROBE_LEAD before the upload
    copied_columns: dict[str, str]  # Item columns copied from the stored item, as repr
    refusals: Refusals
    server_exceptions: dict[str, int]  # logged by the server during a failed upload

    @property
    def ratio(self) -> float:
        return self.upload_seconds / self.bare_seconds

    @property
    def rss_growth_mib(self) -> float:
        return self.rss_peak_mib - self.rss_before_mib

    def figures(self) -> dict[str, Any]:
        return asdict(self) | {"ratio": self.ratio, "rss_growth_mib": self.rss_growth_mib}


@dataclass
class SetupStep:
    what: str
    seconds: float
    items: int = 0


@dataclass
class DatabaseRun:
    name: str  # sqlite or postgresql
    version: str
    url: str
    rounds: list[LoadRound] = field(default_factory=list)
    ingest: IngestRound | None = None
    setup: list[SetupStep] = field(default_factory=list)
    seconds: float = 0.0


# --- a minimal HTTP/1.1 client for the measured loops ---------------------------------------------


class ProtocolError(RuntimeError):
    """An answer this client does not read (chunked, no Content-Length, not HTTP/1.x)."""


@dataclass
class Reply:
    status: int
    body: bytes

    def error(self) -> tuple[str, str]:
        """The API's stable error code and message, or what came instead."""
        try:
            error = _json_loads(self.body)["error"]
            return str(error.get("code", "?")), str(error.get("message", ""))
        except (ValueError, KeyError, TypeError, AttributeError):
            return "?", self.body[:300].decode("utf-8", "replace")


class KeepAliveConnection:
    """One keep-alive HTTP/1.1 connection speaking just what the benchmark needs: a request line,
    Host, Authorization, Content-Type and Content-Length; answers with a Content-Length body."""

    def __init__(self, host: str, port: int, token: str | None) -> None:
        self.host = host
        self.port = port
        headers = f"Host: {host}:{port}\r\n"
        if token:
            headers += f"Authorization: Bearer {token}\r\n"
        self._headers = headers.encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()

    async def request(
        self,
        method: bytes,
        path: bytes,
        body: bytes | None = None,
        content_type: bytes = b"application/json",
    ) -> Reply:
        if self._writer is None:
            await self.open()
        reader, writer = self._reader, self._writer
        assert reader is not None
        assert writer is not None
        head = b"%s %s HTTP/1.1\r\n%s" % (method, path, self._headers)
        if body is None:
            writer.write(head + b"\r\n")
        else:
            writer.write(
                b"%sContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                % (head, content_type, len(body))
            )
            writer.write(body)
            await writer.drain()
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
            status, length, close = _parse_head(raw, f"{method.decode()} {path.decode()}")
            content = await reader.readexactly(length) if length else b""
        except asyncio.IncompleteReadError as exc:
            await self.close()
            raise ProtocolError(
                f"{method.decode()} {path.decode()}: the server closed the connection"
            ) from exc
        except ProtocolError:
            await self.close()
            raise
        if close:
            await self.close()
        return Reply(status, content)


def _parse_head(raw: bytes, call: str) -> tuple[int, int, bool]:
    """(status, body length, whether the server closes) from a status line and headers."""
    status_line, _, header_block = raw[:-4].partition(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"{call}: not an HTTP/1.x status line: {status_line[:100]!r}")
    status = int(parts[1])
    length: int | None = None
    close = False
    for line in header_block.split(b"\r\n"):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            raise ProtocolError(
                f"{call} answered with Transfer-Encoding {value.strip().decode()}: this client "
                "reads Content-Length bodies only"
            )
        elif name == b"connection" and b"close" in value.lower():
            close = True
    if length is None:
        if status not in (204, 304) and status >= 200:
            raise ProtocolError(
                f"{call} answered {status} without a Content-Length: this client reads "
                "Content-Length bodies only"
            )
        length = 0
    return status, length, close


async def open_connections(
    host: str, port: int, tokens: Sequence[str]
) -> list[KeepAliveConnection]:
    connections = [KeepAliveConnection(host, port, token) for token in tokens]
    await asyncio.gather(*(c.open() for c in connections))
    return connections


async def close_connections(connections: Sequence[KeepAliveConnection]) -> None:
    await asyncio.gather(*(c.close() for c in connections))


CONNECTION_ERRORS = (ProtocolError, OSError, asyncio.IncompleteReadError, ValueError)


# --- the measured phases --------------------------------------------------------------------------


@dataclass
class Endpoint:
    host: str
    port: int
    pid: int  # the server process, whose CPU time the phases report


class PhaseDisplay:
    """A progress line for a timed phase: elapsed seconds and a live count."""

    def __init__(self, progress: Progress, description: str, seconds: float) -> None:
        self.progress = progress
        self.task = progress.add_task(description, total=seconds, figures="")

    async def follow(self, started: float, count: Callable[[], str]) -> None:
        while True:
            self.progress.update(
                self.task, completed=time.perf_counter() - started, figures=count()
            )
            await asyncio.sleep(0.25)

    def done(self) -> None:
        self.progress.remove_task(self.task)


async def _drive(
    workers: list[Coroutine[Any, Any, None]],
    *,
    seconds: float,
    display: PhaseDisplay,
    count: Callable[[], str],
    refusals: Refusals,
    call: str,
) -> tuple[float, float]:
    """Runs the workers to their end; (started, ended) by perf_counter."""
    started = time.perf_counter()
    follower = asyncio.create_task(display.follow(started, count))
    workers_done = asyncio.gather(*workers)
    # read its outcome even when an interrupt tears the loop down (no "never retrieved" noise)
    workers_done.add_done_callback(lambda done: done.cancelled() or done.exception())
    try:
        await asyncio.wait_for(workers_done, timeout=seconds + STALL_SECONDS)
    except TimeoutError:
        refusals.add(
            call,
            0,
            "no_answer",
            f"calls still unanswered {STALL_SECONDS:.0f}s after the phase's end",
            expected=False,
        )
    finally:
        follower.cancel()
    return started, time.perf_counter()


async def baseline_phase(
    endpoint: Endpoint,
    tokens: Sequence[str],
    *,
    seconds: float,
    refusals: Refusals,
    display: PhaseDisplay,
) -> BaselinePhase:
    """Each annotator loops GET /v1/me for `seconds`."""
    connections = await open_connections(endpoint.host, endpoint.port, tokens)
    latencies: list[float] = []
    deadline = 0.0

    async def annotator(connection: KeepAliveConnection) -> None:
        clock = time.perf_counter
        try:
            while clock() < deadline:
                t0 = clock()
                reply = await connection.request(b"GET", b"/v1/me")
                t1 = clock()
                if not 200 <= reply.status < 300:
                    refusals.add_reply("GET /v1/me", reply)
                    return
                latencies.append(t1 - t0)
        except CONNECTION_ERRORS as exc:
            refusals.add("GET /v1/me", 0, "connection", repr(exc), expected=False)

    try:
        clock = CpuClock(endpoint.pid)
        deadline = time.perf_counter() + seconds
        started, ended = await _drive(
            [annotator(c) for c in connections],
            seconds=seconds,
            display=display,
            count=lambda: f"{len(latencies):,} calls",
            refusals=refusals,
            call="GET /v1/me",
        )
    finally:
        await close_connections(connections)
    return BaselinePhase(len(latencies), ended - started, Spread.of(latencies), clock.used())


@dataclass
class BenchDataset:
    """A funded, open dataset of the benchmark and how many of its items it has labelled."""

    id: int
    size: int
    labelled: int = 0

    @property
    def room(self) -> int:
        return int(self.size * LABELLED_SHARE_CAP) - self.labelled


class PairLoops:
    """The annotators' loops of one pair phase: next-item, then POST /v1/labels for the item it
    served, until the deadline or until the dataset reaches its labelled cap."""

    def __init__(
        self,
        dataset: BenchDataset,
        refusals: Refusals,
        rng: random.Random,
        deadline: float,
        *,
        and_next: bool = False,
    ) -> None:
        self.and_next = and_next
        self.next_path = b"/v1/datasets/%d/next-item" % dataset.id
        self.values = [json.dumps(c).encode() for c in CLASSES]
        self.refusals = refusals
        self.rng = rng
        self.deadline = deadline
        self.room = dataset.room
        self.reserved = 0  # pairs started or done: never more than the room left
        self.next_items: list[float] = []
        self.labels: list[float] = []
        self.pairs: list[float] = []
        self.ended_by: set[str] = set()

    async def annotator(self, connection: KeepAliveConnection) -> None:
        if self.and_next:
            await self.annotator_and_next(connection)
            return
        clock = time.perf_counter
        call = "GET next-item"
        try:
            while clock() < self.deadline:
                if self.reserved >= self.room:
                    self.ended_by.add("60% cap")
                    return
                self.reserved += 1
                call = "GET next-item"
                t0 = clock()
                reply = await connection.request(b"GET", self.next_path)
                t1 = clock()
                if reply.status != 200:
                    self.reserved -= 1
                    code, _ = reply.error()
                    if reply.status == 409 and code == "items_reserved":
                        # what is left is reserved by others for now: a client asks again
                        self.refusals.add_reply(call, reply, expected=True)
                        await asyncio.sleep(0.05)
                        continue
                    empty = reply.status == 404 and code == "queue_empty"
                    self.refusals.add_reply(call, reply, expected=empty)
                    self.ended_by.add("queue_empty" if empty else "errors")
                    return
                item_id = int(_json_loads(reply.body)["item_id"])
                body = b'{"item_id":%d,"value":%s}' % (item_id, self.rng.choice(self.values))
                call = "POST /v1/labels"
                t2 = clock()
                reply = await connection.request(b"POST", b"/v1/labels", body)
                t3 = clock()
                if not 200 <= reply.status < 300:
                    self.reserved -= 1
                    self.refusals.add_reply(call, reply)
                    self.ended_by.add("errors")
                    return
                self.next_items.append(t1 - t0)
                self.labels.append(t3 - t2)
                self.pairs.append(t3 - t0)
        except CONNECTION_ERRORS as exc:
            self.refusals.add(call, 0, "connection", repr(exc), expected=False)
            self.ended_by.add("errors")

    async def serve(self, connection: KeepAliveConnection) -> int | None:
        """GET next-item until it serves an item (None: nothing left, or an error)."""
        while True:
            reply = await connection.request(b"GET", self.next_path)
            if reply.status == 200:
                return int(_json_loads(reply.body)["item_id"])
            code, _ = reply.error()
            if reply.status == 409 and code == "items_reserved":
                self.refusals.add_reply("GET next-item", reply, expected=True)
                await asyncio.sleep(0.05)
                continue
            empty = reply.status == 404 and code == "queue_empty"
            self.refusals.add_reply("GET next-item", reply, expected=empty)
            self.ended_by.add("queue_empty" if empty else "errors")
            return None

    async def annotator_and_next(self, connection: KeepAliveConnection) -> None:
        """Submit and next: after the first next-item, every POST /v1/labels/and-next labels the
        item and returns the next one; each call is a pair (its time is the pair's time)."""
        clock = time.perf_counter
        call = "POST /v1/labels/and-next"
        item_id: int | None = None
        try:
            while clock() < self.deadline:
                if self.reserved >= self.room:
                    self.ended_by.add("60% cap")
                    return
                if item_id is None:
                    item_id = await self.serve(connection)
                    if item_id is None:
                        return
                self.reserved += 1
                body = b'{"item_id":%d,"value":%s}' % (item_id, self.rng.choice(self.values))
                t0 = clock()
                reply = await connection.request(b"POST", b"/v1/labels/and-next", body)
                t1 = clock()
                if not 200 <= reply.status < 300:
                    self.reserved -= 1
                    self.refusals.add_reply(call, reply)
                    self.ended_by.add("errors")
                    return
                self.labels.append(t1 - t0)
                self.pairs.append(t1 - t0)
                answer = _json_loads(reply.body)
                served = answer["next"]
                item_id = None if served is None else int(served["item_id"])
                refusal = answer["next_refusal"]
                if refusal is not None and refusal["code"] == "queue_empty":
                    self.ended_by.add("queue_empty")
                    return
        except CONNECTION_ERRORS as exc:
            self.refusals.add(call, 0, "connection", repr(exc), expected=False)
            self.ended_by.add("errors")


async def pair_phase(
    endpoint: Endpoint,
    tokens: Sequence[str],
    dataset: BenchDataset,
    *,
    seconds: float,
    refusals: Refusals,
    display: PhaseDisplay,
    rng: random.Random,
    and_next: bool = False,
) -> PairPhase:
    """Each annotator loops next-item then POST /v1/labels (or, `and_next`, POST
    /v1/labels/and-next alone) for `seconds`, all of them together stopping once the dataset
    reaches its labelled cap."""
    connections = await open_connections(endpoint.host, endpoint.port, tokens)
    clock = CpuClock(endpoint.pid)
    loops = PairLoops(dataset, refusals, rng, time.perf_counter() + seconds, and_next=and_next)
    try:
        started, ended = await _drive(
            [loops.annotator(c) for c in connections],
            seconds=seconds,
            display=display,
            count=lambda: f"{len(loops.pairs):,} pairs",
            refusals=refusals,
            call="label pair",
        )
    finally:
        await close_connections(connections)
    dataset.labelled += len(loops.pairs)
    ended_by = next(
        (r for r in ("errors", "queue_empty", "60% cap") if r in loops.ended_by), "time"
    )
    return PairPhase(
        dataset_id=dataset.id,
        pairs=len(loops.pairs),
        seconds=ended - started,
        ended_by=ended_by,
        next_item=Spread.of(loops.next_items),
        label=Spread.of(loops.labels),
        pair=Spread.of(loops.pairs),
        cpu=clock.used(),
    )


def memory_kib(pid: int, field_name: str) -> int:
    """VmRSS, VmHWM... of a process from /proc/<pid>/status, in KiB (0 if unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def reset_peak_rss(pid: int) -> bool:
    """Resets the process's VmHWM to its current RSS (Linux 4.0+): whether it could."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class UploadUnderProbe:
    reply: Reply
    seconds: float
    probe: Spread
    probe_before: Spread
    peak_rss_kib: int  # the most VmRSS sampled by the probe


async def upload_under_probe(
    endpoint: Endpoint,
    *,
    buyer_token: str,
    probe_token: str,
    dataset_id: int,
    body: bytes,
    pid: int,
    refusals: Refusals,
) -> UploadUnderProbe:
    """POSTs the JSONL upload while a second connection calls GET /v1/me every ~20 ms."""
    uploader = KeepAliveConnection(endpoint.host, endpoint.port, buyer_token)
    prober = KeepAliveConnection(endpoint.host, endpoint.port, probe_token)
    await asyncio.gather(uploader.open(), prober.open())
    samples: list[tuple[float, float]] = []  # (sent, answered)
    peak_rss = 0
    finished = asyncio.Event()

    async def probe() -> None:
        nonlocal peak_rss
        try:
            while not finished.is_set():
                t0 = time.perf_counter()
                reply = await prober.request(b"GET", b"/v1/me")
                t1 = time.perf_counter()
                if not 200 <= reply.status < 300:
                    refusals.add_reply("probe GET /v1/me", reply)
                    return
                samples.append((t0, t1))
                peak_rss = max(peak_rss, memory_kib(pid, "VmRSS"))
                with suppress(TimeoutError):
                    await asyncio.wait_for(finished.wait(), PROBE_INTERVAL)
        except CONNECTION_ERRORS as exc:
            refusals.add("probe GET /v1/me", 0, "connection", repr(exc), expected=False)

    probing = asyncio.create_task(probe())
    try:
        await asyncio.sleep(PROBE_LEAD)
        started = time.perf_counter()
        reply = await asyncio.wait_for(
            uploader.request(
                b"POST", b"/v1/datasets/%d/items" % dataset_id, body, b"application/x-ndjson"
            ),
            timeout=SETUP_TIMEOUT,
        )
        ended = time.perf_counter()
        finished.set()
        await asyncio.wait_for(probing, timeout=STALL_SECONDS)
    finally:
        probing.cancel()
        await close_connections([uploader, prober])
    during = [t1 - t0 for t0, t1 in samples if t0 < ended and t1 > started]
    before = [t1 - t0 for t0, t1 in samples if t1 <= started]
    return UploadUnderProbe(reply, ended - started, Spread.of(during), Spread.of(before), peak_rss)


# --- the chain, the database and the server -------------------------------------------------------


def _die_with_parent() -> None:
    """In a child: be sent SIGTERM if the benchmark dies (Linux), not orphaned."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Chain:
    client: ChainClient
    deployment: Deployment
    deployment_file: Path
    buyer: LocalAccount

    @property
    def dusd(self) -> Contract:
        return self.client.contract("DevStablecoin", self.deployment.payment_tokens[0].address)

    @property
    def ledger(self) -> Contract:
        return self.client.contract("LabelLedger", self.deployment.ledger)


@contextmanager
def database(kind: str, args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, str]]:
    """(URL, server version) of an empty database for one run; a PostgreSQL database this
    creates is dropped at the end, whatever happens."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench-load.sqlite'}", sqlite3.sqlite_version
        return
    if args.database_url:
        engine = create_engine(args.database_url)
        try:
            with engine.connect() as conn:
                version = str(conn.execute(text("SHOW server_version")).scalar_one())
        finally:
            engine.dispose()
        yield args.database_url, version
        return
    name = f"bench_load_{uuid.uuid4().hex[:12]}"
    admin = create_engine(args.pg_admin_url, isolation_level="AUTOCOMMIT")
    try:
        try:
            with admin.connect() as conn:
                version = str(conn.execute(text("SHOW server_version")).scalar_one())
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except SQLAlchemyError as exc:
            shown = make_url(args.pg_admin_url).render_as_string(hide_password=True)
            raise BenchFailed(
                f"cannot create a database through {shown} ({type(exc).__name__}); pass "
                "--pg-admin-url or --database-url, or --skip-pg"
            ) from exc
        try:
            url = make_url(args.pg_admin_url).set(database=name)
            yield url.render_as_string(hide_password=False), version
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Timeout|Busy)(: .*)?$")


@dataclass
class Server:
    endpoint: Endpoint
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.endpoint.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def exceptions_since(self, offset: int) -> dict[str, int]:
        """The exceptions the server logged after `offset` bytes of its log (the last line of
        each traceback, `module.Error: message`), with how often each came."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                lines = log.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return {}
        seen: dict[str, int] = {}
        for line in lines:
            if EXCEPTION_LINE.match(line.strip()):
                key = line.strip()[:300]
                seen[key] = seen.get(key, 0) + 1
        return dict(sorted(seen.items(), key=lambda kv: -kv[1]))


@contextmanager
def api_server(kind: str, database_url: str, chain: Chain, workdir: Path) -> Iterator[Server]:
    """`label-ledger serve` in its own process on a free port, until the block ends."""
    port = free_port()
    env = {
        **os.environ,
        "LABEL_LEDGER_DATABASE_URL": database_url,
        "LABEL_LEDGER_RPC_URL": chain.client.rpc_url,
        "LABEL_LEDGER_PUBLIC_RPC_URL": chain.client.rpc_url,
        "LABEL_LEDGER_DEPLOYMENT_FILE": str(chain.deployment_file),
        "LABEL_LEDGER_OPERATOR_KEY": DEV_KEYS[0],
        "LABEL_LEDGER_SIWE_DOMAIN": f"127.0.0.1:{port}",
        "LABEL_LEDGER_SIWE_URI": f"http://127.0.0.1:{port}",
        "LABEL_LEDGER_MIRROR_POLL_SECONDS": "0.2",
        "LABEL_LEDGER_SETTLE_EVERY_SECONDS": "0",
        "LABEL_LEDGER_PUBLISH_DIR": str(workdir / f"published-{kind}"),
        "COLUMNS": "200",
    }
    cli = str(Path(sys.executable).parent / "label-ledger")
    # `serve` needs its database at the schema's head and runs the API only (issue 15): the
    # database is upgraded first, and the chain mirror (which sees the datasets funded) runs
    # beside it as `worker --jobs mirror`, as an operator runs them.
    upgraded = subprocess.run(
        [cli, "db", "upgrade"], env=env, cwd=workdir, capture_output=True, check=False
    )
    if upgraded.returncode != 0:
        raise BenchFailed(f"label-ledger db upgrade failed: {upgraded.stdout.decode()[-500:]}")
    command = [cli, "serve", "--port", str(port)]
    log_path = workdir / f"server-{kind}.log"
    with log_path.open("wb") as log, (workdir / f"worker-{kind}.log").open("wb") as worker_log:
        # started while no thread of ours runs (progress displays come later): preexec_fn is safe
        process = subprocess.Popen(
            command,
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
        worker = subprocess.Popen(
            [cli, "worker", "--jobs", "mirror"],
            env=env,
            cwd=workdir,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
    server = Server(Endpoint("127.0.0.1", port, process.pid), f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = time.monotonic() + OPEN_TIMEOUT
        while True:
            if process.poll() is not None:
                raise BenchFailed(f"label-ledger serve exited with code {process.returncode}")
            try:
                if httpx.get(f"{server.url}/v1/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise BenchFailed(f"the API did not answer /v1/health within {OPEN_TIMEOUT:.0f}s")
            time.sleep(0.1)
        yield server
    except Exception:
        console.print(f"[dim]last lines of the {kind} server's log:[/]\n{server.log_tail()}")
        raise
    finally:
        for running in (process, worker):
            running.send_signal(signal.SIGTERM)
        for running in (process, worker):
            try:
                running.wait(timeout=30)
            except subprocess.TimeoutExpired:
                running.kill()
                running.wait()


# --- setup through the API, as a user -------------------------------------------------------------


def item_record(n: int) -> tuple[str, dict[str, str]]:
    external_id = f"i-{n:07d}"
    return external_id, {"url": f"https://example.org/{external_id}.jpg"}


def jsonl_items(first: int, count: int) -> bytes:
    lines = []
    for n in range(first, first + count):
        external_id, data = item_record(n)
        lines.append(json.dumps({"id": external_id, "data": data}))
    return ("\n".join(lines) + "\n").encode()


def signed_in(user: ApiUser, role: str) -> ApiUser:
    """`ApiUser.sign_in`, but with a message valid for SESSION_HOURS: a session lasts no longer
    than its message (ApiUser's default is 10 minutes) and a run may take far longer."""
    message = user.sign_in_message(lifetime=dt.timedelta(hours=SESSION_HOURS))
    session = user.post(
        "/v1/auth/session", json={"message": message, "signature": user.sign(message)}
    )
    user.token = session["access_token"]
    user.post("/v1/me/roles", json={"role": role})
    return user


class Workbench:
    """One running server with its signed-in users, its datasets and its setup log."""

    def __init__(
        self,
        run: DatabaseRun,
        server: Server,
        chain: Chain,
        http: httpx.Client,
        progress: Progress,
    ) -> None:
        self.run = run
        self.server = server
        self.chain = chain
        self.http = http
        self.progress = progress
        self.buyer = ApiUser(http, chain.buyer)
        self.annotator_tokens: list[str] = []
        self.datasets: dict[int, BenchDataset] = {}  # the one in use per size
        self.fastest_pairs_per_second: float | None = None  # of the rounds measured so far

    @contextmanager
    def timed(self, what: str, items: int = 0) -> Iterator[None]:
        """Notes how long a setup step took, in the figures (not when it fails)."""
        started = time.perf_counter()
        yield
        self.run.setup.append(SetupStep(what, time.perf_counter() - started, items))

    def sign_in(self, wallets: Sequence[LocalAccount]) -> None:
        with self.timed(f"sign in a buyer and {len(wallets)} annotators"):
            signed_in(self.buyer, "buyer")
            task = self.progress.add_task("signing in annotators", total=len(wallets), figures="")
            for wallet in wallets:
                user = signed_in(ApiUser(self.http, wallet), "annotator")
                assert user.token is not None
                self.annotator_tokens.append(user.token)
                self.progress.advance(task)
            self.progress.remove_task(task)

    def create_dataset(self, name: str) -> int:
        created = self.buyer.post(
            "/v1/datasets",
            json={
                "name": name,
                "label_classes": list(CLASSES),
                "payment_token": self.chain.dusd.address,
                "price_per_label": PRICE,
                "reward_per_label": REWARD,
            },
        )
        return int(created["id"])

    def upload(self, dataset_id: int, body: bytes, count: int) -> None:
        answer = self.buyer.post(
            f"/v1/datasets/{dataset_id}/items",
            content=body,
            headers={"Content-Type": "application/x-ndjson"},
        )
        if answer.get("created") != count:
            raise BenchFailed(f"uploaded {count} items, the API says {answer}")

    def fund(self, dataset_id: int, items: int) -> None:
        """Mint, approve and createAndFund for every item (fee included), then wait for open."""
        path = f"/v1/datasets/{dataset_id}"
        on_chain = self.buyer.get(path)["chain"]
        needed = items * PRICE
        amount = needed + -(-needed * int(on_chain.get("fee_bps") or 0) // 10_000)
        wallet, dusd, ledger = self.chain.buyer, self.chain.dusd, self.chain.ledger
        self.chain.client.transact(dusd.functions.mint(wallet.address, amount), wallet)
        self.chain.client.transact(dusd.functions.approve(ledger.address, amount), wallet)
        self.chain.client.transact(
            ledger.functions.createAndFund(
                HexBytes(on_chain["salt"]), on_chain["token_index"], amount
            ),
            wallet,
        )
        deadline = time.monotonic() + OPEN_TIMEOUT
        while self.buyer.get(path)["status"] != "open":
            if time.monotonic() > deadline:
                raise BenchFailed(
                    f"dataset {dataset_id} not open {OPEN_TIMEOUT:.0f}s after funding"
                )
            time.sleep(0.1)

    def new_dataset(self, size: int) -> BenchDataset:
        """A dataset of `size` items, uploaded in uploads of at most 100,000, funded, open."""
        dataset_id = self.create_dataset(f"bench-load {size:,} items")
        task = self.progress.add_task(
            f"{self.run.name}: uploading {size:,} items to dataset {dataset_id}",
            total=size,
            figures="",
        )
        for first in range(0, size, MAX_ITEMS_PER_UPLOAD):
            count = min(MAX_ITEMS_PER_UPLOAD, size - first)
            body = jsonl_items(first, count)
            with self.timed(f"upload {count:,} items to dataset {dataset_id}", count):
                self.upload(dataset_id, body, count)
            self.progress.update(task, advance=count, figures=f"{first + count:,}/{size:,}")
        self.progress.remove_task(task)
        with self.timed(f"fund dataset {dataset_id} and wait until open"):
            self.fund(dataset_id, size)
        console.print(f"  dataset {dataset_id}: {size:,} items, funded and open")
        return BenchDataset(dataset_id, size)

    def dataset_with_room(self, size: int, seconds: float) -> BenchDataset:
        """The size's current dataset, or a fresh one when it may not last a repeat."""
        rate = self.fastest_pairs_per_second or PAIR_RATE_GUESS
        need = int(rate * (seconds + WARM_UP_SECONDS) * ROOM_MARGIN)
        current = self.datasets.get(size)
        if current is None or current.room < need:
            current = self.new_dataset(size)
            self.datasets[size] = current
        return current


# --- the rounds -----------------------------------------------------------------------------------


T = TypeVar("T")


def run_phase(
    bench: Workbench,
    description: str,
    seconds: float,
    phase: Callable[..., Coroutine[Any, Any, T]],
) -> T:
    """One timed phase (`phase(display=...)`) on a fresh event loop, shown as a progress line
    while it runs."""
    display = PhaseDisplay(bench.progress, description, seconds)
    try:
        return asyncio.run(phase(display=display))
    finally:
        display.done()


def load_round(bench: Workbench, size: int, annotators: int, args: argparse.Namespace) -> LoadRound:
    """Warm-up, then `args.repeat` times the baseline and the label pairs, interleaved."""
    measured = LoadRound(bench.run.name, size, annotators)
    tokens = bench.annotator_tokens[:annotators]
    endpoint = bench.server.endpoint
    rng = random.Random(f"{bench.run.name} {size} {annotators}")  # noqa: S311 (label values)
    where = f"{bench.run.name} {size:,} items x {annotators}"
    log_offset = bench.server.log_size()
    for repeat in range(args.repeat):
        dataset = bench.dataset_with_room(size, args.seconds)
        if repeat == 0:
            warm_up, half = Refusals(), WARM_UP_SECONDS / 2
            run_phase(
                bench,
                f"{where}: warm-up GET /v1/me",
                half,
                partial(baseline_phase, endpoint, tokens, seconds=half, refusals=warm_up),
            )
            run_phase(
                bench,
                f"{where}: warm-up label pairs",
                half,
                partial(
                    pair_phase, endpoint, tokens, dataset, seconds=half, refusals=warm_up, rng=rng
                ),
            )
            measured.refusals.merge(warm_up, "warm-up")
        label = f"{where}: repeat {repeat + 1}/{args.repeat}"
        baseline = run_phase(
            bench,
            f"{label} baseline GET /v1/me",
            args.seconds,
            partial(
                baseline_phase, endpoint, tokens, seconds=args.seconds, refusals=measured.refusals
            ),
        )
        pairs = run_phase(
            bench,
            f"{label} label pairs",
            args.seconds,
            partial(
                pair_phase,
                endpoint,
                tokens,
                dataset,
                seconds=args.seconds,
                refusals=measured.refusals,
                rng=rng,
            ),
        )
        measured.baselines.append(baseline)
        measured.pairs.append(pairs)
        if pairs.ended_by != "errors":
            fastest = max(bench.fastest_pairs_per_second or 0.0, pairs.per_second)
            bench.fastest_pairs_per_second = fastest
        dataset = bench.dataset_with_room(size, args.seconds)
        and_next = run_phase(
            bench,
            f"{label} submit and next",
            args.seconds,
            partial(
                pair_phase,
                endpoint,
                tokens,
                dataset,
                seconds=args.seconds,
                refusals=measured.refusals,
                rng=rng,
                and_next=True,
            ),
        )
        measured.and_next.append(and_next)
        if and_next.ended_by != "errors":
            fastest = max(bench.fastest_pairs_per_second or 0.0, and_next.per_second)
            bench.fastest_pairs_per_second = fastest
        print_repeat(label, baseline, pairs, and_next)
    if not measured.refusals.ok:
        measured.server_exceptions = bench.server.exceptions_since(log_offset)
        print_failures(measured.refusals, measured.server_exceptions)
    return measured


def print_repeat(
    label: str, baseline: BaselinePhase, pairs: PairPhase, and_next: PairPhase
) -> None:
    early = "" if pairs.ended_by == "time" else f", ended early: {pairs.ended_by}"
    client_cpu = (baseline.cpu.client + pairs.cpu.client) / (baseline.seconds + pairs.seconds)
    console.print(
        f"  {label}: /me {baseline.per_second:,.0f}/s p50 {_shown(baseline.me.p50, '.1f')} ms "
        f"(server CPU {_per_call_ms(baseline.cpu.server, baseline.requests)} ms/call); "
        f"{pairs.pairs:,} pairs in {pairs.seconds:.1f}s = {pairs.per_second:,.0f}/s, pair p50 "
        f"{_shown(pairs.pair.p50, '.1f')} ms (server CPU "
        f"{_per_call_ms(pairs.cpu.server, pairs.pairs)} ms/pair; dataset {pairs.dataset_id}"
        f"{early}); this client used {client_cpu:.0%} of a core; submit and next: "
        f"{and_next.pairs:,} in {and_next.seconds:.1f}s = {and_next.per_second:,.0f}/s, p50 "
        f"{_shown(and_next.pair.p50, '.1f')} ms (server CPU "
        f"{_per_call_ms(and_next.cpu.server, and_next.pairs)} ms/pair)"
    )


def print_failures(refusals: Refusals, server_exceptions: dict[str, int]) -> None:
    for key in refusals.unexpected:
        console.print(f"  [red]{key}[/] x{refusals.counts[key]}: {refusals.messages[key]}")
    for line, count in list(server_exceptions.items())[:5]:
        console.print(f"  [red]the server logged[/] x{count}: {line}")


def _per_call_ms(cpu: float, calls: int) -> str:
    return f"{cpu / calls * 1000:.1f}" if calls else "-"


ITEMS = cast(sqlalchemy.Table, Item.__table__)  # `insert(Item.__table__)`, typed
DATASETS = cast(sqlalchemy.Table, Dataset.__table__)
PER_ITEM_COLUMNS = ("dataset_id", "external_id", "sealed_data", "item_hash", "gold_label")


def stored_item_template(engine: sqlalchemy.Engine, dataset_id: int) -> dict[str, Any]:
    """Every column of the one item the service stored in `dataset_id`, as Core reads it."""
    with engine.connect() as conn:
        row = conn.execute(select(ITEMS).where(ITEMS.c.dataset_id == dataset_id)).mappings().one()
    return dict(row)


def dataset_key(engine: sqlalchemy.Engine, dataset_id: int) -> str:
    """The dataset's `item_key`, which item hashes are salted with."""
    with engine.connect() as conn:
        query = select(DATASETS.c.item_key).where(DATASETS.c.id == dataset_id)
        return str(conn.execute(query).scalar_one())


def bare_rows(
    template: dict[str, Any],
    dataset_id: int,
    item_key: str,
    count: int,
    seal: Callable[[str, bytes], bytes] | None = None,
) -> list[dict[str, Any]]:
    """The rows the service would store for items 0..count-1 of the benchmark in `dataset_id`:
    each item's data sealed by `seal(external id, JSON)` (the service's cipher, under a key of
    the benchmark's own), or plain without it."""
    shared = {
        column.key: template[column.key]
        for column in ITEMS.columns
        if not column.primary_key and column.key not in PER_ITEM_COLUMNS
    }
    rows = []
    for n in range(count):
        external_id, data = item_record(n)
        rows.append(
            {
                **shared,
                "dataset_id": dataset_id,
                "external_id": external_id,
                "sealed_data": (
                    seal(external_id, orjson.dumps(data)) if seal else json.dumps(data).encode()
                ),
                "item_hash": item_id_hash(item_key, external_id),
                "gold_label": None,
            }
        )
    return rows


def ingest_round(bench: Workbench, items: int) -> IngestRound:  # noqa: PLR0915
    server, run = bench.server, bench.run
    refusals = Refusals()
    log_offset = server.log_size()
    probe_dataset = bench.create_dataset("bench-load ingest: one probe item")
    bench.upload(probe_dataset, jsonl_items(0, 1), 1)
    bare_dataset = bench.create_dataset(f"bench-load ingest: bare executemany of {items:,}")
    engine = make_engine(run.url)
    try:
        template = stored_item_template(engine, probe_dataset)
        [probe_row] = bare_rows(template, probe_dataset, dataset_key(engine, probe_dataset), 1)
        # The service seals each item's data under its dataset's key (a fresh nonce each time),
        # the bare rows hold it plain: the baseline is the database's own cost, and the gap to
        # it includes the sealing. The sealed column is checked to be sealed, not plain.
        differ = {
            k: (template[k], v)
            for k, v in probe_row.items()
            if template[k] != v and k != "sealed_data"
        }
        sealed, plain = template["sealed_data"], probe_row["sealed_data"]
        if plain in sealed or len(sealed) <= len(plain):
            differ["sealed_data"] = (sealed, plain)
        if differ:
            raise BenchFailed(
                f"the service stored an item unlike the bare rows, (stored, bare) per column: "
                f"{differ}; update bare_rows()"
            )
        item_key = dataset_key(engine, bare_dataset)
        task = bench.progress.add_task(
            f"{run.name}: bare executemany of {items:,} items", total=None, figures=""
        )
        # The least any service keeping these items sealed must do: seal each item's data (the
        # same AES-256-GCM, under a data key of the benchmark's own, unwrapped once as the
        # service's upload does) and insert the rows in one executemany.
        vault = MediaVault(LocalBlobStore(Path(tempfile.mkdtemp())), MasterKey.generate())
        seal = vault.item_sealer(bare_dataset, wrapped_key=vault.wrap_new_dataset_key(bare_dataset))
        started = time.perf_counter()
        rows = bare_rows(template, bare_dataset, item_key, items, seal)
        with engine.begin() as conn:
            conn.execute(insert(ITEMS), rows)
        bare_seconds = time.perf_counter() - started
        bench.progress.remove_task(task)
        with engine.connect() as conn:
            stored = conn.execute(
                select(func.count()).select_from(ITEMS).where(ITEMS.c.dataset_id == bare_dataset)
            ).scalar_one()
        if stored != items:
            raise BenchFailed(f"the bare executemany stored {stored} of {items} rows")
    finally:
        engine.dispose()
    del rows

    upload_dataset = bench.create_dataset(f"bench-load ingest: upload of {items:,}")
    body = jsonl_items(0, items)
    pid = server.pid
    rss_before = memory_kib(pid, "VmRSS")
    peak_reset = reset_peak_rss(pid)
    task = bench.progress.add_task(
        f"{run.name}: uploading {items:,} items ({len(body) / 2**20:.1f} MiB JSONL) under probe",
        total=None,
        figures="",
    )
    try:
        uploaded = asyncio.run(
            upload_under_probe(
                server.endpoint,
                buyer_token=str(bench.buyer.token),
                probe_token=bench.annotator_tokens[0],
                dataset_id=upload_dataset,
                body=body,
                pid=pid,
                refusals=refusals,
            )
        )
    finally:
        bench.progress.remove_task(task)
    peak_kib = max(uploaded.peak_rss_kib, memory_kib(pid, "VmHWM") if peak_reset else 0)
    if not 200 <= uploaded.reply.status < 300:
        refusals.add_reply("POST items", uploaded.reply)
    elif _json_loads(uploaded.reply.body).get("created") != items:
        raise BenchFailed(f"the upload answered {uploaded.reply.body[:300]!r}")
    copied = {key: repr(value) for key, value in template.items() if key not in PER_ITEM_COLUMNS}
    copied.pop("id", None)
    return IngestRound(
        items=items,
        body_bytes=len(body),
        bare_seconds=bare_seconds,
        upload_seconds=uploaded.seconds,
        rss_before_mib=rss_before / 1024,
        rss_peak_mib=peak_kib / 1024,
        rss_after_mib=memory_kib(pid, "VmRSS") / 1024,
        peak_from="VmHWM after clear_refs" if peak_reset else "sampled VmRSS",
        probe=uploaded.probe,
        probe_before=uploaded.probe_before,
        copied_columns=copied,
        refusals=refusals,
        server_exceptions={} if refusals.ok else server.exceptions_since(log_offset),
    )


def annotator_wallets(count: int) -> list[LocalAccount]:
    """Fixed keys, the same every run; they never hold ETH or send a transaction."""
    return [account_from_key(keccak(text=f"bench-load annotator {i}").hex()) for i in range(count)]


def run_database(kind: str, chain: Chain, args: argparse.Namespace, workdir: Path) -> DatabaseRun:
    started = time.perf_counter()
    with (
        database(kind, args, workdir) as (url, version),
        api_server(kind, url, chain, workdir) as server,
        httpx.Client(base_url=server.url, timeout=SETUP_TIMEOUT) as http,
    ):
        run = DatabaseRun(kind, version, make_url(url).render_as_string(hide_password=True))
        console.print(
            f"[bold]{kind}[/] {version}: label-ledger serve at {server.url} (pid {server.pid}) "
            f"on {run.url}"
        )
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[figures]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            refresh_per_second=4,
        ) as progress:
            bench = Workbench(run, server, chain, http, progress)
            try:
                bench.sign_in(annotator_wallets(max(args.annotators)))
                if args.ingest_items:
                    run.ingest = ingest_round(bench, args.ingest_items)
                    print_ingest(run.ingest, kind)
                for size in args.sizes:
                    for annotators in args.annotators:
                        run.rounds.append(load_round(bench, size, annotators, args))
            except ApiError as exc:
                raise BenchFailed(f"the API refused a setup step: {exc}") from exc
    run.seconds = time.perf_counter() - started
    return run


# --- the report -----------------------------------------------------------------------------------


def machine_info(runs: Sequence[DatabaseRun]) -> dict[str, Any]:
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
        "sqlalchemy": sqlalchemy.__version__,
        "databases": {run.name: run.version for run in runs},
    }


def _shown(value: float, spec: str, suffix: str = "") -> str:
    """A figure as text, or "-" where nothing was measured."""
    return f"{value:{spec}}{suffix}" if math.isfinite(value) else "-"


def _ms3(read: Callable[[str], float]) -> str:
    return " / ".join(_shown(read(q), ".1f") for q in ("p50", "p95", "p99"))


def print_database(run: DatabaseRun, args: argparse.Namespace) -> None:
    table = Table(
        title=f"{run.name} {run.version}: label pairs against GET /v1/me, medians of "
        f"{args.repeat} interleaved repeats of {args.seconds:g}s (latencies in ms: "
        "p50 / p95 / p99)"
    )
    columns = (
        "items", "annotators", "/me req/s", "/me ms", "pairs/s", "x baseline",
        "next-item ms", "label ms", "pair p50", "and-next/s", "x baseline", "and-next ms",
        "pairs done", "non-2xx",
    )  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    for measured in run.rounds:
        done = ", ".join(
            f"{p.pairs:,} in {p.seconds:.1f}s"
            + ("" if p.ended_by == "time" else f" ({p.ended_by})")
            for p in measured.pairs
        )
        table.add_row(
            f"{measured.size:,}",
            str(measured.annotators),
            f"{measured.baseline_per_second:,.0f}",
            _ms3(measured.me),
            f"{measured.pairs_per_second:,.0f}",
            _shown(measured.ratio, ".2f", "x"),
            _ms3(measured.next_item),
            _ms3(measured.label),
            _shown(measured.pair("p50"), ".1f"),
            f"{measured.and_next_per_second:,.0f}",
            _shown(measured.and_next_ratio, ".2f", "x"),
            _ms3(measured.and_next_call),
            done,
            measured.refusals.short()
            if measured.refusals.ok
            else f"[red]{measured.refusals.short()}[/]",
        )
    console.print(table)


def print_ingest(ingest: IngestRound, name: str) -> None:
    console.print(
        f"  ingest ({name}): {ingest.items:,} items, bare executemany {ingest.bare_seconds:.2f}s, "
        f"HTTP upload ({ingest.body_bytes / 2**20:.1f} MiB JSONL) {ingest.upload_seconds:.2f}s "
        f"= {ingest.ratio:.2f}x; server RSS {ingest.rss_before_mib:.0f} -> peak "
        f"{ingest.rss_peak_mib:.0f} MiB (+{ingest.rss_growth_mib:.0f}, {ingest.peak_from}), "
        f"after {ingest.rss_after_mib:.0f} MiB; probe GET /v1/me during the upload: "
        f"{ingest.probe.count} calls, p99 {ingest.probe.p99:.1f} ms, max {ingest.probe.max:.1f} ms "
        f"(before it: p50 {ingest.probe_before.p50:.1f} ms)"
    )
    if not ingest.refusals.ok:
        print_failures(ingest.refusals, ingest.server_exceptions)


@dataclass
class GoalCheck:
    goal: str
    scope: str
    verdict: str  # PASS, FAIL, SKIP or INFO (a figure shown beside a goal)
    figures: str


def _size_name(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1000 and size % 1000 == 0:
        return f"{size // 1000}k"
    return f"{size:,}"


def _failed(measured: LoadRound) -> str:
    return "" if measured.refusals.ok else " (the round failed: its figures do not count)"


def evaluate(runs: Sequence[DatabaseRun], args: argparse.Namespace) -> list[GoalCheck]:
    checks: list[GoalCheck] = []

    def verdict(passed: bool) -> str:
        return "PASS" if passed else "FAIL"

    for run in runs:
        bad = [r for r in run.rounds if not r.refusals.ok]
        checks.append(
            GoalCheck(
                "every call answered 2xx (next-item's queue_empty aside)",
                run.name,
                verdict(not bad and (run.ingest is None or run.ingest.refusals.ok)),
                "; ".join(
                    f"{_size_name(r.size)} x {r.annotators}: {', '.join(r.refusals.unexpected)}"
                    for r in bad
                )
                or f"{len(run.rounds)} rounds clean",
            )
        )
    for run in runs:
        for annotators in args.annotators:
            rounds = [r for r in run.rounds if r.annotators == annotators]
            if not rounds:
                continue
            checks.append(
                GoalCheck(
                    f"1. label pairs/s (submit-and-next) >= {GOAL_PAIR_RATIO:g}x baseline req/s",
                    f"{run.name}, {annotators} annotators",
                    verdict(
                        all(r.refusals.ok and r.and_next_ratio >= GOAL_PAIR_RATIO for r in rounds)
                    ),
                    ", ".join(
                        f"{_size_name(r.size)}: {r.and_next_per_second:,.0f} pairs/s vs "
                        f"{r.baseline_per_second:,.0f} req/s = "
                        f"{_shown(r.and_next_ratio, '.2f', 'x')}" + _failed(r)
                        for r in rounds
                    ),
                )
            )
            checks.append(
                GoalCheck(
                    "1, as two calls (next-item, then POST /v1/labels; shown, not the goal)",
                    f"{run.name}, {annotators} annotators",
                    "INFO",
                    ", ".join(
                        f"{_size_name(r.size)}: {r.pairs_per_second:,.0f} pairs/s vs "
                        f"{r.baseline_per_second:,.0f} req/s = {_shown(r.ratio, '.2f', 'x')}"
                        + _failed(r)
                        for r in rounds
                    ),
                )
            )
    for run in runs:
        for annotators in args.annotators:
            rounds = sorted(
                (r for r in run.rounds if r.annotators == annotators), key=lambda r: r.size
            )
            goal = f"2. pair p50 grows <= {GOAL_P50_GROWTH:g}x from the smallest to largest size"
            scope = f"{run.name}, {annotators} annotators"
            if len(rounds) < 2:
                checks.append(GoalCheck(goal, scope, "SKIP", "needs two sizes (--sizes)"))
                continue
            small, large = rounds[0], rounds[-1]
            growth = large.pair("p50") / small.pair("p50")
            checks.append(
                GoalCheck(
                    goal,
                    scope,
                    verdict(small.refusals.ok and large.refusals.ok and growth <= GOAL_P50_GROWTH),
                    f"pair p50 (total of next-item + label per pair) "
                    f"{_size_name(small.size)}: {_shown(small.pair('p50'), '.1f', ' ms')}"
                    f"{_failed(small)}, {_size_name(large.size)}: "
                    f"{_shown(large.pair('p50'), '.1f', ' ms')}{_failed(large)} = "
                    f"{_shown(growth, '.2f', 'x')}",
                )
            )
    for run in runs:
        goal = f"3. label p99 <= {GOAL_LABEL_TAIL:g}x its p50 at {GOAL_TAIL_ANNOTATORS} annotators"
        rounds = [r for r in run.rounds if r.annotators == GOAL_TAIL_ANNOTATORS]
        if not rounds:
            checks.append(
                GoalCheck(goal, run.name, "SKIP", f"no round with {GOAL_TAIL_ANNOTATORS}")
            )
            continue
        tails = {r.size: r.label("p99") / r.label("p50") for r in rounds}
        checks.append(
            GoalCheck(
                goal,
                run.name,
                verdict(all(r.refusals.ok and tails[r.size] <= GOAL_LABEL_TAIL for r in rounds)),
                ", ".join(
                    f"{_size_name(r.size)}: p99 {_shown(r.label('p99'), '.1f')} / p50 "
                    f"{_shown(r.label('p50'), '.1f')} ms = {_shown(tails[r.size], '.2f', 'x')}"
                    + _failed(r)
                    for r in rounds
                ),
            )
        )
    for run in runs:
        ingest = run.ingest
        if ingest is None:
            continue
        scope = f"{run.name}, {ingest.items:,} items"
        checks += [
            GoalCheck(
                f"4a. upload <= {GOAL_INGEST_RATIO:g}x a bare executemany",
                scope,
                verdict(ingest.refusals.ok and ingest.ratio <= GOAL_INGEST_RATIO),
                f"upload {ingest.upload_seconds:.2f}s, bare {ingest.bare_seconds:.2f}s = "
                f"{ingest.ratio:.2f}x",
            ),
            GoalCheck(
                f"4b. server RSS grows <= {GOAL_INGEST_RSS_MB:g} MB during the upload",
                scope,
                verdict(ingest.rss_growth_mib * 2**20 <= GOAL_INGEST_RSS_MB * 10**6),
                f"{ingest.rss_before_mib:.0f} -> {ingest.rss_peak_mib:.0f} MiB = "
                f"+{ingest.rss_growth_mib * 2**20 / 10**6:.0f} MB ({ingest.peak_from})",
            ),
            GoalCheck(
                f"4c. no request waits > {GOAL_PROBE_MAX_MS:g} ms during the upload",
                scope,
                verdict(ingest.probe.max <= GOAL_PROBE_MAX_MS and ingest.refusals.ok),
                f"probe GET /v1/me every ~{PROBE_INTERVAL * 1000:.0f} ms: {ingest.probe.count} "
                f"calls, max {_shown(ingest.probe.max, '.1f')} ms, p99 "
                f"{_shown(ingest.probe.p99, '.1f')} ms",
            ),
        ]
    return checks


def print_goals(checks: Sequence[GoalCheck]) -> None:
    colour = {"PASS": "bold green", "FAIL": "bold red", "SKIP": "yellow", "INFO": "cyan"}
    for check in checks:
        console.print(
            f"[{colour[check.verdict]}]{check.verdict}[/] {check.goal} ({check.scope}): "
            f"{check.figures}"
        )


def _finite(value: Any) -> Any:
    """JSON has no NaN: a figure nothing was measured for is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_json(
    path: Path,
    runs: Sequence[DatabaseRun],
    checks: Sequence[GoalCheck],
    args: argparse.Namespace,
    seconds: float,
) -> None:
    figures = {
        "benchmark": "bench_load",
        "machine": machine_info(runs),
        "settings": {
            "sizes": args.sizes,
            "annotators": args.annotators,
            "seconds": args.seconds,
            "repeat": args.repeat,
            "warm_up_seconds": WARM_UP_SECONDS,
            "labelled_share_cap": LABELLED_SHARE_CAP,
            "ingest_items": args.ingest_items,
            "probe_interval_seconds": PROBE_INTERVAL,
            "price_per_label": PRICE,
            "reward_per_label": REWARD,
        },
        "databases": {
            run.name: {
                "version": run.version,
                "url": run.url,
                "seconds": run.seconds,
                "setup": [asdict(step) for step in run.setup],
                "ingest": run.ingest.figures() if run.ingest else None,
                "rounds": [r.figures() for r in run.rounds],
            }
            for run in runs
        },
        "goals": [asdict(check) for check in checks],
        "passed": all(check.verdict != "FAIL" for check in checks),
        "seconds": seconds,
    }
    path.write_text(json.dumps(_finite(figures), indent=2) + "\n")
    console.print(f"figures written to {path}")


# --- the command ----------------------------------------------------------------------------------


def _counts(text_value: str) -> list[int]:
    """ "5000,100k,1M" -> [5000, 100000, 1000000]."""
    counts = []
    for part in text_value.split(","):
        word = part.strip().lower().replace("_", "")
        scale = {"k": 1_000, "m": 1_000_000}.get(word[-1:], 1)
        try:
            value = int(word[:-1] if scale > 1 else word) * scale
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not a count") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{part!r}: counts are at least 1")
        counts.append(value)
    return counts


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n", 1)[0]
        + " What is measured, how, and how long it takes: the docstring of scripts/bench_load.py."
    )
    parser.add_argument(
        "--sizes", type=_counts, default=[5_000, 100_000, 1_000_000], help="items per dataset"
    )
    parser.add_argument(
        "--annotators", type=_counts, default=[30, 100], help="concurrent annotators per round"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved repeats per round")
    parser.add_argument(
        "--ingest-items",
        type=int,
        default=100_000,
        help="items of the ingest round (0: skip it; at most 100,000, one upload)",
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument(
        "--pg-admin-url",
        default=DEFAULT_PG_ADMIN_URL,
        help="PostgreSQL connection that creates (and drops) a fresh bench_load_* database",
    )
    parser.add_argument(
        "--database-url",
        help="an empty PostgreSQL database to use instead of creating one (it is not dropped)",
    )
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--enforce", action="store_true", help="exit 1 when a goal fails")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.seconds <= 0:
        parser.error("--repeat must be at least 1 and --seconds positive")
    if not 0 <= args.ingest_items <= MAX_ITEMS_PER_UPLOAD:
        parser.error(f"--ingest-items must be between 0 and {MAX_ITEMS_PER_UPLOAD:,}")
    if args.skip_sqlite and args.skip_pg:
        parser.error("--skip-sqlite and --skip-pg leave nothing to measure")
    args.sizes = sorted(set(args.sizes))
    args.annotators = sorted(set(args.annotators))
    return args


def _interrupt(_signum: int, _frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # a kill still drops the PostgreSQL database
    started = time.perf_counter()
    kinds = [
        kind
        for kind, skipped in (("sqlite", args.skip_sqlite), ("postgresql", args.skip_pg))
        if not skipped
    ]
    runs: list[DatabaseRun] = []
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-load-") as tmp,
            Anvil(log_path=Path(tmp) / "anvil.log") as anvil,
        ):
            workdir = Path(tmp)
            client = ChainClient(anvil.rpc_url)
            with console.status("deploying the ledger on a fresh Anvil..."):
                deployment = deploy_all(client, account_from_key(DEV_KEYS[0]), with_dev_token=True)
            deployment_file = workdir / "deployment.json"
            deployment.save(deployment_file)
            # the buyer pays gas and dUSD: Anvil's second dev account, topped up to be sure
            buyer = account_from_key(DEV_KEYS[1])
            client.w3.provider.make_request(
                RPCEndpoint("anvil_setBalance"), [buyer.address, hex(10**24)]
            )
            chain = Chain(client, deployment, deployment_file, buyer)
            console.print(
                f"chain: Anvil at {anvil.rpc_url}, LabelLedger at {deployment.ledger}; "
                f"sizes {', '.join(_size_name(s) for s in args.sizes)}, annotators "
                f"{', '.join(map(str, args.annotators))}, {args.repeat} x {args.seconds:g}s"
            )
            for kind in kinds:
                run = run_database(kind, chain, args, workdir)
                runs.append(run)
                print_database(run, args)
                console.print(f"{kind}: {run.seconds / 60:.1f} minutes")
    except BenchFailed as exc:
        console.print(f"[red]the benchmark could not run[/]: {exc}")
        return 2
    except LedgerError as exc:  # no Anvil, no compiled contracts, the chain gone
        console.print(f"[red]the benchmark could not run[/] ({exc.code}): {exc.message}")
        return 2
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        return 130
    seconds = time.perf_counter() - started
    console.print()
    info = machine_info(runs)
    console.print(
        f"[bold]goals[/] on {info['cores']} cores ({info['cpu']}), Python {info['python']}, "
        f"SQLAlchemy {info['sqlalchemy']}; "
        + ", ".join(f"{r.name} {r.version}" for r in runs)
        + f"; the whole run took {seconds / 60:.1f} minutes"
    )
    checks = evaluate(runs, args)
    print_goals(checks)
    if args.json:
        write_json(args.json, runs, checks, args, seconds)
    failed = any(check.verdict == "FAIL" for check in checks)
    return 1 if args.enforce and failed else 0


if __name__ == "__main__":
    sys.exit(main())
