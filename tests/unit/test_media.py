"""The generated pictures and texts of ledger/media.py: valid PNGs, the same on every machine,
each showing its animal inside its box, and texts whose place spans are where they say."""

from __future__ import annotations

import hashlib
import struct
import subprocess
import sys
import zlib
from collections import Counter

import pytest

from ledger.media import (
    FUR,
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    PET_CLASSES,
    PET_COUNT,
    TEXTS,
    UnknownMedia,
    media_file,
    pet,
    pet_kind,
    pet_path,
    text_path,
)

Pixel = tuple[int, int, int]


def decode_png(png: bytes) -> tuple[int, int, list[list[Pixel]]]:
    """A reader written from the PNG specification, for 8-bit RGB without filters: checks the
    signature, every chunk's CRC, and returns the width, height and rows of pixels."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks = 8, []
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, data = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + data), kind
        chunks.append((kind, data))
        at += 12 + length
    assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour) == (8, 2)
    raw = zlib.decompress(chunks[1][1])
    stride = 1 + 3 * width
    assert len(raw) == height * stride
    rows = []
    for y in range(height):
        line = raw[y * stride : (y + 1) * stride]
        assert line[0] == 0  # no filter
        rows.append([tuple(line[1 + 3 * x : 4 + 3 * x]) for x in range(width)])
    return width, height, rows  # type: ignore[return-value]


@pytest.mark.parametrize("number", [0, 1, 2, 3, 57, PET_COUNT - 1])
def test_pet_is_its_animal_inside_its_box_on_a_plain_background(number: int) -> None:
    drawn = pet(number)
    width, height, rows = decode_png(drawn.png)
    assert (width, height) == (IMAGE_WIDTH, IMAGE_HEIGHT)
    x_min, y_min, x_max, y_max = drawn.box
    assert 0 < x_min < x_max < width
    assert 0 < y_min < y_max < height
    background = rows[0][0]
    outside = {
        rows[y][x]
        for y in range(height)
        for x in range(width)
        if not (x_min <= x < x_max and y_min <= y < y_max)
    }
    assert outside == {background}
    inside = Counter(rows[y][x] for y in range(y_min, y_max) for x in range(x_min, x_max))
    del inside[background]
    # its own colour fills most of the animal, and no other animal's colour appears
    assert inside.most_common(1)[0][0] == FUR[drawn.kind]
    assert not {FUR[other] for other in PET_CLASSES if other != drawn.kind} & set(inside)
    assert drawn.kind == pet_kind(number)


def test_every_animal_appears_and_the_kinds_are_not_a_simple_cycle() -> None:
    kinds = [pet_kind(n) for n in range(60)]
    assert set(kinds) == set(PET_CLASSES)
    assert kinds[:30] != [PET_CLASSES[n % 3] for n in range(30)]
    assert len({pet(n).box for n in range(10)}) == 10  # animals of different sizes and places


def pixel_digest(png: bytes) -> str:
    # the IDAT data: after the signature, IHDR and IDAT's own header; before its CRC and IEND
    return hashlib.sha256(zlib.decompress(png[41:-16])).hexdigest()


ANOTHER_PROCESS = """
import hashlib, sys, zlib
from ledger.media import pet
print(*(hashlib.sha256(zlib.decompress(pet(int(n)).png[41:-16])).hexdigest() for n in sys.argv[1:]))
"""


def test_pictures_are_the_same_in_another_process() -> None:
    """The pixels, that is: the compressed bytes may differ between zlib builds."""
    numbers = [0, 9, 4242]
    there = subprocess.run(
        [sys.executable, "-c", ANOTHER_PROCESS, *map(str, numbers)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
    )
    assert there.stdout.split() == [pixel_digest(pet(n).png) for n in numbers]


def test_texts_name_their_place_where_the_span_says() -> None:
    assert len(TEXTS) >= 5
    for number, text in enumerate(TEXTS):
        start, end = text.place_span
        assert text.text[start:end] == text.place
        assert media_file(text_path(number)).content.decode() == text.text


def test_media_paths_resolve_to_generated_files_only() -> None:
    assert media_file(pet_path(7)).content == pet(7).png
    assert media_file(pet_path(7)).content_type == "image/png"
    assert pet_path(PET_COUNT + 7) == pet_path(7)  # numbers wrap around
    for path in (
        "pets/10000.png",
        "pets/007.png",
        "pets/-1.png",
        "pets/1.jpg",
        f"texts/{len(TEXTS)}.txt",
        "../pyproject.toml",
        "pets/../../pyproject.toml",
        "",
    ):
        with pytest.raises(UnknownMedia):
            media_file(path)
