"""Pictures and texts the repository makes itself, so that the demo's items (and the browser
tests') show real work, served by our own API under `/media/`: no other host is ever needed.

Everything is generated, deterministically (the same name gives the same picture on any machine):

- `pets/<n>.png`, n in 0..9999: a cat, a dog or a bird (which one follows from n), drawn in its
  own colours and shape on a plain background, at a size and place that vary with n. `pet(n)`
  says which animal it is and its bounding box in pixels, the truth a box label is checked by.
- `texts/<n>.txt`, n in 0..5: a short sentence naming one place; `TEXTS[n].place_span` is the
  place's `[start, end)` character offsets, the truth a span label is checked by.

PNGs are written with zlib and struct alone: 8-bit RGB, one unfiltered scanline after another.
"""

from __future__ import annotations

import hashlib
import random
import re
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache

from ledger.kit.errors import NotFound

Colour = tuple[int, int, int]
Point = tuple[float, float]

PET_CLASSES = ("cat", "dog", "bird")
#: Each animal's main colour, the one that fills most of it: an orange cat, a brown dog, a blue
#: bird.
FUR: dict[str, Colour] = {
    "cat": (232, 136, 48),
    "dog": (150, 98, 58),
    "bird": (56, 120, 216),
}
PET_COUNT = 10_000
IMAGE_WIDTH, IMAGE_HEIGHT = 160, 120


class UnknownMedia(NotFound):
    code = "unknown_media"


@dataclass(frozen=True)
class MediaFile:
    content: bytes
    content_type: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.content).hexdigest()[:32] + '"'


@dataclass(frozen=True)
class Pet:
    number: int
    kind: str  # one of PET_CLASSES
    box: tuple[int, int, int, int]  # [x_min, y_min, x_max, y_max] of the animal, in pixels
    png: bytes

    @property
    def path(self) -> str:
        return pet_path(self.number)


@dataclass(frozen=True)
class MediaText:
    text: str
    place: str

    @property
    def place_span(self) -> tuple[int, int]:
        start = self.text.index(self.place)
        return start, start + len(self.place)


TEXTS = (
    MediaText("Our train to Lisbon was two hours late, but the staff handed out water.", "Lisbon"),
    MediaText(
        "The new bakery near Harbour Square sells rye bread still warm at seven.", "Harbour Square"
    ),
    MediaText("Mira repaired the old bicycle and rode it along the canal to Utrecht.", "Utrecht"),
    MediaText("The museum in Kyoto opens a small exhibition of paper lanterns in May.", "Kyoto"),
    MediaText("Rain held back the harvest on the farms outside Mendoza by a week.", "Mendoza"),
    MediaText("From the ferry we watched the lights of Tromsø come on one by one.", "Tromsø"),
)


def pet_path(number: int) -> str:
    """The media path of pet `number` (any whole number: it wraps around PET_COUNT)."""
    return f"pets/{number % PET_COUNT}.png"


def text_path(number: int) -> str:
    return f"texts/{number % len(TEXTS)}.txt"


_PET = re.compile(r"pets/(0|[1-9][0-9]{0,3})\.png")
_TEXT = re.compile(r"texts/(0|[1-9][0-9]{0,3})\.txt")


def media_file(path: str) -> MediaFile:
    """The file at a media path, or `UnknownMedia`. Paths are matched against what we generate,
    never looked up on disk, so no path can reach a file."""
    if match := _PET.fullmatch(path):
        return MediaFile(pet(int(match[1])).png, "image/png")
    if (match := _TEXT.fullmatch(path)) and int(match[1]) < len(TEXTS):
        return MediaFile(TEXTS[int(match[1])].text.encode(), "text/plain; charset=utf-8")
    raise UnknownMedia(
        f"no media file {path[:100]!r}: there are pets/0.png to pets/{PET_COUNT - 1}.png and "
        f"texts/0.txt to texts/{len(TEXTS) - 1}.txt"
    )


def pet_kind(number: int) -> str:
    """Which animal pet `number` shows (without drawing it)."""
    return _plan(number).kind


@lru_cache(maxsize=1024)
def pet(number: int) -> Pet:
    """Pet `number`: which animal, where it is, and its picture."""
    plan = _plan(number)
    canvas = _Canvas(IMAGE_WIDTH, IMAGE_HEIGHT, plan.background)
    _DRAW[plan.kind](canvas, plan.cx, plan.cy, plan.radius)
    return Pet(number=number, kind=plan.kind, box=canvas.painted_box(), png=canvas.png())


@dataclass(frozen=True)
class _Plan:
    kind: str
    background: Colour
    radius: float
    cx: float
    cy: float


def _plan(number: int) -> _Plan:
    if not 0 <= number < PET_COUNT:
        raise UnknownMedia(f"pets are numbered 0 to {PET_COUNT - 1}, not {number}")
    # A str seed gives the same draws on every machine; what it draws is a look, not a secret.
    rng = random.Random(f"label-ledger pet {number}")  # noqa: S311
    kind = PET_CLASSES[rng.randrange(len(PET_CLASSES))]
    background = (rng.randint(215, 250), rng.randint(215, 250), rng.randint(200, 240))
    radius = rng.uniform(22, 34)
    # the whole animal spans about 2.4 radii across and up: keep it inside the picture
    cx = rng.uniform(1.5 * radius, IMAGE_WIDTH - 1.5 * radius)
    cy = rng.uniform(1.6 * radius, IMAGE_HEIGHT - 1.3 * radius)
    return _Plan(kind=kind, background=background, radius=radius, cx=cx, cy=cy)


def _draw_cat(canvas: _Canvas, cx: float, cy: float, r: float) -> None:
    fur, ear, eye, nose = FUR["cat"], (196, 98, 28), (70, 150, 60), (240, 130, 150)
    for side in (-1, 1):  # pointed ears
        canvas.triangle(
            (cx + side * 0.9 * r, cy - 0.25 * r),
            (cx + side * 0.2 * r, cy - 0.9 * r),
            (cx + side * 0.8 * r, cy - 1.45 * r),
            ear,
        )
    canvas.ellipse(cx, cy, r, 0.9 * r, fur)
    for side in (-1, 1):
        canvas.ellipse(cx + side * 0.38 * r, cy - 0.15 * r, 0.16 * r, 0.22 * r, eye)
    canvas.triangle(
        (cx - 0.14 * r, cy + 0.2 * r), (cx + 0.14 * r, cy + 0.2 * r), (cx, cy + 0.38 * r), nose
    )


def _draw_dog(canvas: _Canvas, cx: float, cy: float, r: float) -> None:
    fur, ear, muzzle, dark = FUR["dog"], (92, 58, 32), (222, 196, 160), (30, 24, 20)
    canvas.ellipse(cx, cy, 0.95 * r, r, fur)
    for side in (-1, 1):  # floppy ears hanging down the sides
        canvas.ellipse(cx + side * 0.95 * r, cy + 0.15 * r, 0.32 * r, 0.8 * r, ear)
        canvas.ellipse(cx + side * 0.35 * r, cy - 0.3 * r, 0.12 * r, 0.12 * r, dark)
    canvas.ellipse(cx, cy + 0.45 * r, 0.45 * r, 0.35 * r, muzzle)
    canvas.ellipse(cx, cy + 0.3 * r, 0.18 * r, 0.13 * r, dark)


def _draw_bird(canvas: _Canvas, cx: float, cy: float, r: float) -> None:
    body, wing, beak, dark = FUR["bird"], (30, 70, 150), (250, 200, 40), (20, 20, 30)
    canvas.triangle(
        (cx - 0.8 * r, cy), (cx - 1.45 * r, cy - 0.35 * r), (cx - 1.4 * r, cy + 0.35 * r), wing
    )
    canvas.ellipse(cx, cy, r, 0.7 * r, body)
    canvas.ellipse(cx - 0.1 * r, cy + 0.05 * r, 0.55 * r, 0.35 * r, wing)
    head = (cx + 0.75 * r, cy - 0.55 * r)
    canvas.ellipse(*head, 0.45 * r, 0.45 * r, body)
    canvas.triangle(
        (head[0] + 0.35 * r, head[1] - 0.12 * r),
        (head[0] + 0.35 * r, head[1] + 0.14 * r),
        (head[0] + 0.75 * r, head[1] + 0.02 * r),
        beak,
    )
    canvas.ellipse(head[0] + 0.12 * r, head[1] - 0.1 * r, 0.08 * r, 0.08 * r, dark)


_DRAW = {"cat": _draw_cat, "dog": _draw_dog, "bird": _draw_bird}


class _Canvas:
    """An RGB raster that fills shapes and remembers the box of everything painted."""

    def __init__(self, width: int, height: int, background: Colour) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))
        self.x_min, self.y_min, self.x_max, self.y_max = width, height, -1, -1

    def _paint(self, x: int, y: int, colour: Colour) -> None:
        at = 3 * (y * self.width + x)
        self.pixels[at : at + 3] = bytes(colour)
        self.x_min, self.x_max = min(self.x_min, x), max(self.x_max, x)
        self.y_min, self.y_max = min(self.y_min, y), max(self.y_max, y)

    def _rows(self, top: float, bottom: float) -> range:
        return range(max(0, int(top)), min(self.height, int(bottom) + 1))

    def _columns(self, left: float, right: float) -> range:
        return range(max(0, int(left)), min(self.width, int(right) + 1))

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, colour: Colour) -> None:
        for y in self._rows(cy - ry, cy + ry):
            dy = (y + 0.5 - cy) / ry
            for x in self._columns(cx - rx, cx + rx):
                dx = (x + 0.5 - cx) / rx
                if dx * dx + dy * dy <= 1:
                    self._paint(x, y, colour)

    def triangle(self, a: Point, b: Point, c: Point, colour: Colour) -> None:
        def side(p: Point, q: Point, x: float, y: float) -> float:
            return (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])

        xs, ys = (a[0], b[0], c[0]), (a[1], b[1], c[1])
        for y in self._rows(min(ys), max(ys)):
            for x in self._columns(min(xs), max(xs)):
                px, py = x + 0.5, y + 0.5
                turns = (side(a, b, px, py), side(b, c, px, py), side(c, a, px, py))
                if all(t >= 0 for t in turns) or all(t <= 0 for t in turns):
                    self._paint(x, y, colour)

    def painted_box(self) -> tuple[int, int, int, int]:
        return self.x_min, self.y_min, self.x_max + 1, self.y_max + 1

    def png(self) -> bytes:
        stride = 3 * self.width
        scanlines = b"".join(
            b"\x00" + bytes(self.pixels[y * stride : (y + 1) * stride]) for y in range(self.height)
        )
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)  # 8-bit RGB
        return (
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(scanlines, 9))
            + _chunk(b"IEND", b"")
        )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
