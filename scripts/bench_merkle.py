"""Benchmark of ledger/merkle.py against @openzeppelin/merkle-tree on a payout tree, in one run.

Run it from anywhere as `./scripts/bench-merkle` (options: `--help`): about 20 minutes for the
default 1,000,000 leaves (ours about 1 minute; the JS library about 5 minutes to build and 15 to
prove, its getProof re-hashing the leaf and verifying each proof); 1.5 minutes for 100k leaves.

What it does, in order:

1. Generates `--leaves` payout leaves in the service's encoding
   (`ledger.publication.PAYOUT_LEAF_ENCODING`: address account, uint16 token, uint256
   payment, uint256 reward), in the service's form and layout: EIP-55 addresses, decimal strings,
   ascending by (account, token), two tokens per account, leaves not sorted by hash
   (`sort_leaves=False`, as `build_epoch` builds the payout tree; `--sort-leaves` for the library
   default). Random but seeded (`--seed`), so runs are comparable.
2. Ours, in this process: `StandardMerkleTree.of(...)` (build: validation, ABI encoding, leaf and
   node hashing), `tree.dumps()` (dump: the standard-v1 JSON text) and `tree.get_proof(i)` for
   every value index (prove all).
3. The JS library, `node scripts/bench_merkle.mjs`, on the same values (handed over in a temp JSON
   file): `StandardMerkleTree.of(...)`, `JSON.stringify(tree.dump())` and `tree.getProof(i)` for
   every index. Only those three are timed, in the Node process; reading the input and writing
   the results are not.
4. Compares, after the clocks stop: the roots, the dumps byte for byte (the JS dump is written to
   a temp file), and every proof (through a SHA-256 over all of them, in value order). Any
   difference is a bug in ledger/merkle.py: it is printed, and the exit status is 1.

The bar: ours faster than the JS library in every phase. PASS or FAIL is printed; the exit status
is 0 either way (unless results differ) unless `--enforce`. `--json PATH` writes every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from eth_utils.address import to_checksum_address
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: make `ledger` importable

from ledger.merkle import StandardMerkleTree  # noqa: E402
from ledger.publication import PAYOUT_LEAF_ENCODING  # noqa: E402

JS_SCRIPT = ROOT / "scripts" / "bench_merkle.mjs"
PHASES = ("build", "dump", "prove")
PHASE_LABELS = {"build": "build", "dump": "dump", "prove": "prove all"}
PROGRESS_EVERY = 10_000
TOKENS = (1, 2)

console = Console(highlight=False)
T = TypeVar("T")


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def payout_values(count: int, seed: int) -> list[list[str]]:
    """``count`` payout leaves as ``build_epoch`` makes them: [account, token, payment, reward]."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    accounts = sorted(rng.randbytes(20) for _ in range((count + 1) // len(TOKENS)))
    values: list[list[str]] = []
    for account in accounts:
        checksummed = to_checksum_address(account)
        for token in TOKENS:
            if len(values) == count:
                break
            payment = rng.randrange(10**15, 10**24)  # up to a million 18-decimal tokens
            values.append([checksummed, str(token), str(payment), str(payment // 10)])
    return values


def proofs_digest(proofs: Sequence[Sequence[str]]) -> str:
    """SHA-256 over every proof as "p0,p1,...\\n", in value order (as bench_merkle.mjs does)."""
    digest = hashlib.sha256()
    for proof in proofs:
        digest.update((",".join(proof) + "\n").encode("ascii"))
    return digest.hexdigest()


def run_ours(values: list[list[str]], sort_leaves: bool) -> dict[str, Any]:
    seconds: dict[str, float] = {}

    def timed(phase: str, step: Callable[[], T]) -> T:
        start = time.perf_counter()
        result = step()
        seconds[phase] = time.perf_counter() - start
        return result

    count = len(values)
    with _progress() as progress:
        task = progress.add_task("ours: build", total=None)
        tree = timed(
            "build",
            lambda: StandardMerkleTree.of(values, PAYOUT_LEAF_ENCODING, sort_leaves=sort_leaves),
        )
        progress.update(task, description="ours: dump")
        dump_text = timed("dump", tree.dumps)
        progress.update(task, description="ours: prove all", total=count, completed=0)

        def prove_all() -> list[list[str]]:
            get_proof = tree.get_proof
            proofs: list[list[str]] = []
            for start in range(0, count, PROGRESS_EVERY):
                proofs.extend(
                    get_proof(i) for i in range(start, min(start + PROGRESS_EVERY, count))
                )
                progress.update(task, completed=len(proofs))
            return proofs

        proofs = timed("prove", prove_all)
    console.print("ours: " + ", ".join(f"{PHASE_LABELS[p]} {seconds[p]:.2f} s" for p in PHASES))
    return {
        "seconds": seconds,
        "root": tree.root,
        "dump": dump_text.encode("utf-8"),
        "proofs_sha256": proofs_digest(proofs),
    }


def run_js(values: list[list[str]], sort_leaves: bool, workdir: Path) -> dict[str, Any]:
    input_path, dump_path = workdir / "input.json", workdir / "js-dump.json"
    input_path.write_text(
        json.dumps(
            {"encoding": list(PAYOUT_LEAF_ENCODING), "values": values, "sortLeaves": sort_leaves}
        )
    )
    count = len(values)
    process = subprocess.Popen(
        ["node", str(JS_SCRIPT), str(input_path), str(dump_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    assert process.stdout is not None
    errors: list[str] = []
    with _progress() as progress:
        task = progress.add_task("JS: build", total=None)
        for line in process.stderr:
            parts = line.split()
            if len(parts) == 4 and parts[0] == "progress":
                phase, done = parts[1], int(parts[2])
                known_total = count if phase == "prove" else None
                progress.update(
                    task,
                    description=f"JS: {PHASE_LABELS[phase]}",
                    total=known_total,
                    completed=done,
                )
            else:
                errors.append(line)
        output = process.stdout.read()
    if process.wait() != 0:
        raise SystemExit(f"node {JS_SCRIPT.name} failed:\n{''.join(errors)}")
    result: dict[str, Any] = json.loads(output)
    seconds = {phase: float(result[phase]) for phase in PHASES}
    console.print("JS:   " + ", ".join(f"{PHASE_LABELS[p]} {seconds[p]:.2f} s" for p in PHASES))
    return {
        "seconds": seconds,
        "root": result["root"],
        "dump": dump_path.read_bytes(),
        "proofs_sha256": result["proofsSha256"],
    }


def first_difference(a: bytes, b: bytes) -> int:
    """Offset of the first differing byte (the shorter length when one is a prefix)."""
    chunk = 1 << 20  # whole-chunk comparisons first: a byte loop over 270 MB takes a while
    start = 0
    while start < min(len(a), len(b)) and a[start : start + chunk] == b[start : start + chunk]:
        start += chunk
    end = min(len(a), len(b), start + chunk)
    return next((i for i in range(start, end) if a[i] != b[i]), end)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--leaves", type=int, default=1_000_000, help="leaves (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the leaf values")
    parser.add_argument(
        "--sort-leaves", action="store_true", help="sort leaves by hash (the library default)"
    )
    parser.add_argument("--json", type=Path, help="write every figure to this JSON file")
    parser.add_argument("--enforce", action="store_true", help="exit 1 unless ours is faster")
    args = parser.parse_args(argv)
    if args.leaves < 1:
        parser.error("--leaves must be at least 1")

    node_version = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    console.print(
        f"{args.leaves:,} payout leaves {list(PAYOUT_LEAF_ENCODING)}, "
        f"{'sorted' if args.sort_leaves else 'unsorted (as the service builds them)'}; "
        f"Python {platform.python_version()}, Node {node_version}"
    )
    with console.status("generating leaf values"):
        values = payout_values(args.leaves, args.seed)

    ours = run_ours(values, args.sort_leaves)
    with tempfile.TemporaryDirectory(prefix="bench-merkle-") as tmp:
        js = run_js(values, args.sort_leaves, Path(tmp))

    roots_equal = ours["root"] == js["root"]
    dumps_equal = ours["dump"] == js["dump"]
    proofs_equal = ours["proofs_sha256"] == js["proofs_sha256"]

    table = Table(
        title=f"{args.leaves:,}-leaf payout tree: ledger/merkle.py vs @openzeppelin/merkle-tree"
    )
    table.add_column("phase")
    table.add_column("ours (s)", justify="right")
    table.add_column("JS (s)", justify="right")
    table.add_column("ours / JS", justify="right")
    table.add_column("", justify="left")
    rows: dict[str, dict[str, float]] = {}
    for phase in (*PHASES, "total"):
        if phase == "total":
            table.add_section()
            mine, theirs = sum(ours["seconds"].values()), sum(js["seconds"].values())
        else:
            mine, theirs = ours["seconds"][phase], js["seconds"][phase]
        ratio = mine / theirs if theirs > 0 else float("inf")
        rows[phase] = {"ours": mine, "js": theirs, "ratio": ratio}
        verdict = (
            f"[green]{1 / ratio:.1f}x faster[/]" if ratio < 1 else f"[red]{ratio:.1f}x slower[/]"
        )
        table.add_row(
            PHASE_LABELS.get(phase, phase), f"{mine:.3f}", f"{theirs:.3f}", f"{ratio:.3f}", verdict
        )
    console.print(table)

    def said(equal: bool) -> str:
        return "[green]equal[/]" if equal else "[bold red]DIFFERENT[/]"

    console.print(f"roots:  {said(roots_equal)}  ours {ours['root']}, JS {js['root']}")
    sizes = f"ours {len(ours['dump']):,} bytes, JS {len(js['dump']):,} bytes"
    if not dumps_equal:
        sizes += f", first difference at byte {first_difference(ours['dump'], js['dump']):,}"
    console.print(f"dumps:  {said(dumps_equal)}  {sizes}")
    console.print(f"proofs: {said(proofs_equal)}  (SHA-256 over all {args.leaves:,} proofs)")
    faster = all(rows[p]["ratio"] < 1 for p in PHASES)
    console.print(
        "[bold green]PASS[/]: ours is faster in every phase"
        if faster
        else "[bold red]FAIL[/]: ours is not faster in every phase"
    )

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "leaves": args.leaves,
                    "seed": args.seed,
                    "sort_leaves": args.sort_leaves,
                    "leaf_encoding": list(PAYOUT_LEAF_ENCODING),
                    "python": platform.python_version(),
                    "node": node_version,
                    "seconds": rows,
                    "root": {"ours": ours["root"], "js": js["root"]},
                    "roots_equal": roots_equal,
                    "dumps_equal": dumps_equal,
                    "dump_bytes": {"ours": len(ours["dump"]), "js": len(js["dump"])},
                    "proofs_equal": proofs_equal,
                    "faster_in_every_phase": faster,
                },
                indent=2,
            )
            + "\n"
        )
        console.print(f"figures written to {args.json}")

    if not (roots_equal and dumps_equal and proofs_equal):
        console.print("[bold red]results differ from the JS library: a bug in ledger/merkle.py[/]")
        return 1
    return 1 if args.enforce and not faster else 0


if __name__ == "__main__":
    sys.exit(main())
