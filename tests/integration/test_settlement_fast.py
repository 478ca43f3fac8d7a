"""The fast epoch build (plain columns, bulk inserts, few statements) gives exactly the epoch the
straightforward per-label computation gives: the same roots, files, content hash and rows.

The reference below is the computation as it was before (24b6a85): one (Label, Dataset, Item)
entity triple per label, `paid_label` and `build_epoch_files` from `PaidLabel`s, one ORM row per
entitlement, debit and ledger entry. The workload mixes what settles differently: two payment
tokens, review, consensus, gold (graded byte for byte and by overlap), automatic and appeal
verdicts, a dataset whose funds run out midway, a closing dataset (labels made after its close
was asked for are not paid), one not on the ledger, warm-up and sealed labels (not paid), a gold
rejection to publish, values that look like hex, and a second epoch on top of a first.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.annotation.models import Label, LabelStatus, VerificationMethod
from ledger.annotation.service import auto_accept_due
from ledger.annotation.standing import reveal_due
from ledger.auth.models import Role
from ledger.auth.service import grant_role
from ledger.chain.client import Deployment
from ledger.chain.deploy import deploy_all
from ledger.dataset import service as datasets
from ledger.dataset.ingest import ingest_records
from ledger.dataset.models import Item
from ledger.dataset.schemas import DatasetCreate, LabelType, VerificationSpec
from ledger.dataset.service import chain_record
from ledger.kit.db import Database
from ledger.mirror.service import Mirror
from ledger.publication import DatasetDebit, EpochFiles, PaidLabel, build_epoch_files
from ledger.settlement import repository
from ledger.settlement import select as select_sql
from ledger.settlement.build import (
    CLOSE_GRACE_PERIOD,
    build_epoch,
    fee_of,
    gold_rejection,
    paid_label,
)
from ledger.settlement.models import Entitlement, Epoch, EpochDebit, LedgerEntry
from ledger.settlement.service import accept_epoch, post_epoch
from ledger.storage import LocalBlobStore, MasterKey, MediaVault
from tests.support import Chain

pytestmark = pytest.mark.chain

VAULT = MediaVault(LocalBlobStore(Path(tempfile.mkdtemp())), MasterKey.generate())
FEE_BPS = 250
ITEMS = 24


# --- the reference: the per-label computation as it was ------------------------------------------


@dataclass
class _RefDebit:
    dataset: Any
    token_index: int
    fee_bps: int
    amount: int = 0
    labels: int = 0


@dataclass
class Reference:
    files: EpochFiles
    label_ids: list[int]
    entitlements: list[tuple[str, int, int, int]]
    debits: list[tuple[int, str, int, int, int]]
    entries: list[tuple[str, str, str, str, int]] = field(default_factory=list)


def reference_epoch(session: Session, deployment: Deployment, now: dt.datetime) -> Reference:
    """What `build_epoch` stores, computed label by label from ORM entities."""
    reveal_due(session, now=now)
    auto_accept_due(session, now=now)
    last = repository.last_epoch(session)
    number = (last.number if last else 0) + 1
    budget: dict[int, int] = {}
    paid_until: dict[int, dt.datetime | None] = {}
    debits: dict[int, _RefDebit] = {}
    earnings: defaultdict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    movements: Counter[tuple[str, str, str]] = Counter()
    paid: list[PaidLabel] = []
    label_ids: list[int] = []
    for label, dataset, item in repository.payable_labels(session):
        if dataset.id not in budget:
            record = chain_record(session, dataset)
            usable = record is not None and record.status in ("open", "closing")
            budget[dataset.id] = record.available if record is not None and usable else 0
            paid_until[dataset.id] = (
                dt.datetime.fromtimestamp(record.close_due_at - CLOSE_GRACE_PERIOD, dt.UTC)
                if record is not None and record.status == "closing" and record.close_due_at
                else None
            )
            if record is not None and usable:
                debits[dataset.id] = _RefDebit(dataset, record.token_index, record.fee_bps)
        debit = debits.get(dataset.id)
        if debit is None:
            continue
        cutoff = paid_until[dataset.id]
        if cutoff is not None and label.created_at >= cutoff:
            continue
        price, reward = label.price or 0, label.reward or 0
        new_amount = debit.amount + price
        if new_amount + fee_of(new_amount, debit.fee_bps) > budget[dataset.id]:
            continue
        debit.amount = new_amount
        debit.labels += 1
        label_ids.append(label.id)
        earnings[(label.annotator, debit.token_index)][0] += price
        earnings[(label.annotator, debit.token_index)][1] += reward
        paid.append(paid_label(label, dataset, item))
        if price:
            source = f"dataset:{dataset.chain_dataset_id}"
            movements[(source, label.annotator, dataset.payment_token)] += price
        if reward:
            movements[("issuance:LABEL", label.annotator, deployment.ledger)] += reward
    cumulative = dict(repository.entitlements_at(session, last.number)) if last else {}
    for key, (payment, reward) in earnings.items():
        before = cumulative.get(key, (0, 0))
        cumulative[key] = (before[0] + payment, before[1] + reward)
    leaves = sorted(cumulative.items(), key=lambda kv: (int(kv[0][0], 16), kv[0][1]))
    ordered = sorted(
        (d for d in debits.values() if d.labels), key=lambda d: d.dataset.chain_dataset_id
    )
    rejected = repository.unpublished_gold_rejections(session)
    files = build_epoch_files(
        chain_id=deployment.chain_id,
        ledger=deployment.ledger,
        number=number,
        previous_payout_root=last.payout_root if last else None,
        payout_leaves=[[a, str(i), str(p), str(r)] for (a, i), (p, r) in leaves],
        paid=paid,
        gold_rejections=[gold_rejection(label, dataset, item) for label, dataset, item in rejected],
        debits=[
            DatasetDebit(
                dataset_id=d.dataset.chain_dataset_id,
                token=d.token_index,
                fee_bps=d.fee_bps,
                debit=d.amount,
                fee=fee_of(d.amount, d.fee_bps),
                labels=d.labels,
                terms_hash=d.dataset.salt,
            )
            for d in ordered
        ],
    )
    for d in ordered:
        fee = fee_of(d.amount, d.fee_bps)
        if fee:
            movements[
                (f"dataset:{d.dataset.chain_dataset_id}", "fees", d.dataset.payment_token)
            ] += fee
    entries = []
    for (source, beneficiary, token), amount in movements.items():
        correlation = f"epoch:{number}:{source}:{beneficiary}"
        book = "fees" if beneficiary == "fees" else f"annotator:{beneficiary}"
        entries.append((correlation, source, token, "debit", amount))
        entries.append((correlation, book, token, "credit", amount))
    return Reference(
        files=files,
        label_ids=label_ids,
        entitlements=[(a, i, p, r) for (a, i), (p, r) in leaves],
        debits=[
            (
                d.dataset.id,
                d.dataset.chain_dataset_id,
                d.amount,
                fee_of(d.amount, d.fee_bps),
                d.labels,
            )
            for d in ordered
        ],
        entries=entries,
    )


# --- the workload ------------------------------------------------------------------------------


@dataclass
class Funded:
    id: int
    chain_id: str
    items: list[int]  # item ids, in order; even positions are gold


def make_dataset(
    db: Database,
    chain: Chain,
    deployment: Deployment,
    *,
    token: int,
    price: int,
    fund: int | None,
    label_type: str = "classes",
    close: bool = False,
) -> Funded:
    buyer = chain.buyer
    payment = deployment.payment_tokens[token]
    with db.unit_of_work() as session:
        grant_role(session, address=buyer.address, role=Role.buyer)
        dataset = datasets.create_dataset(
            session,
            buyer=buyer.address,
            spec=DatasetCreate(
                name=f"mixed {label_type} {price}",
                label_type=LabelType(label_type),
                label_classes=[] if label_type == "boxes" else ["cat", "dog"],
                payment_token=payment.address,
                price_per_label=price,
                reward_per_label=10**6,
                verification=VerificationSpec(gold_reveal_seconds=0),
            ),
            allowed_tokens=deployment.payment_token_addresses,
            vault=VAULT,
        )
        dataset_id = dataset.id
    gold = "[1,2,3,4]" if label_type == "boxes" else "cat"
    ingest_records(
        db,
        VAULT,
        dataset_id=dataset_id,
        records=[
            {"id": f"i{n}", "data": {"n": n}, **({"gold": gold} if n % 2 == 0 else {})}
            for n in range(ITEMS)
        ],
        now=dt.datetime.now(dt.UTC),
    )
    with db.unit_of_work() as session:
        items = list(
            session.scalars(select(Item.id).where(Item.dataset_id == dataset_id).order_by(Item.id))
        )
        stored = datasets.get_dataset(session, dataset_id)
        salt, chain_id = stored.salt, stored.chain_dataset_id  # its terms hold the gold answers
    if fund is not None:
        erc20 = chain.contract("DevStablecoin", payment.address)
        ledger = chain.contract("LabelLedger", deployment.ledger)
        chain.send(erc20.functions.mint(buyer.address, fund), buyer)
        chain.send(erc20.functions.approve(deployment.ledger, fund), buyer)
        chain.send(
            ledger.functions.createAndFund(bytes.fromhex(salt[2:]), payment.index, fund), buyer
        )
        if close:
            chain.send(ledger.functions.requestClose(int(chain_id, 16)), buyer)
    return Funded(dataset_id, chain_id, items)


def add_labels(
    db: Database,
    dataset: Funded,
    annotators: list[str],
    *,
    start: dt.datetime,
    price: int,
    seed: int,
    created_after: dt.datetime | None = None,
) -> None:
    """One verified label per (item, annotator) pair used, of every method, decided in an order
    that interleaves the datasets (by `seed`)."""
    methods = [
        VerificationMethod.review,
        VerificationMethod.consensus,
        None,
        VerificationMethod.gold,
        VerificationMethod.auto,
        VerificationMethod.appeal,
    ]
    reviewer = str(Account.create().address)
    with db.unit_of_work() as session:
        rows = session.execute(
            select(Item.id, Item.gold_label).where(Item.dataset_id == dataset.id)
        ).all()
        gold_of: dict[int, str | None] = {row[0]: row[1] for row in rows}
        for n, item_id in enumerate(dataset.items):
            for k, annotator in enumerate(annotators[: 1 + (n + seed) % 3]):
                method = methods[(n + k + seed) % len(methods)]
                gold = gold_of[item_id]
                if method is VerificationMethod.gold and gold is None:
                    method = VerificationMethod.review
                value = (
                    gold
                    if method is VerificationMethod.gold and k == 0
                    else ("0x" + f"{n:02x}" * 32 if n % 5 == 0 else ["cat", "dög", "dog"][k % 3])
                )
                created = start + dt.timedelta(minutes=n)
                if created_after is not None and n % 2:
                    created = created_after + dt.timedelta(seconds=n)
                status = LabelStatus.verified
                if (n + k) % 11 == 7 and gold is not None:
                    status, method = LabelStatus.rejected, VerificationMethod.gold  # published
                session.add(
                    Label(
                        dataset_id=dataset.id,
                        item_id=item_id,
                        annotator=annotator,
                        value=value,
                        status=status,
                        method=method,
                        reviewer=reviewer if method is not VerificationMethod.consensus else None,
                        agreement="2/3" if method is VerificationMethod.consensus else None,
                        warmup=(n + k) % 13 == 5,
                        sealed_until=start + dt.timedelta(days=30) if (n + k) % 17 == 3 else None,
                        decided_at=start + dt.timedelta(seconds=(n * 7 + k * 3 + seed * 5) % 97),
                        price=None if (n + k) % 19 == 4 else price,
                        reward=0 if (n + k) % 23 == 6 else 10**6,
                        created_at=created,
                    )
                )


def compare(db: Database, deployment: Deployment, now: dt.datetime) -> int:
    """Builds the next epoch both ways and checks they are the same; returns its number."""
    with db.unit_of_work() as session:
        expected = reference_epoch(session, deployment, now)
        session.rollback()  # the reference stores nothing (reveal and auto-accept included)
    with db.unit_of_work() as session:
        built = build_epoch(session, deployment=deployment, now=now)
        assert built is not None
        number = built.number
    with db.unit_of_work() as session:
        epoch = session.get(Epoch, number)
        assert epoch is not None
        files = expected.files
        assert epoch.payout_root == files.payout_root
        assert epoch.label_root == files.label_root
        assert epoch.content_hash == files.content_hash
        assert epoch.manifest == files.manifest
        assert epoch.payout_tree == files.payout_tree
        assert epoch.label_tree == files.label_tree
        assert epoch.verdicts == files.verdicts
        assert epoch.label_count == len(expected.label_ids)
        entitlements = session.scalars(select(Entitlement).where(Entitlement.epoch == number)).all()
        assert sorted(
            (e.account, e.token_index, e.cumulative_payment, e.cumulative_reward)
            for e in entitlements
        ) == sorted(expected.entitlements)
        debits = session.scalars(
            select(EpochDebit)
            .where(EpochDebit.epoch == number)
            .order_by(EpochDebit.chain_dataset_id)
        ).all()
        assert [
            (d.dataset_id, d.chain_dataset_id, d.amount, d.fee, d.label_count) for d in debits
        ] == expected.debits
        entries = session.scalars(
            select(LedgerEntry).where(LedgerEntry.epoch == number).order_by(LedgerEntry.id)
        ).all()
        assert [
            (e.correlation_id, e.ledger_account, e.token, str(e.side), e.amount) for e in entries
        ] == expected.entries
        assigned = session.scalars(select(Label.id).where(Label.epoch == number)).all()
        assert sorted(assigned) == sorted(expected.label_ids)
    return number


def test_fast_build_gives_the_per_label_epoch(db: Database, chain: Chain) -> None:
    operator = chain.operator
    nonce = int(chain.client.w3.eth.get_transaction_count(operator.address, "pending"))
    second = chain.client.deploy("DevStablecoin", operator, nonce=nonce)
    deployment = deploy_all(
        chain.client, operator, with_dev_token=True, payment_tokens=(second,), fee_bps=FEE_BPS
    )
    annotators = sorted(str(Account.create().address) for _ in range(4))
    with db.unit_of_work() as session:
        for annotator in annotators:
            grant_role(session, address=annotator, role=Role.annotator)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    plenty = 10**12
    spec: list[dict[str, Any]] = [
        {"token": 0, "price": 250_000, "fund": plenty},
        {"token": 1, "price": 300_000, "fund": plenty},
        {"token": 0, "price": 400_000, "fund": 400_000 * 9},  # runs out midway
        {"token": 1, "price": 200_000, "fund": plenty, "label_type": "boxes"},
        {"token": 0, "price": 500_000, "fund": plenty, "close": True},  # closing
        {"token": 1, "price": 100_000, "fund": None},  # not on the ledger
    ]
    made = [make_dataset(db, chain, deployment, **kw) for kw in spec]
    Mirror(db, chain.client, deployment).sync_once()
    close_asked = dt.datetime.fromtimestamp(
        int(chain.client.w3.eth.get_block("latest")["timestamp"]), dt.UTC
    )
    for seed, (dataset, kw) in enumerate(zip(made, spec, strict=True)):
        add_labels(
            db,
            dataset,
            annotators,
            start=start,
            price=kw["price"],
            seed=seed,
            created_after=close_asked if kw.get("close") else None,
        )

    now = dt.datetime.now(dt.UTC)
    first = compare(db, deployment, now)
    # the workload settles every way it can: all methods, both tokens, partial datasets
    with db.unit_of_work() as session:
        epoch = session.get(Epoch, first)
        assert epoch is not None
        verdicts, manifest = json.loads(epoch.verdicts), json.loads(epoch.manifest)
        payable = Counter(
            session.scalars(
                select(Label.dataset_id).where(
                    Label.status == LabelStatus.verified,
                    Label.warmup.is_(False),
                    Label.sealed_until.is_(None),
                )
            )
        )
    assert {row[4] for row in verdicts["paid"]} == {"review", "consensus", "gold", "auto", "appeal"}
    assert verdicts["goldRejected"]
    paid = {d["datasetId"]: d["labels"] for d in manifest["datasets"]}
    assert {d["token"] for d in manifest["datasets"]} == {
        t.index for t in deployment.payment_tokens
    }
    ran_out, closing, unfunded = made[2], made[4], made[5]
    assert 0 < paid[ran_out.chain_id] < payable[ran_out.id]
    assert 0 < paid[closing.chain_id] < payable[closing.id]
    assert unfunded.chain_id not in paid
    assert paid[made[0].chain_id] == payable[made[0].id]
    assert post_epoch(db, chain.client, deployment, operator, first) is not None
    accepted = accept_epoch(db, chain.client, deployment, operator, first)
    assert accepted is not None
    assert accepted.status == "accepted"
    Mirror(db, chain.client, deployment).sync_once()

    # a second epoch on top: cumulative entitlements, the last epoch's root before it
    later = start + dt.timedelta(days=1)
    for seed, dataset in enumerate(made[:2]):
        add_labels(db, dataset, annotators[3:], start=later, price=150_000, seed=seed + 7)
    second_number = compare(db, deployment, now + dt.timedelta(minutes=1))
    assert second_number == first + 1

    # a label another epoch took meanwhile rolls the whole assignment back, also in bulk
    with db.unit_of_work() as session:
        taken = session.scalars(select(Label.id).where(Label.epoch == first).limit(1)).one()
        free = session.scalars(select(Label.id).where(Label.warmup.is_(True)).limit(1)).one()
    with pytest.raises(repository.LabelsTakenMeanwhile), db.unit_of_work() as session:
        select_sql.assign_labels(session, label_ids=[free, taken], epoch=second_number)
    with db.unit_of_work() as session:
        assert session.get(Label, free).epoch is None  # type: ignore[union-attr]
        assert session.get(Label, taken).epoch == first  # type: ignore[union-attr]
    assert post_epoch(db, chain.client, deployment, operator, second_number) is not None
