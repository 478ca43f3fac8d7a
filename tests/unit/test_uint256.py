"""The UInt256 column type: exact on SQLite (a file) and PostgreSQL, strict about what it takes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert, select
from sqlalchemy.exc import StatementError

from ledger.kit.db import UINT256_MAX, UInt256, make_engine

EDGES = [0, 1, 2**64, 2**255 + 1, UINT256_MAX]

amounts = Table(
    "uint256_amounts",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("amount", UInt256),
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    # database_url is a temporary SQLite file or a fresh PostgreSQL schema
    engine = make_engine(database_url)
    amounts.create(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def store(engine: Engine, values: list[int]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(amounts), [{"amount": v} for v in values])


def stored(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.scalars(select(amounts.c.amount).order_by(amounts.c.id)))


def test_uint256_round_trips_edges_exactly(engine: Engine) -> None:
    store(engine, EDGES)
    read = stored(engine)
    assert read == EDGES
    assert all(type(value) is int for value in read)


def test_uint256_round_trips_null(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(amounts).values(amount=None))
    assert stored(engine) == [None]


def test_uint256_stores_max_exactly_not_as_float(engine: Engine) -> None:
    # a float would come back as 115792089237316195423570985008687907853269984665640564039457584...
    store(engine, [UINT256_MAX, UINT256_MAX - 1])
    assert stored(engine) == [UINT256_MAX, UINT256_MAX - 1]
    with engine.connect() as conn:
        found = conn.scalars(select(amounts.c.id).where(amounts.c.amount == UINT256_MAX - 1)).all()
    assert found == [2]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (-1, ValueError),
        (2**256, ValueError),
        (1.0, TypeError),
        (2.5, TypeError),
        (True, TypeError),
        (False, TypeError),
        ("1", TypeError),
    ],
    ids=["minus_one", "two_pow_256", "float_whole", "float", "true", "false", "str"],
)
def test_uint256_refuses_what_is_not_a_uint256(engine: Engine, value: Any, error: type) -> None:
    with pytest.raises(StatementError) as caught:
        store(engine, [value])
    assert isinstance(caught.value.orig, error)
    assert stored(engine) == []


def test_uint256_orders_numerically_in_sql(engine: Engine) -> None:
    values = [10, 9, 2**200, 0, 100, UINT256_MAX, 2**64, 1, 2**64 - 1]
    store(engine, values)
    with engine.connect() as conn:
        ascending = list(conn.scalars(select(amounts.c.amount).order_by(amounts.c.amount)))
        descending = list(conn.scalars(select(amounts.c.amount).order_by(amounts.c.amount.desc())))
    assert ascending == sorted(values)
    assert descending == sorted(values, reverse=True)


def test_uint256_compares_numerically_in_sql(engine: Engine) -> None:
    values = [10, 9, 2**200, 0, 100, UINT256_MAX]
    store(engine, values)
    with engine.connect() as conn:
        above = set(conn.scalars(select(amounts.c.amount).where(amounts.c.amount > 9)))
        between = set(
            conn.scalars(select(amounts.c.amount).where(amounts.c.amount.between(10, 2**200)))
        )
    assert above == {10, 100, 2**200, UINT256_MAX}
    assert between == {10, 100, 2**200}
