"""Benchmark of the label kinds (issue 14): what one label costs the service at each kind's limits,
beside the one-class label that was the only kind before, in the same process.

Run it as `./scripts/bench-kinds` (options: `--help`): about a minute.

For each registered kind a generator writes the largest label its limits allow (the most objects,
points, runs, frames or words that fit in its `max_chars`), laid out as the worst case for its
measure where the measure's cost depends on the layout: every object on top of every other, so
that no pair is skipped for lying apart. Two more labels are that one jittered. Then, medians of
`--repeat` rounds:

- read: `normalize` then `read` of the label's text, what `POST /v1/labels` does before storing;
- similarity: `kind.similarity` of the label and a jittered one, what each comparison in
  consensus and gold grading does (none for a kind only reviewers judge);
- consensus: `kind.consensus` of the three, what verifying an item of three labels does.

The baseline is the `classes` kind, a one-word label, measured the same way. The bar: every
kind's similarity and consensus at its limits within 1 s on one core (a label's submission waits
for its item's consensus). PASS or FAIL is printed; exit 0 either way unless `--enforce`.
`--json PATH` writes every figure.
"""

# ruff: noqa: ARG005, S311
# (every generator takes the same (rng, jitter) whether it uses both; the rng only lays out test
# labels; a benchmark prints its figures)
from __future__ import annotations

import argparse
import json
import math
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger.kinds import KINDS, LabelKind

BAR_SECONDS = 1.0
Generator = Callable[[random.Random, float], tuple[Any, list[str]]]


def _r(x: float) -> float:
    return round(x, 3)


def _circle(cx: float, cy: float, radius: float, points: int) -> list[list[float]]:
    return [
        [
            _r(cx + radius * math.cos(2 * math.pi * i / points)),
            _r(cy + radius * math.sin(2 * math.pi * i / points)),
        ]
        for i in range(points)
    ]


def _words(rng: random.Random, count: int) -> str:
    pool = [
        "the",
        "a",
        "ledger",
        "pays",
        "every",
        "label",
        "once",
        "annotators",
        "earn",
        "tokens",
        "buyers",
        "fund",
        "escrow",
    ]
    return " ".join(rng.choice(pool) for _ in range(count))


# Each generator: (rng, jitter) -> (the label as JSON-able value or text, the dataset's classes).
GENERATORS: dict[str, Generator] = {
    "classes": lambda rng, j: ("cat", ["cat", "dog", "bird"]),
    "boxes": lambda rng, j: ([_r(10 + j), 10, 90, 90], []),
    "spans": lambda rng, j: ([0, 120 + int(j * 10)], []),
    "objects": lambda rng, j: (
        [{"class": "car", "box": [_r(10 + rng.random() * 5 + j), 10, 90, 90]} for _ in range(500)],
        ["car"],
    ),
    "polygons": lambda rng, j: (
        [
            {"class": "roof", "points": _circle(100 + rng.random() * 5 + j, 100, 50, 100)}
            for _ in range(100)
        ],
        ["roof"],
    ),
    "keypoints": lambda rng, j: (
        {f"k{i}": [_r(100 + i + j), _r(200 + i)] for i in range(1000)},
        [f"k{i}" for i in range(1000)],
    ),
    "masks": lambda rng, j: (
        {
            "size": [4096, 4096],
            "counts": [int(40 + j) if i % 2 else 44 for i in range(150_000)]
            + [4096 * 4096 - sum(int(40 + j) if i % 2 else 44 for i in range(150_000))],
        },
        [],
    ),
    "multilabel": lambda rng, j: (
        [f"c{i}" for i in range(1000) if rng.random() < 0.9 + j / 100],
        [f"c{i}" for i in range(1000)],
    ),
    "entities": lambda rng, j: (
        [{"class": "PER", "span": [i * 10, i * 10 + 5 + int(j)]} for i in range(1000)],
        ["PER", "ORG", "LOC"],
    ),
    "texts": lambda rng, j: (_words(rng, 1300), []),
    "transcripts": lambda rng, j: (_words(rng, 2600), []),
    "segments": lambda rng, j: (
        [
            {"class": "speech", "start": _r(rng.random() + j), "end": _r(50 + rng.random())}
            for _ in range(500)
        ],
        ["speech", "music"],
    ),
    "tracks": lambda rng, j: (
        [
            {
                "class": "car",
                "frames": {str(f): [_r(10 + f + j), 10, _r(60 + f), 60] for f in range(115)},
            }
            for _ in range(200)
        ],
        ["car"],
    ),
    "cuboids": lambda rng, j: (
        [
            {
                "class": "car",
                "center": [_r(rng.random() + j), _r(rng.random()), 1],
                "size": [4, 2, 1.5],
                "yaw": _r(rng.random()),
            }
            for _ in range(200)
        ],
        ["car"],
    ),
    "preference": lambda rng, j: ("A", ["A", "B", "tie"]),
    "ranking": lambda rng, j: (
        [f"M{i}" for i in rng.sample(range(10), 10)],
        [f"M{i}" for i in range(10)],
    ),
    "ratings": lambda rng, j: (
        {f"c{i}": rng.randint(1, 5) for i in range(20)},
        [f"c{i}" for i in range(20)],
    ),
    "written": lambda rng, j: (_words(rng, 2600), []),
}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _median(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(kind: LabelKind, repeat: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    value, classes = GENERATORS[kind.name](rng, 0.0)
    texts = [_text(value)] + [_text(GENERATORS[kind.name](rng, 0.5 * n)[0]) for n in (1, 2)]
    where = "bench"
    if len(texts[0]) > kind.max_chars:
        raise SystemExit(
            f"{kind.name}: the generated label has {len(texts[0])} characters, "
            f"over {kind.max_chars}"
        )

    def read(text: str) -> Any:
        return kind.read(kind.normalize(text), classes=classes, where=where)

    answers = [read(t) for t in texts]
    figures: dict[str, Any] = {
        "kind": kind.name,
        "chars": len(texts[0]),
        "read_s": _median(repeat, lambda: read(texts[0])),
        "similarity_s": None,
        "consensus_s": None,
    }
    if not kind.reviewed_only:
        figures["similarity_s"] = _median(repeat, lambda: kind.similarity(answers[0], answers[1]))
        figures["consensus_s"] = _median(repeat, lambda: kind.consensus(answers, 0.5))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="rounds per figure; medians reported (5)"
    )
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--kinds", nargs="*", help="only these kinds (default: every registered kind)"
    )
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--enforce", action="store_true", help="exit 1 when a kind misses the bar")
    args = parser.parse_args()
    missing = sorted(set(KINDS) - set(GENERATORS))
    if missing:
        print(
            f"no generator for {', '.join(missing)}: add one to scripts/bench_kinds.py",
            file=sys.stderr,
        )
        return 2
    names = args.kinds or list(KINDS)
    rows = []
    for n, name in enumerate(names, 1):
        print(f"[{n}/{len(names)}] {name}...", file=sys.stderr, flush=True)
        rows.append(measure(KINDS[name], args.repeat, args.seed))
    base = next((r for r in rows if r["kind"] == "classes"), None) or measure(
        KINDS["classes"], args.repeat, args.seed
    )

    def ms(x: float | None) -> str:
        return "-" if x is None else f"{x * 1000:,.2f}"

    def times(x: float | None, b: float | None) -> str:
        return "-" if x is None or not b else f"{x / b:,.0f}x"

    print(f"python {platform.python_version()}, {platform.machine()}, medians of {args.repeat}")
    print(
        f"{'kind':<12} {'chars':>9} {'read ms':>10} {'similarity ms':>14} "
        f"{'consensus of 3 ms':>18} {'consensus / classes':>20}"
    )
    failed = []
    for r in rows:
        print(
            f"{r['kind']:<12} {r['chars']:>9,} {ms(r['read_s']):>10} {ms(r['similarity_s']):>14} "
            f"{ms(r['consensus_s']):>18} {times(r['consensus_s'], base['consensus_s']):>20}"
        )
        worst = max(r["similarity_s"] or 0.0, r["consensus_s"] or 0.0)
        if worst > BAR_SECONDS:
            failed.append(r["kind"])
    verdict = "PASS" if not failed else f"FAIL ({', '.join(failed)} over {BAR_SECONDS:g} s)"
    print(
        f"bar: similarity and consensus of 3 within {BAR_SECONDS:g} s "
        f"at every kind's limits: {verdict}"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"rows": rows, "baseline": base, "verdict": verdict}, indent=2)
        )
    return 1 if failed and args.enforce else 0


if __name__ == "__main__":
    raise SystemExit(main())
