"""The queue's cost does not grow with the dataset: the database's own query plans, on a dataset
of 40,000 items with a long history of assignments, read the queue index in order (no sort of
the dataset) and probe an annotator's assignments one candidate at a time (no scan of their
history). SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ledger.annotation import queue
from ledger.annotation.models import Assignment
from ledger.auth.models import Account
from ledger.dataset.models import Dataset, Item
from ledger.kit.db import Database, insert_many, is_postgres, utcnow

ITEMS = 40_000
ANNOTATOR = "0x" + "a" * 40


def filled(db: Database) -> int:
    """A dataset whose first half is labelled, the annotator having been served a third of it."""
    now = utcnow()
    zero = "0x" + "0" * 64
    with db.unit_of_work() as session:
        session.add(Account(address="0x" + "b" * 40))
        session.flush()
        dataset = Dataset(
            buyer="0x" + "b" * 40,
            name="plans",
            label_schema={"type": "classes", "classes": ["cat"]},
            payment_token="0x" + "0" * 40,
            price_per_label=1,
            reward_per_label=1,
            verification={},
            terms="{}",
            terms_nonce=zero,
            gold_nonce=zero,
            item_key=zero,
            data_key=b"",  # nothing here opens item data
            salt=zero,
            chain_dataset_id=zero,
            items_visible_upto=2**31 - 1,
        )
        session.add(dataset)
        session.flush()
        dataset_id = dataset.id
        stamp = now if is_postgres(session) else now.replace(tzinfo=None).isoformat(sep=" ")
        insert_many(
            session,
            "items",
            (
                "dataset_id",
                "external_id",
                "sealed_data",
                "item_hash",
                "gold",
                "places",
                "places_taken",
                "skips",
                "created_at",
            ),
            [
                (dataset_id, f"i-{n}", b"1", zero, False, 1, int(n < ITEMS // 2), 0, stamp)
                for n in range(ITEMS)
            ],
        )
        ids = session.scalars(select(Item.id).order_by(Item.id)).all()
        insert_many(
            session,
            "assignments",
            ("item_id", "annotator", "dataset_id", "served_at", "outcome"),
            [
                (
                    item_id,
                    ANNOTATOR if k % 3 == 0 else f"0x{k % 50:040x}",
                    dataset_id,
                    stamp,
                    "labelled",
                )
                for k, item_id in enumerate(ids[: ITEMS // 2])
            ],
        )
        session.execute(text("ANALYZE"))
    return dataset_id


def explained(session: Session, statement: Any, parameters: dict[str, Any]) -> str:
    """The database's plan for a statement with bound parameters."""
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect)
    values = compiled.construct_params(parameters)
    if connection.dialect.name == "postgresql":
        rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", values)
        return "\n".join(row[0] for row in rows)
    ordered = tuple(values[name] for name in compiled.positiontup or ())
    rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", ordered)
    return "\n".join(row[3] for row in rows)


def test_next_item_reads_the_queue_index_and_probes_assignments(db: Database) -> None:
    dataset_id = filled(db)
    with db.unit_of_work() as session:
        query = (
            select(Item.id)
            .where(
                Item.dataset_id == dataset_id,
                Item.gold.is_(False),
                queue.SERVABLE,
                queue.unheld(Item, utcnow()),
                Item.id <= 2**31 - 1,
                queue._not_served_to(ANNOTATOR),
            )
            .order_by(Item.id)
            .limit(1)
        )
        sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
        if is_postgres(session):
            plan = "\n".join(row[0] for row in session.execute(text(f"EXPLAIN {sql}")))
            assert "Scan using ix_items_queue on items" in plan, plan  # Index or Index Only
            assert "SubPlan" in plan, plan
            assert "Scan using pk_assignments on assignments" in plan, plan
            for whole in ("Sort", "Seq Scan", "Anti Join"):
                assert whole not in plan, plan
        else:
            plan = "\n".join(row[3] for row in session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
            assert "USING INDEX ix_items_queue" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
            assert "SCAN items" not in plan, plan
            assert "SCAN assignments" not in plan, plan
        lease = queue.lease_first_statement(postgres=is_postgres(session))
        plan = explained(
            session,
            lease,
            {
                "p_dataset_id": dataset_id,
                "p_annotator": ANNOTATOR,
                "p_expires": utcnow(),
                "p_upto": 2**31 - 1,
                "p_now": utcnow(),
            },
        )
        if is_postgres(session):
            assert "Scan using ix_items_queue on items" in plan, plan
            assert "Scan using pk_items on items" in plan, plan  # the update, by id
            for whole in ("Sort", "Seq Scan", "Anti Join"):
                assert whole not in plan, plan
        else:
            assert "USING INDEX ix_items_queue" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
            assert "SCAN items" not in plan, plan
        found = queue.candidate(
            session,
            dataset_id=dataset_id,
            annotator=ANNOTATOR,
            gold=False,
            visible_upto=2**31 - 1,
            now=utcnow(),
        )
        first_free = session.scalar(
            select(Item.id).where(Item.places_taken == 0).order_by(Item.id).limit(1)
        )
        assert found == first_free
        assert session.get(Assignment, (found, ANNOTATOR)) is None
