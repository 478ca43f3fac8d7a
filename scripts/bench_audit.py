"""Benchmark of `label-ledger audit` (issue 5): a full audit of one epoch of 100k labels from 1k
annotators, beside the least any audit must do with the same files, in the same run.

Run it as `./scripts/bench-audit` (options: `--help`): about two minutes.

What it does:

1. Starts its own Anvil, deploys the LabelLedger with the dev stablecoin dUSD and a 2.5% fee.
   `--datasets` buyers' datasets are created and funded with `createAndFund(salt, ...)`, each salt
   the keccak256 of the dataset's terms (price, reward, a commitment to its gold answers).
2. Builds one epoch of `--labels` labels spread over `--annotators` annotators and the datasets
   (a tenth verified on gold, the rest by review, plus a gold rejection per 100 labels) with
   `ledger.publication.build_epoch_files`, proposes and accepts it on chain, and pays half the
   annotators with `claimMany` push batches; then closes one dataset and reveals its gold answers.
   Everything is written to a publication directory, as a settlement would.
3. Measures `--repeat` (default 3) interleaved rounds, medians reported:
   - full audit: `ledger.audit.offline.audit` from the directory, every check (chain logs, views,
     both dumps rebuilt, debits, entitlements, prices, verdicts, gold, claims, supply, escrow).
     It must pass.
   - baseline, roots only: our `StandardMerkleTree.loads` of the payout and label dumps (each leaf
     hashed and the tree rebuilt): the least any audit of these files must do.
   - the public JS library (`@openzeppelin/merkle-tree` 1.0.8) loading and validating the same
     two dumps (`StandardMerkleTree.load(...).validate()`, one `node` run; node's start included).

The bar: the full audit in under 30 s. PASS or FAIL is printed; exit 0 either way unless
`--enforce`. `--json PATH` writes every figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ledger.audit.offline import audit  # noqa: E402
from ledger.chain.client import ChainClient, Deployment, account_from_key  # noqa: E402
from ledger.chain.deploy import deploy_all  # noqa: E402
from ledger.chain.devnode import DEV_KEYS, Anvil  # noqa: E402
from ledger.claim.service import claim_many_args  # noqa: E402
from ledger.dataset.schemas import VerificationSpec  # noqa: E402
from ledger.merkle import StandardMerkleTree  # noqa: E402
from ledger.publication import (  # noqa: E402
    DatasetDebit,
    DatasetFiles,
    GoldRejection,
    PaidLabel,
    build_epoch_files,
    gold_document,
    graded_hash,
    instructions_hash,
    item_id_hash,
    keccak_hex,
    label_hash,
    random_nonce,
    terms_document,
    write_publication,
)

CLASSES = ["cat", "dog", "bird", "fish"]
FEE_BPS = 250
CLOSE_GRACE_PERIOD = 7 * 24 * 3600
JS_LOAD = REPO / "scripts" / "bench_audit_load.mjs"


@dataclass
class DatasetSpec:
    index: int
    buyer: LocalAccount
    price: int
    reward: int
    terms: str
    gold: str
    gold_answers: dict[str, str]  # item id -> answer
    gold_key: str
    item_key: str
    dataset_id: str = ""


def _address(i: int) -> str:
    return to_checksum_address(keccak(text=f"bench-audit annotator {i}")[12:])


def setup(client: ChainClient, deployment: Deployment, args: argparse.Namespace, out: Path) -> int:
    """Builds the workload on chain and in `out`; returns the number of label leaves."""
    rng = random.Random(5)
    operator = account_from_key(DEV_KEYS[0])
    ledger = client.contract("LabelLedger", deployment.ledger)
    dusd = client.contract("DevStablecoin", deployment.payment_tokens[0].address)
    annotators = [_address(i) for i in range(args.annotators)]
    reviewer = _address(10**6)
    per_dataset = args.labels // args.datasets

    specs: list[DatasetSpec] = []
    for d in range(args.datasets):
        buyer = account_from_key(DEV_KEYS[1 + d % (len(DEV_KEYS) - 1)])
        price, reward = 200_000 + 1_000 * d, 1_000_000
        gold_items = {f"d{d}-item-{j}": rng.choice(CLASSES) for j in range(0, per_dataset, 10)}
        gold_key, item_key = random_nonce(), random_nonce()
        gold = gold_document(
            gold_key, [(item_id_hash(item_key, i), a) for i, a in gold_items.items()]
        )
        terms = terms_document(
            buyer=buyer.address,
            payment_token=dusd.address,
            price_per_label=price,
            reward_per_label=reward,
            label_schema={"type": "classes", "classes": CLASSES},
            verification=VerificationSpec().model_dump(mode="json"),  # one label an item
            instructions_hash=instructions_hash("Label the animal.", []),
            gold_commitment=keccak_hex(gold),
            nonce=random_nonce(),
        )
        specs.append(
            DatasetSpec(d, buyer, price, reward, terms, gold, gold_items, gold_key, item_key)
        )

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("creating and funding datasets", total=len(specs))
        for spec in specs:
            funds = spec.price * per_dataset * 2
            salt = keccak(spec.terms.encode())
            client.transact(dusd.functions.mint(spec.buyer.address, funds), spec.buyer)
            client.transact(dusd.functions.approve(deployment.ledger, funds), spec.buyer)
            token = deployment.payment_tokens[0].index
            client.transact(ledger.functions.createAndFund(salt, token, funds), spec.buyer)
            spec.dataset_id = (
                "0x" + keccak(bytes.fromhex(spec.buyer.address[2:].rjust(64, "0")) + salt).hex()
            )
            progress.advance(task)

        paid: list[PaidLabel] = []
        rejected: list[GoldRejection] = []
        earned: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        debits: dict[str, int] = defaultdict(int)
        for n in range(per_dataset * args.datasets):
            spec = specs[n % args.datasets]
            item = f"d{spec.index}-item-{n // args.datasets}"
            annotator = annotators[n % args.annotators]
            answer = spec.gold_answers.get(item)
            item_hash = item_id_hash(spec.item_key, item)
            graded = None if answer is None else graded_hash(spec.gold_key, item_hash, answer)
            if answer is not None and graded is not None and n % 100 == 0:
                wrong = next(c for c in CLASSES if c != answer)
                rejected.append(
                    GoldRejection(
                        spec.dataset_id,
                        item_hash,
                        annotators[(n + 1) % args.annotators],
                        label_hash(random_nonce(), wrong),
                        graded,
                        graded_hash(spec.gold_key, item_hash, wrong),
                    )
                )
            value = answer if answer is not None else rng.choice(CLASSES)
            paid.append(
                PaidLabel(
                    dataset_id=spec.dataset_id,
                    item_id_hash=item_hash,
                    annotator=annotator,
                    label_hash=label_hash(random_nonce(), value),
                    method="gold" if answer is not None else "review",
                    payment=spec.price,
                    reward=spec.reward,
                    evidence=graded if graded is not None else reviewer,
                    graded=graded,
                )
            )
            earned[annotator][0] += spec.price
            earned[annotator][1] += spec.reward
            debits[spec.dataset_id] += spec.price

        task = progress.add_task(f"building epoch 1 ({len(paid):,} labels)", total=None)
        token = deployment.payment_tokens[0].index
        payout_leaves = [
            [a, str(token), str(p), str(r)]
            for a, (p, r) in sorted(earned.items(), key=lambda kv: int(kv[0], 16))
        ]
        files = build_epoch_files(
            chain_id=deployment.chain_id,
            ledger=deployment.ledger,
            number=1,
            payout_leaves=payout_leaves,
            paid=paid,
            gold_rejections=rejected,
            debits=[
                DatasetDebit(
                    dataset_id=spec.dataset_id,
                    token=token,
                    fee_bps=FEE_BPS,
                    debit=debits[spec.dataset_id],
                    fee=debits[spec.dataset_id] * FEE_BPS // 10_000,
                    labels=per_dataset,
                    terms_hash=keccak_hex(spec.terms),
                )
                for spec in specs
            ],
        )
        progress.remove_task(task)
        ids = sorted(specs, key=lambda s: s.dataset_id)
        client.transact(
            ledger.functions.proposeEpoch(
                1,
                HexBytes(files.payout_root),
                HexBytes(files.label_root),
                HexBytes(files.content_hash),
                [int(s.dataset_id, 16) for s in ids],
                [debits[s.dataset_id] for s in ids],
            ),
            operator,
        )
        client.transact(ledger.functions.acceptEpoch(), operator)

        tree = StandardMerkleTree.loads(files.payout_tree)
        half = len(payout_leaves) // 2
        task = progress.add_task("push-paying half the annotators", total=half)
        for start in range(0, half, 100):
            batch = tree.get_multiproof(list(range(start, min(start + 100, half))))
            client.transact(ledger.functions.claimMany(*claim_many_args(batch)), operator)
            progress.advance(task, len(batch.leaves))

        closed = specs[0]
        chain_id = int(closed.dataset_id, 16)
        client.transact(ledger.functions.requestClose(chain_id), closed.buyer)
        now = int(client.w3.eth.get_block("latest")["timestamp"])
        client.w3.provider.make_request("evm_setNextBlockTimestamp", [now + CLOSE_GRACE_PERIOD + 1])  # type: ignore[arg-type]
        client.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        client.transact(ledger.functions.finalizeClose(chain_id), closed.buyer)

    write_publication(
        out,
        chain_id=deployment.chain_id,
        ledger=deployment.ledger,
        epochs=[files],
        datasets=[
            DatasetFiles(s.dataset_id, s.terms, s.gold if s is closed else None) for s in specs
        ],
    )
    return len(paid)


def time_it(run: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=1_000)
    parser.add_argument("--datasets", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--enforce", action="store_true", help="exit 1 when the bar is missed")
    args = parser.parse_args(argv)
    console = Console()
    node = shutil.which("node")

    anvil = Anvil().start()
    work = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    try:
        client = ChainClient(anvil.rpc_url)
        deployment = deploy_all(
            client, account_from_key(DEV_KEYS[0]), with_dev_token=True, fee_bps=FEE_BPS
        )
        out = work / "published"
        labels = setup(client, deployment, args, out)
        epoch = out / "epochs" / "1"
        dumps = [epoch / "payout-tree.json", epoch / "label-tree.json"]
        size = sum(p.stat().st_size for p in dumps)

        def full() -> Any:
            report = audit(anvil.rpc_url, deployment, out)
            if not report.ok:
                report.print(console)
                raise SystemExit("the audit failed on an honest epoch: the benchmark is void")
            return report

        def roots() -> Any:
            return [StandardMerkleTree.loads(p.read_text()).root for p in dumps]

        def js() -> Any:
            if node is None:
                return None
            done = subprocess.run(
                [node, str(JS_LOAD), *map(str, dumps)],
                capture_output=True,
                text=True,
                check=True,
                cwd=REPO,
            )
            return done.stdout.split()

        phases = {"full audit (ours)": full, "roots only (ours)": roots, "JS load+validate": js}
        times: dict[str, list[float]] = {name: [] for name in phases}
        expected = roots()
        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("measuring", total=args.repeat * len(phases))
            for _ in range(args.repeat):
                for name, run in phases.items():
                    seconds, result = time_it(run)
                    if name != "full audit (ours)" and result is not None:
                        assert result == expected, f"{name} rebuilt other roots"
                    times[name].append(seconds)
                    progress.advance(task)
    finally:
        anvil.stop()
        shutil.rmtree(work, ignore_errors=True)

    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["roots only (ours)"]
    table = Table(title=f"audit of one epoch: {labels:,} labels, {args.annotators:,} annotators")
    for column in ("phase", "median s", "runs", "vs roots only"):
        table.add_column(column)
    for name, value in medians.items():
        if node is None and name == "JS load+validate":
            continue
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        table.add_row(name, f"{value:.2f}", runs, f"{value / base:.2f}x")
    console.print(table)
    console.print(
        f"dumps: {size:,} bytes; machine: {platform.machine()}, python {platform.python_version()}"
    )
    passed = medians["full audit (ours)"] < 30
    console.print(f"bar (full audit < 30 s): {'PASS' if passed else 'FAIL'}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "labels": labels,
                    "annotators": args.annotators,
                    "times": times,
                    "medians": medians,
                },
                indent=1,
            )
        )
    return 1 if args.enforce and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
