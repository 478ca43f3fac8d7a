"""Pictures, texts, sounds, a video and point clouds the repository makes itself, so that the
demo's items (and the browser tests') show real work, served by our own API under `/media/`: no
other host is ever needed.

Everything is generated, deterministically (the same name gives the same file on any machine),
with its truth beside it (what a label of the item should say):

- `pets/<n>.png`, n in 0..9999: a cat, a dog or a bird (which one follows from n), drawn in its
  own colours and shape on a plain background, at a size and place that vary with n. `pet(n)`
  says which animal it is and its bounding box in pixels, the truth a box label is checked by.
- `texts/<n>.txt`, n in 0..5: a short sentence naming one place; `TEXTS[n].place_span` is the
  place's `[start, end)` character offsets, the truth a span label is checked by.
- `audio/<n>.wav`, n in 0..AUDIO_COUNT - 1: a few seconds of 16-bit mono PCM with stretches of
  "speech" (noise shaped into syllables over a voiced buzz) and "music" (chords struck on the
  beat) between near-silence; `audio_clip(n).segments` are those stretches in seconds, the truth
  a segments label is checked by.
- `video/shapes.webm`: a short VP8 video of a red ball and a blue block moving across a road,
  drawn frame by frame by `video_frame(f)` and encoded once by ffmpeg (scripts/make-media-video);
  the file ships in `ledger/media_assets/`, since ffmpeg is no dependency. `video_tracks()` is
  each shape's box on each frame, the truth a tracks label is checked by, and `VIDEO_FPS` the
  frame rate an item names beside the video.
- `clouds/<n>.bin`, n in 0..CLOUD_COUNT - 1: a lidar-like sweep as float32 x, y, z triples
  (little-endian, metres): a ground plane and a car and sometimes a pedestrian, points on their
  surfaces; `point_cloud(n).cuboids` are those boxes, the truth a cuboids label is checked by.

PNGs are written with zlib and struct alone: 8-bit RGB, one unfiltered scanline after another;
WAVs and clouds with struct alone.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

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
_AUDIO = re.compile(r"audio/(0|[1-9][0-9]{0,3})\.wav")
_CLOUD = re.compile(r"clouds/(0|[1-9][0-9]{0,3})\.bin")
_SPEECH = re.compile(r"speech/(0|[1-9][0-9]{0,3})\.ogg")


def media_file(path: str) -> MediaFile:
    """The file at a media path, or `UnknownMedia`. Paths are matched against what we generate
    (or ship, for the video), never looked up on disk, so no path can reach a file."""
    if match := _PET.fullmatch(path):
        return MediaFile(pet(int(match[1])).png, "image/png")
    if (match := _TEXT.fullmatch(path)) and int(match[1]) < len(TEXTS):
        return MediaFile(TEXTS[int(match[1])].text.encode(), "text/plain; charset=utf-8")
    if (match := _AUDIO.fullmatch(path)) and int(match[1]) < AUDIO_COUNT:
        return MediaFile(audio_clip(int(match[1])).wav, "audio/wav")
    if path == VIDEO_PATH:
        return MediaFile(shipped_video(), "video/webm")
    if (match := _CLOUD.fullmatch(path)) and int(match[1]) < CLOUD_COUNT:
        return MediaFile(point_cloud(int(match[1])).content, "application/octet-stream")
    if (match := _SPEECH.fullmatch(path)) and int(match[1]) < len(SPEECH):
        return MediaFile(shipped_speech(int(match[1])), "audio/ogg")
    raise UnknownMedia(
        f"no media file {path[:100]!r}: there are pets/0.png to pets/{PET_COUNT - 1}.png, "
        f"texts/0.txt to texts/{len(TEXTS) - 1}.txt, audio/0.wav to "
        f"audio/{AUDIO_COUNT - 1}.wav, {VIDEO_PATH} and clouds/0.bin to "
        f"clouds/{CLOUD_COUNT - 1}.bin, speech/0.ogg to speech/{len(SPEECH) - 1}.ogg"
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

    def rectangle(
        self, left: float, top: float, right: float, bottom: float, colour: Colour
    ) -> None:
        """Fills the pixels whose centres lie in `[left, right) x [top, bottom)`."""
        for y in range(max(0, math.ceil(top - 0.5)), min(self.height, math.ceil(bottom - 0.5))):
            for x in range(max(0, math.ceil(left - 0.5)), min(self.width, math.ceil(right - 0.5))):
                self._paint(x, y, colour)

    def forget_painted(self) -> None:
        """Starts a new painted box (for the next shape's own)."""
        self.x_min, self.y_min, self.x_max, self.y_max = self.width, self.height, -1, -1

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


# --- Audio: speech, music and silence at known times ---------------------------------------------

AUDIO_CLASSES = ("speech", "music")
AUDIO_COUNT = 6
AUDIO_RATE = (
    8000  # samples a second: a telephone's, enough for a waveform and to hear which is which
)
AUDIO_SECONDS = 6.0
#: Samples quieter than this (of full scale) are the near-silence between segments; every
#: louder sample lies inside a truth segment.
SILENCE_LEVEL = 0.01
_FADE = 0.01  # seconds of fade at each end of a segment, so no segment starts with a click


@dataclass(frozen=True)
class Segment:
    kind: str  # one of AUDIO_CLASSES
    start: float  # seconds
    end: float


@dataclass(frozen=True)
class AudioClip:
    number: int
    segments: tuple[Segment, ...]
    samples: tuple[float, ...]  # in [-1, 1], AUDIO_RATE a second
    wav: bytes

    @property
    def path(self) -> str:
        return audio_path(self.number)

    def label(self) -> list[dict[str, object]]:
        """The truth as a segments label."""
        return [{"class": s.kind, "start": s.start, "end": s.end} for s in self.segments]


def audio_path(number: int) -> str:
    return f"audio/{number % AUDIO_COUNT}.wav"


@lru_cache(maxsize=AUDIO_COUNT)
def audio_clip(number: int) -> AudioClip:
    """Clip `number`: two to four segments of speech or music, at times to the hundredth of a
    second, in AUDIO_SECONDS of near-silence."""
    if not 0 <= number < AUDIO_COUNT:
        raise UnknownMedia(f"audio clips are numbered 0 to {AUDIO_COUNT - 1}, not {number}")
    rng = random.Random(f"label-ledger audio {number}")  # noqa: S311
    total = round(AUDIO_SECONDS * AUDIO_RATE)
    # a noise floor far below SILENCE_LEVEL: silence as a microphone hears it
    samples = [rng.gauss(0.0, 0.0008) for _ in range(total)]
    segments: list[Segment] = []
    at = round(rng.uniform(0.3, 0.7), 2)
    kinds = [AUDIO_CLASSES[number % 2], AUDIO_CLASSES[(number + 1) % 2]]  # both, in turn
    while True:
        length = round(rng.uniform(0.8, 1.5), 2)
        if at + length > AUDIO_SECONDS - 0.3:
            break
        kind = kinds[len(segments) % 2] if len(segments) < 2 else rng.choice(AUDIO_CLASSES)
        segments.append(Segment(kind, at, round(at + length, 2)))
        at = round(at + length + rng.uniform(0.4, 0.9), 2)
    for segment in segments:
        first, last = round(segment.start * AUDIO_RATE), round(segment.end * AUDIO_RATE)
        sound = _SOUNDS[segment.kind](rng, last - first)
        fade = round(_FADE * AUDIO_RATE)
        for k, value in enumerate(sound):
            edge = min(k + 1, last - first - k, fade) / fade
            samples[first + k] += value * edge
    clipped = tuple(max(-1.0, min(1.0, v)) for v in samples)
    return AudioClip(number, tuple(segments), clipped, _wav(clipped))


def _speech(rng: random.Random, count: int) -> list[float]:
    """Syllables: a voiced buzz (a pitch near 140 Hz and its harmonics) and breath noise, both
    shaped by an envelope that opens and closes four or five times a second."""
    pitch = rng.uniform(110, 170)
    rate = rng.uniform(3.8, 5.2)
    phase = rng.uniform(0, 2 * math.pi)
    out, smooth = [], 0.0
    for k in range(count):
        t = k / AUDIO_RATE
        syllable = max(0.0, math.sin(2 * math.pi * rate * t + phase)) ** 0.7
        f0 = pitch * (1 + 0.05 * math.sin(2 * math.pi * 1.3 * t))
        voiced = sum(math.sin(2 * math.pi * f0 * h * t) / h for h in (1, 2, 3, 4))
        smooth = 0.7 * smooth + 0.3 * rng.uniform(-1, 1)  # noise, its highs taken off
        out.append((0.25 * voiced + 0.35 * smooth) * (0.3 + 0.7 * syllable) * 0.7)
    return out


_CHORDS = ((220.0, 277.18, 329.63), (196.0, 246.94, 293.66), (174.61, 220.0, 261.63))


def _music(rng: random.Random, count: int) -> list[float]:
    """Chords struck every half second, each note decaying, the chord changing on each strike."""
    first = rng.randrange(len(_CHORDS))
    beat = round(0.5 * AUDIO_RATE)
    out = []
    for k in range(count):
        t = k / AUDIO_RATE
        chord = _CHORDS[(first + k // beat) % len(_CHORDS)]
        since = (k % beat) / AUDIO_RATE
        envelope = 0.35 + 0.65 * math.exp(-4 * since)
        out.append(0.18 * envelope * sum(math.sin(2 * math.pi * f * t) for f in chord))
    return out


_SOUNDS = {"speech": _speech, "music": _music}


def _wav(samples: tuple[float, ...]) -> bytes:
    """A RIFF WAVE file: 16-bit signed PCM, one channel, AUDIO_RATE samples a second."""
    data = struct.pack(f"<{len(samples)}h", *(round(v * 32767) for v in samples))
    fmt = struct.pack("<HHIIHH", 1, 1, AUDIO_RATE, 2 * AUDIO_RATE, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


# --- Video: two shapes moving, frame by frame -----------------------------------------------------

VIDEO_PATH = "video/shapes.webm"
VIDEO_CLASSES = ("ball", "block")
VIDEO_FPS = 10
VIDEO_FRAMES = 40
VIDEO_WIDTH, VIDEO_HEIGHT = 240, 180
ASSETS = Path(__file__).parent / "media_assets"
#: The encoded video, made from `video_frame(0..VIDEO_FRAMES - 1)` by scripts/make-media-video.
VIDEO_FILE = ASSETS / "shapes.webm"
#: What the video was made from: the frames' digest and the truth, kept beside it so that a test
#: finds out when the drawing changed and the video was not made again.
VIDEO_MANIFEST = ASSETS / "shapes.json"
_SKY, _ROAD, _LINE = (206, 228, 246), (120, 124, 130), (236, 236, 236)
_BALL, _BLOCK, _BLOCK_EDGE = (220, 48, 40), (40, 84, 200), (20, 40, 120)

Box = tuple[int, int, int, int]


def _shapes(frame: int) -> dict[str, tuple[float, float, float]]:
    """Where each shape is on `frame`: its centre and half its size, in pixels. The ball
    bounces across the sky from the left; the block drives along the road from the right."""
    t = frame / (VIDEO_FRAMES - 1)
    ball_x = 24 + t * (VIDEO_WIDTH - 48)
    ball_y = 30 + 60 * abs(math.cos(math.pi * 2.2 * t))
    block_x = VIDEO_WIDTH - 30 - t * (VIDEO_WIDTH - 80)
    return {"ball": (ball_x, ball_y, 14.0), "block": (block_x, 146.0, 18.0)}


def video_frame(frame: int) -> tuple[bytes, dict[str, Box]]:
    """Frame `frame`'s pixels (8-bit RGB rows, top first) and each shape's box on it:
    `[x_min, y_min, x_max, y_max)` of its painted pixels."""
    if not 0 <= frame < VIDEO_FRAMES:
        raise UnknownMedia(f"the video's frames are numbered 0 to {VIDEO_FRAMES - 1}, not {frame}")
    canvas = _Canvas(VIDEO_WIDTH, VIDEO_HEIGHT, _SKY)
    canvas.rectangle(0, 120, VIDEO_WIDTH, VIDEO_HEIGHT, _ROAD)
    for x in range(8, VIDEO_WIDTH, 40):
        canvas.rectangle(x, 168, x + 20, 171, _LINE)
    boxes: dict[str, Box] = {}
    for kind, (cx, cy, half) in _shapes(frame).items():
        canvas.forget_painted()
        if kind == "ball":
            canvas.ellipse(cx, cy, half, half, _BALL)
        else:
            canvas.rectangle(cx - half, cy - half, cx + half, cy + half, _BLOCK_EDGE)
            canvas.rectangle(cx - half + 3, cy - half + 3, cx + half - 3, cy + half - 3, _BLOCK)
        boxes[kind] = canvas.painted_box()
    return bytes(canvas.pixels), boxes


def video_tracks() -> list[dict[str, object]]:
    """The truth as a tracks label: each shape, with its box on every frame."""
    frames = [video_frame(f)[1] for f in range(VIDEO_FRAMES)]
    return [
        {"class": kind, "frames": {str(f): list(boxes[kind]) for f, boxes in enumerate(frames)}}
        for kind in VIDEO_CLASSES
    ]


def video_frames_digest() -> str:
    """SHA-256 of every frame's pixels in order: what the shipped video was encoded from."""
    digest = hashlib.sha256()
    for f in range(VIDEO_FRAMES):
        digest.update(video_frame(f)[0])
    return digest.hexdigest()


@lru_cache(maxsize=1)
def shipped_video() -> bytes:
    return VIDEO_FILE.read_bytes()


# --- Point clouds: a ground plane and a car, sometimes a pedestrian -------------------------------

CLOUD_CLASSES = ("car", "pedestrian")
CLOUD_COUNT = 4
CLOUD_EXTENT = 12.0  # metres from the sensor, each way in x and y
_CAR_SIZE = (4.2, 1.8, 1.5)
_PEDESTRIAN_SIZE = (0.6, 0.6, 1.75)


@dataclass(frozen=True)
class Cuboid:
    kind: str  # one of CLOUD_CLASSES
    center: tuple[float, float, float]
    size: tuple[float, float, float]  # length (along yaw), width, height
    yaw: float  # radians counterclockwise from the x axis

    def contains(self, x: float, y: float, z: float, margin: float = 1e-3) -> bool:
        dx, dy = x - self.center[0], y - self.center[1]
        along = dx * math.cos(self.yaw) + dy * math.sin(self.yaw)
        across = -dx * math.sin(self.yaw) + dy * math.cos(self.yaw)
        return (
            abs(along) <= self.size[0] / 2 + margin
            and abs(across) <= self.size[1] / 2 + margin
            and abs(z - self.center[2]) <= self.size[2] / 2 + margin
        )


@dataclass(frozen=True)
class PointCloud:
    number: int
    cuboids: tuple[Cuboid, ...]
    points: tuple[tuple[float, float, float], ...]  # as float32 holds them

    @property
    def path(self) -> str:
        return cloud_path(self.number)

    @property
    def content(self) -> bytes:
        return b"".join(struct.pack("<3f", *p) for p in self.points)

    def label(self) -> list[dict[str, object]]:
        """The truth as a cuboids label."""
        return [
            {"class": c.kind, "center": list(c.center), "size": list(c.size), "yaw": c.yaw}
            for c in self.cuboids
        ]


def cloud_path(number: int) -> str:
    return f"clouds/{number % CLOUD_COUNT}.bin"


@lru_cache(maxsize=CLOUD_COUNT)
def point_cloud(number: int) -> PointCloud:
    """Cloud `number`: a car somewhere off the sensor and, in odd clouds, a pedestrian, each
    standing on a ground plane whose points are missing under them (the lidar's shadow)."""
    if not 0 <= number < CLOUD_COUNT:
        raise UnknownMedia(f"point clouds are numbered 0 to {CLOUD_COUNT - 1}, not {number}")
    rng = random.Random(f"label-ledger cloud {number}")  # noqa: S311
    wanted = [("car", _CAR_SIZE, 600)]
    if number % 2 == 1:
        wanted.append(("pedestrian", _PEDESTRIAN_SIZE, 220))
    cuboids: list[Cuboid] = []
    points: list[tuple[float, float, float]] = []
    for kind, size, count in wanted:
        while True:  # a place on the ground away from the sensor and from the other objects
            x, y = round(rng.uniform(-8, 8), 2), round(rng.uniform(-8, 8), 2)
            if math.hypot(x, y) > 3 and all(
                math.hypot(x - c.center[0], y - c.center[1]) > 4 for c in cuboids
            ):
                break
        cuboid = Cuboid(kind, (x, y, round(size[2] / 2, 3)), size, round(rng.uniform(-3, 3), 2))
        cuboids.append(cuboid)
        points.extend(_surface_points(rng, cuboid, count))
    step = 2 * CLOUD_EXTENT / 46
    for i in range(47):
        for j in range(47):
            x = -CLOUD_EXTENT + i * step + rng.uniform(-0.2, 0.2)
            y = -CLOUD_EXTENT + j * step + rng.uniform(-0.2, 0.2)
            z = rng.uniform(-0.04, -0.01)
            if not any(c.contains(x, y, c.center[2], margin=0.1) for c in cuboids):
                points.append((x, y, z))
    return PointCloud(number, tuple(cuboids), tuple(_float32(p) for p in points))


def _surface_points(
    rng: random.Random, cuboid: Cuboid, count: int
) -> list[tuple[float, float, float]]:
    """`count` points on the box's four sides and its top (a lidar sees no bottom), spread by
    area, just inside the surface."""
    length, width, height = cuboid.size
    # each face: the axis it faces along (0 length, 1 width, 2 height), and which side
    faces = [(0, 1.0), (0, -1.0), (1, 1.0), (1, -1.0), (2, 1.0)]
    areas = [width * height, width * height, length * height, length * height, length * width]
    cos, sin = math.cos(cuboid.yaw), math.sin(cuboid.yaw)
    out = []
    for _ in range(count):
        axis, side = rng.choices(faces, weights=areas)[0]
        local = [rng.random() - 0.5, rng.random() - 0.5, rng.random() - 0.5]
        local[axis] = side / 2
        a, b, c = (0.995 * v * extent for v, extent in zip(local, cuboid.size, strict=True))
        out.append(
            (
                cuboid.center[0] + a * cos - b * sin,
                cuboid.center[1] + a * sin + b * cos,
                cuboid.center[2] + c,
            )
        )
    return out


def _float32(point: tuple[float, float, float]) -> tuple[float, float, float]:
    x, y, z = struct.unpack("<3f", struct.pack("<3f", *point))
    return x, y, z


# --- Speech: short spoken sentences, for transcripts ----------------------------------------------

#: What each shipped clip says, the truth a transcript is checked by. The clips were spoken by
#: espeak-ng (US English, 140 words a minute) and encoded as Opus by ffmpeg once, by
#: scripts/make-media-speech; neither is a dependency of the service: the clips ship (6-7 KB).
SPEECH = (
    "every label is paid exactly once",
    "the buyer locks the payment before the work starts",
    "anyone can check the payouts from the chain alone",
)


def speech_path(number: int) -> str:
    return f"speech/{number % len(SPEECH)}.ogg"


def speech_file(number: int) -> Path:
    return ASSETS / f"speech-{number}.ogg"


@lru_cache(maxsize=len(SPEECH))
def shipped_speech(number: int) -> bytes:
    """The Opus clip saying SPEECH[number]."""
    return speech_file(number).read_bytes()
