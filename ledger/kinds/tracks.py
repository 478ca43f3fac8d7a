"""Tracks: every object of a video followed through its frames, each with a class. A label is the
JSON list `[{"class": "car", "frames": {"0": [x_min, y_min, x_max, y_max], "5": [...]}}, ...]`,
possibly empty (nothing to mark): at most 200 tracks, each with 1 to 10,000 frames keyed by the
frame number in decimal without leading zeros ("0", "5", "120"; not "05", "-1" or "x"), each box
as an `objects` box. The frames are stored in key order as text ("10" before "9"): one order
per label is all its hash needs.

Two tracks overlap by their mean box IoU over the frames in either track, a frame in one track
only counting 0 (so a track that stops early, starts late or skips frames loses what it missed);
two labels agree by the F1 of their tracks paired by the Hungarian assignment on that overlap, a
pair counting when of one class at >= 0.5."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ledger.kinds.base import MAX_LABEL_CHARS
from ledger.kinds.boxes import box_iou, box_iou_matrix
from ledger.kinds.objects import read_box
from ledger.kinds.segments import finite_number
from ledger.kinds.structured import ClassedSetKind

MAX_FRAMES = 10_000

# [0-9], not str.isdigit (to which "٣" is a digit); fullmatch, so no trailing newline either
_FRAME_NUMBER = re.compile(r"0|[1-9][0-9]*")

Track = Mapping[str, Sequence[float]]
"""A track's boxes by frame number, the number kept as its text: without leading zeros one text
is one number, so frames are matched by their text and never converted (a 5000-digit frame
number is odd but harmless)."""


def track_overlap(a: Track, b: Track) -> float:
    """Mean `box_iou` over the frames in either track, a frame in one only counting 0."""
    shared = a.keys() & b.keys()
    return sum(box_iou(a[frame], b[frame]) for frame in shared) / len(a.keys() | b.keys())


def track_overlap_matrix(a: Sequence[Track], b: Sequence[Track]) -> Any:
    """`track_overlap` of every track of `a` with every track of `b`, as a matrix: frame by
    frame, the IoUs of the boxes both labels have there are added to their tracks' pair, and
    each pair's sum is divided by the frames in either track. The work is one small matrix per
    shared frame rather than one `box_iou` call per frame per pair of tracks."""
    summed = np.zeros((len(a), len(b)))
    shared = np.zeros((len(a), len(b)))
    tracks_in_b: defaultdict[str, list[int]] = defaultdict(list)
    for j, track in enumerate(b):
        for frame in track:
            tracks_in_b[frame].append(j)
    tracks_in_a: defaultdict[str, list[int]] = defaultdict(list)
    for i, track in enumerate(a):
        for frame in track:
            if frame in tracks_in_b:
                tracks_in_a[frame].append(i)
    for frame, rows in tracks_in_a.items():
        cols = tracks_in_b[frame]
        boxes_a = np.array([a[i][frame] for i in rows], dtype=np.float64)
        boxes_b = np.array([b[j][frame] for j in cols], dtype=np.float64)
        pairs = np.ix_(rows, cols)
        summed[pairs] += box_iou_matrix(boxes_a, boxes_b)
        shared[pairs] += 1
    frames_a = np.array([len(track) for track in a], dtype=np.float64)
    frames_b = np.array([len(track) for track in b], dtype=np.float64)
    return summed / (frames_a[:, None] + frames_b[None, :] - shared).clip(min=1.0)


class Tracks(ClassedSetKind):
    name = "tracks"
    summary = "any number of classed object tracks per video: a box per frame"
    media = ("video",)
    measure = (
        "F1 of tracks paired by Hungarian assignment on their mean box IoU over the frames in "
        "either track, a pair of one class at >= 0.5"
    )
    classes_are = "the classes of the tracked objects"
    shape = (
        'a list of tracks {"class": c, "frames": {"<frame number>": '
        "[x_min, y_min, x_max, y_max], ...}}"
    )
    fields = ("frames",)
    max_objects = 200
    # the largest label there is: 200 tracks of up to 10,000 frames are longer still, and the
    # label's text is what bounds them together
    max_chars = MAX_LABEL_CHARS

    def read_geometry(self, obj: Mapping[str, Any]) -> Any:
        frames = obj["frames"]
        if not isinstance(frames, dict) or not 1 <= len(frames) <= MAX_FRAMES:
            raise ValueError(
                f"a track's frames are an object of 1 to {MAX_FRAMES} frames "
                '{"<frame number>": [x_min, y_min, x_max, y_max]}'
            )
        track: dict[str, list[float]] = {}
        for frame, raw in frames.items():
            if not _FRAME_NUMBER.fullmatch(frame):
                raise ValueError(
                    f"frame {frame!r}: a frame is numbered 0, 1, 2... in decimal without "
                    "leading zeros"
                )
            try:
                box = [finite_number(x) for x in read_box(raw)]
            except ValueError as wrong:
                raise ValueError(f"frame {frame}: {wrong}") from None
            corners = [x for x in box if x is not None]
            # finite corners whose area float arithmetic cannot hold would make IoU NaN
            if len(corners) < 4 or not math.isfinite(
                (corners[2] - corners[0]) * (corners[3] - corners[1])
            ):
                raise ValueError(f"frame {frame}: a box's corners and area are finite numbers")
            track[frame] = corners
        return track

    def overlap(self, a: Any, b: Any) -> float:
        return track_overlap(a, b)

    def overlap_matrix(self, a: Sequence[Any], b: Sequence[Any]) -> npt.NDArray[np.float64]:
        """All pairs at once (see `track_overlap_matrix`)."""
        return np.asarray(track_overlap_matrix(a, b), dtype=np.float64).reshape(len(a), len(b))
