"""Masks: one binary mask per item (the tumour's region, the road), the pixels it covers. A label
is COCO's uncompressed run-length encoding, the JSON object `{"size": [height, width], "counts":
[n0, n1, n2, ...]}`: the pixels read column by column (column-major, Fortran order, as COCO and
pycocotools read them), in runs alternately outside and inside the mask, starting outside; n0 is
0 when the first pixel is inside. The runs are whole numbers >= 0 summing to height * width;
height and width are 1 to 4096; at most 200,000 runs.

The same mask can be written with runs split by empty runs ([3, 0, 2, 5] is [5, 5]); a label is
stored as the runs of its decoded mask, so every spelling of one mask has one text, the one
pycocotools encodes.

Two labels agree by their mask IoU: the pixels inside both over the pixels inside either; two
empty masks are the same mask (1.0). Two masks of different sizes share no pixel (0.0) rather
than being refused: they are two annotators' answers to one item, and which of them read the
image's size right is for the agreement to find out, not for either label's schema."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ledger.kinds.base import MAX_LABEL_CHARS, Answer, NotAnAnswer, overlap_ratio
from ledger.kinds.jsontext import is_number
from ledger.kinds.structured import JsonKind

MAX_SIDE = 4096
MAX_RUNS = 200_000

Runs = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Mask:
    """A parsed mask: its size and the half-open ranges of column-major pixel indices inside it,
    which is all its IoU needs (no mask of up to 16.7 million pixels is ever decoded)."""

    height: int
    width: int
    starts: Runs
    ends: Runs

    @property
    def area(self) -> int:
        return int((self.ends - self.starts).sum())


def whole(value: Any) -> int | None:
    """`value` as an integer if it is a whole JSON number (5 or 5.0, which the canonical text
    writes as 5), else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if is_number(value) and value.is_integer():
        return int(value)
    return None


def canonical_runs(counts: list[int]) -> list[int]:
    """The runs of the mask `counts` encode, without empty runs: the first run (outside) may be
    0, every other is positive. Merging a run split by an empty one ([3, 0, 2] is [5]) and
    dropping empty runs at the end is what decoding and encoding again does."""
    runs: list[int] = []
    inside = False  # the run at index i is inside the mask when i is odd
    for n in counts:
        if n > 0:
            if runs and (len(runs) % 2 == 0) == inside:
                runs[-1] += n  # the previous kept run is on the same side
            else:
                if not runs and inside:
                    runs.append(0)  # the mask starts inside: the first run is empty
                runs.append(n)
        inside = not inside
    return runs


def read_size(size: Any) -> tuple[int, int]:
    """The mask's `[height, width]`; ValueError saying what a size is."""
    sides = [whole(n) for n in size] if isinstance(size, list) else []
    height, width = sides if len(sides) == 2 else (None, None)
    if height is None or width is None or not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise ValueError(f"size: [height, width], whole numbers from 1 to {MAX_SIDE}")
    return height, width


def read_runs(counts: Any, pixels: int) -> list[int]:
    """The run lengths of a mask of `pixels` pixels; ValueError saying what is wrong."""
    if isinstance(counts, str):
        raise ValueError(
            "counts: a list of run lengths (uncompressed RLE), not a compressed string"
        )
    if not isinstance(counts, list):
        raise ValueError("counts: a list of run lengths")
    if len(counts) > MAX_RUNS:
        raise ValueError(f"counts: at most {MAX_RUNS} runs; this mask has {len(counts)}")
    runs: list[int] = []
    for n in counts:
        run = whole(n)
        if run is None or run < 0:
            raise ValueError("counts: run lengths are whole numbers >= 0")
        runs.append(run)
    if sum(runs) != pixels:
        raise ValueError(
            f"counts: the runs sum to {sum(runs)}, not height * width = {pixels}, the mask's pixels"
        )
    return runs


def runs_of(doc: Any) -> tuple[int, int, list[int]]:
    """The height, width and runs of a label's document; ValueError saying what is wrong."""
    if not isinstance(doc, dict) or set(doc) != {"size", "counts"}:
        raise ValueError('an object with the keys "size" and "counts" and no other')
    height, width = read_size(doc["size"])
    return height, width, read_runs(doc["counts"], height * width)


class Masks(JsonKind):
    name = "masks"
    summary = "one binary mask per item, as COCO's uncompressed run-length encoding"
    media = ("image",)
    measure = (
        "mask IoU: pixels inside both over pixels inside either (two empty masks: 1; masks of "
        "different sizes: 0)"
    )
    shape = (
        'COCO uncompressed RLE {"size": [height, width], "counts": [n0, n1, ...]}: column-major '
        "runs alternating outside and inside the mask, starting outside, summing to "
        "height * width"
    )
    max_chars = MAX_LABEL_CHARS

    def ordered(self, doc: Any) -> Any:
        try:
            height, width, runs = runs_of(doc)
        except ValueError:
            return doc  # for parse to refuse
        return {"size": [height, width], "counts": canonical_runs(runs)}

    def read_doc(self, doc: Any, *, classes: Sequence[str], where: str) -> Answer:
        try:
            height, width, runs = runs_of(doc)
        except ValueError as wrong:
            raise NotAnAnswer(f"{wrong}: a {self.name} label is {self.shape} ({where})") from None
        ends = np.cumsum(np.asarray(runs, dtype=np.int64))
        starts = ends - np.asarray(runs, dtype=np.int64)
        # the runs at odd indices are inside the mask; empty ones add nothing to any measure
        return Mask(height=height, width=width, starts=starts[1::2], ends=ends[1::2])

    def similarity(self, a: Answer, b: Answer) -> float:
        return mask_iou(a, b)


def mask_iou(a: Mask, b: Mask) -> float:
    """Pixels inside both over pixels inside either, from the two masks' ranges: a sweep over
    their boundaries, where the ranges of one mask never overlap each other, so the pixels
    covered twice are exactly those inside both."""
    if (a.height, a.width) != (b.height, b.width):
        return 0.0
    positions = np.concatenate([a.starts, a.ends, b.starts, b.ends])
    steps = np.concatenate(
        [
            np.ones(len(a.starts), dtype=np.int64),
            -np.ones(len(a.ends), dtype=np.int64),
            np.ones(len(b.starts), dtype=np.int64),
            -np.ones(len(b.ends), dtype=np.int64),
        ]
    )
    order = np.argsort(positions, kind="stable")
    positions, depth = positions[order], np.cumsum(steps[order])
    # depth[i] holds from positions[i] to positions[i + 1]; where two boundaries share a
    # position the stretch between them is empty, so their order there does not matter
    intersection = int(np.diff(positions)[depth[:-1] == 2].sum())
    union = a.area + b.area - intersection
    return overlap_ratio(intersection, union, a.area == b.area == 0)
