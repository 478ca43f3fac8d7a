"""Schema migrations, on SQLite and PostgreSQL: the revisions make exactly the models' schema, a
database of the previous release is upgraded by `label-ledger db upgrade` with its data intact
and read by the service's code, two upgrades at once apply each revision once, and the service
refuses a database that is not at head, saying what to run."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from ledger.annotation.models import Label
from ledger.chain.client import Deployment
from ledger.chain.devnode import free_port
from ledger.dataset import repository as datasets
from ledger.dataset.service import to_public
from ledger.kit.config import Settings
from ledger.kit.db import Database, SchemaOutdated
from ledger.kit.migrate import (
    BASELINE,
    MigrationFailed,
    baseline_columns,
    check,
    current,
    downgrade,
    head,
    holding_lock,
    require_head,
    upgrade,
)
from ledger.runtime import Runtime
from ledger.settlement import repository as epochs
from ledger.settlement.models import Entitlement, LedgerEntry
from tests.conftest import PG_URL

PREVIOUS = Path(__file__).resolve().parent.parent / "fixtures" / "previous-release"
SCRIPT = Path(sys.executable).parent / "label-ledger"
UPGRADE_HINT = "label-ledger db upgrade"


def label_ledger(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def tables_of(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def revisions() -> list[str]:
    """Every revision, oldest first."""
    from ledger.kit.migrate import _script  # noqa: PLC0415 (the revision list, for counting)

    return [step.revision for step in reversed(list(_script().walk_revisions()))]


# --- the revisions make the models' schema ---


def test_a_fresh_database_upgraded_to_head_is_the_models_schema(database_url: str) -> None:
    assert current(database_url) is None
    assert upgrade(database_url) == revisions()
    assert current(database_url) == head()
    # UInt256 (CHAR(78) / NUMERIC(78,0)) and UTCDateTime columns compare equal to their types
    assert check(database_url) == []
    assert upgrade(database_url) == []  # nothing left to do

    # and the check is no blind eye: what the models lack, or type differently, is reported
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE items ADD COLUMN stray INTEGER"))
        if engine.dialect.name == "postgresql":
            connection.execute(
                text("ALTER TABLE entitlements ALTER COLUMN cumulative_payment TYPE NUMERIC(40, 0)")
            )
    engine.dispose()
    differences = check(database_url)
    assert "remove_column items.stray INTEGER" in differences
    if database_url.startswith("postgresql"):
        assert any(
            d.startswith("modify_type entitlements.cumulative_payment") for d in differences
        ), differences


def _sqlite_schema(connection: Any) -> set[tuple[Any, ...]]:
    found: set[tuple[Any, ...]] = set()
    objects = connection.exec_driver_sql(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name != 'alembic_version' "
        "AND tbl_name != 'alembic_version'"
    ).all()
    for kind, name, table, sql in objects:
        if kind == "index" and sql is not None:
            found.add(("index", name, " ".join(sql.split())))
        if kind != "table":
            continue
        for _cid, column, type_, notnull, default, pk in connection.exec_driver_sql(
            f"PRAGMA table_info({table})"
        ):
            found.add(("column", table, column, type_, notnull, default, pk))
        for row in connection.exec_driver_sql(f"PRAGMA foreign_key_list({table})"):
            found.add(("foreign key", table, *row[2:]))
        for _seq, index, unique, origin, partial in connection.exec_driver_sql(
            f"PRAGMA index_list({table})"
        ):
            columns = tuple(
                info[2] for info in connection.exec_driver_sql(f"PRAGMA index_info({index})")
            )
            # an automatic index's name numbers the table's constraints in their written order
            named = index if origin == "c" else origin
            found.add(("index of", table, named, unique, partial, columns))
        for constraint in re.findall(r"CONSTRAINT (\w+) (\w+)", sql):
            found.add(("constraint", table, *constraint))
    return found


def _postgresql_schema(connection: Any) -> set[tuple[Any, ...]]:
    schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
    columns = connection.exec_driver_sql(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 "
        "AND NOT a.attisdropped AND c.relname != 'alembic_version'"
    ).all()
    constraints = connection.exec_driver_sql(
        "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
        "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname != 'alembic_version'"
    ).all()
    indexes = connection.exec_driver_sql(
        "SELECT tablename, indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = current_schema() AND tablename != 'alembic_version'"
    ).all()
    return (
        {("column", *row) for row in columns}
        | {("constraint", *row) for row in constraints}
        | {("index", table, name, sql.replace(f"{schema}.", "")) for table, name, sql in indexes}
    )


def _schema(url: str) -> set[tuple[Any, ...]]:
    """Every table, column (type, null, default), key, constraint and index, as the database
    itself describes them; not in the order columns were added."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                return _sqlite_schema(connection)
            return _postgresql_schema(connection)
    finally:
        engine.dispose()


@pytest.fixture
def other_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the same kind."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.sqlite'}"
        return
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_the_revisions_make_what_the_models_create_all_makes(
    database_url: str, other_database_url: str
) -> None:
    """Beyond what `check` compares: index predicates, constraint names, defaults, types as the
    database spells them."""
    upgrade(database_url)
    made = Database(other_database_url)
    made.create_schema()
    made.engine.dispose()
    migrated, created = _schema(database_url), _schema(other_database_url)
    assert len(migrated) > 200
    assert sorted(migrated - created) == sorted(created - migrated) == []


def test_a_revision_that_fails_changes_nothing(database_url: str) -> None:
    """Each revision is one transaction, on SQLite too (its DDL included): one that fails half
    way leaves no table behind, and says where the database stays."""
    engine = create_engine(database_url)
    with engine.begin() as connection:  # in the way of the baseline's `labels` table, late in it
        connection.execute(text("CREATE VIEW labels AS SELECT 1 AS id"))
    engine.dispose()
    with pytest.raises(MigrationFailed) as failed:
        upgrade(database_url)
    assert f"revision {BASELINE} failed and was rolled back" in failed.value.message
    assert "stays at revision none" in failed.value.message
    assert tables_of(database_url) <= {"alembic_version"}
    assert current(database_url) is None


def test_downgrade_to_base_then_upgrade_again(database_url: str) -> None:
    upgrade(database_url)
    downgrade(database_url, "base")
    assert tables_of(database_url) <= {"alembic_version"}
    assert current(database_url) is None
    assert upgrade(database_url) == revisions()
    assert check(database_url) == []


# --- a database of the previous release ---


def _load_previous_sqlite(tmp_path: Path) -> str:
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as connection:
        connection.executescript((PREVIOUS / "sqlite.sql").read_text())
    connection.close()
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def previous_release(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database holding what the previous release (24b6a85) wrote: its schema, made by
    its create_all, and the rows of its `up` after a demo."""
    if request.param == "sqlite":
        yield _load_previous_sqlite(tmp_path)
        return
    if os.environ.get("LABEL_LEDGER_TEST_PG") == "0":
        pytest.skip("PostgreSQL tests skipped: LABEL_LEDGER_TEST_PG=0")
    name = f"test_previous_{uuid.uuid4().hex[:12]}"
    server = make_url(PG_URL)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    url = server.set(database=name)
    try:
        loader = create_engine(url)
        with loader.begin() as connection:
            connection.exec_driver_sql((PREVIOUS / "postgresql.sql").read_text())
        loader.dispose()
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def _snapshot(url: str) -> dict[str, Any]:
    """Row counts of every table of the previous release, and its money, as stored."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            counts = {
                table: connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()  # noqa: S608
                for table in baseline_columns()
            }
            entitlements = {
                (epoch, account, token): (int(payment), int(reward))
                for epoch, account, token, payment, reward in connection.execute(
                    text(
                        "SELECT epoch, account, token_index, cumulative_payment, "
                        "cumulative_reward FROM entitlements"
                    )
                )
            }
            entries = {
                row_id: int(amount)
                for row_id, amount in connection.execute(
                    text("SELECT id, amount FROM ledger_entries")
                )
            }
            prices = {
                row_id: (int(price), int(reward))
                for row_id, price, reward in connection.execute(
                    text("SELECT id, price_per_label, reward_per_label FROM datasets")
                )
            }
            funded = {
                dataset: int(value)
                for dataset, value in connection.execute(
                    text("SELECT dataset_id, funded FROM chain_datasets")
                )
            }
            # which epoch paid each label: the labels' own column before revision 0002, its
            # label_payments table after
            paid_sql = (
                "SELECT label_id, epoch FROM label_payments"
                if "label_payments" in inspect(connection).get_table_names()
                else "SELECT id, epoch FROM labels WHERE epoch IS NOT NULL"
            )
            paid = dict(connection.execute(text(paid_sql)).all())
    finally:
        engine.dispose()
    return {
        "counts": counts,
        "entitlements": entitlements,
        "entries": entries,
        "prices": prices,
        "funded": funded,
        "paid": paid,
    }


def test_a_database_of_the_previous_release_is_upgraded_with_its_data(
    previous_release: str, tmp_path: Path
) -> None:
    url = previous_release
    before = _snapshot(url)
    assert before["counts"]["labels"] > 0
    assert before["counts"]["epochs"] >= 1
    assert before["counts"]["ledger_entries"] > 0
    assert any(payment > 0 for payment, _ in before["entitlements"].values())
    assert before["paid"], "the previous release's demo paid labels"
    assert current(url) is None
    engine = create_engine(url)
    with pytest.raises(SchemaOutdated) as refused:
        require_head(engine)
    engine.dispose()
    assert "before migrations" in refused.value.message
    assert UPGRADE_HINT in refused.value.message

    upgraded = label_ledger("db", "upgrade", "--url", url)
    said = " ".join(upgraded.stdout.split())
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert f"recorded as at {BASELINE}" in said, said
    for revision in revisions()[1:]:
        assert f"applying revision {revision} " in said, said
        assert f"applied revision {revision} in" in said, said
    assert current(url) == head()
    assert check(url) == []  # what the previous release made, upgraded, is the models' schema

    after = _snapshot(url)
    assert after == before

    # the service's code reads it
    deployment = Deployment.load(PREVIOUS / "deployment.json")
    database = Database(url)
    try:
        require_head(database.engine)
        with database.unit_of_work() as session:
            shown = [
                to_public(session, dataset, deployment=deployment)
                for dataset in datasets.list_datasets(session, viewer="", operator=True)
            ]
            assert {view.id: (view.price_per_label, view.reward_per_label) for view in shown} == (
                before["prices"]
            )
            assert all(view.chain.funded > 0 for view in shown)
            assert {view.chain.dataset_id: view.chain.funded for view in shown} == before["funded"]

            listed = epochs.list_epochs(session)
            assert [epoch.number for epoch in listed] == sorted(
                {epoch for epoch, _, _ in before["entitlements"]}
            )
            assert all(epoch.status == "accepted" for epoch in listed)
            last = listed[-1].number
            for (epoch, account, token), money in before["entitlements"].items():
                if epoch != last:
                    continue
                [row] = [
                    row
                    for row in epochs.account_entitlements(session, epoch=last, account=account)
                    if row.token_index == token
                ]
                assert (row.cumulative_payment, row.cumulative_reward) == money
            amounts = {
                row.id: row.amount
                for row in session.execute(select(LedgerEntry.id, LedgerEntry.amount))
            }
            assert amounts == before["entries"]
            # every label's epoch, moved out of the labels table (revision 0002), read as before
            assert {
                label.id: label.epoch
                for label in session.scalars(select(Label)).all()
                if label.epoch is not None
            } == before["paid"]
            for label in session.scalars(select(Label).where(Label.epoch.is_not(None))):
                assert label.epoch is not None
                paid_with_it = epochs.labels_paid_in(
                    session, epoch=label.epoch, annotator=label.annotator
                )
                assert label.id in {paid.id for paid, _dataset, _item in paid_with_it}
            assert all(
                isinstance(value, int)
                for value in session.scalars(select(Entitlement.cumulative_payment))
            )
    finally:
        database.engine.dispose()

    again = label_ledger("db", "upgrade", "--url", url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to do" in again.stdout

    # and back: the previous release's schema with the very same rows (labels.epoch refilled)
    downgrade(url, BASELINE)
    assert current(url) == BASELINE
    assert _snapshot(url) == before


def test_a_database_older_than_the_previous_release_is_refused_with_what_to_do(
    database_url: str,
) -> None:
    upgrade(database_url, target=BASELINE)
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))  # as made before migrations
        connection.execute(text("ALTER TABLE items DROP COLUMN skips"))
    engine.dispose()
    with pytest.raises(SchemaOutdated) as refused:
        upgrade(database_url)
    assert "lacks items.skips" in refused.value.message
    assert "./scripts/up --fresh" in refused.value.message
    assert current(database_url) is None  # nothing was recorded or changed
    assert "items" in tables_of(database_url)


def test_a_database_a_newer_label_ledger_upgraded_is_refused_not_touched(
    database_url: str,
) -> None:
    upgrade(database_url)
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    for refuse in (lambda: upgrade(database_url), lambda: require_head(engine)):
        with pytest.raises(SchemaOutdated) as refused:
            refuse()
        assert "at schema revision 9999, which this label-ledger does not know" in (
            refused.value.message
        )
    engine.dispose()
    assert current(database_url) == "9999"


def test_db_current_and_db_check_say_where_the_database_is(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    empty = label_ledger("db", "current", "--url", url)
    assert empty.returncode == 0, empty.stdout + empty.stderr
    assert "empty (no revision)" in " ".join(empty.stdout.split())

    upgrade(url)
    agreed = label_ledger("db", "check", "--url", url)
    assert agreed.returncode == 0, agreed.stdout + agreed.stderr
    assert f"the models and revision {head()} agree: no drift" in " ".join(agreed.stdout.split())

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE items ADD COLUMN stray INTEGER"))
    engine.dispose()
    drifted = label_ledger("db", "check", "--url", url)
    said = " ".join(drifted.stdout.split())
    assert drifted.returncode == 2, drifted.stdout + drifted.stderr
    assert "1 difference between the models and revision" in said, said
    assert "remove_column items.stray INTEGER" in said, said


def test_db_commands_refuse_a_url_that_is_not_one_and_touch_nothing(tmp_path: Path) -> None:
    for command in ("upgrade", "current", "check"):
        refused = label_ledger("db", command, "--url", "not-a-database")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        said = " ".join(refused.stderr.split())
        assert "'not-a-database' is not a database URL" in said, said
        assert "postgresql+psycopg://" in said
        assert "Traceback" not in refused.stderr
    assert list(tmp_path.iterdir()) == []


# --- two upgrades at once ---


def test_two_upgrades_started_at_once_apply_each_revision_once(
    database_url: str, tmp_path: Path
) -> None:
    """Both wait on the lock the test holds, then race for it: one applies every revision, the
    other finds nothing left to do, and both succeed."""
    outputs = [tmp_path / "first.out", tmp_path / "second.out"]
    processes: list[subprocess.Popen[bytes]] = []
    with holding_lock(database_url):
        for output in outputs:
            with output.open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [str(SCRIPT), "db", "upgrade", "--url", database_url],
                        env={**os.environ, "COLUMNS": "200"},
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        deadline = time.monotonic() + 90
        while not all("waiting for another upgrade" in o.read_text() for o in outputs):
            for process, output in zip(processes, outputs, strict=True):
                assert process.poll() is None, output.read_text()
            assert time.monotonic() < deadline, [o.read_text() for o in outputs]
            time.sleep(0.1)
    for process in processes:
        process.wait(timeout=120)
    said = [" ".join(o.read_text().split()) for o in outputs]
    assert [process.returncode for process in processes] == [0, 0], said
    first = f"applying revision {revisions()[0]} "
    assert sorted(first in s for s in said) == [False, True], said
    assert sum("nothing to do" in s for s in said) == 1, said
    assert current(database_url) == head()
    assert check(database_url) == []
    engine = create_engine(database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar() == 1
    engine.dispose()


# --- the service refuses a database not at head ---


def _settings(database_url: str, tmp_path: Path) -> Settings:
    deployment_file = tmp_path / "state" / "deployment.json"
    deployment_file.parent.mkdir()
    shutil.copy(PREVIOUS / "deployment.json", deployment_file)
    return Settings(database_url=database_url, deployment_file=deployment_file)


def _refusal(settings: Settings) -> SchemaOutdated:
    with pytest.raises(SchemaOutdated) as refused:
        Runtime.from_settings(settings)
    assert refused.value.code == "schema_outdated"
    assert UPGRADE_HINT in refused.value.message
    return refused.value


def test_the_service_refuses_a_database_not_at_head_and_says_to_upgrade(
    database_url: str, tmp_path: Path
) -> None:
    settings = _settings(database_url, tmp_path)
    assert "has no tables yet" in _refusal(settings).message

    upgrade(database_url, target=BASELINE)
    if head() != BASELINE:  # a revision behind
        outdated = _refusal(settings).message
        assert f"at schema revision {BASELINE} and this label-ledger needs {head()}" in outdated
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    engine.dispose()
    assert "before migrations" in _refusal(settings).message

    upgrade(database_url)
    runtime = Runtime.from_settings(settings)
    runtime.db.engine.dispose()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_refuses_an_empty_database_with_the_command_to_run(
    workers: str, tmp_path: Path
) -> None:
    """With one worker process or several: checked before any starts (each would refuse it on
    its own, and be started again)."""
    settings = _settings(f"sqlite:///{tmp_path / 'ledger.sqlite'}", tmp_path)
    served = subprocess.run(
        [str(SCRIPT), "serve", "--port", str(free_port()), "--workers", workers],
        env={
            **os.environ,
            "COLUMNS": "200",
            "LABEL_LEDGER_DATABASE_URL": settings.database_url,
            "LABEL_LEDGER_DEPLOYMENT_FILE": str(settings.deployment_file),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    said = " ".join(served.stdout.split())
    assert served.returncode == 1, served.stdout + served.stderr
    assert "error (schema_outdated)" in said, said
    assert f"run `{UPGRADE_HINT}`" in said, said
