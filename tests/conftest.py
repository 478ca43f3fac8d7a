"""Real parts for every test: one Anvil process with our compiled contracts deployed, and a
fresh database per test on SQLite and on PostgreSQL.

Set LABEL_LEDGER_TEST_PG=0 to skip PostgreSQL locally (CI never does); LABEL_LEDGER_TEST_PG_URL
points at another server.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import create_engine
from sqlalchemy.schema import CreateSchema, DropSchema

from api.app import create_app
from ledger.chain.client import ChainClient, Deployment, account_from_key
from ledger.chain.deploy import deploy_all
from ledger.chain.devnode import DEV_KEYS, Anvil, free_port
from ledger.jobs import start_background
from ledger.kit.config import Settings
from ledger.kit.db import Database
from ledger.kit.migrate import check, stamp, upgrade
from ledger.runtime import Runtime
from tests.support import Chain

PG_URL = os.environ.get(
    "LABEL_LEDGER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


# --- the chain ---


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    node = Anvil().start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def deployed(anvil: Anvil) -> tuple[ChainClient, Deployment]:
    client = ChainClient(anvil.rpc_url)
    return client, deploy_all(client, account_from_key(DEV_KEYS[0]), with_dev_token=True)


@pytest.fixture
def redeploy(chain: Chain) -> Callable[..., Chain]:
    """Deploys another ledger inside the test's snapshot (say with a timelock or a fee) and
    returns a handle on it; the revert at the end of the test removes it again."""

    def deploy(*, timelock: int = 0, fee_bps: int = 0) -> Chain:
        deployment = deploy_all(
            chain.client, chain.operator, with_dev_token=True, timelock=timelock, fee_bps=fee_bps
        )
        return replace(chain, deployment=deployment)

    return deploy


@pytest.fixture
def fresh_chain() -> Iterator[Chain]:
    """A chain of its own (Anvil started and the contracts deployed, about 0.4 s), for a test that
    makes the node drop blocks (`anvil_reorg`, `anvil_rollback`). On the session's Anvil, once
    many `evm_snapshot` / `evm_revert` rounds of earlier tests lie behind it, a call at `latest`
    right after such a drop sometimes answers from an empty state ("could not call contract";
    seen in full runs after a rollback and after a reorg, never with the test alone): a quirk of
    the dev node, not what these tests are about."""
    node = Anvil().start()
    try:
        client = ChainClient(node.rpc_url)
        deployment = deploy_all(client, account_from_key(DEV_KEYS[0]), with_dev_token=True)
        yield Chain(
            client=client,
            deployment=deployment,
            operator=account_from_key(DEV_KEYS[0]),
            buyer=account_from_key(DEV_KEYS[1]),
        )
    finally:
        node.stop()


@pytest.fixture
def chain(deployed: tuple[ChainClient, Deployment]) -> Iterator[Chain]:
    client, deployment = deployed
    chain = Chain(
        client=client,
        deployment=deployment,
        operator=account_from_key(DEV_KEYS[0]),
        buyer=account_from_key(DEV_KEYS[1]),
    )
    snapshot = chain.rpc("evm_snapshot")
    try:
        yield chain
    finally:
        assert chain.rpc("evm_revert", snapshot) is True


# --- the database ---


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        return
    if os.environ.get("LABEL_LEDGER_TEST_PG") == "0":
        pytest.skip("PostgreSQL tests skipped: LABEL_LEDGER_TEST_PG=0")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(CreateSchema(schema))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(DropSchema(schema, cascade=True))
        admin.dispose()


@cache
def _revisions_match_models() -> bool:
    """Whether the revisions make the models' schema (once per test process, on SQLite)."""
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'drift.sqlite'}"
        upgrade(url)
        differences = check(url)
    if differences:
        warnings.warn(
            "the models differ from the last revision (tests/integration/test_migrations.py "
            f"fails): {'; '.join(differences)}. Test databases are made by create_all meanwhile",
            stacklevel=2,
        )
    return not differences


def make_schema(database_url: str) -> None:
    """A test database's schema, made as `label-ledger db upgrade` makes it: by the revisions.
    While a model change has no revision yet, by the models' create_all instead, recorded as at
    the last revision, so the rest of the suite still runs and only the drift test fails."""
    if _revisions_match_models():
        upgrade(database_url)
        return
    database = Database(database_url)
    try:
        database.create_schema()
    finally:
        database.engine.dispose()
    stamp(database_url)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    make_schema(database_url)
    database = Database(database_url)
    try:
        yield database
    finally:
        database.engine.dispose()


@dataclass
class Instance:
    """A running label-ledger: the real API over HTTP plus its mirror, on a test database."""

    url: str
    runtime: Runtime


@contextmanager
def running_instance(chain: Chain, database_url: str, tmp_path: Path) -> Iterator[Instance]:
    port = free_port()
    deployment_file = tmp_path / "deployment.json"
    chain.deployment.save(deployment_file)
    settings = Settings(
        database_url=database_url,
        rpc_url=chain.client.rpc_url,
        public_rpc_url=chain.client.rpc_url,
        deployment_file=deployment_file,
        operator_key=DEV_KEYS[0],
        siwe_domain=f"127.0.0.1:{port}",
        siwe_uri=f"http://127.0.0.1:{port}",
        mirror_poll_seconds=0.1,
        settle_every_seconds=0,
        upkeep_seconds=3600,  # tests run the upkeep themselves (ledger.jobs.upkeep)
        publish_dir=tmp_path / "published",
    )
    make_schema(database_url)
    runtime = Runtime.from_settings(settings)
    stop = threading.Event()
    jobs = start_background(runtime, stop)
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = threading.Thread(target=server.run, name="api", daemon=True)
    serving.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start within 20s"
        time.sleep(0.05)
    try:
        yield Instance(url=f"http://127.0.0.1:{port}", runtime=runtime)
    finally:
        server.should_exit = True
        serving.join(timeout=10)
        stop.set()
        for job in jobs:
            job.join(timeout=10)
        runtime.db.engine.dispose()


@pytest.fixture
def instance(chain: Chain, database_url: str, tmp_path: Path) -> Iterator[Instance]:
    with running_instance(chain, database_url, tmp_path) as running:
        yield running


TIMELOCK = 24 * 3600


@pytest.fixture
def timelocked_chain(redeploy: Callable[..., Chain]) -> Chain:
    """A ledger whose epochs are claimable a day after they are proposed."""
    return redeploy(timelock=TIMELOCK)


@pytest.fixture
def timelocked_instance(
    timelocked_chain: Chain, database_url: str, tmp_path: Path
) -> Iterator[Instance]:
    with running_instance(timelocked_chain, database_url, tmp_path) as running:
        yield running


# --- the order tests start in ---

#: The longest tests and the seconds each took in a full run (`pytest -n 2 --durations=0`).
DURATIONS = Path(__file__).with_name("durations.txt")


def _measured_seconds() -> dict[str, float]:
    """nodeid -> seconds, from DURATIONS' lines as pytest prints them (`12.34s call  nodeid`);
    the set-up and tear-down of a test count with its call."""
    seconds: dict[str, float] = {}
    for line in DURATIONS.read_text().splitlines():
        fields = line.split(maxsplit=2)
        if len(fields) == 3 and fields[0].endswith("s") and not line.startswith("#"):
            nodeid = fields[2]
            seconds[nodeid] = seconds.get(nodeid, 0.0) + float(fields[0].removesuffix("s"))
    return seconds


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest tests start first, spread evenly over the workers, so none of them starts
    last and leaves a core idle while it runs alone at the end.

    pytest-xdist's worksteal scheduler hands worker i the i-th of as many consecutive runs of
    the collected tests as there are workers, each run from its start; a worker that runs out
    steals the second half of what another still has queued. So each run here begins with its
    share of the long tests (handed out longest first, each to the run with the fewest seconds
    so far) and ends with the rest in their usual order, which the stealing evens out. Every
    worker collects, and orders, the same tests the same way."""
    measured = _measured_seconds()
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    long = sorted(
        (item for item in items if item.nodeid in measured),
        key=lambda item: measured[item.nodeid],
        reverse=True,
    )
    rest = [item for item in items if item.nodeid not in measured]
    sizes = []
    left = len(items)
    for run in range(workers):
        sizes.append(left // (workers - run))
        left -= sizes[-1]
    runs: list[list[pytest.Item]] = [[] for _ in range(workers)]
    seconds = [0.0] * workers
    for item in long:
        open_runs = [run for run in range(workers) if len(runs[run]) < sizes[run]]
        run = min(open_runs, key=lambda run: seconds[run])
        runs[run].append(item)
        seconds[run] += measured[item.nodeid]
    for run in range(workers):
        room = sizes[run] - len(runs[run])
        runs[run] += rest[:room]
        rest = rest[room:]
    items[:] = [item for run in runs for item in run]
