"""The whole pay-per-label loop, as `label-ledger demo` drives it, against a real instance.

Real HTTP to the real API, a real Anvil with our contracts, the mirror running, on SQLite and on
PostgreSQL. After the demo: the chain's own state must equal what the database says was paid.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import func, select

from ledger.annotation.models import Label, LabelStatus
from ledger.dataset.models import Dataset, Item
from ledger.dataset.service import label_type_of, status_of
from ledger.demo import run_demo
from ledger.kinds import KINDS
from ledger.settlement.models import Entitlement, EpochDebit
from ledger.showcase import ITEMS_PER_KIND
from tests.conftest import Instance
from tests.support import Chain

pytestmark = pytest.mark.chain


def test_demo_loop_pays_every_verified_label_and_balances_equal_the_chain(
    instance: Instance, chain: Chain, tmp_path: Path
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
    refusals = ("422 label_outside_schema", "404 unknown_item", "409 duplicate_label")
    for code in (*refusals, "409 item_full"):
        assert code in printed
    assert "the buyer sees: {'broken_media': 1}" in printed

    db = instance.runtime.db
    with db.unit_of_work() as session:
        labels = session.scalars(select(Label)).all()
        items = {item.id: item for item in session.scalars(select(Item))}
        reviewed = [label for label in labels if label.dataset_id == 1]
        # every item of the reviewed dataset was labelled, a plain item paid at most once (its
        # overlap), a gold item answered by at most its gold overlap; a rejected label's item
        # went to another annotator
        assert {label.item_id for label in reviewed} == {
            item.id for item in items.values() if item.dataset_id == 1
        }
        for item_id, count in Counter(
            label.item_id for label in reviewed if label.status is LabelStatus.verified
        ).items():
            assert count <= (10 if items[item_id].gold else 1)
        relabelled = Counter(label.item_id for label in reviewed if not items[label.item_id].gold)
        assert max(relabelled.values()) > 1
        held = Counter(label.item_id for label in labels if label.holds_place)
        assert all(item.places_taken == held[item.id] for item in items.values())
        # the consensus dataset: 50 items, each with 3 labels, up to 5 while they disagree
        by_item = Counter(label.item_id for label in labels if label.dataset_id == 2)
        assert len(by_item) == 50
        assert set(by_item.values()) <= {3, 4, 5}
        methods = {label.method for label in labels if label.dataset_id == 2}
        assert "consensus" in methods
        verified = [label for label in labels if label.status is LabelStatus.verified]
        assert all(label.epoch == report.epoch for label in verified)
        assert report.labels_paid == len(verified)
        assert all(label.reason for label in labels if label.status is LabelStatus.rejected), (
            "every rejection carries a reason"
        )
        entitlements = session.scalars(
            select(Entitlement).where(Entitlement.epoch == report.epoch)
        ).all()
        # then the showcase: a dataset of every label kind, funded, its items waiting for a
        # person in the web app (none labelled: the epoch paid the two datasets above only)
        showcase = session.scalars(select(Dataset).where(Dataset.id > 2)).all()
        assert sorted(label_type_of(d) for d in showcase) == sorted(KINDS)
        for dataset in showcase:
            assert status_of(session, dataset) == "open", dataset.name
            assert (
                session.scalar(
                    select(func.count()).select_from(Item).where(Item.dataset_id == dataset.id)
                )
                == ITEMS_PER_KIND
            )
        debited = session.scalar(select(func.count()).select_from(EpochDebit))

    dusd, ledger = chain.dusd, chain.ledger
    # the chain paid exactly the cumulative entitlements we published, once
    for row in entitlements:
        assert ledger.functions.claimed(row.account, row.token_index).call() == [
            row.cumulative_payment,
            row.cumulative_reward,
        ]
        assert dusd.functions.balanceOf(row.account).call() == row.cumulative_payment
        assert ledger.functions.balanceOf(row.account).call() == row.cumulative_reward
    assert debited == 2  # the reviewed dataset and the consensus one
    paid_label = sum(r.cumulative_reward for r in entitlements)
    assert ledger.functions.totalSupply().call() == paid_label
    assert paid_label == sum(label.reward or 0 for label in verified)
    # the ledger holds exactly what is not yet debited, plus what is owed and the fees
    held = dusd.functions.balanceOf(chain.deployment.ledger).call()
    owed, fees = ledger.functions.tokenState(chain.dusd_index).call()
    assert held == owed + fees + sum(chain.dataset(ds)[5] for ds in _dataset_ids(instance))
    assert owed == 0  # every annotator claimed

    # An auditor with the RPC URL, the deployment file and the publication, and no database: the
    # directory the settlement wrote, and the same files from the API by URL.
    deployment_file = tmp_path / "audit-deployment.json"
    chain.deployment.save(deployment_file)
    for source in (str(instance.runtime.settings.publish_dir), f"{instance.url}/v1/published"):
        audited = subprocess.run(
            [
                str(Path(sys.executable).parent / "label-ledger"),
                "audit",
                *("--rpc", chain.client.rpc_url, "--deployment", str(deployment_file)),
                *("--epochs", source, "--json"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
        assert audited.returncode == 0, audited.stdout + audited.stderr
        verdict = json.loads(audited.stdout)
        assert verdict["ok"] is True
        statuses = {check["name"]: check["status"] for check in verdict["checks"]}
        assert statuses.get("claims") == "pass", statuses
        assert set(statuses.values()) <= {"pass", "pending"}, statuses


def _dataset_ids(instance: Instance) -> list[str]:
    from ledger.dataset.models import Dataset  # noqa: PLC0415

    with instance.runtime.db.unit_of_work() as session:
        return [d.chain_dataset_id for d in session.scalars(select(Dataset))]
