"""The whole pay-per-label loop, as `label-ledger demo` drives it, against a real instance.

Real HTTP to the real API, a real Anvil with our contracts, the mirror running, on SQLite and on
PostgreSQL. After the demo: the chain's own state must equal what the database says was paid.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from sqlalchemy import func, select

from ledger.annotation.models import Label, LabelStatus
from ledger.demo import run_demo
from ledger.settlement.models import Entitlement, EpochDebit
from tests.conftest import Instance
from tests.support import Chain

pytestmark = pytest.mark.chain


def test_demo_loop_pays_every_verified_label_and_balances_equal_the_chain(
    instance: Instance, chain: Chain
) -> None:
    output = io.StringIO()
    report = run_demo(
        api_url=instance.url,
        rpc_url=None,  # as a user runs it: the instance says which chain it is on
        operator_key=None,
        items=200,
        annotators=5,
        console=Console(file=output, width=200),
    )
    printed = output.getvalue()

    assert report.balances_agree, printed
    assert report.labels_paid > 0
    # the refusals the issue names were answered with their codes
    for code in ("422 label_outside_schema", "404 unknown_item", "409 duplicate_label"):
        assert code in printed

    db = instance.runtime.db
    with db.unit_of_work() as session:
        labels = session.scalars(select(Label)).all()
        # 200 items * 1.5 labels each; the three refused attempts stored nothing
        assert len(labels) == 300
        verified = [label for label in labels if label.status is LabelStatus.verified]
        assert all(label.epoch == report.epoch for label in verified)
        assert report.labels_paid == len(verified)
        assert all(label.reason for label in labels if label.status is LabelStatus.rejected), (
            "every rejection carries a reason"
        )
        entitlements = session.scalars(
            select(Entitlement).where(Entitlement.epoch == report.epoch)
        ).all()
        debited = session.scalar(select(func.count()).select_from(EpochDebit))

    dusd, label_token = chain.dusd, chain.label
    # the chain paid exactly the cumulative entitlements we published, once
    for row in entitlements:
        assert chain.distributor.functions.claimed(row.account, row.token).call() == row.cumulative
        token = dusd if row.token == dusd.address else label_token
        assert token.functions.balanceOf(row.account).call() == row.cumulative
    assert debited == 1
    paid_label = sum(r.cumulative for r in entitlements if r.token == label_token.address)
    assert label_token.functions.totalSupply().call() == paid_label
    assert paid_label == sum(label.reward or 0 for label in verified)
    # the escrow still holds exactly what is not yet debited plus what is debited and unclaimed
    escrow_held = dusd.functions.balanceOf(chain.deployment.escrow).call()
    assert escrow_held == chain.escrow.functions.owed(dusd.address).call() + sum(
        chain.escrow.functions.dataset(ds).call()[3] for ds in _dataset_ids(instance)
    )


def _dataset_ids(instance: Instance) -> list[bytes]:
    from ledger.dataset.models import Dataset  # noqa: PLC0415

    with instance.runtime.db.unit_of_work() as session:
        return [bytes.fromhex(d.escrow_id[2:]) for d in session.scalars(select(Dataset))]
