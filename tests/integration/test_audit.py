"""`label-ledger audit` against a real Anvil and real publications, no database, no mocks.

Each test builds its history on chain the way the service does (terms -> salt -> createAndFund,
proposeEpoch with the publication's roots and content hash, acceptEpoch, claims, closing), writes
the publication with `ledger.publication`, then audits it; the failing ones change one thing and
expect the audit to name exactly that.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
from eth_account import Account
from hexbytes import HexBytes

from ledger.audit.offline import FAILED, PASSED, PENDING, AuditInputError, AuditReport, audit
from ledger.dataset.schemas import VerificationSpec
from ledger.merkle import StandardMerkleTree
from ledger.publication import (
    PAYOUT_LEAF_ENCODING,
    DatasetDebit,
    DatasetFiles,
    EpochFiles,
    GoldRejection,
    PaidLabel,
    build_epoch_files,
    gold_document,
    graded_hash,
    keccak_hex,
    random_nonce,
    terms_document,
    write_publication,
)
from tests.rpcproxy import RpcProxy, http_error, max_range
from tests.support import Chain

pytestmark = pytest.mark.chain

SCRIPT = Path(sys.executable).parent / "label-ledger"
DAY = 24 * 3600
FEE_BPS = 250
REVIEW_PRICE, REVIEW_REWARD = 250_000, 10**6
GOLD_PRICE, GOLD_REWARD = 400_000, 2 * 10**6
GOLD_ITEMS = [f"g-{n}" for n in range(4)]


@dataclass
class Options:
    """What to do differently from the honest history."""

    overpay: bool = False  # epoch 2 pays w1's review label price + 1 (debited consistently)
    bogus_root: bool = False  # epoch 3 is proposed with a payout root other than its files'
    wrong_rejection_answer: bool = False  # epoch 2's gold rejection names a non-committed answer
    close_gold: bool = True  # the gold dataset is closed after epoch 2
    reveal_gold: bool = True
    changed_reveal: bool = False  # gold.json published with one answer changed
    second_review: bool = False  # epoch 2 also pays w1 a review label on a-3, w2's one place
    appeal: bool = False  # epoch 2 also pays w1 an upheld dispute on a-3: beyond its one place
    gold_overlap: int = 10  # how many annotators the gold dataset's terms let answer a gold item
    workers: int = 3


@dataclass
class Labels:
    paid: list[PaidLabel] = field(default_factory=list)
    rejected: list[GoldRejection] = field(default_factory=list)


@dataclass
class History:
    chain: Chain
    directory: Path
    deployment_file: Path
    review_id: str
    gold_id: str
    workers: list[str]
    epochs: dict[int, EpochFiles]
    payout_leaves: dict[int, list[list[str]]]
    blocks: dict[str, int]

    def audit(self, source: str | Path | None = None) -> AuditReport:
        return audit(self.chain.client.rpc_url, self.chain.deployment, source or self.directory)


def h(text: str) -> str:
    return keccak_hex(text)


class Builder:
    """Writes one history on chain, epoch by epoch, as the service would."""

    def __init__(self, chain: Chain, tmp_path: Path, options: Options) -> None:
        self.chain = chain
        self.tmp_path = tmp_path
        self.options = options
        self.token = chain.dusd_index
        self.cumulative: dict[tuple[str, int], list[int]] = {}
        self.epochs: dict[int, EpochFiles] = {}
        self.payout_leaves: dict[int, list[list[str]]] = {}
        self.before: dict[tuple[str, int], list[int]] = {}
        self.proposed: tuple[list[str], list[int]] = ([], [])
        self.blocks: dict[str, int] = {}
        self.reviewer = Account.create().address
        self.workers = [Account.create().address for _ in range(options.workers)]
        buyer = chain.buyer.address
        token = chain.dusd.address
        self.review_terms = terms_document(
            buyer=buyer,
            payment_token=token,
            price_per_label=REVIEW_PRICE,
            reward_per_label=REVIEW_REWARD,
            label_schema={"classes": ["cat", "dog"]},
            verification=VerificationSpec(overlap=1).model_dump(mode="json"),
            instructions_hash=h("label the animal"),
            gold_commitment=None,
            nonce=random_nonce(),
        )
        self.gold_key = random_nonce()
        self.gold = gold_document(self.gold_key, [(h(item), "cat") for item in GOLD_ITEMS])
        self.gold_terms = terms_document(
            buyer=buyer,
            payment_token=token,
            price_per_label=GOLD_PRICE,
            reward_per_label=GOLD_REWARD,
            label_schema={"classes": ["cat", "dog"]},
            verification=VerificationSpec(gold_overlap=options.gold_overlap).model_dump(
                mode="json"
            ),
            instructions_hash=h("label the animal"),
            gold_commitment=h(self.gold),
            nonce=random_nonce(),
        )
        self.review_id = chain.fund_dataset(salt_of(self.review_terms), 5_000_000)
        self.gold_id = chain.fund_dataset(salt_of(self.gold_terms), 5_000_000)

    # -- labels --

    def review(self, worker: int, item: str, *, price: int = REVIEW_PRICE) -> PaidLabel:
        return PaidLabel(
            self.review_id,
            h(item),
            self.workers[worker],
            h("cat"),
            "review",
            price,
            REVIEW_REWARD,
            self.reviewer,
        )

    def appeal(self, worker: int, item: str) -> PaidLabel:
        """A rejected label reinstated by an upheld dispute, decided by an operator: paid at the
        committed price and reward, with who upheld it as its evidence."""
        return PaidLabel(
            self.review_id,
            h(item),
            self.workers[worker],
            h(f"salt {worker} {item} appealed"),
            "appeal",
            REVIEW_PRICE,
            REVIEW_REWARD,
            self.chain.operator.address,
        )

    def graded(self, item: str, value: str) -> str:
        return graded_hash(self.gold_key, h(item), value)

    def gold_paid(self, worker: int, item: str) -> PaidLabel:
        return PaidLabel(
            self.gold_id,
            h(item),
            self.workers[worker],
            h(f"salt {worker} {item}"),
            "gold",
            GOLD_PRICE,
            GOLD_REWARD,
            self.graded(item, "cat"),
            self.graded(item, "cat"),
        )

    def gold_rejected(self, worker: int, item: str, answer: str = "cat") -> GoldRejection:
        return GoldRejection(
            self.gold_id,
            h(item),
            self.workers[worker],
            h(f"salt {worker} {item} dog"),
            self.graded(item, answer),
            self.graded(item, "dog"),
        )

    # -- epochs --

    def epoch(self, number: int, labels: Labels, *, accept: bool, root: str | None = None) -> None:
        self.before = {k: list(v) for k, v in self.cumulative.items()}
        debits: dict[str, list[int]] = {}
        for label in labels.paid:
            sums = self.cumulative.setdefault((label.annotator, self.token), [0, 0])
            sums[0] += label.payment
            sums[1] += label.reward
            debit = debits.setdefault(label.dataset_id, [0, 0])
            debit[0] += label.payment
            debit[1] += 1
        leaves = [
            [account, str(token), str(pay), str(reward)]
            for (account, token), (pay, reward) in sorted(self.cumulative.items())
        ]
        salts = {self.review_id: h(self.review_terms), self.gold_id: h(self.gold_terms)}
        files = build_epoch_files(
            chain_id=self.chain.deployment.chain_id,
            ledger=self.chain.deployment.ledger,
            number=number,
            previous_payout_root=(
                self.epochs[number - 1].payout_root if number - 1 in self.epochs else None
            ),
            payout_leaves=leaves,
            paid=labels.paid,
            gold_rejections=labels.rejected,
            debits=[
                DatasetDebit(
                    dataset_id=dataset_id,
                    token=self.token,
                    fee_bps=FEE_BPS,
                    debit=amount,
                    fee=amount * FEE_BPS // 10_000,
                    labels=count,
                    terms_hash=salts[dataset_id],
                )
                for dataset_id, (amount, count) in sorted(debits.items())
            ],
        )
        ids = sorted(debits)
        ledger = self.chain.ledger.functions
        self.chain.send(
            ledger.proposeEpoch(
                number,
                HexBytes(root or files.payout_root),
                HexBytes(files.label_root),
                HexBytes(files.content_hash),
                [int(i, 16) for i in ids],
                [debits[i][0] for i in ids],
            ),
            self.chain.operator,
        )
        if accept:
            self.accept()
        self.epochs[number] = files
        self.payout_leaves[number] = leaves
        self.proposed = (ids, [debits[i][0] for i in ids])

    def accept(self) -> None:
        if self.chain.deployment.timelock:
            self.chain.warp_to(self.chain.now() + self.chain.deployment.timelock)
        self.chain.send(self.chain.ledger.functions.acceptEpoch(), self.chain.operator)

    def revoke(self, number: int, *, forget: bool = True) -> None:
        """The guardian revokes the pending epoch `number`; `forget` drops it from what will be
        published too (as the service does), and its labels from the cumulatives."""
        ids, debits = self.proposed
        self.chain.send(
            self.chain.ledger.functions.revokeEpoch([int(i, 16) for i in ids], debits),
            self.chain.operator,
        )
        if forget:
            self.cumulative = {k: list(v) for k, v in self.before.items()}
            del self.epochs[number], self.payout_leaves[number]

    def claim(self, number: int, worker: int) -> None:
        leaves = self.payout_leaves[number]
        account = self.workers[worker]
        index = next(i for i, leaf in enumerate(leaves) if leaf[0] == account)
        tree = StandardMerkleTree.of(leaves, PAYOUT_LEAF_ENCODING, sort_leaves=False)
        send_claim(self.chain, leaves[index], tree.get_proof(index))

    def build(self) -> History:
        o, chain = self.options, self.chain
        self.epoch(
            1,
            Labels(
                paid=[self.review(0, "a-0"), self.review(1, "a-1"), self.gold_paid(0, "g-0")],
                rejected=[self.gold_rejected(1, "g-1")],
            ),
            accept=True,
        )
        self.claim(1, 1)
        self.blocks["after epoch 1"] = chain.head()[0]
        rejection_answer = "bird" if o.wrong_rejection_answer else "cat"
        paid = [
            self.review(0, "a-2", price=REVIEW_PRICE + (1 if o.overpay else 0)),
            self.review(2, "a-3"),
            self.gold_paid(1, "g-2"),
        ]
        if o.second_review:
            paid.append(self.review(1, "a-3"))
        if o.appeal:
            paid.append(self.appeal(1, "a-3"))
        self.epoch(
            2,
            Labels(paid=paid, rejected=[self.gold_rejected(2, "g-3", rejection_answer)]),
            accept=True,
        )
        self.claim(2, 0)
        treasury = Account.create().address
        chain.send(chain.ledger.functions.withdrawFees(self.token, treasury), chain.operator)
        if o.close_gold:
            gold = int(self.gold_id, 16)
            chain.send(chain.ledger.functions.requestClose(gold), chain.buyer)
            chain.warp_to(chain.now() + 7 * DAY + 1)
            chain.send(chain.ledger.functions.finalizeClose(gold), chain.buyer)
        bogus = h("not the published payout root") if o.bogus_root else None
        self.epoch(3, Labels(paid=[self.review(1, "a-4")]), accept=False, root=bogus)
        return self.publish()

    def publish(self) -> History:
        gold: str | None = None
        if self.options.reveal_gold:
            gold = self.gold
            if self.options.changed_reveal:
                changed = [
                    (h(item), "dog" if item == GOLD_ITEMS[2] else "cat") for item in GOLD_ITEMS
                ]
                gold = gold_document(self.gold_key, changed)
        directory = self.tmp_path / "publication"
        write_publication(
            directory,
            chain_id=self.chain.deployment.chain_id,
            ledger=self.chain.deployment.ledger,
            epochs=self.epochs.values(),
            datasets=[
                DatasetFiles(self.review_id, self.review_terms, None),
                DatasetFiles(self.gold_id, self.gold_terms, gold),
            ],
        )
        deployment_file = self.tmp_path / "deployment.json"
        self.chain.deployment.save(deployment_file)
        return History(
            chain=self.chain,
            directory=directory,
            deployment_file=deployment_file,
            review_id=self.review_id,
            gold_id=self.gold_id,
            workers=self.workers,
            epochs=self.epochs,
            payout_leaves=self.payout_leaves,
            blocks=self.blocks,
        )


def salt_of(terms: str) -> bytes:
    return bytes.fromhex(h(terms)[2:])


def send_claim(chain: Chain, leaf: list[str], proof: list[str]) -> None:
    account, token, payment, reward = leaf
    chain.send(
        chain.ledger.functions.claim(
            account, int(token), int(payment), int(reward), [HexBytes(p) for p in proof]
        ),
        chain.operator,
    )


@pytest.fixture
def fee_chain(redeploy: Callable[..., Chain]) -> Chain:
    return redeploy(fee_bps=FEE_BPS)


@pytest.fixture
def history_of(fee_chain: Chain, tmp_path: Path) -> Callable[..., History]:
    def build(**changes: bool | int) -> History:
        return Builder(fee_chain, tmp_path, Options(**changes)).build()

    return build


def statuses(report: AuditReport) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def failed_only(report: AuditReport, *names: str) -> None:
    """Exactly the checks `names` fail; the others pass (or are pending)."""
    failed = {c.name for c in report.checks if c.status == FAILED}
    assert failed == set(names), json.dumps(report.to_json(), indent=1)[:4000]


def problems(report: AuditReport, name: str) -> list[dict[str, str]]:
    return report.check(name).rows


# --- the honest history -----------------------------------------------------------------------


def test_an_honest_history_passes_every_check(history_of: Callable[..., History]) -> None:
    history = history_of()
    stages: list[tuple[str, int, int]] = []
    report = audit(
        history.chain.client.rpc_url,
        history.chain.deployment,
        history.directory,
        progress=lambda stage, done, total: stages.append((stage, done, total)),
    )
    assert report.ok, json.dumps(report.to_json(), indent=1)
    assert set(statuses(report).values()) == {PASSED}
    assert report.check("overlap").status == PASSED
    assert report.check("overlap").summary.startswith("7 item(s): none is paid more labels")
    assert {"reading chain logs", "loading epoch 3", "checking escrow"} <= {s for s, _, _ in stages}
    assert stages[-1] == ("done", 13, 13)
    document = report.to_json()
    assert list(document) == ["ok", "block", "chainId", "ledger", "checks"]
    assert [c["name"] for c in document["checks"]] == [
        "epochs-published",
        "commitments",
        "dumps",
        "terms",
        "debits",
        "entitlements",
        "prices",
        "overlap",
        "verdicts",
        "gold",
        "claims",
        "supply",
        "escrow",
    ]
    assert document["ledger"] == history.chain.deployment.ledger
    assert all(set(c) == {"name", "status", "summary", "rows"} for c in document["checks"])


def test_an_earlier_block_sees_later_epochs_as_not_proposed_yet(
    history_of: Callable[..., History],
) -> None:
    history = history_of()
    block = history.blocks["after epoch 1"]
    report = audit(
        history.chain.client.rpc_url, history.chain.deployment, history.directory, block=block
    )
    assert report.block == block
    failed_only(report, "epochs-published")
    assert problems(report, "epochs-published") == [
        {"epoch": str(n), "problem": f"published but never proposed (as of block {block})"}
        for n in (2, 3)
    ]


def test_a_revoked_proposal_is_ignored_and_a_pending_epoch_counts(
    redeploy: Callable[..., Chain], tmp_path: Path
) -> None:
    chain = redeploy(timelock=DAY, fee_bps=FEE_BPS)
    builder = Builder(chain, tmp_path, Options())
    # epoch 1 is proposed, revoked by the guardian, and proposed again with other labels
    builder.epoch(1, Labels(paid=[builder.review(0, "a-0", price=1)]), accept=False)
    builder.revoke(1)
    builder.epoch(
        1, Labels(paid=[builder.review(1, "a-1"), builder.gold_paid(0, "g-0")]), accept=True
    )
    builder.epoch(2, Labels(paid=[builder.review(2, "a-2")]), accept=False)  # in its timelock
    history = builder.publish()
    report = history.audit()
    assert report.ok, json.dumps(report.to_json(), indent=1)
    assert report.check("gold").status == PASSED  # revealed while open: checked already

    # the guardian revokes epoch 2 too, but it stays published
    builder.revoke(2, forget=False)
    revoked = history.audit()
    failed_only(revoked, "epochs-published")
    assert problems(revoked, "epochs-published") == [
        {"epoch": "2", "problem": f"published but revoked on chain (as of block {revoked.block})"}
    ]


def test_the_cli_prints_the_report_as_json_and_exits_by_verdict(
    history_of: Callable[..., History], tmp_path: Path
) -> None:
    history = history_of()
    rpc = history.chain.client.rpc_url
    base = ["audit", "--rpc", rpc, "--deployment", str(history.deployment_file)]
    result = run_cli(*base, "--epochs", str(history.directory), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert document["block"] == history.chain.head()[0]

    human = run_cli(*base, "--epochs", str(history.directory), cwd=tmp_path)
    assert human.returncode == 0, human.stdout + human.stderr
    assert "escrow" in human.stdout
    assert "every check passed" in human.stdout

    tamper_payout(history.directory / "epochs" / "1" / "payout-tree.json")
    failing = run_cli(*base, "--epochs", str(history.directory), "--json", cwd=tmp_path)
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert json.loads(failing.stdout)["ok"] is False

    missing = run_cli(*base, "--epochs", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert missing.returncode == 2, missing.stdout + missing.stderr
    assert "does not exist" in missing.stdout


def test_a_publication_served_over_http_audits_the_same(
    history_of: Callable[..., History],
) -> None:
    history = history_of()
    with serve(history.directory) as url:
        over_http = history.audit(url).to_json()
    assert over_http == history.audit().to_json()
    assert over_http["ok"] is True


def test_a_provider_refusing_wide_log_ranges_and_rate_limiting_audits_the_same(
    history_of: Callable[..., History],
) -> None:
    """Hosted providers cap eth_getLogs ranges and answer 429: the audit halves its range until
    the provider accepts it, waits out the rate limit, and reports exactly what it reports over a
    well-behaved node (the same block, the same findings)."""
    history = history_of()
    direct = history.audit().to_json()
    with RpcProxy(history.chain.client.rpc_url, seed=3) as proxy:
        proxy.faults = [max_range(4), http_error(429, retry_after=0.05, times=2)]
        via_proxy = audit(proxy.url, history.chain.deployment, history.directory, block=None)
        assert proxy.fired["max_range"] >= 1, proxy.fired
        assert proxy.fired["http_error"] == 2, proxy.fired
    assert via_proxy.to_json() == direct
    assert via_proxy.ok


def test_an_open_gold_dataset_without_a_reveal_is_pending_and_a_closed_one_fails(
    history_of: Callable[..., History],
) -> None:
    history = history_of(close_gold=False, reveal_gold=False)
    report = history.audit()
    assert report.ok
    assert report.check("gold").status == PENDING
    [row] = problems(report, "gold")
    assert row["dataset"] == history.gold_id

    # the buyer closes it: the answers were never revealed, and now they must be
    chain, gold = history.chain, int(history.gold_id, 16)
    chain.send(chain.ledger.functions.requestClose(gold), chain.buyer)
    chain.warp_to(chain.now() + 7 * DAY + 1)
    chain.send(chain.ledger.functions.finalizeClose(gold), chain.buyer)
    closed = history.audit()
    failed_only(closed, "gold")
    [row] = problems(closed, "gold")
    assert row["dataset"] == history.gold_id
    assert "closed without revealing gold.json" in row["problem"]


# --- what the audit must catch ----------------------------------------------------------------


def tamper_payout(path: Path) -> tuple[str, str]:
    """Raises one leaf's cumulativePayment by 1 in a payout dump; returns (account, new amount)."""
    dump = json.loads(path.read_text())
    value = dump["values"][0]["value"]
    value[2] = str(int(value[2]) + 1)
    path.write_text(json.dumps(dump, separators=(",", ":")))
    return value[0], value[2]


def test_a_tampered_payout_dump_fails_naming_the_leaf(history_of: Callable[..., History]) -> None:
    history = history_of()
    account, amount = tamper_payout(history.directory / "epochs" / "2" / "payout-tree.json")
    report = history.audit()
    assert not report.ok
    rows = problems(report, "dumps")
    assert {r["epoch"] for r in rows} == {"2"}
    assert {r["file"] for r in rows} == {"payout-tree.json"}
    assert any("keccak256" in r["problem"] and "manifest files" in r["problem"] for r in rows)
    [invalid] = [r for r in rows if r["problem"].startswith("invalid dump")]
    assert "values[0] does not match its leaf" in invalid["problem"]
    assert json.loads(invalid["leaf"])[0] == account
    assert json.loads(invalid["leaf"])[2] == amount
    # what needs epoch 2's payout tree says it was not checked, and fails nothing else
    failed_only(report, "dumps")
    assert "not checked for epoch(s) 2, 3" in report.check("entitlements").summary


def test_a_label_paid_above_its_price_fails_naming_the_label(
    history_of: Callable[..., History],
) -> None:
    history = history_of(overpay=True)
    report = history.audit()
    failed_only(report, "prices")
    [row] = problems(report, "prices")
    assert row["epoch"] == "2"
    assert row["dataset"] == history.review_id
    assert row["annotator"] == history.workers[0].lower()
    assert row["item"] == h("a-2")
    assert row["payment"] == str(REVIEW_PRICE + 1)
    assert row["problem"] == f"payment {REVIEW_PRICE + 1} != pricePerLabel {REVIEW_PRICE}"


def test_a_second_review_label_on_an_overlap_1_item_fails_naming_the_item(
    history_of: Callable[..., History],
) -> None:
    history = history_of(second_review=True)
    report = history.audit()
    # each label is priced, verified and debited as an honest one: only the count gives it away
    failed_only(report, "overlap")
    assert problems(report, "overlap") == [
        {
            "dataset": history.review_id,
            "item": h("a-3"),
            "paid": "2",
            "allowed": "1",
            "epochs": "2",
            "problem": "2 labels paid on this item (appeals aside), its terms allow 1 "
            "(overlap, under review)",
        }
    ]


def test_an_appeal_is_paid_beyond_the_overlap(history_of: Callable[..., History]) -> None:
    history = history_of(appeal=True)
    report = history.audit()
    assert report.ok, json.dumps(report.to_json(), indent=1)
    assert set(statuses(report).values()) == {PASSED}
    # the appeal is a label like any other to the checks that count labels and money
    assert report.check("verdicts").summary.startswith("8 label(s)")
    assert report.check("prices").summary.startswith("8 label(s)")
    # and takes none of its item's places: a-3 counts one label, w2's review
    assert report.check("overlap").summary.startswith("7 item(s): none is paid more labels")


def test_a_gold_item_is_paid_up_to_its_gold_overlap_and_no_more(
    fee_chain: Chain, tmp_path: Path
) -> None:
    builder = Builder(fee_chain, tmp_path, Options(gold_overlap=3, workers=4))
    # three annotators answer g-0 right over two epochs: its gold overlap, not the overlap of 1
    builder.epoch(
        1,
        Labels(
            paid=[builder.gold_paid(0, "g-0"), builder.gold_paid(1, "g-0")],
            rejected=[builder.gold_rejected(3, "g-1")],
        ),
        accept=True,
    )
    builder.epoch(2, Labels(paid=[builder.gold_paid(2, "g-0")]), accept=True)
    history = builder.publish()
    report = history.audit()
    assert report.ok, json.dumps(report.to_json(), indent=1)
    assert set(statuses(report).values()) == {PASSED}

    # a fourth is one too many
    builder.epoch(3, Labels(paid=[builder.gold_paid(3, "g-0")]), accept=True)
    report = builder.publish().audit()
    failed_only(report, "overlap")
    assert problems(report, "overlap") == [
        {
            "dataset": history.gold_id,
            "item": h("g-0"),
            "paid": "4",
            "allowed": "3",
            "epochs": "1, 2, 3",
            "problem": "4 labels paid on this item (appeals aside), its terms allow 3 "
            "(gold_overlap, for a gold item)",
        }
    ]


def test_a_root_on_chain_that_is_not_the_published_one_fails(
    history_of: Callable[..., History],
) -> None:
    history = history_of(bogus_root=True)
    report = history.audit()
    failed_only(report, "commitments")
    [row] = problems(report, "commitments")
    assert row["epoch"] == "3"
    assert row["problem"].startswith(f"manifest payoutRoot {history.epochs[3].payout_root} != ")
    assert h("not the published payout root") in row["problem"]


def test_a_claim_above_the_entitlement_fails_naming_the_account(
    history_of: Callable[..., History],
) -> None:
    history = history_of()
    chain = history.chain
    root = "0x" + bytes(chain.ledger.functions.payoutRoot().call()).hex()
    slot = storage_slot_holding(chain, root)
    # a root whose leaf for worker 2 carries 5 LABEL base units more reward than earned
    leaves = [list(leaf) for leaf in history.payout_leaves[2]]
    index = next(i for i, leaf in enumerate(leaves) if leaf[0] == history.workers[2])
    leaves[index][3] = str(int(leaves[index][3]) + 5)
    inflated = StandardMerkleTree.of(leaves, PAYOUT_LEAF_ENCODING, sort_leaves=False)
    set_storage(chain, slot, inflated.root)
    send_claim(chain, leaves[index], inflated.get_proof(index))
    set_storage(chain, slot, root)

    report = history.audit()
    failed_only(report, "claims")
    [row] = problems(report, "claims")
    assert row["account"] == history.workers[2].lower()
    honest = history.payout_leaves[2][index]
    assert row["problem"] == (
        f"claimed ({honest[2]}, {int(honest[3]) + 5}) (payment, reward) > entitlement "
        f"({honest[2]}, {honest[3]}) in accepted epoch 2"
    )


def test_a_changed_gold_answer_fails_the_commitment(history_of: Callable[..., History]) -> None:
    history = history_of(changed_reveal=True)
    report = history.audit()
    failed_only(report, "gold")
    [row] = problems(report, "gold")
    assert row["dataset"] == history.gold_id
    assert row["problem"].startswith("keccak256(gold.json) ")
    assert "!= goldCommitment" in row["problem"]


def test_a_rejection_against_an_answer_not_committed_fails_naming_it(
    history_of: Callable[..., History],
) -> None:
    history = history_of(wrong_rejection_answer=True)
    report = history.audit()
    failed_only(report, "gold")
    [row] = problems(report, "gold")
    assert row["epoch"] == "2"
    assert row["verdict"] == "rejected"
    assert row["item"] == h("g-3")
    assert row["annotator"] == history.workers[2].lower()
    revealed = history.directory / "datasets" / history.gold_id / "gold.json"
    key = json.loads(revealed.read_text())["key"]
    bird, cat = (graded_hash(key, h("g-3"), answer) for answer in ("bird", "cat"))
    assert row["problem"] == f"answer hash {bird} != revealed {cat}"


def test_bad_input_is_an_input_error(history_of: Callable[..., History], tmp_path: Path) -> None:
    history = history_of()
    (tmp_path / "empty").mkdir()
    with pytest.raises(AuditInputError, match=r"has no index\.json"):
        history.audit(tmp_path / "empty")
    with pytest.raises(AuditInputError, match="outside the ledger's history"):
        audit(
            history.chain.client.rpc_url,
            history.chain.deployment,
            history.directory,
            block=history.chain.head()[0] + 100,
        )


# --- helpers ----------------------------------------------------------------------------------


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_LEDGER_")}
    return subprocess.run(
        [str(SCRIPT), *args],
        env={**env, "COLUMNS": "200"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


class serve:  # noqa: N801 (a context manager used like a function)
    """Serves `directory` over HTTP on a free port while in use; yields the base URL."""

    def __init__(self, directory: Path) -> None:
        handler = partial(_QuietHandler, directory=str(directory))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def storage_slot_holding(chain: Chain, value: str) -> int:
    """The first storage slot of the ledger whose word is `value` (the private `_payoutRoot`)."""
    for slot in range(64):
        word = chain.rpc("eth_getStorageAt", chain.deployment.ledger, hex(slot), "latest")
        if int(word, 16) == int(value, 16):
            return slot
    raise AssertionError(f"no slot below 64 holds {value}")


def set_storage(chain: Chain, slot: int, value: str) -> None:
    chain.rpc("anvil_setStorageAt", chain.deployment.ledger, hex(slot), value)
